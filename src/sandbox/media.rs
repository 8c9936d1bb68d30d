//! Media uploads: temporary material (`media::upload`), whose ids the merchant and store
//! calls take, and permanent pictures (`media::upload_image`), whose URLs go into pic_list.
//!
//! Files are judged by their first bytes with the same rules as the client (`api::media`), so
//! the sandbox refuses what WeChat would refuse even from clients that skip the local checks.
//! A temporary media id lives three days, as WeChat's do, by the simulator's clock.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::routes::Handler;
use super::{State, fail, random_id, str_field};
use crate::api::media::{UPLOADIMG_KINDS, UPLOADIMG_MAX, media_limits, sniff};

/// Issued temporary media ids.
#[derive(Default)]
pub(crate) struct Media {
    /// media_id -> (type, created_at)
    ids: HashMap<String, (String, u64)>,
}

/// How long a temporary media id stays valid (WeChat: 3 days).
pub(crate) const MEDIA_TTL_SECS: u64 = 3 * 86_400;

impl Media {
    /// Media ids issued so far (expired ones included).
    pub fn count(&self) -> usize {
        self.ids.len()
    }

    /// Whether `id` was issued and has not expired at `now` (Unix seconds).
    pub fn known(&self, id: &str, now: u64) -> bool {
        self.ids.get(id).is_some_and(|(_, created)| now < created.saturating_add(MEDIA_TTL_SECS))
    }
}

pub(crate) enum PartError {
    Missing,
    TooLarge,
}

/// The bytes of the multipart part `part`.
pub(crate) async fn read_part(mp: Option<Multipart>, part: &str) -> Result<Vec<u8>, PartError> {
    let mut mp = mp.ok_or(PartError::Missing)?;
    let too_large = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE { PartError::TooLarge } else { PartError::Missing }
    };
    while let Some(field) = mp.next_field().await.map_err(too_large)? {
        if field.name() == Some(part) {
            let bytes = field.bytes().await.map_err(too_large)?;
            return if bytes.is_empty() { Err(PartError::Missing) } else { Ok(bytes.to_vec()) };
        }
    }
    Err(PartError::Missing)
}

/// This family's behaviour, by endpoint (see `routes`).
pub(crate) fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("media::upload", Handler::Upload(|st, b, file| upload(st, false, b, file).into())),
        ("media::upload_image", Handler::Upload(|st, b, file| upload(st, true, b, file).into())),
    ]
}

/// Temporary material (`media::upload`), or with `image_only` a permanent picture
/// (`media::upload_image`).
fn upload(st: &mut State, image_only: bool, b: &Map<String, Value>, file: Result<Vec<u8>, PartError>) -> Value {
    let ty = str_field(b, "type");
    let (kinds, max): (&[&str], u64) = if image_only {
        (UPLOADIMG_KINDS, UPLOADIMG_MAX)
    } else {
        match media_limits(ty) {
            Some(limits) => limits,
            None => return fail(40004, ""),
        }
    };
    let bytes = match file {
        Ok(b) => b,
        Err(PartError::Missing) => return fail(41005, ""),
        Err(PartError::TooLarge) if image_only => return fail(40009, ""),
        Err(PartError::TooLarge) => return fail(40006, ""),
    };
    if bytes.len() as u64 > max {
        return if image_only { fail(40009, "") } else { fail(40006, "") };
    }
    let Some(kind) = sniff(&bytes).filter(|k| kinds.contains(k)) else {
        return fail(40005, "");
    };
    let id = random_id(64);
    if image_only {
        let fmt = if kind == "jpg" { "jpeg" } else { kind };
        return json!({ "url": format!("http://mmbiz.qpic.cn/sandbox/{id}/0?wx_fmt={fmt}") });
    }
    let created_at = st.now();
    st.media.ids.insert(id.clone(), (ty.to_string(), created_at));
    json!({ "type": ty, "media_id": id, "created_at": created_at })
}
