"""Conformance vectors for the `token_f1`, `similarity` and `json` plugins.

Writes `token_f1.jsonl`, `similarity.jsonl` and `json.jsonl` next to this
file. Run from anywhere:

    pip install -r tests/conformance/requirements.txt
    python tests/conformance/generate_misc.py

token_f1: `normalize_answer`, `f1_score` and `metric_max_over_ground_truths`
below are copied verbatim from the official SQuAD v1.1 evaluation script
(`evaluate-v1.1.py`), which is not packaged; the only change is `f1_score`'s
integer 0 becoming a float in the JSON.

similarity: `levenshtein` is `rapidfuzz.distance.Levenshtein.normalized_similarity`
(on code points, no preprocessing), best over the references. `cosine` is
scikit-learn's `cosine_similarity` of `CountVectorizer` term counts, with the
plugin's tokenizer: lowercase (`str.lower`), then runs of Unicode word
characters as UTS #18 defines `\\w` (alphabetic, marks, decimal digits,
connector punctuation, joiners), here from the `regex` module. Two texts
without any word are defined as identical (1.0), which scikit-learn leaves 0.

json: `valid` is Python's `json.loads` with `NaN`/`Infinity` refused (RFC
8259, as the plugin parses); `schema_valid` is `jsonschema.validators.
validator_for(schema)(schema).is_valid(value)`, the draft taken from
`$schema` and 2020-12 by default. The cases avoid where `json.loads` is more
lenient than RFC 8259 in other ways (lone surrogates, numbers beyond float
range) and nesting beyond the plugin's limit of 128.
"""

import json
import random
import re
import string
from collections import Counter
from pathlib import Path

import jsonschema
import regex
from rapidfuzz.distance import Levenshtein
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics.pairwise import cosine_similarity

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-9


# --- From the official SQuAD v1.1 evaluation script. ---

def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

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


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)

# --- End of the SQuAD script. ---


def qa(question, prediction, *answers):
    return {"input": question, "output": prediction, "references": list(answers)}


TOKEN_F1_CASES = {
    "squad-style answers, several references": [
        qa("Which NFL team represented the AFC at Super Bowl 50?", "Denver Broncos",
           "Denver Broncos", "Denver Broncos", "Denver Broncos"),
        qa("Where did Super Bowl 50 take place?", "Levi's Stadium in the San Francisco Bay Area",
           "Santa Clara, California", "Levi's Stadium", "Levi's Stadium in the San Francisco Bay Area at Santa Clara, California."),
        qa("What color was used to emphasize the 50th anniversary?", "gold",
           "gold", "gold", "gold"),
        qa("What was the theme of Super Bowl 50?", "the golden anniversary",
           "\"golden anniversary\"", "gold-themed", "\"golden anniversary"),
        qa("In what year was the university founded?", "It was founded in 1842.",
           "1842", "1842", "in 1842"),
        qa("What is the name of the main campus library?", "Hesburgh Library, with 14 floors",
           "Hesburgh Library", "Theodore M. Hesburgh Library", "the Hesburgh Library"),
        qa("How many student news papers are found at Notre Dame?", "three",
           "three", "three", "three"),
        qa("What entity provides help with the management of time for new students?", "the Learning Resource Center",
           "Learning Resource Center", "Learning Resource Center", "Learning Resource Center"),
        qa("Who was the Super Bowl 50 MVP?", "Peyton Manning",
           "Von Miller", "Von Miller", "Miller"),
        qa("How many yards did Ted Ginn Jr. return the opening kickoff?", "47 yards",
           "47", "47", "47 yards"),
        qa("Which river runs through Warsaw?", "The Vistula River",
           "Vistula", "Vistula River", "the Vistula"),
        qa("What did Tesla develop in 1887?", "an induction motor that ran on alternating current",
           "induction motor", "an induction motor that ran on alternating current", "induction motor"),
    ],
    "articles, punctuation and case traps": [
        qa("Name the play.", "The Tempest", "the tempest"),
        qa("Name the play.", "Tempest, The", "The Tempest"),
        qa("Who wrote it?", "Shakespeare.", "shakespeare"),
        qa("What is it called?", "Theatre of the Absurd", "theater of absurd"),
        qa("Which article?", "an", "a"),
        qa("Which article?", "the", "the"),
        qa("Which one?", "A", "an apple"),
        qa("What is the date?", "July 4th, 1776", "4 July 1776", "July 4, 1776"),
        qa("Where?", "U.S.A.", "USA", "United States"),
        qa("What was said?", "“the answer”", "\"the answer\""),
        qa("What was said?", "Rock 'n' roll!", "rock n roll"),
        qa("Which word?", "state-of-the-art", "state of the art"),
        qa("Which one?", "the the the cat", "cat cat"),
        qa("Which one?", "cat cat dog", "the cat"),
        qa("Which one?", "a_b the_c", "a b the c"),
    ],
    "empty and degenerate answers": [
        qa("Unanswerable?", "", "Denver Broncos"),
        qa("Unanswerable?", "Denver Broncos", ""),
        qa("Unanswerable?", "", ""),
        qa("Only punctuation?", "...", "?!"),
        qa("Only articles?", "The", "a"),
        qa("Only articles?", "the a an", "the"),
        qa("Whitespace?", "   \n\t ", "Paris"),
        qa("Best of empty and real?", "Paris", "", "Paris, France"),
        qa("Long rambling answer?",
           "Well, it is hard to say, but most historians agree that the capital was moved to Kyoto in 794.",
           "Kyoto", "794"),
    ],
    "unicode answers": [
        qa("Capital?", "São Paulo", "sao paulo", "São Paulo"),
        qa("Who?", "Antonín Dvořák", "Dvořák"),
        qa("City?", "Zürich, Switzerland", "Zurich"),
        qa("Where?", "東京 タワー", "東京タワー", "東京 タワー"),
        qa("Where?", "New\u00a0York City", "New York"),
        qa("Who?", "ΣΩΚΡΑΤΗΣ", "σωκρατης"),
        qa("Who?", "the naïve one", "naïve"),
        qa("What?", "Straße", "STRASSE", "strasse"),
        qa("What?", "the café — a bistro", "Café"),
    ],
}


