//! Events: the listener's handshake and checks, safe mode against openssl-made vectors, the
//! durable log through a kill -9, `event::find` / `event::wait`, `listen --script`, and the
//! recipe that waits for a store's audit on the sandbox.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wxscript::listen::{self, Listener};
use wxscript::message::crypto::{self, MsgCrypt};
use wxscript::sandbox::{self, AuditEvent, push};
use wxscript::store::events::{self as log, EventLog};

use common::{listen_port, ok, repo_root, stderr, stdout};

const TOKEN: &str = "QDG6eK-test-token";
const SAMPLE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("wxscript")
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("every log line is JSON"))
        .collect()
}

fn audit_event(audit_id: u64) -> AuditEvent {
    AuditEvent {
        appid: sandbox::APPID.into(),
        to: sandbox::TO_USER_NAME.into(),
        event: "add_store_audit_info",
        create_time: now() as u64,
        fields: vec![
            ("audit_id", json!(audit_id)),
            ("status", json!(1)),
            ("reason", json!("")),
            ("is_upgrade", json!(0)),
            ("poiid", json!(472_000_000 + audit_id)),
        ],
    }
}

/// The query of a signed request, with the signature made from `token`.
fn signed_query(token: &str, ts: i64, nonce: &str) -> String {
    let ts = ts.to_string();
    format!("signature={}&timestamp={ts}&nonce={nonce}", crypto::signature(&[token, &ts, nonce]))
}

