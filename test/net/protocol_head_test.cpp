// judge_head: the verdict on a request head read before lws sees it. Pure.

#include <CppUTest/TestHarness.h>

#include <string>

#include "net/ws/detail/head_reader.hpp"

using troupe::detail::HeadLimits;
using troupe::detail::judge_head;

TEST_GROUP(ProtocolHead){};

TEST(ProtocolHead, AnOrdinaryHeadPassesAndAnIncompleteOneWaits) {
  const HeadLimits limits;
  CHECK_EQUAL(0, judge_head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n", limits).status);
  CHECK_EQUAL(0, judge_head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n", limits).status);
  CHECK_EQUAL(0, judge_head("GET /a", limits).status);
}

TEST(ProtocolHead, OversizeHeadsAreRefusedWithTheirStatus) {
  HeadLimits limits;
  limits.max_head_bytes = 100;
  CHECK_EQUAL(414, judge_head("GET /" + std::string(200, 'a'), limits).status);
  CHECK_EQUAL(431, judge_head("GET / HTTP/1.1\r\nX: " + std::string(200, 'a'), limits).status);
  CHECK_EQUAL(
      431, judge_head("GET / HTTP/1.1\r\nX: " + std::string(90, 'a') + "\r\n\r\n", limits).status);
}

TEST(ProtocolHead, TooManyParametersOrLinesAndEncodedNul) {
  const HeadLimits limits;
  std::string many = "GET /a?p=1";
  for (int i = 0; i < 64; ++i) many += ";q=2";
  CHECK_EQUAL(414, judge_head(many + " HTTP/1.1\r\n\r\n", limits).status);
  std::string lines = "GET /a HTTP/1.1\r\n";
  for (int i = 0; i < 95; ++i) lines += "Cookie: a=b\r\n";
  CHECK_EQUAL(431, judge_head(lines + "\r\n", limits).status);
  CHECK_EQUAL(400, judge_head("GET /a%00b HTTP/1.1\r\n\r\n", limits).status);
  CHECK_EQUAL(400, judge_head("GET /a?x=%00 HTTP/1.1\r\n", limits).status);
  CHECK_EQUAL(0, judge_head("GET /a%20b%0A HTTP/1.1\r\n\r\n", limits).status);
}
