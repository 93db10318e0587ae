"""Conformance vectors for the `bleu`, `chrf` and `ter` plugins, computed by sacreBLEU.

Writes `bleu.jsonl`, `chrf.jsonl` and `ter.jsonl` next to this file, the
tokenizer vectors to `plugins/bleu/tests/tokenizer_13a.jsonl` and
`plugins/bleu/tests/tokenizers.jsonl` (intl, zh, char), and the Unicode
classes the `intl` and `zh` tokenizers use (as the `regex` module and
sacreBLEU's own ranges define them) to `plugins/bleu/tests/unicode_classes.json`.
Run from anywhere:

    pip install -r tests/conformance/requirements.txt
    python tests/conformance/generate_sacrebleu.py

Sample-level values are what `sacrebleu.sentence_bleu` / `sentence_chrf`
return (sentence BLEU uses the effective n-gram order); corpus-level values
are what `BLEU(...).corpus_score` / `CHRF(...).corpus_score` return.

The Python version matters a little: `str.lower` and `str.split` follow its
Unicode tables (Python 3.11: Unicode 14).
"""

import json
import random
from pathlib import Path

import sacrebleu
import regex
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_char import TokenizerChar
from sacrebleu.tokenizers.tokenizer_intl import TokenizerV14International
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOLERANCE = 1e-9


def s(output, *references, input=""):
    return {"input": input, "output": output, "references": list(references)}


# Machine translation of news sentences, one reference each.
NEWS = [
    s("The government announced on Tuesday that it would raise the minimum wage to 12 euros per hour.",
      "On Tuesday, the government announced that the minimum wage would be raised to 12 euros an hour."),
    s("Police said the suspect, a 34-year-old man, was arrested near the central station.",
      "According to police, the suspect, a 34-year-old man, was arrested close to the main station."),
    s("The company's profits rose by 3.5 percent in the third quarter.",
      "The company's profit increased 3.5 per cent in the third quarter."),
    s("More than 1,000 people took part in the demonstration in Berlin.",
      "Over 1,000 people took part in the protest in Berlin."),
    s('The minister rejected the accusations as "completely unfounded".',
      'The minister dismissed the allegations as "entirely unfounded."'),
    s("It is the first time since 2019 that the festival takes place again.",
      "It is the first time since 2019 that the festival is being held again."),
    s("The train from Munich to Hamburg was delayed by almost two hours.",
      "The train from Munich to Hamburg was almost two hours late."),
    s("Experts warn that the well-known problem will get worse in the coming years.",
      "Experts warn that the well-known problem will worsen over the coming years."),
    s("The new law comes into force on 1 January 2025.",
      "The new law will take effect on January 1, 2025."),
    s("Residents were asked to keep their windows and doors closed.",
      "Residents were asked to keep windows and doors shut."),
]

# Answers of an assistant against reference answers.
ANSWERS = [
    s("The capital of Australia is Canberra, not Sydney as many people assume.",
      "Canberra is the capital of Australia.",
      input="What is the capital of Australia?"),
    s("Photosynthesis converts light energy into chemical energy stored in glucose; it takes place in the chloroplasts.",
      "Photosynthesis is the process by which plants convert light energy into chemical energy, stored as glucose, in their chloroplasts.",
      input="Explain photosynthesis in one sentence."),
    s("To reverse a list in Python, use my_list.reverse() or the slice my_list[::-1].",
      "You can reverse a list in Python with list.reverse() (in place) or with slicing: my_list[::-1].",
      input="How do I reverse a list in Python?"),
    s("Water boils at 100 °C (212 °F) at sea level.",
      "At sea level, water boils at 100 degrees Celsius, or 212 degrees Fahrenheit.",
      input="At what temperature does water boil?"),
    s("The speed of light in vacuum is about 299,792 km/s.",
      "Light travels at approximately 299,792 kilometres per second in a vacuum.",
      input="How fast is light?"),
    s('Shakespeare wrote "Hamlet" around 1600-1601.',
      "Hamlet was written by William Shakespeare, probably between 1599 and 1601.",
      input="Who wrote Hamlet, and when?"),
    s("I'm not sure, but I think the answer is 42.",
      "The answer is 42.",
      input="What is six times seven?"),
    s("Use `git rebase -i HEAD~3` to squash the last three commits.",
      'Run git rebase -i HEAD~3 and mark the commits as "squash" to combine the last three commits.',
      input="How do I squash my last three commits?"),
]

