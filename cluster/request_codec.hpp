#pragma once
// What a node sends its peer when a client connection opens there for a
// session the peer owns (the link's `open` frame, docs/cluster.md): the
// upgrade request as the gateway saw it and whether the connection is
// handed over from an earlier incarnation. msgpack; a peer's bytes are
// hostile, so decoding checks every field and says what is wrong.

#include <optional>
#include <string>
#include <string_view>

#include "net/ws/types.hpp"
#include "runtime/result.hpp"

namespace troupe::cluster {

struct OpenRequest {
  HttpRequest request;
  bool resumed = false;
  std::optional<std::string> interrupted;
};

std::string encode_open(const OpenRequest& open);
Result<OpenRequest, std::string> decode_open(std::string_view bytes);

}  // namespace troupe::cluster
