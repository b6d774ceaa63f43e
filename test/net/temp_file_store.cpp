#include "test/net/temp_file_store.hpp"

#include <CppUTest/TestHarness.h>

#include <future>

namespace troupe::test {

TempFileStore::TempFileStore(Runtime& rt) : rt_(rt) {
  open();
}

TempFileStore::~TempFileStore() {
  if (is_open()) close();
}

void TempFileStore::open() {
  std::promise<bool> opened;
  rt_.post(0, [&] {
    files_ = std::make_unique<FileStore>(rt_.loop(0), FileStoreOptions{.directory = dir_.path()});
    files_->open([&](StoreResult<void> r) { opened.set_value(r.ok()); });
  });
  CHECK_TRUE(opened.get_future().get());
  client_ = std::make_unique<AwaitableStore>(rt_, 0, *files_);
}

void TempFileStore::close() {
  std::promise<void> closed;
  rt_.post(0, [&] { files_->close([&] { closed.set_value(); }); });
  closed.get_future().wait();
  client_.reset();
  files_.reset();
}

}  // namespace troupe::test
