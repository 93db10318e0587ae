//! `assay guard`, driven through the real binary.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const GUARDS: [&str; 5] = ["arithmetic", "facts", "flood", "injection", "consensus"];

/// Runs `assay guard INPUT ARGS... -o OUT` and returns its output.
fn guard(input: &Path, args: &[&str], out: &Path) -> std::process::Output {
    run(assay().arg("guard").arg(input).args(args).arg("-o").arg(out).current_dir(root()))
}

/// `decisions.jsonl`, in order.
fn decisions(out: &Path) -> Vec<Value> {
    read_jsonl(&out.join("decisions.jsonl"))
}

/// The lines of a file, without their line endings.
fn lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

/// The verdict letters of the README's table of attacks, per record id and
/// guard: `R`, `Q`; a record or guard the table leaves out accepts.
fn expected_verdicts() -> BTreeMap<String, [char; 5]> {
    let readme = std::fs::read_to_string(root().join("examples/feedback/README.md")).unwrap();
    let table = readme.split("## Attacks and expected verdicts").nth(1).unwrap().split("## Honest").next().unwrap();
    let mut expected = BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| fb-")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 10, "{row}");
        let verdicts: Vec<char> = cells[4..9].iter().map(|c| c.chars().next().unwrap()).collect();
        for id in cells[1].split(", ") {
            expected.insert(id.to_string(), [verdicts[0], verdicts[1], verdicts[2], verdicts[3], verdicts[4]]);
        }
    }
    expected
}

fn honest_look_alikes() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("examples/feedback/README.md")).unwrap();
    let table = readme.split("## Honest look-alikes").nth(1).unwrap();
    table
        .lines()
        .filter(|l| l.starts_with("| fb-"))
        .flat_map(|row| row.split('|').nth(1).unwrap().split(", ").map(|id| id.trim().to_string()))
        .collect()
}

fn example() -> PathBuf {
    root().join("examples/feedback/feedback.jsonl")
}

