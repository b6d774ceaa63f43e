// Autobahn case list, section 6 (UTF-8): valid text echoed however it is
// fragmented, invalid text failing the connection with 1007, and failing
// fast: at the first fragment or chop that cannot start valid UTF-8, without
// waiting for the rest of the message. The byte sequences of 6.5-6.23 are
// those of Markus Kuhn's UTF-8 decoder capability test, which Autobahn uses.

#include <CppUTest/TestHarness.h>

#include "test/net/conformance_support.hpp"
#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace troupe::test::conformance;

namespace {

constexpr std::uint8_t cont = opcode::continuation;

struct Sequence {
  bool valid;
  std::string bytes;
};

std::vector<std::vector<Sequence>> kuhn_groups() {
  const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";  // κόσμε
  std::vector<std::vector<Sequence>> groups;
  // 6.5: some valid UTF-8.
  groups.push_back({{true, "hello\x24world"},
                    {true, "hello\xc2\xa2world"},
                    {true, "hello\xe2\x82\xacworld"},
                    {true, "hello\xf0\xa4\xad\xa2world"},
                    {true, kosme}});
  // 6.6: every prefix of κόσμε; valid where it ends on a character.
  std::vector<Sequence> prefixes;
  for (std::size_t n = 1; n <= kosme.size(); ++n)
    prefixes.push_back({n == 2 || n == 5 || n == 7 || n == 9 || n == 11, kosme.substr(0, n)});
  groups.push_back(prefixes);
  // 6.7-6.10: first and last sequences of each length.
  groups.push_back({{true, std::string("\x00", 1)},
                    {true, "\xc2\x80"},
                    {true, "\xe0\xa0\x80"},
                    {true, "\xf0\x90\x80\x80"}});
  groups.push_back({{false, "\xf8\x88\x80\x80\x80"}, {false, "\xfc\x84\x80\x80\x80\x80"}});
  groups.push_back(
      {{true, "\x7f"}, {true, "\xdf\xbf"}, {true, "\xef\xbf\xbf"}, {true, "\xf4\x8f\xbf\xbf"}});
  groups.push_back({{false, "\xf7\xbf\xbf\xbf"},
                    {false, "\xfb\xbf\xbf\xbf\xbf"},
                    {false, "\xfd\xbf\xbf\xbf\xbf\xbf"}});
  // 6.11: other boundaries.
  groups.push_back({{true, "\xed\x9f\xbf"},
                    {true, "\xee\x80\x80"},
                    {true, "\xef\xbf\xbd"},
                    {true, "\xf4\x8f\xbf\xbf"},
                    {false, "\xf4\x90\x80\x80"}});
  // 6.12: unexpected continuation bytes.
  std::string all_continuations;
  for (int b = 0x80; b < 0xbf; ++b) all_continuations += static_cast<char>(b);
  groups.push_back({{false, "\x80"},
                    {false, "\xbf"},
                    {false, "\x80\xbf"},
                    {false, "\x80\xbf\x80"},
                    {false, "\x80\xbf\x80\xbf"},
                    {false, "\x80\xbf\x80\xbf\x80"},
                    {false, "\x80\xbf\x80\xbf\x80\xbf"},
                    {false, all_continuations}});
  // 6.13: lonely start bytes, each followed by a space.
  std::vector<Sequence> lonely;
  const std::pair<int, int> ranges[] = {
      {0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}};
  for (auto [from, to] : ranges) {
    std::string s;
    for (int b = from; b < to; ++b) s += std::string{static_cast<char>(b), ' '};
    lonely.push_back({false, s});
  }
  groups.push_back(lonely);
  // 6.14: the last continuation byte missing; 6.15: all of those in a row.
  const char* truncated[] = {
      "\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
      "\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"};
  std::vector<Sequence> missing;
  std::string concatenated;
  for (const char* s : truncated) {
    missing.push_back({false, s});
    concatenated += s;
  }
  groups.push_back(missing);
  groups.push_back({{false, concatenated}});
  // 6.16: impossible bytes.
  groups.push_back({{false, "\xfe"}, {false, "\xff"}, {false, "\xfe\xfe\xff\xff"}});
  // 6.17-6.19: overlong forms.
  groups.push_back({{false, "\xc0\xaf"},
                    {false, "\xe0\x80\xaf"},
                    {false, "\xf0\x80\x80\xaf"},
                    {false, "\xf8\x80\x80\x80\xaf"},
                    {false, "\xfc\x80\x80\x80\x80\xaf"}});
  groups.push_back({{false, "\xc1\xbf"},
                    {false, "\xe0\x9f\xbf"},
                    {false, "\xf0\x8f\xbf\xbf"},
                    {false, "\xf8\x87\xbf\xbf\xbf"},
                    {false, "\xfc\x83\xbf\xbf\xbf\xbf"}});
  groups.push_back({{false, "\xc0\x80"},
                    {false, "\xe0\x80\x80"},
                    {false, "\xf0\x80\x80\x80"},
                    {false, "\xf8\x80\x80\x80\x80"},
                    {false, "\xfc\x80\x80\x80\x80\x80"}});
  // 6.20-6.21: UTF-16 surrogates, single and paired.
  const char* high[] = {"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf"};
  const char* low[] = {"\xed\xb0\x80", "\xed\xbf\xbf"};
  groups.push_back({{false, "\xed\xa0\x80"},
                    {false, "\xed\xad\xbf"},
                    {false, "\xed\xae\x80"},
                    {false, "\xed\xaf\xbf"},
                    {false, "\xed\xb0\x80"},
                    {false, "\xed\xbe\x80"},
                    {false, "\xed\xbf\xbf"}});
  std::vector<Sequence> pairs;
  for (const char* h : high)
    for (const char* l : low) pairs.push_back({false, std::string(h) + l});
  groups.push_back(pairs);
  // 6.22: noncharacters, which are valid UTF-8.
  std::vector<Sequence> nonchars = {{true, "\xef\xbf\xbe"}, {true, "\xef\xbf\xbf"}};
  for (char lead : {'\xf0', '\xf1', '\xf2', '\xf3', '\xf4'}) {
    for (char second : {'\x8f', '\x9f', '\xaf', '\xbf'}) {
      if (lead == '\xf4' && second != '\x8f') continue;  // past U+10FFFF
      if (lead == '\xf0' && second == '\x8f') continue;  // overlong
      for (char last : {'\xbe', '\xbf'}) nonchars.push_back({true, {lead, second, '\xbf', last}});
    }
  }
  groups.push_back(nonchars);
  // 6.23: the specials block.
  groups.push_back({{true, "\xef\xbf\xb9"},
                    {true, "\xef\xbf\xba"},
                    {true, "\xef\xbf\xbb"},
                    {true, "\xef\xbf\xbc"},
                    {true, "\xef\xbf\xbd"},
                    {true, "\xef\xbf\xbe"},
                    {true, "\xef\xbf\xbf"}});
  return groups;
}

std::vector<Case> section6() {
  const std::string hello =
      "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!";
  const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
  const auto one_byte_fragments = [](const std::string& s) {
    std::string wire;
    for (std::size_t i = 0; i < s.size(); ++i)
      wire += frame(i == 0 ? opcode::text : cont, s.substr(i, 1), i + 1 == s.size());
    return wire;
  };
  const std::string invalid = kosme + "\xed\xa0\x80" + "edited";  // a surrogate at byte 12
  std::vector<Case> cases = {
      echo_case("6.1.1", frame(opcode::text, ""), {text("")}),
      echo_case("6.1.2", frame(opcode::text, "", false) + frame(cont, "", false) + frame(cont, ""),
                {text("")}),
      echo_case("6.1.3",
                frame(opcode::text, "", false) + frame(cont, "middle frame payload", false) +
                    frame(cont, ""),
                {text("middle frame payload")}),
      echo_case("6.2.1", frame(opcode::text, hello), {text(hello)}),
      // Split on a character boundary, then inside characters.
      echo_case("6.2.2",
                frame(opcode::text, hello.substr(0, 15), false) + frame(cont, hello.substr(15)),
                {text(hello)}),
      echo_case("6.2.3", one_byte_fragments(hello), {text(hello)}),
      echo_case("6.2.4", one_byte_fragments(kosme), {text(kosme)}),
      fail_case("6.3.1", frame(opcode::text, invalid), {}, 1007),
      fail_case("6.3.2", one_byte_fragments(invalid), {}, 1007),
  };
  // 6.4: fail fast. The client stops before the message is complete: the
  // server must fail the connection on the bytes that make it invalid.
  const std::string part1 = kosme, part2 = "\xf4\x90\x80\x80";  // U+110000
  Case c641{"6.4.1",
            {send(frame(opcode::text, part1, false)), send(frame(cont, part2, false))},
            Ending::server_fails,
            {1007}};
  Case c642{"6.4.2",
            {send(frame(opcode::text, part1 + "\xf4", false)), send(frame(cont, "\x90", false))},
            Ending::server_fails,
            {1007}};
  // 6.4.3 and 6.4.4: the same bytes as chops of one frame's payload.
  const std::string whole = part1 + part2 + "edited";
  const std::string one_frame = frame(opcode::text, whole);
  const std::size_t header = one_frame.size() - whole.size();
  Case c643{"6.4.3",
            {send(one_frame.substr(0, header + part1.size())),
             send(one_frame.substr(header + part1.size(), part2.size()))},
            Ending::server_fails,
            {1007}};
  Case c644{"6.4.4",
            {send(one_frame.substr(0, header + 12)), send(one_frame.substr(header + 12, 1))},
            Ending::server_fails,
            {1007}};
  cases.insert(cases.end(), {c641, c642, c643, c644});

  int group = 5;
  for (const auto& sequences : kuhn_groups()) {
    int n = 1;
    for (const Sequence& s : sequences) {
      const std::string id = "6." + std::to_string(group) + "." + std::to_string(n++);
      cases.push_back(s.valid ? echo_case(id, frame(opcode::text, s.bytes), {text(s.bytes)})
                              : fail_case(id, frame(opcode::text, s.bytes), {}, 1007));
    }
    ++group;
  }
  return cases;
}

}  // namespace

TEST_GROUP(ConformanceUtf8) {
  Watchdog watchdog{60s};
};

TEST(ConformanceUtf8, Section6ValidTextEchoedInvalidTextFailsFastWith1007) {
  TestServer server(quick_options());
  const auto cases = section6();
  CHECK_EQUAL(145u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}
