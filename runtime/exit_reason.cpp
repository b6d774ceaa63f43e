#include "runtime/exit_reason.hpp"

#include <ostream>

namespace troupe {

namespace {
const std::string empty_detail;

const char* kind_name(ExitReason::Kind kind) {
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
}  // namespace

ExitReason::ExitReason(Kind kind, std::string detail)
    : kind_(kind),
      detail_(detail.empty() ? nullptr : std::make_shared<const std::string>(std::move(detail))) {}

const std::string& ExitReason::detail() const {
  return detail_ ? *detail_ : empty_detail;
}

std::string ExitReason::to_string() const {
  if (!detail_) return kind_name(kind_);
  return std::string("{") + kind_name(kind_) + ", " + *detail_ + "}";
}

bool operator==(const ExitReason& a, const ExitReason& b) {
  return a.kind_ == b.kind_ && a.detail() == b.detail();
}

std::ostream& operator<<(std::ostream& os, const ExitReason& reason) {
  return os << reason.to_string();
}

}  // namespace troupe