# What 13a does with numbers, decimals, thousands separators and dashes.
NUMBERS = [
    s("Revenue grew 3.5% to $1,000.50 million -- a record.",
      "Revenue grew by 3.5 % to $ 1,000.50 million - a record."),
    s("The well-known 24-hour store opened at 9-10 a.m.",
      "The well-known 24-hour shop opens at 9 - 10 a.m."),
    s("Version 2.0.1 fixes bugs 1.2, 3.4 and 5,6.",
      "Version 2.0.1 fixes the bugs 1.2, 3.4, and 5, 6."),
    s("U.S. officials met in Washington, D.C., on Monday.",
      "US officials met in Washington D.C. on Monday."),
    s("Temperatures fell from -5 to -10 degrees... e.g. in the Alps.",
      "Temperatures dropped from -5 to -10 degrees, for example in the Alps..."),
    s("See pages 10--12 and the years 1990-2000 (sec. 4.3.2).",
      "See pages 10-12 and the period 1990 - 2000 (section 4.3.2)."),
    s(".5 and 5. and ,5 and 5, and a.b,c and 1.,2 and x..y",
      "0.5 and 5 and a.b, c and 1., 2 and x. . y"),
]

# HTML entities (which 13a unescapes), <skipped>, line breaks, curly quotes.
ENTITIES = [
    s("He said &quot;yes&quot; &amp; left.", 'He said "yes" & left.'),
    s("Tom &amp; Jerry &lt;3 &gt; all the others", "Tom & Jerry <3 > all the others"),
    s("She called it “remarkable” and said it’s ‘just the beginning’.",
      "She called it \"remarkable\" and said it's 'just the beginning'."),
    s("&amp;quot;double-escaped&amp;quot; &amp;lt;tag&amp;gt; stays",
      '"double-escaped" <tag> stays'),
    s("<skipped> The rest of the sentence was kept.", "The rest of the sentence was kept."),
    s("The first line ends with a hyphen-\nated word\nand a new line.\n",
      "The first line ends with a hyphenated word and a new line."),
]

# Letters outside ASCII, Unicode spaces, and scripts 13a does not split.
NON_ASCII = [
    s("L’économie française a progressé de 0,3 % au troisième trimestre.",
      "L'économie française a crû de 0,3 % au troisième trimestre."),
    s("Die Größe der Straßenbaumittel wurde um 5,5 Prozent erhöht.",
      "Die Höhe der Straßenbaumittel wurde um 5,5 Prozent angehoben."),
    s("¿Dónde está la estación de tren más cercana?",
      "¿Dónde queda la estación de trenes más cercana?"),
    s("Η ΟΔΟΣ ΕΙΝΑΙ ΚΛΕΙΣΤΗ ΛΟΓΩ ΕΡΓΩΝ.", "Η οδός είναι κλειστή λόγω έργων."),
    s("İstanbul'da yağmur yağıyor ve IŞIKLAR yanıyor.", "istanbul'da yağmur yağıyor ve ışıklar yanıyor."),
    s("Le prix est de 1\u00a0000\u00a0€ environ,\u2009hors taxes.", "Le prix est d'environ 1 000 € hors taxes."),
    s("Москва — столица России и крупнейший город страны.", "Столица России — Москва, крупнейший город страны."),
    s("東京は日本の首都です。", "日本の首都は東京です。"),
]

