//! The third-party platform (开放平台) as the client drives it: its component token (a
//! [`TokenCache`] fed by the ticket the listener stores), the component calls made with it
//! (declared in `api::platform`), and what they leave in the store: authorizers and their
//! refresh tokens, written before anything uses what they grant.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Client, Credentials, RateLimit, TokenCache, answer::Target};
use crate::api::{self, ErrorKind, WxError, check};
use crate::store::{Authorizer, Store, Ticket, TokenEntry, TokenKey};

/// How long an exchange whose code was used already waits for the record of the exchange that
/// used it (the listener's and a script's may race for one code).
const EXCHANGE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The platform's own credentials (`[platform]` in the config, or the simulator's).
#[derive(Clone)]
pub struct PlatformConfig {
    pub component_appid: String,
    pub component_secret: String,
}

impl std::fmt::Debug for PlatformConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlatformConfig {{ component_appid: {:?}, component_secret: *** }}", self.component_appid)
    }
}

/// The platform's transport state: its component token, and the rate its own calls go at
/// (unlimited: WeChat's quotas on them are per platform and generous).
pub(super) struct Platform {
    pub(super) appid: String,
    pub(super) tokens: Arc<TokenCache>,
    rate: RateLimit,
}

impl Platform {
    pub(super) fn new(cfg: PlatformConfig, base: &str, store: Arc<dyn Store>, target: Target) -> Platform {
        let creds = Credentials::Component { appid: cfg.component_appid.clone(), secret: cfg.component_secret };
        Platform {
            appid: cfg.component_appid,
            tokens: Arc::new(TokenCache::new(creds, base, store, target, None)),
            rate: RateLimit::new(None, false),
        }
    }
}

/// The admin's authorisation page for a pre-auth code (`auth_type` 1 official accounts, 2 mini
/// programs, 3 both).
pub fn authorize_url(component_appid: &str, pre_auth_code: &str, redirect_uri: &str, auth_type: i64) -> String {
    let enc = |s: &str| super::form_encode(s).into_owned();
    format!(
        "https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid={}&pre_auth_code={}&redirect_uri={}&auth_type={auth_type}",
        enc(component_appid),
        enc(pre_auth_code),
        enc(redirect_uri)
    )
}

/// The permission-set ids of a `func_info` list (`[{funcscope_category: {id}}]`).
fn func_ids(v: Option<&Value>) -> Vec<i64> {
    v.and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|f| f.pointer("/funcscope_category/id").and_then(Value::as_i64)).collect())
        .unwrap_or_default()
}

fn no_platform(api: &str) -> WxError {
    WxError::new(ErrorKind::Auth, api, "no third-party platform is configured")
        .with_hint("add [platform] (component_appid, component_appsecret, token, aes_key) to the config file")
}

impl Client {
    /// The platform's component appid, when one is configured.
    pub fn platform_appid(&self) -> Option<&str> {
        self.platform.as_ref().map(|p| p.appid.as_str())
    }

    /// The platform's state for `wxscript accounts`: its appid, how long ago the newest ticket
    /// was received (`None`: no ticket in the store), and its component token's status.
    pub async fn platform_status(&self) -> Option<(String, Option<u64>, super::token::TokenStatus)> {
        let p = self.platform.as_ref()?;
        let ticket = self.store.ticket(&p.appid).await;
        let age = ticket.map(|t| crate::util::unix_now().saturating_sub(t.received_at));
        Some((p.appid.clone(), age, p.tokens.status().await))
    }

    /// Obtains the component token, from the store or with the stored ticket: proof that the
    /// platform's credentials and its ticket work.
    pub async fn check_platform(&self) -> Result<(), WxError> {
        let p = self.platform_or("platform")?;
        tokio::select! {
            r = p.tokens.get(&self.http) => r.map(|_| ()).map_err(|e| self.scrub(e)),
            _ = self.cancel.cancelled() => Err(WxError::new(ErrorKind::Cancelled, "token", "cancelled")),
        }
    }

    fn platform_or(&self, api: &str) -> Result<&Platform, WxError> {
        self.platform.as_ref().ok_or_else(|| no_platform(api))
    }

    /// The store the client keeps tokens in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A component call, declared in `api::platform` as `platform::NAME`: `component_appid` is
    /// filled in, the fields are checked as the declaration says, and it carries the component
    /// token (refreshed once when refused).
    pub async fn component_call(&self, name: &str, mut body: Map<String, Value>) -> Result<Value, WxError> {
        let qualified = format!("platform::{name}");
        let p = self.platform_or(&qualified)?;
        let ep = api::declared(&qualified)
            .ok_or_else(|| WxError::new(ErrorKind::Input, &qualified, "not a component call"))?;
        body.insert("component_appid".into(), Value::String(p.appid.clone()));
        let req = check::prepare(ep, body, &|| crate::util::unix_now() as i64)?;
        self.send_as(&p.tokens, &p.rate, &req).await
    }

    /// A fresh pre-auth code and its life in seconds.
    pub async fn preauth_code(&self) -> Result<(String, i64), WxError> {
        let a = self.component_call("create_preauthcode", Map::new()).await?;
        let code = a.get("pre_auth_code").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok((code, a.get("expires_in").and_then(Value::as_i64).unwrap_or(1800)))
    }

