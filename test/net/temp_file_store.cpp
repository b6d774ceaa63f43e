#include "test/net/temp_file_store.hpp"

#include <CppUTest/TestHarness.h>

#include <functional>

namespace troupe::test {

TempFileStore::TempFileStore(Runtime& rt) : rt_(rt) {
  open();
}

TempFileStore::~TempFileStore() {
  if (is_open()) close();
}

void TempFileStore::open() {
  bool opened = rt_.run_on_async<bool>(0, [&](std::function<void(bool)> done) {
    files_ = std::make_unique<FileStore>(rt_.loop(0), FileStoreOptions{.directory = dir_.path()});
    files_->open([done](StoreResult<void> r) { done(r.ok()); });
  });
  CHECK_TRUE(opened);
  client_ = std::make_unique<AwaitableStore>(rt_, 0, *files_);
}

void TempFileStore::close() {
  rt_.run_on_async<bool>(
      0, [&](std::function<void(bool)> done) { files_->close([done] { done(true); }); });
  client_.reset();
  files_.reset();
}

}  // namespace troupe::test
