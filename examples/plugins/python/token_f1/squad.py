"""SQuAD v1.1 answer normalization and token F1.

`normalize_answer` and `f1_score` are the functions of the official SQuAD
v1.1 evaluation script, kept statement for statement: the Rust built-in
`token_f1` and the JavaScript plugin are checked against this module, so any
"improvement" here would move the reference they are compared with.
"""

import re
import string
from collections import Counter


def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def max_f1(prediction, ground_truths):
    # float(): the script returns the int 0 for no overlap, and the WIT
    # `f64` needs a float.
    return float(max(f1_score(prediction, gt) for gt in ground_truths))
