//! A fake language model on loopback for tests: a real HTTP server that
//! speaks the OpenAI chat-completions and Anthropic messages wire formats
//! and answers `judged: ` followed by the last user message. It records
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
    Status(u16, &'static str),
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
                    serve(stream, &received, &trouble, *latency.lock().unwrap(), || {
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

/// The fake model's answer: `judged: ` and the last user message.
fn answer(path: &str, body: &Value) -> Value {
    let last = body["messages"].as_array().and_then(|m| m.last()).map_or("", |m| m["content"].as_str().unwrap_or(""));
    let text = format!("judged: {last}");
    let tokens = last.chars().count() as u64;
    if path.ends_with("/messages") {
        json!({"content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
               "usage": {"input_tokens": tokens, "output_tokens": 3}})
    } else {
        let logprobs = body["logprobs"].as_bool().unwrap_or(false).then(|| {
            json!({"content": [{"token": "4", "logprob": -0.1, "top_logprobs": [{"token": "4", "logprob": -0.1}, {"token": "5", "logprob": -2.4}]}]})
        });
        json!({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": logprobs}],
               "usage": {"prompt_tokens": tokens, "completion_tokens": 3}})
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
