//! Every example in the function reference runs against the simulator, so the reference can
//! never show code that does not work. Each runs in its own sandbox run, after
//! `rehearsal::reference()`, the set-up the reference tells its readers to run (an approved
//! merchant and one store, an approved shake-around account with three devices, a page bound to
//! the first and a group holding it), from an empty scratch directory: what an example needs
//! comes with the binary.

mod common;
use common::*;

/// Examples that set up the merchant themselves, so they run without the prelude.
const STANDALONE: &[&str] = &["merchant::apply", "shake::register"];

/// The reference's own promise: its examples run after `rehearsal::reference()`.
const PRELUDE: &str = "import \"rehearsal\" as rehearsal;\nrehearsal::reference();";

#[test]
fn every_reference_example_runs_on_the_sandbox() {
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .args(["docs", "--format", "json"])
        .output()
        .expect("docs");
    let docs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in docs.as_array().expect("array") {
        let name = f["name"].as_str().unwrap_or_default();
        let example = f["example"].as_str().unwrap_or_default();
        assert!(!example.trim().is_empty(), "{name} has no example");
        let script = if STANDALONE.contains(&name) { example.to_string() } else { format!("{PRELUDE}\n{example}") };
        let file = dir.path().join(format!("{}.rhai", name.replace("::", "_")));
        std::fs::write(&file, &script).expect("write");
        let o = assert_cmd::Command::cargo_bin("wxscript")
            .expect("bin")
            .current_dir(dir.path())
            .env("WXSCRIPT_CACHE_DIR", dir.path().join("cache"))
            .env("WXSCRIPT_CONFIG", "/dev/null")
            .env("NO_COLOR", "1")
            .args(["run", "--sandbox", "--quiet"])
            .arg(&file)
            .output()
            .expect("runs");
        ran += 1;
        if !o.status.success() {
            failures.push(format!("{name}:\n{}", stderr(&o)));
        }
    }
    assert!(ran > 20);
    assert!(failures.is_empty(), "{} example(s) failed:\n{}", failures.len(), failures.join("\n"));
}