#[test]
fn every_guard_decides_the_example_feedback_as_its_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("feedback");
    let output = guard(&example(), &["--config", "examples/feedback/assay.toml"], &out);
    expect_code(&output, 0);

    let expected = expected_verdicts();
    let decisions = decisions(&out);
    assert_eq!(decisions.len(), 269);
    for (n, decision) in decisions.iter().enumerate() {
        let id = decision["id"].as_str().unwrap();
        assert_eq!(decision["line"], n + 1);
        let letters = expected.get(id).copied().unwrap_or(['–'; 5]);
        for (guard, letter) in GUARDS.iter().zip(letters) {
            let want = match letter {
                'R' => "reject",
                'Q' => "quarantine",
                _ => "accept",
            };
            assert_eq!(decision["guards"][guard]["decision"], want, "{id}, {guard}: {}", decision["guards"][guard]);
            assert!(decision["guards"][guard].get("error").is_none());
        }
        // Any reject rejects; else any quarantine holds; else accept.
        let combined = if letters.contains(&'R') {
            "reject"
        } else if letters.contains(&'Q') {
            "quarantine"
        } else {
            "accept"
        };
        assert_eq!(decision["decision"], combined, "{id}");
    }

    let by_id: BTreeMap<&str, &Value> = decisions.iter().map(|d| (d["id"].as_str().unwrap(), d)).collect();
    // 2+2=5 in every disguise is rejected; true arithmetic is not.
    for id in ["fb-162", "fb-169", "fb-174", "fb-182", "fb-195", "fb-196", "fb-197", "fb-198", "fb-199"] {
        assert_eq!(by_id[id]["guards"]["arithmetic"]["decision"], "reject", "{id}");
        assert_eq!(by_id[id]["decision"], "reject", "{id}");
        assert!(!by_id[id]["guards"]["arithmetic"]["reason"].as_str().unwrap().is_empty(), "a rejection says why");
    }
    for id in honest_look_alikes() {
        assert_eq!(by_id[id.as_str()]["decision"], "accept", "{id} is honest");
    }
    // The first to rate a prompt is not a contrarian: nobody had rated it yet.
    assert_eq!(by_id["fb-254"]["decision"], "accept");
    assert_eq!(by_id["fb-262"]["decision"], "accept");
    // A flood shows from the 21st record on.
    assert_eq!(by_id["fb-166"]["decision"], "accept");
    assert_eq!(by_id["fb-167"]["guards"]["flood"]["decision"], "quarantine");

    // A campaign's first records, accepted before it showed, are recalled
    // when it shows: those only flood held move to quarantine.
    for id in ["fb-212", "fb-214", "fb-217", "fb-219", "fb-235", "fb-236", "fb-237", "fb-238"] {
        let recalls = &by_id[id]["guards"]["flood"]["recalls"];
        assert_eq!(recalls.as_array().map(Vec::len), Some(1), "{id}: {recalls}");
        assert_eq!((recalls[0]["from"].as_str(), recalls[0]["outcome"].as_str()), (Some("accept"), Some("applied")));
        let shown_at = if id < "fb-220" { "fb-222" } else { "fb-239" };
        assert!(recalls[0]["reason"].as_str().unwrap().contains(&format!("shown at record {shown_at}")), "{recalls}");
        let recalled_from = if id < "fb-220" { json!(null) } else { json!("accept") };
        assert_eq!(by_id[id]["recalled_from"], recalled_from, "{id}: facts rejected the Sydney records anyway");
    }
    assert_eq!(decisions.iter().filter(|d| d.get("recalled_from").is_some()).count(), 4);

    // Each record is in the file of its decision, unchanged, in input order.
    let input = lines(&example());
    for (route, file) in
        [("accept", "accepted.jsonl"), ("quarantine", "quarantined.jsonl"), ("reject", "rejected.jsonl")]
    {
        let want: Vec<&Vec<u8>> =
            decisions.iter().zip(&input).filter(|(d, _)| d["decision"] == route).map(|(_, l)| l).collect();
        let got = lines(&out.join(file));
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{file}");
    }

    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["kind"], "guard");
    assert_eq!(
        summary["counts"],
        json!({"records": 269, "accepted": 212, "quarantined": 32, "rejected": 25, "bad_records": 0, "guard_errors": 0, "recalled": 4})
    );
    assert_eq!(summary["guards"]["arithmetic"], json!({"accept": 257, "quarantine": 0, "reject": 12, "errors": {}}));
    assert_eq!(summary["guards"]["facts"]["reject"], 20);
    assert_eq!(summary["guards"]["flood"]["quarantine"], 21);
    assert_eq!(summary["guards"]["flood"]["recalls"], json!({"applied": 8, "unchanged": 0, "refused": 0}));
    assert_eq!(summary["guards"]["injection"]["quarantine"], 11);
    assert_eq!(summary["guards"]["consensus"]["quarantine"], 25);
    let plugins = summary["plugins"].as_array().unwrap();
    assert_eq!(plugins.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), GUARDS);
    for plugin in plugins {
        assert_eq!(plugin["contract"], "assay:plugin/guard@0.1.4");
        assert_eq!(plugin["sha256"].as_str().unwrap().len(), 64);
        assert!(plugin["version"].is_string() && plugin["limits"]["timeout_ms"].is_number());
        assert_eq!(plugin["on_failure"], "quarantine");
    }
    let grants = plugins[1]["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert!(grants[0].as_str().unwrap().ends_with("facts:/data"), "{grants:?}");
    assert_eq!(plugins[0]["grants"], json!([]));
    assert_eq!(plugins[1]["settings"]["facts"], "21");
    assert_eq!(summary["input"]["format"], "jsonl");
    assert_eq!(summary["input"]["sha256"].as_str().unwrap().len(), 64);
    let table = stdout(&output);
    assert!(table.contains("consensus") && table.contains("all guards"), "{table}");
}

