#include "test/persist/store_contract.hpp"

#include <string>

namespace troupe::test::contract {
namespace {

using namespace std::string_literals;

template <class T>
const T& ok(const StoreResult<T>& r) {
  if (!r.ok()) FAIL(("unexpected store error: " + to_string(r.error())).c_str());
  return r.value();
}

void ok(const StoreResult<void>& r) {
  if (!r.ok()) FAIL(("unexpected store error: " + to_string(r.error())).c_str());
}

template <class T>
StoreError fails(const StoreResult<T>& r, StoreErrc code) {
  CHECK_TEXT(!r.ok(), "the operation should have failed");
  STRCMP_EQUAL(to_string(code), to_string(r.error().code));
  return r.error();
}

void check_entry(SyncStore& s, const std::string& key, const std::string& value, Revision rev) {
  auto got = ok(s.get(key));
  CHECK_TEXT(got.has_value(), ("missing key " + key).c_str());
  CHECK(value == got->value);
  UNSIGNED_LONGLONGS_EQUAL(rev, got->revision);
}

void check_absent(SyncStore& s, const std::string& key) {
  CHECK_TEXT(!ok(s.get(key)).has_value(), ("key should be absent: " + key).c_str());
}

void check_contains(const std::string& text, const std::string& part) {
  CHECK_TEXT(text.find(part) != std::string::npos, ("'" + part + "' not in: " + text).c_str());
}

}  // namespace

void get_of_absent_key_is_empty(SyncStore& s) {
  check_absent(s, "nobody");
}

void put_returns_increasing_revisions(SyncStore& s) {
  UNSIGNED_LONGLONGS_EQUAL(1, ok(s.put("k", "one")));
  UNSIGNED_LONGLONGS_EQUAL(2, ok(s.put("k", "two")));
  check_entry(s, "k", "two", 2);
}

void del_reports_existence_and_resets_revision(SyncStore& s) {
  ok(s.put("k", "v"));
  ok(s.put("k", "v"));
  CHECK_TRUE(ok(s.del("k")));
  CHECK_FALSE(ok(s.del("k")));
  check_absent(s, "k");
  UNSIGNED_LONGLONGS_EQUAL(1, ok(s.put("k", "again")));
}

void binary_keys_and_values_round_trip(SyncStore& s) {
  const std::string keys[] = {"a/b/c", "..",       ".hidden", "%41", "with space",
                              "x\0y"s, "\xff\xfe", "A",       "a",   "-_=@,+:~"};
  const std::string value = "bytes\0\xff\n"s + std::string(3000, 'z');
  for (const auto& k : keys) ok(s.put(k, value + k));
  for (const auto& k : keys) check_entry(s, k, value + k, 1);
  auto all = s.list_all("", 3);
  UNSIGNED_LONGS_EQUAL(std::size(keys), all.size());
  for (const auto& item : all) CHECK(item.value == value + item.key);
}

void empty_key_is_rejected(SyncStore& s) {
  fails(s.put("", "v"), StoreErrc::invalid_argument);
  fails(s.get(""), StoreErrc::invalid_argument);
  fails(s.compare_and_put("", "v", 1), StoreErrc::invalid_argument);
}

void list_pages_in_byte_order_within_prefix(SyncStore& s) {
  for (auto k : {"a/3", "a/1", "b/1", "a", "a/2", "a/5", "a/4", "a0"}) ok(s.put(k, "v:"s + k));
  auto first = ok(s.list("a/", {.cursor = {}, .limit = 2}));
  UNSIGNED_LONGS_EQUAL(2, first.items.size());
  STRCMP_EQUAL("a/1", first.items[0].key.c_str());
  STRCMP_EQUAL("v:a/1", first.items[0].value.c_str());
  UNSIGNED_LONGLONGS_EQUAL(1, first.items[0].revision);
  STRCMP_EQUAL("a/2", first.items[1].key.c_str());
  CHECK_FALSE(first.next_cursor.empty());
  auto all = s.list_all("a/", 2);
  UNSIGNED_LONGS_EQUAL(5, all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    STRCMP_EQUAL(("a/" + std::to_string(i + 1)).c_str(), all[i].key.c_str());
  }
  // A page that ends exactly at the last key says it is the last.
  auto exact = ok(s.list("b/", {.cursor = {}, .limit = 1}));
  UNSIGNED_LONGS_EQUAL(1, exact.items.size());
  CHECK_TRUE(exact.next_cursor.empty());
  CHECK_TRUE(ok(s.list("c", {})).items.empty());
}

void list_with_empty_prefix_lists_everything(SyncStore& s) {
  for (int i = 0; i < 25; ++i) ok(s.put("key-" + std::to_string(100 + i), "v"));
  auto all = s.list_all("", 7);
  UNSIGNED_LONGS_EQUAL(25, all.size());
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].key < all[i].key);
}

