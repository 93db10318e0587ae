//! Sharing plugins through a real OCI registry: Debian's `docker-registry`
//! (the CNCF distribution registry), started on 127.0.0.1 for each test,
//! with and without authentication. `.ci/run` installs it; elsewhere the
//! tests say they were skipped, except in CI, where they fail.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use common::*;
use serde_json::{Value, json};

const USER: &str = "team-ci";
// The bcrypt entry in `tests/registry/htpasswd` is this password's.
const PASSWORD: &str = "s3cret-for-tests-only";

/// A registry of this test's own, removed when dropped.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: String,
}

impl Registry {
    /// `None` when docker-registry is not installed outside CI.
    fn start(auth: bool) -> Option<Registry> {
        let binary = Path::new("/usr/bin/docker-registry");
        if !binary.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "docker-registry is missing, and CI must run the registry tests: apt-get install docker-registry"
            );
            eprintln!(
                "SKIPPED: docker-registry is not installed (apt-get install docker-registry); the registry tests run where it is, and always in CI"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let auth_section = if auth {
            format!(
                "auth:\n  htpasswd:\n    realm: assay-test\n    path: {}\n",
                root().join("tests/registry/htpasswd").display()
            )
        } else {
            String::new()
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: assay-tests\n{auth_section}",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(std::fs::File::create(dir.path().join("log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("log.err")).unwrap())
            .spawn()
            .unwrap();
        let registry = Registry { child, dir, addr };
        for _ in 0..200 {
            if std::net::TcpStream::connect(&registry.addr).is_ok() {
                return Some(registry);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(registry.dir.path().join("log.err")).unwrap_or_default()
        );
    }

    fn reference(&self, repository_and_tag: &str) -> String {
        format!("oci://{}/{repository_and_tag}", self.addr)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The file the registry keeps a blob in.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    /// GETs a registry path over plain HTTP/1.0, as another tool would.
    fn get(&self, path: &str, accept: &str) -> (u16, Vec<u8>) {
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n", self.addr).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, response[split + 4..].to_vec())
    }

    /// Sends one request over plain HTTP/1.0; returns the status, the head
    /// and the body.
    fn send(&self, method: &str, path: &str, headers: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\n{headers}\r\n",
            self.addr,
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, head, response[split + 4..].to_vec())
    }

    /// Uploads a blob in one piece, as the distribution API allows; returns its digest.
    fn upload(&self, repository: &str, bytes: &[u8]) -> String {
        let (status, head, _) = self.send("POST", &format!("/v2/{repository}/blobs/uploads/"), "", b"");
        assert_eq!(status, 202, "{head}");
        let location = head
            .lines()
            .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
            .unwrap()
            .trim()
            .to_string();
        let path = location.split_once(&self.addr).map_or(location.as_str(), |(_, path)| path).to_string();
        let digest = sha256(bytes);
        let separator = if path.contains('?') { '&' } else { '?' };
        let (status, head, _) = self.send(
            "PUT",
            &format!("{path}{separator}digest={digest}"),
            "Content-Type: application/octet-stream\r\n",
            bytes,
        );
        assert_eq!(status, 201, "{head}");
        digest
    }

    fn put_manifest(&self, repository: &str, reference: &str, manifest: &[u8]) {
        let (status, head, body) = self.send(
            "PUT",
            &format!("/v2/{repository}/manifests/{reference}"),
            "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n",
            manifest,
        );
        assert_eq!(status, 201, "{head}{}", String::from_utf8_lossy(&body));
    }

