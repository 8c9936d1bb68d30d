//! The optional config file: `$WXSCRIPT_CONFIG`, else `<user config dir>/wxscript/config.toml`.
//! The environment overrides it, key by key, so a CI job can set one variable and keep the
//! rest from the file.
//!
//! ```toml
//! api_base = "https://api.weixin.qq.com"
//! appid = "wx0123456789abcdef"
//! appsecret = "..."          # keep this file owner-only (chmod 600)
//! qps = 20
//! timeout = 30
//!
//! [listen]                   # wxscript listen, run --listen, and the log event::find reads
//! token = "..."              # the message URL's Token (owner-only file!)
//! aes_key = "..."            # its EncodingAESKey (safe mode); the account is `appid` above
//! port = 8080
//! bind = "127.0.0.1"
//! log = "/var/lib/wxscript/events.jsonl"
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::transport::{self, Credentials};

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub api_base: Option<String>,
    pub access_token: Option<String>,
    pub appid: Option<String>,
    pub appsecret: Option<String>,
    pub qps: Option<f64>,
    pub timeout: Option<u64>,
    pub cache_dir: Option<PathBuf>,
    #[serde(default)]
    pub listen: ListenConfig,
}

/// The `[listen]` table: the event listener's settings.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    pub token: Option<String>,
    pub aes_key: Option<String>,
    pub port: Option<u16>,
    pub bind: Option<std::net::IpAddr>,
    pub log: Option<PathBuf>,
}

pub fn path() -> Option<PathBuf> {
    match std::env::var_os("WXSCRIPT_CONFIG") {
        Some(p) if !p.is_empty() => Some(p.into()),
        _ => dirs::config_dir().map(|d| d.join("wxscript").join("config.toml")),
    }
}

/// Reads the config file; a missing file is an empty config, a malformed one an error that
/// names the file (without echoing its content, which may hold a secret).
pub fn load() -> Result<FileConfig, String> {
    let Some(p) = path() else { return Ok(FileConfig::default()) };
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
        Err(e) => return Err(format!("cannot read config {}: {e}", p.display())),
    };
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1).unwrap_or(0);
        format!("config {}:{line}: {}", p.display(), e.message())
    })
}

/// The transport settings: file first, environment over it.
pub fn transport_config() -> Result<transport::Config, String> {
    let file = load()?;
    let env = transport::Config::from_env();
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut cfg = env;
    if var("WECHAT_API_BASE").is_none()
        && let Some(b) = file.api_base
    {
        cfg.base = b;
    }
    if matches!(cfg.credentials, Credentials::None) {
        cfg.credentials = match (file.access_token, file.appid, file.appsecret) {
            (Some(t), _, _) if !t.is_empty() => Credentials::Token(t),
            (_, Some(a), Some(s)) => Credentials::AppSecret { appid: a, secret: s },
            _ => Credentials::None,
        };
    }
    if cfg.qps.is_none() {
        cfg.qps = file.qps.filter(|q| *q > 0.0);
    }
    if let Some(t) = file.timeout {
        cfg.timeout = Duration::from_secs(t.max(1));
    }
    if var("WXSCRIPT_CACHE_DIR").is_none()
        && let Some(d) = file.cache_dir
    {
        cfg.cache_dir = Some(d);
    }
    Ok(cfg)
}
