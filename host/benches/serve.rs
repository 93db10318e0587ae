//! `assay serve` under load: wrk (Debian's `wrk`) posting generated feedback
//! to the release binary with the five built-in guards, against the same
//! binary's `assay guard` on the same records as the reference.
//!
//! `cargo bench -p assay --bench serve [-- SECONDS [RECORDS]]` (default 10 s
//! per phase, a file of 100,000 records) prints, per phase:
//!
//! - single: one record per request, 32 connections: requests per second and
//!   the latency percentiles wrk measured;
//! - batch: arrays of 100 records per request, 8 connections: records per
//!   second;
//! - the server's resident memory at the start and end of each phase;
//! - `assay guard` on the file: records per second offline, and each online
//!   rate as a ratio of it.
//!
//! `cargo bench -p assay --bench serve -- soak [SECONDS [RECORDS]]` (default
//! 600 s) is the soak: single-record requests for that long, cycling through
//! the file, with the server's resident memory sampled every 10 s and
//! printed each minute; it ends with the memory at one minute, the peak,
//! the memory at the end, and how much it grew over the second half.
//!
//! wrk and the server share the machine's cores, as a load generator on the
//! same host does.

mod common;

use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let soak = args.iter().any(|a| a == "soak");
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let seconds = numbers.first().copied().unwrap_or(if soak { 600 } else { 10 });
    let records = numbers.get(1).copied().unwrap_or(100_000) as usize;
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed: apt-get install wrk");
        std::process::exit(1);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let assay = env!("CARGO_BIN_EXE_assay");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feedback.jsonl");
    common::feedback(&input, records);
    let config = root.join("examples/feedback/assay.toml");
    if soak {
        return soak_run(assay, &config, &input, dir.path(), root, seconds);
    }

    // The reference: the same guards over the same records, offline.
    let started = Instant::now();
    let status = Command::new(assay)
        .args(["guard", "-q", "--config"])
        .arg(&config)
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("offline"))
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());
    let offline = records as f64 / started.elapsed().as_secs_f64();
    println!("assay guard, {records} records: {offline:.0} records/s");

    for (phase, batch, connections) in [("single", 1usize, 32u32), ("batch", 100, 8)] {
        let mut server = Server::start(assay, &config, &dir.path().join(format!("state-{phase}")), root);
        let script = dir.path().join(format!("{phase}.lua"));
        std::fs::write(&script, lua(&input, batch)).unwrap();
        let before = server.rss_kib();
        let output = Command::new("wrk")
            .args(["-t", "1", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency", "-s"])
            .arg(&script)
            .arg(format!("{}/v1/feedback", server.url))
            .output()
            .unwrap();
        let after = server.rss_kib();
        let report = String::from_utf8_lossy(&output.stdout);
        let requests = number_after(&report, "Requests/sec:");
        let non_2xx = number_after(&report, "Non-2xx or 3xx responses:");
        let percentile = |p: &str| latency(&report, p);
        println!(
            "{phase:>6}: {requests:>8.0} requests/s = {:>8.0} records/s ({:.2}x offline); latency p50 {} p90 {} p99 {}; \
             non-2xx {non_2xx:.0}; server RSS {before} KiB -> {after} KiB; {connections} connections, {seconds} s",
            requests * batch as f64,
            requests * batch as f64 / offline,
            percentile("50%"),
            percentile("90%"),
            percentile("99%"),
        );
        server.stop();
    }
}

/// Single-record requests for `seconds`, the server's memory sampled as they go.
fn soak_run(assay: &str, config: &Path, input: &Path, dir: &Path, root: &Path, seconds: u64) {
    let mut server = Server::start(assay, config, &dir.join("state-soak"), root);
    let script = dir.join("soak.lua");
    std::fs::write(&script, lua(input, 1)).unwrap();
    let start = server.rss_kib();
    let wrk = Command::new("wrk")
        .args(["-t", "1", "-c", "32", "-d", &format!("{seconds}s"), "--latency", "-s"])
        .arg(&script)
        .arg(format!("{}/v1/feedback", server.url))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let began = Instant::now();
    let mut samples = vec![(0u64, start)];
    while began.elapsed().as_secs() < seconds {
        std::thread::sleep(std::time::Duration::from_secs(10));
        let at = began.elapsed().as_secs();
        samples.push((at, server.rss_kib()));
        if at % 60 < 10 {
            println!("{:>4} s: server RSS {} KiB", at, samples.last().unwrap().1);
        }
    }
    let output = wrk.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let requests = number_after(&report, "Requests/sec:");
    let non_2xx = number_after(&report, "Non-2xx or 3xx responses:");
    let at_minute = samples.iter().find(|(at, _)| *at >= 60).map_or(start, |s| s.1);
    let peak = samples.iter().map(|s| s.1).max().unwrap();
    let end = samples.last().unwrap().1;
    let half = samples.iter().find(|(at, _)| *at >= seconds / 2).map_or(start, |s| s.1);
    println!(
        "soak, {seconds} s: {requests:.0} requests/s (records logged: {}); latency p99 {}; non-2xx {non_2xx:.0}; \
         server RSS at start {start} KiB, at 1 min {at_minute} KiB, peak {peak} KiB, at the end {end} KiB; \
         second half {:+} KiB",
        (requests * seconds as f64) as u64,
        latency(&report, "99%"),
        end as i64 - half as i64,
    );
    server.stop();
}

/// A wrk script that posts the lines of `input`, `batch` per request, in
/// order, cycling.
fn lua(input: &Path, batch: usize) -> String {
    format!(
        r#"
local lines = {{}}
for line in io.lines("{}") do lines[#lines + 1] = line end
local next = 1
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = {{}}
  for i = 1, {batch} do
    body[i] = lines[next]
    next = next % #lines + 1
  end
  local text = {batch} == 1 and body[1] or ("[" .. table.concat(body, ",") .. "]")
  return wrk.format(nil, nil, nil, text)
end
"#,
        input.display()
    )
}

fn number_after(report: &str, label: &str) -> f64 {
    report.lines().find_map(|l| l.trim().strip_prefix(label)).and_then(|rest| rest.trim().parse().ok()).unwrap_or(0.0)
}

/// A latency percentile line of `wrk --latency`, as it prints it.
fn latency(report: &str, percentile: &str) -> String {
    let after = report.split("Latency Distribution").nth(1).unwrap_or("");
    after
        .lines()
        .find_map(|l| l.trim().strip_prefix(percentile).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "?".into())
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(assay: &str, config: &Path, state: &Path, root: &Path) -> Server {
        let mut child = Command::new(assay)
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--state")
            .arg(state)
            .current_dir(root)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut lines = stderr.lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("assay serve: listening on ").map(|rest| rest.split(' ').next().unwrap().to_string())
            })
            .expect("the server started");
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn stop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::io::stdout().flush();
    }
}
