//! Just enough HTTP for the review tests: plain requests to the review
//! server, and a WebDriver session (chromedriver driving headless Chromium)
//! to use its pages as a person does, with the keyboard.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One HTTP/1.1 request; the status and the body.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let answer = request(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    (answer.status, answer.body)
}

/// An HTTP answer: the status, the head (lowercased) and the body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// One HTTP/1.1 request, or why it got no answer (the server went away).
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<Answer> {
    let rest = url.strip_prefix("http://").expect("http URLs only");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    // Read the head, then exactly the body it announces: some servers
    // (chromedriver) keep the connection open whatever the request asks.
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte)? == 1 {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    if status == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no answer"));
    }
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()));
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            stream.read_exact(&mut body)?;
        }
        None if head.contains("transfer-encoding: chunked") => {
            while !body.ends_with(b"0\r\n\r\n") && stream.read(&mut byte)? == 1 {
                body.push(byte[0]);
            }
            let body = unchunk(&String::from_utf8_lossy(&body));
            return Ok(Answer { status, head, body });
        }
        None => {
            stream.read_to_end(&mut body)?;
        }
    }
    Ok(Answer { status, head, body: String::from_utf8_lossy(&body).into_owned() })
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// JSON in, JSON out.
pub fn post_json(url: &str, body: &Value, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    let (status, text) = http("POST", url, &headers, &body.to_string());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn get_json(url: &str) -> (u16, Value) {
    let (status, text) = http("GET", url, &[], "");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// chromedriver, or `None` where it is not installed (CI installs it).
pub fn chromedriver() -> Option<PathBuf> {
    let found =
        ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is missing, and CI must run the browser tests: apt-get install chromium-driver"
        );
        eprintln!("SKIPPED: chromedriver is not installed (apt-get install chromium-driver)");
    }
    found
}

/// A headless Chromium driven through chromedriver on a loopback port.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start(chromedriver: &std::path::Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,900", format!("--user-data-dir={}", profile.path().display())]}}}});
        let (status, answer) = post_json(&format!("{base}/session"), &capabilities, &[]);
        assert_eq!(status, 200, "chromedriver refused the session: {answer}");
        let session = answer["value"]["sessionId"].as_str().unwrap().to_string();
        Browser { driver, base, session, _profile: profile }
    }

    fn command(&self, path: &str, body: Value) -> Value {
        let (status, answer) = post_json(&format!("{}/session/{}{path}", self.base, self.session), &body, &[]);
        assert_eq!(status, 200, "{path}: {answer}");
        answer["value"].clone()
    }

    pub fn open(&self, url: &str) {
        self.command("/url", json!({ "url": url }));
    }

    pub fn reload(&self) {
        self.command("/refresh", json!({}));
    }

    /// Presses each key in turn, as a person types.
    pub fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
            actions.push(json!({"type": "pause", "duration": 150}));
        }
        self.command("/actions", json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}));
    }

    /// The text of the element `#id`, once `ready` accepts it (within 10 s).
    pub fn text_when(&self, id: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let script = json!({"script": format!("const e = document.getElementById({id:?}); return e ? e.textContent : null;"), "args": []});
            let text = self.command("/execute/sync", script).as_str().unwrap_or_default().to_string();
            if ready(&text) || started.elapsed() > Duration::from_secs(10) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The page as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        let (status, answer) = get_json(&format!("{}/session/{}/screenshot", self.base, self.session));
        assert_eq!(status, 200);
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(answer["value"].as_str().unwrap()).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http("DELETE", &format!("{}/session/{}", self.base, self.session), &[], "");
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
