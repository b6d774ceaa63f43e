// Fuzzes the node link's FrameDecoder (cluster/link/frame.hpp), the first
// code that reads a peer's bytes. The first byte chooses the kind of input:
//   even: a byte stream, as a peer might send, after two control bytes: the
//         decoder's max_frame_bytes (byte 1: 255 is the default 16 MiB, any
//         other value v is 8 * v) and the chunk sizes it is fed in (byte 2);
//   odd:  a frame built from the input (type, conn, num, text, data),
//         encoded by encode_frame.
// Properties:
//   - feeding never throws, and yields the same frames and the same verdict
//     (and error text) whatever the chunking;
//   - the decoder never holds more than frame_header_bytes + max_frame_bytes;
//   - a failed decoder names why, stays failed, and yields nothing more;
//   - every decoded frame has a known type and round-trips: encode_frame of
//     it decodes to an equal frame;
//   - a frame whose body exceeds max_frame_bytes is refused, naming the limit;
//   - encode then decode is the identity, and every strict prefix of an
//     encoded frame yields nothing and does not fail (it waits for the rest).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/link/frame.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using namespace troupe::cluster;

struct Outcome {
  std::vector<LinkFrame> frames;
  bool ok = true;
  std::string error;
};

// Feeds `bytes` in chunks of sizes drawn from `seed`; checks the decoder's
// bound at every step.
Outcome run(std::string_view bytes, std::size_t max, unsigned seed) {
  FrameDecoder decoder(max);
  Outcome out;
  std::size_t at = 0;
  unsigned state = seed | 1;
  while (at < bytes.size()) {
    std::size_t chunk = bytes.size() - at;
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      chunk = std::min<std::size_t>(chunk, 1 + (state >> 16) % 97);
    }
    const bool was_failed = decoder.failed();
    const std::size_t before = out.frames.size();
    const bool ok = decoder.feed(bytes.substr(at, chunk), [&](LinkFrame&& f) {
      out.frames.push_back(std::move(f));
      return true;
    });
    FUZZ_CHECK(decoder.buffered() <= frame_header_bytes + max);
    FUZZ_CHECK(ok == !decoder.failed());
    if (was_failed) FUZZ_CHECK(out.frames.size() == before);
    at += chunk;
  }
  out.ok = !decoder.failed();
  out.error = decoder.error();
  if (!out.ok) FUZZ_CHECK(!out.error.empty());
  return out;
}

void check_frame(const LinkFrame& f) {
  const auto type = static_cast<std::uint8_t>(f.type);
  FUZZ_CHECK(type >= 1 && type <= max_frame_type);
  const std::string again = encode_frame(f);
  FrameDecoder d(again.size());
  std::vector<LinkFrame> back;
  FUZZ_CHECK(d.feed(again, [&](LinkFrame&& g) {
    back.push_back(std::move(g));
    return true;
  }));
  FUZZ_CHECK(back.size() == 1 && back[0] == f);
}

void fuzz_stream(std::string_view input) {
  if (input.size() < 2) return;
  const auto limit = static_cast<unsigned char>(input[0]);
  const std::size_t max = limit == 255 ? default_max_frame_bytes : 8u * limit;
  const unsigned seed = static_cast<unsigned char>(input[1]);
  const std::string_view bytes = input.substr(2);
  const Outcome whole = run(bytes, max, 0);
  const Outcome chunked = run(bytes, max, seed);
  FUZZ_CHECK(whole.ok == chunked.ok);
  FUZZ_CHECK(whole.error == chunked.error);
  FUZZ_CHECK(whole.frames == chunked.frames);
  for (const LinkFrame& f : whole.frames) check_frame(f);
  if (!whole.ok && whole.error.find("over max_frame_bytes") != std::string::npos)
    FUZZ_CHECK(whole.error.find("(" + std::to_string(max) + ")") != std::string::npos);
}

std::uint64_t take_u64(std::string_view& in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8 && !in.empty(); ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[0]);
    in.remove_prefix(1);
  }
  return v;
}

void fuzz_built(std::string_view input) {
  if (input.empty()) return;
  LinkFrame f;
  f.type = static_cast<FrameType>(1 + static_cast<unsigned char>(input[0]) % max_frame_type);
  input.remove_prefix(1);
  f.conn = take_u64(input);
  f.num = take_u64(input);
  const std::size_t split =
      input.empty() ? 0 : static_cast<unsigned char>(input[0]) % (input.size() + 1);
  f.text = std::string(input.substr(0, split));
  f.data = std::string(input.substr(split));
  const std::string bytes = encode_frame(f);
  const std::size_t body = bytes.size() - frame_header_bytes;
  const Outcome fits = run(bytes, body, 7);
  FUZZ_CHECK(fits.ok && fits.frames.size() == 1 && fits.frames[0] == f);
  if (body > 0) {
    const Outcome over = run(bytes, body - 1, 0);
    FUZZ_CHECK(!over.ok && over.frames.empty());
    FUZZ_CHECK(over.error.find("over max_frame_bytes") != std::string::npos);
  }
  // Strict prefixes: nothing yet, no failure (a few lengths, not all: speed).
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{1}, frame_header_bytes, bytes.size() / 2, bytes.size() - 1}) {
    if (cut >= bytes.size()) continue;
    const Outcome part = run(std::string_view(bytes).substr(0, cut), body, 0);
    FUZZ_CHECK(part.ok && part.frames.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if ((data[0] & 1) == 0) {
    fuzz_stream(input.substr(1));
  } else {
    fuzz_built(input.substr(1));
  }
  return 0;
}
