"""Conformance vectors for agreement statistics (`assay review stats`),
computed by the reference implementations.

Writes `review/agreement.jsonl` (a folder of its own: the plugin harness reads
every `*.jsonl` beside this file as a plugin's vectors). Run from anywhere:

    pip install -r tests/conformance/requirements.txt
    python tests/conformance/generate_agreement.py

One case per line, `{"name", "kind", ..., "expected"}`, where `expected` is
null when the reference returns NaN (the statistic is undefined):
- `cohen`: `pairs` of labels (text or integers), `weights` none, linear or
  quadratic: scikit-learn `cohen_kappa_score`;
- `fleiss`: `items`, each the list of its ratings (all of one length):
  statsmodels `fleiss_kappa` on `aggregate_raters`' table;
- `krippendorff`: `units`, each the list of its raters' values with null
  for a missing rating, and `level`: the `krippendorff` package's `alpha`;
- `spearman`, `kendall`: `pairs` of numbers: scipy `spearmanr`,
  `kendalltau` (tau-b).
Ties, missing ratings and single-category items are included on purpose.
"""

import json
import math
import random
import warnings
from pathlib import Path

import krippendorff
import numpy as np
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

HERE = Path(__file__).resolve().parent
warnings.simplefilter("ignore")


def number(x):
    x = float(x)
    return None if math.isnan(x) else x


def cohen(name, pairs, weights):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    value = cohen_kappa_score(a, b, weights=None if weights == "none" else weights)
    return {"name": name, "kind": "cohen", "weights": weights, "pairs": pairs, "expected": number(value)}


def fleiss(name, items):
    table, _ = aggregate_raters(np.array(items))
    return {"name": name, "kind": "fleiss", "items": items, "expected": number(fleiss_kappa(table, method="fleiss"))}


def kripp(name, units, level):
    raters = max(len(u) for u in units)
    data = np.full((raters, len(units)), np.nan)
    for j, unit in enumerate(units):
        for i, value in enumerate(unit):
            if value is not None:
                data[i, j] = value
    try:
        value = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    except ValueError:
        value = float("nan")  # fewer than two distinct values: undefined
    return {"name": name, "kind": "krippendorff", "level": level, "units": units, "expected": number(value)}


def correlations(name, pairs):
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    return [
        {"name": name, "kind": "spearman", "pairs": pairs, "expected": number(spearmanr(x, y).statistic)},
        {"name": name, "kind": "kendall", "pairs": pairs, "expected": number(kendalltau(x, y).statistic)},
    ]


def main():
    rng = random.Random(20261201)
    cases = []
    # Cohen: pass/fail, scales with every weighting, a rater who never uses a label, one category only.
    cases.append(cohen("pass-fail small", [["pass", "pass"], ["pass", "fail"], ["fail", "fail"], ["pass", "pass"]], "none"))
    cases.append(cohen("one category", [["pass", "pass"], ["pass", "pass"]], "none"))
    cases.append(cohen("total disagreement", [["pass", "fail"], ["fail", "pass"]], "none"))
    for n in (5, 30, 200):
        for skew in (0.5, 0.85):
            pf = []
            for _ in range(n):
                a = "pass" if rng.random() < skew else "fail"
                b = a if rng.random() < 0.7 else ("fail" if a == "pass" else "pass")
                pf.append([a, b])
            cases.append(cohen(f"pass-fail n={n} skew={skew}", pf, "none"))
        scale = []
        for _ in range(n):
            a = rng.randint(1, 5)
            b = max(1, min(5, a + rng.choice([-2, -1, 0, 0, 0, 1, 2])))
            scale.append([a, b])
        for weights in ("none", "linear", "quadratic"):
            cases.append(cohen(f"1-5 n={n} {weights}", scale, weights))
    gap = [[1, 1], [1, 3], [3, 3], [5, 3], [5, 5], [3, 1]]  # label 2 and 4 never used
    for weights in ("none", "linear", "quadratic"):
        cases.append(cohen(f"1-5 with unused labels {weights}", gap, weights))

    # Fleiss: 3 and 5 raters, two and five categories, unanimous items, one category.
    cases.append(fleiss("unanimous one category", [[1, 1, 1], [1, 1, 1]]))
    cases.append(fleiss("textbook-like", [[1, 1, 2], [2, 2, 2], [1, 2, 3], [3, 3, 3], [1, 1, 1]]))
    for raters, categories, n in ((3, 2, 20), (5, 5, 40), (4, 3, 7), (2, 2, 50)):
        items = []
        for _ in range(n):
            base = rng.randint(1, categories)
            items.append([base if rng.random() < 0.6 else rng.randint(1, categories) for _ in range(raters)])
        cases.append(fleiss(f"{raters} raters {categories} categories n={n}", items))

    # Krippendorff: missing ratings, single-rating units, every level.
    classic = [
        [1, 1, None, 1],
        [2, 2, 3, 2],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [2, 2, 2, 2],
        [1, 2, 3, 4],
        [4, 4, 4, 4],
        [1, 1, 2, 1],
        [2, 2, 2, 2],
        [None, 5, 5, 5],
        [None, None, 1, 1],
        [None, None, 3, None],
    ]
    for level in ("nominal", "ordinal", "interval"):
        cases.append(kripp(f"Krippendorff's classic example {level}", classic, level))
        for raters, n, missing in ((3, 30, 0.2), (5, 15, 0.4), (2, 60, 0.0)):
            units = []
            for _ in range(n):
                base = rng.randint(1, 5)
                unit = [max(1, min(5, base + rng.choice([-1, 0, 0, 1]))) for _ in range(raters)]
                units.append([None if rng.random() < missing else v for v in unit])
            cases.append(kripp(f"{raters} raters n={n} missing={missing} {level}", units, level))
        cases.append(kripp(f"pass-fail as 0/1 {level}", [[1, 1, 0], [0, 0, 0], [1, None, 1], [1, 0, None]], level))
    cases.append(kripp("one value throughout", [[1, 1], [1, 1, 1]], "nominal"))

    # Correlations: ties on both sides, a constant side, real-valued metrics.
    cases += correlations("tiny", [[1, 1], [2, 3], [3, 2]])
    cases += correlations("constant side", [[1, 2], [2, 2], [3, 2]])
    for n in (10, 100, 500):
        pairs = []
        for _ in range(n):
            human = rng.randint(1, 5)
            metric = round(human / 5 + rng.gauss(0, 0.2), 3)
            pairs.append([human, metric])
        cases += correlations(f"human 1-5 vs metric n={n}", pairs)
        ties = [[rng.randint(0, 1), rng.randint(1, 3)] for _ in range(n)]
        cases += correlations(f"heavy ties n={n}", ties)

    with open(HERE / "review" / "agreement.jsonl", "w") as out:
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
