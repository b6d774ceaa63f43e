// Static files under ws::Options::static_dir, served by lws's file sender
// once the path is known to stay inside the directory: lws's own mounts
// follow symbolic links wherever they point, so they are not used.
//
// The check resolves the whole path (realpath: every symbolic link and ".."
// followed) and serves it only if the result is a regular file below the
// resolved static_dir. Links that stay inside the directory keep working.
// What is served is the resolved path, so a link swapped between the check
// and the open (by someone who can write into static_dir) is not followed.

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/ws/detail/loop_worker.hpp"

namespace troupe::detail {
namespace {

constexpr const char* plain_text = "text/plain; charset=utf-8";

// No NUL, and no ".." segment (lws folds them already; this does not rely on it).
bool is_plain_relative(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return false;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (path.substr(0, slash) == "..") return false;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return true;
}

}  // namespace

std::string resolve_static_root(const std::string& dir) {
  char resolved[PATH_MAX];
  if (dir.empty() || !::realpath(dir.c_str(), resolved)) return {};
  return resolved;
}

int LoopWorker::serve_static(lws* wsi, std::string_view uri) {
  const std::string& mount = shared_.options.static_mount;
  std::string_view rest = uri.substr(mount.size());
  // "/static" -> "/static/", so the page's relative links resolve below it.
  if (rest.empty()) return respond(wsi, 301, plain_text, "moved\n", mount + "/");
  std::string relative(rest.substr(1));
  if (relative.empty() || relative.back() == '/') relative += "index.html";

  const std::string& root = shared_.static_root;
  // realpath gives no trailing slash except for "/" itself.
  const std::string prefix = !root.empty() && root.back() == '/' ? root : root + "/";
  char resolved[PATH_MAX];
  struct stat st {};
  const std::string candidate = prefix + relative;
  const bool inside = !root.empty() && is_plain_relative(relative) &&
                      ::realpath(candidate.c_str(), resolved) &&
                      std::string_view(resolved).substr(0, prefix.size()) == prefix &&
                      ::stat(resolved, &st) == 0 && S_ISREG(st.st_mode);
  if (!inside) return respond(wsi, 404, plain_text, "not found\n");

  const char* mime = lws_get_mimetype(resolved, &shared_.mount);
  const int n =
      lws_serve_http_file(wsi, resolved, mime ? mime : "application/octet-stream", nullptr, 0);
  if (n < 0) return -1;
  if (n > 0 && lws_http_transaction_completed(wsi)) return -1;
  return 0;
}

}  // namespace troupe::detail