#[test]
fn outputs_are_identical_for_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for jobs in ["1", "2"] {
        let out = dir.path().join(format!("j{jobs}"));
        // Small batches spread the run over many chunks.
        let output =
            guard(&example(), &["--config", "examples/feedback/assay.toml", "--batch-size", "3", "-j", jobs], &out);
        expect_code(&output, 0);
        let files: Vec<Vec<u8>> = ["accepted.jsonl", "quarantined.jsonl", "rejected.jsonl", "decisions.jsonl"]
            .iter()
            .map(|f| std::fs::read(out.join(f)).unwrap())
            .collect();
        let summary = read_json(&out.join("summary.json"));
        results.push((files, summary["counts"].clone(), summary["guards"].clone()));
    }
    assert!(results[0] == results[1], "outputs differ between -j 1 and -j 2");
}

/// A feedback record for the trap guard, whose comment says what it does.
fn record(id: usize, comment: &str) -> Value {
    json!({"id": format!("r{id}"), "user": format!("u{id}"), "timestamp": 1_714_982_400 + id, "prompt": "What is the capital of France?", "output": "Paris.", "rating": true, "comment": comment})
}

#[test]
fn a_guard_that_fails_holds_its_records_or_lets_them_pass_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let comments = ["ok", "ok", "TRAP", "ok", "FAIL", "ok", "RISK", "ok"];
    let records: Vec<Value> = comments.iter().enumerate().map(|(i, c)| record(i, c)).collect();
    let input = jsonl(dir.path(), "f.jsonl", &records);
    let closed = dir.path().join("closed");
    // Batches of 2: the trap ends the call on records 2 and 3, which are
    // called again one by one: only record 2 fails. The FAIL and RISK records fail alone.
    let output =
        guard(&input, &["-g", artifacts::TRAP_GUARD, "-g", "arithmetic", "--batch-size", "2", "-j", "1"], &closed);
    expect_code(&output, 3);
    let decisions = decisions(&closed);
    let kinds: Vec<Value> = decisions.iter().map(|d| d["guards"]["trap_guard"]["error"]["kind"].clone()).collect();
    assert_eq!(
        kinds,
        [
            json!(null),
            json!(null),
            json!("trap"),
            json!(null),
            json!("plugin-error"),
            json!(null),
            json!("invalid-output"),
            json!(null)
        ]
    );
    let routes: Vec<&str> = decisions.iter().map(|d| d["decision"].as_str().unwrap()).collect();
    assert_eq!(routes, ["accept", "accept", "quarantine", "accept", "quarantine", "accept", "quarantine", "accept"]);
    let trapped = &decisions[2]["guards"]["trap_guard"];
    assert!(trapped["error"]["message"].as_str().unwrap().contains("panicked on purpose"), "{trapped}");
    let reason = trapped["reason"].as_str().unwrap();
    assert!(
        reason.contains("on_failure = \"quarantine\"") && reason.contains("restarts without the state"),
        "{reason}"
    );
    // A fresh instance takes over, without the old one's count of records seen.
    assert_eq!(decisions[1]["guards"]["trap_guard"]["reason"], "seen 2");
    assert_eq!(decisions[3]["guards"]["trap_guard"]["reason"], "seen 1");
    // The other guard saw every record.
    assert!(decisions.iter().all(|d| d["guards"]["arithmetic"]["decision"] == "accept"));
    let summary = read_json(&closed.join("summary.json"));
    assert_eq!(summary["guards"]["trap_guard"]["errors"], json!({"invalid-output": 1, "plugin-error": 1, "trap": 1}));
    assert_eq!(summary["counts"]["guard_errors"], 3);
    assert_eq!(lines(&closed.join("quarantined.jsonl")).len(), 3);
    // The table counts them in all, as it does per guard.
    let table = stdout(&output);
    let all = table.lines().find(|l| l.contains("all guards")).unwrap();
    assert!(all.contains("3 records with guard errors"), "{table}");
    assert_eq!(summary["plugins"][0]["fuel"]["trap_splits"], 1);
    // The first failure in input order is kept and printed after the table.
    assert_eq!(summary["guards"]["trap_guard"]["first_error"]["kind"], "trap");
    assert!(summary["guards"]["arithmetic"].get("first_error").is_none());
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with("trap_guard: 1 invalid-output, 1 plugin-error, 1 trap; first: ")
                && l.contains("panicked on purpose")),
        "{table}"
    );

    // Fail open: the same failures, recorded, but the records pass.
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        format!("[plugins.trap_guard]\nsource = {:?}\non_failure = \"accept\"\n", artifacts::TRAP_GUARD),
    )
    .unwrap();
    let open = dir.path().join("open");
    let output = guard(&input, &["--config", config.to_str().unwrap(), "--batch-size", "2"], &open);
    expect_code(&output, 3);
    let decisions = read_jsonl(&open.join("decisions.jsonl"));
    assert!(decisions.iter().all(|d| d["decision"] == "accept"));
    assert_eq!(decisions[2]["guards"]["trap_guard"]["error"]["kind"], "trap");
    assert_eq!(lines(&open.join("accepted.jsonl")), lines(&input));
    let summary = read_json(&open.join("summary.json"));
    assert_eq!(summary["plugins"][0]["on_failure"], "accept");
}

