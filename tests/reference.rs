//! The committed reference `docs/functions.md` is exactly what the binary prints, so it can
//! never fall behind the declarations. Regenerate with
//! `cargo run -- docs --format markdown > docs/functions.md`.

mod common;
use common::*;

#[test]
fn committed_reference_is_fresh() {
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .args(["docs", "--format", "markdown"])
        .output()
        .expect("docs");
    let printed = stdout(&o);
    let committed = std::fs::read_to_string(repo_root().join("docs/functions.md")).unwrap_or_default();
    assert!(
        printed == committed,
        "docs/functions.md is stale: run `cargo run -- docs --format markdown > docs/functions.md`"
    );
}
