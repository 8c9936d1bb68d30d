//! Reading what a server answers, and saying what went wrong when it answers badly: bodies are
//! read with a cap, redirects are refused, and a failed request is named by its root cause
//! (refused connection, timeout, TLS, DNS) with the server's `host:port`, never its URL, whose
//! query may hold the token or the secret.

use std::time::Duration;

/// The largest answer read. WeChat's largest (the district table) is under 1 MB; a server
/// streaming more is broken or hostile, and the process must not grow without bound.
pub const MAX_ANSWER: usize = 32 << 20;

/// Time to open a connection (the total time per request is configurable).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a client's requests go, for error messages.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port` of the API base.
    pub hostport: String,
    /// The total timeout of one request.
    pub timeout: Duration,
}

impl Target {
    /// The target of a checked base URL.
    pub fn new(base: &reqwest::Url, timeout: Duration) -> Target {
        let host = base.host_str().unwrap_or("?");
        let hostport = match base.port_or_known_default() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        Target { hostport, timeout }
    }

    /// A request failure named by its root cause.
    pub fn describe(&self, e: &reqwest::Error) -> String {
        let hp = &self.hostport;
        let mut io_kind = None;
        let mut texts = Vec::new();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                io_kind.get_or_insert(io.kind());
            }
            texts.push(s.to_string());
            src = s.source();
        }
        let root = texts.last().cloned().unwrap_or_else(|| {
            // Only reqwest's own text is left; it names the URL, so drop that part.
            let t = e.to_string();
            t.split(" for url (").next().unwrap_or(&t).to_string()
        });
        let all = texts.join(": ").to_ascii_lowercase();
        if e.is_timeout() {
            return if e.is_connect() {
                format!("connecting to {hp} timed out after {} s", CONNECT_TIMEOUT.as_secs())
            } else {
                format!("timed out after {} s waiting for {hp}", secs(self.timeout))
            };
        }
        match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => return format!("connection refused to {hp}"),
            Some(std::io::ErrorKind::ConnectionReset) => return format!("connection reset by {hp}"),
            Some(std::io::ErrorKind::ConnectionAborted) => return format!("connection aborted by {hp}"),
            _ => {}
        }
        if all.contains("dns error") {
            let host = hp.rsplit_once(':').map(|(h, _)| h).unwrap_or(hp);
            return format!("cannot resolve {host}: {root}");
        }
        let tls = ["tls", "certificate", "handshake", "corrupt message", "invalidcontenttype", "alert"];
        if e.is_connect() && tls.iter().any(|w| all.contains(w)) {
            return format!("TLS with {hp} failed: {root}");
        }
        if e.is_connect() {
            return format!("cannot connect to {hp}: {root}");
        }
        format!("request to {hp} failed: {root}")
    }
}

/// Seconds as people write them: `30`, or `0.5`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0}") } else { format!("{s}") }
}

/// Why a body could not be read whole.
pub enum BodyError {
    /// Over [`MAX_ANSWER`]: reading stopped there.
    TooLarge,
    /// The connection failed midway.
    Read(reqwest::Error),
}

impl BodyError {
    pub fn describe(&self, t: &Target) -> String {
        match self {
            BodyError::TooLarge => {
                format!("the answer from {} is larger than {} MB: refused", t.hostport, MAX_ANSWER >> 20)
            }
            BodyError::Read(e) => format!("reading the answer failed: {}", t.describe(e)),
        }
    }
}

/// Reads a whole body, keeping a running count so that no more than [`MAX_ANSWER`] is ever held.
pub async fn read_body(resp: &mut reqwest::Response) -> Result<Vec<u8>, BodyError> {
    read_body_capped(resp, MAX_ANSWER).await
}

async fn read_body_capped(resp: &mut reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The message for a redirect, which is never followed: WeChat does not redirect, and following
/// one would carry the token (or the appid and secret) to wherever it points.
pub fn redirect_refused(status: reqwest::StatusCode) -> String {
    format!("HTTP {status}: the server answered with a redirect, which is not followed (WeChat never redirects)")
}

/// The first 200 characters of a body that is not the expected JSON.
pub fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}