# Several references; closest reference length with ties to the shorter.
MULTI_REF = [
    s("The cat sat on the mat.",
      "A cat was sitting on the mat.", "The cat sat on a mat.", "There is a cat on the mat."),
    s("He arrived late to the meeting yesterday .",
      "He came late to the meeting.", "Yesterday he arrived late for the meeting again ."),
    s("The report was published last week by the ministry.",
      "The ministry published the report last week.",
      "Last week, the report was released by the ministry of health."),
    s("Prices increased sharply in March.",
      "In March, prices rose sharply.", "Prices went up steeply in March.", "Prices increased a lot in March."),
    s("The museum will be closed for renovation until further notice.",
      "The museum is closed for renovation until further notice.",
      "Until further notice, the museum remains closed for renovations."),
    s("Thank you very much for your help!", "Thanks a lot for your help!", "Thank you so much for helping!"),
]

# Outputs too short to have 4-grams: corpus BLEU is 0, sentence BLEU is not.
SHORT = [
    s("Paris", "Paris is the capital.", input="Capital of France?"),
    s("Yes.", "Yes, it is.", input="Is water wet?"),
    s("42", "The answer is 42.", input="What is six times seven?"),
    s("New York City", "New York City is the largest city.", input="Largest US city?"),
    s("blue whale", "The blue whale.", input="Largest animal?"),
    s("No", "No, it does not.", input="Does the sun orbit the earth?"),
]

# Empty and whitespace-only outputs, and an empty reference.
EMPTY = [
    s("", "The meeting was postponed until next week."),
    s("The meeting was postponed until next week.", "The meeting was postponed until next week."),
    s("   ", "Nothing to add."),
    s("Nothing to add.", ""),
    s("", ""),
    s("The weather will be sunny tomorrow.", "Tomorrow the weather will be sunny."),
]

# Case differences, for mixed-case and lowercased scoring.
CASED = [
    s("THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.", "The quick brown fox jumps over the lazy dog."),
    s("The European Union Announced New Sanctions On Monday.",
      "The European Union announced new sanctions on Monday."),
    s("iPhone sales in the US fell; Apple blamed weak demand.",
      "IPhone sales in the U.S. fell, and Apple blamed weak demand."),
    s("ΟΔΟΣ ΑΘΗΝΑΣ", "οδος αθηνας"),
    s("Der FLUSS ist Sehr Breit.", "der fluss ist sehr breit."),
]

# The same kind of sentences in the languages the other tokenizers are for.
MULTILINGUAL = [
    s("İstanbul’da bugün hava çok güzel; sıcaklık 24 °C’ye çıktı.",
      "İstanbul'da bugün hava çok güzel, sıcaklık 24 dereceye ulaştı."),
    s("Türkiye’nin başkenti Ankara’dır, en kalabalık şehri ise İstanbul’dur.",
      "Türkiye'nin başkenti Ankara, en kalabalık şehri İstanbul'dur."),
    s("ISPARTA’DA GÜL HASADI BAŞLADI!", "Isparta'da gül hasadı başladı."),
    s("北京是中国的首都，也是世界上人口最多的城市之一。",
      "北京是中国的首都，是世界上人口最多的城市之一。"),
    s("今天天气很好，我们去公园散步吧！", "今天的天气非常好，我们去公园走走吧。"),
    s("这款手机售价为3,999元（约合550美元）。", "该手机的售价是3999元，约合550美元。"),
    s("東京は日本の首都で、人口は約1400万人です。", "日本の首都は東京で、人口はおよそ1400万人です。"),
    s("きょうはとてもいい天気ですね。", "今日はとても良い天気ですね。"),
    s("カタカナのコンピューターとデータベース", "コンピュータとデータベースのカタカナ"),
    # Kana alone: TER's kana rules are anchored at the start of the text.
    s("ありがとう", "ありがとうございます"),
    s("コンピューター", "コンピュータ"),
    s("القاهرة هي عاصمة مصر وأكبر مدنها، ويبلغ عدد سكانها نحو ٢٠ مليون نسمة.",
      "القاهرة عاصمة مصر وأكبر مدينة فيها، ويقطنها حوالي ٢٠ مليون نسمة."),
    s("هل يمكنك مساعدتي؟ أحتاج إلى حجز تذكرة.", "هل تستطيع مساعدتي؟ أريد حجز تذكرة."),
    s("भारत की राजधानी नई दिल्ली है। इसकी आबादी लगभग ३ करोड़ है।",
      "नई दिल्ली भारत की राजधानी है, जिसकी जनसंख्या करीब 3 करोड़ है।"),
    s("Die Straße ist wegen Bauarbeiten bis zum 15. März gesperrt – Umleitung über die B 27.",
      "Wegen Bauarbeiten ist die Straße bis 15. März gesperrt; die Umleitung führt über die B27."),
    s("„Das ist großartig“, sagte Müller, »wirklich!«", "»Das ist großartig«, sagte Müller, „wirklich“."),
    s("서울은 대한민국의 수도입니다.", "대한민국의 수도는 서울입니다."),
    s("กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย", "เมืองหลวงของประเทศไทยคือกรุงเทพมหานคร"),
]