void list_rejects_zero_limit(SyncStore& s) {
  fails(s.list("", {.cursor = {}, .limit = 0}), StoreErrc::invalid_argument);
}

void compare_and_put_accepts_only_the_next_revision(SyncStore& s) {
  auto e = fails(s.compare_and_put("actor/7", "x", 2), StoreErrc::conflict);
  check_contains(e.message, "actor/7");
  check_contains(e.message, "revision 2");
  check_contains(e.message, "found 0");
  check_absent(s, "actor/7");
  ok(s.compare_and_put("actor/7", "first", 1));
  fails(s.compare_and_put("actor/7", "stale", 1), StoreErrc::conflict);
  fails(s.compare_and_put("actor/7", "ahead", 3), StoreErrc::conflict);
  ok(s.compare_and_put("actor/7", "second", 2));
  check_entry(s, "actor/7", "second", 2);
  fails(s.compare_and_put("actor/7", "zero", 0), StoreErrc::invalid_argument);
}

void compare_and_put_follows_plain_puts(SyncStore& s) {
  ok(s.put("k", "plain"));
  fails(s.compare_and_put("k", "x", 1), StoreErrc::conflict);
  ok(s.compare_and_put("k", "fenced", 2));
  UNSIGNED_LONGLONGS_EQUAL(3, ok(s.put("k", "plain again")));
}

void concurrent_compare_and_puts_have_one_winner(SyncStore& s) {
  // Two incarnations of one actor that both read revision 0.
  std::optional<StoreResult<void>> a, b;
  s.store().compare_and_put("snap", "from a", 1, [&](StoreResult<void> r) { a.emplace(r); });
  s.store().compare_and_put("snap", "from b", 1, [&](StoreResult<void> r) { b.emplace(r); });
  CHECK_TRUE(s.loop().run_until([&] { return a && b; }));
  CHECK_TRUE(a->ok() != b->ok());
  check_entry(s, "snap", a->ok() ? "from a" : "from b", 1);
}

void batch_applies_nothing_when_one_condition_fails(SyncStore& s) {
  ok(s.put("c", "old"));
  auto r = s.batch({WriteOp::put("a", "1"), WriteOp::put("b", "2"), WriteOp::del("c"),
                    WriteOp::put_at("d", "4", 2)});
  auto e = fails(r, StoreErrc::conflict);
  check_contains(e.message, "'d'");
  check_absent(s, "a");
  check_absent(s, "b");
  check_entry(s, "c", "old", 1);
}

void batch_applies_puts_and_dels_together(SyncStore& s) {
  ok(s.put("gone", "x"));
  ok(s.put("kept", "x"));
  ok(s.batch({WriteOp::put("a", "1"), WriteOp::put_at("kept", "y", 2), WriteOp::del("gone"),
              WriteOp::put("a", "1 again")}));
  check_entry(s, "a", "1 again", 2);
  check_entry(s, "kept", "y", 2);
  check_absent(s, "gone");
  ok(s.batch({}));
}

