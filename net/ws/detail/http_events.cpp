// Plain HTTP on the WebSocket port: exact-path handlers and static files
// (static_files.cpp), after the Host/Origin/query checks every request passes.

#include <string>
#include <string_view>

#include "net/ws/detail/loop_worker.hpp"
#include "net/ws/detail/request_checks.hpp"
#include "net/ws/detail/request_reader.hpp"

namespace troupe::detail {
namespace {

constexpr const char* plain_text = "text/plain; charset=utf-8";

int answer_with_status(lws* wsi, int status) {
  if (lws_return_http_status(wsi, static_cast<unsigned int>(status), nullptr)) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

bool under_mount(std::string_view uri, const std::string& mount) {
  return uri.substr(0, mount.size()) == mount &&
         (uri.size() == mount.size() || uri[mount.size()] == '/');
}

}  // namespace

int LoopWorker::on_http(lws* wsi, std::string_view uri) {
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
    return answer_with_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
  }
  HttpRequest request = read_request(wsi, shared_.options.captured_headers);
  request.loop = index_;
  // Before anything is served, static files and /metrics included: a page
  // of another site (Origin) or a rebound DNS name (Host) reads nothing.
  if (const Refusal refusal = screen_request(shared_, request)) {
    return respond(wsi, refusal.status, plain_text, std::string(refusal.body) + "\n");
  }
  const ws::Options& options = shared_.options;
  if (!options.static_dir.empty() && under_mount(uri, options.static_mount)) {
    return serve_static(wsi, uri);
  }
  const HttpHandler* handler = shared_.http_handler(uri);
  if (!handler) {
    std::string_view name;
    // A plain GET on a WebSocket route: tell the client what it should do.
    const bool is_route = shared_.match_route(uri, name) != nullptr;
    return answer_with_status(wsi, is_route ? 426 : HTTP_STATUS_NOT_FOUND);
  }

  HttpResponse response;
  try {
    response = (*handler)(request);
  } catch (...) {
    response = HttpResponse{500, plain_text, "internal error\n"};
  }
  AtomicCounters::bump(shared_.counters.http_requests);
  return respond(wsi, response.status, response.content_type, std::move(response.body));
}

int LoopWorker::respond(lws* wsi, int status, const std::string& content_type, std::string body,
                        const std::string& location) {
  unsigned char headers[LWS_PRE + 1024];
  unsigned char* p = headers + LWS_PRE;
  unsigned char* end = headers + sizeof(headers) - 1;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(status), content_type.c_str(),
                                  body.size(), &p, end)) {
    return -1;
  }
  if (!location.empty() &&
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_LOCATION,
                                   reinterpret_cast<const unsigned char*>(location.data()),
                                   static_cast<int>(location.size()), &p, end)) {
    return -1;
  }
  if (lws_finalize_write_http_header(wsi, headers + LWS_PRE, &p, end)) return -1;
  if (body.empty()) return lws_http_transaction_completed(wsi) ? -1 : 0;

  // lws allows one write per writeable callback: the body goes out in the next.
  PeerState& peer = state_of(wsi);
  peer.http_body.assign(LWS_PRE, '\0');
  peer.http_body += body;
  peer.http_body_pending = true;
  lws_callback_on_writable(wsi);
  return 0;
}

int LoopWorker::on_http_writeable(lws* wsi) {
  auto* peer = static_cast<PeerState*>(lws_get_opaque_user_data(wsi));
  if (!peer || !peer->http_body_pending) return 0;
  peer->http_body_pending = false;
  std::string body = std::move(peer->http_body);
  const std::size_t length = body.size() - LWS_PRE;
  auto* data = reinterpret_cast<unsigned char*>(body.data()) + LWS_PRE;
  if (lws_write(wsi, data, length, LWS_WRITE_HTTP_FINAL) != static_cast<int>(length)) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

}  // namespace troupe::detail
