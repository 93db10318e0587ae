#!/usr/bin/env python3
"""Writes rouge.jsonl and porter.tsv, the conformance vectors of the `rouge` plugin.

Expected values come only from Google's rouge-score (RougeScorer with
rouge1, rouge2, rougeL and rougeLsum; score_multi for every sample) and,
for porter.tsv, from NLTK's PorterStemmer() in its default mode, which
rouge-score uses when use_stemmer=True. Versions are pinned in
requirements.txt; the script refuses to run with others.

porter.tsv draws its words from the Debian `wamerican` word list
(/usr/share/dict/words, `apt-get install wamerican`), plus every token of the
texts below, words that reach each special case of NLTK's stemmer, and
seeded random letter strings ending in the suffixes the rules look at.

Usage: pip install -r tests/conformance/requirements.txt
       python3 tests/conformance/generate_rouge.py
"""

import importlib.metadata
import json
import os
import random
import sys

from nltk.stem.porter import PorterStemmer
from rouge_score import rouge_scorer, tokenize

PINNED = {"rouge-score": "0.1.2", "nltk": "3.10.4"}
HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = "/usr/share/dict/words"
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

# (name, output, references). Outputs play a summarizer's answer, references
# the human summaries; several lines are sentences for ROUGE-Lsum.
PAIRS = [
    ("news single sentence",
     "The central bank raised interest rates by a quarter point on Wednesday.",
     ["On Wednesday the central bank lifted its benchmark interest rate by 0.25 percentage points."]),
    ("news multi-sentence",
     "Heavy rains flooded parts of the city overnight.\nHundreds of residents were evacuated from low-lying areas.\nOfficials expect the water to recede by Friday.",
     ["Overnight flooding hit several districts of the city after heavy rain.\nEmergency crews evacuated hundreds of residents.\nThe water is expected to recede by Friday, officials said."]),
    ("lsum sentence order swapped",
     "The company reported record profits.\nIts shares rose 5% in early trading.",
     ["Shares in the company rose 5% in early trading.\nThe firm reported record quarterly profits."]),
    ("stemmer irregular forms",
     "News of the dying star spread as the skies cleared and astronomers succeed in lying low.",
     ["The news: astronomers say the star is dying; clear skies helped them proceed, though some exceed their lying budget."]),
    ("stemmer ies ied special cases",
     "The flies died and the spies spied on the ties while prices dies down.",
     ["A fly dies, flies spied, and the tie tied; the spy dies in the price wars."]),
    ("stemmer step1b",
     "The agreed plan was hopping mad: controlling, filing and falling behind.",
     ["They agree the plans hopped, controlled, filed and fell; feeding the need."]),
    ("stemmer step2 and step3",
     "Relational databases need conditional rationalization and sensible digitizer operators.",
     ["The rationale: relate conditions, rationalize sensibility and digitize the operation."]),
    ("stemmer step4 and step5",
     "The adjustable replacement was effective, dependent on activated communism and irritant allowances.",
     ["An adjustment replaced the effect of the dependency; activation of communists irritated allowance rules."]),
    ("stemmer innings and outings",
     "England lost two innings in three outings; the cannings factory closed.",
     ["In three outings England lost both of its innings, and the canning plant shut."]),
    ("stemmer y to i and logi",
     "Happily the geology and biology students enjoy the happy, generally sunny days.",
     ["The happiest geologists enjoyed sunny days with biologists, generally happily."]),
    ("accents deleted by the tokenizer",
     "The café in Zürich served a naïve crème brûlée to São Paulo's résumé experts.",
     ["A Zürich cafe served naive creme brulee to resume experts from Sao Paulo."]),
    ("chinese text has no token",
     "北京今天宣布了新的交通政策。",
     ["北京市政府今天公布了新的交通政策。"]),
    ("chinese mixed with ascii",
     "Alibaba 阿里巴巴 reported revenue of 234 billion yuan 元.",
     ["阿里巴巴 Alibaba said revenue reached 234 billion yuan."]),
    ("turkish dotted capital i and kelvin sign",
     "İstanbul’da sıcaklık 300\u212a ölçüldü; İzmir daha serin.",
     ["Istanbul'da sicaklik 300K olculdu; Izmir daha serin."]),
    ("arabic text has no token",
     "أعلنت الحكومة عن خطة جديدة للنقل.",
     ["الحكومة تعلن خطة جديدة للنقل العام."]),
    ("curly quotes and apostrophes",
     "“We won’t back down,” the union’s leader said of the company’s offer.",
     ["The union's leader said \"we won't back down\" after the company's latest offer."]),
    ("hyphens and compounds",
     "The state-of-the-art COVID-19 vaccine is well-known in low- and middle-income countries.",
     ["A well known, state of the art COVID 19 vaccine reached low and middle income countries."]),
    ("numbers and currencies",
     "Revenue rose 3.2% to $1.5 billion in fiscal 2023-24, up from $1.45bn.",
     ["Fiscal 2023/24 revenue grew 3.2 per cent to 1.5 billion dollars from 1.45 billion."]),
    ("empty output",
     "",
     ["The summit ended without an agreement on emissions."]),
    ("empty reference",
     "The summit ended without an agreement on emissions.",
     [""]),
    ("whitespace and punctuation only output",
     "  \n\t ... !!! — “” \n",
     ["The summit ended without an agreement."]),
    ("empty reference among several",
     "Rescuers pulled two survivors from the rubble.",
     ["", "Two survivors were pulled from the rubble by rescuers."]),
    ("several references",
     "The minister resigned after the scandal broke.",
     ["The minister stepped down following the scandal.",
      "After the scandal broke, the minister resigned.",
      "A scandal forced the resignation of the minister."]),
    ("several references, different winners per type",
     "police said the suspect fled north in a stolen car",
     ["the suspect fled in a car police said",
      "police said the man stole a car and drove north",
      "a suspect fled north, police said, in a stolen vehicle"]),
    # Equal rouge1 F-measure (0.5) from different precision and recall: the
    # first reference must win.
    ("several references tie, shorter first",
     "rain is expected tomorrow",
     ["rain is likely today", "heavy rain is expected across the region today"]),
    ("several references tie, longer first",
     "rain is expected tomorrow",
     ["heavy rain is expected across the region today", "rain is likely today"]),
    ("identical texts",
     "Scientists discovered a new species of frog in the Amazon rainforest.",
     ["Scientists discovered a new species of frog in the Amazon rainforest."]),
    ("no overlap",
     "Stocks fell sharply in Tokyo.",
     ["The football season opens next week."]),
    ("repeated tokens clipped",
     "the the the cat sat on the mat the",
     ["the cat sat on the mat"]),
    ("lsum repeated sentence not double counted",
     "The storm hit the coast.\nThe storm hit the coast.",
     ["The storm hit the coast.\nTrees fell across the coast road.\nThe storm moved inland."]),
    ("lsum empty and blank lines",
     "\nThe vote was postponed.\n\n   \nLawmakers will meet again on Monday.\n",
     ["Lawmakers postponed the vote.\n\nThey meet again Monday.\n"]),
    ("lsum crlf line endings",
     "Markets rallied on Friday.\r\nThe dollar weakened against the euro.\r\n",
     ["Markets rallied Friday.\r\nThe euro strengthened against the dollar."]),
    ("lsum one side single line",
     "The museum reopened after a two-year renovation and welcomed thousands of visitors.",
     ["The museum reopened on Saturday.\nThe renovation took two years.\nThousands of visitors came."]),
    ("lsum ambiguous lcs",
     "a b c a b c\nc b a",
     ["c a b\nb c a\na b c"]),
    ("lsum lines without tokens",
     "Prices rose.\n---\n***\nWages did not.",
     ["...\nPrices went up.\n!!!\nWages did not keep pace."]),
    ("long paragraph",
     "The European Commission on Tuesday proposed sweeping new rules for artificial intelligence, "
     "including a ban on some uses of facial recognition in public spaces and strict requirements "
     "for systems deemed high risk, such as those used in hiring, credit scoring and law enforcement. "
     "Companies that break the rules could face fines of up to 6% of their global turnover, and the "
     "proposal must now be approved by member states and the European Parliament, a process that "
     "could take years.",
     ["Brussels unveiled draft regulations on artificial intelligence on Tuesday that would restrict "
      "facial recognition in public places and impose tough obligations on high-risk applications "
      "in areas like recruitment, lending and policing. Violations could cost firms up to six "
      "percent of worldwide annual revenue. The plan needs the backing of EU governments and "
      "lawmakers, which may take several years."]),
    ("long multi-sentence summary",
     "Researchers trained the model on 10,000 hours of speech.\nIt transcribes English with a 4.1% word error rate.\n"
     "The team released the code and weights under an open licence.\nThey warn it performs worse on accented speech.",
     ["The model was trained on ten thousand hours of audio.\nIts English word error rate is 4.1%.\n"
      "Code and model weights are openly licensed.\nAccuracy drops for speakers with strong accents."]),
    ("case and whitespace differences",
     "BREAKING:   The   PRESIDENT   signed the   bill.",
     ["breaking: the president signed the bill"]),
    ("short tokens not stemmed",
     "Cats ran as dogs ate; his bus was late.",
     ["The cat runs and the dog eats; her buses were lately delayed."]),
    ("digits inside words",
     "The iPhone15 launch in 2023 sold 10m units; mp3s and 4K TVs followed in the 1990s style.",
     ["Apple's iPhone 15 launched in 2023 and sold 10 million units, like 4k tvs in the 1990s."]),
    ("sports report",
     "Manchester United beat Liverpool 2-1 at Old Trafford on Sunday, with Rashford scoring the winner in the 87th minute.",
     ["Marcus Rashford's late goal gave Manchester United a 2-1 win over Liverpool at Old Trafford.",
      "United beat Liverpool 2-1 thanks to an 87th-minute Rashford winner."]),
    ("weather report",
     "Temperatures will reach 35 degrees in the south, while northern regions expect thunderstorms and strong winds.",
     ["Southern areas will see highs of 35C; thunderstorms and gusty winds are forecast for the north."]),
    ("science abstract",
     "We propose a simple method that improves summarization faithfulness by filtering training examples with entailment models.",
     ["This paper improves the faithfulness of abstractive summarization by removing unfaithful training examples using an entailment classifier."]),
]