struct InProcess {
    rt: tokio::runtime::Runtime,
    listener: Option<Listener>,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl InProcess {
    fn start(aes_key: Option<&str>, appid: &str) -> InProcess {
        let rt = rt();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut o = listen::Options::new(TOKEN, dir.path().join("events.jsonl"));
        o.aes_key = aes_key.map(Into::into);
        o.appid = appid.to_string();
        let listener = rt.block_on(Listener::start(o, None)).expect("listener starts");
        InProcess { rt, listener: Some(listener), dir, client: reqwest::Client::new() }
    }

    fn url(&self) -> String {
        self.listener.as_ref().expect("running").url()
    }

    fn log(&self) -> Vec<Value> {
        log_lines(&self.dir.path().join("events.jsonl"))
    }

    fn get(&self, query: &str) -> (u16, String) {
        let url = format!("{}?{query}", self.url());
        self.rt.block_on(async {
            let r = self.client.get(url).send().await.expect("answer");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    }

    fn post(&self, query: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        self.try_post(query, body).expect("answer")
    }

    /// `None` when the connection failed (a server may refuse an oversize body and close the
    /// connection before the client has finished sending it).
    fn try_post(&self, query: &str, body: impl Into<reqwest::Body>) -> Option<(u16, String)> {
        let url = format!("{}?{query}", self.url());
        let body = body.into();
        // A fresh connection each time: a refusal may close the one it came on, and a pooled
        // client could pick that connection for the next request in the race.
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        self.rt.block_on(async {
            let r = client.post(url).body(body).send().await.ok()?;
            Some((r.status().as_u16(), r.text().await.unwrap_or_default()))
        })
    }
}

#[test]
fn handshake_signature_and_refusals() {
    let l = InProcess::start(None, "");
    // The URL handshake echoes echostr only with the right signature.
    let q = signed_query(TOKEN, now(), "1234567");
    assert_eq!(l.get(&format!("{q}&echostr=8812345678")), (200, "8812345678".to_string()));
    let wrong = signed_query("not-the-token", now(), "1234567");
    assert_eq!(l.get(&format!("{wrong}&echostr=8812345678")).0, 403);
    assert_eq!(l.get("echostr=1").0, 400);

    let xml = audit_event(11111).to_xml();
    // Valid: accepted and logged.
    assert_eq!(l.post(&signed_query(TOKEN, now(), "1"), xml.clone()), (200, "success".to_string()));
    assert_eq!(l.log().len(), 1);
    assert_eq!(l.log()[0]["event"]["audit_id"], json!(11111));
    assert_eq!(l.log()[0]["event"]["Event"], json!("add_store_audit_info"));
    // Re-sent by WeChat (same FromUserName, CreateTime, Event, audit_id): success, stored once.
    assert_eq!(l.post(&signed_query(TOKEN, now(), "2"), xml.clone()).1, "success");
    assert_eq!(l.log().len(), 1);

    let other = audit_event(22222).to_xml();
    let refused: Vec<(&str, String, String)> = vec![
        ("wrong signature", signed_query("wrong", now(), "3"), other.clone()),
        ("stale timestamp", signed_query(TOKEN, now() - 360, "4"), other.clone()),
        ("future timestamp", signed_query(TOKEN, now() + 360, "4"), other.clone()),
        ("no signature", format!("timestamp={}&nonce=5", now()), other.clone()),
        ("oversize", signed_query(TOKEN, now(), "6"), format!("{}<!--{}-->", other, "x".repeat(64 * 1024))),
        ("malformed", signed_query(TOKEN, now(), "7"), "<xml><ToUserName>a</xml>".to_string()),
        ("not XML", signed_query(TOKEN, now(), "8"), "{\"json\": true}".to_string()),
        ("not a message", signed_query(TOKEN, now(), "9"), "<xml><a>1</a></xml>".to_string()),
        (
            "empty sender",
            signed_query(TOKEN, now(), "12"),
            "<xml><FromUserName></FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>".to_string(),
        ),
        ("encrypted without key", format!("{}&encrypt_type=aes", signed_query(TOKEN, now(), "10")), other.clone()),
    ];
    for (what, q, body) in refused {
        match l.try_post(&q, body) {
            Some((status, _)) => assert!((400..500).contains(&status), "{what}: expected a 4xx, got {status}"),
            None => assert_eq!(what, "oversize", "{what}: the connection failed"),
        }
    }
    assert_eq!(l.log().len(), 1, "nothing refused is logged");
    let stats = l.listener.as_ref().expect("running").stats();
    assert_eq!(stats.refused.load(Ordering::Relaxed), 12);
    assert_eq!(stats.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), 1);
    // Still serving after all that.
    assert_eq!(l.post(&signed_query(TOKEN, now(), "11"), other).1, "success");
    assert_eq!(l.log().len(), 2);
}

/// A safe-mode push of `xml` as WeChat makes it.
fn encrypted_push(c: &MsgCrypt, token: &str, xml: &str) -> (String, String) {
    let target =
        push::Target { url: "http://x/".into(), token: token.into(), crypt: Some(c.clone()), per_account: false };
    let (url, body) = target.sign(xml);
    (url.split_once('?').expect("query").1.to_string(), body)
}

#[test]
fn safe_mode_round_trip_and_refusals() {
    let l = InProcess::start(Some(SAMPLE_KEY), sandbox::APPID);
    let c = MsgCrypt::new(SAMPLE_KEY, sandbox::APPID).expect("key");
    // Round trips of every length around the block sizes.
    for n in 0..100 {
        let msg: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(c.open(&c.encrypt(&msg)).expect("decrypts"), msg);
    }
    let xml = audit_event(33333).to_xml();
    let (q, body) = encrypted_push(&c, TOKEN, &xml);
    assert!(q.contains("encrypt_type=aes") && q.contains("msg_signature="));
    assert!(body.contains("<Encrypt>") && !body.contains("33333"));
    assert_eq!(l.post(&q, body), (200, "success".to_string()));
    assert_eq!(l.log().len(), 1);
    assert_eq!(l.log()[0]["event"]["audit_id"], json!(33333));

    // For another appid: refused.
    let foreign = MsgCrypt::new(SAMPLE_KEY, "wxsomeoneelse").expect("key");
    let (q, body) = encrypted_push(&foreign, TOKEN, &audit_event(44444).to_xml());
    assert_eq!(l.post(&q, body).0, 400);
    // A tampered msg_signature: refused.
    let (q, body) = encrypted_push(&c, TOKEN, &audit_event(55555).to_xml());
    let q = q.replace("msg_signature=", "msg_signature=0");
    assert_eq!(l.post(&q, body).0, 403);
    // Tampered ciphertext (re-signed, so only the decryption can notice): refused.
    let enc = c.encrypt(audit_event(66666).to_xml().as_bytes());
    let mut bytes = enc.into_bytes();
    // The first ciphertext block XORs into the second plaintext block, which holds the length.
    bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
    let enc = String::from_utf8(bytes).expect("ascii");
    let ts = now().to_string();
    let sig = crypto::signature(&[TOKEN, &ts, "9"]);
    let msig = crypto::signature(&[TOKEN, &ts, "9", &enc]);
    let q = format!("signature={sig}&timestamp={ts}&nonce=9&encrypt_type=aes&msg_signature={msig}");
    let (status, _) = l.post(&q, format!("<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"));
    assert!((400..500).contains(&status), "tampered ciphertext: {status}");
    // Plaintext to a safe-mode listener: refused.
    assert_eq!(l.post(&signed_query(TOKEN, now(), "1"), audit_event(77777).to_xml()).0, 400);
    assert_eq!(l.log().len(), 1, "nothing refused is logged");
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/wechat_crypto").join(name)).expect("fixture")
}

#[test]
fn safe_mode_agrees_with_openssl() {
    let appid = fixture("appid.txt").trim().to_string();
    let c = MsgCrypt::new(SAMPLE_KEY, &appid).expect("sample key");
    let key_hex: String = c.key().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(key_hex, fixture("key.hex").trim(), "EncodingAESKey decodes as openssl's base64 does");
    for name in ["audit", "text", "exact"] {
        let xml = fixture(&format!("{name}.xml"));
        let random: [u8; 16] = fixture(&format!("{name}.random")).trim().as_bytes().try_into().expect("16 bytes");
        let b64 = fixture(&format!("{name}.b64"));
        assert_eq!(c.encrypt_with(xml.as_bytes(), &random), b64.trim(), "{name}: same ciphertext as openssl");
        let (msg, got_appid) = c.decrypt(b64.trim()).expect("openssl's ciphertext decrypts");
        assert_eq!(msg, xml.as_bytes(), "{name}");
        assert_eq!(got_appid, appid);
    }
    // And through the listener: openssl's ciphertext of the seed's event is accepted and logged.
    let l = InProcess::start(Some(SAMPLE_KEY), &appid);
    let enc = fixture("audit.b64").trim().to_string();
    let ts = now().to_string();
    let q = format!(
        "signature={}&timestamp={ts}&nonce=42&encrypt_type=aes&msg_signature={}",
        crypto::signature(&[TOKEN, &ts, "42"]),
        crypto::signature(&[TOKEN, &ts, "42", &enc])
    );
    let body =
        format!("<xml><ToUserName><![CDATA[gh_4346ac1514d8]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>");
    assert_eq!(l.post(&q, body), (200, "success".to_string()));
    let ev = &l.log()[0]["event"];
    assert_eq!((ev["audit_id"].clone(), ev["poiid"].clone()), (json!(11111), json!(12344)));
    assert_eq!(ev["Event"], json!("add_store_audit_info"));
}

/// `wxscript listen` as a child process.
/// `port` 0 lets the listener pick a free one; the port it listens on is returned.
fn spawn_listener(port: u16, log: &Path, extra: &[&str]) -> (Child, u16) {
    let mut c = Command::new(bin());
    c.args(["listen", "--port", &port.to_string(), "--log"])
        .arg(log)
        .args(extra)
        .env("WECHAT_TOKEN", TOKEN)
        .env_remove("WECHAT_AES_KEY")
        .env_remove("WECHAT_APPID")
        .env_remove("WECHAT_APPSECRET")
        .env_remove("WECHAT_ACCESS_TOKEN")
        .env("NO_COLOR", "1")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("listener starts");
    // Ready once it says where it listens.
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("listening on"), "listener did not start: {first:?}");
    let port = listen_port(&first);
    // Keep draining stdout so the child never blocks on a full pipe; hand the rest back.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    STDOUTS.with(|m| m.borrow_mut().insert(child.id(), rx));
    (child, port)
}

thread_local! {
    static STDOUTS: std::cell::RefCell<HashMap<u32, std::sync::mpsc::Receiver<String>>> = Default::default();
}

/// The stdout lines a spawned listener (by pid) printed after its first one, once it has exited.
fn rest_of_stdout(pid: u32) -> Vec<String> {
    STDOUTS.with(|m| m.borrow_mut().remove(&pid).map(|rx| rx.iter().collect()).unwrap_or_default())
}

/// The stdout lines a running listener printed up to and including the first that `done`
/// accepts (all it printed within `timeout` when none does).
fn stdout_until(pid: u32, timeout: Duration, done: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    STDOUTS.with(|m| {
        let m = m.borrow();
        let Some(rx) = m.get(&pid) else { return Vec::new() };
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let last = done(&l);
                    seen.push(l);
                    if last {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        seen
    })
}

#[test]
fn kill_9_during_a_burst_loses_nothing_answered_and_stores_nothing_twice() {
    const N: u64 = 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("events.jsonl");
    let (mut child, port) = spawn_listener(0, &log_path, &[]);
    let rt = rt();
    let target = push::Target::new(&format!("http://127.0.0.1:{port}/wechat"), TOKEN, None).expect("target");
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let events: Arc<Vec<AuditEvent>> = Arc::new((1..=N).map(|i| audit_event(900_000 + i)).collect());
    // 8 senders, each pushing the next event with the simulator's push code (3 retries).
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (target, client, next, answered, events) =
                (target.clone(), client.clone(), next.clone(), answered.clone(), events.clone());
            rt.spawn(async move {
                let mut ok = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(ev) = events.get(i) else { break };
                    if push::deliver(&client, &target, &ev.to_xml()).await.is_ok() {
                        answered.fetch_add(1, Ordering::SeqCst);
                        ok.push(i);
                    }
                }
                ok
            })
        })
        .collect();
    // Kill it in the middle of the burst, and bring it back on the same port and log.
    let t0 = Instant::now();
    while answered.load(Ordering::SeqCst) < 300 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill -9"); // SIGKILL on Unix
    let _ = child.wait();
    let at_kill = answered.load(Ordering::SeqCst);
    assert!(at_kill < N as usize, "the burst ended before the kill; make it longer");
    // Back on the same port, as a restarted service would be.
    let (mut child, _) = spawn_listener(port, &log_path, &[]);
    let mut success: Vec<usize> = Vec::new();
    for w in workers {
        success.extend(rt.block_on(w).expect("worker"));
    }
    // WeChat re-sends some events anyway: the restarted listener must not store them again.
    let resend: Vec<_> = success.iter().step_by(10).copied().collect();
    for i in &resend {
        rt.block_on(push::deliver(&client, &target, &events[*i].to_xml())).expect("re-sent event accepted");
    }
    let _ = child.kill();
    let _ = child.wait();

    let logged: Vec<u64> =
        log_lines(&log_path).iter().map(|l| l["event"]["audit_id"].as_u64().expect("audit_id")).collect();
    let unique: HashSet<u64> = logged.iter().copied().collect();
    assert_eq!(unique.len(), logged.len(), "an event was stored twice");
    for i in &success {
        assert!(unique.contains(&(900_001 + *i as u64)), "event {i} was answered success but is not in the log");
    }
    assert!(success.len() > at_kill, "pushes went on after the restart");
    eprintln!(
        "burst: {} answered success ({} before the kill), {} logged, {} re-sent",
        success.len(),
        at_kill,
        logged.len(),
        resend.len()
    );
}

