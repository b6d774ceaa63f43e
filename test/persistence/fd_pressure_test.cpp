// FileStore out of file descriptors: an operation that cannot open its file
// fails with StoreErrc::unavailable (pressure that passes, to retry), never
// io_error or corrupt, and works again once descriptors are back.
#include <sys/resource.h>
#include <unistd.h>

#include "test/persistence/support.hpp"
#include "test/support/sanitizers.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Lowers the soft RLIMIT_NOFILE to the lowest free descriptor, so that no
// new one can be opened, until destroyed.
class NoFreeDescriptors {
 public:
  NoFreeDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest = ::dup(0);
    if (lowest < 0) return;
    ::close(lowest);
    rlimit tight = saved_;
    tight.rlim_cur = static_cast<rlim_t>(lowest);
    applied_ = ::setrlimit(RLIMIT_NOFILE, &tight) == 0;
  }
  ~NoFreeDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool applied() const { return applied_; }

 private:
  rlimit saved_{};
  bool applied_ = false;
};

}  // namespace

// The sanitizers' own checks (UBSan's vptr check probes memory through a
// pipe) need descriptors too, and report false errors under this pressure:
// there the test is reported as ignored rather than passed without running.
#define FD_PRESSURE_TEST SANITIZED_IGNORE_TEST

TEST_GROUP(FdPressure){};

FD_PRESSURE_TEST(FdPressure, FileStoreOutOfDescriptorsIsUnavailableNotCorruptAndRecovers) {
  TempDir dir;
  auto env = StoreEnv::file(dir.path());
  CHECK_TRUE(env->batch({WriteOp::put("room", "state")}).ok());
  // The same calls once before: UBSan's type checks of their futures open
  // nothing on a second run, so the tight limit only meets the store.
  CHECK_TRUE(env->get("room").ok());

  // Under pressure, all on the store's loop, with the limit restored before
  // the answer crosses threads (a sanitizer's checks need descriptors too).
  struct Seen {
    StoreResult<std::optional<Entry>> read = std::optional<Entry>();
    StoreResult<void> written;
    bool applied = false;
  };
  auto pressure = std::make_shared<std::optional<NoFreeDescriptors>>();
  auto out = std::make_shared<Seen>();
  Store* store = env->store.get();
  const Seen seen = env->rt.run_on_async<Seen>(0, [&](std::function<void(Seen)> done) {
    pressure->emplace();
    out->applied = (*pressure)->applied();
    store->get("room", [=](StoreResult<std::optional<Entry>> read) {
      out->read = std::move(read);
      store->batch({WriteOp::put("room", "newer")}, [=](StoreResult<void> written) {
        out->written = std::move(written);
        pressure->reset();
        done(*out);
      });
    });
  });
  CHECK_TRUE(seen.applied);
  const auto& read = seen.read;
  const auto& written = seen.written;
  CHECK_FALSE(read.ok());
  CHECK_TRUE(read.error().code == StoreErrc::unavailable);
  check_contains(read.error().message, "out of file descriptors");
  CHECK_FALSE(written.ok());
  CHECK_TRUE(written.error().code == StoreErrc::unavailable);

  auto after = env->get("room");
  CHECK_TRUE(after.ok() && after.value().has_value());
  STRCMP_EQUAL("state", after.value()->value.c_str());
  CHECK_TRUE(env->batch({WriteOp::put("room", "newer")}).ok());
}
