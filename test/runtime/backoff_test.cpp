// The backoff formula (exponential, full jitter by default) and its counter.
#include "runtime/backoff.hpp"

#include <CppUTest/TestHarness.h>

#include <algorithm>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Backoff){};

TEST(Backoff, DelayDoublesFromBase) {
  Backoff b{.base = 10ms, .cap = 10s, .jitter = 0};
  CHECK(backoff_delay(b, 0, 0.3) == 10ms);
  CHECK(backoff_delay(b, 1, 0.3) == 20ms);
  CHECK(backoff_delay(b, 4, 0.3) == 160ms);
}

TEST(Backoff, FullJitterIsTheDefaultAndDrawsFromZeroToTheDelay) {
  Backoff b{.base = 100ms, .cap = 10s};
  CHECK(b.jitter == 1.0);
  CHECK(backoff_delay(b, 1, 0.0) == 200ms);
  CHECK(backoff_delay(b, 1, 0.5) == 100ms);
  CHECK(backoff_delay(b, 1, 0.75) == 50ms);
  CHECK(backoff_delay(b, 1, 1.0) == Duration::zero());
}

TEST(Backoff, PartialJitterDrawsFromTheTopFractionOnly) {
  Backoff b{.base = 100ms, .cap = 10s, .jitter = 0.5};
  CHECK(backoff_delay(b, 1, 0.0) == 200ms);  // never above d(n)
  CHECK(backoff_delay(b, 1, 0.5) == 150ms);
  CHECK(backoff_delay(b, 1, 1.0) == 100ms);  // never below (1 - jitter) * d(n)
}

TEST(Backoff, CapBoundsTheDelayBeforeJitter) {
  Backoff b{.base = 100ms, .cap = 1s, .jitter = 0.5};
  // 800ms * 2 = 1.6s: capped to 1s, then jitter draws within [0.5s, 1s].
  CHECK(backoff_delay(b, 4, 0.0) == 1s);
  CHECK(backoff_delay(b, 4, 1.0) == 500ms);
  // Far beyond: still the cap, with no overflow.
  CHECK(backoff_delay(b, 5000, 0.0) == 1s);
}

TEST(Backoff, FullJitterStaysWithinZeroAndTheCappedDelayAndGrows) {
  const Backoff b{.base = 1ms, .cap = 200ms};
  constexpr int draws = 2000;
  double previous_mean = 0;
  for (unsigned n = 0; n < 12; ++n) {
    const Duration bound = std::min<Duration>(b.cap, b.base * (1u << n));
    Duration sum{}, max{};
    for (int i = 0; i < draws; ++i) {
      Duration d = backoff_delay(b, n);  // the thread's own draw
      CHECK(d >= Duration::zero());
      CHECK(d <= bound);
      CHECK(d <= b.cap);
      sum += d;
      max = std::max(max, d);
    }
    const double mean = static_cast<double>(sum.count()) / draws;
    // Uniform in [0, bound]: the mean is bound / 2 (its standard error here
    // is under 1% of bound), and the draws reach near the bound.
    CHECK(mean > 0.4 * static_cast<double>(bound.count()));
    CHECK(mean < 0.6 * static_cast<double>(bound.count()));
    CHECK(max > bound * 9 / 10);
    if (b.base * (1u << n) <= b.cap) CHECK(mean > previous_mean * 1.5);  // doubles until capped
    previous_mean = mean;
  }
}

TEST(Backoff, ZeroBaseMeansNoBackoff) {
  Backoff b;
  CHECK_FALSE(b.enabled());
  CHECK(backoff_delay(b, 3, 0.5) == Duration::zero());
  CHECK(backoff_delay(b, 3) == Duration::zero());
}

TEST(Backoff, TheCounterGrowsPerFailureAndResetsOnSuccess) {
  BackoffCounter c(Backoff{.base = 10ms, .cap = 1s, .jitter = 0});
  CHECK(c.next() == 10ms);
  CHECK(c.next() == 20ms);
  CHECK(c.next() == 40ms);
  LONGS_EQUAL(3, c.failures());
  c.reset();
  LONGS_EQUAL(0, c.failures());
  CHECK(c.next() == 10ms);
}