/// Appends events to a log the way the listener does.
fn append(rt: &tokio::runtime::Runtime, log: &EventLog, ev: &AuditEvent) {
    let Value::Object(o) = ev.to_json() else { unreachable!() };
    rt.block_on(log.append(o)).expect("append");
}

#[test]
fn wait_returns_the_right_event_among_many_and_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let rt = rt();
    let (log, _) = EventLog::open(&path, None).expect("log opens");
    for i in 0..300 {
        append(&rt, &log, &audit_event(1_000 + i));
    }
    let script = r#"
        let found = event::find(#{Event: "add_store_audit_info", audit_id: 1250});
        print(`found ${found.len()} ${found[0].poiid}`);
        print(`all ${event::find(#{}).len()}`);
        print(`as text ${event::find(#{audit_id: "1007"}).len()}`);
        let t = timestamp();
        let e = event::wait(#{Event: "add_store_audit_info", audit_id: 5000}, 20);
        print(`waited ${e.audit_id} ${e.poiid} ${e.status}`);
        let t = timestamp();
        try {
            event::wait(#{audit_id: 999999}, 0.5);
            print("no timeout");
        } catch (err) {
            print(`caught ${err.kind} after ${t.elapsed}`);
        }
        event::wait(#{audit_id: 999999}, 0);
    "#;
    let file = dir.path().join("wait.rhai");
    std::fs::write(&file, script).expect("script");
    let child = Command::new(bin())
        .args(["run", "--log"])
        .arg(&path)
        .arg(&file)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run starts");
    // While it waits: many events that do not match, then the one it waits for, then more.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..200 {
        append(&rt, &log, &audit_event(2_000 + i));
    }
    let mut wanted = audit_event(5000);
    wanted.fields[1].1 = json!(3);
    append(&rt, &log, &wanted);
    for i in 0..50 {
        append(&rt, &log, &audit_event(3_000 + i));
    }
    let out = child.wait_with_output().expect("run ends");
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(so.contains("found 1 472001250"), "{so}\n{se}");
    assert!(so.contains("all 300"), "{so}");
    assert!(so.contains("as text 1"), "{so}");
    assert!(so.contains("waited 5000 472005000 3"), "{so}\n{se}");
    let caught = so.lines().find(|l| l.starts_with("caught timeout after")).unwrap_or_else(|| panic!("{so}\n{se}"));
    let secs: f64 = caught.rsplit(' ').next().and_then(|s| s.parse().ok()).expect("elapsed");
    assert!((0.4..5.0).contains(&secs), "timed out after {secs} s");
    // Uncaught: a script error naming the timeout, exit 1.
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(se.contains("timeout") && se.contains("999999"), "{se}");
}

#[test]
fn listen_script_runs_per_event_in_order_and_survives_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("events.jsonl");
    let script = dir.path().join("on_event.rhai");
    std::fs::write(
        &script,
        r#"
        let seen = 0;
        fn on_event(e) {
            if e.audit_id == 2 { throw "cannot handle audit 2"; }
            print(`handled ${e.Event} ${e.audit_id}`);
        }
        "#,
    )
    .expect("script");
    let key = SAMPLE_KEY;
    let (mut child, port) = spawn_listener(
        0,
        &log_path,
        &["--script", script.to_str().expect("utf-8 path"), "--aes-key", key, "--appid", sandbox::APPID],
    );
    let rt = rt();
    let target = push::Target::new(&format!("http://127.0.0.1:{port}/"), TOKEN, Some(key)).expect("target");
    let client = reqwest::Client::new();
    for id in 1..=3 {
        rt.block_on(push::deliver(&client, &target, &audit_event(id).to_xml())).expect("accepted");
    }
    // The script runs after the answer: wait until it has seen the last event.
    let pid = child.id();
    let mut so = stdout_until(pid, Duration::from_secs(20), |l| l == "handled add_store_audit_info 3");
    let _ = child.kill();
    let out = child.wait_with_output().expect("listener output");
    so.extend(rest_of_stdout(pid));
    let so = so.join("\n");
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    let handled: Vec<&str> = so.lines().filter(|l| l.starts_with("handled")).collect();
    assert_eq!(handled, ["handled add_store_audit_info 1", "handled add_store_audit_info 3"], "{so}\n{se}");
    assert!(se.contains("cannot handle audit 2"), "{se}");
    assert!(se.contains("on_event failed for event add_store_audit_info audit_id=2"), "{se}");
    assert_eq!(log_lines(&log_path).len(), 3, "the failed event is logged all the same");
    for secret in [TOKEN, key] {
        assert!(!so.contains(secret) && !se.contains(secret), "a secret was printed");
    }
}

#[test]
fn listen_script_is_given_what_it_missed_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("events.jsonl");
    let script = dir.path().join("react.rhai");
    std::fs::write(&script, "fn on_event(e) { print(`handled ${e.audit_id}`); }").expect("script");
    let rt = rt();
    // History the script never reacts to: it was there before the script was attached.
    let write = |ids: &[u64]| {
        let (log, _) = EventLog::open(&log_path, None).expect("log opens");
        for id in ids {
            append(&rt, &log, &audit_event(*id));
        }
    };
    write(&[100]);
    let script_arg = ["--script", script.to_str().expect("utf-8 path")];
    let push = |port: u16, id: u64| {
        let target = push::Target::new(&format!("http://127.0.0.1:{port}/"), TOKEN, None).expect("target");
        rt.block_on(push::deliver(&reqwest::Client::new(), &target, &audit_event(id).to_xml())).expect("accepted");
    };
    let (mut child, port) = spawn_listener(0, &log_path, &script_arg);
    push(port, 1);
    let seen = stdout_until(child.id(), Duration::from_secs(20), |l| l == "handled 1");
    let handled: Vec<&str> = seen.iter().map(String::as_str).filter(|l| l.starts_with("handled")).collect();
    assert_eq!(handled, ["handled 1"], "history is not replayed to a new script: {seen:?}");
    // Its progress is recorded once on_event has returned (a kill before that would hand event 1
    // over again: at least once).
    let cursor = dir.path().join("events.jsonl.react.cursor");
    let read_cursor = || std::fs::read_to_string(&cursor).unwrap_or_default().trim().to_string();
    let t0 = Instant::now();
    while read_cursor() != "2" && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(read_cursor(), "2", "the history event and event 1");
    let _ = child.kill();
    let _ = child.wait();
    rest_of_stdout(child.id());
    // While it is down, events still arrive (another listener without the script, say).
    write(&[2, 3]);
    let (mut child, port) = spawn_listener(0, &log_path, &script_arg);
    push(port, 4);
    let seen = stdout_until(child.id(), Duration::from_secs(20), |l| l == "handled 4");
    let t0 = Instant::now();
    while read_cursor() != "5" && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(read_cursor(), "5");
    let _ = child.kill();
    let _ = child.wait();
    let handled: Vec<&str> = seen.iter().map(String::as_str).filter(|l| l.starts_with("handled")).collect();
    assert_eq!(handled, ["handled 2", "handled 3", "handled 4"], "{seen:?}");
    assert!(seen.iter().any(|l| l.starts_with("replaying 2 events")), "{seen:?}");
}

