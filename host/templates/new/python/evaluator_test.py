import unittest

from logic import contains


class ContainsTest(unittest.TestCase):
    def test_ignores_case_and_takes_any_reference(self):
        self.assertEqual(contains("It is Paris.", ["paris"]), 1.0)
        self.assertEqual(contains("Lyon", ["Paris", "lyon"]), 1.0)
        self.assertEqual(contains("Lyon", ["Paris"]), 0.0)


if __name__ == "__main__":
    unittest.main()
