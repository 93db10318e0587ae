"""Conformance vectors for `assay compare`'s significance tests, computed by
sacreBLEU's own paired bootstrap and approximate randomization.

Writes `significance.jsonl` next to this file. Run from anywhere:

    pip install -r tests/conformance/requirements.txt
    python tests/conformance/compare/generate_significance.py

Each case is what `sacrebleu -i SYS... --paired-bs` (or `--paired-ar`)
computes with the default seed, 12345, calling the same functions its
command line calls: the baseline's score and bootstrap interval, and each
other system's score, p-value and interval. The systems are references
with words dropped, swapped and replaced, seeded so the file is the same on
every run. Besides BLEU and chrF, a sample-level metric (exact match, whose
corpus value is the mean) goes through the same functions.
"""

import json
import random
from pathlib import Path

import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import Result, _bootstrap_resample, _paired_ar_test, _paired_bs_test, estimate_ci

HERE = Path(__file__).resolve().parent
SEED = 12345

# References: sentences of the kind teams evaluate (news, answers, Turkish).
REFERENCES = [
    "On Tuesday, the government announced that the minimum wage would be raised to 12 euros an hour.",
    "According to police, the suspect, a 34-year-old man, was arrested close to the main station.",
    "The company's profits rose by 3.5 percent in the third quarter.",
    "Heavy rain is expected across the north of the country this weekend.",
    "The museum will reopen to the public after two years of renovation.",
    "Scientists have discovered a new species of frog in the rainforest.",
    "The capital of Turkey is Ankara, not Istanbul.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The train to the airport leaves every fifteen minutes.",
    "Please restart the router and try connecting again.",
    "Your order has been shipped and should arrive within three days.",
    "The meeting has been moved to Thursday at ten in the morning.",
    "Bugün hava çok güzel, parka gidelim mi?",
    "Türkiye'nin başkenti Ankara'dır.",
    "İstanbul Boğazı Avrupa ile Asya'yı ayırır.",
    "Sipariş numaranızı paylaşır mısınız?",
    "Öğrenciler sınav sonuçlarını yarın öğrenecek.",
    "Şirket üçüncü çeyrekte kârını yüzde beş artırdı.",
    "The patient should take the medicine twice a day after meals.",
    "Prices for fresh vegetables have risen sharply since the spring.",
]

WORDS = ["the", "a", "new", "very", "today", "city", "report", "said", "also", "bugün", "çok", "yeni"]


def perturb(sentence, rng, strength):
    words = sentence.split()
    out = []
    for word in words:
        roll = rng.random()
        if roll < strength / 3:
            continue  # dropped
        if roll < 2 * strength / 3:
            out.append(rng.choice(WORDS))  # replaced
            continue
        out.append(word)
    if len(out) > 2 and rng.random() < strength:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]  # swapped
    return " ".join(out) if out else words[0]


def systems(n, strengths, seed):
    rng = random.Random(seed)
    refs = [REFERENCES[i % len(REFERENCES)] for i in range(n)]
    outs = {name: [perturb(r, rng, s) if rng.random() < 0.85 else r for r in refs] for name, s in strengths.items()}
    return refs, outs


class ExactMatch:
    """A sample-level metric as sacreBLEU's functions take one: each
    sample's statistics are (match, 1), and the score is their mean."""

    class Score:
        def __init__(self, score):
            self.score = score

    def _extract_corpus_statistics(self, hypotheses, references):
        return [[float(h == r), 1.0] for h, r in zip(hypotheses, references[0])]

    def _compute_score_from_stats(self, stats):
        return ExactMatch.Score(float(stats[0] / stats[1]))

    def _aggregate_and_compute(self, stats):
        return self._compute_score_from_stats(np.sum(np.array(stats, dtype="float64"), axis=0))


METRICS = {"bleu": BLEU, "chrf": CHRF, "exact_match": ExactMatch}


def case(name, metric_name, test, n_samples, refs, outs):
    metric = METRICS[metric_name]()
    names = list(outs)
    baseline = names[0]
    bl_stats = metric._extract_corpus_statistics(outs[baseline], [refs])
    bl_score = metric._aggregate_and_compute(bl_stats)
    # As PairedTest does: the baseline's interval from its own resamples.
    confidence_n = n_samples if test == "bs" else 1000
    _, bl_scores = _bootstrap_resample(bl_stats, metric, confidence_n)
    bl_mean, bl_ci = estimate_ci(np.array([x.score for x in bl_scores]))
    results = {baseline: {"score": bl_score.score, "mean": float(bl_mean), "ci": float(bl_ci)}}
    info = {metric_name: (bl_stats, Result(bl_score.score, mean=bl_mean, ci=bl_ci))}
    for other in names[1:]:
        if test == "bs":
            _, res = _paired_bs_test(info, other, outs[other], [refs], {metric_name: metric}, n_samples, -1, SEED)
        else:
            _, res = _paired_ar_test(info, other, outs[other], [refs], {metric_name: metric}, n_samples, 1000, SEED)
        r = res[metric_name]
        results[other] = {"score": r.score, "p_value": r.p_value, "mean": float(r.mean), "ci": float(r.ci)}
    samples = [{"id": f"s{i:03}", "reference": ref, "outputs": {k: outs[k][i] for k in names}} for i, ref in enumerate(refs)]
    return {"name": name, "metric": metric_name, "test": test, "seed": SEED, "n": n_samples, "systems": names,
            "samples": samples, "results": results}


def main():
    cases = []
    refs, outs = systems(60, {"baseline": 0.35, "close": 0.33, "worse": 0.7}, 1)
    for metric_name in ["bleu", "chrf", "exact_match"]:
        cases.append(case(f"{metric_name}, paired bootstrap", metric_name, "bs", 1000, refs, outs))
        cases.append(case(f"{metric_name}, approximate randomization", metric_name, "ar", 10000, refs, outs))
    refs, outs = systems(25, {"baseline": 0.2, "other": 0.25}, 2)
    cases.append(case("bleu, 25 samples, 200 resamples", "bleu", "bs", 200, refs, outs))
    with open(HERE / "significance.jsonl", "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