# What the Unicode-aware tokenizers do with punctuation and symbol categories,
# numbers of other scripts, CJK ranges and full-width forms.
UNICODE_EDGES = [
    s("Price: 5€, 10£, ¥300 or ₺25 — ±2% × 3 ÷ 4 = ∑ → ok™ ©2024 ®", "Price: 5 €, 10 £, ¥ 300 or ₺ 25 - 2% x 3 / 4"),
    s("¡Hola! ¿Qué tal? «Bien», dijo. § 3, ¶ 2 … fin", "¡Hola! ¿Qué tal? \"Bien\", dijo. §3, ¶2... fin"),
    s("１２３，ＡＢＣ。全角！（テスト）：＄１００", "123, ABC. 全角! (テスト): $100"),
    s("「こんにちは」と彼は言った。『本当に？』", "「こんにちは」と、彼は言った。『本当？』"),
    s("Numbers: ٣.٥ and ३.५ and ½ and ² and Ⅻ and ① and 3.5", "Numbers: 3.5 and ३.५ and ½ and 2 and XII and 1"),
    s("Emoji 😀👍🏽 and ★☆ ♥ ✓ ⚡ in text 🇹🇷.", "Emoji 😀 👍 and ★ ☆ ♥ ✓ in text."),
    s("a.b,c;d:e!f?g—h–i‐j k​l", "a. b, c; d: e! f? g — h – i ‐ j k l"),
    s("1.000,50 TL veya 1,000.50 USD; 2024. yılı; 3.", "1.000,50 TL ya da 1,000.50 USD; 2024 yılı; 3"),
    s("C++ & C# vs. F#: 100% <b>bold</b> @user #tag ~tilde ^caret |pipe|",
      "C++ and C# versus F#: 100 % bold @user #tag"),
    s("⺀⻳ ㇀ ⼀ ⿰ ㄅ ㆠ ︐ ︰ ☀ ✀ ㈀ ㌀ 豈 丽 ＠ｚ ｡ｰﾟ", "⺀ ㇀ ⼀ ⿰ ㄅ ㆠ ☀ ✀ ㈀ ㌀ 豈"),
    s("𠀀𠀁 𪛖 𪜀 丽 ℃ ‰ ⁂ ⅓ ⌘ ∞ ≠ ≤", "𠀀 𠀁 𪛖 ℃ ‰ ∞ ≠"),
]

ALL = NEWS + ANSWERS + NUMBERS + ENTITIES + NON_ASCII + MULTI_REF + SHORT + EMPTY + CASED
WORLD = MULTILINGUAL + UNICODE_EDGES + NON_ASCII + NUMBERS + ENTITIES + EMPTY + CASED

