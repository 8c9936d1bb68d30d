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
//! token_mode = "stable"      # the `default` account's tokens: "stable" (the default) or "classic"
//! store = "redis://127.0.0.1:6379/0"  # tokens, leases, rates, journals, events shared by several hosts
//! key_prefix = "wxscript"    # the first part of every Redis key
//!
//! [accounts.shop-a]          # another own account, chosen with --account shop-a
//! appid = "wx1111111111111111"
//! appsecret = "..."
//! qps = 20                   # its own request rate (else the run's)
//! token_mode = "stable"      # the default for named accounts
//! token = "..."              # its message URL's Token and EncodingAESKey, where they differ
//! aes_key = "..."            # from [listen]'s: the listener serves it at .../shop-a
//!
//! [platform]                 # our third-party platform (开放平台), for agencies
//! component_appid = "wx2222222222222222"
//! component_appsecret = "..."
//! token = "..."              # its authorization event URL's Token
//! aes_key = "..."            # and EncodingAESKey
//!
//! [accounts.merchant-b]      # an account authorised to [platform]: a name and a qps
//! authorizer_appid = "wx3333333333333333"
//!
//! [accounts.shop-b]          # a token another system keeps fresh in Redis (needs store = redis://...)
//! appid = "wx2222222222222222"
//! token_source = "redis-key:tokens:shop-b"
//!
//! [listen]                   # wxscript listen, run --listen, and the log event::find reads
//! token = "..."              # the message URL's Token (owner-only file!)
//! aes_key = "..."            # its EncodingAESKey (safe mode); the account is `appid` above
//! port = 8080
//! bind = "127.0.0.1"
//! log = "/var/lib/wxscript/events.jsonl"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::transport::{self, AccountConfig, Credentials, DEFAULT_ACCOUNT, TokenMode};

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
    /// The `default` account's token family (stable unless set).
    pub token_mode: Option<TokenMode>,
    #[serde(default)]
    pub listen: ListenConfig,
    /// `[accounts.NAME]`: the other accounts, by name.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountEntry>,
    /// `[platform]`: our third-party platform.
    pub platform: Option<PlatformEntry>,
    /// `file` or `redis://...`: where tokens, journals and events live (see `crate::store`).
    pub store: Option<String>,
    /// Replaces `wxscript` at the start of every Redis key.
    pub key_prefix: Option<String>,
}

/// One `[accounts.NAME]` table: an own account with its own credentials, or a name (and a qps)
/// for an account authorised to `[platform]`.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub appid: Option<String>,
    pub appsecret: Option<String>,
    pub authorizer_appid: Option<String>,
    pub qps: Option<f64>,
    /// Stable unless set.
    pub token_mode: Option<TokenMode>,
    /// `redis-key:KEY`: the account's token is kept by another system in that Redis key.
    pub token_source: Option<String>,
    /// Its message URL's Token, where it differs from `[listen]`'s.
    pub token: Option<String>,
    /// Its message URL's EncodingAESKey, where it differs from `[listen]`'s.
    pub aes_key: Option<String>,
}

/// The own accounts of the config file as the listener serves them: each named account with
/// an appid, with its message URL's settings where it has its own.
pub fn listen_accounts(file: &FileConfig) -> Result<Vec<crate::listen::AccountListen>, String> {
    let mut out = Vec::new();
    for (name, a) in &file.accounts {
        let Some(appid) = a.appid.clone().filter(|_| a.authorizer_appid.is_none()) else {
            if a.token.is_some() || a.aes_key.is_some() {
                return Err(format!(
                    "config: [accounts.{name}] has a message URL token or aes_key but is no own account: an authorizer's messages come through [platform]"
                ));
            }
            continue;
        };
        out.push(crate::listen::AccountListen {
            name: name.clone(),
            appid,
            token: a.token.clone().filter(|t| !t.is_empty()).map(Into::into),
            aes_key: a.aes_key.clone().filter(|k| !k.is_empty()).map(Into::into),
        });
    }
    Ok(out)
}

