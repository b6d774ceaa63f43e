#pragma once
// Builds a HttpRequest from the parsed headers lws holds for a wsi. Loop thread,
// inside an HTTP or HTTP_CONFIRM_UPGRADE callback (while the headers exist).

#include <libwebsockets.h>

#include <string>
#include <string_view>
#include <vector>

#include "net/ws/types.hpp"

namespace troupe::detail {

HttpRequest read_request(lws* wsi, const std::vector<std::string>& captured_headers);

// "a=1; b=2" -> {"a","1"}, {"b","2"}. Pure; exposed for tests.
KeyValues parse_cookies(std::string_view header);

}  // namespace troupe::detail