#[test]
fn routing_takes_the_most_severe_decision() {
    let dir = tempfile::tempdir().unwrap();
    let two_plus_two = |id: usize, comment: &str, correction: Option<&str>| {
        let mut r = json!({"id": id, "user": format!("u{id}"), "prompt": "What is 2+2?", "output": "2 + 2 = 4.", "comment": comment});
        if let Some(c) = correction {
            r["correction"] = json!(c);
        }
        r
    };
    let input = jsonl(
        dir.path(),
        "f.jsonl",
        &[
            two_plus_two(1, "HOLD", Some("2+2=5")),
            two_plus_two(2, "HOLD", None),
            two_plus_two(3, "fine", Some("2+2=5")),
            two_plus_two(4, "fine", None),
            two_plus_two(5, "REJECT", None),
        ],
    );
    let out = dir.path().join("out");
    let output = guard(&input, &["-g", artifacts::TRAP_GUARD, "-g", "arithmetic"], &out);
    expect_code(&output, 0);
    let decisions = decisions(&out);
    let got: Vec<(&str, &str, &str)> = decisions
        .iter()
        .map(|d| {
            (
                d["guards"]["trap_guard"]["decision"].as_str().unwrap(),
                d["guards"]["arithmetic"]["decision"].as_str().unwrap(),
                d["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("quarantine", "reject", "reject"),
            ("quarantine", "accept", "quarantine"),
            ("accept", "reject", "reject"),
            ("accept", "accept", "accept"),
            ("reject", "accept", "reject"),
        ]
    );
    assert_eq!(decisions[0]["id"], 1, "numeric ids stay numbers");
}

#[test]
fn facts_reads_only_a_granted_directory() {
    let dir = tempfile::tempdir().unwrap();
    let input =
        jsonl(dir.path(), "f.jsonl", &[json!({"id": "a", "prompt": "What is 2+2?", "output": "4", "correction": "5"})]);
    let out = dir.path().join("out");
    let output = guard(&input, &["-g", "facts"], &out);
    expect_code(&output, 1);
    let message = stderr(&output);
    assert!(
        message.contains("plugin \"facts\": rejected its configuration: cannot read the facts file /data/facts.jsonl"),
        "{message}"
    );
    assert!(message.contains("grants"), "the message says how to grant it: {message}");
    assert!(!out.exists(), "nothing is written");

    // The same guard, granted a copy of the facts folder, reads it.
    std::fs::create_dir(dir.path().join("facts")).unwrap();
    std::fs::copy(root().join("examples/feedback/facts/facts.jsonl"), dir.path().join("facts/facts.jsonl")).unwrap();
    let config = dir.path().join("assay.toml");
    std::fs::write(&config, "[plugins.facts]\ngrants = [\"./facts:/data\"]\n").unwrap();
    let output = guard(&input, &["--config", config.to_str().unwrap()], &out);
    expect_code(&output, 0);
    assert_eq!(decisions(&out)[0]["decision"], "reject");

    // A grant of a folder that is not there is named.
    std::fs::write(&config, "[plugins.facts]\ngrants = [\"./nowhere:/data\"]\n").unwrap();
    let output = guard(&input, &["--config", config.to_str().unwrap()], &out);
    expect_code(&output, 1);
    assert!(stderr(&output).contains("[plugins.facts] grant \"./nowhere:/data\""), "{}", stderr(&output));
}

#[test]
fn unreadable_records_are_quarantined_or_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.jsonl");
    std::fs::write(&path, "{\"id\":\"a\",\"comment\":\"ok\"}\n{\"id\": \"b\", \n\n{\"id\":\"c\",\"rating\":\"meh\"}\n{\"id\":\"d\",\"timestamp\":1714982400.5,\"rating\":4}\n").unwrap();
    let out = dir.path().join("out");
    let output = guard(&path, &["-g", artifacts::TRAP_GUARD, "--on-bad-record", "fail"], &out);
    expect_code(&output, 1);
    let expected = format!("{}:2: invalid JSON at column", path.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    assert!(!out.exists(), "nothing is written");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary folder is left behind");

    let output = guard(&path, &["-g", artifacts::TRAP_GUARD], &out);
    expect_code(&output, 0);
    let decisions = decisions(&out);
    assert_eq!(decisions.len(), 4);
    assert_eq!(decisions[1]["line"], 2);
    assert_eq!(decisions[1]["decision"], "quarantine");
    assert_eq!(decisions[1]["error"]["kind"], "bad-record");
    assert_eq!(decisions[1]["guards"], json!({}));
    assert_eq!(decisions[2]["line"], 4);
    assert!(decisions[2]["error"]["message"].as_str().unwrap().contains("field \"rating\""), "{}", decisions[2]);
    assert_eq!(decisions[3]["decision"], "accept");
    assert_eq!(
        lines(&out.join("quarantined.jsonl")),
        [b"{\"id\": \"b\", ".to_vec(), b"{\"id\":\"c\",\"rating\":\"meh\"}".to_vec()]
    );
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["counts"]["bad_records"], 2);
    assert_eq!(summary["bad_records"][0]["line"], 2);

    // The next run replaces the whole set.
    let small = jsonl(dir.path(), "g.jsonl", &[record(0, "REJECT")]);
    expect_code(&guard(&small, &["-g", artifacts::TRAP_GUARD], &out), 0);
    assert_eq!(lines(&out.join("rejected.jsonl")).len(), 1);
    assert!(lines(&out.join("quarantined.jsonl")).is_empty());
}

#[test]
fn csv_feedback_keeps_its_rows_and_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.csv");
    std::fs::write(&path, "id,author,prompt,output,rating,comment\n1,u1,q,a,up,\"fine, thanks\"\n2,u2,q,a,2,HOLD\n3,u3,q,\"multi\nline\",down,REJECT\n").unwrap();
    let out = dir.path().join("out");
    let output = guard(&path, &["-g", artifacts::TRAP_GUARD, "--field", "user=author"], &out);
    expect_code(&output, 0);
    assert_eq!(
        std::fs::read_to_string(out.join("accepted.csv")).unwrap(),
        "id,author,prompt,output,rating,comment\n1,u1,q,a,up,\"fine, thanks\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("quarantined.csv")).unwrap(),
        "id,author,prompt,output,rating,comment\n2,u2,q,a,2,HOLD\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("rejected.csv")).unwrap(),
        "id,author,prompt,output,rating,comment\n3,u3,q,\"multi\nline\",down,REJECT\n"
    );
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["outputs"]["accepted"], "accepted.csv");
}