/// The `[platform]` table: the component's credentials and its authorization event URL's
/// Token and EncodingAESKey.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct PlatformEntry {
    pub component_appid: Option<String>,
    pub component_appsecret: Option<String>,
    pub token: Option<String>,
    pub aes_key: Option<String>,
}

impl std::fmt::Debug for PlatformEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlatformEntry {{ component_appid: {:?}, ... }}", self.component_appid)
    }
}

/// The platform's push settings, for the listener: the component appid pushes carry, and the
/// Token and EncodingAESKey they are signed and encrypted with.
#[derive(Clone, Debug)]
pub struct PlatformListen {
    pub component_appid: String,
    pub token: crate::util::Secret,
    pub aes_key: crate::util::Secret,
}

/// `[platform]`'s push settings; `None` without a `[platform]`, an error naming the missing key
/// when it lacks one.
pub fn platform_listen(file: &FileConfig) -> Result<Option<PlatformListen>, String> {
    let Some(p) = &file.platform else { return Ok(None) };
    let need = |v: &Option<String>, k: &str| {
        v.clone().filter(|v| !v.is_empty()).ok_or_else(|| format!("config: [platform] needs `{k}` to receive pushes"))
    };
    Ok(Some(PlatformListen {
        component_appid: need(&p.component_appid, "component_appid")?,
        token: need(&p.token, "token")?.into(),
        aes_key: need(&p.aes_key, "aes_key")?.into(),
    }))
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

/// The config file, and whether `WXSCRIPT_CONFIG` named it (then it must exist).
pub fn path() -> Option<(PathBuf, bool)> {
    match std::env::var_os("WXSCRIPT_CONFIG") {
        Some(p) if !p.is_empty() => Some((p.into(), true)),
        _ => dirs::config_dir().map(|d| (d.join("wxscript").join("config.toml"), false)),
    }
}

/// Reads the config file; a missing default file is an empty config, a missing file that
/// `WXSCRIPT_CONFIG` names is an error (a typo there would otherwise run with other
/// credentials), and a malformed one an error that names the file, line and key but never a
/// value, which may be a secret.
pub fn load() -> Result<FileConfig, String> {
    let Some((p, named)) = path() else { return Ok(FileConfig::default()) };
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => return Ok(FileConfig::default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("config {} (WXSCRIPT_CONFIG) does not exist", p.display()));
        }
        Err(e) => return Err(format!("cannot read config {}: {e}", p.display())),
    };
    let file: FileConfig = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| s.start.min(text.len())).unwrap_or(0);
        let line = text[..at].matches('\n').count() + 1;
        format!("config {}:{line}: {}", p.display(), describe(e.message(), key_at(&text, at)))
    })?;
    warn_if_readable(&p, &file);
    Ok(file)
}

/// The dotted key whose value starts at byte `at` (`listen.port`), from its line and the last
/// table header before it.
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = &text[..at];
    let line = before.rsplit('\n').next().unwrap_or(before);
    let key = line.split('=').next().filter(|_| line.contains('='))?.trim().trim_matches('"');
    // A header may carry a comment (`[accounts.shop-a]   # the flagship`).
    let table = before
        .lines()
        .rev()
        .skip(1)
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .find(|l| l.starts_with('[') && l.ends_with(']'));
    Some(match table {
        Some(t) => format!("{}.{key}", t.trim_matches(['[', ']']).trim()),
        None => key.to_string(),
    })
}