def token_f1_cases():
    cases = []
    for name, samples in TOKEN_F1_CASES.items():
        samples = [dict(s, id=str(i + 1), label=None) for i, s in enumerate(samples)]
        cases.append({
            "name": name,
            "config": {},
            "samples": samples,
            "sample_scores": [
                {"f1": float(metric_max_over_ground_truths(f1_score, s["output"], s["references"]))}
                for s in samples
            ],
            "corpus_scores": {},
            "tolerance": TOLERANCE,
        })
    return cases


def tokenize(text):
    return regex.findall(r"\w+", text)


def cosine(a, b):
    vectorizer = CountVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=True)
    try:
        counts = vectorizer.fit_transform([a, b])
    except ValueError:  # neither text has a word: the vocabulary is empty
        return 1.0
    return float(cosine_similarity(counts[0], counts[1])[0, 0])


def similarity_scores(output, references):
    return {
        "cosine": max(cosine(output, r) for r in references),
        "levenshtein": max(Levenshtein.normalized_similarity(output, r) for r in references),
    }


def pair(output, *references, input=""):
    return {"input": input, "output": output, "references": list(references)}


SIMILARITY_CASES = {
    "assistant answers": [
        pair("The capital of Australia is Canberra.", "Canberra is the capital of Australia."),
        pair("Water boils at 100 degrees Celsius at sea level.",
             "At sea level, water boils at 100 °C.", "Water boils at 100 degrees Celsius."),
        pair("I'm sorry, but I can't help with that.", "Sure! Here is a summary of the article."),
        pair("To reverse a list in Python, use my_list[::-1] or my_list.reverse().",
             "Use list.reverse() to reverse in place, or slicing with [::-1] for a copy."),
        pair("Mitochondria are the powerhouse of the cell.", "The mitochondrion is the powerhouse of the cell."),
        pair("Paris", "Paris"),
        pair("paris", "Paris"),
        pair("The meeting is on Monday, Monday at 10 am.", "The meeting is on Monday at 10am."),
        pair("yes", "no", "yes, definitely", "Yes"),
        pair("Photosynthesis is the process by which green plants and some other organisms use sunlight to "
             "synthesize foods from carbon dioxide and water. It generally involves the green pigment chlorophyll "
             "and generates oxygen as a by-product.",
             "Photosynthesis is the process in which plants, algae and some bacteria use the energy of sunlight to "
             "turn carbon dioxide and water into glucose, releasing oxygen as a by-product; it relies on the "
             "pigment chlorophyll."),
    ],
    "typos and edits": [
        pair("recieve", "receive"),
        pair("kitten", "sitting"),
        pair("flaw", "lawn"),
        pair("Saturday", "Sunday"),
        pair("The quick brown fox", "The quick brown fox jumps over the lazy dog"),
        pair("abc", "xyz"),
        pair("a", "ab", "abc", "b"),
    ],
    "empty texts": [
        pair("", ""),
        pair("", "something"),
        pair("something", ""),
        pair("...", "!!!"),
        pair("???", "what?"),
        pair("", "", "nonempty"),
    ],
    "unicode": [
        pair("Café au lait", "cafe au lait"),
        pair("naïve résumé", "NAÏVE RÉSUMÉ"),
        pair("Straße", "STRASSE"),
        pair("Привет, мир!", "привет мир"),
        pair("東京タワーに行きました", "東京タワーへ行った"),
        pair("हिन्दी भाषा", "हिंदी भाषा"),
        pair("emoji 👍🏽 ok", "emoji 👍 ok"),
        pair("e\u0301cole", "\u00e9cole"),
        pair("ΟΔΥΣΣΕΥΣ", "οδυσσευς"),
        pair("snake_case_name x²", "snake case name x2"),
    ],
}


