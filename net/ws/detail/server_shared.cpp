#include "net/ws/detail/server_shared.hpp"

#include <algorithm>
#include <cstring>

#include "net/ws/detail/listener.hpp"

namespace troupe::detail {

ws::Counters AtomicCounters::snapshot() const {
  const auto get = [](const std::atomic<std::uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
  };
  ws::Counters s;
  s.tcp_accepted = get(tcp_accepted);
  s.connections_opened = get(connections_opened);
  s.connections_open = get(connections_open);
  s.upgrades_refused = get(upgrades_refused);
  s.http_requests = get(http_requests);
  s.frames_in = get(frames_in);
  s.frames_out = get(frames_out);
  s.bytes_in = get(bytes_in);
  s.bytes_out = get(bytes_out);
  s.frames_dropped = get(frames_dropped);
  s.closed_for_overflow = get(closed_for_overflow);
  s.closed_for_size = get(closed_for_size);
  s.invalid_text_refused = get(invalid_text_refused);
  s.origin_refused = get(origin_refused);
  s.host_refused = get(host_refused);
  s.heads_refused = get(heads_refused);
  s.throttled = get(throttled);
  s.closed_for_rate = get(closed_for_rate);
  s.outbound_bytes = get(outbound_bytes);
  s.tls_reloads = get(tls_reloads);
  s.tls_reload_failures = get(tls_reload_failures);
  return s;
}

ConnectionLimits::Verdict ConnectionLimits::try_reserve(const std::string& key,
                                                        std::size_t max_per_key) {
  std::lock_guard lock(mu_);
  if (total_ >= max_total_) return Verdict::server_full;
  auto& count = per_key_[key];
  if (count >= max_per_key) {
    if (count == 0) per_key_.erase(key);
    return Verdict::name_full;
  }
  ++count;
  ++total_;
  return Verdict::reserved;
}

void ConnectionLimits::release(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = per_key_.find(key);
  if (it == per_key_.end()) return;
  if (--it->second == 0) per_key_.erase(it);
  --total_;
}

namespace {

ws::Options resolved(ws::Options options) {
  if (options.max_connections == 0) options.max_connections = connections_for_fd_limit();
  return options;
}

}  // namespace

ServerShared::ServerShared(ws::Options opts)
    : options(resolved(std::move(opts))), limits(options.max_connections) {
  std::memset(protocols, 0, sizeof(protocols));
  std::memset(&retry_policy, 0, sizeof(retry_policy));
  std::memset(&mount, 0, sizeof(mount));
}

const RouteEntry* ServerShared::match_route(std::string_view path, std::string_view& name) const {
  // routes is sorted longest prefix first, so the first match is the longest.
  for (const auto& route : routes) {
    const std::string_view prefix = route.prefix;
    if (path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix &&
        path[prefix.size()] == '/') {
      name = path.substr(prefix.size() + 1);
      return &route;
    }
  }
  return nullptr;
}

const HttpHandler* ServerShared::http_handler(std::string_view path) const {
  auto it = http_handlers.find(std::string(path));
  return it == http_handlers.end() ? nullptr : &it->second;
}

}  // namespace troupe::detail