void compare_and_put_many_decides_each_key_alone(SyncStore& s) {
  ok(s.compare_and_put("actor/1", "v1", 1));
  ok(s.compare_and_put("actor/2", "v1", 1));
  ok(s.compare_and_put("actor/2", "v2", 2));
  auto outcomes = ok(s.compare_and_put_many({{"actor/1", "new", 2},       // next: wins
                                             {"actor/2", "stale", 2},     // zombie: loses
                                             {"actor/3", "fresh", 1},     // absent: wins
                                             {"actor/4", "ahead", 5}}));  // ahead: loses
  UNSIGNED_LONGS_EQUAL(4, outcomes.size());
  CHECK_TRUE(outcomes[0].committed);
  UNSIGNED_LONGLONGS_EQUAL(2, outcomes[0].revision);
  CHECK_FALSE(outcomes[1].committed);
  UNSIGNED_LONGLONGS_EQUAL(2, outcomes[1].revision);
  CHECK_TRUE(outcomes[2].committed);
  CHECK_FALSE(outcomes[3].committed);
  UNSIGNED_LONGLONGS_EQUAL(0, outcomes[3].revision);
  check_entry(s, "actor/1", "new", 2);
  check_entry(s, "actor/2", "v2", 2);
  check_entry(s, "actor/3", "fresh", 1);
  check_absent(s, "actor/4");
  UNSIGNED_LONGS_EQUAL(0, ok(s.compare_and_put_many({})).size());
}

void fence_accepts_an_equal_or_higher_token_and_raises_the_key(SyncStore& s) {
  // Absent is 0: any token passes, and the key now holds it.
  ok(s.batch({WriteOp::fence("fence/a", 5), WriteOp::put("state", "1")}));
  check_entry(s, "fence/a", "5", 1);
  check_entry(s, "state", "1", 1);
  // Equal: the batch applies and the fence is not rewritten (its revision stays).
  ok(s.batch({WriteOp::put("state", "2"), WriteOp::fence("fence/a", 5)}));
  check_entry(s, "fence/a", "5", 1);
  check_entry(s, "state", "2", 2);
  // Higher: the batch applies and raises the fence.
  ok(s.batch({WriteOp::fence(StoreFence{"fence/a", 7}), WriteOp::put_at("state", "3", 3)}));
  check_entry(s, "fence/a", "7", 2);
  check_entry(s, "state", "3", 3);
  // A token written by hand with leading zeros reads as its value.
  ok(s.put("fence/b", "007"));
  ok(s.batch({WriteOp::fence("fence/b", 7), WriteOp::put("other", "x")}));
  check_entry(s, "fence/b", "007", 1);
  check_entry(s, "other", "x", 1);
}

void fence_refuses_a_lower_token_and_applies_nothing(SyncStore& s) {
  ok(s.put("state", "old"));
  ok(s.put("gone", "still here"));
  ok(s.batch({WriteOp::fence("fence/chat/lobby", 18)}));
  auto e = fails(s.batch({WriteOp::put_at("state", "zombie", 2), WriteOp::del("gone"),
                          WriteOp::put("fresh", "x"), WriteOp::fence("fence/chat/lobby", 17)}),
                 StoreErrc::fenced);
  check_contains(e.message, "'fence/chat/lobby' is at 18, this writer holds 17");
  check_contains(to_string(e), "fenced: ");
  check_entry(s, "state", "old", 1);
  check_entry(s, "gone", "still here", 1);
  check_absent(s, "fresh");
  check_entry(s, "fence/chat/lobby", "18", 1);
}

void fence_refusal_wins_over_a_conflict(SyncStore& s) {
  // A stale writer whose conditional put also conflicts hears that it is
  // fenced: retrying or re-reading cannot help it.
  ok(s.batch({WriteOp::fence("fence/x", 2)}));
  ok(s.put("state", "new owner"));
  auto e = fails(s.batch({WriteOp::put_at("state", "zombie", 1), WriteOp::fence("fence/x", 1)}),
                 StoreErrc::fenced);
  check_contains(e.message, "'fence/x' is at 2, this writer holds 1");
  check_entry(s, "state", "new owner", 1);
}

void fence_only_batch_raises_the_fence(SyncStore& s) {
  ok(s.batch({WriteOp::fence("fence/n", 3)}));
  check_entry(s, "fence/n", "3", 1);
  ok(s.batch({WriteOp::fence("fence/n", 3)}));  // already there: nothing written
  check_entry(s, "fence/n", "3", 1);
  ok(s.batch({WriteOp::fence("fence/n", 4)}));
  check_entry(s, "fence/n", "4", 2);
  auto e = fails(s.batch({WriteOp::fence("fence/n", 2)}), StoreErrc::fenced);
  check_contains(e.message, "is at 4, this writer holds 2");
  check_entry(s, "fence/n", "4", 2);
}

