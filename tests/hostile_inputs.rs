//! Hostile local input: runaway values in a script, and sheets that are not text, not files, or
//! not meant to be overwritten.

mod common;
use common::*;

use std::time::{Duration, Instant};

/// Runs `text` offline (no server is needed) and returns its output.
fn run(dir: &tempfile::TempDir, text: &str) -> std::process::Output {
    let p = dir.path().join("t.rhai");
    std::fs::write(&p, text).expect("write");
    assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .current_dir(dir.path())
        .env("WECHAT_API_BASE", "http://127.0.0.1:9")
        .env("WECHAT_ACCESS_TOKEN", "unused-token")
        .env("WXSCRIPT_CONFIG", dir.path().join("no-config.toml"))
        .env("NO_COLOR", "1")
        .arg("run")
        .arg(&p)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("runs")
}

#[test]
fn huge_values_are_a_script_error_not_an_abort() {
    let dir = tempfile::tempdir().expect("tempdir");
    for text in [
        "let a = []; a.pad(100_000_000_000, 0); print(\"padded\");",
        "let s = \"x\"; s.pad(100_000_000_000, \"y\"); print(\"padded\");",
        "let s = \"0123456789abcdef\"; loop { s += s; }",
    ] {
        let t = Instant::now();
        let o = run(&dir, text);
        assert_eq!(o.status.code(), Some(1), "{text}: {}", stderr(&o));
        assert!(stderr(&o).to_lowercase().contains("too large"), "{text}: {}", stderr(&o));
        assert!(!stdout(&o).contains("padded"));
        assert!(t.elapsed() < Duration::from_secs(30), "{text}: {:?}", t.elapsed());
    }
}
