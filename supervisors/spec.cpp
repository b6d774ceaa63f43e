#include "supervisors/spec.hpp"

#include <ostream>
#include <set>

namespace troupe {

namespace {
std::string ms(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}
}  // namespace

Shutdown effective_shutdown(const ChildSpec& child) {
  if (child.shutdown.kind != Shutdown::Kind::by_type) return child.shutdown;
  return child.type == supervisor ? infinity : Shutdown(default_worker_shutdown);
}

std::string validate(const SupervisorSpec& spec) {
  if (spec.intensity < 0) return "intensity must be >= 0";
  if (spec.period <= Duration::zero()) return "period must be > 0";
  std::set<std::string> ids;
  for (const auto& c : spec.children) {
    if (c.id.empty()) return "a child has an empty id";
    if (!ids.insert(c.id).second) return "duplicate child id " + c.id;
    if (!c.start.fn) return "child " + c.id + " has no start";
    if (c.significant && c.restart == permanent)
      return "child " + c.id + " is significant and permanent";
    if (c.significant && spec.auto_shutdown == never)
      return "child " + c.id + " is significant but auto_shutdown is never";
  }
  return {};
}

const char* to_string(Strategy s) {
  switch (s) {
    case Strategy::one_for_one:
      return "one_for_one";
    case Strategy::one_for_all:
      return "one_for_all";
    case Strategy::rest_for_one:
      return "rest_for_one";
  }
  return "?";
}

const char* to_string(Restart r) {
  switch (r) {
    case Restart::permanent:
      return "permanent";
    case Restart::transient:
      return "transient";
    case Restart::temporary:
      return "temporary";
  }
  return "?";
}

const char* to_string(ChildType t) {
  return t == worker ? "worker" : "supervisor";
}

const char* to_string(AutoShutdown a) {
  switch (a) {
    case AutoShutdown::never:
      return "never";
    case AutoShutdown::any_significant:
      return "any_significant";
    case AutoShutdown::all_significant:
      return "all_significant";
  }
  return "?";
}

std::string to_string(const Shutdown& s) {
  switch (s.kind) {
    case Shutdown::Kind::by_type:
      return "default";
    case Shutdown::Kind::brutal_kill:
      return "brutal_kill";
    case Shutdown::Kind::timeout:
      return ms(s.timeout);
    case Shutdown::Kind::infinity:
      return "infinity";
  }
  return "?";
}

std::string to_string(const ChildSpec& c) {
  std::string out = "{id=" + c.id + ", start=" + c.start.label +
                    ", restart=" + to_string(c.restart) + ", type=" + to_string(c.type) +
                    ", shutdown=" + to_string(c.shutdown);
  if (c.significant) out += ", significant";
  if (!c.name.empty()) out += ", name=" + c.name;
  if (c.backoff.enabled()) out += ", backoff=" + to_string(c.backoff);
  return out + "}";
}

std::string to_string(const SupervisorSpec& s) {
  std::string out = std::string("{strategy=") + to_string(s.strategy) +
                    ", intensity=" + std::to_string(s.intensity) + ", period=" + ms(s.period);
  if (s.auto_shutdown != never) out += std::string(", auto_shutdown=") + to_string(s.auto_shutdown);
  out += ", children=[";
  for (std::size_t i = 0; i < s.children.size(); ++i)
    out += (i ? ", " : "") + to_string(s.children[i]);
  return out + "]}";
}

std::string to_string(const DynamicSupervisorSpec& s) {
  return "{intensity=" + std::to_string(s.intensity) + ", period=" + ms(s.period) +
         ", max_children=" +
         (s.max_children == unlimited ? std::string("unlimited") : std::to_string(s.max_children)) +
         "}";
}

std::ostream& operator<<(std::ostream& os, const ChildSpec& c) {
  return os << to_string(c);
}
std::ostream& operator<<(std::ostream& os, const SupervisorSpec& s) {
  return os << to_string(s);
}
std::ostream& operator<<(std::ostream& os, const DynamicSupervisorSpec& s) {
  return os << to_string(s);
}

}  // namespace troupe