def random_pairs(rng):
    """Short texts over a tiny alphabet: many repeated words and partial
    overlaps, the cases where an edit-distance or counting slip shows."""
    def text():
        return "".join(rng.choice("ab Bé ") for _ in range(rng.randint(0, 24)))
    return [pair(text(), *(text() for _ in range(rng.randint(1, 3)))) for _ in range(40)]


def similarity_cases():
    cases = []
    rng = random.Random(7)
    for name, samples in dict(SIMILARITY_CASES, **{"random strings": random_pairs(rng)}).items():
        samples = [dict(s, id=str(i + 1), label=None) for i, s in enumerate(samples)]
        cases.append({
            "name": name,
            "config": {},
            "samples": samples,
            "sample_scores": [similarity_scores(s["output"], s["references"]) for s in samples],
            "corpus_scores": {},
            "tolerance": TOLERANCE,
        })
    return cases


def refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def unfenced(output):
    """The plugin's `strip_code_fence`: the inside of a Markdown code block
    that makes up the whole output, else the output."""
    block = output.strip()
    if block.startswith("```") and "\n" in block[3:]:
        body = block[3:].split("\n", 1)[1]
        if body.endswith("```"):
            return body[:-3]
    return output


def json_scores(config, output):
    text = unfenced(output) if config.get("strip_code_fence") else output
    try:
        value = json.loads(text, parse_constant=refuse_constant)
    except ValueError:
        return {"valid": 0.0, "schema_valid": 0.0}
    schema = config.get("schema")
    conforms = schema is None or jsonschema.validators.validator_for(schema)(schema).is_valid(value)
    return {"valid": 1.0, "schema_valid": float(conforms)}


PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"$ref": "#/$defs/age"},
        "email": {"type": "string"},
        "tags": {"type": "array", "items": {"enum": ["customer", "vip", "staff"]}, "uniqueItems": True},
    },
    "additionalProperties": False,
    "$defs": {"age": {"type": "integer", "minimum": 0, "maximum": 150}},
}

TOOL_CALL_DRAFT7 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["tool", "arguments"],
    "properties": {
        "tool": {"enum": ["search", "calculator"]},
        "arguments": {"type": "object"},
    },
    "if": {"properties": {"tool": {"const": "calculator"}}},
    "then": {"properties": {"arguments": {"required": ["expression"]}}},
    "else": {"properties": {"arguments": {"required": ["query"]}}},
}

