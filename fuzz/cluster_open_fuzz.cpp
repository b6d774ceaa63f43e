// Fuzzes decode_open (cluster/request_codec.hpp): the request a peer node
// sends when a client connection opens there for a session owned here.
//
// Properties:
//   - any bytes decode or fail with a non-empty message, never crash;
//   - an accepted request has a route starting with '/' and a name, and
//     encodes to bytes that decode to the same request.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/request_codec.hpp"
#include "fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace troupe::cluster;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto open = decode_open(bytes);
  if (!open.ok()) {
    FUZZ_CHECK(!open.error().empty());
    return 0;
  }
  const OpenRequest& o = open.value();
  FUZZ_CHECK(!o.request.route.empty() && o.request.route.front() == '/');
  FUZZ_CHECK(!o.request.name.empty());
  auto again = decode_open(encode_open(o));
  FUZZ_CHECK(again.ok());
  const OpenRequest& a = again.value();
  FUZZ_CHECK(a.request.path == o.request.path && a.request.route == o.request.route &&
             a.request.name == o.request.name && a.request.query == o.request.query &&
             a.request.headers == o.request.headers && a.request.cookies == o.request.cookies &&
             a.request.peer == o.request.peer && a.resumed == o.resumed &&
             a.interrupted == o.interrupted);
  return 0;
}
