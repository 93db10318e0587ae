//! The broker against a real HTTP server on loopback that speaks the
//! OpenAI chat-completions and Anthropic messages wire formats and answers
//! as a deterministic fake model. No test needs the internet.

#[path = "../../../../tests/common/fake_model.rs"]
mod fake_model;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fake_model::{FakeModel, Trouble};

use assay_models::broker::Policy;
use assay_models::{
    Broker, Budget, CacheMode, ChatRequest, ChatResponse, Message, ModelConfig, ModelError, Price, ProviderKind,
    ResponseCache, ResponseFormat, Role,
};
use serde_json::json;

use fake_model::KEY;

fn config(provider: ProviderKind, fake: &FakeModel) -> ModelConfig {
    ModelConfig {
        provider,
        base_url: fake.base_url(),
        model: "fake-judge-1".into(),
        api_key_env: Some("FAKE_KEY".into()),
        max_concurrency: 4,
        requests_per_minute: None,
        tokens_per_minute: None,
        timeout_ms: 5_000,
        max_retries: 3,
        price: Some(Price { input_per_mtok: 1_000.0, output_per_mtok: 2_000.0 }),
    }
}

fn broker(models: &[(&str, ModelConfig)], policy: Policy) -> Arc<Broker> {
    let models: BTreeMap<String, ModelConfig> = models.iter().map(|(a, c)| (a.to_string(), c.clone())).collect();
    Broker::with_keys(&models, policy, &|variable| (variable == "FAKE_KEY").then(|| KEY.to_string())).unwrap()
}

fn ask(alias: &str, text: &str) -> ChatRequest {
    ChatRequest {
        model: alias.into(),
        messages: vec![
            Message { role: Role::System, content: "Grade the answer from 1 to 5.".into() },
            Message { role: Role::User, content: text.into() },
        ],
        temperature: Some(0.0),
        max_tokens: Some(64),
        seed: Some(7),
        response_format: ResponseFormat::Text,
        top_logprobs: None,
    }
}

fn complete(
    broker: &Arc<Broker>,
    grants: &[&str],
    requests: Vec<ChatRequest>,
) -> Vec<Result<ChatResponse, ModelError>> {
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(broker.complete(&grants, requests))
}

fn cache_policy(dir: &std::path::Path, mode: CacheMode) -> Policy {
    Policy { cache: Some(ResponseCache::new(dir)), mode, replay: false, budget: Budget::default() }
}