EXTRACTIONS = [
    '{"name": "Ada Lovelace", "age": 36}',
    '{"name": "Ada Lovelace", "age": 36, "tags": ["customer", "vip"]}',
    '{"name": "Alan Turing", "age": 41.0, "email": "alan@example.org"}',
    '{"name": "", "age": 30}',
    '{"name": "Grace Hopper"}',
    '{"name": "Grace Hopper", "age": "85"}',
    '{"name": "Grace Hopper", "age": 85, "nickname": "Amazing Grace"}',
    '{"name": "Linus", "age": 200}',
    '{"name": "Linus", "age": 54, "tags": ["vip", "vip"]}',
    '{"name": "Linus", "age": 54, "tags": ["admin"]}',
    '[{"name": "Ada Lovelace", "age": 36}]',
    '{"name": "Ada Lovelace", "age": 36,}',
    "{'name': 'Ada Lovelace', 'age': 36}",
    'Sure! Here is the JSON: {"name": "Ada Lovelace", "age": 36}',
    '```json\n{"name": "Ada Lovelace", "age": 36}\n```',
    '  \n{"name": "Ada Lovelace", "age": 36}\n\n',
    '{"name": "Ada Lovelace", "age": 36} {"name": "Alan Turing", "age": 41}',
    '{"name": "Ada \\u00e9", "age": 3.6e1}',
]

FENCED = [
    '```json\n{"tool": "search", "arguments": {"query": "weather in Oslo"}}\n```',
    '```JSON\n{"tool": "calculator", "arguments": {"expression": "2+2"}}\n```\n',
    '```\n{"tool": "calculator", "arguments": {"query": "2+2"}}\n```',
    '\n\n```json\n{"tool": "search", "arguments": {}}\n```  ',
    'Calling the tool now.\n```json\n{"tool": "search", "arguments": {"query": "x"}}\n```',
    '```json {"tool": "search", "arguments": {"query": "x"}}```',
    '```json\n{"tool": "search", "arguments": {"query": "x"}}',
    '{"tool": "search", "arguments": {"query": "unfenced"}}',
    '```json\n{"tool": "browse", "arguments": {"url": "https://example.org"}}\n```',
    '```json\n```',
    '```json\n{"tool": "search", "arguments": {"query": "a"}}\n```\n```json\n{}\n```',
]

ANY_JSON = [
    "{}", "[]", "null", "true", "false", "0", "-0", "1e-7", "-12.5E+3", '"text"', '"tab\\tand \\ud83d\\ude00"',
    "", " ", "NaN", "Infinity", "-Infinity", "01", "1.", ".5", "+1", "[1, 2", '{"a" 1}', "{a: 1}", "[1,]",
    "// comment\n{}", "/* c */ {}", "None", "True", "'single'", '{"a": 1}\n', '{"a": {"b": {"c": [[[]]]}}}',
    '"unterminated', '{"dup": 1, "dup": 2}', "\ufeff{}", '"control \x01 char"',
]


def json_cases():
    cases = []
    for name, config, outputs in [
        ("any JSON, no schema", {}, ANY_JSON),
        ("person extraction, 2020-12 schema", {"schema": PERSON}, EXTRACTIONS),
        ("person extraction, schema, code fences stripped", {"schema": PERSON, "strip_code_fence": True},
         EXTRACTIONS),
        ("tool calls, draft-07 if/then/else, fences kept", {"schema": TOOL_CALL_DRAFT7}, FENCED),
        ("tool calls, draft-07 if/then/else, fences stripped",
         {"schema": TOOL_CALL_DRAFT7, "strip_code_fence": True}, FENCED),
        ("boolean schema false", {"schema": False}, ["{}", "1", "nope"]),
    ]:
        samples = [{"id": str(i + 1), "input": "", "output": o, "references": [], "label": None}
                   for i, o in enumerate(outputs)]
        cases.append({
            "name": name,
            "config": config,
            "samples": samples,
            "sample_scores": [json_scores(config, o) for o in outputs],
            "corpus_scores": {},
            "tolerance": TOLERANCE,
        })
    return cases


def write(file, cases):
    with open(HERE / file, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{file}: {len(cases)} cases, {sum(len(c['samples']) for c in cases)} samples")


def main():
    write("token_f1.jsonl", token_f1_cases())
    write("similarity.jsonl", similarity_cases())
    write("json.jsonl", json_cases())


if __name__ == "__main__":
    main()
