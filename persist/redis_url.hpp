#pragma once
// Where a RedisStore connects, parsed from a URL:
//
//   redis://[[user]:password@]host[:port][/db]   TCP; port 6379 and db 0 by default;
//                                                IPv6 hosts in brackets: redis://[::1]:6380
//   unix:///path/to/redis.sock[?db=N]            a Unix domain socket
//
// user and password may be percent-encoded (%40 for '@'). TLS (rediss://) is
// not supported. Pure functions; any thread.

#include <string>
#include <string_view>

#include "persist/store.hpp"
#include "runtime/export.hpp"

namespace troupe {

struct TROUPE_EXPORT RedisEndpoint {
  enum class Transport { tcp, unix_socket };
  Transport transport = Transport::tcp;
  std::string host;  // tcp
  int port = 6379;   // tcp
  std::string path;  // unix_socket
  std::string user;  // empty: AUTH with the password alone (or no AUTH)
  std::string password;
  int db = 0;

  // The URL with any password replaced by "***", for messages and logs.
  std::string display() const;
};

// Fails with StoreErrc::invalid_argument and a message that quotes the URL
// (password masked) and says what is wrong with it.
TROUPE_EXPORT StoreResult<RedisEndpoint> parse_redis_url(std::string_view url);

}  // namespace troupe
