// The safe character set of route names, and cookie parsing: pure functions.

#include "net/ws/route_name.hpp"

#include <CppUTest/TestHarness.h>

#include "net/ws/detail/request_reader.hpp"

using troupe::is_valid_route_name;

TEST_GROUP(RouteName){};

TEST(RouteName, AcceptsLettersDigitsAndSafePunctuation) {
  CHECK_TRUE(is_valid_route_name("lobby"));
  CHECK_TRUE(is_valid_route_name("Room-42_a.b~c"));
  CHECK_TRUE(is_valid_route_name("user@host:8080"));
  CHECK_TRUE(is_valid_route_name("a!$'()*,;=b"));
  CHECK_TRUE(is_valid_route_name(".hidden"));
  CHECK_TRUE(is_valid_route_name("..."));
}

TEST(RouteName, AcceptsWellFormedUtf8FromNoBreakSpaceUp) {
  CHECK_TRUE(is_valid_route_name("caf\xc3\xa9"));               // é
  CHECK_TRUE(is_valid_route_name("\xe6\x97\xa5\xe6\x9c\xac"));  // 日本
  CHECK_TRUE(is_valid_route_name("\xf0\x9f\x8e\x89"));          // U+1F389
  CHECK_TRUE(is_valid_route_name("\xc2\xa0"));                  // U+00A0
}

TEST(RouteName, RefusesEmptyTooLongAndDotNames) {
  CHECK_FALSE(is_valid_route_name(""));
  CHECK_FALSE(is_valid_route_name("."));
  CHECK_FALSE(is_valid_route_name(".."));
  CHECK_TRUE(is_valid_route_name(std::string(256, 'a')));
  CHECK_FALSE(is_valid_route_name(std::string(257, 'a')));
}

TEST(RouteName, RefusesSeparatorsSpacesAndControls) {
  const char* bad[] = {"a/b",  "a b",  "a%b", "a+b",  "a&b",  "a?b", "a#b",
                       "a\\b", "a\"b", "a<b", "a\tb", "a\nb", "a|b", "a{b"};
  for (const char* name : bad) {
    if (is_valid_route_name(name)) FAIL(name);
  }
  CHECK_FALSE(is_valid_route_name(std::string("a\0b", 3)));
  CHECK_FALSE(is_valid_route_name("a\x7f"));
}

TEST(RouteName, RefusesMalformedUtf8) {
  const char* bad[] = {
      "\xff",              // never valid
      "\xc3",              // truncated
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong '/'
      "\xed\xa0\x80",      // surrogate U+D800
      "\xf4\x90\x80\x80",  // past U+10FFFF
      "\xc2\x85",          // C1 control U+0085
      "\x80",              // stray continuation
  };
  for (const char* name : bad) {
    if (is_valid_route_name(name)) FAIL(name);
  }
}

TEST(RouteName, CookieHeaderParsesToPairs) {
  const auto cookies = troupe::detail::parse_cookies(" a=1; b = two ;c=\"q\"; junk; =x; d=");
  CHECK_EQUAL(4u, cookies.size());
  STRCMP_EQUAL("a", cookies[0].first.c_str());
  STRCMP_EQUAL("1", cookies[0].second.c_str());
  STRCMP_EQUAL("b", cookies[1].first.c_str());
  STRCMP_EQUAL("two", cookies[1].second.c_str());
  STRCMP_EQUAL("q", cookies[2].second.c_str());
  STRCMP_EQUAL("d", cookies[3].first.c_str());
  STRCMP_EQUAL("", cookies[3].second.c_str());
}
