#include "runtime/pid.hpp"

#include <ostream>

namespace troupe {

std::string Pid::to_string() const {
  return "<0." + std::to_string(slot_) + "." + std::to_string(gen_) + ">";
}

std::ostream& operator<<(std::ostream& os, const Pid& pid) {
  return os << pid.to_string();
}

std::ostream& operator<<(std::ostream& os, const Ref& ref) {
  return os << "#Ref<" << ref.id << ">";
}

}  // namespace troupe
