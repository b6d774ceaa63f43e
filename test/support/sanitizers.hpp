#pragma once
// Which sanitizer this build runs under, for the few tests that cannot run
// under one; such a test is reported as ignored there rather than passed
// without running.
//
//   SANITIZED_IGNORE_TEST  ASan or TSan: tests that exhaust descriptors (the
//                          sanitizers' own checks need descriptors too).
//   TSAN_IGNORE_TEST       TSan: tests that fork a child which starts threads
//                          (TSan does not support threads after a fork in a
//                          multi-threaded process).

#include <CppUTest/TestHarness.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TROUPE_SANITIZED 1
#endif
#if __has_feature(thread_sanitizer)
#define TROUPE_TSAN 1
#endif
#endif

#ifdef TROUPE_SANITIZED
#define SANITIZED_IGNORE_TEST IGNORE_TEST
#else
#define SANITIZED_IGNORE_TEST TEST
#endif

#ifdef TROUPE_TSAN
#define TSAN_IGNORE_TEST IGNORE_TEST
#else
#define TSAN_IGNORE_TEST TEST
#endif
