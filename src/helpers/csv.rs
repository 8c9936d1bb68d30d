//! `csv::read`, `csv::each` and `csv::write`: spreadsheets in and out of scripts.
//!
//! Values are strings exactly as in the file (no type guessing). UTF-8 with or without BOM is
//! read as is; a file that is not UTF-8 (an Excel export from Chinese Windows) is decoded as
//! GB18030, a superset of GBK, or as asked with `#{encoding: "gbk"}`. A file that is plainly
//! UTF-8 for a while and then not (rows pasted from another sheet) is refused, naming the line,
//! rather than half garbled. Reading streams: `each`
//! holds one row at a time, whatever the file's size.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use encoding_rs::{Encoding, GB18030, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;
use rhai::{Array, Dynamic, Map};

use crate::api::WxError;
use crate::runtime::catalog::HelperDoc;

/// Options a script may pass as the last argument.
#[derive(Default, Clone)]
pub struct ReadOptions {
    pub encoding: Option<&'static Encoding>,
    pub skip_bad_rows: bool,
    pub delimiter: u8,
}

pub fn read_options(api: &str, m: &Map) -> Result<ReadOptions, WxError> {
    let mut o = ReadOptions { delimiter: b',', ..ReadOptions::default() };
    for (k, v) in m {
        match k.as_str() {
            "encoding" => {
                let name = v.clone().into_string().map_err(|_| {
                    WxError::input(api, "encoding", "encoding must be a string such as \"utf-8\" or \"gbk\"")
                })?;
                let enc = match name.to_ascii_lowercase().as_str() {
                    "gbk" | "gb2312" | "gb18030" | "cp936" => GB18030,
                    "auto" => continue,
                    other => Encoding::for_label(other.as_bytes()).ok_or_else(|| {
                        WxError::input(api, "encoding", format!("unknown encoding {name:?} (try \"utf-8\" or \"gbk\")"))
                    })?,
                };
                o.encoding = Some(enc);
            }
            "skip_bad_rows" => {
                o.skip_bad_rows = v
                    .as_bool()
                    .map_err(|_| WxError::input(api, "skip_bad_rows", "skip_bad_rows must be true or false"))?;
            }
            "delimiter" => {
                let s = v.clone().into_string().unwrap_or_default();
                match s.as_bytes() {
                    [b] => o.delimiter = *b,
                    _ => return Err(WxError::input(api, "delimiter", "delimiter must be one ASCII character")),
                }
            }
            other => {
                let hint = crate::api::check::did_you_mean(other, ["encoding", "skip_bad_rows", "delimiter"])
                    .map(|s| format!(", did you mean \"{s}\"?"))
                    .unwrap_or_default();
                return Err(WxError::input(api, other, format!("unknown option \"{other}\"{hint}")));
            }
        }
    }
    Ok(o)
}

/// What the bytes of a file are.
enum Detected {
    Encoding(&'static Encoding),
    /// Plenty of UTF-8 Chinese text, then bytes that are not UTF-8 from this line on: rows from
    /// another sheet pasted in. Read either way, half the file would come out garbled.
    Mixed {
        line: u64,
    },
}

/// Chinese characters in UTF-8 before the first invalid byte that make a file UTF-8 with a bad
/// part, not GBK (whose byte pairs now and then look like a UTF-8 character, but never many in
/// a row).
const MIXED_AFTER: u64 = 20;

/// Sniffs the encoding: a file that is valid UTF-8 throughout is UTF-8, anything else GB18030.
/// The whole file is checked, in constant memory, because an English header and thousands of
/// ASCII rows can come before the first Chinese one.
fn detect(file: &mut File) -> std::io::Result<Detected> {
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes of a multi-byte character cut by the end of the previous chunk.
    let mut carried = 0;
    // In the valid text so far: line breaks, and three-byte (CJK) characters.
    let (mut lines, mut cjk) = (0u64, 0u64);
    let mut count = |text: &[u8]| {
        lines += text.iter().filter(|&&b| b == b'\n').count() as u64;
        cjk += text.iter().filter(|&&b| (0xE0..=0xEF).contains(&b)).count() as u64;
    };
    let found = loop {
        let r = file.read(&mut buf[carried..])?;
        if r == 0 {
            break if carried == 0 { Detected::Encoding(UTF_8) } else { Detected::Encoding(GB18030) };
        }
        let n = carried + r;
        match std::str::from_utf8(&buf[..n]) {
            Ok(_) => {
                count(&buf[..n]);
                carried = 0;
            }
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                count(&buf[..valid]);
                buf.copy_within(valid..n, 0);
                carried = n - valid;
            }
            Err(e) => {
                count(&buf[..e.valid_up_to()]);
                break if cjk >= MIXED_AFTER {
                    Detected::Mixed { line: lines + 1 }
                } else {
                    Detected::Encoding(GB18030)
                };
            }
        }
    };
    file.seek(SeekFrom::Start(0))?;
    Ok(found)
}

