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
        .env("WXSCRIPT_CONFIG", "/dev/null")
        .env("NO_COLOR", "1")
        .arg("run")
        .arg(&p)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("runs")
}

#[test]
fn a_huge_pad_is_a_catchable_error_not_an_abort() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (stmt, what) in [
        ("let a = []; a.pad(100_000_000_000, 0)", "elements"),
        ("let s = \"x\"; s.pad(100_000_000_000, \"y\")", "characters"),
        ("let s = \"x\"; s.pad(100_000_000_000, 'y')", "characters"),
    ] {
        let t = Instant::now();
        let out = ok(&run(&dir, &caught(stmt)));
        assert!(out.starts_with("input|pad to 100000000000 "), "{stmt}: {out}");
        assert!(out.contains(what), "{out}");
        assert!(t.elapsed() < Duration::from_secs(30), "{stmt}: {:?}", t.elapsed());
    }
    // Within the limit, pad works as rhai's own.
    let out = ok(&run(
        &dir,
        "let a = [1]; a.pad(3, 0); let s = \"ab\"; s.pad(7, \"xyz\"); let c = \"q\"; c.pad(3, '-'); print(`${a} ${s} ${c}`);",
    ));
    assert_eq!(out.trim(), "[1, 0, 0] abxyzxy q--");
}

/// Prints the error a statement throws, or "no error".
fn caught(stmt: &str) -> String {
    format!("try {{ {stmt}; print(\"no error\"); }} catch (e) {{ print(`${{e.kind}}|${{e.errmsg}}`); }}")
}

#[test]
fn bytes_neither_utf8_nor_gbk_are_refused_naming_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.csv"), b"name,city\nshop,caf\xe9\n").expect("write");
    for call in [r#"csv::read("bad.csv")"#, r#"csv::each("bad.csv", |r| {})"#] {
        let out = ok(&run(&dir, &caught(call)));
        assert!(out.starts_with("io|bad.csv:2: column 2 holds bytes (\\xe9)"), "{call}: {out}");
        assert!(out.contains("neither UTF-8 nor GBK"), "{out}");
    }
    // GBK itself still reads.
    let (gbk, _, _) = encoding_rs::GB18030.encode("name,city\n海珠店,广州\n");
    std::fs::write(dir.path().join("gbk.csv"), &gbk).expect("write");
    assert_eq!(ok(&run(&dir, r#"print(csv::read("gbk.csv")[0].name);"#)).trim(), "海珠店");
}

#[test]
fn devices_are_refused_and_endless_lines_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let out = ok(&run(&dir, &caught(r#"csv::read("/dev/zero")"#)));
    assert!(out.starts_with("io|/dev/zero is a character device, not a CSV file"), "{out}");
    let out = ok(&run(&dir, &caught(r#"csv::each("/dev/zero", |r| {})"#)));
    assert!(out.starts_with("io|/dev/zero is a character device"), "{out}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());

    let mut long = b"name,city\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 2 << 20));
    std::fs::write(dir.path().join("long.csv"), &long).expect("write");
    let out = ok(&run(&dir, &caught(r#"csv::read("long.csv")"#)));
    assert!(out.starts_with("io|long.csv:2: the line is longer than 1 MB"), "{out}");
}

#[cfg(unix)]
#[test]
fn pipes_are_read_and_an_endless_one_stops_at_the_line_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("rows.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let feed = |data: Vec<u8>, endless: bool| {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                let _ = std::io::Write::write_all(&mut f, &data);
                while endless && std::io::Write::write_all(&mut f, &[0u8; 65536]).is_ok() {}
            }
        })
    };
    let writer = feed(b"name,city\nshop,Guangzhou\n".to_vec(), false);
    assert_eq!(ok(&run(&dir, r#"print(csv::read("rows.csv")[0].city);"#)).trim(), "Guangzhou");
    writer.join().expect("writer");
    let writer = feed(b"name,city\n".to_vec(), true);
    let out = ok(&run(&dir, &caught(r#"csv::read("rows.csv")"#)));
    assert!(out.contains("longer than 1 MB"), "{out}");
    writer.join().expect("writer");
}

#[cfg(unix)]
#[test]
fn csv_write_replaces_only_regular_files_and_keeps_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = r#"[#{a: 1}]"#;
    let kept = dir.path().join("kept.csv");
    std::fs::write(&kept, "old\n").expect("write");
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    ok(&run(&dir, &format!("csv::write(\"kept.csv\", {rows});")));
    assert_eq!(std::fs::read_to_string(&kept).expect("read"), "a\n1\n");
    assert_eq!(std::fs::metadata(&kept).expect("meta").permissions().mode() & 0o777, 0o640);

    std::os::unix::fs::symlink(&kept, dir.path().join("link.csv")).expect("symlink");
    let out = ok(&run(&dir, &caught(&format!("csv::write(\"link.csv\", {rows})"))));
    assert!(out.starts_with("io|link.csv is a symbolic link"), "{out}");
    assert!(std::fs::symlink_metadata(dir.path().join("link.csv")).expect("meta").file_type().is_symlink());

    let made = std::process::Command::new("mkfifo").arg(dir.path().join("pipe.csv")).status().expect("mkfifo");
    assert!(made.success());
    let out = ok(&run(&dir, &caught(&format!("csv::write(\"pipe.csv\", {rows})"))));
    assert!(out.starts_with("io|pipe.csv is a named pipe: csv::write replaces only regular files"), "{out}");
    std::fs::create_dir(dir.path().join("d.csv")).expect("dir");
    let out = ok(&run(&dir, &caught(&format!("csv::write(\"d.csv\", {rows})"))));
    assert!(out.contains("is a directory"), "{out}");
}
