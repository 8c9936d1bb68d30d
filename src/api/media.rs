//! Media uploads that the other endpoints take ids and URLs from.

use serde_json::{Map, Value};

use super::{BASE, Body, Endpoint, Policy, Ty, Unwrap, WxError, req};

/// The kind of a file judged by its first bytes, never by its name.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    const SIGS: &[(&[u8], &str)] = &[
        (b"\xFF\xD8\xFF", "jpg"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"GIF87a", "gif"),
        (b"GIF89a", "gif"),
        (b"BM", "bmp"),
        (b"#!AMR", "amr"),
        (b"ID3", "mp3"),
        (b"\xFF\xFB", "mp3"),
        (b"\xFF\xF3", "mp3"),
        (b"\xFF\xF2", "mp3"),
    ];
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some("mp4");
    }
    SIGS.iter().find(|(sig, _)| bytes.starts_with(sig)).map(|(_, k)| *k)
}

/// Allowed kinds and size limit (bytes, inclusive) per temporary media type.
pub fn media_limits(ty: &str) -> Option<(&'static [&'static str], u64)> {
    Some(match ty {
        "image" => (&["jpg", "png", "gif", "bmp"], 10 << 20),
        "voice" => (&["amr", "mp3"], 2 << 20),
        "video" => (&["mp4"], 10 << 20),
        "thumb" => (&["jpg"], 64 << 10),
        _ => return None,
    })
}

/// Checks a local file against allowed kinds and a size limit; `max` is inclusive.
pub fn check_file(api: &str, path: &str, kinds: &[&str], max: u64, what: &str) -> Result<(), WxError> {
    let bytes = std::fs::read(path).map_err(|e| WxError::io(api, path, format!("cannot read {path}: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(WxError::input(
            api,
            "path",
            format!("{path} is {} bytes; {what} must be at most {} bytes", bytes.len(), max),
        ));
    }
    match sniff(&bytes) {
        Some(k) if kinds.contains(&k) => Ok(()),
        found => Err(WxError::input(
            api,
            "path",
            format!(
                "{path} is {}; {what} must be {}",
                found.map(|k| format!("a {k} file")).unwrap_or_else(|| "of an unrecognised type".into()),
                kinds.join("/")
            ),
        )),
    }
}

fn check_upload(ep: &Endpoint, args: &Map<String, Value>, _now: &dyn Fn() -> i64) -> Result<(), WxError> {
    let path = args.get("path").and_then(Value::as_str).unwrap_or_default();
    let ty = args.get("type").and_then(Value::as_str).unwrap_or_default();
    let (kinds, max) = media_limits(ty).ok_or_else(|| WxError::input(ep.path, "type", "unknown media type"))?;
    check_file(ep.path, path, kinds, max, &format!("{ty} media"))
}

/// What `media::upload_image` takes: jpg or png, under 1 MB (the largest size, inclusive).
pub const UPLOADIMG_KINDS: &[&str] = &["jpg", "png"];
pub const UPLOADIMG_MAX: u64 = (1 << 20) - 1;

fn check_image(ep: &Endpoint, args: &Map<String, Value>, _now: &dyn Fn() -> i64) -> Result<(), WxError> {
    let path = args.get("path").and_then(Value::as_str).unwrap_or_default();
    check_file(ep.path, path, UPLOADIMG_KINDS, UPLOADIMG_MAX, "an uploadimg picture")
}

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        module: "media",
        name: "upload",
        policy: Policy::Write,
        path: "cgi-bin/media/upload",
        params: &["path", "type"],
        fields: &[
            req("path", Ty::File, "local file"),
            req(
                "type",
                Ty::OneOf(&["image", "voice", "video", "thumb"]),
                "media type: image (<=10 MB jpg/png/gif/bmp), voice (<=2 MB amr/mp3), video (<=10 MB mp4), thumb (<=64 KB jpg)",
            )
            .answers(40004),
        ],
        body: Body::Multipart { part: "media" },
        unwrap: Unwrap::Fields,
        doc: "Uploads temporary material (valid 3 days); its `media_id` goes into headimg_mediaid, qualification_list and the like. The file's type is judged by its content.",
        returns: "#{type, media_id, created_at}",
        errors: &[40004, 40005, 40006, 41005],
        example: "let m = media::upload(sandbox::sample(\"logo.png\"), \"image\");\nprint(m.media_id);",
        extra_check: Some(check_upload),
        sample: r#"{"type":"image","media_id":"DRY-RUN-MEDIA-ID","created_at":0}"#,
        ..BASE
    },
    Endpoint {
        module: "media",
        name: "upload_image",
        policy: Policy::Write,
        path: "cgi-bin/media/uploadimg",
        params: &["path"],
        fields: &[req("path", Ty::File, "local jpg or png file, under 1 MB")],
        body: Body::Multipart { part: "media" },
        unwrap: Unwrap::Top("url"),
        doc: "Uploads a picture and returns its permanent URL, for pic_list, photo and license.",
        returns: "the picture URL string",
        example: "let url = media::upload_image(sandbox::sample(\"shop.jpg\"));\nprint(url);",
        errors: &[40005, 40009, 41005],
        extra_check: Some(check_image),
        sample: r#"{"url":"http://mmbiz.qpic.cn/dry-run/0?wx_fmt=png"}"#,
        ..BASE
    },
];
