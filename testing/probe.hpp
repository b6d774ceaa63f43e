#pragma once
// A test probe: a process that only collects what it is sent, so a test
// can hand its pid to the actors under test and read their messages.
//
//   Probe p = t.probe();
//   t.runtime().send(server, Subscribe{p.pid()});
//   Update u = p.expect<Update>();   // steps until a message comes; must be an Update
//   p.expect_nothing();              // runs until idle: nothing more came
//
// Include testing/test_runtime.hpp.

#include <string>

namespace troupe::testing {

class Probe {
 public:
  Probe(TestRuntime& t, Pid pid) : t_(&t), pid_(pid) {}
  Pid pid() const { return pid_; }

  // Steps until a message is queued for the probe; the oldest must be a T
  // (sent by `from`, if given). Takes it out and returns it.
  template <class T>
  T expect(Pid from = {}) {
    const std::string want = "probe: expected a " + std::string(detail::type_of<T>()->name);
    detail::MessageNode* node = take_oldest(want);
    const Delivery* d = t_->record_of(node);
    if (node->type != detail::type_of<T>() || (from && (!d || d->from != from))) {
      const std::string got(node->type->name);
      node->dispose();
      t_->fail(want + (from ? " from its sender" : "") + ", got a " + got);
    }
    T value = std::move(detail::payload<T>(node));
    node->dispose();
    return value;
  }

  // Runs until nothing can run; fails if a message came meanwhile.
  void expect_nothing() {
    t_->run();
    if (queued() > 0) t_->fail("probe: expected nothing, got " + std::to_string(queued()));
  }

  std::size_t queued() const { return t_->mailbox_size(pid_); }

 private:
  // Steps until a message is queued; takes the oldest out (the caller
  // disposes of it). Fails with `want` if none comes.
  detail::MessageNode* take_oldest(const std::string& want);

  TestRuntime* t_;
  Pid pid_;
};

}  // namespace troupe::testing
