#include "runtime/exit_reason.hpp"

namespace troupe {

namespace {
const std::string empty_detail;
}  // namespace

const char* to_string(ExitReason::Kind kind) {
  switch (kind) {
    case ExitReason::Kind::normal:
      return "normal";
    case ExitReason::Kind::shutdown:
      return "shutdown";
    case ExitReason::Kind::killed:
      return "killed";
    case ExitReason::Kind::kill:
      return "kill";
    case ExitReason::Kind::noproc:
      return "noproc";
    case ExitReason::Kind::error:
      return "error";
  }
  return "unknown";
}

ExitReason::ExitReason(Kind kind, std::string detail)
    : kind_(kind),
      detail_(detail.empty() ? nullptr : std::make_shared<const std::string>(std::move(detail))) {}

const std::string& ExitReason::detail() const {
  return detail_ ? *detail_ : empty_detail;
}

std::string to_string(const ExitReason& reason) {
  const char* kind = to_string(reason.kind());
  if (reason.detail().empty()) return kind;
  return std::string("{") + kind + ", " + reason.detail() + "}";
}

bool operator==(const ExitReason& a, const ExitReason& b) {
  return a.kind_ == b.kind_ && a.detail() == b.detail();
}

}  // namespace troupe