/// A row that could not be read, for `skip_bad_rows`.
pub fn bad_row(line: u64, error: String, fields: Vec<String>) -> Dynamic {
    let mut m = Map::new();
    m.insert("line".into(), Dynamic::from_int(line as i64));
    m.insert("error".into(), error.into());
    m.insert("fields".into(), Dynamic::from_array(fields.into_iter().map(Dynamic::from).collect()));
    Dynamic::from_map(m)
}

/// Streams the rows of `path` to `on_row` as maps keyed by the header. Returns the bad rows
/// (only with `skip_bad_rows`; otherwise the first bad row is an error).
pub fn each(
    api: &str,
    path: &str,
    opts: &ReadOptions,
    mut on_row: impl FnMut(Map) -> Result<(), Box<rhai::EvalAltResult>>,
) -> Result<Result<Array, Box<rhai::EvalAltResult>>, WxError> {
    let io = |e: std::io::Error| WxError::io(api, path, format!("cannot read {path}: {e}"));
    let mut file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_dir() {
        return Err(WxError::io(api, path, format!("{path} is a directory, not a CSV file")));
    }
    let enc = match opts.encoding {
        Some(e) => e,
        None => match detect(&mut file).map_err(io)? {
            Detected::Encoding(e) => e,
            Detected::Mixed { line } => {
                return Err(WxError::io(
                    api,
                    path,
                    format!(
                        "{path}:{line}: the file is UTF-8 up to this line and not from here on: it mixes encodings \
                         (rows pasted from another sheet?). Save it again in one encoding, or pass \
                         #{{encoding: \"gbk\"}} or #{{encoding: \"utf-8\"}} to read it one way"
                    ),
                ));
            }
        },
    };
    // UTF-8 is read as it is (the parser validates it), past a BOM; anything else is decoded.
    let reader: Box<dyn Read> = if enc == UTF_8 {
        let mut bom = [0u8; 3];
        let n = file.read(&mut bom).map_err(io)?;
        if n < 3 || bom != [0xEF, 0xBB, 0xBF] {
            file.seek(SeekFrom::Start(0)).map_err(io)?;
        }
        Box::new(file)
    } else {
        Box::new(
            DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .bom_override(true)
                .build(BufReader::with_capacity(1 << 16, file)),
        )
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let headers: Vec<rhai::ImmutableString> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().into()).collect(),
        Err(e) => return Err(WxError::io(api, path, describe(path, &e))),
    };
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        // An empty file has no rows.
        return Ok(Ok(Array::new()));
    }
    // A column without a name (Excel's trailing columns) is keyed by its position, so no value
    // is lost to another nameless one.
    let headers: Vec<rhai::ImmutableString> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| if h.is_empty() { format!("column{}", i + 1).into() } else { h.clone() })
        .collect();
    // Two columns of one name would leave one of them out of every row without a word.
    for (i, h) in headers.iter().enumerate() {
        if let Some(j) = headers[..i].iter().position(|x| x == h && !h.is_empty()) {
            return Err(WxError::io(
                api,
                path,
                format!("{path}:1: the header has \"{h}\" twice (columns {} and {})", j + 1, i + 1),
            ));
        }
    }
    let keys: Vec<rhai::Identifier> = headers.iter().map(|h| h.as_str().into()).collect();
    let mut bad = Array::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map(|p| p.line()).unwrap_or(0);
                if record.len() != headers.len() {
                    // A blank line in the middle of a sheet is not an error worth stopping for.
                    if record.len() == 1 && record.get(0).is_some_and(str::is_empty) {
                        continue;
                    }
                    let which = if record.len() < headers.len() {
                        format!("column {} ({}) and after are missing", record.len() + 1, headers[record.len()])
                    } else {
                        format!("column {} and after have no header", headers.len() + 1)
                    };
                    let msg = format!(
                        "{path}:{line}: row has {} fields but the header has {}: {which}",
                        record.len(),
                        headers.len()
                    );
                    if opts.skip_bad_rows {
                        bad.push(bad_row(line, msg, record.iter().map(str::to_string).collect()));
                        continue;
                    }
                    return Err(WxError::io(api, path, msg));
                }
                let mut m = Map::new();
                for (h, v) in keys.iter().zip(record.iter()) {
                    m.insert(h.clone(), Dynamic::from(rhai::ImmutableString::from(v)));
                }
                if let Err(e) = on_row(m) {
                    return Ok(Err(e));
                }
            }
            Err(e) => {
                let msg = describe(path, &e);
                if opts.skip_bad_rows && !matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    bad.push(bad_row(line, msg, Vec::new()));
                    continue;
                }
                return Err(WxError::io(api, path, msg));
            }
        }
    }
    Ok(Ok(bad))
}

