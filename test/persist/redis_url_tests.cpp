// parse_redis_url: what it accepts and how it says what is wrong.
#include <CppUTest/TestHarness.h>

#include "persist/redis_url.hpp"

using namespace troupe;

namespace {

RedisEndpoint parsed(const char* url) {
  auto r = parse_redis_url(url);
  if (!r) FAIL(to_string(r.error()).c_str());
  return *r;
}

std::string error_of(const char* url) {
  auto r = parse_redis_url(url);
  CHECK_TEXT(!r.ok(), url);
  STRCMP_EQUAL(to_string(StoreErrc::invalid_argument), to_string(r.error().code));
  return r.error().message;
}

void check_contains(const std::string& text, const std::string& part) {
  CHECK_TEXT(text.find(part) != std::string::npos, ("'" + part + "' not in: " + text).c_str());
}

}  // namespace

TEST_GROUP(RedisUrl){};

TEST(RedisUrl, HostPortAndDb) {
  auto ep = parsed("redis://10.1.2.3:6380/4");
  CHECK(ep.transport == RedisEndpoint::Transport::tcp);
  STRCMP_EQUAL("10.1.2.3", ep.host.c_str());
  LONGS_EQUAL(6380, ep.port);
  LONGS_EQUAL(4, ep.db);
  CHECK(ep.password.empty());
}

TEST(RedisUrl, DefaultsArePort6379AndDb0) {
  auto ep = parsed("redis://cache");
  STRCMP_EQUAL("cache", ep.host.c_str());
  LONGS_EQUAL(6379, ep.port);
  LONGS_EQUAL(0, ep.db);
  LONGS_EQUAL(0, parsed("redis://cache:1/").db);
}

TEST(RedisUrl, PasswordWithAndWithoutUser) {
  auto ep = parsed("redis://:s%40cret@h:1/2");
  STRCMP_EQUAL("s@cret", ep.password.c_str());
  CHECK(ep.user.empty());
  auto acl = parsed("redis://app:pw@h");
  STRCMP_EQUAL("app", acl.user.c_str());
  STRCMP_EQUAL("pw", acl.password.c_str());
}

TEST(RedisUrl, DisplayMasksThePassword) {
  STRCMP_EQUAL("redis://:***@h:1/2", parsed("redis://:secret@h:1/2").display().c_str());
  STRCMP_EQUAL("redis://h:6379/0", parsed("redis://h").display().c_str());
}

TEST(RedisUrl, Ipv6HostInBrackets) {
  auto ep = parsed("redis://[::1]:7000");
  STRCMP_EQUAL("::1", ep.host.c_str());
  LONGS_EQUAL(7000, ep.port);
  STRCMP_EQUAL("redis://[::1]:7000/0", ep.display().c_str());
}

TEST(RedisUrl, UnixSocket) {
  auto ep = parsed("unix:///run/redis/redis.sock");
  CHECK(ep.transport == RedisEndpoint::Transport::unix_socket);
  STRCMP_EQUAL("/run/redis/redis.sock", ep.path.c_str());
  LONGS_EQUAL(3, parsed("unix:///tmp/r.sock?db=3").db);
}

TEST(RedisUrl, ErrorsSayWhatIsWrong) {
  check_contains(error_of("http://h:1"), "expected redis://host:port/db or unix:///path");
  check_contains(error_of("rediss://h:1"), "TLS");
  check_contains(error_of("redis://:6379"), "missing host");
  check_contains(error_of("redis://h:0"), "port must be a number from 1 to 65535");
  check_contains(error_of("redis://h:65536"), "port");
  check_contains(error_of("redis://h:abc"), "port");
  check_contains(error_of("redis://h:"), "port");
  check_contains(error_of("redis://h:1/x"), "database number");
  check_contains(error_of("redis://secret@h"), "[user]:password");
  check_contains(error_of("redis://[::1"), "unclosed '['");
  check_contains(error_of("unix://relative.sock"), "absolute socket path");
  check_contains(error_of("unix:///s.sock?timeout=1"), "?db=N");
}

TEST(RedisUrl, ErrorsQuoteTheUrlWithoutItsPassword) {
  auto message = error_of("redis://:hunter2@h:99999");
  check_contains(message, "redis://***@h:99999");
  CHECK(message.find("hunter2") == std::string::npos);
}

// Found by fuzz/redis_url_fuzz.cpp: std::from_chars takes a sign, so "%-0"
// decoded to the byte 0x00 and "%-1" to 0xff instead of being refused.
TEST(RedisUrl, PercentEscapesNeedTwoHexDigits) {
  check_contains(error_of("redis://app:s%-0@h"), "bad percent-encoding");
  check_contains(error_of("redis://:%-1@h"), "bad percent-encoding");
  check_contains(error_of("redis://%-f:pw@h"), "bad percent-encoding");
  check_contains(error_of("redis://:%4@h"), "bad percent-encoding");
  check_contains(error_of("redis://:%g0@h"), "bad percent-encoding");
  STRCMP_EQUAL("\xff", parsed("redis://:%ff@h").password.c_str());
  STRCMP_EQUAL("A", parsed("redis://:%41@h").password.c_str());
}

// Found by fuzz/redis_url_fuzz.cpp: "[[]" was taken for the host "[", which
// display() then showed as "redis://[:6390/0", a URL that does not parse.
TEST(RedisUrl, BracketedHostHoldsNoBracket) {
  check_contains(error_of("redis://pw:@[[]:6390"), "'[' inside the brackets");
  check_contains(error_of("redis://[[::1]]"), "'[' inside the brackets");
  STRCMP_EQUAL("::1", parsed("redis://[::1]").host.c_str());
}
