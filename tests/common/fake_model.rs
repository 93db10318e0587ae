//! A fake language model on loopback for tests: a real HTTP server that
//! speaks the OpenAI chat-completions and Anthropic messages wire formats
//! and answers `judged: ` followed by the last user message; asked for JSON
//! (a JSON Schema response format), it judges like the `judge` template
//! expects: `{"reason", "score"}` with 5 when the answer equals the
//! reference answer in the prompt, else 1. It records
//! every request, can be told to answer with errors first or slowly, and
//! counts the requests in flight. Shared by the broker's tests and the
//! binary's, so there is one fake to trust.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// The API key the tests give the host; no file, log or error may hold it.
pub const KEY: &str = "sk-test-NEVER-WRITTEN-4b1d";

/// One request the fake model server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub head: String,
    pub body: Value,
}

/// What the server does next, before answering normally.
#[derive(Debug, Clone, Copy)]
pub enum Trouble {
    /// This status, with these extra header lines.
    Status(u16, &'static str),
    /// A 200 whose answer text is this.
    Text(&'static str),
}

/// The fake model: it answers `judged: ` and the last user message.
pub struct FakeModel {
    pub addr: String,
    received: Arc<Mutex<Vec<Received>>>,
    trouble: Arc<Mutex<VecDeque<Trouble>>>,
    pub latency: Arc<Mutex<Duration>>,
    in_flight: Arc<AtomicUsize>,
    pub most_in_flight: Arc<AtomicUsize>,
}

impl FakeModel {
    pub fn start() -> FakeModel {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fake = FakeModel {
            addr: listener.local_addr().unwrap().to_string(),
            received: Arc::default(),
            trouble: Arc::default(),
            latency: Arc::default(),
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
        };
        let (received, trouble, latency, in_flight, most) = (
            fake.received.clone(),
            fake.trouble.clone(),
            fake.latency.clone(),
            fake.in_flight.clone(),
            fake.most_in_flight.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (received, trouble, latency, in_flight, most) =
                    (received.clone(), trouble.clone(), latency.clone(), in_flight.clone(), most.clone());
                std::thread::spawn(move || {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Counted out before the answer is written, so a client that
                    // starts its next request on reading it is never counted twice.
                    // Read first: a guard in the call's arguments would be
                    // held through the whole answer, one connection at a time.
                    let latency = *latency.lock().unwrap();
                    serve(stream, &received, &trouble, latency, || {
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    });
                });
            }
        });
        fake
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn trouble(&self, troubles: &[Trouble]) {
        self.trouble.lock().unwrap().extend(troubles.iter().cloned());
    }
}

fn serve(
    mut stream: std::net::TcpStream,
    received: &Mutex<Vec<Received>>,
    trouble: &Mutex<VecDeque<Trouble>>,
    latency: Duration,
    answered: impl FnOnce(),
) {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    received.lock().unwrap().push(Received { path: path.clone(), head, body: body.clone() });
    std::thread::sleep(latency);
    let (status, extra, answer) = match trouble.lock().unwrap().pop_front() {
        Some(Trouble::Status(status, extra)) => (
            status,
            extra,
            json!({"error": {"message": format!("trouble {status}; your key sk-test-NEVER-WRITTEN-4b1d")}}),
        ),
        Some(Trouble::Text(text)) => (200, "", with_text(&path, &body, text, None)),
        None => (200, "", answer(&path, &body)),
    };
    let text = answer.to_string();
    answered();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{text}",
        text.len()
    );
}

/// The fake model's answer: `judged: ` and the last user message, or a
/// judgment when JSON is asked for.
fn answer(path: &str, body: &Value) -> Value {
    let last = body["messages"].as_array().and_then(|m| m.last()).map_or("", |m| m["content"].as_str().unwrap_or(""));
    let section = |name: &str| last.split_once(name).map(|(_, rest)| rest.lines().nth(1).unwrap_or("").to_string());
    let schema = body["response_format"]["json_schema"].to_string();
    if body["response_format"]["type"] != "json_schema" {
        return with_text(path, body, &format!("judged: {last}"), None);
    }
    if schema.contains("winner") {
        // Pairwise: the answer equal to the reference wins; when neither
        // or both are, this judge has a position bias and says "A".
        let reference = section("Reference answer:");
        let (a, b) = (section("Answer A:") == reference, section("Answer B:") == reference);
        let winner = match (a, b) {
            (true, false) => "A",
            (false, true) => "B",
            (true, true) => "tie",
            (false, false) => "A",
        };
        return with_text(path, body, &json!({"reason": "compared", "winner": winner}).to_string(), None);
    }
    if !schema.contains("\"score\"") {
        return with_text(path, body, &format!("judged: {last}"), None);
    }
    let score = if section("Answer:").is_some() && section("Answer:") == section("Reference answer:") { 5 } else { 1 };
    let text = json!({"reason": "compared with the reference", "score": score}).to_string();
    // The score token is 70% sure; the next score down (or up) has the rest.
    let prefix = text.split_once("\"score\":").unwrap().0.to_string() + "\"score\":";
    let other = if score > 1 { score - 1 } else { score + 1 };
    let tokens = json!({"content": [
        {"token": prefix, "logprob": 0.0, "top_logprobs": []},
        {"token": score.to_string(), "logprob": 0.7f64.ln(),
         "top_logprobs": [{"token": score.to_string(), "logprob": 0.7f64.ln()}, {"token": other.to_string(), "logprob": 0.3f64.ln()}]},
        {"token": "}", "logprob": 0.0, "top_logprobs": []}]});
    with_text(path, body, &text, Some(tokens))
}

/// An answer in the wire format of `path` whose text is `text`, with
/// `tokens` as its logprobs when they are asked for (else one made-up token).
fn with_text(path: &str, body: &Value, text: &str, tokens: Option<Value>) -> Value {
    let last = body["messages"].as_array().and_then(|m| m.last()).map_or("", |m| m["content"].as_str().unwrap_or(""));
    let count = last.chars().count() as u64;
    if path.ends_with("/messages") {
        json!({"content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
               "usage": {"input_tokens": count, "output_tokens": 3}})
    } else {
        let logprobs = body["logprobs"].as_bool().unwrap_or(false).then(|| {
            tokens.unwrap_or_else(|| json!({"content": [{"token": "4", "logprob": -0.1, "top_logprobs": [{"token": "4", "logprob": -0.1}, {"token": "5", "logprob": -2.4}]}]}))
        });
        json!({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": logprobs}],
               "usage": {"prompt_tokens": count, "completion_tokens": 3}})
    }
}

/// Every file under `dir`, to search what a run wrote for the key.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(files_under(&path)) } else { files.push(path) }
    }
    files
}
