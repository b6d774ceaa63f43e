#include "runtime/task.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <typeinfo>

namespace troupe::detail {

namespace {
std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}
}  // namespace

ExitReason reason_from_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const ExitRequest& request) {
    return request.reason;
  } catch (const std::exception& ex) {
    return ExitReason::error(demangle(typeid(ex).name()) + ": " + ex.what());
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return ExitReason::error(type ? "uncaught " + demangle(type->name()) : "unknown exception");
  }
}

}  // namespace troupe::detail