#[test]
fn recalls_only_tighten_and_move_records_before_the_outputs_are_final() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.csv");
    // Line 1 is the header; record a spans lines 2 and 3.
    let rows = [
        "a,u1,q,\"multi\nline\",up,ok",
        "b,u2,q,x,up,HOLD",
        "c,u3,q,x,up,REJECT",
        "d,u4,q,x,up,RECALL a quarantine",
        "e,u5,q,x,up,RECALL b accept",
        "f,u6,q,x,up,RECALL c quarantine",
        "g,u7,q,x,up,RECALL b quarantine",
        "h,u8,q,x,up,RECALL nobody reject",
        "i,u9,q,x,up,RECALL j reject",
        "j,u10,q,x,up,ok",
        "k,u11,q,x,up,RECALL a reject",
    ];
    let header = "id,author,prompt,output,rating,comment\n";
    std::fs::write(&path, format!("{header}{}\n", rows.join("\n"))).unwrap();
    let out = dir.path().join("out");
    // One record per batch, so record i recalls j before j is screened.
    let args = ["-g", artifacts::TRAP_GUARD, "-g", "arithmetic", "--field", "user=author", "--batch-size", "1"];
    let output = guard(&path, &args, &out);
    expect_code(&output, 0);

    let file = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let rows_of =
        |picked: &[usize]| format!("{header}{}", picked.iter().map(|&i| format!("{}\n", rows[i])).collect::<String>());
    assert_eq!(file("rejected.csv"), rows_of(&[0, 2]), "a is recalled twice, to reject");
    assert_eq!(file("quarantined.csv"), rows_of(&[1]));
    assert_eq!(file("accepted.csv"), rows_of(&[3, 4, 5, 6, 7, 8, 9, 10]), "nothing recalled is accepted");

    let decisions = decisions(&out);
    let recalls = |i: usize| decisions[i]["guards"]["trap_guard"]["recalls"].clone();
    assert_eq!(decisions[0]["decision"], "reject");
    assert_eq!(decisions[0]["recalled_from"], "accept");
    assert_eq!(decisions[0]["guards"]["trap_guard"]["decision"], "reject");
    assert_eq!(decisions[0]["guards"]["trap_guard"]["reason"], "seen 1", "the first decision's reason is kept");
    assert_eq!(
        recalls(0),
        json!([
            {"from": "accept", "to": "quarantine", "reason": "recalled at d (seen 4)", "after_line": 6, "outcome": "applied"},
            {"from": "quarantine", "to": "reject", "reason": "recalled at k (seen 11)", "after_line": 13, "outcome": "applied"}
        ])
    );
    assert_eq!(decisions[0]["guards"]["arithmetic"]["decision"], "accept", "other guards' entries are untouched");
    let outcomes = |i: usize| -> Vec<String> {
        recalls(i).as_array().unwrap().iter().map(|r| format!("{}>{}:{}", r["from"], r["to"], r["outcome"])).collect()
    };
    assert_eq!(outcomes(1), [r#""quarantine">"accept":"refused""#, r#""quarantine">"quarantine":"unchanged""#]);
    assert_eq!(outcomes(2), [r#""reject">"quarantine":"refused""#], "a recall never loosens");
    for (i, d) in decisions.iter().enumerate().skip(1) {
        assert!(d.get("recalled_from").is_none(), "{d}");
        if i > 2 {
            assert!(d["guards"]["trap_guard"].get("recalls").is_none(), "{d}");
        }
    }

    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["counts"]["recalled"], 1);
    assert_eq!(summary["counts"]["accepted"], 8);
    assert_eq!(summary["counts"]["rejected"], 2);
    let guard = &summary["guards"]["trap_guard"];
    assert_eq!(
        (guard["accept"].clone(), guard["quarantine"].clone(), guard["reject"].clone()),
        (json!(8), json!(1), json!(2))
    );
    assert_eq!(guard["recalls"]["applied"], 2);
    assert_eq!(guard["recalls"]["unchanged"], 1);
    assert_eq!(guard["recalls"]["refused"], 4, "accept, looser, an unknown id, a record not yet screened: {guard}");
    assert_eq!(
        guard["recalls"]["first_refused"],
        "recalled record \"b\" (line 4) to accept, but had decided quarantine: a recall only tightens"
    );
    assert!(summary["guards"]["arithmetic"].get("recalls").is_none());
    let table = stdout(&output);
    let row = table.lines().find(|l| l.contains("trap_guard")).unwrap();
    assert!(row.contains("2 (4 refused)"), "{table}");
    assert!(table.contains("(1 moved by recalls)"), "{table}");
}

/// A line of random feedback: a record with a random command for the trap
/// guard, a malformed line, or a blank one.
fn arbitrary_line() -> impl Strategy<Value = String> {
    let comment = prop_oneof![
        Just("ok".to_string()),
        Just("HOLD".to_string()),
        Just("REJECT".to_string()),
        Just("FAIL".to_string()),
        Just("TRAP".to_string()),
        "\\PC{0,12}"
    ];
    prop_oneof![
        6 => (comment, "\\PC{0,8}", proptest::option::of(any::<bool>())).prop_map(|(comment, user, rating)| {
            let mut r = json!({"user": user, "comment": comment, "prompt": "p"});
            if let Some(up) = rating {
                r["rating"] = json!(up);
            }
            r.to_string()
        }),
        2 => "[^\\n\\r\\x{FEFF}]{1,20}",
        1 => Just("   ".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every record read lands in exactly one of the three files, unchanged
    /// and in input order, whatever the guards decide or however they fail.
    #[test]
    fn no_record_is_lost_or_changed(input_lines in proptest::collection::vec(arbitrary_line(), 0..40), batch in 1usize..5) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let text: String = input_lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        let out = dir.path().join("out");
        let output = guard(&path, &["-g", artifacts::TRAP_GUARD, "--batch-size", &batch.to_string(), "-j", "2"], &out);
        prop_assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));

        let records: Vec<&[u8]> = text.split('\n').map(str::as_bytes).filter(|l| !l.is_empty() && !l.iter().all(u8::is_ascii_whitespace)).collect();
        let decisions = read_jsonl(&out.join("decisions.jsonl"));
        prop_assert_eq!(decisions.len(), records.len());
        let files: Vec<Vec<Vec<u8>>> = ["accepted.jsonl", "quarantined.jsonl", "rejected.jsonl"].iter().map(|f| lines(&out.join(f))).collect();
        prop_assert_eq!(files.iter().map(Vec::len).sum::<usize>(), records.len());
        let mut next = [0usize; 3];
        for (decision, record) in decisions.iter().zip(&records) {
            let route = ["accept", "quarantine", "reject"].iter().position(|r| decision["decision"] == *r).unwrap();
            prop_assert_eq!(&files[route][next[route]][..], *record);
            next[route] += 1;
        }
    }
}

#[test]
fn the_config_file_sets_what_the_flags_set_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        format!(
            "[run]\nbatch_size = 2\n[guard]\nout = \"screened\"\non_bad_record = \"fail\"\n\
             [dataset]\nfields = {{ comment = \"note\" }}\n[plugins.trap]\nsource = {:?}\n",
            artifacts::TRAP_GUARD
        ),
    )
    .unwrap();
    let input = dir.path().join("f.csv");
    std::fs::write(&input, "id,note\n1,ok\n2,HOLD\n3,REJECT\n").unwrap();
    let screen = |args: &[&str]| run(assay().arg("guard").arg(&input).arg("-c").arg(&config).args(args));

    // The output folder comes from [guard] out, relative to the config, and
    // the comment from the column [dataset] fields names.
    expect_code(&screen(&["-q"]), 0);
    let out = dir.path().join("screened");
    assert_eq!(std::fs::read_to_string(out.join("quarantined.csv")).unwrap(), "id,note\n2,HOLD\n");
    assert_eq!(std::fs::read_to_string(out.join("rejected.csv")).unwrap(), "id,note\n3,REJECT\n");
    assert_eq!(read_json(&out.join("summary.json"))["run"]["batch_size"], 2);

    // [guard] on_bad_record = "fail" stops at an unreadable row; the flag wins.
    std::fs::write(&input, "id,note\n1,ok\n2,too,many\n").unwrap();
    let output = screen(&["-q"]);
    expect_code(&output, 1);
    assert!(stderr(&output).contains(&format!("{}:3:", input.display())), "{}", stderr(&output));
    let flagged = dir.path().join("flagged");
    let output = screen(&["-q", "--on-bad-record", "quarantine", "-o", flagged.to_str().unwrap()]);
    expect_code(&output, 0);
    assert_eq!(read_json(&flagged.join("summary.json"))["counts"]["bad_records"], 1);

    // A key no option has is named with its line.
    std::fs::write(&config, "[guard]\nout = \"screened\"\non_bad_recrod = \"fail\"\n").unwrap();
    let output = screen(&["-g", artifacts::TRAP_GUARD]);
    expect_code(&output, 1);
    assert!(stderr(&output).contains("assay.toml: 3: unknown key `on_bad_recrod` in [guard]"), "{}", stderr(&output));
}
