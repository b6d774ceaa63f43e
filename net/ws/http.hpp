#pragma once
// Plain HTTP handlers served on the WebSocket server's port, by exact path
// (the layer above registers /healthz and /metrics here).
//
// A handler runs on the loop thread that accepted the request and must not
// block it; it may run concurrently on several loops.

#include <functional>
#include <string>

#include "net/ws/types.hpp"
#include "runtime/export.hpp"

namespace troupe {

struct TROUPE_EXPORT HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called for GET requests whose decoded path equals the registered path.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace troupe
