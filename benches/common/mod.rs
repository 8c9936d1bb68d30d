//! What the benchmarks share: the binary under test pointed at a simulator.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};

use wxscript::sandbox::{APPID, SECRET};

pub const BIN: &str = env!("CARGO_BIN_EXE_wxscript");

/// `wxscript` with the simulator at `base`, its credentials and a private cache under `dir`.
pub fn wx(base: &str, dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("WECHAT_API_BASE", base)
        .env("WECHAT_APPID", APPID)
        .env("WECHAT_APPSECRET", SECRET)
        .env("WXSCRIPT_CACHE_DIR", dir.join("cache"))
        .env("WXSCRIPT_CONFIG", "/dev/null");
    c
}

/// The simulator in its own process, as users run it (`sandbox serve --port 0` and `extra`):
/// the process and the base URL its banner names.
pub fn serve(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["sandbox", "serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufReader::new(stdout).read_line(&mut line).expect("banner");
    }
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).expect("url").to_string();
    (child, base)
}

/// A script that sets up an approved merchant (nickname `name`), for benchmarks that add stores.
pub fn merchant_setup(name: &str) -> String {
    format!(
        r#"
        let head = media::upload("scripts/data/logo.png", "image");
        let cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];
        merchant::apply(#{{first_catid: cat.father, second_catid: cat.id, headimg_mediaid: head.media_id, nickname: "{name}", intro: "x"}});
        "#
    )
}
