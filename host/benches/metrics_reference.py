"""Times the reference implementations on the pairs of `cargo bench --bench metrics`.

Usage: python metrics_reference.py EVAL_SET LIMIT

Reads the first LIMIT records of the eval set (JSON Lines with `output` and a
one-item `reference` list) and does the work `assay run` does for them: every
sentence score, then the corpus score, exactly as tests/conformance/
generate_rouge.py and generate_sacrebleu.py call the packages. Prints a JSON
object of seconds per metric and the mean sentence scores, to check that both
sides did the same work.
"""

import json
import sys
import time

from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF, TER


def main():
    path, limit = sys.argv[1], int(sys.argv[2])
    outputs, references = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(outputs) == limit:
                break
            record = json.loads(line)
            outputs.append(record["output"])
            references.append(record["reference"][0])
    result = {"samples": len(outputs)}

    start = time.perf_counter()
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    total = sum(scorer.score(r, o)["rouge1"].fmeasure for o, r in zip(outputs, references))
    result["rouge"] = {"seconds": time.perf_counter() - start, "mean rouge1_f": total / len(outputs)}

    start = time.perf_counter()
    sentence = BLEU(effective_order=True)
    total = sum(sentence.sentence_score(o, [r]).score for o, r in zip(outputs, references))
    corpus = BLEU().corpus_score(outputs, [references]).score
    result["bleu"] = {"seconds": time.perf_counter() - start, "mean sentence_bleu": total / len(outputs), "bleu": corpus}

    start = time.perf_counter()
    sentence = BLEU(effective_order=True, tokenize="intl")
    total = sum(sentence.sentence_score(o, [r]).score for o, r in zip(outputs, references))
    corpus = BLEU(tokenize="intl").corpus_score(outputs, [references]).score
    result["bleu_intl"] = {"seconds": time.perf_counter() - start, "mean sentence_bleu": total / len(outputs), "bleu": corpus}

    start = time.perf_counter()
    metric = CHRF()
    total = sum(metric.sentence_score(o, [r]).score for o, r in zip(outputs, references))
    corpus = CHRF().corpus_score(outputs, [references]).score
    result["chrf"] = {"seconds": time.perf_counter() - start, "mean sentence_chrf": total / len(outputs), "chrf": corpus}

    start = time.perf_counter()
    metric = TER()
    total = sum(metric.sentence_score(o, [r]).score for o, r in zip(outputs, references))
    corpus = TER().corpus_score(outputs, [references]).score
    result["ter"] = {"seconds": time.perf_counter() - start, "mean sentence_ter": total / len(outputs), "ter": corpus}

    print(json.dumps(result))


if __name__ == "__main__":
    main()
