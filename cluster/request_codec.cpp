#include "cluster/request_codec.hpp"

#include <msgpack.hpp>

#include "persist/snapshot_codec.hpp"

namespace troupe::cluster {

namespace {

// [path, route, name, query, headers, cookies, peer, resumed, interrupted|nil]
constexpr std::uint32_t fields = 9;

void pack_pairs(msgpack::packer<msgpack::sbuffer>& pk, const KeyValues& pairs) {
  pk.pack_array(static_cast<std::uint32_t>(pairs.size() * 2));
  for (const auto& [k, v] : pairs) {
    pk.pack(k);
    pk.pack(v);
  }
}

bool is_text(const msgpack::object& o) {
  return o.type == msgpack::type::STR;
}

std::string text_of(const msgpack::object& o) {
  return std::string(o.via.str.ptr, o.via.str.size);
}

Result<KeyValues, std::string> pairs_of(const msgpack::object& o, const char* what) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size % 2 != 0)
    return unexpected(std::string(what) + " is not a list of pairs");
  KeyValues out;
  for (std::uint32_t i = 0; i < o.via.array.size; i += 2) {
    const auto& k = o.via.array.ptr[i];
    const auto& v = o.via.array.ptr[i + 1];
    if (!is_text(k) || !is_text(v)) return unexpected(std::string(what) + " holds a non-string");
    out.emplace_back(text_of(k), text_of(v));
  }
  return out;
}

}  // namespace

std::string encode_open(const OpenRequest& open) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  const HttpRequest& r = open.request;
  pk.pack_array(fields);
  pk.pack(r.path);
  pk.pack(r.route);
  pk.pack(r.name);
  pack_pairs(pk, r.query);
  pack_pairs(pk, r.headers);
  pack_pairs(pk, r.cookies);
  pk.pack(r.peer);
  pk.pack(open.resumed);
  if (open.interrupted)
    pk.pack(*open.interrupted);
  else
    pk.pack_nil();
  return std::string(buffer.data(), buffer.size());
}

Result<OpenRequest, std::string> decode_open(std::string_view bytes) {
  try {
    std::size_t used = 0;
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), used, nullptr, nullptr,
                                  detail::unpack_limit_for(bytes.size()));
    const msgpack::object& o = handle.get();
    if (used != bytes.size() || o.type != msgpack::type::ARRAY || o.via.array.size != fields)
      return unexpected(std::string("an open request is a list of 9 fields"));
    const msgpack::object* f = o.via.array.ptr;
    for (int i : {0, 1, 2, 6})
      if (!is_text(f[i])) return unexpected("field " + std::to_string(i) + " is not a string");
    if (f[7].type != msgpack::type::BOOLEAN)
      return unexpected(std::string("resumed is not a bool"));
    if (f[8].type != msgpack::type::NIL && !is_text(f[8]))
      return unexpected(std::string("interrupted is neither nil nor a string"));
    OpenRequest open;
    HttpRequest& r = open.request;
    r.path = text_of(f[0]);
    r.route = text_of(f[1]);
    r.name = text_of(f[2]);
    auto query = pairs_of(f[3], "query");
    auto headers = pairs_of(f[4], "headers");
    auto cookies = pairs_of(f[5], "cookies");
    for (auto* p : {&query, &headers, &cookies})
      if (!p->ok()) return unexpected(p->error());
    r.query = std::move(query.value());
    r.headers = std::move(headers.value());
    r.cookies = std::move(cookies.value());
    r.peer = text_of(f[6]);
    open.resumed = f[7].via.boolean;
    if (f[8].type != msgpack::type::NIL) open.interrupted = text_of(f[8]);
    if (r.route.empty() || r.route.front() != '/' || r.name.empty())
      return unexpected(std::string("no route or no name"));
    return open;
  } catch (const std::exception& e) {
    return unexpected(std::string("an open request does not parse: ") + e.what());
  }
}

}  // namespace troupe::cluster