BLEU_CASES = [
    ("news, defaults", {}, NEWS),
    ("news, tokenize none", {"tokenize": "none"}, NEWS),
    ("news, smooth none", {"smooth_method": "none"}, NEWS),
    ("assistant answers, defaults", {}, ANSWERS),
    ("assistant answers, max order 2", {"max_ngram_order": 2}, ANSWERS),
    ("assistant answers, max order 6", {"max_ngram_order": 6}, ANSWERS),
    ("13a numbers, decimals and dashes", {}, NUMBERS),
    ("entities, skipped, line breaks and curly quotes", {}, ENTITIES),
    ("non-ASCII letters and spaces", {}, NON_ASCII),
    ("non-ASCII letters, lowercase", {"lowercase": True}, NON_ASCII),
    ("several references", {}, MULTI_REF),
    ("several references, add-k", {"smooth_method": "add-k"}, MULTI_REF),
    ("outputs without 4-grams", {}, SHORT),
    ("outputs without 4-grams, smooth none", {"smooth_method": "none"}, SHORT),
    ("outputs without 4-grams, floor", {"smooth_method": "floor"}, SHORT),
    ("outputs without 4-grams, floor 0.25", {"smooth_method": "floor", "smooth_value": 0.25}, SHORT),
    ("outputs without 4-grams, add-k 2", {"smooth_method": "add-k", "smooth_value": 2}, SHORT),
    ("empty outputs and references", {}, EMPTY),
    ("case differences, mixed case", {}, CASED),
    ("case differences, lowercase", {"lowercase": True}, CASED),
    ("all samples, defaults", {}, ALL),
    ("all samples, lowercase floor", {"lowercase": True, "smooth_method": "floor"}, ALL),
]
for tokenize in ("intl", "zh", "char"):
    BLEU_CASES += [
        (f"languages, tokenize {tokenize}", {"tokenize": tokenize}, MULTILINGUAL),
        (f"languages, tokenize {tokenize}, lowercase", {"tokenize": tokenize, "lowercase": True}, MULTILINGUAL),
        (f"Unicode edges, tokenize {tokenize}", {"tokenize": tokenize}, UNICODE_EDGES),
        (f"Unicode edges, tokenize {tokenize}, lowercase", {"tokenize": tokenize, "lowercase": True}, UNICODE_EDGES),
        (f"several references, tokenize {tokenize}", {"tokenize": tokenize}, MULTI_REF),
        (f"all languages, tokenize {tokenize}", {"tokenize": tokenize}, WORLD),
        (f"all languages, tokenize {tokenize}, lowercase floor",
         {"tokenize": tokenize, "lowercase": True, "smooth_method": "floor"}, WORLD),
        (f"English samples, tokenize {tokenize}", {"tokenize": tokenize}, ALL),
    ]

CHRF_CASES = [
    ("news, defaults", {}, NEWS),
    ("news, chrF++", {"word_order": 2}, NEWS),
    ("news, whitespace kept", {"whitespace": True}, NEWS),
    ("assistant answers, defaults", {}, ANSWERS),
    ("assistant answers, chrF++", {"word_order": 2}, ANSWERS),
    ("assistant answers, beta 1, char order 4", {"beta": 1, "char_order": 4}, ANSWERS),
    ("numbers and punctuation, chrF++", {"word_order": 2}, NUMBERS),
    ("entities and curly quotes", {}, ENTITIES),
    ("non-ASCII letters", {}, NON_ASCII),
    ("non-ASCII letters, chrF++ lowercase", {"word_order": 2, "lowercase": True}, NON_ASCII),
    ("several references", {}, MULTI_REF),
    ("several references, chrF++", {"word_order": 2}, MULTI_REF),
    ("short outputs", {}, SHORT),
    ("short outputs, eps smoothing", {"eps_smoothing": True}, SHORT),
    ("empty outputs and references", {}, EMPTY),
    ("empty outputs and references, chrF++ eps smoothing", {"word_order": 2, "eps_smoothing": True}, EMPTY),
    ("case differences, mixed case", {}, CASED),
    ("case differences, lowercase", {"lowercase": True}, CASED),
    ("all samples, defaults", {}, ALL),
    ("all samples, chrF++", {"word_order": 2}, ALL),
    ("all samples, chrF++ eps smoothing whitespace", {"word_order": 2, "eps_smoothing": True, "whitespace": True}, ALL),
]


