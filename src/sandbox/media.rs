//! Media uploads: temporary material (`cgi-bin/media/upload`), whose ids the merchant and store
//! calls take, and permanent pictures (`cgi-bin/media/uploadimg`), whose URLs go into pic_list.
//!
//! Files are judged by their first bytes with the same rules as the client (`api::media`), so
//! the sandbox refuses what WeChat would refuse even from clients that skip the local checks.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Shared, err, random_id, unix_now};
use crate::api::Endpoint;
use crate::api::media::{media_limits, sniff};

/// Largest picture `uploadimg` takes (the documents: under 1 MB).
const UPLOADIMG_MAX: usize = (1 << 20) - 1;

/// Issued temporary media ids.
#[derive(Default)]
pub(crate) struct Media {
    /// media_id -> (type, created_at)
    ids: HashMap<String, (String, u64)>,
}

impl Media {
    pub fn known(&self, id: &str) -> bool {
        self.ids.contains_key(id)
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

/// `cgi-bin/media/upload` and `cgi-bin/media/uploadimg`.
pub(crate) async fn upload(
    sh: &Shared,
    ep: &Endpoint,
    part: &str,
    q: &HashMap<String, String>,
    mp: Option<Multipart>,
) -> Value {
    let image_only = ep.path == "cgi-bin/media/uploadimg";
    let ty = q.get("type").map(String::as_str).unwrap_or("");
    let (kinds, max): (&[&str], usize) = if image_only {
        (&["jpg", "png"], UPLOADIMG_MAX)
    } else {
        match media_limits(ty) {
            Some((kinds, max)) => (kinds, max as usize),
            None => return err(40004, "invalid media type"),
        }
    };
    let bytes = match read_part(mp, part).await {
        Ok(b) => b,
        Err(PartError::Missing) => return err(41005, "media data missing"),
        Err(PartError::TooLarge) if image_only => return err(40009, "invalid image size"),
        Err(PartError::TooLarge) => return err(40006, "invalid meida size"),
    };
    if bytes.len() > max {
        return if image_only { err(40009, "invalid image size") } else { err(40006, "invalid meida size") };
    }
    let Some(kind) = sniff(&bytes).filter(|k| kinds.contains(k)) else {
        return err(40005, "invalid file type");
    };
    let id = random_id(64);
    if image_only {
        let fmt = if kind == "jpg" { "jpeg" } else { kind };
        return json!({ "url": format!("http://mmbiz.qpic.cn/sandbox/{id}/0?wx_fmt={fmt}") });
    }
    let created_at = unix_now();
    sh.state().media.ids.insert(id.clone(), (ty.to_string(), created_at));
    json!({ "type": ty, "media_id": id, "created_at": created_at })
}
