#pragma once
// The Store contract (persist/store.hpp) as checks that every implementation
// must pass. A test file defines a TEST_GROUP whose store() returns a
// SyncStore over a fresh, empty store, then expands STORE_CONTRACT_TESTS.

#include "test/support/test_loop.hpp"

namespace troupe::test::contract {

void get_of_absent_key_is_empty(SyncStore& s);
void put_returns_increasing_revisions(SyncStore& s);
void del_reports_existence_and_resets_revision(SyncStore& s);
void binary_keys_and_values_round_trip(SyncStore& s);
void empty_key_is_rejected(SyncStore& s);
void list_pages_in_byte_order_within_prefix(SyncStore& s);
void list_with_empty_prefix_lists_everything(SyncStore& s);
void list_rejects_zero_limit(SyncStore& s);
void compare_and_put_accepts_only_the_next_revision(SyncStore& s);
void compare_and_put_follows_plain_puts(SyncStore& s);
void concurrent_compare_and_puts_have_one_winner(SyncStore& s);
void batch_applies_nothing_when_one_condition_fails(SyncStore& s);
void batch_applies_puts_and_dels_together(SyncStore& s);
void compare_and_put_many_decides_each_key_alone(SyncStore& s);
void fence_accepts_an_equal_or_higher_token_and_raises_the_key(SyncStore& s);
void fence_refuses_a_lower_token_and_applies_nothing(SyncStore& s);
void fence_refusal_wins_over_a_conflict(SyncStore& s);
void fence_only_batch_raises_the_fence(SyncStore& s);
void fence_tokens_compare_exactly_past_2_to_the_53(SyncStore& s);
void fence_key_that_is_not_a_token_is_corrupt(SyncStore& s);
void fence_key_in_another_op_of_the_batch_is_rejected(SyncStore& s);
void compare_and_put_many_rejects_duplicate_keys(SyncStore& s);
void callbacks_never_run_inside_the_call(SyncStore& s);
void same_key_operations_apply_in_issue_order(SyncStore& s);

}  // namespace troupe::test::contract

#define STORE_CONTRACT_TEST(group, name, fn) \
  TEST(group, name) {                        \
    troupe::test::contract::fn(store());     \
  }

#define STORE_CONTRACT_TESTS(group)                                                               \
  STORE_CONTRACT_TEST(group, GetOfAbsentKeyIsEmpty, get_of_absent_key_is_empty)                   \
  STORE_CONTRACT_TEST(group, PutReturnsIncreasingRevisions, put_returns_increasing_revisions)     \
  STORE_CONTRACT_TEST(group, DelReportsExistenceAndResetsRevision,                                \
                      del_reports_existence_and_resets_revision)                                  \
  STORE_CONTRACT_TEST(group, BinaryKeysAndValuesRoundTrip, binary_keys_and_values_round_trip)     \
  STORE_CONTRACT_TEST(group, EmptyKeyIsRejected, empty_key_is_rejected)                           \
  STORE_CONTRACT_TEST(group, ListPagesInByteOrderWithinPrefix,                                    \
                      list_pages_in_byte_order_within_prefix)                                     \
  STORE_CONTRACT_TEST(group, ListWithEmptyPrefixListsEverything,                                  \
                      list_with_empty_prefix_lists_everything)                                    \
  STORE_CONTRACT_TEST(group, ListRejectsZeroLimit, list_rejects_zero_limit)                       \
  STORE_CONTRACT_TEST(group, CompareAndPutAcceptsOnlyTheNextRevision,                             \
                      compare_and_put_accepts_only_the_next_revision)                             \
  STORE_CONTRACT_TEST(group, CompareAndPutFollowsPlainPuts, compare_and_put_follows_plain_puts)   \
  STORE_CONTRACT_TEST(group, ConcurrentCompareAndPutsHaveOneWinner,                               \
                      concurrent_compare_and_puts_have_one_winner)                                \
  STORE_CONTRACT_TEST(group, BatchAppliesNothingWhenOneConditionFails,                            \
                      batch_applies_nothing_when_one_condition_fails)                             \
  STORE_CONTRACT_TEST(group, BatchAppliesPutsAndDelsTogether,                                     \
                      batch_applies_puts_and_dels_together)                                       \
  STORE_CONTRACT_TEST(group, CompareAndPutManyDecidesEachKeyAlone,                                \
                      compare_and_put_many_decides_each_key_alone)                                \
  STORE_CONTRACT_TEST(group, FenceAcceptsAnEqualOrHigherTokenAndRaisesTheKey,                     \
                      fence_accepts_an_equal_or_higher_token_and_raises_the_key)                  \
  STORE_CONTRACT_TEST(group, FenceRefusesALowerTokenAndAppliesNothing,                            \
                      fence_refuses_a_lower_token_and_applies_nothing)                            \
  STORE_CONTRACT_TEST(group, FenceRefusalWinsOverAConflict, fence_refusal_wins_over_a_conflict)   \
  STORE_CONTRACT_TEST(group, FenceOnlyBatchRaisesTheFence, fence_only_batch_raises_the_fence)     \
  STORE_CONTRACT_TEST(group, FenceTokensCompareExactlyPast2To53,                                  \
                      fence_tokens_compare_exactly_past_2_to_the_53)                              \
  STORE_CONTRACT_TEST(group, FenceKeyThatIsNotATokenIsCorrupt,                                    \
                      fence_key_that_is_not_a_token_is_corrupt)                                   \
  STORE_CONTRACT_TEST(group, FenceKeyInAnotherOpOfTheBatchIsRejected,                             \
                      fence_key_in_another_op_of_the_batch_is_rejected)                           \
  STORE_CONTRACT_TEST(group, CompareAndPutManyRejectsDuplicateKeys,                               \
                      compare_and_put_many_rejects_duplicate_keys)                                \
  STORE_CONTRACT_TEST(group, CallbacksNeverRunInsideTheCall, callbacks_never_run_inside_the_call) \
  STORE_CONTRACT_TEST(group, SameKeyOperationsApplyInIssueOrder,                                  \
                      same_key_operations_apply_in_issue_order)