    fn manifest(&self, repository: &str, reference: &str) -> Value {
        let (status, body) =
            self.get(&format!("/v2/{repository}/manifests/{reference}"), "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One test's world: its own plugin store and compiled-component cache.
struct Team {
    dir: tempfile::TempDir,
}

impl Team {
    fn new() -> Team {
        Team { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn assay(&self) -> Command {
        let mut cmd = assay();
        cmd.env("ASSAY_CACHE_DIR", self.path("cache"));
        cmd.env("DOCKER_CONFIG", self.path("docker"));
        cmd.env("ASSAY_CONFIG_DIR", self.path("config"));
        cmd.env_remove("ASSAY_REGISTRY").env_remove("ASSAY_REGISTRY_USERNAME").env_remove("ASSAY_REGISTRY_PASSWORD");
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// Runs `assay ARGS`, expecting `code`.
    #[track_caller]
    fn run(&self, args: &[&str], code: i32) -> Output {
        let output = run(self.assay().args(args));
        expect_code(&output, code);
        output
    }

    /// A built-in's component as a file of its own, as a team would publish it.
    fn component(&self, builtin: &str) -> PathBuf {
        let path = self.path(&format!("{builtin}.wasm"));
        std::fs::write(&path, assay_builtins::get(builtin).unwrap()).unwrap();
        path
    }

    fn eval_set(&self) -> PathBuf {
        jsonl(
            self.dir.path(),
            "eval.jsonl",
            &[
                json!({"id": "a", "output": "Paris", "reference": "Paris"}),
                json!({"id": "b", "output": "Lyon", "reference": "Paris"}),
            ],
        )
    }

    fn config(&self, text: &str) -> PathBuf {
        let path = self.path("assay.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `assay run` with the config, returning the summary's one plugin.
    #[track_caller]
    fn run_config(&self, extra: &[&str], code: i32) -> (Output, Value) {
        let eval = self.eval_set();
        let mut args = vec!["run", eval.to_str().unwrap(), "--config", "assay.toml", "-o", "out", "-q"];
        args.extend_from_slice(extra);
        let output = self.run(&args, code);
        let plugin =
            if code == 0 { read_json(&self.path("out/summary.json"))["plugins"][0].clone() } else { Value::Null };
        (output, plugin)
    }
}

fn sha256(bytes: &[u8]) -> String {
    assay_registry::registry::sha256_digest(bytes)
}

/// The value printed after `label` in a command's output.
fn field(output: &Output, label: &str) -> String {
    stdout(output)
        .lines()
        .find_map(|line| line.strip_prefix(label).map(|rest| rest.trim().to_string()))
        .unwrap_or_else(|| panic!("no {label:?} in\n{}", stdout(output)))
}

/// Asserts that a command's stderr contains `needle`.
#[track_caller]
fn says(output: &Output, needle: &str) {
    assert!(stderr(output).contains(needle), "expected {needle:?} in stderr:\n{}", stderr(output));
}

/// `oci://...@sha256:X` -> `sha256:X`.
fn manifest_digest(pinned: &str) -> String {
    pinned.rsplit_once('@').unwrap().1.to_string()
}

#[test]
fn push_and_pull_by_tag_and_digest_in_the_standard_layout() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let team = Team::new();
    let built = team.component("exact_match");
    team.run(
        &[
            "package",
            built.to_str().unwrap(),
            "-o",
            "packaged.wasm",
            "--author",
            "NLP team",
            "--license",
            "Apache-2.0",
            "--source",
            "https://git.example.com/nlp/exact",
        ],
        0,
    );
    let component = team.path("packaged.wasm");
    let bytes = std::fs::read(&component).unwrap();
    let reference = registry.reference("nlp/exact:1.0");

    let pushed = team.run(&["push", component.to_str().unwrap(), &reference], 0);
    assert_eq!(field(&pushed, "component"), sha256(&bytes), "the layer is the component, byte for byte");
    let pinned = field(&pushed, "pinned");
    let digest = manifest_digest(&pinned);

    // The layout other tools (wkg, oras) read.
    let manifest = registry.manifest("nlp/exact", "1.0");
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], sha256(&bytes));
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["org.opencontainers.image.title"], "exact_match");
    assert_eq!(annotations["org.opencontainers.image.authors"], "NLP team");
    assert_eq!(annotations["org.opencontainers.image.licenses"], "Apache-2.0");
    assert_eq!(annotations["org.opencontainers.image.source"], "https://git.example.com/nlp/exact");
    let (_, config) =
        registry.get(&format!("/v2/nlp/exact/blobs/{}", manifest["config"]["digest"].as_str().unwrap()), "*/*");
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"], json!([sha256(&bytes)]));

    let by_tag = team.run(&["pull", &reference, "-o", "by-tag.wasm"], 0);
    assert_eq!(field(&by_tag, "pulled"), pinned);
    assert_eq!(std::fs::read(team.path("by-tag.wasm")).unwrap(), bytes);
    let other = Team::new();
    let by_digest = other.run(&["pull", &pinned, "-o", "by-digest.wasm"], 0);
    assert_eq!(field(&by_digest, "component"), sha256(&bytes));
    assert_eq!(std::fs::read(other.path("by-digest.wasm")).unwrap(), bytes);

    // Runs record the registry source and the same identity.
    let eval = team.eval_set();
    team.run(&["run", eval.to_str().unwrap(), "-e", &reference, "-o", "out", "-q"], 0);
    let summary = read_json(&team.path("out/summary.json"));
    let plugin = &summary["plugins"][0];
    assert_eq!(format!("sha256:{}", plugin["sha256"].as_str().unwrap()), sha256(&bytes));
    assert_eq!(plugin["source"], format!("{reference}@{digest}"));
    assert_eq!(summary["metrics"]["exact_match/exact_match"], json!(0.5));

    let inspect = team.run(&["inspect", &pinned], 0);
    assert!(stdout(&inspect).contains("NLP team"), "the metadata travels with the component: {}", stdout(&inspect));
    assert!(stdout(&inspect).contains(&sha256(&bytes)[7..]), "{}", stdout(&inspect));

    let missing = team.run(&["pull", &registry.reference("nlp/none:1.0")], 1);
    says(&missing, "not found");
}

#[test]
fn an_authenticating_registry_takes_credentials_from_the_environment_or_docker_and_never_prints_them() {
    let Some(registry) = Registry::start(true) else {
        return;
    };
    let team = Team::new();
    let component = team.component("exact_match");
    let reference = registry.reference("nlp/exact:1.0");
    let no_secret = |output: &Output| {
        assert!(!stdout(output).contains(PASSWORD) && !stderr(output).contains(PASSWORD), "a password was printed");
    };

    let anonymous = team.run(&["push", component.to_str().unwrap(), &reference], 1);
    says(&anonymous, "requires credentials for");
    says(&anonymous, "and none were sent");

    let wrong = run(team
        .assay()
        .args(["push", component.to_str().unwrap(), &reference])
        .env("ASSAY_REGISTRY", &registry.addr)
        .env("ASSAY_REGISTRY_USERNAME", USER)
        .env("ASSAY_REGISTRY_PASSWORD", "not-the-password-42"));
    expect_code(&wrong, 1);
    says(&wrong, "refused the credentials");
    assert!(!stderr(&wrong).contains("not-the-password-42"), "a password was printed");

    let pushed = run(team
        .assay()
        .args(["push", component.to_str().unwrap(), &reference])
        .env("ASSAY_REGISTRY", &registry.addr)
        .env("ASSAY_REGISTRY_USERNAME", USER)
        .env("ASSAY_REGISTRY_PASSWORD", PASSWORD));
    expect_code(&pushed, 0);
    no_secret(&pushed);

    // The docker CLI's login, as `docker login` writes it.
    std::fs::create_dir_all(team.path("docker")).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        team.path("docker/config.json"),
        json!({"auths": {registry.addr.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let pulled = team.run(&["pull", &reference, "-o", "pulled.wasm"], 0);
    no_secret(&pulled);
    assert_eq!(std::fs::read(team.path("pulled.wasm")).unwrap(), std::fs::read(&component).unwrap());
}

#[test]
fn the_lock_pins_exact_bytes_and_locked_names_the_plugin_and_both_digests() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let team = Team::new();
    let first = team.component("exact_match");
    let reference = registry.reference("nlp/metric:stable");
    let pushed = team.run(&["push", first.to_str().unwrap(), &reference], 0);
    let first_manifest = manifest_digest(&field(&pushed, "pinned"));
    let first_digest = sha256(&std::fs::read(&first).unwrap());
    team.config(&format!("[plugins.metric]\nsource = \"{reference}\"\n[plugins.exact]\nsource = \"exact_match\"\n"));

    let run_before_lock =
        team.run(&["run", team.eval_set().to_str().unwrap(), "--config", "assay.toml", "--locked", "-q"], 1);
    says(&run_before_lock, "assay.lock; run `assay lock`");

    team.run(&["lock"], 0);
    let lock = std::fs::read_to_string(team.path("assay.lock")).unwrap();
    let lock: toml::Table = toml::from_str(&lock).unwrap();
    let entries = lock["plugin"].as_array().unwrap();
    assert_eq!(entries[0]["name"].as_str(), Some("metric"));
    assert_eq!(entries[0]["source"].as_str(), Some(reference.as_str()));
    assert_eq!(entries[0]["manifest"].as_str(), Some(first_manifest.as_str()));
    assert_eq!(entries[0]["digest"].as_str(), Some(first_digest.as_str()));
    assert_eq!(entries[1]["digest"].as_str(), Some(sha256(assay_builtins::get("exact_match").unwrap()).as_str()));
    let (_, plugin) = team.run_config(&["--locked"], 0);
    assert_eq!(format!("sha256:{}", plugin["sha256"].as_str().unwrap()), first_digest);

    // Another team moves the tag to other bytes.
    let second = team.component("token_f1");
    let moved = team.run(&["push", second.to_str().unwrap(), &reference], 0);
    let second_manifest = manifest_digest(&field(&moved, "pinned"));
    let second_digest = sha256(&std::fs::read(&second).unwrap());

    let (output, plugin) = team.run_config(&[], 0);
    assert_eq!(
        format!("sha256:{}", plugin["sha256"].as_str().unwrap()),
        first_digest,
        "the lock, not the tag, decides the bytes"
    );
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    let (refused, _) = team.run_config(&["--locked"], 1);
    let message = stderr(&refused);
    assert!(
        message.contains("plugin metric") && message.contains(&first_manifest) && message.contains(&second_manifest),
        "{message}"
    );

    team.run(&["lock"], 0);
    let (_, plugin) = team.run_config(&["--locked"], 0);
    assert_eq!(format!("sha256:{}", plugin["sha256"].as_str().unwrap()), second_digest);

    // A plugin the lock does not list, or lists with another source.
    team.config(&format!(
        "[plugins.metric]\nsource = \"{}\"\n[plugins.exact]\nsource = \"exact_match\"\n",
        registry.reference("nlp/metric:other")
    ));
    let (stale, _) = team.run_config(&["--locked"], 1);
    says(&stale, "plugin metric: assay.lock locks source");
    team.config("[plugins.local]\nsource = \"exact_match.wasm\"\n");
    let (unlisted, _) = team.run_config(&["--locked"], 1);
    says(&unlisted, "plugin local: not in assay.lock");

    // A local file whose bytes change is caught the same way.
    team.run(&["lock"], 0);
    team.run_config(&["--locked"], 0);
    std::fs::write(&first, assay_builtins::get("token_f1").unwrap()).unwrap();
    let (changed, _) = team.run_config(&["--locked"], 1);
    let message = stderr(&changed);
    assert!(
        message.contains("plugin local") && message.contains(&first_digest) && message.contains(&second_digest),
        "{message}"
    );
    let (warned, _) = team.run_config(&[], 0);
    says(&warned, "changed since");
}

#[test]
fn a_registry_that_is_down_is_named_and_stored_plugins_still_run() {
    let Some(mut registry) = Registry::start(false) else {
        return;
    };
    let team = Team::new();
    let component = team.component("exact_match");
    let reference = registry.reference("nlp/exact:1.0");
    team.run(&["push", component.to_str().unwrap(), &reference], 0);
    team.config(&format!("[plugins.metric]\nsource = \"{reference}\"\n"));
    team.run(&["lock"], 0);
    registry.stop();

    let eval = team.eval_set();
    let unpinned = team.run(&["run", eval.to_str().unwrap(), "-e", &registry.reference("nlp/other:1.0"), "-q"], 1);
    let message = stderr(&unpinned);
    assert!(message.contains(&format!("cannot reach registry {}", registry.addr)), "{message}");

    let (locked, plugin) = team.run_config(&["--locked"], 0);
    assert_eq!(format!("sha256:{}", plugin["sha256"].as_str().unwrap()), sha256(&std::fs::read(&component).unwrap()));
    assert!(
        stderr(&locked).contains("cannot reach registry"),
        "the tag could not be re-checked, and the run says so: {}",
        stderr(&locked)
    );
    let (offline, _) = team.run_config(&["--locked", "--offline"], 0);
    assert!(stderr(&offline).is_empty(), "{}", stderr(&offline));

    // Another machine, with nothing stored, cannot run it.
    let empty = Team::new();
    std::fs::copy(team.path("assay.toml"), empty.path("assay.toml")).unwrap();
    std::fs::copy(team.path("assay.lock"), empty.path("assay.lock")).unwrap();
    let (missing, _) = empty.run_config(&["--offline"], 1);
    says(&missing, "not in the local store");
    let (down, _) = empty.run_config(&[], 1);
    says(&down, "cannot reach registry");
}

#[test]
fn a_corrupted_download_is_refused_by_digest_and_not_stored() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let publisher = Team::new();
    let component = publisher.component("exact_match");
    let bytes = std::fs::read(&component).unwrap();
    let reference = registry.reference("nlp/exact:1.0");
    let pinned = field(&publisher.run(&["push", component.to_str().unwrap(), &reference], 0), "pinned");

    let mut corrupted = bytes.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0xff;
    std::fs::write(registry.blob_file(&sha256(&bytes)), &corrupted).unwrap();

    let consumer = Team::new();
    for source in [reference.as_str(), pinned.as_str()] {
        let refused = consumer.run(&["pull", source], 1);
        let message = stderr(&refused);
        assert!(message.contains("does not match its digest") && message.contains(&sha256(&bytes)), "{message}");
    }
    let stored = consumer.path("cache/store/sha256").join(&sha256(&bytes)[7..]);
    assert!(!stored.exists(), "corrupted bytes were stored");

    // A tampered manifest is refused too.
    let manifest = manifest_digest(&pinned);
    std::fs::write(registry.blob_file(&manifest), b"{\"schemaVersion\":2}").unwrap();
    let refused = Team::new().run(&["pull", &pinned], 1);
    says(&refused, "does not match its digest");
}

#[test]
fn a_policy_that_requires_signatures_runs_only_what_a_trusted_key_signed() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let team = Team::new();
    let with_password = |password: Option<&str>, args: &[&str]| {
        let mut cmd = team.assay();
        cmd.args(args).env_remove("ASSAY_KEY_PASSWORD");
        if let Some(password) = password {
            cmd.env("ASSAY_KEY_PASSWORD", password);
        }
        run(&mut cmd)
    };
    expect_code(&with_password(Some("nlp-secret"), &["keygen", "nlp"]), 0);
    assert!(std::fs::read_to_string(team.path("nlp.key")).unwrap().contains("ENCRYPTED PRIVATE KEY"));
    team.run(&["keygen", "vision"], 0);
    // A key is never overwritten.
    team.run(&["keygen", "nlp"], 1);
    let component = team.component("exact_match");
    let reference = registry.reference("nlp/exact:1.0");
    let pinned = field(&team.run(&["push", component.to_str().unwrap(), &reference], 0), "pinned");
    let digest = manifest_digest(&pinned);
    let policy = format!(
        "[trust]\nrequire_signatures = true\n[trust.keys.nlp]\npublic_key = \"nlp.pub\"\nrepositories = [\"{}/nlp\"]\n",
        registry.addr
    );
    team.config(&format!("[plugins.metric]\nsource = \"{reference}\"\n{policy}"));

    let (unsigned, _) = team.run_config(&[], 1);
    says(&unsigned, "carries none");

    team.run(&["sign", &reference, "--key", "vision.key"], 0);
    let (wrong_key, _) = team.run_config(&[], 1);
    says(&wrong_key, "none of its 1 signature(s) verifies with a key trusted for");
    team.run(&["verify", &reference, "--key", "nlp.pub"], 1);

    let locked = with_password(None, &["sign", &reference, "--key", "nlp.key"]);
    expect_code(&locked, 1);
    says(&locked, "the key is encrypted; set ASSAY_KEY_PASSWORD");
    expect_code(&with_password(Some("wrong"), &["sign", &reference, "--key", "nlp.key"]), 1);
    expect_code(&with_password(Some("nlp-secret"), &["sign", &reference, "--key", "nlp.key"]), 0);
    let (_, plugin) = team.run_config(&[], 0);
    assert_eq!(plugin["name"], "metric");
    team.run(&["verify", &reference, "--key", "nlp.pub"], 0);

    // The signatures are cosign's: a simple-signing layer per signature in
    // the sha256-HEX.sig manifest, the signature in its annotation.
    let signatures = registry.manifest("nlp/exact", &format!("{}.sig", digest.replace(':', "-")));
    let layers = signatures["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for layer in layers {
        assert_eq!(layer["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
        assert!(layer["annotations"]["dev.cosignproject.cosign/signature"].as_str().is_some());
        let (_, payload) = registry.get(&format!("/v2/nlp/exact/blobs/{}", layer["digest"].as_str().unwrap()), "*/*");
        let payload: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(payload["critical"]["image"]["docker-manifest-digest"], json!(digest));
        assert_eq!(payload["critical"]["type"], "cosign container image signature");
    }

    // The nlp key does not vouch for another namespace, signed or not.
    let other = registry.reference("vision/exact:1.0");
    team.run(&["push", component.to_str().unwrap(), &other], 0);
    expect_code(&with_password(Some("nlp-secret"), &["sign", &other, "--key", "nlp.key"]), 0);
    team.config(&format!("[plugins.metric]\nsource = \"{other}\"\n{policy}"));
    let (out_of_scope, _) = team.run_config(&[], 1);
    says(&out_of_scope, &format!("no key in [trust.keys] is trusted for {}/vision/exact", registry.addr));

    team.config(&format!("[plugins.metric]\nsource = \"exact_match.wasm\"\n{policy}"));
    let (local, _) = team.run_config(&[], 1);
    says(&local, "a local file carries none");

    // Signatures seen once are kept, so a locked run verifies offline.
    team.config(&format!("[plugins.metric]\nsource = \"{reference}\"\n{policy}"));
    team.run(&["lock"], 0);
    drop(registry);
    team.run_config(&["--locked", "--offline"], 0);
}

#[test]
fn oras_reads_what_assay_pushes_and_assay_runs_what_oras_pushes() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let Some(python) = installed_tool("ASSAY_ORAS_VENV", "oras-venv", "bin/python") else { return };
    let team = Team::new();
    let component = team.component("exact_match");
    let digest = sha256(&std::fs::read(&component).unwrap());
    team.run(&["push", component.to_str().unwrap(), &registry.reference("nlp/exact:1.0")], 0);

    let oras = Command::new(python)
        .arg(root().join("tests/registry/oras_interop.py"))
        .arg(&registry.addr)
        .arg(team.dir.path())
        .output()
        .unwrap();
    assert!(oras.status.success(), "{}", String::from_utf8_lossy(&oras.stderr));
    let printed = String::from_utf8_lossy(&oras.stdout).into_owned();
    assert!(printed.contains(&format!("pulled {}", &digest[7..])), "ORAS got other bytes: {printed}");

    let consumer = Team::new();
    let eval = consumer.eval_set();
    consumer
        .run(&["run", eval.to_str().unwrap(), "-e", &registry.reference("nlp/from-oras:1.0"), "-o", "out", "-q"], 0);
    let summary = read_json(&consumer.path("out/summary.json"));
    assert_eq!(format!("sha256:{}", summary["plugins"][0]["sha256"].as_str().unwrap()), digest);
}

#[test]
fn guards_come_from_registries_too() {
    let Some(registry) = Registry::start(false) else { return };
    let team = Team::new();
    let component = team.component("arithmetic");
    let reference = registry.reference("safety/arithmetic:1.0");
    team.run(&["push", component.to_str().unwrap(), &reference], 0);
    let feedback = jsonl(
        team.dir.path(),
        "feedback.jsonl",
        &[
            json!({"id": "ok", "prompt": "What is 2+2?", "output": "4", "rating": "up"}),
            json!({"id": "bad", "prompt": "What is 2+2?", "output": "4", "rating": "down", "comment": "No, 2+2=5."}),
        ],
    );
    team.run(&["guard", feedback.to_str().unwrap(), "-g", &reference, "-o", "screened", "-q"], 0);
    let decisions = read_jsonl(&team.path("screened/decisions.jsonl"));
    assert_eq!(decisions[0]["guards"]["arithmetic"]["decision"], "accept");
    assert_eq!(decisions[1]["guards"]["arithmetic"]["decision"], "reject");
    let summary = read_json(&team.path("screened/summary.json"));
    assert_eq!(
        format!("sha256:{}", summary["plugins"][0]["sha256"].as_str().unwrap()),
        sha256(&std::fs::read(&component).unwrap())
    );
}

#[test]
fn wkg_reads_what_assay_pushes_and_assay_runs_what_wkg_pushes() {
    let Some(registry) = Registry::start(false) else { return };
    let Some(wkg) = installed_tool("ASSAY_WKG_ROOT", "wkg", "bin/wkg") else { return };
    let team = Team::new();
    let component = team.component("exact_match");
    let digest = sha256(&std::fs::read(&component).unwrap());
    team.run(&["push", component.to_str().unwrap(), &registry.reference("nlp/exact:1.0")], 0);

    let wkg_cmd = |args: &[&str]| {
        let output = Command::new(&wkg)
            .args(args)
            .args(["--insecure", &registry.addr])
            .env("HOME", team.dir.path())
            .current_dir(team.dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "wkg {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    let address = |path: &str| format!("{}/{path}", registry.addr);
    wkg_cmd(&["oci", "pull", &address("nlp/exact:1.0"), "-o", "wkg-pulled.wasm"]);
    assert_eq!(sha256(&std::fs::read(team.path("wkg-pulled.wasm")).unwrap()), digest, "wkg got other bytes");
    wkg_cmd(&["oci", "push", &address("nlp/from-wkg:1.0"), component.to_str().unwrap()]);

    let consumer = Team::new();
    let eval = consumer.eval_set();
    consumer.run(&["run", eval.to_str().unwrap(), "-e", &registry.reference("nlp/from-wkg:1.0"), "-o", "out", "-q"], 0);
    let summary = read_json(&consumer.path("out/summary.json"));
    assert_eq!(format!("sha256:{}", summary["plugins"][0]["sha256"].as_str().unwrap()), digest);
}

/// How the fake registry answers one request.
enum Answer {
    /// A status, extra header lines and a body.
    Full(u16, String, Vec<u8>),
    /// A 200 whose body never ends: it streams until the client hangs up.
    Endless(String),
    /// Accepts the connection and never answers.
    Silent,
}

/// A registry that is not one, on loopback: it answers each request as
/// `respond` says, records every request's head, and counts the body bytes
/// it managed to send. For what a real registry would never do.
struct FakeRegistry {
    addr: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl FakeRegistry {
    fn start(respond: impl Fn(&str) -> Answer + Send + Sync + 'static) -> FakeRegistry {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        FakeRegistry::on(listener, respond)
    }

    fn on(listener: std::net::TcpListener, respond: impl Fn(&str) -> Answer + Send + Sync + 'static) -> FakeRegistry {
        use std::sync::atomic::Ordering;
        let addr = listener.local_addr().unwrap().to_string();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let respond = std::sync::Arc::new(respond);
        let (log, count) = (requests.clone(), sent.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (respond, log, count) = (respond.clone(), log.clone(), count.clone());
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    log.lock().unwrap().push(head.clone());
                    match respond(&head) {
                        Answer::Full(status, headers, body) => {
                            let _ = write!(
                                stream,
                                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                                body.len()
                            );
                            let _ = stream.write_all(&body);
                        }
                        Answer::Endless(headers) => {
                            let _ = write!(stream, "HTTP/1.1 200 OK\r\nConnection: close\r\n{headers}\r\n");
                            let chunk = vec![b' '; 64 << 10];
                            while stream.write_all(&chunk).is_ok() {
                                count.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                            }
                        }
                        Answer::Silent => std::thread::sleep(std::time::Duration::from_secs(120)),
                    }
                });
            }
        });
        FakeRegistry { addr, requests, sent }
    }

    /// A registry that serves `manifest` for every manifest and streams
    /// every blob without end.
    fn serving_manifest(manifest: Vec<u8>) -> FakeRegistry {
        FakeRegistry::start(move |head| {
            if head.contains("/manifests/") {
                Answer::Full(200, String::new(), manifest.clone())
            } else if head.contains("/blobs/") {
                Answer::Endless(String::new())
            } else {
                Answer::Full(200, String::new(), Vec::new())
            }
        })
    }

    fn reference(&self, repository_and_tag: &str) -> String {
        format!("oci://{}/{repository_and_tag}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// A manifest of the standard layout whose one layer declares `size` bytes.
fn manifest_declaring(size: u64, layer_digest: &str) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": format!("sha256:{}", "0".repeat(64)), "size": 2},
        "layers": [{"mediaType": "application/wasm", "digest": layer_digest, "size": size}],
    })
    .to_string()
    .into_bytes()
}

#[test]
fn credentials_go_only_to_the_registry_they_are_for() {
    let Some(registry) = Registry::start(true) else {
        return;
    };
    // A registry a pull request could name: it asks everyone for a password.
    let fake = FakeRegistry::start(|_| Answer::Full(401, "WWW-Authenticate: Basic realm=\"x\"\r\n".into(), Vec::new()));
    let team = Team::new();
    let component = team.component("exact_match");
    let with_ci_credentials = |registry_env: Option<&str>, args: &[&str]| {
        let mut cmd = team.assay();
        cmd.args(args).env("ASSAY_REGISTRY_USERNAME", USER).env("ASSAY_REGISTRY_PASSWORD", PASSWORD);
        if let Some(host) = registry_env {
            cmd.env("ASSAY_REGISTRY", host);
        }
        run(&mut cmd)
    };
    let eval = team.eval_set();
    let eval = eval.to_str().unwrap();
    let hostile = fake.reference("nlp/exact:1.0");
    for named in [Some(registry.addr.as_str()), None] {
        let output = with_ci_credentials(named, &["run", eval, "-e", &hostile, "-q"]);
        expect_code(&output, 1);
        says(&output, "and none were sent");
    }
    let requests = fake.requests();
    assert!(!requests.is_empty(), "the fake registry was asked");
    for request in &requests {
        assert!(!request.to_ascii_lowercase().contains("authorization"), "credentials reached it:\n{request}");
    }

    // The registry they name gets them; unnamed, they go nowhere, and the run says why.
    let reference = registry.reference("nlp/exact:1.0");
    let pushed = with_ci_credentials(Some(&registry.addr), &["push", component.to_str().unwrap(), &reference]);
    expect_code(&pushed, 0);
    let unnamed = with_ci_credentials(None, &["pull", &reference]);
    expect_code(&unnamed, 1);
    says(&unnamed, "ASSAY_REGISTRY does not name the registry they are for");

    // A docker login that cannot be read is an error, not an anonymous pull.
    std::fs::create_dir_all(team.path("docker")).unwrap();
    std::fs::write(team.path("docker/config.json"), "{ not json").unwrap();
    let broken = team.run(&["pull", &reference], 1);
    says(&broken, "config.json cannot be read or is not valid JSON");
    std::fs::write(team.path("docker/config.json"), r#"{"credsStore": "assay-test-missing"}"#).unwrap();
    let helper = team.run(&["pull", &reference], 1);
    says(&helper, "docker-credential-assay-test-missing");
}

#[test]
fn what_a_registry_sends_is_bounded_before_it_is_kept() {
    // A manifest that never ends: read up to the 4 MiB bound, then refused.
    let endless = FakeRegistry::start(|head| {
        if head.contains("/manifests/") {
            Answer::Endless(String::new())
        } else {
            Answer::Full(200, String::new(), Vec::new())
        }
    });
    let team = Team::new();
    let pinned = format!("{}@sha256:{}", endless.reference("nlp/exact").trim_end_matches(':'), "a".repeat(64));
    let refused = team.run(&["pull", &pinned], 1);
    says(&refused, "sent more than 4194304 bytes for its manifest");
    let sent = endless.sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 64 << 20, "the fake registry got {sent} bytes out before Assay hung up");

    // A component whose descriptor claims a petabyte is refused unread.
    let layer = format!("sha256:{}", "b".repeat(64));
    let huge = manifest_declaring(1_000_000_000_000_000, &layer);
    let huge_digest = sha256(&huge);
    let claims = FakeRegistry::serving_manifest(huge);
    let refused = team.run(&["pull", &format!("oci://{}/nlp/exact@{huge_digest}", claims.addr)], 1);
    says(&refused, "the component is 1000000000000000 bytes, over the 268435456 byte limit");
    assert!(!claims.requests().iter().any(|r| r.contains("/blobs/")), "nothing was downloaded");

    // A blob longer than its descriptor says is cut off at the declared size.
    let short = manifest_declaring(1000, &layer);
    let short_digest = sha256(&short);
    let overlong = FakeRegistry::serving_manifest(short);
    let refused = team.run(&["pull", &format!("oci://{}/nlp/exact@{short_digest}", overlong.addr)], 1);
    says(&refused, "sent more than 1000 bytes for the component");
    let sent = overlong.sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 64 << 20, "the fake registry got {sent} bytes out");
    let store = team.path("cache/store/sha256");
    let stored: Vec<u64> = std::fs::read_dir(&store)
        .map(|entries| entries.map(|e| e.unwrap().metadata().unwrap().len()).collect())
        .unwrap_or_default();
    assert!(stored.iter().all(|&len| len < 4096), "only small manifests are stored: {stored:?}");
}

#[test]
fn an_unsigned_component_is_never_downloaded_and_junk_beside_a_signature_is_never_read() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let team = Team::new();
    team.run(&["keygen", "nlp"], 0);
    let component = team.component("exact_match");
    let component_digest = sha256(&std::fs::read(&component).unwrap());
    let reference = registry.reference("nlp/exact:1.0");
    let pinned = field(&team.run(&["push", component.to_str().unwrap(), &reference], 0), "pinned");
    let policy = format!(
        "[trust]\nrequire_signatures = true\n[trust.keys.nlp]\npublic_key = \"nlp.pub\"\nrepositories = [\"{}/nlp\"]\n",
        registry.addr
    );
    team.config(&format!("[plugins.metric]\nsource = \"{reference}\"\n{policy}"));
    let (unsigned, _) = team.run_config(&[], 1);
    says(&unsigned, "carries none");
    let stored = |team: &Team| team.path("cache/store/sha256").join(&component_digest[7..]);
    assert!(!stored(&team).exists(), "an unsigned component reached the disk");

    // Signed, then 1 MiB of junk appended to the signature manifest under
    // the signature media type: a fresh machine verifies without reading it.
    team.run(&["sign", &pinned, "--key", "nlp.key"], 0);
    let sig_tag = format!("{}.sig", manifest_digest(&pinned).replace(':', "-"));
    let mut signatures = registry.manifest("nlp/exact", &sig_tag);
    let junk = vec![b'j'; 1 << 20];
    let junk_digest = registry.upload("nlp/exact", &junk);
    signatures["layers"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "digest": junk_digest,
        "size": junk.len(),
        "annotations": {"dev.cosignproject.cosign/signature": "AAAA"},
    }));
    registry.put_manifest("nlp/exact", &sig_tag, &serde_json::to_vec(&signatures).unwrap());
    let fresh = Team::new();
    std::fs::copy(team.path("nlp.pub"), fresh.path("nlp.pub")).unwrap();
    std::fs::copy(team.path("assay.toml"), fresh.path("assay.toml")).unwrap();
    let (output, plugin) = fresh.run_config(&[], 0);
    assert_eq!(format!("sha256:{}", plugin["sha256"].as_str().unwrap()), component_digest);
    says(&output, "skipped a signature layer of 1048576 bytes");
    let kept: u64 = std::fs::read_dir(fresh.path("cache/store/signatures"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(kept < 64 << 10, "the junk was kept: {kept} bytes of signatures");
    assert!(stored(&fresh).exists());

    // Verified signatures are kept by manifest digest: a locked run beside a
    // registry that is gone verifies from the store.
    fresh.run(&["lock"], 0);
    drop(registry);
    fresh.run_config(&["--locked"], 0);
}

#[test]
fn a_swapped_compiled_cache_entry_is_compiled_again_not_run() {
    let team = Team::new();
    let eval = team.eval_set();
    let eval = eval.to_str().unwrap();
    team.run(&["run", eval, "-e", "exact_match", "-o", "a", "-q"], 0);
    team.run(&["run", eval, "-e", "length", "-o", "b", "-q"], 0);
    let entry = |builtin: &str| {
        let hex = &sha256(assay_builtins::get(builtin).unwrap())[7..];
        std::fs::read_dir(team.path("cache"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(hex))
            .unwrap_or_else(|| panic!("no cache entry for {builtin}"))
    };
    // What a CI cache restored from another branch could hold.
    std::fs::copy(entry("length"), entry("exact_match")).unwrap();
    team.run(&["run", eval, "-e", "exact_match", "-o", "c", "-q"], 0);
    let summary = read_json(&team.path("c/summary.json"));
    assert_eq!(summary["metrics"]["exact_match/exact_match"], json!(0.5), "{}", summary["metrics"]);
    assert_ne!(std::fs::read(entry("exact_match")).unwrap(), std::fs::read(entry("length")).unwrap());
    let key = team.path("config/cache.key");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn publishing_is_by_digest_and_the_same_bytes_publish_the_same_manifest() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let team = Team::new();
    team.run(&["keygen", "nlp"], 0);
    let component = team.component("exact_match");
    let component = component.to_str().unwrap();
    let first = field(&team.run(&["push", component, &registry.reference("nlp/exact:1.0")], 0), "pinned");
    let again = field(&team.run(&["push", component, &registry.reference("nlp/exact:1.0")], 0), "pinned");
    assert_eq!(first, again, "a re-publish of the same bytes is not a moved tag");

    let signed = team.run(&["push", component, &registry.reference("nlp/exact:2.0"), "--sign", "nlp.key"], 0);
    let pinned = field(&signed, "pinned");
    assert_eq!(field(&signed, "signed"), pinned, "what was pushed is what was signed");
    team.run(&["verify", &pinned, "--key", "nlp.pub"], 0);
    // Signing by tag names the digest it resolved.
    let by_tag = team.run(&["sign", &registry.reference("nlp/exact:1.0"), "--key", "nlp.key"], 0);
    assert_eq!(field(&by_tag, "signed"), first);
}

#[test]
fn a_silent_registry_costs_a_locked_run_seconds_and_a_damaged_entry_is_named() {
    let Some(mut registry) = Registry::start(false) else {
        return;
    };
    let team = Team::new();
    let component = team.component("exact_match");
    let component_digest = sha256(&std::fs::read(&component).unwrap());
    let reference = registry.reference("nlp/exact:1.0");
    team.run(&["push", component.to_str().unwrap(), &reference], 0);
    team.config(&format!("[plugins.metric]\nsource = \"{reference}\"\n[registry]\nread_timeout_secs = 1\n"));
    team.run(&["lock"], 0);

    // The store's copy is damaged: fetched again, and the run says so.
    let stored = team.path("cache/store/sha256").join(&component_digest[7..]);
    std::fs::write(&stored, b"damaged").unwrap();
    let (refetched, _) = team.run_config(&["--locked"], 0);
    says(&refetched, "was damaged; it was removed");
    std::fs::write(&stored, b"damaged").unwrap();
    let (offline, _) = team.run_config(&["--locked", "--offline"], 1);
    says(&offline, "damaged in the local store");
    team.run_config(&["--locked"], 0);

    // The registry's port now accepts connections and never answers.
    registry.stop();
    let listener = std::net::TcpListener::bind(&registry.addr).unwrap();
    let _silent = FakeRegistry::on(listener, |_| Answer::Silent);
    let started = std::time::Instant::now();
    let (output, plugin) = team.run_config(&["--locked"], 0);
    let elapsed = started.elapsed();
    assert_eq!(format!("sha256:{}", plugin["sha256"].as_str().unwrap()), component_digest);
    says(&output, "running the locked bytes");
    eprintln!("a --locked run beside a silent registry took {elapsed:?}");
    // A safety bound, not a benchmark: the old client waited 240 s.
    assert!(elapsed < std::time::Duration::from_secs(30), "{elapsed:?}");
}
