"""Native tests of the Python plugins' logic (no component involved):

    python3 -m unittest discover -s examples/plugins/python
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "token_f1"))
sys.path.insert(0, os.path.join(HERE, "banned_phrases"))

import phrases  # noqa: E402
import squad  # noqa: E402


class SquadTest(unittest.TestCase):
    def test_normalization_matches_the_rust_sdk_cases(self):
        # The cases of plugins/sdk/src/text.rs, so all languages share them.
        self.assertEqual(squad.normalize_answer("The  Eiffel Tower!"), "eiffel tower")
        self.assertEqual(squad.normalize_answer("an apple, a pear"), "apple pear")
        self.assertEqual(squad.normalize_answer("Theatre"), "theatre")
        self.assertEqual(squad.normalize_answer("the’s"), "’s")
        self.assertEqual(squad.normalize_answer("Ça   va"), "ça va")
        self.assertEqual(squad.normalize_answer(""), "")

    def test_f1_counts_tokens_as_a_multiset_and_takes_the_best_reference(self):
        self.assertEqual(squad.max_f1("the cat sat", ["a cat sat down"]), 0.8)
        self.assertEqual(squad.max_f1("cat cat", ["cat"]), 2 * 0.5 * 1.0 / 1.5)
        self.assertEqual(squad.max_f1("Paris", ["London", "paris!"]), 1.0)
        self.assertIsInstance(squad.max_f1("x", ["y"]), float)

    def test_empty_after_normalization_scores_zero_as_in_squad_v1_1(self):
        self.assertEqual(squad.max_f1("the", ["a"]), 0.0)


class BannedPhrasesTest(unittest.TestCase):
    def test_configuration(self):
        m = phrases.Matcher.from_json('{"phrases": ["Ignore previous"]}')
        self.assertEqual(m.verdict, "quarantine")
        self.assertEqual(m.settings(), [("phrases", '["Ignore previous"]'), ("verdict", "quarantine")])
        for bad in ["{}", '{"phrases": []}', '{"phrases": [""]}', '{"phrases": ["x"], "verdict": "accept"}',
                    "[]", "{"]:
            with self.assertRaises(phrases.ConfigError, msg=bad):
                phrases.Matcher.from_json(bad)
        with self.assertRaisesRegex(phrases.ConfigError, "unknown key `Phrases`"):
            phrases.Matcher.from_json('{"Phrases": ["x"]}')

    def test_matching_folds_case_and_reports_the_first_phrase_and_field(self):
        m = phrases.Matcher.from_json('{"phrases": ["STRASSE", "ignore"], "verdict": "reject"}')
        self.assertEqual(m.find(None, "Ignore this"), ("ignore", "comment"))
        self.assertEqual(m.find("die Straße", "ignore"), ("STRASSE", "correction"))
        self.assertIsNone(m.find(None, None))
        self.assertEqual(phrases.reason("ignore", "comment"), 'the comment contains the banned phrase "ignore"')


if __name__ == "__main__":
    unittest.main()
