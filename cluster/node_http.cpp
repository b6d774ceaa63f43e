// ClusterNode's HTTP endpoints on the gateway's port (docs/cluster.md,
// "Asking the cluster") and its /metrics lines.

#include <future>
#include <sstream>

#include "cluster/link/link_hub.hpp"
#include "cluster/node.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace troupe::cluster {

namespace {

constexpr const char* json = "application/json";

// Node ids are [A-Za-z0-9_.-] (the directory refuses others); names are a
// client's bytes, so they are escaped.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// The handlers run on a loop thread and wait for the directory's answer:
// one at a time per node, so that a flood of requests while Redis is slow
// holds one loop for at most this long, not longer.
constexpr auto owner_wait = std::chrono::milliseconds(500);

}  // namespace

StoreResult<std::optional<Owner>> ClusterNode::owner_of(const std::string& name) {
  auto answer = std::make_shared<std::promise<StoreResult<std::optional<Owner>>>>();
  auto result = answer->get_future();
  rt_.post(directory_scheduler_, [this, name, answer] {
    if (!directory_)
      return answer->set_value(
          unexpected(StoreError{StoreErrc::unavailable, "the node has not joined"}));
    directory_->lookup(
        name, [answer](StoreResult<std::optional<Owner>> r) { answer->set_value(std::move(r)); });
  });
  if (result.wait_for(owner_wait) != std::future_status::ready)
    return unexpected(StoreError{StoreErrc::unavailable, "the directory did not answer in time"});
  return result.get();
}

HttpResponse ClusterNode::owner_response(const HttpRequest& request) {
  auto name = request.query_param("name");
  if (!name || name->empty())
    return HttpResponse{400, "text/plain", "give the session's name: ?name=chat/lobby\n"};
  static std::atomic<bool> busy{false};
  if (busy.exchange(true))
    return HttpResponse{503, "text/plain", "another owner lookup is running; retry\n"};
  auto owner = owner_of(std::string(*name));
  busy = false;
  if (!owner) return HttpResponse{503, "text/plain", to_string(owner.error()) + "\n"};
  if (!owner.value()) return HttpResponse{200, json, "{\"node\":null}\n"};
  const Owner& o = *owner.value();
  std::uint16_t port = 0;
  {
    std::lock_guard lock(members_mutex_);
    if (auto it = members_.find(o.node); it != members_.end()) port = it->second.ws_port;
  }
  std::ostringstream out;
  out << "{\"node\":" << quoted(o.node) << ",\"port\":" << port << ",\"fence\":" << o.fence
      << ",\"incarnation\":" << o.incarnation << "}\n";
  return HttpResponse{200, json, out.str()};
}

HttpResponse ClusterNode::nodes_response() {
  std::ostringstream out;
  out << "{\"self\":" << quoted(options_.node_id) << ",\"nodes\":[";
  bool first = true;
  for (const NodeInfo& n : members()) {
    out << (first ? "" : ",") << "{\"id\":" << quoted(n.id) << ",\"host\":" << quoted(n.host)
        << ",\"port\":" << n.ws_port << ",\"peer_port\":" << n.peer_port
        << ",\"incarnation\":" << n.incarnation
        << ",\"draining\":" << (n.draining ? "true" : "false") << "}";
    first = false;
  }
  out << "]}\n";
  return HttpResponse{200, json, out.str()};
}

HttpResponse ClusterNode::fault_response(const HttpRequest& request) {
  auto renewals = request.query_param("renewals");
  if (renewals == "drop") {
    drop_renewals_ = true;
  } else if (renewals == "resume") {
    drop_renewals_ = false;
  } else {
    return HttpResponse{400, "text/plain", "renewals=drop or renewals=resume\n"};
  }
  log_warning("cluster", "test fault", {{"renewals", std::string(*renewals)}});
  return HttpResponse{200, "text/plain", "ok\n"};
}

void ClusterNode::write_metrics(std::ostream& out) const {
  auto one = [&](const char* name, const char* type, auto value) {
    out << "# TYPE " << name << " " << type << "\n" << name << " " << value << "\n";
  };
  auto load = [](const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
  };
  one("troupe_cluster_sessions_owned", "gauge", owned_.load(std::memory_order_relaxed));
  one("troupe_cluster_claims_total", "counter", load(counters_.claims));
  one("troupe_cluster_claims_lost_total", "counter", load(counters_.claims_lost));
  one("troupe_cluster_releases_total", "counter", load(counters_.releases));
  one("troupe_cluster_joins_total", "counter", load(counters_.joins));
  one("troupe_cluster_leases_lost_total", "counter", load(counters_.leases_lost));
  one("troupe_cluster_forwarded_connections", "gauge", load(counters_.forwarded_open));
  one("troupe_cluster_remote_connections", "gauge", load(counters_.remote_open));
  one("troupe_cluster_owners_lost_total", "counter", load(counters_.owners_lost));
  one("troupe_cluster_moved_total", "counter", load(counters_.moved));
  one("troupe_cluster_peer_errors_total", "counter", load(counters_.peer_errors));
  one("troupe_cluster_casts_sent_total", "counter", load(counters_.casts_out));
  one("troupe_cluster_casts_received_total", "counter", load(counters_.casts_in));
  one("troupe_cluster_directory_errors_total", "counter", load(counters_.directory_errors));
  one("troupe_cluster_draining", "gauge", draining_.load() ? 1 : 0);
  one("troupe_cluster_members", "gauge", members().size());
  if (LinkHub* hub = hub_ready_.load(std::memory_order_acquire)) {
    const LinkCounters& c = hub->counters();
    one("troupe_cluster_links_up", "gauge", load(c.links_up));
    one("troupe_cluster_links_rejected_total", "counter", load(c.links_rejected_total));
    one("troupe_cluster_link_frames_malformed_total", "counter", load(c.frames_malformed_total));
    one("troupe_cluster_link_frames_sent_total", "counter", load(c.frames_sent_total));
    one("troupe_cluster_link_frames_received_total", "counter", load(c.frames_received_total));
    one("troupe_cluster_link_reconnects_total", "counter", load(c.reconnects_total));
  }
}

}  // namespace troupe::cluster