#[test]
fn sandbox_runs_clean_up_their_own_logs_and_those_of_killed_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A run killed with SIGKILL left its log; its process is gone.
    let mut gone = Command::new("true").spawn().expect("spawn");
    let _ = gone.wait();
    let stale = tmp.path().join(format!("wxscript-events-{}-0badf00d.jsonl", gone.id()));
    // A log whose process (this test) is alive.
    let live = tmp.path().join(format!("wxscript-events-{}-00000001.jsonl", std::process::id()));
    let other = tmp.path().join("wxscript-events-notes.txt");
    for f in [&stale, &live, &other] {
        std::fs::write(f, "").expect("write");
    }
    let script = tmp.path().join("s.rhai");
    std::fs::write(&script, "print(event::find(#{}).len());").expect("script");
    let o =
        Command::new(bin()).args(["run", "--sandbox"]).arg(&script).env("TMPDIR", tmp.path()).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists(), "the killed run's log is removed");
    assert!(live.exists() && other.exists(), "nothing else is touched");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 3, "the run removed its own log: {left:?}");
}

/// `wxscript listen` with settings from `config` alone (none from the environment), and its
/// stdout after the first line, which is returned too.
fn listen_with_config(
    config: &Path,
    args: &[&str],
    stderr: Stdio,
) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = Command::new(bin())
        .arg("listen")
        .args(args)
        .env("WXSCRIPT_CONFIG", config)
        .env_remove("WECHAT_TOKEN")
        .env_remove("WECHAT_AES_KEY")
        .env_remove("WECHAT_APPID")
        .env_remove("WXSCRIPT_EVENT_LOG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("listener starts");
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut first).expect("first line");
    (child, out, first)
}