#[test]
fn both_wire_formats_carry_every_parameter_and_non_english_text() {
    let fake = FakeModel::start();
    let broker = broker(
        &[("gpt", config(ProviderKind::Openai, &fake)), ("claude", config(ProviderKind::Anthropic, &fake))],
        Policy::default(),
    );
    let text = "İstanbul'da ılık bir gün; 東京は晴れ";
    let mut openai = ask("gpt", text);
    openai.response_format = ResponseFormat::JsonSchema(r#"{"type":"object"}"#.into());
    openai.top_logprobs = Some(2);
    let results = complete(&broker, &["gpt", "claude"], vec![openai, ask("claude", text)]);
    let (gpt, claude) = (results[0].as_ref().unwrap(), results[1].as_ref().unwrap());
    assert_eq!(gpt.text, format!("judged: {text}"));
    assert_eq!(claude.text, format!("judged: {text}"));
    assert_eq!(gpt.usage.input_tokens, text.chars().count() as u64);
    assert_eq!(gpt.logprobs.as_ref().unwrap()[0].top[1], ("5".to_string(), -2.4));
    assert!(!gpt.cached);

    let requests = fake.requests();
    let to = |suffix: &str| requests.iter().find(|r| r.path.ends_with(suffix)).unwrap().clone();
    let (chat, messages) = (to("/v1/chat/completions"), to("/v1/messages"));
    assert_eq!(chat.body["model"], "fake-judge-1");
    assert_eq!(chat.body["seed"], 7);
    assert_eq!(chat.body["temperature"], 0.0);
    assert_eq!(chat.body["max_tokens"], 64);
    assert_eq!(chat.body["top_logprobs"], 2);
    assert_eq!(chat.body["response_format"]["json_schema"]["schema"], json!({"type": "object"}));
    assert_eq!(chat.body["messages"][1]["content"], text);
    assert!(chat.head.to_ascii_lowercase().contains(&format!("authorization: bearer {}", KEY.to_ascii_lowercase())));
    assert_eq!(messages.body["system"], "Grade the answer from 1 to 5.");
    assert_eq!(messages.body["messages"], json!([{"role": "user", "content": text}]));
    let head = messages.head.to_ascii_lowercase();
    assert!(
        head.contains(&format!("x-api-key: {}", KEY.to_ascii_lowercase()))
            && head.contains("anthropic-version: 2023-06-01")
    );

    let usage = broker.usage();
    assert_eq!(usage["gpt"].requests, 1);
    let expected_cost = (text.chars().count() as f64 * 1_000.0 + 3.0 * 2_000.0) / 1e6;
    assert!((usage["gpt"].cost - expected_cost).abs() < 1e-12, "{}", usage["gpt"].cost);
}

#[test]
fn a_model_not_granted_is_a_typed_error_counted_and_never_called() {
    let fake = FakeModel::start();
    let broker = broker(&[("gpt", config(ProviderKind::Openai, &fake))], Policy::default());
    let results = complete(&broker, &[], vec![ask("gpt", "a"), ask("nonesuch", "b")]);
    assert_eq!(results[0].as_ref().unwrap_err().kind(), "not-granted");
    assert!(matches!(results[1], Err(ModelError::Unknown(_))));
    assert_eq!(broker.usage()["gpt"].denied, 1);
    assert!(fake.requests().is_empty());
}

#[test]
fn the_cache_answers_a_rerun_with_no_request_and_replay_needs_no_server() {
    let fake = FakeModel::start();
    let dir = tempfile::tempdir().unwrap();
    let gpt = config(ProviderKind::Openai, &fake);
    let requests = || vec![ask("gpt", "one"), ask("gpt", "two"), ask("gpt", "one")];
    let first =
        complete(&broker(&[("gpt", gpt.clone())], cache_policy(dir.path(), CacheMode::Rw)), &["gpt"], requests());
    let sent = fake.requests().len();
    assert!(sent >= 2, "{sent}");
    let again_broker = broker(&[("gpt", gpt.clone())], cache_policy(dir.path(), CacheMode::Rw));
    let again = complete(&again_broker, &["gpt"], requests());
    assert_eq!(fake.requests().len(), sent, "a rerun makes no request");
    assert!(again.iter().all(|r| r.as_ref().unwrap().cached));
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(a.as_ref().unwrap().text, b.as_ref().unwrap().text);
    }
    assert_eq!(again_broker.usage()["gpt"].cache_hits, 3);

    // Replay: the server's address now refuses connections; a miss is typed.
    drop(fake);
    let replay = Policy { replay: true, ..cache_policy(dir.path(), CacheMode::Ro) };
    let replayed =
        complete(&broker(&[("gpt", gpt.clone())], replay), &["gpt"], vec![ask("gpt", "two"), ask("gpt", "new")]);
    assert_eq!(replayed[0].as_ref().unwrap().text, "judged: two");
    assert_eq!(replayed[1].as_ref().unwrap_err().kind(), "not-cached");

    // The key is read by the host alone: no cache file holds it. Entries are
    // created as any file (0666 less the umask), so a team can share them.
    #[cfg(target_os = "linux")]
    let umask = {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        u32::from_str_radix(status.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap().trim(), 8).unwrap()
    };
    for entry in fake_model::files_under(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(KEY), "{} holds the key", entry.display());
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o666 & !umask, "{}", entry.display());
        }
    }

    // Exported, imported elsewhere, replayed there.
    let export = dir.path().join("judged.jsonl");
    assert_eq!(ResponseCache::new(dir.path()).export(&export).unwrap(), 2);
    let elsewhere = tempfile::tempdir().unwrap();
    assert_eq!(ResponseCache::new(elsewhere.path()).import(&export).unwrap(), 2);
    let replay = Policy { replay: true, ..cache_policy(elsewhere.path(), CacheMode::Ro) };
    let moved = complete(&broker(&[("gpt", gpt)], replay), &["gpt"], vec![ask("gpt", "one")]);
    assert_eq!(moved[0].as_ref().unwrap().text, "judged: one");
}

#[test]
fn rate_limits_and_server_errors_are_retried_and_the_key_never_surfaces() {
    let fake = FakeModel::start();
    let broker = broker(&[("gpt", config(ProviderKind::Openai, &fake))], Policy::default());
    fake.trouble(&[Trouble::Status(429, "Retry-After: 1\r\n"), Trouble::Status(503, "")]);
    let started = std::time::Instant::now();
    let result = complete(&broker, &["gpt"], vec![ask("gpt", "retry me")]);
    assert_eq!(result[0].as_ref().unwrap().text, "judged: retry me");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    assert_eq!(broker.usage()["gpt"].retries, 2);
    assert_eq!(fake.requests().len(), 3);

    // Past max_retries (3), a 429 is `rate-limited`; a 400 is not retried.
    fake.trouble(&[Trouble::Status(429, "Retry-After: 0\r\n"); 4]);
    let result = complete(&broker, &["gpt"], vec![ask("gpt", "give up")]);
    assert_eq!(result[0].as_ref().unwrap_err().kind(), "rate-limited");
    fake.trouble(&[Trouble::Status(400, "")]);
    let before = fake.requests().len();
    let result = complete(&broker, &["gpt"], vec![ask("gpt", "bad")]);
    let error = result[0].as_ref().unwrap_err();
    assert_eq!(fake.requests().len(), before + 1, "a 400 is not retried");
    assert!(matches!(error, ModelError::Provider { status: 400, .. }), "{error}");
    assert!(!error.to_string().contains(KEY) && error.to_string().contains("[redacted]"), "{error}");
}