# Word reorderings, where TER's shifts count.
REORDERED = [
    s("on the mat the cat sat", "the cat sat on the mat"),
    s("yesterday to the market I went with my sister", "I went to the market with my sister yesterday"),
    s("the report was published by the ministry last week", "last week the ministry published the report"),
    s("a b c d e f g h", "e f g h a b c d"),
    s("the the the cat the the", "the cat the the the the"),
    s("B C A", "A B C", "C A B"),
]


def synthetic(seed, words, vocabulary):
    """A long sentence and a copy with blocks of words moved, some words
    replaced and the length changed: many shift candidates, TER's beam and
    its candidate and cache limits."""
    rng = random.Random(seed)
    reference = [rng.choice(vocabulary) for _ in range(words)]
    output = list(reference)
    for _ in range(words // 8):
        start, length = rng.randrange(len(output)), rng.randint(1, 6)
        block = output[start:start + length]
        del output[start:start + length]
        at = rng.randrange(len(output) + 1)
        output[at:at] = block
    for _ in range(words // 10):
        output[rng.randrange(len(output))] = rng.choice(vocabulary)
    output = output[: words + rng.randint(-10, 0)] + [rng.choice(vocabulary) for _ in range(rng.randint(0, 10))]
    return s(" ".join(output), " ".join(reference))


LONG = [
    synthetic(1, 40, ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "."]),
    synthetic(2, 80, ["x", "y", "z"]),
    synthetic(3, 120, ["alpha", "beta", "gamma", "delta", "epsilon", "the", "of"]),
    s("a " * 3 + "b " * 120, "b " * 5 + "a " * 3),
    s("one two", " ".join(["one", "two", "three"] * 40)),
]

TER_CASES = [
    ("news, defaults", {}, NEWS),
    ("news, case sensitive", {"case_sensitive": True}, NEWS),
    ("news, normalized", {"normalized": True}, NEWS),
    ("news, no punctuation", {"no_punct": True}, NEWS),
    ("assistant answers, defaults", {}, ANSWERS),
    ("assistant answers, normalized no punctuation", {"normalized": True, "no_punct": True}, ANSWERS),
    ("numbers and dashes, normalized", {"normalized": True}, NUMBERS),
    ("entities, normalized", {"normalized": True}, ENTITIES),
    ("entities, defaults", {}, ENTITIES),
    ("reorderings", {}, REORDERED),
    ("several references", {}, MULTI_REF),
    ("several references, normalized case sensitive", {"normalized": True, "case_sensitive": True}, MULTI_REF),
    ("short outputs", {}, SHORT),
    ("empty outputs and references", {}, EMPTY),
    ("case differences, defaults", {}, CASED),
    ("case differences, case sensitive", {"case_sensitive": True}, CASED),
    ("languages, defaults", {}, MULTILINGUAL),
    ("languages, normalized asian", {"normalized": True, "asian_support": True}, MULTILINGUAL),
    ("languages, no punctuation asian", {"no_punct": True, "asian_support": True}, MULTILINGUAL),
    ("languages, asian alone", {"asian_support": True}, MULTILINGUAL),
    ("Unicode edges, normalized asian no punctuation",
     {"normalized": True, "asian_support": True, "no_punct": True}, UNICODE_EDGES),
    ("Unicode edges, normalized case sensitive", {"normalized": True, "case_sensitive": True}, UNICODE_EDGES),
    ("long sentences", {}, LONG),
    ("all samples, defaults", {}, ALL),
    ("all languages, every option",
     {"normalized": True, "no_punct": True, "asian_support": True, "case_sensitive": True}, WORLD),
]


def transpose(samples):
    """sacreBLEU's reference streams; `None` pads samples with fewer references."""
    width = max(len(x["references"]) for x in samples)
    return [[x["references"][i] if i < len(x["references"]) else None for x in samples] for i in range(width)]


def with_ids(samples):
    return [{"id": str(i + 1), "label": None, **x} for i, x in enumerate(samples)]


def bleu_case(name, config, samples):
    sentence = BLEU(effective_order=True, **config)
    corpus = BLEU(**config).corpus_score([x["output"] for x in samples], transpose(samples))
    corpus_scores = {"bleu": corpus.score, "bp": corpus.bp, "ratio": corpus.ratio}
    corpus_scores.update({f"precision{n + 1}": p for n, p in enumerate(corpus.precisions)})
    return {
        "name": name,
        "config": config,
        "samples": with_ids(samples),
        "sample_scores": [
            {"sentence_bleu": sentence.sentence_score(x["output"], x["references"]).score} for x in samples
        ],
        "corpus_scores": corpus_scores,
        "tolerance": TOLERANCE,
    }


def chrf_case(name, config, samples):
    metric = CHRF(**config)
    corpus = CHRF(**config).corpus_score([x["output"] for x in samples], transpose(samples))
    return {
        "name": name,
        "config": config,
        "samples": with_ids(samples),
        "sample_scores": [
            {"sentence_chrf": metric.sentence_score(x["output"], x["references"]).score} for x in samples
        ],
        "corpus_scores": {"chrf": corpus.score},
        "tolerance": TOLERANCE,
    }


def ter_case(name, config, samples):
    metric = TER(**config)
    corpus = TER(**config).corpus_score([x["output"] for x in samples], transpose(samples))
    return {
        "name": name,
        "config": config,
        "samples": with_ids(samples),
        "sample_scores": [{"sentence_ter": metric.sentence_score(x["output"], x["references"]).score} for x in samples],
        "corpus_scores": {"ter": corpus.score},
        "tolerance": TOLERANCE,
    }


def check_compat_functions():
    """The plugins' defaults are those of `sentence_bleu` / `sentence_chrf`."""
    for x in ALL:
        assert sacrebleu.sentence_bleu(x["output"], x["references"]).score == \
            BLEU(effective_order=True).sentence_score(x["output"], x["references"]).score
        assert sacrebleu.sentence_chrf(x["output"], x["references"]).score == \
            CHRF().sentence_score(x["output"], x["references"]).score


TRICKY_LINES = [
    "", " ", "a", "Hello, world!", "3.5", "1,000", "1,000.50", "well-known", "--", "a--b", "9-10", "-5",
    "x-", "5-", "e.g.", "U.S.A.", "a.b,c", ".5", "5.", ",5", "5,", "..", "...", "a...", "1...2", "1..2",
    "5.-3", "5,-3", "-.5", ".,", ",.", "1.,2", "a.,b", "$1,000.50", "3.5%", "(sec. 4.3.2)",
    "&quot;quoted&quot;", "&amp;", "&amp;quot;", "&amp;lt;", "&lt;&gt;", "&apos;", "&QUOT;", "& amp;",
    "<skipped>", "a<skipped>b", "<skip<skipped>ped>", "-<skipped>\n", "hyphen-\nated", "line\nbreak",
    "tab\tseparated", "nbsp\u00a0space", "thin\u2009space", "ideographic\u3000space", "\x1cfile\x1fsep",
    "zero\u200bwidth", "L’économie", "it’s “quoted”", "don't", "'single'", "`back`", "a/b\\c", "x|y~z",
    "{braces}[brackets]", "<tag attr=\"v\">", "a+b=c", "50%", "#1 @home ^up _under", "é.", "é,5", "5,é",
    "٣.٥", "3.٥", "１.５", "Москва — столица.", "東京。", "ﬁ.", "a.\u0301", ".\u00e9", "1-\u00e9",
    "trailing space ", "  leading", "multiple   spaces", "end.", "end,", "1.", "1,", "..5", ",,5",
]


def tokenizer_vectors():
    tokenize = Tokenizer13a()
    rng = random.Random(13)
    pieces = ["a", "Z", "7", "0", ".", ",", "-", " ", "&", "quot;", "amp;", "lt;", "&gt;", "\n", "<skipped>",
              "é", "\u00a0", "'", "’", "(", ")", "$", "%", "/", "\\", "~", "`", "\t", "東", "--", "..", "x"]
    lines = list(TRICKY_LINES)
    for _ in range(400):
        lines.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))))
    return [{"line": line, "tokens": tokenize(line)} for line in lines]


