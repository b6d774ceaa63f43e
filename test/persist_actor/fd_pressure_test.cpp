// FileStore out of file descriptors: an operation that cannot open its file
// fails with StoreErrc::unavailable (pressure that passes, to retry), never
// io_error or corrupt, and works again once descriptors are back.
#include <sys/resource.h>
#include <unistd.h>

#include "test/persist/test_loop.hpp"
#include "test/persist_actor/support.hpp"

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

TEST_GROUP(FdPressure){};

TEST(FdPressure, FileStoreOutOfDescriptorsIsUnavailableNotCorruptAndRecovers) {
  TempDir dir;
  auto env = StoreEnv::file(dir.path());
  CHECK_TRUE(env->batch({WriteOp::put("room", "state")}).ok());

  StoreResult<std::optional<Entry>> read = std::optional<Entry>();
  StoreResult<void> written;
  {
    NoFreeDescriptors pressure;
    CHECK_TRUE(pressure.applied());
    read = env->get("room");
    written = env->batch({WriteOp::put("room", "newer")});
  }
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