    /// Exchanges an authorization code: the authorizer and its refresh token are stored (the
    /// refresh token first: it is the one thing that cannot be had again), then its first
    /// access token, and it becomes an account of this run.
    pub async fn exchange_code(&self, code: &str) -> Result<Authorizer, WxError> {
        let mut body = Map::new();
        body.insert("authorization_code".into(), Value::String(code.to_string()));
        let a = match self.component_call("query_auth", body).await {
            Ok(a) => a,
            // Used already: by this platform's listener (the `authorized` push carries the same
            // code), whose record then stands.
            Err(e) if e.errcode == Some(61009) => {
                let p = self.platform_or("platform::query_auth")?;
                // The other exchange may have its answer and not have stored it yet.
                let deadline = tokio::time::Instant::now() + EXCHANGE_WAIT;
                loop {
                    if let Some(a) = self
                        .store
                        .authorizers(&p.appid)
                        .await
                        .ok()
                        .and_then(|l| l.into_iter().find(|a| a.auth_code == code))
                    {
                        return Ok(a);
                    }
                    if tokio::time::Instant::now() > deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            Err(e) => return Err(e),
        };
        let info = a.get("authorization_info").cloned().unwrap_or(Value::Null);
        let s = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let (appid, refresh, token) =
            (s("authorizer_appid"), s("authorizer_refresh_token"), s("authorizer_access_token"));
        if appid.is_empty() || refresh.is_empty() {
            return Err(WxError::new(
                ErrorKind::Network,
                api::platform::QUERY_AUTH_PATH,
                "the answer has no authorizer_appid or authorizer_refresh_token",
            ));
        }
        let p = self.platform_or("platform::query_auth")?;
        let now = crate::util::unix_now();
        let record = Authorizer {
            appid: appid.clone(),
            refresh_token: refresh,
            func_info: func_ids(info.get("func_info")),
            authorized_at: now,
            refreshed_at: now,
            revoked_at: 0,
            auth_code: code.to_string(),
        };
        self.store.put_authorizer(&p.appid, &record).await.map_err(|e| store_failed(&appid, e))?;
        if !token.is_empty() {
            let expires_in = info.get("expires_in").and_then(Value::as_u64).unwrap_or(7200);
            let key = TokenKey::authorizer(&appid, &self.base, &p.appid);
            let entry = TokenEntry::new(token, now, expires_in);
            // Only a fetch saved: without it the refresh token makes a new one.
            let _ = self.store.put_token(&key, &entry).await;
        }
        self.adopt_authorizers().await;
        Ok(record)
    }

    /// Pages `api_get_authorizer_list` and records every authorizer, keeping what the store
    /// knows of one whose refresh token is unchanged; returns how many there are.
    pub async fn sync_authorizers(&self) -> Result<usize, WxError> {
        let p = self.platform_or("platform::sync_authorizers")?;
        let mut offset = 0usize;
        let mut seen = 0usize;
        loop {
            let mut body = Map::new();
            body.insert("offset".into(), json!(offset));
            body.insert("count".into(), json!(api::platform::LIST_PAGE));
            let page = self.component_call("get_authorizer_list", body).await?;
            let list = page.get("list").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = page.get("total_count").and_then(Value::as_u64).unwrap_or(0) as usize;
            for item in &list {
                let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                let (appid, refresh) = (s("authorizer_appid"), s("refresh_token"));
                if appid.is_empty() || refresh.is_empty() {
                    continue;
                }
                seen += 1;
                let known = self.store.authorizer(&p.appid, &appid).await.map_err(|e| store_failed(&appid, e))?;
                if known.as_ref().is_some_and(|k| k.refresh_token == refresh && k.revoked_at == 0) {
                    continue;
                }
                let now = crate::util::unix_now();
                let record = Authorizer {
                    appid: appid.clone(),
                    refresh_token: refresh,
                    func_info: known.map(|k| k.func_info).unwrap_or_default(),
                    authorized_at: item.get("auth_time").and_then(Value::as_u64).unwrap_or(now),
                    refreshed_at: now,
                    revoked_at: 0,
                    auth_code: String::new(),
                };
                self.store.put_authorizer(&p.appid, &record).await.map_err(|e| store_failed(&appid, e))?;
            }
            offset += list.len();
            if list.is_empty() || offset >= total {
                break;
            }
        }
        self.adopt_authorizers().await;
        Ok(seen)
    }

    /// Marks an authorizer revoked (the `unauthorized` push): its calls fail as `auth` naming
    /// it until it authorises again.
    pub async fn revoke_authorizer(&self, appid: &str) -> Result<(), WxError> {
        let p = self.platform_or("platform")?;
        let record = self.store.authorizer(&p.appid, appid).await.map_err(|e| store_failed(appid, e))?;
        let Some(mut record) = record else { return Ok(()) };
        record.revoked_at = crate::util::unix_now();
        self.store.put_authorizer(&p.appid, &record).await.map_err(|e| store_failed(appid, e))
    }

    /// Stores a pushed ticket (the newest push wins).
    pub async fn store_ticket(&self, ticket: &str, created_at: u64) -> Result<(), WxError> {
        let p = self.platform_or("platform")?;
        let t = Ticket { ticket: ticket.to_string(), created_at, received_at: crate::util::unix_now() };
        self.store.put_ticket(&p.appid, &t).await.map_err(|e| {
            WxError::new(ErrorKind::Io, "platform", format!("cannot store the component_verify_ticket: {e}"))
        })
    }

    /// The authorizers in the store, as `platform::authorizers()` lists them.
    pub async fn stored_authorizers(&self) -> Result<Vec<Authorizer>, WxError> {
        let p = self.platform_or("platform::authorizers")?;
        self.store.authorizers(&p.appid).await.map_err(|e| {
            WxError::new(ErrorKind::Io, "platform::authorizers", format!("cannot read the authorizers: {e}"))
        })
    }
}

fn store_failed(appid: &str, e: std::io::Error) -> WxError {
    WxError::new(ErrorKind::Io, "platform", format!("cannot store the refresh token of {appid}: {e}"))
}
