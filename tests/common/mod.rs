//! Shared test harness: a simulator on an ephemeral loopback port inside the test process,
//! and the built `wxscript` binary pointed at it with its own token cache directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use wxscript::sandbox::{self, Config, Sandbox};

/// A throw-away `redis-server` per test (the same helper the crate's unit tests use).
#[path = "../../src/store/redis_server.rs"]
mod redis_server;
// Not every test file starts a Redis.
#[allow(unused_imports)]
pub use redis_server::RedisServer;

pub struct Sim {
    pub rt: tokio::runtime::Runtime,
    pub sandbox: Option<Sandbox>,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Sim {
    pub fn start() -> Sim {
        Sim::with(Config::default())
    }

    pub fn with(cfg: Config) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let sandbox = rt.block_on(Sandbox::start(cfg, 0)).expect("sandbox starts");
        let base = sandbox.base_url();
        Sim { rt, sandbox: Some(sandbox), base, dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/{}", self.base, path);
        self.rt.block_on(async {
            let c = reqwest::Client::new();
            let rb = if method == "GET" { c.get(&url) } else { c.post(&url).json(&body.unwrap_or(Value::Null)) };
            let text = rb.send().await.expect("admin request").text().await.expect("admin body");
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    pub fn stats(&self) -> Value {
        self.admin("GET", "_sandbox/stats", None)
    }

    pub fn requests(&self) -> i64 {
        self.stats()["requests"].as_i64().unwrap_or(-1)
    }

    /// Calls of either token endpoint: classic `cgi-bin/token` and `cgi-bin/stable_token`.
    pub fn token_fetches(&self) -> i64 {
        let s = self.stats();
        s["token_fetches"].as_i64().unwrap_or(-1) + s["by_path"]["cgi-bin/stable_token"].as_i64().unwrap_or(0)
    }

    pub fn count(&self, path: &str) -> i64 {
        self.stats()["by_path"][path].as_i64().unwrap_or(0)
    }

    pub fn reset_stats(&self) {
        self.admin("POST", "_sandbox/reset_stats", None);
    }

    pub fn fault(&self, v: Value) {
        self.admin("POST", "_sandbox/fault", Some(v));
    }

    pub fn expire_tokens(&self) {
        self.admin("POST", "_sandbox/expire_tokens", None);
    }

    /// A `wxscript` command with this simulator's base, credentials and a private cache.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same as a plain `std::process::Command` (for spawning and killing).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("wxscript"));
        c.current_dir(repo_root())
            .env("WECHAT_API_BASE", &self.base)
            .env("WECHAT_APPID", sandbox::APPID)
            .env("WECHAT_APPSECRET", sandbox::SECRET)
            .env_remove("WECHAT_ACCESS_TOKEN")
            .env("WXSCRIPT_CACHE_DIR", self.cache_dir())
            // A developer's own config file must not leak into tests.
            .env("WXSCRIPT_CONFIG", "/dev/null")
            .env("NO_COLOR", "1");
        // Nor their environment: a shared store or another account would send a test's tokens
        // and events elsewhere. A test that wants one sets it after this.
        for var in [
            "WXSCRIPT_STORE",
            "WXSCRIPT_ACCOUNT",
            "WXSCRIPT_QPS",
            "WXSCRIPT_EVENT_LOG",
            "WXSCRIPT_CLAIM_LEASE",
            "WECHAT_TOKEN",
            "WECHAT_AES_KEY",
        ] {
            c.env_remove(var);
        }
        c
    }

    /// Writes `script` to a file and runs it.
    pub fn run(&self, script: &str) -> Output {
        self.run_file("t.rhai", script, &[])
    }

    /// Writes `script` to the file `name` and runs it with the options `extra_args`.
    pub fn run_file(&self, name: &str, script: &str, extra_args: &[&str]) -> Output {
        let path = self.write(name, script);
        self.cmd().arg("run").args(extra_args).arg(&path).output().expect("wxscript runs")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write script");
        p
    }

    /// A script prelude that onboards an approved merchant (audit delay 0).
    pub fn merchant_prelude() -> &'static str {
        r#"
        let head = media::upload("scripts/data/logo.png", "image");
        let cats = merchant::categories();
        let cat = cats.filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
        merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "测试便利店", intro: "测试"});
        let audit = merchant::audit_info();
        if audit.status != 1 { throw `merchant not approved: ${audit}`; }
        let poi = map::search_poi(#{districtid: 440105, keyword: "店"})[0];
        let pic = media::upload_image("scripts/data/shop.jpg");
        "#
    }
}

/// A free loopback port (bound and released: whoever needs it takes it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Polls `done` every 20 ms until it is true; panics with "timed out waiting for {what}" once
/// `timeout` has passed.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The port of a `wxscript listen` from its first line (`... listening on http://HOST:PORT/...`);
/// panics naming the line when it has none.
#[track_caller]
pub fn listen_port(first_line: &str) -> u16 {
    first_line
        .split("http://")
        .nth(1)
        .and_then(|a| a.split([' ', '/']).next())
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("listener did not start: no port in {first_line:?}"))
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {:?}\nstdout:\n{}\nstderr:\n{}", o.status, stdout(o), stderr(o));
    stdout(o)
}

/// A one-pixel PNG header: enough for the simulator to judge an upload's kind.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

/// 2026-01-01 10:00 in China: far from a day's end, so daily limits do not start over mid-test.
pub const MORNING: u64 = 1_767_232_800;

/// A simulator in the test's own async runtime, spoken to in raw HTTP (each test file adds the
/// calls it needs in an `impl Http` of its own).
pub struct Http {
    pub sb: Sandbox,
    pub http: reqwest::Client,
}

impl Http {
    /// Started on an ephemeral port with its clock at [`MORNING`].
    pub async fn start(cfg: Config) -> Http {
        let sb = Sandbox::start(Config { start_time: Some(MORNING), ..cfg }, 0).await.expect("sandbox starts");
        Http { sb, http: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.sb.base_url())
    }
}
