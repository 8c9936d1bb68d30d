//! Every recipe in `scripts/` runs on the sandbox with its documented arguments, from a scratch
//! directory (journals and outputs land there, never in the repository).

mod common;
use common::*;

use std::path::Path;

fn run_recipe(dir: &Path, recipe: &str, args: &[&str]) -> String {
    let o = assert_cmd::Command::cargo_bin("wxscript")
        .expect("bin")
        .current_dir(dir)
        .env("WXSCRIPT_CACHE_DIR", dir.join("cache"))
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("NO_COLOR", "1")
        .args(["run", "--sandbox", "--quiet"])
        .arg(format!("scripts/{recipe}.rhai"))
        .args(args)
        .output()
        .expect("runs");
    ok(&o)
}

fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(repo_root().join("scripts"), dir.path().join("scripts")).expect("link");
    dir
}

#[test]
fn every_recipe_is_tested_here() {
    let this = std::fs::read_to_string(repo_root().join("tests/recipes.rs")).expect("self");
    for e in std::fs::read_dir(repo_root().join("scripts")).expect("scripts").flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "rhai") {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            assert!(this.contains(&format!("\"{stem}\"")), "scripts/{stem}.rhai has no test in tests/recipes.rs");
            let text = std::fs::read_to_string(&p).expect("recipe");
            assert!(text.lines().take(3).any(|l| l.starts_with("//")), "{stem}: header comment");
            assert!(text.contains("Run:") || text.contains("cargo run -- run"), "{stem}: says how to run it");
        }
    }
}

#[test]
fn store_recipes() {
    let d = scratch();
    let p = d.path();
    let out = run_recipe(p, "onboard_store", &[]);
    assert!(out.contains("1 store(s):"), "{out}");
    let out = run_recipe(p, "export_stores", &["--arg", "out=stores.csv"]);
    assert!(out.contains("5 stores written to stores.csv"), "{out}");
    assert_eq!(std::fs::read_to_string(p.join("stores.csv")).expect("csv").lines().count(), 6);
    let out = run_recipe(p, "update_hours", &["--arg", "journal=hours.journal"]);
    assert!(out.contains("5 of 5 rows done"), "{out}");
    let out = run_recipe(p, "migrate_legacy", &["--arg", "delete_forbidden=true"]);
    assert!(out.contains("legacy stores: 2 to migrate, 1 failed"), "{out}");
    assert_eq!(out.matches("  migrating ").count(), 3, "{out}");
    assert!(out.contains("deleted 肯德基"), "{out}");
    let out = run_recipe(p, "add_store_and_card", &[]);
    assert!(out.to_lowercase().contains("card"), "{out}");
    let out = run_recipe(
        p,
        "import_stores",
        &["--arg", "journal=shops.journal", "--arg", "out=shops.result.csv", "--arg", "concurrency=4"],
    );
    assert!(out.contains("\"added\": 200"), "{out}");
}

#[test]
fn shake_recipes() {
    let d = scratch();
    let p = d.path();
    let out = run_recipe(p, "beacons", &["--arg", "count=5"]);
    assert!(out.contains("page bound to 5 devices"), "{out}");
    let out = run_recipe(p, "apply_beacon_ids", &["--arg", "count=20", "--arg", "out=devices.csv"]);
    assert!(out.contains("20 devices approved"), "{out}");
    assert_eq!(std::fs::read_to_string(p.join("devices.csv")).expect("csv").lines().count(), 21);
    let out = run_recipe(p, "pages_from_sheet", &["--arg", "journal=pages.journal"]);
    assert_eq!(out.matches(" on 4 devices").count(), 3, "{out}");
    let out = run_recipe(p, "shake_stats_report", &["--arg", "out=report"]);
    assert!(out.contains("written report-devices.csv and report-pages.csv"), "{out}");
    assert!(std::fs::read_to_string(p.join("report-devices.csv")).expect("csv").starts_with("device_id,"));
}

#[test]
fn recipes_run_from_any_directory_with_their_sample_data() {
    // No `scripts` here: the sample pictures and sheets come from inside the binary. Journals
    // are named, so parallel tests never share the default one.
    let d = tempfile::tempdir().expect("tempdir");
    for (recipe, args, expect) in [
        ("onboard_store", &[][..], "1 store(s):"),
        ("export_stores", &["--arg", "out=stores.csv"][..], "5 stores written"),
        ("beacons", &["--arg", "count=2"][..], "page bound to 2 devices"),
        ("shake_stats_report", &["--arg", "out=report"][..], "with activity"),
        ("update_hours", &["--arg", "journal=hours.journal"][..], "5 of 5 rows done"),
        ("pages_from_sheet", &["--arg", "journal=pages.journal"][..], "on 4 devices"),
        (
            "import_stores",
            &["--arg", "journal=shops.journal", "--arg", "out=shops.result.csv", "--arg", "concurrency=8"][..],
            "\"added\": 200",
        ),
    ] {
        let o = assert_cmd::Command::cargo_bin("wxscript")
            .expect("bin")
            .current_dir(d.path())
            .env("NO_COLOR", "1")
            .args(["run", "--sandbox", "--quiet"])
            .arg(repo_root().join(format!("scripts/{recipe}.rhai")))
            .args(args)
            .output()
            .expect("runs");
        let out = ok(&o);
        assert!(out.contains(expect), "{recipe}: {out}");
        if recipe == "shake_stats_report" {
            // The day is shown as a date, not as Unix seconds.
            let day = out.split(':').next().unwrap_or_default();
            assert!(day.len() == 10 && day.as_bytes()[4] == b'-' && day.as_bytes()[7] == b'-', "{out}");
        }
    }
}

#[test]
fn every_rhai_file_checks_with_its_imports() {
    let mut files = Vec::new();
    for dir in ["scripts", "stdlib"] {
        for e in std::fs::read_dir(repo_root().join(dir)).expect("dir").flatten() {
            if e.path().extension().is_some_and(|x| x == "rhai") {
                files.push(e.path());
            }
        }
    }
    let o = assert_cmd::Command::cargo_bin("wxscript").expect("bin").arg("check").args(&files).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let d = tempfile::tempdir().expect("tempdir");
    let bad = d.path().join("bad.rhai");
    std::fs::write(&bad, "import \"no_such_module\" as m;\nprint(1);\n").expect("write");
    let o = assert_cmd::Command::cargo_bin("wxscript").expect("bin").arg("check").arg(&bad).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no_such_module"));
}