#[test]
fn listen_takes_its_settings_from_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("from-config.jsonl");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "appid = \"{}\"\n\n[listen]\ntoken = \"{TOKEN}\"\naes_key = \"{SAMPLE_KEY}\"\nport = 0\nlog = \"{}\"\n",
            sandbox::APPID,
            log_path.display()
        ),
    )
    .expect("config");
    let (mut child, _, first) = listen_with_config(&config, &[], Stdio::piped());
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("listening on http://127.0.0.1:"), "{first}{err}");
    assert!(first.contains(&format!("safe mode, appid {}", sandbox::APPID)), "{first}");
    assert!(first.contains("from-config.jsonl"), "{first}");
    assert!(!first.contains(TOKEN) && !first.contains(SAMPLE_KEY) && !err.contains(TOKEN), "secrets stay secret");
}

#[test]
fn one_listener_serves_several_own_accounts_each_with_its_settings() {
    const KEY_B: &str = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("accounts.jsonl");
    let config = dir.path().join("config.toml");
    // shop-b has a Token and key of its own; shop-c shares the listener's.
    std::fs::write(
        &config,
        format!(
            "appid = \"wxsandbox\"\nappsecret = \"s\"\n\n[accounts.shop-b]\nappid = \"wxsandbox2\"\nappsecret = \"s2\"\ntoken = \"tok-b\"\naes_key = \"{KEY_B}\"\n\n[accounts.shop-c]\nappid = \"wxsandbox3\"\nappsecret = \"s3\"\n\n[listen]\ntoken = \"{TOKEN}\"\naes_key = \"{SAMPLE_KEY}\"\nlog = \"{}\"\n",
            log_path.display()
        ),
    )
    .expect("config");
    #[cfg(unix)]
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let (mut child, mut out, first) = listen_with_config(&config, &["--port", "0"], Stdio::null());
    let mut second = String::new();
    out.read_line(&mut second).expect("second line");
    assert!(
        second.contains("also the message URL of shop-b (wxsandbox2, at .../shop-b, its own Token/key), shop-c"),
        "{second}"
    );
    // Its stdout closed: a listener whose stdout is gone still answers every push (it prints a
    // line per event and lets the line go).
    drop(out);
    let port: u16 = first
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|a| a.split(['/', ' ']).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    let runtime = rt();
    let post = |path: &str, token: &str, key: &str, appid: &str, audit_id: u64| {
        let target = push::Target::new(&format!("http://127.0.0.1:{port}{path}"), token, Some(key)).expect("target");
        let mut ev = audit_event(audit_id);
        ev.appid = appid.into();
        let (url, body) = target.sign_to(&ev.to_xml(), "gh_x", appid);
        runtime.block_on(async {
            let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
            client.post(url).body(body).send().await.expect("answer").status().as_u16()
        })
    };
    // shop-b at its own path, by name or appid, with its own settings.
    assert_eq!(post("/wx/shop-b", "tok-b", KEY_B, "wxsandbox2", 1), 200);
    assert_eq!(post("/wxsandbox2", "tok-b", KEY_B, "wxsandbox2", 2), 200);
    // ... not with the listener's Token, nor at an unnamed path.
    assert_eq!(post("/wx/shop-b", TOKEN, KEY_B, "wxsandbox2", 3), 403);
    assert_eq!(post("/", TOKEN, SAMPLE_KEY, "wxsandbox2", 4), 400);
    // shop-c shares the listener's settings: anywhere; the default account too; a stranger not.
    assert_eq!(post("/", TOKEN, SAMPLE_KEY, "wxsandbox3", 5), 200);
    assert_eq!(post("/wx/shop-c", TOKEN, SAMPLE_KEY, "wxsandbox3", 6), 200);
    assert_eq!(post("/", TOKEN, SAMPLE_KEY, "wxsandbox", 7), 200);
    assert_eq!(post("/", TOKEN, SAMPLE_KEY, "wxstranger", 8), 400);
    let _ = child.kill();
    let _ = child.wait();
    let logged: Vec<i64> = log_lines(&log_path).iter().filter_map(|l| l["event"]["audit_id"].as_i64()).collect();
    assert_eq!(logged, [1, 2, 5, 6, 7]);
}

