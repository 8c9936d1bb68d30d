//! Hostile and broken servers: redirects, endless answers, refused connections, silent and
//! garbage token endpoints, a server echoing the token back, WeChat's frequency limit. Each
//! test starts a small HTTP server on an ephemeral loopback port and runs the built binary
//! against it.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the test server answers to one request line (`GET /path?query HTTP/1.1`).
enum Reply {
    /// Status line, extra headers and a body.
    Fixed(&'static str, Vec<String>, Vec<u8>),
    /// 200 and a body that never ends.
    Endless,
    /// Reads the request and never answers.
    Silent,
}

/// A raw HTTP/1.1 server on a loopback port, recording every request line it receives.
struct Server {
    base: String,
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(answer: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (answer, log) = (answer.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &*answer, &log));
            }
        });
        Server { base: format!("http://127.0.0.1:{port}"), port, seen }
    }

    /// Request lines whose path starts with `prefix` (`/cgi-bin/token`).
    fn hits(&self, prefix: &str) -> Vec<String> {
        let seen = self.seen.lock().expect("log");
        seen.iter().filter(|l| l.split(' ').nth(1).is_some_and(|p| p.starts_with(prefix))).cloned().collect()
    }
}

fn serve(stream: TcpStream, answer: &(dyn Fn(&str) -> Reply + Send + Sync), log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = line.trim_end().to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h.trim_end().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().expect("log").push(request_line.clone());
        match answer(&request_line) {
            Reply::Fixed(status, headers, body) => {
                let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
                for h in headers {
                    head.push_str(&h);
                    head.push_str("\r\n");
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body)).is_err() {
                    return;
                }
            }
            Reply::Endless => {
                let _ =
                    out.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n");
                let chunk = vec![b' '; 1 << 16];
                while out.write_all(&chunk).is_ok() {}
                return;
            }
            Reply::Silent => {
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
        }
    }
}

fn json(body: &str) -> Reply {
    Reply::Fixed("200 OK", vec!["content-type: application/json".into()], body.as_bytes().to_vec())
}

const TOKEN_OK: &str = r#"{"access_token":"tok-from-test-server-0123456789","expires_in":7200}"#;
const LIST_OK: &str = r#"{"errcode":0,"errmsg":"ok","data":{"total_count":0,"business_list":[]}}"#;

/// The binary pointed at `base` with an appid and secret (or a fixed token) and a private cache.
fn wx(base: &str, dir: &tempfile::TempDir) -> assert_cmd::Command {
    // These servers play the classic token endpoint, `GET cgi-bin/token`.
    let config = dir.path().join("classic.toml");
    std::fs::write(&config, "token_mode = \"classic\"\n").expect("config");
    let mut c = assert_cmd::Command::cargo_bin("wxscript").expect("bin");
    c.current_dir(repo_root())
        .env("WECHAT_API_BASE", base)
        .env("WECHAT_APPID", "wxhostiletest")
        .env("WECHAT_APPSECRET", "the-app-secret-42")
        .env_remove("WECHAT_ACCESS_TOKEN")
        .env_remove("WXSCRIPT_QPS")
        .env("WXSCRIPT_CACHE_DIR", dir.path().join("cache"))
        .env("WXSCRIPT_CONFIG", &config)
        .env("NO_COLOR", "1");
    c
}

fn script(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("s.rhai");
    std::fs::write(&p, text).expect("write script");
    p
}

/// Prints `kind|api|errmsg` of the error `body` throws.
const CATCH: &str =
    r#"try { store::list(0, 1); print("no error"); } catch (e) { print(`${e.kind}|${e.api}|${e.errmsg}`); }"#;

