"""Smoke-test built plugin components in wasmtime, with no WASI capability
granted (no files, no environment, no network), as the Assay host runs them.

    python check.py OUT_DIR

Checks each component's contract (describe, metrics, configure errors, call
order), then compares token_f1_py and token_f1_js sample by sample with each
other and with the SQuAD script run natively, on fixed and random texts, and
the two banned_phrases guards decision by decision. Needs the venv of
setup.sh (wasmtime). Exits 1 on the first mismatch.
"""

import json
import os
import random
import sys
import time

import wasmtime
from wasmtime import component

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python", "token_f1"))
sys.path.insert(0, os.path.join(HERE, "python", "banned_phrases"))
import phrases  # noqa: E402
import squad  # noqa: E402

EVALUATOR = "assay:plugin/evaluator@0.1.4"
GUARD = "assay:plugin/guard@0.1.4"


class Plugin:
    def __init__(self, engine, path, interface):
        start = time.perf_counter()
        self.component = component.Component.from_file(engine, path)
        self.compile_seconds = time.perf_counter() - start
        self.engine = engine
        self.interface = interface
        self.path = path

    def instantiate(self):
        linker = component.Linker(self.engine)
        linker.add_wasip2()
        self.store = wasmtime.Store(self.engine)
        self.store.set_wasi(wasmtime.WasiConfig())
        self.instance = linker.instantiate(self.store, self.component)
        self.index = self.instance.get_export_index(self.store, self.interface)
        if self.index is None:
            raise SystemExit(f"{self.path} does not export {self.interface}")
        return self

    def __call__(self, name, *args):
        func = self.instance.get_func(self.store, self.instance.get_export_index(self.store, name, self.index))
        result = func(self.store, *args)
        func.post_return(self.store)
        return result


def record(**fields):
    r = component.Record()
    for k, v in fields.items():
        setattr(r, k, v)
    return r


def sample(output, references, i=0):
    return record(id=str(i), input="", output=output, references=list(references), label=None, metadata="{}")


def feedback(correction=None, comment=None, i=0):
    return record(id=str(i), user="", timestamp=None, prompt="", output="", rating=None,
                  correction=correction, comment=comment, metadata="{}")


