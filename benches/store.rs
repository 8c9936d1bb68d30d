//! The store's figures for docs/performance.md: calls/s of one process with 64 calls in flight
//! against a simulator answering in 20 ms, with the file store and with the Redis store, and
//! the token fetches each makes; then four processes ("hosts", each its own cache directory)
//! on one account, where only the Redis store makes them share tokens. Every process uses
//! classic tokens (`token_mode = "classic"`), the workload docs/performance.md states; token
//! fetches count both token endpoints. Prints figures; asserts nothing.
//!
//! Run: `cargo bench --bench store` (release build; needs `redis-server`; about a minute).

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{serve, wx};

#[path = "../src/store/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

/// Calls per round and process.
const CALLS: usize = 6000;
/// Calls in flight.
const C: usize = 64;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Calls of either token endpoint: classic `cgi-bin/token` and `cgi-bin/stable_token`.
fn token_fetches(rt: &tokio::runtime::Runtime, base: &str) -> i64 {
    rt.block_on(async {
        let v: Value = reqwest::get(format!("{base}/_sandbox/stats")).await.expect("stats").json().await.expect("json");
        v["token_fetches"].as_i64().unwrap_or(-1) + v["by_path"]["cgi-bin/stable_token"].as_i64().unwrap_or(0)
    })
}

/// `hosts` processes, each `calls` calls with `inflight` in flight, with `store` (`None`: files);
/// returns the calls/s of them together (each times itself after a warm-up call; the slowest
/// decides) and the token fetches made.
fn round(rt: &tokio::runtime::Runtime, base: &str, store: Option<&str>, hosts: usize, inflight: usize) -> (f64, i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("load.rhai");
    std::fs::write(
        &script,
        format!(
            "store::list(0, 1);\nlet items = [];\nfor i in 0..{CALLS} {{ items.push(i); }}\nlet t = timestamp();\nlet r = parallel(items, {inflight}, |i| store::list(0, 1));\nlet e = t.elapsed;\nif r.filter(|x| !x.ok).len() > 0 {{ throw \"failed\"; }}\nprint(e);"
        ),
    )
    .expect("write");
    // Classic tokens, as the documented figures were measured (stable ones are the default).
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "token_mode = \"classic\"\n").expect("write");
    let before = token_fetches(rt, base);
    let children: Vec<_> = (0..hosts)
        .map(|h| {
            let host = dir.path().join(format!("host{h}"));
            let mut c = wx(base, &host);
            c.env("WXSCRIPT_CONFIG", &config);
            c.args(["run", "--quiet"]).arg(&script).stdout(Stdio::piped()).stderr(Stdio::null());
            if let Some(url) = store {
                c.env("WXSCRIPT_STORE", url);
            }
            c.spawn().expect("run")
        })
        .collect();
    let mut slowest: f64 = 0.0;
    for c in children {
        let out = c.wait_with_output().expect("wait");
        let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("elapsed");
        slowest = slowest.max(secs);
    }
    ((hosts * CALLS) as f64 / slowest, token_fetches(rt, base) - before)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    // 20 ms latency and 2 s tokens.
    let (mut sim, base) = serve(&["--latency-ms", "20", "--token-ttl", "2"]);
    let redis = RedisServer::start();
    let url = redis.url();
    for (hosts, inflight) in [(1, C), (4, C / 4)] {
        let (mut file, mut shared, mut file_fetches, mut shared_fetches) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Interleaved, so a busy moment of the machine costs both alike.
        for _ in 0..3 {
            let (r, f) = round(&rt, &base, None, hosts, inflight);
            file.push(r);
            file_fetches.push(f);
            let (r, f) = round(&rt, &base, Some(&url), hosts, inflight);
            shared.push(r);
            shared_fetches.push(f);
            std::thread::sleep(Duration::from_millis(200));
        }
        let (f, s) = (median(file), median(shared));
        println!(
            "{hosts} process(es) x {inflight} in flight, {} calls each, 20 ms latency, 2 s tokens: file store {f:.0} calls/s (token fetches {file_fetches:?}), Redis store {s:.0} calls/s (token fetches {shared_fetches:?}), Redis/file {:.1}%",
            CALLS,
            s / f * 100.0
        );
    }
    let _ = sim.kill();
}
