#pragma once
// The expectation DSL of troupe::testing (after CAF's test DSL):
//
//   t.expect<Ping>().from(a).to(b);                  // the next message to b is a Ping from a
//   t.expect<Ping>().to(b).with(Ping{3});            // ... and equals Ping{3} (or a predicate)
//   if (t.allow<Tick>().to(b)) ...                   // optional: true if it was one
//   t.disallow<Crash>().from(a).to(b);               // no such message is queued for b
//   t.inject(Ping{1}).from(a).to(b);                 // sent as if a had sent it
//
// to(b) is the terminal step: it checks (stepping the simulation until a
// message to b is there, for expect and allow). with() then reads the
// message, which stays queued until b runs. Include testing/test_runtime.hpp.

#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace troupe::testing {

template <class T>
class Expectation {
 public:
  enum class Mode { expect, allow, disallow };
  Expectation(TestRuntime& t, Mode mode) : t_(t), mode_(mode) {}

  // The sender (default: anyone).
  Expectation& from(Pid sender) {
    from_ = sender;
    return *this;
  }

  // The receiver: checks now.
  Expectation& to(Pid receiver) {
    to_ = receiver;
    if (mode_ == Mode::disallow) {
      for (const Delivery& d : t_.deliveries())
        if (!d.checked && d.to == to_ && matches(d))
          t_.fail("disallowed " + describe() + " is queued (message #" + std::to_string(d.seq) +
                  ")");
      return *this;
    }
    Delivery* d = t_.next_delivery(to_, true);
    if (!d) {
      if (mode_ == Mode::expect) t_.fail("expected " + describe() + ", but nothing came");
      return *this;
    }
    if (!matches(*d)) {
      if (mode_ == Mode::expect) t_.fail("expected " + describe() + ", got " + describe(*d));
      return *this;
    }
    d->checked = true;
    delivery_ = d;
    return *this;
  }

  // The message equals `value` (T must have ==), or satisfies `predicate`.
  template <class V>
  Expectation& with(V&& value_or_predicate) {
    if (mode_ == Mode::disallow || !delivery_) return *this;
    const T& got = value();
    bool ok;
    if constexpr (std::is_invocable_r_v<bool, V&, const T&>)
      ok = value_or_predicate(got);
    else
      ok = got == value_or_predicate;
    if (!ok) {
      if (mode_ == Mode::expect) t_.fail("expected " + describe() + " with another value");
      delivery_->checked = false;  // allow: not this one after all
      delivery_ = nullptr;
    }
    return *this;
  }

  // expect/allow: did a message match? (expect fails instead of false.)
  bool matched() const { return delivery_ != nullptr; }
  explicit operator bool() const { return matched(); }

  // The matched message, while still queued (until its receiver runs).
  const T& value() const {
    if (!delivery_) t_.fail("no " + describe() + " was matched");
    if (!t_.still_queued(*delivery_))
      t_.fail(describe() + " was already handled: read it before its receiver runs");
    return detail::payload<T>(const_cast<detail::MessageNode*>(delivery_->node));
  }

 private:
  bool matches(const Delivery& d) const {
    return d.type == detail::type_of<T>() && (!from_ || d.from == from_);
  }
  std::string describe() const {
    std::ostringstream os;
    os << "a " << detail::type_of<T>()->name;
    if (from_) os << " from " << from_;
    os << " to " << to_;
    return os.str();
  }
  static std::string describe(const Delivery& d) {
    std::ostringstream os;
    os << "a " << d.type_name() << " from ";
    if (d.from)
      os << d.from;
    else
      os << "outside";
    return os.str();
  }

  TestRuntime& t_;
  Mode mode_;
  Pid from_;
  Pid to_;
  Delivery* delivery_ = nullptr;
};

template <class T>
class Injection {
 public:
  Injection(TestRuntime& t, T msg) : t_(t), msg_(std::move(msg)) {}
  Injection& from(Pid sender) {
    from_ = sender;
    return *this;
  }
  SendResult to(Pid receiver) {
    const std::size_t before = t_.deliveries().size();
    SendResult result = t_.runtime().send(receiver, std::move(msg_));
    if (result == SendResult::ok && t_.deliveries().size() > before)
      const_cast<Delivery&>(t_.deliveries().back()).from = from_;
    return result;
  }

 private:
  TestRuntime& t_;
  T msg_;
  Pid from_;
};

template <class T>
Expectation<T> TestRuntime::expect() {
  return Expectation<T>(*this, Expectation<T>::Mode::expect);
}
template <class T>
Expectation<T> TestRuntime::allow() {
  return Expectation<T>(*this, Expectation<T>::Mode::allow);
}
template <class T>
Expectation<T> TestRuntime::disallow() {
  return Expectation<T>(*this, Expectation<T>::Mode::disallow);
}
template <class T>
Injection<T> TestRuntime::inject(T msg) {
  return Injection<T>(*this, std::move(msg));
}

}  // namespace troupe::testing