#[test]
fn the_budget_stops_requests_and_cache_hits_are_free() {
    let fake = FakeModel::start();
    let dir = tempfile::tempdir().unwrap();
    let budget = Budget { max_requests: Some(2), ..Budget::default() };
    let policy = Policy { budget, ..cache_policy(dir.path(), CacheMode::Rw) };
    let limited = broker(&[("gpt", config(ProviderKind::Openai, &fake))], policy.clone());
    let results = complete(&limited, &["gpt"], (0..5).map(|i| ask("gpt", &format!("q{i}"))).collect());
    let exhausted = results.iter().filter(|r| r.as_ref().is_err_and(|e| e.kind() == "budget-exhausted")).count();
    assert_eq!((results.len() - exhausted, exhausted), (2, 3));
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(limited.usage()["gpt"].failures, 3);

    // What was answered is answered again, free, under the same budget.
    let answered: Vec<ChatRequest> =
        (0..5).filter(|&i| results[i].is_ok()).map(|i| ask("gpt", &format!("q{i}"))).collect();
    let again = complete(&broker(&[("gpt", config(ProviderKind::Openai, &fake))], policy), &["gpt"], answered);
    assert!(again.iter().all(|r| r.as_ref().is_ok_and(|r| r.cached)));

    // A cost cap: each answer here costs (2 input + 3 output tokens) priced per million.
    let fake = FakeModel::start();
    let budget = Budget { max_cost: Some(0.0075), ..Budget::default() };
    let mut cheap = config(ProviderKind::Openai, &fake);
    cheap.max_concurrency = 1;
    let capped = broker(&[("gpt", cheap)], Policy { budget, ..Policy::default() });
    let short = |i: usize| ChatRequest { max_tokens: None, ..ask("gpt", &format!("q{i}")) };
    let results = complete(&capped, &["gpt"], (0..3).map(short).collect());
    // 0.008 per answer: the first to start passes, the cap is then reached.
    // Which one starts first is up to timing, as it would be in a run.
    let kinds: Vec<&str> = results.iter().filter_map(|r| r.as_ref().err()).map(ModelError::kind).collect();
    assert_eq!(kinds, ["budget-exhausted", "budget-exhausted"], "{results:?}");
}

#[test]
fn requests_run_concurrently_up_to_the_models_limit() {
    let fake = FakeModel::start();
    *fake.latency.lock().unwrap() = Duration::from_millis(150);
    let broker = broker(&[("gpt", config(ProviderKind::Openai, &fake))], Policy::default());
    let results = complete(&broker, &["gpt"], (0..12).map(|i| ask("gpt", &format!("q{i}"))).collect());
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fake.most_in_flight.load(Ordering::SeqCst), 4, "max_concurrency = 4 is used, and not passed");
    // Answers come back in request order, whatever order they finished in.
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.as_ref().unwrap().text, format!("judged: q{i}"));
    }
}

#[test]
fn tokens_per_minute_spaces_requests_by_the_tokens_answers_used() {
    let fake = FakeModel::start();
    // Each answer uses 5 tokens (2 in, 3 out): at 600 a minute, half a
    // second's worth. One at a time, each waits for the tokens before it.
    let limited =
        ModelConfig { tokens_per_minute: Some(600), max_concurrency: 1, ..config(ProviderKind::Openai, &fake) };
    let broker = broker(&[("gpt", limited)], Policy::default());
    let started = std::time::Instant::now();
    let results = complete(&broker, &["gpt"], (0..5).map(|i| ask("gpt", &format!("q{i}"))).collect());
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(broker.usage()["gpt"].input_tokens + broker.usage()["gpt"].output_tokens, 25);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1_900), "4 answers' 20 tokens are worth 2 s at 600/min; waited {waited:?}");
    assert_eq!(broker.identity("gpt").as_deref(), Some("openai/fake-judge-1"));
    assert_eq!(broker.identity("nobody"), None);
}
