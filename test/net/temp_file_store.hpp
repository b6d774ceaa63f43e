#pragma once
// A FileStore in a fresh temporary directory, open on scheduler 0 of a
// runtime, with an AwaitableStore for processes. close() and open() again on the
// same directory stand for a restart of the server process.

#include <memory>
#include <string>

#include "persist/awaitable_store.hpp"
#include "persist/file_store.hpp"
#include "runtime/runtime.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {

class TempFileStore {
 public:
  explicit TempFileStore(Runtime& rt);
  ~TempFileStore();  // closes the store and removes the directory
  TempFileStore(const TempFileStore&) = delete;
  TempFileStore& operator=(const TempFileStore&) = delete;

  void open();   // fails the test if the store does not open
  void close();  // waits until the store has closed
  bool is_open() const { return files_ != nullptr; }

  AwaitableStore& client() { return *client_; }
  const std::string& directory() const { return dir_.path(); }

 private:
  Runtime& rt_;
  TempDir dir_{"store"};
  std::unique_ptr<FileStore> files_;
  std::unique_ptr<AwaitableStore> client_;
};

}  // namespace troupe::test
