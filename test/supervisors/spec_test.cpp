// Specs as data and the restart-intensity window.
#include <CppUTest/TestHarness.h>

#include <sstream>

#include "supervisors/restart_window.hpp"
#include "test/support/supervisor_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {
Task<StartResult> start_nothing(Process&, const std::string&) {
  co_return Pid{};
}

SupervisorSpec sample() {
  return SupervisorSpec{.strategy = rest_for_one,
                        .intensity = 3,
                        .period = 5s,
                        .children = {{.id = "store", .start = ChildStart("store", start_nothing)},
                                     {.id = "rooms",
                                      .start = dynamic_supervisor({.max_children = 100}),
                                      .type = supervisor,
                                      .shutdown = infinity}}};
}
}  // namespace

TEST_GROUP(SupervisorSpec){};

TEST(SupervisorSpec, PrintsAsData) {
  std::ostringstream os;
  os << sample();
  STRCMP_EQUAL(
      "{strategy=rest_for_one, intensity=3, period=5000ms, children=["
      "{id=store, start=store, restart=permanent, type=worker, shutdown=default}, "
      "{id=rooms, start=dynamic_supervisor{intensity=3, period=5000ms, max_children=100}, "
      "restart=permanent, type=supervisor, shutdown=infinity}]}",
      os.str().c_str());
}

TEST(SupervisorSpec, ComparesByValue) {
  CHECK(sample() == sample());
  SupervisorSpec other = sample();
  other.children[1].shutdown = 2s;
  CHECK_FALSE(sample() == other);
  other = sample();
  other.children[1].start = dynamic_supervisor({.max_children = 99});
  CHECK_FALSE(sample() == other);
}

TEST(SupervisorSpec, DefaultShutdownIsFiveSecondsForWorkersAndInfinityForSupervisors) {
  SupervisorSpec spec = sample();
  CHECK(effective_shutdown(spec.children[0]) == Shutdown(5s));
  CHECK(effective_shutdown(spec.children[1]) == infinity);
}

TEST(SupervisorSpec, ValidateRejectsDuplicateIds) {
  SupervisorSpec spec = sample();
  spec.children[1].id = "store";
  STRCMP_EQUAL("duplicate child id store", validate(spec).c_str());
}

TEST(SupervisorSpec, ValidateRejectsSignificantPermanentChildren) {
  SupervisorSpec spec = sample();
  spec.auto_shutdown = any_significant;
  spec.children[0].significant = true;
  STRCMP_EQUAL("child store is significant and permanent", validate(spec).c_str());
}

TEST(SupervisorSpec, ValidateRejectsSignificantChildrenWithoutAutoShutdown) {
  SupervisorSpec spec = sample();
  spec.children[0].significant = true;
  spec.children[0].restart = transient;
  STRCMP_EQUAL("child store is significant but auto_shutdown is never", validate(spec).c_str());
  spec.auto_shutdown = all_significant;
  STRCMP_EQUAL("", validate(spec).c_str());
}

TEST_GROUP(RestartWindow){};

TEST(RestartWindow, AllowsIntensityRestartsWithinThePeriod) {
  RestartWindow w(3, 1s);
  auto t = RestartWindow::Clock::time_point{} + 100s;
  CHECK(w.add(t));
  CHECK(w.add(t + 1ms));
  CHECK(w.add(t + 2ms));
  CHECK_FALSE(w.add(t + 3ms));
}

TEST(RestartWindow, OldRestartsSlideOutOfTheWindow) {
  RestartWindow w(2, 1s);
  auto t = RestartWindow::Clock::time_point{} + 100s;
  CHECK(w.add(t));
  CHECK(w.add(t + 600ms));
  CHECK(w.add(t + 1000ms));        // the first one has left: two in the window
  CHECK_FALSE(w.add(t + 1500ms));  // 600, 1000, 1500 are all within 1 s
  CHECK(w.add(t + 3000ms));
  LONGS_EQUAL(1, w.size());
}

TEST(RestartWindow, ZeroIntensityRefusesTheFirstRestart) {
  RestartWindow w(0, 1s);
  CHECK_FALSE(w.add(RestartWindow::Clock::now()));
}

TEST_GROUP(SupervisorEvents){};

TEST(SupervisorEvents, PrintAsOneLineWithTheReason) {
  SupervisorEvent e{SupervisorEvent::Kind::child_crashed, Pid(1, 2), "db", Pid(3, 4),
                    ExitReason::error("disk")};
  STRCMP_EQUAL("child_crashed supervisor=<0.1.2> child=db pid=<0.3.4> reason={error, disk}",
               to_string(e).c_str());
  e.kind = SupervisorEvent::Kind::restart_delayed;
  e.delay = 250ms;
  STRCMP_EQUAL("restart_delayed supervisor=<0.1.2> child=db pid=<0.3.4> delay_ms=250",
               to_string(e).c_str());
}

TEST_GROUP(ChildErrorText){};

TEST(ChildErrorText, NamesItsKindAndItsData) {
  STRCMP_EQUAL("not_found", to_string(ChildError{ChildError::Kind::not_found}).c_str());
  STRCMP_EQUAL(
      "start_failed: {error, no}",
      to_string(ChildError{ChildError::Kind::start_failed, ExitReason::error("no")}).c_str());
  STRCMP_EQUAL("invalid_spec: empty id",
               to_string(ChildError{ChildError::Kind::invalid_spec, {}, {}, "empty id"}).c_str());
  STRCMP_EQUAL("restarting", to_string(ChildError::Kind::restarting));
}