#[test]
fn a_redirecting_token_endpoint_never_gets_the_secret_sent_on() {
    let elsewhere = Server::start(|_| json(TOKEN_OK));
    let target = format!("{}/steal", elsewhere.base);
    let server = Server::start(move |line| {
        if line.contains("/cgi-bin/token") {
            Reply::Fixed("302 Found", vec![format!("location: {target}")], Vec::new())
        } else {
            json(LIST_OK)
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx(&server.base, &dir).arg("run").arg(script(&dir, CATCH)).output().expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("network|cgi-bin/token|"), "{out}");
    assert!(out.contains("302") && out.contains("redirect"), "{out}");
    assert!(elsewhere.hits("/").is_empty(), "the redirect was followed: {:?}", elsewhere.hits("/"));
    assert!(!out.contains("the-app-secret-42") && !stderr(&o).contains("the-app-secret-42"));
    assert!(server.hits("/wxa/").is_empty(), "no call without a token");
}

#[test]
fn a_redirecting_api_call_is_a_network_error_naming_the_status() {
    let elsewhere = Server::start(|_| json(LIST_OK));
    let target = format!("{}/wxa/get_store_list", elsewhere.base);
    let server =
        Server::start(move |_| Reply::Fixed("301 Moved Permanently", vec![format!("location: {target}")], vec![]));
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx(&server.base, &dir)
        .env("WECHAT_ACCESS_TOKEN", "fixed-token-abcdef")
        .arg("run")
        .arg(script(&dir, CATCH))
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("network|wxa/get_store_list|HTTP 301"), "{out}");
    assert!(elsewhere.hits("/").is_empty(), "the token went to another host");
    assert_eq!(server.hits("/wxa/").len(), 1, "a redirect is not retried");
}

#[test]
fn an_endless_answer_is_cut_at_the_cap() {
    let server = Server::start(|_| Reply::Endless);
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let o = wx(&server.base, &dir)
        .env("WECHAT_ACCESS_TOKEN", "fixed-token-abcdef")
        .arg("run")
        .arg(script(&dir, CATCH))
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("network|wxa/get_store_list|"), "{out}");
    assert!(out.contains("larger than 32 MB"), "{out}");
    assert_eq!(server.hits("/wxa/").len(), 1, "an oversized answer is not asked for again");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
fn an_endless_token_answer_is_cut_at_the_cap_too() {
    let server = Server::start(|_| Reply::Endless);
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx(&server.base, &dir).arg("run").arg(script(&dir, CATCH)).output().expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("network|cgi-bin/token|"), "{out}");
    assert!(out.contains("larger than 32 MB"), "{out}");
}

#[test]
fn a_refused_connection_says_so_and_names_the_address() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx(&format!("http://127.0.0.1:{port}"), &dir)
        .env("WECHAT_ACCESS_TOKEN", "fixed-token-abcdef")
        .arg("run")
        .arg(script(&dir, CATCH))
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.contains(&format!("connection refused to 127.0.0.1:{port}")), "{out}");
    assert!(!out.contains("error sending request") && !out.contains("fixed-token-abcdef"), "{out}");
}

#[test]
fn a_silent_server_times_out_after_the_stated_seconds() {
    let server = Server::start(|_| Reply::Silent);
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx(&server.base, &dir)
        .env("WECHAT_ACCESS_TOKEN", "fixed-token-abcdef")
        .arg("run")
        .arg(script(&dir, CATCH))
        .args(["--timeout", "1"])
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.contains(&format!("timed out after 1 s waiting for 127.0.0.1:{}", server.port)), "{out}");
}

#[test]
fn tls_to_a_plain_server_names_tls() {
    let server = Server::start(|_| json(LIST_OK));
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx(&format!("https://127.0.0.1:{}", server.port), &dir)
        .env("WECHAT_ACCESS_TOKEN", "fixed-token-abcdef")
        .arg("run")
        .arg(script(&dir, CATCH))
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.contains(&format!("TLS with 127.0.0.1:{} failed", server.port)), "{out}");
}

#[test]
fn a_base_without_a_scheme_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let o = wx("127.0.0.1:9", &dir).arg("run").arg(script(&dir, "print(\"ran\");")).output().expect("runs");
    assert_eq!(o.status.code(), Some(2), "a usage error");
    let err = stderr(&o);
    assert!(err.contains("\"127.0.0.1:9\"") && err.contains("http:// or https://"), "{err}");
    assert!(!stdout(&o).contains("ran"), "nothing runs");
    assert!(t.elapsed() < Duration::from_secs(5), "no retries: {:?}", t.elapsed());
}