# Words that reach each special case and rule of NLTK's Porter stemmer.
TRICKY_WORDS = """
sky skies dying lying tying news innings inning outings outing cannings canning
howe proceed exceed succeed dies ties lies pies flies cries spies died tied lied
spied cried fried agreed feed bleed need deed freed plastered bled motoring sing
conflated troubled sized hopping tanned falling hissing fizzed failing filing
happy sky enjoy spy fly try relational conditional rational valenci hesitanci
digitizer conformabli radicalli differentli vileli analogousli vietnamization
predication operator feudalism decisiveness hopefulness callousness formaliti
sensitiviti sensibiliti fulli geologi theologi archaeologi triplicate formative
formalize electriciti electrical hopeful goodness revival allowance inference
airliner gyroscopic adjustable defensible irritant replacement adjustment
dependent adoption homologou communism activate angulariti homologous effective
bowdlerize probate rate cease controll roll generalizations oscillators
caresses ponies ties caress cats feed agreed disabled matting mating meeting
milling messing meetings happy generously generalization fruitfully brotherly
yyyy yyy yay yey boy toy syzygy trees troubles private oaten orrery ivy by
ing ed eed ies ied sses ational alli logi ement ion ll a an at
""".split()


def check_versions():
    for package, version in PINNED.items():
        found = importlib.metadata.version(package)
        if found != version:
            sys.exit(f"{package} {found} is installed; these vectors need {version} (see requirements.txt)")


