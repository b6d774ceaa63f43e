// Fuzzes the FileStore's journal replay (persist/detail/file_dir.hpp): the
// input becomes a .journal-0 file in an empty directory and FileDir::open,
// the blocking half of FileStore::open, recovers from it. No loop or thread:
// FileDir is what FileStore runs on libuv's pool. The first byte chooses:
//   0: the journal is the raw input;
//   1: a batch built from the input with valid keys, encoded by
//      encode_journal, then cut at a chosen length (a torn write) or whole.
// Properties:
//   - a whole journal replays: open succeeds, the journal is gone, each key
//     holds its last put (value and revision) or is absent after a del, and
//     no other entry exists;
//   - a torn journal is refused as corrupt, stays in place for inspection,
//     and nothing of its batch is applied (unless the cut happens to leave
//     a journal whose own checksum holds, which is then a whole journal);
//   - whatever the bytes, open never crashes; when it fails the journal is
//     still there, and when it succeeds every entry left reads back.

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "persist/detail/big_endian.hpp"
#include "persist/detail/crc32c.hpp"
#include "persist/detail/file_dir.hpp"
#include "persist/detail/file_names.hpp"
#include "persist/detail/validate.hpp"

namespace {

using namespace troupe;
using namespace troupe::detail;

void empty_directory();

// One directory for the whole run, emptied after each input, removed at exit.
const std::string& directory() {
  // Never destroyed: the exit handler below still needs it.
  static const std::string& path = *new std::string([] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/troupe-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    std::atexit([] {
      empty_directory();
      ::rmdir(directory().c_str());
    });
    return pattern;
  }());
  return path;
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  DIR* d = ::opendir(directory().c_str());
  FUZZ_CHECK(d != nullptr);
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  return out;
}

void empty_directory() {
  for (const auto& name : names()) ::unlink((directory() + "/" + name).c_str());
}

bool journal_present() {
  return ::access((directory() + "/.journal-0").c_str(), F_OK) == 0;
}

// The entries in the directory (files that are neither .lock nor ours).
std::vector<std::string> entry_keys() {
  std::vector<std::string> keys;
  for (const auto& name : names()) {
    if (name[0] == '.') continue;
    const auto key = file_name_to_key(name);
    FUZZ_CHECK(key.has_value());
    keys.push_back(*key);
  }
  return keys;
}

void write_journal(std::string_view bytes) {
  const std::string path = directory() + "/.journal-0";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

bool valid_key(std::string_view key) {
  return !check_key(key) && key_to_file_name(key).size() <= max_file_name;
}

void check_raw(std::string_view bytes) {
  write_journal(bytes);
  auto dir = FileDir::open(directory(), /*fsync=*/false);
  if (!dir) {
    FUZZ_CHECK(journal_present());
    return;
  }
  FUZZ_CHECK(!journal_present());
  for (const auto& key : entry_keys()) FUZZ_CHECK((*dir)->read(key).ok());
}

void check_batch(std::string_view in) {
  // cut (2 bytes: 0xffff keeps the journal whole), then per op: kind, key
  // length, key, value length, value, revision.
  if (in.size() < 2) return;
  const std::size_t cut = get_be(in, 0, 2);
  std::vector<WriteOp> ops;
  BatchPlan plan;
  std::size_t at = 2;
  while (at + 2 <= in.size() && ops.size() < 16) {
    const bool del = in[at] & 1;
    const std::size_t key_size = static_cast<unsigned char>(in[at + 1]) % 16 + 1;
    at += 2;
    if (in.size() - at < key_size + 2) break;
    std::string key(in.substr(at, key_size));
    at += key_size;
    const std::size_t value_size = static_cast<unsigned char>(in[at]);
    const Revision revision = static_cast<unsigned char>(in[at + 1]) + 1;
    at += 2;
    std::string value(in.substr(at, std::min(value_size, in.size() - at)));
    at += value.size();
    if (!valid_key(key)) continue;
    ops.push_back(del ? WriteOp::del(key) : WriteOp::put(key, value));
    plan.push_back(del ? 0 : revision);
  }
  const std::string journal = encode_journal(ops, plan);
  const bool torn = cut < journal.size();
  const std::string_view bytes = std::string_view(journal).substr(0, cut);
  write_journal(bytes);
  auto dir = FileDir::open(directory(), /*fsync=*/false);
  if (torn) {
    const bool self_consistent =
        bytes.size() >= 12 && bytes.substr(0, 4) == "TRJ1" &&
        get_be(bytes, bytes.size() - 4, 4) == crc32c(bytes.substr(0, bytes.size() - 4));
    if (!self_consistent) {
      FUZZ_CHECK(!dir && dir.error().code == StoreErrc::corrupt);
      FUZZ_CHECK(journal_present());
      FUZZ_CHECK(entry_keys().empty());
    }
    return;
  }
  FUZZ_CHECK(dir.ok());
  FUZZ_CHECK(!journal_present());
  std::map<std::string, std::optional<Entry>> expected;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == WriteOp::Kind::del) {
      expected[ops[i].key] = std::nullopt;
    } else {
      expected[ops[i].key] = Entry{ops[i].value, plan[i]};
    }
  }
  std::size_t present = 0;
  for (const auto& [key, entry] : expected) {
    const auto read = (*dir)->read(key);
    FUZZ_CHECK(read.ok());
    FUZZ_CHECK(read->has_value() == entry.has_value());
    if (entry) {
      ++present;
      FUZZ_CHECK((*read)->value == entry->value && (*read)->revision == entry->revision);
    }
  }
  FUZZ_CHECK(entry_keys().size() == present);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  empty_directory();
  if (data[0] % 2 == 0) {
    check_raw(in);
  } else {
    check_batch(in);
  }
  empty_directory();
  return 0;
}