#[test]
fn a_token_endpoint_answering_html_reports_status_and_snippet_without_the_secret() {
    let server = Server::start(|_| {
        Reply::Fixed(
            "502 Bad Gateway",
            vec!["content-type: text/html".into()],
            b"<html><body>bad gateway the-app-secret-42</body></html>".to_vec(),
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let o = wx(&server.base, &dir).arg("run").arg(script(&dir, CATCH)).output().expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("network|cgi-bin/token|"), "{out}");
    assert!(out.contains("HTTP 502") && out.contains("<html><body>bad gateway"), "{out}");
    assert!(!out.contains("the-app-secret-42"), "{out}");
    assert_eq!(server.hits("/cgi-bin/token").len(), 2, "fetched twice, as the contract says");
}

#[test]
fn a_failing_token_endpoint_is_fetched_twice_per_cool_down_not_per_item() {
    let server = Server::start(|line| if line.contains("/cgi-bin/token") { json("garbage") } else { json(LIST_OK) });
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"
        let items = [];
        for i in 0..64 { items.push(i); }
        let t = timestamp();
        let r = parallel(items, 64, |i| store::list(0, 1));
        let failed = r.filter(|x| !x.ok && x.error.api == "cgi-bin/token").len();
        print(`${failed} failed in ${t.elapsed}`);
        sleep(5.5);
        try { store::list(0, 1); } catch (e) { print(`after: ${e.errmsg}`); }
    "#;
    let o = wx(&server.base, &dir).arg("run").arg("--quiet").arg(script(&dir, text)).output().expect("runs");
    let out = ok(&o);
    assert!(out.starts_with("64 failed"), "{out}");
    let secs: f64 =
        out.split(" in ").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap_or(99.0);
    assert!(secs < 5.0, "the other items failed at once: {out}");
    assert!(out.contains("after: the token endpoint failed twice"), "{out}");
    assert_eq!(server.hits("/cgi-bin/token").len(), 4, "one fetch pair, then one after the cool-down");
    assert!(server.hits("/wxa/").is_empty());
}

#[test]
fn a_token_echoed_back_percent_encoded_is_redacted() {
    let server = Server::start(|line| {
        let echoed = line.split("access_token=").nth(1).and_then(|r| r.split([' ', '&']).next()).unwrap_or("");
        json(&format!(
            r#"{{"errcode":48001,"errmsg":"api unauthorized for token {echoed} ({})"}}"#,
            echoed.to_lowercase()
        ))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let token = "tok+en/with=signs";
    let o = wx(&server.base, &dir)
        .env("WECHAT_ACCESS_TOKEN", token)
        .arg("run")
        .arg(script(&dir, CATCH))
        .output()
        .expect("runs");
    let out = ok(&o);
    assert!(out.contains("api unauthorized for token ***"), "{out}");
    for leak in ["tok%2Ben%2Fwith%3Dsigns", "tok%2ben%2fwith%3dsigns", "tok+en", "with=signs"] {
        assert!(!out.contains(leak), "{leak} leaked: {out}");
    }
}

#[test]
fn a_wrong_secret_is_not_hidden_by_a_cached_token() {
    let sim = Sim::start();
    ok(&sim.run("store::list(0, 1);"));
    let path = sim.write("w.rhai", "store::list(0, 1);");
    let o = sim.cmd().env("WECHAT_APPSECRET", "wrong-secret-value").arg("run").arg(&path).output().expect("runs");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("40125"), "{}", stderr(&o));
    ok(&sim.run("store::list(0, 1);"));
    assert_eq!(sim.token_fetches(), 2, "the right secret's cached token is still used: {}", sim.stats());
}

#[cfg(unix)]
#[test]
fn cache_directories_and_lock_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let sim = Sim::start();
    ok(&sim.run("store::list(0, 1); district::find(\"440105\");"));
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    let cache = sim.cache_dir();
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&cache.join("tokens")), 0o700);
    assert_eq!(mode(&cache.join("districts")), 0o700);
    let mut locks = 0;
    for e in std::fs::read_dir(cache.join("tokens")).expect("dir").flatten() {
        assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
        locks += usize::from(e.path().to_string_lossy().ends_with(".lock"));
    }
    assert_eq!(locks, 1);
}

#[test]
fn frequency_limit_lowers_the_rate_and_restores_it() {
    let sim = Sim::start();
    let text = r#"
        store::list(0, 1);
        sandbox::set_fault(#{fail_rate: 1.0, fail_code: 45009});
        try { store::list(0, 1); } catch (e) { print(`refused ${e.errcode}`); }
        sandbox::set_fault(#{fail_rate: 0.0});
        for i in 0..25 { store::list(0, 1); }
        print("done");
    "#;
    let t = Instant::now();
    let o = sim.run_file("r.rhai", text, &["--qps", "20"]);
    let out = ok(&o);
    assert!(out.contains("refused 45009") && out.contains("done"), "{out}");
    let err = stderr(&o);
    assert!(err.contains("request rate lowered to 10/s"), "{err}");
    assert!(err.contains("request rate restored to 20/s"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20), "recovered: {:?}", t.elapsed());
}

#[test]
fn a_journal_never_asks_a_real_api_whether_it_is_a_simulator() {
    // The "real API" is reached through this server as an HTTP proxy, so its host is not loopback.
    let proxy = Server::start(|_| json(LIST_OK));
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j.jsonl");
    let text = format!(
        "let j = journal::open({:?}); j.record(\"k\", 1); store::list(0, 1); print(sandbox::is_sandbox());",
        journal.display().to_string()
    );
    let o = wx("http://api.wechat.test", &dir)
        .env("WECHAT_ACCESS_TOKEN", "fixed-token-abcdef")
        .env("http_proxy", &proxy.base)
        .env_remove("HTTP_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .arg("run")
        .arg(script(&dir, &text))
        .output()
        .expect("runs");
    assert_eq!(ok(&o).trim(), "false");
    let seen = proxy.seen.lock().expect("log").clone();
    assert!(seen.iter().any(|l| l.contains("api.wechat.test/wxa/get_store_list")), "through the proxy: {seen:?}");
    assert!(!seen.iter().any(|l| l.contains("_sandbox")), "the real API was probed: {seen:?}");
    let first = std::fs::read_to_string(&journal).expect("journal");
    assert!(first.contains("\"sandbox\":false"), "{first}");
}