/// A parse error's message without the value it quotes: type and value errors say which key
/// and what was expected; others (syntax, unknown keys) quote no value.
fn describe(message: &str, key: Option<String>) -> String {
    let wrong = ["invalid type", "invalid value", "invalid length"].iter().find(|w| message.starts_with(**w));
    match (wrong, key) {
        // A choice among names (token_mode): the value is one of them or a typo, no secret.
        (None, Some(key)) if message.starts_with("unknown variant") => format!("`{key}`: {}", message.trim()),
        (Some(w), Some(key)) => {
            let expected = message.rsplit_once(", expected ").map(|(_, e)| e).unwrap_or("another value");
            format!("`{key}`: {w}, expected {expected}")
        }
        (Some(w), None) => format!("{w} (the value is not shown: it may be a secret)"),
        (None, _) => message.trim().to_string(),
    }
}

/// Warns (once) when a file holding a secret can be read by others than its owner.
fn warn_if_readable(p: &std::path::Path, file: &FileConfig) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let platform: Vec<&str> = file
            .platform
            .iter()
            .flat_map(|p| {
                [
                    ("platform.component_appsecret", p.component_appsecret.is_some()),
                    ("platform.token", p.token.is_some()),
                    ("platform.aes_key", p.aes_key.is_some()),
                ]
            })
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
        let accounts: Vec<String> = file
            .accounts
            .iter()
            .filter(|(_, a)| a.appsecret.is_some())
            .map(|(name, _)| format!("accounts.{name}.appsecret"))
            .collect();
        let secrets: Vec<&str> = [
            ("appsecret", file.appsecret.is_some()),
            ("access_token", file.access_token.is_some()),
            ("listen.token", file.listen.token.is_some()),
            ("listen.aes_key", file.listen.aes_key.is_some()),
            // A Redis URL with `user:pass@` holds the password.
            ("store", file.store.as_deref().is_some_and(|s| s.contains('@'))),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .chain(accounts.iter().map(String::as_str))
        .chain(platform)
        .collect();
        let Ok(meta) = std::fs::metadata(p) else { return };
        let mode = meta.permissions().mode() & 0o777;
        if !secrets.is_empty()
            && meta.is_file()
            && mode & 0o077 != 0
            && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            eprintln!(
                "warning: config {} holds {} but its mode is {mode:04o}, readable by others: chmod 600 {}",
                p.display(),
                secrets.join(", "),
                p.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (p, file);
}

/// The lowest and highest request rates a run may ask for (requests per second).
pub const QPS_RANGE: std::ops::RangeInclusive<f64> = 0.001..=100_000.0;

/// A request rate as `--qps`, `WXSCRIPT_QPS` and `qps` take it: 0 means unlimited (`None`);
/// otherwise a number of requests per second in [`QPS_RANGE`].
pub fn qps(v: f64) -> Result<Option<f64>, String> {
    if v == 0.0 {
        Ok(None)
    } else if QPS_RANGE.contains(&v) {
        Ok(Some(v))
    } else {
        Err(format!("a rate must be 0 (unlimited) or {} to {} requests per second", QPS_RANGE.start(), QPS_RANGE.end()))
    }
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
            (_, Some(a), Some(s)) => Credentials::AppSecret { appid: a, secret: s, mode: TokenMode::Stable },
            _ => Credentials::None,
        };
    }
    if let (Credentials::AppSecret { mode, .. }, Some(m)) = (&mut cfg.credentials, file.token_mode) {
        *mode = m;
    }
    cfg.accounts = file.accounts.into_iter().map(|(name, a)| account(name, a)).collect::<Result<_, _>>()?;
    cfg.platform = match file.platform {
        Some(p) => match (p.component_appid, p.component_appsecret) {
            (Some(appid), Some(secret)) if !appid.is_empty() && !secret.is_empty() => {
                Some(transport::PlatformConfig { component_appid: appid, component_secret: secret })
            }
            _ => return Err("config: [platform] needs both component_appid and component_appsecret".into()),
        },
        None => None,
    };
    if cfg.platform.is_none()
        && let Some(a) = cfg.accounts.iter().find(|a| a.credentials.kind() == "authorizer")
    {
        return Err(format!("config: [accounts.{}] is an authorizer_appid, which needs a [platform]", a.name));
    }
    cfg.qps = match var("WXSCRIPT_QPS") {
        Some(v) => v
            .trim()
            .parse::<f64>()
            .map_err(|e| e.to_string())
            .and_then(qps)
            .map_err(|e| format!("WXSCRIPT_QPS: {e}"))?,
        None => match file.qps {
            Some(q) => qps(q).map_err(|e| format!("config: qps: {e}"))?,
            None => None,
        },
    };
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