def unicode_tokenizer_vectors():
    """Lines for the intl, zh and char tokenizers: the 13a tricky lines, the
    sample texts, and random mixtures of characters of every class they treat
    apart (digits of several scripts, Unicode punctuation and symbols, CJK,
    kana, full-width forms, spaces, and the edges of sacreBLEU's zh ranges)."""
    tokenizers = {"intl": TokenizerV14International(), "zh": TokenizerZh(), "char": TokenizerChar()}
    rng = random.Random(14)
    pieces = ["a", "Z", "İ", "ı", "7", "٣", "३", "７", "½", "²", ".", ",", "!", "-", "‘", "«", "¿", "、", "。",
              "・", "＂", "'", "€", "₺", "+", "=", "^", "`", "|", "°", "©", "→", "😀", "＄", "中", "あ", "ア", "ｱ",
              "ㄅ", " ", "\u00a0", "\u3000", "\u2009", "\n", "\t", "\u200b", "\u0301", "\u2001", "\u2010",
              "Ⅻ", "\u2a6d", "\u2a6e", "\u2f80", "\u2f81", "\u2fa1", "\u2fa2", "\U00020000", "\u3400", "\u4db5",
              "\u4db6", "\u9fbb", "\u9fbc", "\uff00", "\uffef", "\ufff0", "&", "quot;", "<skipped>", "..", "1,000"]
    texts = [x["output"] for x in MULTILINGUAL + UNICODE_EDGES]
    texts += [r for x in MULTILINGUAL + UNICODE_EDGES for r in x["references"]]
    lines = list(TRICKY_LINES) + texts
    for _ in range(600):
        lines.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 14))))
    # The words BLEU counts: `char` leaves its spaces as they are.
    return [{"tokenizer": name, "line": line, "tokens": " ".join(tokenize(line).split())}
            for name, tokenize in tokenizers.items() for line in lines]