def rouge_case(name, config, samples, scorer):
    expected = []
    for sample in samples:
        scores = scorer.score_multi(sample["references"], sample["output"])
        expected.append({f"{t}_{k}": getattr(scores[t], field)
                         for t in TYPES
                         for k, field in (("p", "precision"), ("r", "recall"), ("f", "fmeasure"))})
    return {"name": name, "config": config, "samples": samples, "sample_scores": expected,
            "corpus_scores": {}, "tolerance": 1e-9}


def sample(i, output, references):
    return {"id": str(i), "input": "", "output": output, "references": references, "label": None}


def word_salad(rng, count):
    """Seeded multi-line texts over a few words, so that tokens repeat and
    sentences have several LCS: which one rouge-score's backtracking reads
    out changes ROUGE-Lsum in about one sample in five."""
    words = "the police said says a man men fled flees in car cars and was found finding".split()

    def text():
        lines = rng.randint(1, 4)
        return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(0, 7))) for _ in range(lines))

    return [sample(i, text(), [text() for _ in range(rng.randint(1, 3))]) for i in range(count)]


def write_rouge():
    scorers = {stem: rouge_scorer.RougeScorer(TYPES, use_stemmer=stem) for stem in (False, True)}
    # The explicit default tokenizer is spelled out in some cases to cover
    # that configuration key too.
    configs = [({"stemmer": False}, False, "no stemmer"), ({"stemmer": True, "tokenizer": "default"}, True, "stemmer")]
    cases = []
    for config, stem, label in configs:
        for i, (name, output, references) in enumerate(PAIRS):
            cases.append(rouge_case(f"{name} ({label})", config, [sample(i, output, references)], scorers[stem]))
    # One instance scoring many samples in turn, as the host runs it.
    batch = [sample(i, output, references) for i, (_, output, references) in enumerate(PAIRS)]
    cases.append(rouge_case("all pairs in one batch (defaults)", {}, batch, scorers[False]))
    cases.append(rouge_case("all pairs in one batch (stemmer)", {"stemmer": True}, batch[::-1], scorers[True]))
    rng = random.Random(42)
    cases.append(rouge_case("word salad with repeats (defaults)", {}, word_salad(rng, 80), scorers[False]))
    cases.append(rouge_case("word salad with repeats (stemmer)", {"stemmer": True}, word_salad(rng, 80), scorers[True]))
    with open(os.path.join(HERE, "rouge.jsonl"), "w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False) + "\n")
    return len(cases), sum(len(c["samples"]) for c in cases)


def random_words(rng, count):
    suffixes = ["", "s", "es", "ies", "ied", "ed", "eed", "ing", "y", "e", "ll", "ational", "tional", "alli",
                "entli", "ousli", "ization", "ation", "ator", "alism", "iveness", "fulness", "ousness", "aliti",
                "iviti", "biliti", "fulli", "logi", "icate", "ative", "alize", "iciti", "ical", "ful", "ness",
                "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "sion", "tion", "ou",
                "ism", "ate", "iti", "ous", "ive", "ize", "at", "bl", "iz", "izer", "bli", "eli", "enci", "anci"]
    letters = "aeiouybcdfghlmnprstvwxz"
    words = set()
    while len(words) < count:
        stem = "".join(rng.choice(letters) for _ in range(rng.randint(1, 7)))
        words.add(stem + rng.choice(suffixes))
    return sorted(words)


def write_porter():
    if not os.path.exists(WORDS):
        sys.exit(f"{WORDS} is missing: apt-get install wamerican")
    with open(WORDS, encoding="utf-8") as f:
        dictionary = sorted({t for line in f for t in tokenize.tokenize(line, None)})
    rng = random.Random(20261127)
    words = set(rng.sample(dictionary, 3000))
    words.update(TRICKY_WORDS)
    for _, output, references in PAIRS:
        for text in [output, *references]:
            words.update(tokenize.tokenize(text, None))
    words.update(random_words(rng, 1000))
    words.update(["1990s", "2nd", "mp3s", "4k", "10m", "covid19", "b2b", "agreed2", "123ing"])
    stemmer = PorterStemmer()
    with open(os.path.join(HERE, "porter.tsv"), "w", encoding="utf-8") as out:
        out.write("# word<TAB>stem by NLTK PorterStemmer() (NLTK_EXTENSIONS); written by generate_rouge.py\n")
        for word in sorted(words):
            out.write(f"{word}\t{stemmer.stem(word)}\n")
    return len(words)


if __name__ == "__main__":
    check_versions()
    cases, samples = write_rouge()
    words = write_porter()
    print(f"rouge.jsonl: {cases} cases, {samples} samples; porter.tsv: {words} words")