fn describe(path: &str, e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, err } => format!(
            "{path}:{}: column {} is not valid text (try #{{encoding: \"gbk\"}})",
            pos.as_ref().map(|p| p.line()).unwrap_or(0),
            err.field() + 1
        ),
        csv::ErrorKind::Io(io) => format!("{path}: {io}"),
        _ => match e.position() {
            Some(p) => format!("{path}:{}: {e}", p.line()),
            None => format!("{path}: {e}"),
        },
    }
}

/// A cell's text: strings as they are, numbers printed, `()` empty, anything else as JSON.
fn cell(v: &Dynamic) -> String {
    if v.is_unit() {
        return String::new();
    }
    if v.is_string() {
        return v.clone().into_string().unwrap_or_default();
    }
    if v.is_int() || v.is_float() || v.is_bool() || v.is_char() {
        return v.to_string();
    }
    crate::runtime::convert::to_json(v).map(|j| j.to_string()).unwrap_or_else(|_| v.to_string())
}

/// Writes rows (maps) with a header; columns in the given order, else the first row's keys
/// followed by any other key seen. Written to a temporary file and renamed: never half a file.
pub fn write(api: &str, path: &str, rows: &Array, columns: Option<Vec<String>>, bom: bool) -> Result<(), WxError> {
    let mut cols: Vec<String> = columns.unwrap_or_default();
    let explicit = !cols.is_empty();
    let mut maps = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let m = r
            .read_lock::<Map>()
            .ok_or_else(|| WxError::input(api, "rows", format!("rows[{i}] is a {}, expected a map", r.type_name())))?;
        if !explicit {
            for k in m.keys() {
                if !cols.iter().any(|c| c == k.as_str()) {
                    cols.push(k.to_string());
                }
            }
        }
        maps.push(m.clone());
    }
    crate::util::write_atomic(std::path::Path::new(path), None, |file| {
        let mut file = std::io::BufWriter::new(file);
        if bom {
            file.write_all("\u{feff}".as_bytes())?;
        }
        let mut w = csv::Writer::from_writer(&mut file);
        w.write_record(&cols)?;
        for m in &maps {
            w.write_record(cols.iter().map(|c| m.get(c.as_str()).map(cell).unwrap_or_default()))?;
        }
        w.flush()?;
        drop(w);
        file.flush()
    })
    .map_err(|e| WxError::io(api, path, format!("cannot write {path}: {e}")))
}

/// The declarations of the `csv::` helpers.
pub const DOCS: &[HelperDoc] = &[
    HelperDoc {
        name: "csv::read",
        signatures: &["csv::read(path)", "csv::read(path, options)"],
        doc: "Every row of a CSV file as a map keyed by the header row (a column without a name is keyed `column3` and so on by its position; a name used twice is an error); values are strings exactly as in the file. UTF-8 (with or without BOM) or GBK/GB18030, detected or given as `#{encoding: \"gbk\"}`; quoted fields may hold newlines. A row whose field count differs from the header is an error naming file and line, unless `#{skip_bad_rows: true}`, which returns `#{rows, bad_rows}` instead (each bad row `#{line, error, fields}`). Options: encoding, skip_bad_rows, delimiter.",
        returns: "array of maps (or #{rows, bad_rows} with skip_bad_rows)",
        example: "let rows = csv::read(sandbox::sample(\"shops.csv\"));\nprint(`${rows.len()} shops, first: ${rows[0].name}`);",
    },
    HelperDoc {
        name: "csv::each",
        signatures: &["csv::each(path, fn)", "csv::each(path, fn, options)"],
        doc: "Streams the rows of a CSV file to `fn(row)` one at a time, in constant memory whatever the file's size. Options as csv::read; bad rows (with skip_bad_rows) are collected in the answer.",
        returns: "#{rows, bad_rows}: the number of rows given to fn, and the rows skipped",
        example: "let n = 0;\ncsv::each(sandbox::sample(\"shops.csv\"), |row| { n += 1; });\nprint(n);",
    },
    HelperDoc {
        name: "csv::write",
        signatures: &["csv::write(path, rows)", "csv::write(path, rows, options)"],
        doc: "Writes an array of maps as CSV with a header row: the first row's keys, then any other key seen, or `#{columns: [...]}` in that order. `#{bom: true}` writes a UTF-8 BOM for Excel. The file is replaced atomically. A dry run writes nothing: it prints `dry-run: write PATH (N rows)`.",
        returns: "()",
        example: "csv::write(\"example.csv\", [#{id: 1, name: \"海珠店\"}], #{columns: [\"id\", \"name\"]});",
    },
];