def code_point_ranges(predicate):
    ranges, start = [], None
    for c in range(0x110000):
        if predicate(chr(c)):
            if start is None:
                start = c
        elif start is not None:
            ranges.append([start, c - 1])
            start = None
    if start is not None:
        ranges.append([start, 0x10FFFF])
    return ranges


def unicode_classes():
    """Every code point's class as the tokenizers see it: `\\p{P}`, `\\p{S}`
    and `\\p{N}` of the `regex` module (intl), and sacreBLEU's Chinese ranges
    (zh), whose astral entries Python reads as two characters each."""
    classes = {name: regex.compile(rf"\p{{{name}}}") for name in ("P", "S", "N")}
    ranges = {name: code_point_ranges(lambda c, r=r: r.match(c) is not None) for name, r in classes.items()}
    ranges["zh"] = code_point_ranges(TokenizerZh._is_chinese_char)
    return {"regex": regex.__version__, **ranges}


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(rows)} lines")


def main():
    check_compat_functions()
    write_jsonl(HERE / "bleu.jsonl", [bleu_case(*c) for c in BLEU_CASES])
    write_jsonl(HERE / "chrf.jsonl", [chrf_case(*c) for c in CHRF_CASES])
    write_jsonl(HERE / "ter.jsonl", [ter_case(*c) for c in TER_CASES])
    write_jsonl(ROOT / "plugins" / "bleu" / "tests" / "tokenizer_13a.jsonl", tokenizer_vectors())
    write_jsonl(ROOT / "plugins" / "bleu" / "tests" / "tokenizers.jsonl", unicode_tokenizer_vectors())
    classes = ROOT / "plugins" / "bleu" / "tests" / "unicode_classes.json"
    classes.write_text(json.dumps(unicode_classes()) + "\n")
    print(f"{classes.relative_to(ROOT)}")
    print(f"sacrebleu {sacrebleu.__version__}")


if __name__ == "__main__":
    main()