/// The store a run uses: `flag` (`--store`), else `WXSCRIPT_STORE`, else the config file's
/// `store`; `key_prefix` from the config file.
pub fn store_config(flag: Option<&str>) -> Result<crate::store::StoreConfig, String> {
    let file = load()?;
    let env = std::env::var("WXSCRIPT_STORE").ok().filter(|v| !v.is_empty());
    Ok(crate::store::StoreConfig {
        spec: flag.map(str::to_string).or(env).or(file.store),
        key_prefix: file.key_prefix,
        account: None,
    })
}

/// An `[accounts.NAME]` table as the transport takes it.
fn account(name: String, a: AccountEntry) -> Result<AccountConfig, String> {
    if name == DEFAULT_ACCOUNT {
        return Err(format!(
            "config: [accounts.{DEFAULT_ACCOUNT}]: `{DEFAULT_ACCOUNT}` is the top-level appid and appsecret; give this account another name"
        ));
    }
    let qps = match a.qps {
        Some(q) => qps(q).map_err(|e| format!("config: accounts.{name}.qps: {e}"))?,
        None => None,
    };
    if let Some(source) = a.token_source {
        let Some(key) = source.strip_prefix("redis-key:").filter(|k| !k.is_empty()) else {
            return Err(format!(
                "config: accounts.{name}.token_source: expected \"redis-key:KEY\" (the Redis key another program keeps the token in)"
            ));
        };
        if a.authorizer_appid.is_some() {
            return Err(format!("config: [accounts.{name}] has both token_source and authorizer_appid: choose one"));
        }
        let credentials = Credentials::RedisKey { appid: a.appid, key: key.to_string() };
        return Ok(AccountConfig { name, credentials, qps });
    }
    let credentials = match (a.appid, a.appsecret, a.authorizer_appid) {
        (None, None, Some(appid)) if a.token_mode.is_none() => Credentials::Authorizer { appid },
        (_, _, Some(_)) => {
            return Err(format!(
                "config: [accounts.{name}] has authorizer_appid: an authorizer takes no appid, appsecret or token_mode (its tokens come through [platform])"
            ));
        }
        (Some(appid), Some(secret), None) => {
            Credentials::AppSecret { appid, secret, mode: a.token_mode.unwrap_or(TokenMode::Stable) }
        }
        _ => {
            return Err(format!(
                "config: [accounts.{name}] needs both appid and appsecret (an own account), authorizer_appid (an account authorised to [platform]), or a token_source"
            ));
        }
    };
    Ok(AccountConfig { name, credentials, qps })
}

/// The account a session starts as: `--account` (`flag`), else `WXSCRIPT_ACCOUNT`, else
/// `default`; a name or an appid. An unknown one is an error naming the nearest.
pub fn choose_account(flag: Option<&str>, accounts: &[(String, Option<String>)]) -> Result<usize, String> {
    let env = std::env::var("WXSCRIPT_ACCOUNT").ok().filter(|v| !v.is_empty());
    let (asked, from) = match (flag, env.as_deref()) {
        (Some(f), _) => (f, "--account"),
        (None, Some(e)) => (e, "WXSCRIPT_ACCOUNT"),
        (None, None) => return Ok(0),
    };
    transport::find_account(asked, accounts)
        .ok_or_else(|| format!("{from}: {}", transport::unknown_account(asked, accounts)))
}
