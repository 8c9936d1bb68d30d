//! Pushing decided audits to a message URL, the way WeChat does: the seed's XML event, signed
//! with the Token (`signature`, `timestamp`, `nonce` in the query) and, when an EncodingAESKey
//! is set, encrypted (`encrypt_type=aes`, `msg_signature`, an `<Encrypt>` body). A push whose
//! answer is not `success` is sent again, at most 3 more times. The third-party platform's
//! pushes (tickets, authorisations) go to their own URL the same way, always encrypted; its
//! authorizers' events go to the platform's message URL (`$APPID$` replaced by the authorizer's
//! appid), encrypted with the platform's key, as WeChat sends an agency its merchants' events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::broadcast;

use super::{APPID, AuditEvent, Shared, TO_USER_NAME};

use crate::message::{MsgCrypt, crypto};
use crate::util::Secret;

/// What WeChat's console asks for in a platform's message URL, replaced by the appid of the
/// authorizer an event is for.
pub const APPID_PLACEHOLDER: &str = "$APPID$";

/// Retries after the first attempt.
pub const RETRIES: u32 = 3;
/// How long one attempt may take (WeChat waits 5 s).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to push.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    pub token: Secret,
    pub crypt: Option<MsgCrypt>,
    /// Each message is encrypted with the appid of the account it is for (an own account's
    /// message URL), not the crypt's own (the platform's, whose appid every push carries).
    pub per_account: bool,
}

impl Target {
    /// `aes_key` is the 43-character EncodingAESKey; the appid is the sandbox's.
    pub fn new(url: &str, token: &str, aes_key: Option<&str>) -> Result<Target, String> {
        let crypt = aes_key.map(|k| MsgCrypt::new(k, APPID)).transpose()?;
        Ok(Target { url: url.to_string(), token: token.into(), crypt, per_account: true })
    }

    /// A target for the third-party platform's pushes: always encrypted, the component appid
    /// in the crypt.
    pub fn platform(url: &str, token: &str, aes_key: &str) -> Result<Target, String> {
        let crypt = MsgCrypt::new(aes_key, super::COMPONENT_APPID)?;
        Ok(Target { url: url.to_string(), token: token.into(), crypt: Some(crypt), per_account: false })
    }

    /// The URL with its signed query and the body, for one platform push of `xml`: the
    /// envelope names the platform (`AppId`) where an account's names the account.
    pub fn sign_platform(&self, xml: &str) -> (String, String) {
        self.signed(xml, "", None)
    }

    /// The URL with its signed query and the body, for one push of `xml` to the first own
    /// account.
    pub fn sign(&self, xml: &str) -> (String, String) {
        self.sign_to(xml, TO_USER_NAME, APPID)
    }

    /// The URL with its signed query and the body, for one push of `xml` addressed to `to`, for
    /// account `appid`: it replaces [`APPID_PLACEHOLDER`] in the URL (and is the appid an own
    /// account's message is encrypted with).
    pub fn sign_to(&self, xml: &str, to: &str, appid: &str) -> (String, String) {
        self.signed(xml, appid, Some(to))
    }

    /// Signs (and, with a key, encrypts) `xml` for account `appid`, addressed to user `to`, or
    /// to the platform itself when `None`.
    fn signed(&self, xml: &str, appid: &str, to: Option<&str>) -> (String, String) {
        // The real time, not the simulator's: the listener checks it against its own clock.
        let timestamp = crate::util::unix_now().to_string();
        let nonce = fastrand::u32(100_000_000..u32::MAX).to_string();
        let signature = crypto::signature(&[self.token.expose(), &timestamp, &nonce]);
        let base = self.url.replace(APPID_PLACEHOLDER, appid);
        let sep = if base.contains('?') { '&' } else { '?' };
        let mut url = format!("{base}{sep}signature={signature}&timestamp={timestamp}&nonce={nonce}");
        let Some(c) = &self.crypt else { return (url, xml.to_string()) };
        let enc = match self.per_account && !appid.is_empty() {
            true => c.for_appid(appid).encrypt(xml.as_bytes()),
            false => c.encrypt(xml.as_bytes()),
        };
        let msg_signature = crypto::signature(&[self.token.expose(), &timestamp, &nonce, &enc]);
        if let Some(to) = to {
            url += &format!("&openid={to}");
        }
        url += &format!("&encrypt_type=aes&msg_signature={msg_signature}");
        let body = match to {
            Some(to) => crypto::envelope("ToUserName", to, &enc),
            None => crypto::envelope("AppId", c.appid(), &enc),
        };
        (url, body)
    }
}

