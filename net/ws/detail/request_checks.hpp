#pragma once
// The checks every request passes before the server acts on it, upgrade or
// plain HTTP: Host (DNS rebinding), Origin (cross-site WebSocket hijacking),
// and decoded query parameters (valid UTF-8, no NUL). Pure functions of the
// options and the request's header values; any thread.

#include <optional>
#include <string_view>

#include "net/ws/options.hpp"
#include "net/ws/types.hpp"

namespace troupe::detail {
struct ServerShared;
}

namespace troupe::detail {

// An HTTP status and a short body for the client; status 0 means go on.
struct Refusal {
  int status = 0;
  std::string_view body;
  explicit operator bool() const { return status != 0; }
};

// True for an IPv4 address in 127.0.0.0/8 or the IPv6 ::1.
bool is_loopback_address(std::string_view address);

// ws::Options::allowed_hosts against the Host header (absent: nullopt).
Refusal check_host(const ws::Options& options, std::optional<std::string_view> host);

// ws::Options::allowed_origins against the Origin header, same-origin by
// default: the Origin's host[:port] must be the request's Host.
Refusal check_origin(const ws::Options& options, std::optional<std::string_view> origin,
                     std::optional<std::string_view> host);

// Every decoded query key and value is valid UTF-8 without NUL.
Refusal check_query(const KeyValues& query);

// Host, then Origin, then the query.
Refusal check_request(const ws::Options& options, const HttpRequest& request);

// check_request, counting Host and Origin refusals in the server's counters.
Refusal screen_request(ServerShared& shared, const HttpRequest& request);

// "Not Found" for 404, and so on.
const char* status_text(int status);

}  // namespace troupe::detail
