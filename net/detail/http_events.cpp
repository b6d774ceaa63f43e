// Plain HTTP on the WebSocket port: exact-path handlers. Static files are
// served by lws itself through the vhost mount and never reach this file.

#include <string>
#include <string_view>

#include "net/detail/loop_worker.hpp"
#include "net/detail/request_reader.hpp"

namespace troupe::detail {
namespace {

int answer_with_status(lws* wsi, int status) {
  if (lws_return_http_status(wsi, static_cast<unsigned int>(status), nullptr)) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

}  // namespace

int LoopWorker::on_http(lws* wsi, std::string_view uri) {
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
    return answer_with_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
  }
  const HttpHandler* handler = shared_.http_handler(uri);
  if (!handler) {
    std::string_view name;
    // A plain GET on a WebSocket route: tell the client what it should do.
    const bool is_route = shared_.match_route(uri, name) != nullptr;
    return answer_with_status(wsi, is_route ? 426 : HTTP_STATUS_NOT_FOUND);
  }

  HttpRequest request = read_request(wsi, shared_.options.captured_headers);
  request.loop = index_;
  HttpResponse response;
  try {
    response = (*handler)(request);
  } catch (...) {
    response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
  }
  AtomicCounters::bump(shared_.counters.http_requests);

  unsigned char headers[LWS_PRE + 1024];
  unsigned char* p = headers + LWS_PRE;
  unsigned char* end = headers + sizeof(headers) - 1;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(response.status),
                                  response.content_type.c_str(), response.body.size(), &p, end) ||
      lws_finalize_write_http_header(wsi, headers + LWS_PRE, &p, end)) {
    return -1;
  }
  if (response.body.empty()) return lws_http_transaction_completed(wsi) ? -1 : 0;

  // lws allows one write per writeable callback: the body goes out in the next.
  PeerState& peer = state_of(wsi);
  peer.http_body.assign(LWS_PRE, '\0');
  peer.http_body += response.body;
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
