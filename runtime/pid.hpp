#pragma once
// Process identifiers and unique references.

#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include "runtime/export.hpp"

namespace troupe {

// Identifies one incarnation of a process. Copyable, comparable, hashable and
// printable ("<0.slot.generation>"). A process slot is reused after its
// process exits, but with a new generation, so a stale Pid never reaches a
// newer process. The default Pid is null: it names no process.
class TROUPE_EXPORT Pid {
 public:
  constexpr Pid() = default;
  constexpr Pid(std::uint32_t slot, std::uint32_t generation) : slot_(slot), gen_(generation) {}

  constexpr bool valid() const { return gen_ != 0; }
  explicit constexpr operator bool() const { return valid(); }
  constexpr std::uint32_t slot() const { return slot_; }
  constexpr std::uint32_t generation() const { return gen_; }
  constexpr std::uint64_t raw() const { return (std::uint64_t{slot_} << 32) | gen_; }
  static constexpr Pid from_raw(std::uint64_t raw) {
    return Pid(static_cast<std::uint32_t>(raw >> 32), static_cast<std::uint32_t>(raw));
  }

  friend constexpr auto operator<=>(const Pid&, const Pid&) = default;
  std::string to_string() const;

 private:
  std::uint32_t slot_ = 0;
  std::uint32_t gen_ = 0;  // 0 = null pid; live generations start at 1
};

TROUPE_EXPORT std::ostream& operator<<(std::ostream& os, const Pid& pid);

// A reference unique within a Runtime: names a monitor, a call or a timer.
struct TROUPE_EXPORT Ref {
  std::uint64_t id = 0;
  constexpr bool valid() const { return id != 0; }
  friend constexpr auto operator<=>(const Ref&, const Ref&) = default;
};

TROUPE_EXPORT std::ostream& operator<<(std::ostream& os, const Ref& ref);

}  // namespace troupe

template <>
struct std::hash<troupe::Pid> {
  std::size_t operator()(const troupe::Pid& p) const noexcept {
    return std::hash<std::uint64_t>{}(p.raw());
  }
};

template <>
struct std::hash<troupe::Ref> {
  std::size_t operator()(const troupe::Ref& r) const noexcept {
    return std::hash<std::uint64_t>{}(r.id);
  }
};
