"""Unit tests of the soak's invariant arithmetic (invariants.py):
python3 -m unittest discover -s tools/soak -p 'test_*.py'"""
import unittest

from invariants import (DEDUPE_CAPACITY, RETRY_LIMIT, ChatLedger, CounterLedger, RetryWindow,
                        Violations, chat_check, counter_check, growth)


class CounterCheck(unittest.TestCase):
    def test_value_between_acked_and_sent_is_fine(self):
        self.assertEqual(counter_check(value=5, acked_before=4, sent_now=7), (0, 0))
        self.assertEqual(counter_check(value=7, acked_before=7, sent_now=7), (0, 0))

    def test_value_below_acked_counts_the_missing_as_lost(self):
        self.assertEqual(counter_check(value=3, acked_before=5, sent_now=6), (2, 0))

    def test_value_above_distinct_ids_counts_duplicates(self):
        self.assertEqual(counter_check(value=9, acked_before=5, sent_now=7), (0, 2))

    def test_ledger_counts_a_retried_ack_once(self):
        ledger = CounterLedger(Violations())
        ledger.add_counter("k")
        ledger.record_sent("k", "a")
        ledger.record_sent("k", "a")  # a retry: same id
        self.assertTrue(ledger.record_ack("k", "a"))
        self.assertFalse(ledger.record_ack("k", "a"))
        self.assertEqual(ledger.acked_count("k"), 1)
        self.assertEqual(ledger.observe("k", 1, 1, "read"), (0, 0))
        self.assertEqual(ledger.observe("k", 2, 1, "read"), (0, 1))

    def test_violations_keep_the_worst_per_key_and_sum_over_keys(self):
        v = Violations()
        v.record("a", 1, 0, "x")
        v.record("a", 3, 0, "y")
        v.record("a", 2, 1, "z")
        v.record("b", 1, 0, "w")
        self.assertEqual(v.totals(), (4, 1))
        self.assertEqual(len(v.first), 4)


class Window(unittest.TestCase):
    def test_limit_keeps_retries_inside_the_dedupe_window(self):
        self.assertLess(2 * (RETRY_LIMIT - 1), DEDUPE_CAPACITY)

    def test_new_ids_stop_at_the_limit_past_the_oldest_unacked(self):
        w = RetryWindow(limit=3)
        for op in ("a", "b", "c"):
            self.assertTrue(w.may_send())
            w.sent(op)
        self.assertFalse(w.may_send())
        w.acked("b")
        self.assertFalse(w.may_send())  # "a" is still the oldest
        w.acked("a")
        self.assertTrue(w.may_send())   # oldest is now "c"
        w.sent("d")
        w.sent("e")
        self.assertFalse(w.may_send())


class ChatCheck(unittest.TestCase):
    def test_contiguous_suffix_is_fine(self):
        self.assertEqual(chat_check([3, 4, 5], {1, 2, 3, 4, 5}, history_full=True), (0, 0))

    def test_unacked_message_in_history_is_fine(self):
        self.assertEqual(chat_check([4, 5, 6], {4, 5}, history_full=False), (0, 0))

    def test_gap_is_lost(self):
        self.assertEqual(chat_check([3, 5], {3, 4, 5}, history_full=False), (1, 0))

    def test_acked_after_newest_present_is_lost(self):
        self.assertEqual(chat_check([3, 4], {3, 4, 5, 6}, history_full=False), (2, 0))

    def test_repeat_is_duplicated(self):
        self.assertEqual(chat_check([3, 4, 4, 5], {3, 4, 5}, history_full=False), (0, 1))

    def test_absent_nick_in_a_short_history_lost_everything(self):
        self.assertEqual(chat_check([], {0, 1}, history_full=False), (2, 0))

    def test_absent_nick_in_a_full_history_cannot_be_judged(self):
        self.assertEqual(chat_check([], {0, 1}, history_full=True), (0, 0))

    def test_ledger_records_by_nick(self):
        v = Violations()
        ledger = ChatLedger(v)
        ledger.add_nick("u1")
        self.assertTrue(ledger.record_ack("u1", 0))
        self.assertFalse(ledger.record_ack("u1", 0))
        ledger.check_history("u1", [], {0}, False, "history")
        self.assertEqual(v.totals(), (1, 0))
        self.assertEqual(ledger.total_acked(), 1)


class Growth(unittest.TestCase):
    def test_flat_is_zero(self):
        self.assertEqual(growth([(1, 50), (1, 50), (2, 50), (2, 50)]), 0)

    def test_growth_within_a_lifetime_is_last_minus_first(self):
        self.assertEqual(growth([(1, 50), (1, 58), (1, 53)]), 3)

    def test_growth_across_restarts_compares_first_samples(self):
        self.assertEqual(growth([(1, 50), (1, 50), (2, 60), (2, 60)]), 10)

    def test_leak_hidden_by_restarts_still_shows_within_each_lifetime(self):
        self.assertEqual(growth([(1, 50), (1, 57), (2, 50), (2, 56)]), 7)

    def test_shrinking_is_zero(self):
        self.assertEqual(growth([(1, 60), (1, 50)]), 0)

    def test_no_samples_is_zero(self):
        self.assertEqual(growth([]), 0)


if __name__ == "__main__":
    unittest.main()