void fence_tokens_compare_exactly_past_2_to_the_53(SyncStore& s) {
  // 2^53 + 1 and 2^53 are one double; tokens must still compare exactly.
  ok(s.batch({WriteOp::fence("fence/big", 9007199254740993u)}));
  fails(s.batch({WriteOp::fence("fence/big", 9007199254740992u)}), StoreErrc::fenced);
  const std::uint64_t max = ~std::uint64_t{0};
  ok(s.batch({WriteOp::fence("fence/big", max)}));
  check_entry(s, "fence/big", "18446744073709551615", 2);
  auto e = fails(s.batch({WriteOp::fence("fence/big", max - 1)}), StoreErrc::fenced);
  check_contains(e.message, "is at 18446744073709551615, this writer holds 18446744073709551614");
}

void fence_key_that_is_not_a_token_is_corrupt(SyncStore& s) {
  for (const std::string bad : {"abc", "", "-1", "+1", " 1", "1 ", "18446744073709551616",
                                "99999999999999999999999", "1.5", "0x10"}) {
    ok(s.put("fence/bad", bad));
    auto e = fails(s.batch({WriteOp::put("state", "x"), WriteOp::fence("fence/bad", 1)}),
                   StoreErrc::corrupt);
    check_contains(e.message, "fence key 'fence/bad'");
    check_absent(s, "state");
  }
}

void fence_key_in_another_op_of_the_batch_is_rejected(SyncStore& s) {
  auto e = fails(s.batch({WriteOp::fence("fence/k", 1), WriteOp::put("fence/k", "9")}),
                 StoreErrc::invalid_argument);
  check_contains(e.message, "'fence/k'");
  fails(s.batch({WriteOp::fence("fence/k", 1), WriteOp::fence("fence/k", 2)}),
        StoreErrc::invalid_argument);
  fails(s.batch({WriteOp::del("fence/k"), WriteOp::fence("fence/k", 1)}),
        StoreErrc::invalid_argument);
  check_absent(s, "fence/k");
  fails(s.batch({WriteOp::fence("", 1)}), StoreErrc::invalid_argument);
}

void compare_and_put_many_rejects_duplicate_keys(SyncStore& s) {
  auto e =
      fails(s.compare_and_put_many({{"k", "a", 1}, {"k", "b", 2}}), StoreErrc::invalid_argument);
  check_contains(e.message, "'k'");
  check_absent(s, "k");
}

void callbacks_never_run_inside_the_call(SyncStore& s) {
  bool ran = false;
  s.store().put("k", "v", [&](StoreResult<Revision>) { ran = true; });
  CHECK_FALSE(ran);
  bool rejected = false;
  s.store().get("", [&](StoreResult<std::optional<Entry>>) { rejected = true; });
  CHECK_FALSE(rejected);
  CHECK_TRUE(s.loop().run_until([&] { return ran && rejected; }));
}

void same_key_operations_apply_in_issue_order(SyncStore& s) {
  constexpr int n = 50;
  std::vector<Revision> revisions;
  std::optional<StoreResult<std::optional<Entry>>> last;
  for (int i = 0; i < n; ++i) {
    s.store().put("k", "v" + std::to_string(i),
                  [&](StoreResult<Revision> r) { revisions.push_back(ok(r)); });
  }
  s.store().get("k", [&](StoreResult<std::optional<Entry>> r) { last.emplace(std::move(r)); });
  CHECK_TRUE(s.loop().run_until([&] { return last.has_value(); }));
  UNSIGNED_LONGS_EQUAL(n, revisions.size());
  auto entry = ok(*last);
  CHECK_TRUE(entry.has_value());
  STRCMP_EQUAL(("v" + std::to_string(n - 1)).c_str(), entry->value.c_str());
  UNSIGNED_LONGLONGS_EQUAL(n, entry->revision);
}

}  // namespace troupe::test::contract
