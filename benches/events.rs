//! Event listener throughput: accepted events per second with the log fsync'd before each
//! answer, plaintext beside safe mode, one sender and many. Prints a table; reproduce with
//! `cargo bench --bench events` (add `-- N` for N events per run, default 1000).
//!
//! The log lives under Cargo's target directory (a real disk, not tmpfs), so the fsyncs are real.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use wxscript::listen::{self, Listener};
use wxscript::message::MsgCrypt;
use wxscript::sandbox::{self, AuditEvent, push};

const TOKEN: &str = "bench-token";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn event(id: u64) -> AuditEvent {
    AuditEvent {
        appid: sandbox::APPID.into(),
        to: sandbox::TO_USER_NAME.into(),
        event: "add_store_audit_info",
        create_time: 1_795_000_000,
        fields: vec![
            ("audit_id", json!(id)),
            ("status", json!(1)),
            ("reason", json!("")),
            ("is_upgrade", json!(0)),
            ("poiid", json!(472_000_000 + id)),
        ],
    }
}

/// Events per second for `n` events from `senders` concurrent keep-alive clients.
fn run(rt: &tokio::runtime::Runtime, n: usize, senders: usize, safe: bool, row: usize) -> f64 {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-events");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join(format!("events-{row}.jsonl"));
    let _ = std::fs::remove_file(&path);
    let mut o = listen::Options::new(TOKEN, path.clone());
    if safe {
        o.aes_key = Some(KEY.into());
        o.appid = sandbox::APPID.into();
    }
    let l = rt.block_on(Listener::start(o, None)).expect("listener");
    let target = push::Target::new(&l.url(), TOKEN, safe.then_some(KEY)).expect("target");
    // Requests are signed (and encrypted) before the clock starts: only the listener is timed.
    let base = row as u64 * 1_000_000;
    let reqs: Arc<Vec<(String, String)>> =
        Arc::new((0..n as u64).map(|i| target.sign(&event(base + i).to_xml())).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..senders)
            .map(|_| {
                let (reqs, next) = (reqs.clone(), next.clone());
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((url, body)) = reqs.get(i) else { break };
                        let r = client.post(url).body(body.clone()).send().await.expect("answer");
                        assert_eq!(r.text().await.expect("body"), "success");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("sender");
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(l.stats().accepted.load(Ordering::Relaxed), n as u64);
    drop(l);
    let _ = std::fs::remove_file(&path);
    n as f64 / secs
}

/// Mean time of one fdatasync after a small append, the floor under one sender's latency.
fn fsync_cost(n: usize) -> Duration {
    use std::io::Write;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-events");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join("fsync.bin");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("file");
    let t0 = Instant::now();
    for _ in 0..n {
        f.write_all(&[b'x'; 300]).expect("write");
        f.sync_data().expect("fsync");
    }
    let d = t0.elapsed() / n as u32;
    let _ = std::fs::remove_file(&path);
    d
}

/// Mean time to encrypt and to decrypt one event in safe mode.
fn crypto_cost(n: usize) -> (Duration, Duration) {
    let c = MsgCrypt::new(KEY, sandbox::APPID).expect("key");
    let xml = event(1).to_xml();
    let t0 = Instant::now();
    let encs: Vec<String> = (0..n).map(|_| c.encrypt(xml.as_bytes())).collect();
    let enc = t0.elapsed() / n as u32;
    let t0 = Instant::now();
    for e in &encs {
        c.open(e).expect("decrypts");
    }
    (enc, t0.elapsed() / n as u32)
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1000);
    const ROUNDS: usize = 5;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!("event listener: {n} events per run, {ROUNDS} rounds, log fsync'd before every answer");
    println!("fdatasync of a 300-byte append: {:.3} ms", fsync_cost(200).as_secs_f64() * 1e3);
    let (enc, dec) = crypto_cost(20_000);
    println!(
        "safe mode crypto per event: encrypt {:.1} µs (the pusher's side), decrypt {:.1} µs (the listener's)",
        enc.as_secs_f64() * 1e6,
        dec.as_secs_f64() * 1e6
    );
    // The modes interleave round by round, so a slow spell of the disk hits them alike.
    let configs = [(1, false), (1, true), (16, false), (16, true)];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for round in 0..ROUNDS {
        for (i, (senders, safe)) in configs.iter().enumerate() {
            rates[i].push(run(&rt, n, *senders, *safe, round * configs.len() + i));
        }
    }
    println!();
    println!("| mode | senders | events/s (median) | min - max |");
    println!("|---|---|---|---|");
    for ((senders, safe), mut r) in configs.into_iter().zip(rates) {
        r.sort_by(f64::total_cmp);
        let mode = if safe { "safe" } else { "plaintext" };
        println!("| {mode} | {senders} | {:.0} | {:.0} - {:.0} |", r[r.len() / 2], r[0], r[r.len() - 1]);
    }
}