/// Sends one XML message: the first attempt and up to [`RETRIES`] more until one is answered
/// `success`. Returns the number of attempts used, or why the last one failed.
pub async fn deliver(client: &reqwest::Client, target: &Target, xml: &str) -> Result<u32, String> {
    let (url, body) = target.sign(xml);
    deliver_signed(client, &url, body).await
}

/// Sends one signed message, retrying as [`deliver`] does.
async fn deliver_signed(client: &reqwest::Client, url: &str, body: String) -> Result<u32, String> {
    let mut last = String::new();
    for attempt in 0..=RETRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(250 << (attempt - 1))).await;
        }
        let res = client
            .post(url)
            .header("content-type", "text/xml; charset=utf-8")
            .timeout(ATTEMPT_TIMEOUT)
            .body(body.clone())
            .send()
            .await;
        match res {
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                if status.is_success() && text.trim() == "success" {
                    return Ok(attempt + 1);
                }
                last = format!("HTTP {}: {}", status.as_u16(), text.chars().take(100).collect::<String>());
            }
            Err(e) => last = without_url(&e),
        }
    }
    Err(last)
}

/// A reqwest error without the URL (whose query carries signatures, not secrets, but is noise).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    kind.to_string()
}

/// What the pusher has done.
#[derive(Default, Debug)]
pub struct Counts {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
}

/// The push task: every decided audit, oldest first, one at a time (so the listener sees them in
/// order): an own account's to `own`, an authorizer's to the platform's message URL `messages`
/// (an event with no URL to go to is not sent, as WeChat sends none without one). It also
/// reads the state every 100 ms, which decides audits that fall due while no request arrives.
pub(super) async fn run(shared: Arc<Shared>, own: Option<Target>, messages: Option<Target>, counts: Arc<Counts>) {
    let Ok(client) = reqwest::Client::builder().connect_timeout(ATTEMPT_TIMEOUT).build() else {
        eprintln!("sandbox: cannot build the push client");
        return;
    };
    let mut wake: broadcast::Receiver<AuditEvent> = shared.log.tx.subscribe();
    let mut sent = 0usize;
    loop {
        let batch: Vec<AuditEvent> = {
            shared.settle_all();
            super::lock(&shared.log.events).get(sent..).map(<[AuditEvent]>::to_vec).unwrap_or_default()
        };
        sent += batch.len();
        for ev in batch {
            let authorizer = shared.account(&ev.appid).is_some_and(|i| shared.accounts[i].authorizer);
            let Some(target) = (if authorizer { &messages } else { &own }) else {
                continue;
            };
            let (url, body) = target.sign_to(&ev.to_xml(), &ev.to, &ev.appid);
            match deliver_signed(&client, &url, body).await {
                Ok(_) => {
                    counts.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err(why) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    let id = ev.get("audit_id").map(ToString::to_string).unwrap_or_default();
                    eprintln!(
                        "sandbox: push of {} (audit {id}) failed after {} attempts: {why}",
                        ev.event,
                        RETRIES + 1
                    );
                }
            }
        }
        tokio::select! {
            _ = wake.recv() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// The platform's push task: every ticket and authorisation change, oldest first, one at a
/// time. Reading the platform every 100 ms issues the tickets that fall due.
pub(super) async fn run_platform(shared: Arc<Shared>, target: Target, counts: Arc<Counts>) {
    let Ok(client) = reqwest::Client::builder().connect_timeout(ATTEMPT_TIMEOUT).build() else {
        eprintln!("sandbox: cannot build the platform push client");
        return;
    };
    let mut sent = 0usize;
    loop {
        let batch: Vec<super::platform::Pushed> =
            super::platform::platform(&shared).pushes.get(sent..).map(<[_]>::to_vec).unwrap_or_default();
        sent += batch.len();
        for p in batch {
            let (url, body) = target.sign_platform(&p.to_xml());
            match deliver_signed(&client, &url, body).await {
                Ok(_) => {
                    counts.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err(why) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("sandbox: platform push of {} failed after {} attempts: {why}", p.info_type, RETRIES + 1);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