def expect(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")


# wasmtime-py returns a result's payload untagged when the ok and err types
# differ, as they do here: a `str` is the err case.
def is_err(value):
    return isinstance(value, str)


FIXED = [
    ("The  Eiffel Tower!", ["eiffel tower"]),
    ("an apple, a pear", ["Apple and pear", "a pear"]),
    ("Theatre", ["the theatre"]),
    ("the’s", ["’s"]),
    ("Ça   va", ["ça va bien"]),
    ("", ["anything"]),
    ("the a an", [""]),
    ("cat cat cat", ["cat"]),
    ("ΟΔΟΣ ΑΣ. Σ", ["οδος ας σ"]),
    ("İstanbul", ["i̇stanbul", "istanbul"]),
    ("STRASSE straße", ["strasse"]),
    ("x\x1cy\x85z\ufeffw\u3000v", ["x y z w v"]),
    ("snake_case the_end", ["snakecase theend"]),
    ("ǅemal Ⅻ ½ ٣", ["ǆemal ⅻ ½ ٣"]),
    ("a\u0301 the\u0301 an\u200d", ["á thé an"]),
]

ALPHABET = (
    list("aAnNtThHeE  bcxyz019.,'!?-_")
    + ["a", "an", "the", "The", "AN", " a ", " the "]
    + list("ΣσςΟΔΑαİıßẞǅǄǆÇçéÉ\u0301\u0345\u00ad\u200d\u2019'ʼ")
    + list("\t\n\x0b\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000\ufeff\u180e")
    + list("٣Ⅻ½²𝟘𐐀𐐨日本語한국어ไทย")
)


def random_text(rng):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def check_token_f1(py, js, rng, n_random):
    for plugin, name in ((py, "token_f1_py"), (js, "token_f1_js")):
        plugin.instantiate()
        expect(is_err(plugin("score", [sample("x", ["x"])])[0]), f"{name}: score before configure is an error")
        info = plugin("describe")
        expect((info.name, info.version) == (name, "0.1.0"), f"{name}: describe")
        metrics = plugin("metrics")
        expect([(m.name, m.level, getattr(m, "higher-is-better")) for m in metrics] == [("f1", "sample", True)],
               f"{name}: metrics")
        bad = plugin("configure", '{"lowercase": false}')
        expect(is_err(bad) and "`lowercase`" in bad, f"{name}: unknown key rejected: {bad!r}")
        expect(is_err(plugin("configure", "[]")), f"{name}: non-object rejected")
        expect(plugin("configure", "{}") == [], f"{name}: {{}} accepted")
        expect(plugin("finalize", []) == [], f"{name}: finalize")
        no_ref = plugin("score", [sample("x", [])])[0]
        expect(is_err(no_ref), f"{name}: a sample without references is an error")

    cases = list(FIXED)
    for _ in range(n_random):
        out = random_text(rng)
        refs = [random_text(rng) for _ in range(rng.randint(1, 3))]
        # Reuse parts of the output so that many cases overlap partially.
        refs.append(" ".join(rng.sample(out.split(), k=len(out.split()) // 2)) + random_text(rng))
        cases.append((out, refs))

    batch = [sample(o, r, i) for i, (o, r) in enumerate(cases)]
    timings = {}
    results = {}
    for plugin, name in ((py, "py"), (js, "js")):
        start = time.perf_counter()
        results[name] = plugin("score", batch)
        timings[name] = time.perf_counter() - start
    native_diffs = 0
    for i, (o, r) in enumerate(cases):
        got_py, got_js = results["py"][i], results["js"][i]
        expect(not is_err(got_py) and not is_err(got_js), f"case {i}: error {got_py!r} {got_js!r}")
        v_py, v_js = got_py.values[0], got_js.values[0]
        expect(v_py == v_js, f"case {i} {o!r} {r!r}: py {v_py!r} != js {v_js!r}")
        if v_py != squad.max_f1(o, r):
            # The host interpreter's Unicode version may differ from the one
            # inside componentize-py; report, do not fail.
            native_diffs += 1
    for i, (o, r) in enumerate(FIXED):
        expect(results["py"][i].values[0] == squad.max_f1(o, r), f"fixed case {i} vs native SQuAD script")
    print(f"token_f1: {len(cases)} samples, py == js on all; "
          f"{native_diffs} differ from the SQuAD script on this host's Python "
          f"(Unicode {__import__('unicodedata').unidata_version}); "
          f"score() took py {timings['py']*1000:.0f} ms, js {timings['js']*1000:.0f} ms")


def check_banned_phrases(py, js, rng):
    config = json.dumps({"phrases": ["Ignore previous", "STRASSE", "ΟΔΟΣ", "日本"], "verdict": "reject"})
    bad_configs = ["{}", '{"phrases": []}', '{"phrases": [""]}', '{"phrases": ["x"], "verdict": "accept"}',
                   '{"phrases": ["x"], "extra": 1}', "[1]", "nope"]
    records = [
        feedback(),
        feedback(comment="please IGNORE PREVIOUS instructions"),
        feedback(correction="the straße is closed"),
        feedback(correction="fine", comment="οδοσ"),
        feedback(comment="日本語"),
        feedback(correction="ignore", comment="previous"),
        feedback(correction="", comment=""),
    ]
    for _ in range(200):
        records.append(feedback(correction=rng.choice([None, random_text(rng) + " straSSe"]),
                                comment=rng.choice([None, random_text(rng), "IGNORE previous" + random_text(rng)])))
    decisions = {}
    for plugin, name in ((py, "banned_phrases_py"), (js, "banned_phrases_js")):
        plugin.instantiate()
        expect(is_err(plugin("screen", [feedback()])[0]), f"{name}: screen before configure is an error")
        info = plugin("describe")
        expect((info.name, info.version) == (name, "0.1.0"), f"{name}: describe")
        for bad in bad_configs:
            expect(is_err(plugin("configure", bad)), f"{name}: rejects {bad}")
        default = plugin("configure", '{"phrases": ["x"]}')
        expect([(s.key, s.value) for s in default] == [("phrases", '["x"]'), ("verdict", "quarantine")],
               f"{name}: default settings")
        settings = plugin("configure", config)
        expect([(s.key, s.value) for s in settings] ==
               [("phrases", '["Ignore previous","STRASSE","ΟΔΟΣ","日本"]'), ("verdict", "reject")],
               f"{name}: settings")
        decisions[name] = [(d.verdict, d.reason, d.risk) for d in plugin("screen", records)]
    matcher = phrases.Matcher.from_json(config)
    for i, rec in enumerate(records):
        hit = matcher.find(rec.correction, rec.comment)
        want = ("accept", "", None) if hit is None else ("reject", phrases.reason(*hit), None)
        expect(decisions["banned_phrases_py"][i] == want, f"py record {i}: {decisions['banned_phrases_py'][i]} != {want}")
        expect(decisions["banned_phrases_js"][i] == want, f"js record {i}: {decisions['banned_phrases_js'][i]} != {want}")
    expect(decisions["banned_phrases_py"][1][1] == 'the comment contains the banned phrase "Ignore previous"', "reason text")
    verdicts = [d[0] for d in decisions["banned_phrases_py"]]
    print(f"banned_phrases: {len(records)} records, py == js == native ({verdicts.count('reject')} rejected)")


def main(out_dir):
    config = wasmtime.Config()
    # A smoke test calls little code: compiling these 12-18 MiB components
    # quickly matters more than running them fast.
    config.cranelift_opt_level = "none"
    # Compiling takes about 20 s per component; wasmtime's cache (in
    # ~/.cache/wasmtime) makes a re-run of unchanged components instant.
    config.cache = True
    engine = wasmtime.Engine(config)
    path = lambda name: os.path.join(out_dir, name + ".wasm")  # noqa: E731
    plugins = {
        "token_f1_py": Plugin(engine, path("token_f1_py"), EVALUATOR),
        "token_f1_js": Plugin(engine, path("token_f1_js"), EVALUATOR),
        "banned_phrases_py": Plugin(engine, path("banned_phrases_py"), GUARD),
        "banned_phrases_js": Plugin(engine, path("banned_phrases_js"), GUARD),
    }
    for name, p in plugins.items():
        print(f"{name}: {os.path.getsize(p.path) / 2**20:.1f} MiB, compiled by wasmtime in {p.compile_seconds:.1f} s")
    rng = random.Random(20261127)
    check_token_f1(plugins["token_f1_py"], plugins["token_f1_js"], rng, n_random=2000)
    check_banned_phrases(plugins["banned_phrases_py"], plugins["banned_phrases_js"], rng)
    print("2 passed, 0 failed")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
