"""Conformance vectors for the `classification` plugin, computed by scikit-learn.

Writes `classification.jsonl` next to this file. Run from anywhere:

    pip install -r tests/conformance/requirements.txt
    python tests/conformance/generate_sklearn.py

The gold label of a sample is its `label`, the prediction its `output` (both
stripped of surrounding whitespace unless the case sets `"trim": false`).
Expected values come from `accuracy_score`, `confusion_matrix` and
`precision_recall_fscore_support(..., zero_division=0)` with `labels` = the
sorted union of gold and predicted labels, so a class that is only ever
predicted is scored too (with support 0).
"""

import json
import random
from pathlib import Path

from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-9


def encode(label):
    """A class name as it appears inside `[...]` in the plugin's metric names.

    Mirrors `encode` in plugins/classification/src/lib.rs: `\\`, `]` and `=`
    get a backslash in front, and the empty name is written `\\0`, so that
    `confusion[gold=>pred]` splits in exactly one way and no name is empty.
    """
    if label == "":
        return "\\0"
    return "".join("\\" + c if c in "\\]=" else c for c in label)


def expected_corpus(gold, pred):
    labels = sorted(set(gold) | set(pred))
    scores = {"accuracy": accuracy_score(gold, pred)}
    for average in ("micro", "macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=labels, average=average, zero_division=0)
        scores[f"precision_{average}"] = p
        scores[f"recall_{average}"] = r
        scores[f"f1_{average}"] = f
    p, r, f, support = precision_recall_fscore_support(gold, pred, labels=labels, average=None, zero_division=0)
    for i, label in enumerate(labels):
        name = encode(label)
        scores[f"precision[{name}]"] = p[i]
        scores[f"recall[{name}]"] = r[i]
        scores[f"f1[{name}]"] = f[i]
        scores[f"support[{name}]"] = support[i]
    matrix = confusion_matrix(gold, pred, labels=labels)
    for i, g in enumerate(labels):
        for j, p_ in enumerate(labels):
            if matrix[i, j]:
                scores[f"confusion[{encode(g)}=>{encode(p_)}]"] = matrix[i, j]
    return {name: float(value) for name, value in scores.items()}


def case(name, inputs, gold, outputs, trim=True):
    strip = (lambda s: s.strip()) if trim else (lambda s: s)
    g = [strip(x) for x in gold]
    p = [strip(x) for x in outputs]
    return {
        "name": name,
        "config": {} if trim else {"trim": False},
        "samples": [
            {"id": str(i + 1), "input": x, "output": o, "references": [], "label": l}
            for i, (x, l, o) in enumerate(zip(inputs, gold, outputs))
        ],
        "sample_scores": [{"correct": float(a == b)} for a, b in zip(g, p)],
        "corpus_scores": expected_corpus(g, p),
        "tolerance": TOLERANCE,
    }


def simulate(rng, classes, n, confusions, priors=None):
    """Gold labels drawn by `priors`, each predicted as itself or, with the
    probability `confusions[gold][other]`, as a typical wrong class."""
    gold = rng.choices(classes, weights=priors, k=n)
    pred = []
    for g in gold:
        roll, pick = rng.random(), g
        for other, prob in confusions.get(g, {}).items():
            if roll < prob:
                pick = other
                break
            roll -= prob
        pred.append(pick)
    return gold, pred


REVIEW_OPENERS = ["The battery", "Shipping", "The screen", "Customer service", "The fabric", "Setup", "The price"]
REVIEW_VERDICTS = ["was great", "was fine, I guess", "broke after a week", "is exactly as described",
                   "could be better", "made me return it", "exceeded my expectations"]


def sentiment(rng):
    classes = ["negative", "neutral", "positive"]
    gold, pred = simulate(rng, classes, 120, {
        "negative": {"neutral": 0.15, "positive": 0.03},
        "neutral": {"negative": 0.2, "positive": 0.25},
        "positive": {"neutral": 0.1, "negative": 0.02},
    }, priors=[0.3, 0.2, 0.5])
    inputs = [f"{rng.choice(REVIEW_OPENERS)} {rng.choice(REVIEW_VERDICTS)}." for _ in gold]
    return inputs, gold, pred


INTENT_UTTERANCES = {
    "book_flight": "I need a flight to Lisbon next Friday",
    "cancel_order": "please cancel my order from yesterday",
    "check_balance": "how much money is left on my account",
    "greeting": "hi there",
    "reset_password": "I forgot my password again",
    "track_package": "where is my parcel",
    "weather": "will it rain in Oslo tomorrow",
}


def intents(rng):
    classes = sorted(INTENT_UTTERANCES)
    # The model never says `cancel_order` (it mistakes it for `track_package`
    # or refuses) and sometimes answers `out_of_scope`, a class no gold label has.
    gold, pred = simulate(rng, classes, 200, {
        "book_flight": {"weather": 0.05, "out_of_scope": 0.03},
        "cancel_order": {"track_package": 0.7, "out_of_scope": 0.3},
        "check_balance": {"reset_password": 0.08},
        "greeting": {"out_of_scope": 0.2},
        "reset_password": {"check_balance": 0.1},
        "track_package": {"out_of_scope": 0.05},
        "weather": {"book_flight": 0.04},
    })
    assert "cancel_order" in gold and "cancel_order" not in pred and "out_of_scope" in pred
    inputs = [INTENT_UTTERANCES[g] for g in gold]
    return inputs, gold, pred


def languages(rng):
    classes = ["Deutsch", "English", "Español", "Français", "Ελληνικά", "Русский", "中文", "日本語"]
    gold, pred = simulate(rng, classes, 80, {
        "中文": {"日本語": 0.25},
        "日本語": {"中文": 0.1},
        "Español": {"Français": 0.1, "English": 0.05},
        "Русский": {"Ελληνικά": 0.05},
    })
    inputs = [f"document {i}" for i in range(len(gold))]
    return inputs, gold, pred


def toxicity(rng):
    gold, pred = simulate(rng, ["ok", "toxic"], 150, {"toxic": {"ok": 0.35}, "ok": {"toxic": 0.04}},
                          priors=[0.88, 0.12])
    emoji = {"ok": "👍", "toxic": "👎"}
    inputs = [f"comment {i}" for i in range(len(gold))]
    return inputs, [emoji[g] for g in gold], [emoji[p] for p in pred]


def escaping():
    """Class names that would collide without escaping: `a=>b` predicted as
    `c` and `a` predicted as `b=>c` both print `confusion[a=>b=>c]` unescaped."""
    pairs = [
        ("a=>b", "c"), ("a", "b=>c"), ("a=>b", "a=>b"), ("a", "a"), ("c", "c"),
        ("x]", "x"), ("x", "x]"), ("x]", "x]"), ("[tag]", "[tag]"), ("[tag]", "tag"),
        ("back\\slash", "back\\slash"), ("back\\slash", "back"), ("=", "=>"), ("=>", "="),
        ("\\0", "0"), ("0", "\\0"), ("0", ""), ("", "0"), ("a=", ">b"), ("a", "=>b"),
        ("score=5", "score=5"), ("score=5", "score=4"), ("*", "*"), ("x]", "a=>b"),
    ]
    gold = [g for g, _ in pairs]
    pred = [p for _, p in pairs]
    return [f"trap {i}" for i in range(len(pairs))], gold, pred


def padded(rng):
    """Generative models wrap their label in whitespace and newlines."""
    classes = ["billing", "bug", "feature_request", "question"]
    gold, pred = simulate(rng, classes, 40, {"bug": {"question": 0.2}, "question": {"bug": 0.1, "billing": 0.1}})
    wrap = ["{}", " {}", "{}\n", "\n{} ", "\t{}\t", "  {}\n\n"]
    outputs = [rng.choice(wrap).format(p) for p in pred]
    gold = [rng.choice(["{}", "{} "]).format(g) for g in gold]
    return [f"ticket {i}" for i in range(len(gold))], gold, outputs


def main():
    rng = random.Random(20240611)
    cases = [
        case("sentiment, 3 classes, 120 reviews", *sentiment(rng)),
        case("intents, a class never predicted and one only predicted", *intents(rng)),
        case("language id, unicode class names", *languages(rng)),
        case("toxicity, emoji labels, imbalanced", *toxicity(rng)),
        case("class names that need escaping", *escaping()),
    ]
    tickets = padded(rng)
    cases.append(case("ticket routing, padded outputs, trimmed by default", *tickets))
    cases.append(case("ticket routing, padded outputs, trim off", *tickets, trim=False))
    perfect = sentiment(rng)
    cases.append(case("perfect predictions", perfect[0][:25], perfect[1][:25], perfect[1][:25]))
    everything_wrong = ["yes", "no"] * 10
    cases.append(case("binary, every prediction wrong", [f"q{i}" for i in range(20)], everything_wrong,
                      [{"yes": "no", "no": "yes"}[g] for g in everything_wrong]))
    with open(HERE / "classification.jsonl", "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"classification.jsonl: {len(cases)} cases")


if __name__ == "__main__":
    main()