#[test]
fn listen_needs_a_token_and_serve_push_needs_one_too() {
    let o = Command::new(bin()).args(["listen", "--port", "0"]).env_remove("WECHAT_TOKEN").output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--token"), "{}", stderr(&o));
    let o = Command::new(bin())
        .args(["listen", "--port", "0", "--token", "t", "--aes-key", "tooshort", "--appid", "wx1"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("tooshort"), "the key is never printed: {}", stderr(&o));
    let o = Command::new(bin())
        .args(["sandbox", "serve", "--push-url", "http://127.0.0.1:9/"])
        .env_remove("WECHAT_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn simulator_pushes_decided_audits_to_a_listener() {
    // The simulator with --push-url in safe mode, and a listener in the same process.
    let rt = rt();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = listen::Options::new(TOKEN, dir.path().join("events.jsonl"));
    o.aes_key = Some(SAMPLE_KEY.into());
    o.appid = sandbox::APPID.into();
    let l = rt.block_on(Listener::start(o, None)).expect("listener");
    let cfg = sandbox::Config {
        push_url: Some(l.url()),
        push_token: TOKEN.into(),
        push_aes_key: Some(SAMPLE_KEY.into()),
        audit_delay: Duration::from_millis(200),
        ..sandbox::Config::default()
    };
    let sim = common::Sim::with(cfg);
    let script = format!(
        "{}\n{}",
        common::Sim::merchant_prelude().replace(
            "let audit = merchant::audit_info();\n        if audit.status != 1 { throw `merchant not approved: ${audit}`; }",
            "let audit = merchant::audit_info();"
        ),
        r#"
        sleep(0.4);
        let r = store::add(#{map_poi_id: poi.sosomap_poi_uid, pic_list: [pic], contract_phone: "1", hour: "08:00-22:00", credential: "c1"});
        print(`audit ${audit.audit_id} ${r.audit_id}`);
        "#
    );
    let out = sim.cmd().arg("run").arg(sim.write("s.rhai", &script)).output().expect("runs");
    let so = ok(&out);
    // Nothing reads the state now: the pusher's own polling must decide the audits.
    let t0 = Instant::now();
    let sandbox = sim.sandbox.as_ref().expect("sandbox");
    while (log_lines(l.log_path()).len() < 2 || sandbox.push_counts().0 < 2) && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = log_lines(l.log_path());
    let kinds: Vec<&str> = lines.iter().map(|l| l["event"]["Event"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["apply_merchant_audit_info", "add_store_audit_info"], "{so}");
    assert!(so.contains(&format!("{} {}", lines[0]["event"]["audit_id"], lines[1]["event"]["audit_id"])), "{so}");
    assert_eq!(sandbox.push_counts(), (2, 0));
    assert_eq!(lines[1]["event"]["status"], json!(1));
    assert!(lines[1]["event"]["poiid"].as_u64().is_some());
    drop(l);
}

#[test]
fn a_sandbox_run_in_safe_mode_receives_every_own_accounts_events() {
    // Each own account's pushes are encrypted with its own appid; the run's listener knows them.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("own2.rhai");
    std::fs::write(
        &script,
        r#"
        account::with("wxsandbox2", || {
            let head = media::upload("scripts/data/logo.png", "image");
            let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
            merchant::apply(#{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "测试便利店", intro: "测试"});
        });
        let id = account::with("wxsandbox2", || merchant::audit_info().audit_id);
        print(`pushed: ${event::wait(#{audit_id: id}, 10).ToUserName}`);
        "#,
    )
    .expect("script");
    let o = Command::new(bin())
        .args(["run", "--sandbox", "--listen", "0", "--log"])
        .arg(dir.path().join("events.jsonl"))
        .arg(&script)
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("WXSCRIPT_CACHE_DIR", dir.path().join("cache"))
        .env("WECHAT_TOKEN", TOKEN)
        .env("WECHAT_AES_KEY", SAMPLE_KEY)
        .env_remove("WECHAT_APPID")
        .current_dir(repo_root())
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.contains("pushed: gh_sandbox000002"), "{out}{}", stderr(&o));
}

#[test]
fn recipe_adds_a_store_waits_for_its_event_and_sets_its_card() {
    let run = |extra: &[&str]| {
        assert_cmd::Command::cargo_bin("wxscript")
            .expect("binary")
            .current_dir(repo_root())
            .args(["run", "--sandbox"])
            .args(extra)
            .arg("scripts/add_store_and_card.rhai")
            .env_remove("WECHAT_TOKEN")
            .env_remove("WECHAT_AES_KEY")
            .env("NO_COLOR", "1")
            .timeout(Duration::from_secs(60))
            .output()
            .expect("runs")
    };
    let so = ok(&run(&["--arg", "card=pTESTCARD0001"]));
    assert!(so.contains("store approved: poiid"), "{so}");
    assert!(so.contains("card pTESTCARD0001 set for store"), "{so}");
    // With audits taking a while, the run's listener on a port of its own, in safe mode.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("run.jsonl");
    let so = ok(&run(&[
        "--audit-delay",
        "0.3",
        "--listen",
        "0",
        "--aes-key",
        SAMPLE_KEY,
        "--log",
        log.to_str().expect("utf-8 path"),
    ]));
    assert!(so.contains("card pDF3iY9tda0OFmiuTHhXOsdGx5Xo set for store"), "{so}");
    // The platform's pushes (its ticket, the simulator's authorizers) are logged beside them.
    let audits: Vec<Value> = log_lines(&log).into_iter().filter(|l| l["event"].get("InfoType").is_none()).collect();
    assert_eq!(audits.len(), 2, "merchant and store audits logged: {audits:?}");
    let platform = log_lines(&log).len() - audits.len();
    assert_eq!(platform, 4, "the ticket and three authorisations are logged too");
    // A store whose audit fails ends the recipe with the reason.
    let o = run(&["--arg", "credential=REJECT-ME"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("failed: status 3"), "{}", stderr(&o));
}

#[test]
fn dedup_key_follows_wechat() {
    let a = json!({"FromUserName": "u", "CreateTime": 1, "MsgType": "event", "Event": "e", "audit_id": 1});
    let b = json!({"FromUserName": "u", "CreateTime": 1, "MsgType": "event", "Event": "e", "audit_id": 2});
    let (a, b) = (a.as_object().expect("object"), b.as_object().expect("object"));
    assert_ne!(log::dedup_key(a), log::dedup_key(b));
    let mut a2 = a.clone();
    a2.insert("status".into(), json!(3));
    assert_eq!(log::dedup_key(a), log::dedup_key(&a2));
}

#[test]
fn deeply_nested_pushes_are_refused_and_the_listener_stays_up() {
    let l = InProcess::start(None, "");
    // About 42 KB: under the body limit, far over any nesting WeChat sends.
    let deep = format!(
        "<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>{}{}</xml>",
        "<a>".repeat(6000),
        "</a>".repeat(6000)
    );
    let (status, why) = l.post(&signed_query(TOKEN, now(), "deep1"), deep);
    assert_eq!(status, 400, "{why}");
    assert!(why.contains("nested deeper"), "{why}");
    assert_eq!(l.post(&signed_query(TOKEN, now(), "deep2"), audit_event(31).to_xml()).1, "success");
    assert_eq!(l.log().len(), 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("deep.rhai");
    std::fs::write(
        &script,
        r#"let x = "<xml>"; for i in 0..6000 { x += "<a>"; } for i in 0..6000 { x += "</a>"; } x += "</xml>";
        try { event::parse(x); print("parsed"); } catch (e) { print(`caught: ${e}`); }"#,
    )
    .expect("write");
    let o = Command::new(bin()).arg("run").arg(&script).env_remove("WECHAT_API_BASE").output().expect("runs");
    let out = ok(&o);
    assert!(out.contains("caught") && out.contains("nested deeper"), "{out}");
}

#[test]
fn a_plaintext_signature_replayed_with_another_body_is_refused() {
    let l = InProcess::start(None, "");
    let q = signed_query(TOKEN, now(), "replay-1");
    // One body, made once: it carries a CreateTime, which a second later would differ.
    let first = audit_event(41).to_xml();
    assert_eq!(l.post(&q, first.clone()), (200, "success".to_string()));
    let (status, why) = l.post(&q, audit_event(42).to_xml());
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("replay"), "{why}");
    // The same push again is WeChat re-sending it: answered, stored once.
    assert_eq!(l.post(&q, first), (200, "success".to_string()));
    assert_eq!(l.log().len(), 1);
    assert_eq!(l.log()[0]["event"]["audit_id"], json!(41));
}
