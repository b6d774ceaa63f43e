#pragma once
// The one temporary-directory helper of the suites and benchmarks: a fresh
// directory under $TMPDIR (or /tmp), removed with everything in it when the
// object goes. Throws std::runtime_error if it cannot be created.

#include <string>
#include <vector>

namespace troupe::test {

class TempDir {
 public:
  // prefix names the directory (troupe-<prefix>-XXXXXX), to tell whose it is.
  explicit TempDir(const std::string& prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Names of the directory's entries, sorted.
  std::vector<std::string> entries() const;
  // Writes a file named `name` in the directory with `content`.
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace troupe::test
