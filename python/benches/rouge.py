"""ROUGE from Python: `assay.evaluate(..., plugins=["rouge"])` against
Hugging Face `evaluate.load("rouge")` and Google's `rouge-score`, on the same
pairs, in this one process.

    pip install ./python evaluate rouge-score   # in a virtual environment
    python python/benches/rouge.py [PAIRS]      # default 20000

Generates PAIRS output/reference pairs of 20 to 60 words (a fixed seed, a
vocabulary of English words), has each implementation score every pair
(ROUGE-1, -2, -L and -Lsum, no stemmer: every tool's default), and prints
seconds, pairs per second, the ratio to assay, and the mean ROUGE-1 F1 each
found, which must agree. `evaluate.load` fetches its metric script from the
Hugging Face Hub; where the Hub cannot be reached, set ASSAY_EVALUATE_ROUGE
to a local copy of that script (metrics/rouge/rouge.py of
huggingface/evaluate), or its line says why it did not run.
"""

import os
import random
import sys
import time

import assay

try:
    import pandas  # noqa: F401 - imported before timing, as a notebook has it (assay returns DataFrames)
except ImportError:
    pass

WORDS = (
    "the of and to in is was for on that with as by at from his her an were are which this be or has had not but "
    "their its they one all new more also other after first two time who would can about into been most only over "
    "city world year people state school river music house war game film team name part number family water album "
    "small large early later known used made found became called because during between under while where since "
    "model answer question output reference score metric sentence word translation summary quality human judge"
).split()


def pairs(n):
    rng = random.Random(2026)
    outputs, references = [], []
    for _ in range(n):
        reference = [rng.choice(WORDS) for _ in range(rng.randint(20, 60))]
        # An output shares most of its reference's words, in a perturbed order.
        output = [w if rng.random() < 0.7 else rng.choice(WORDS) for w in reference]
        if len(output) > 3:
            i = rng.randrange(len(output) - 3)
            output[i : i + 3] = reversed(output[i : i + 3])
        outputs.append(" ".join(output))
        references.append(" ".join(reference))
    return outputs, references


def timed(run):
    start = time.perf_counter()
    mean = run()
    return time.perf_counter() - start, mean


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    outputs, references = pairs(n)
    results = {}

    def with_assay():
        result = assay.evaluate(outputs, references=references, plugins=["rouge"])
        return result.metrics["rouge/rouge1_f"]

    results["assay.evaluate"] = timed(with_assay)

    try:
        from rouge_score import rouge_scorer

        def with_rouge_score():
            scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)
            return sum(scorer.score(r, o)["rouge1"].fmeasure for o, r in zip(outputs, references)) / n

        results["rouge-score"] = timed(with_rouge_score)
    except ImportError as error:
        results["rouge-score"] = f"unavailable: {error}"

    try:
        import evaluate

        metric = evaluate.load(os.environ.get("ASSAY_EVALUATE_ROUGE", "rouge"))

        def with_evaluate():
            scores = metric.compute(predictions=outputs, references=references, use_aggregator=False)
            return sum(scores["rouge1"]) / n

        results["evaluate.load(\"rouge\")"] = timed(with_evaluate)
    except Exception as error:  # noqa: BLE001 - any failure to fetch or run is reported, not raised
        results["evaluate.load(\"rouge\")"] = f"unavailable: {type(error).__name__}: {error}"

    base = results["assay.evaluate"][0]
    print(f"ROUGE on {n} pairs of 20 to 60 words, one process:")
    for name, outcome in results.items():
        if isinstance(outcome, str):
            print(f"  {name:<24} {outcome}")
            continue
        seconds, mean = outcome
        print(
            f"  {name:<24} {seconds:8.2f} s  {n / seconds:10.0f} pairs/s  {seconds / base:6.1f}x assay's time  "
            f"mean ROUGE-1 F1 {mean:.6f}"
        )


if __name__ == "__main__":
    main()
