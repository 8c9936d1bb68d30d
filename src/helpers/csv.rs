//! `csv::read`, `csv::each` and `csv::write`: spreadsheets in and out of scripts.
//!
//! Values are strings exactly as in the file (no type guessing). UTF-8 with or without BOM is
//! read as is; a file that is not UTF-8 (an Excel export from Chinese Windows) is decoded as
//! GB18030, a superset of GBK, or as asked with `#{encoding: "gbk"}`. A file that is plainly
//! UTF-8 for a while and then not (rows pasted from another sheet) is refused, naming the line,
//! rather than half garbled, and so are bytes that are neither UTF-8 nor GBK, naming line and
//! column, rather than read as `�`. Reading streams: `each` holds one row at a time, whatever
//! the file's size; only regular files and pipes are read (a device such as `/dev/zero` would
//! never end), and a line over [`MAX_LINE`] stops the read.
//!
//! Writing replaces a regular file atomically, keeping its mode; anything else at the path (a
//! symbolic link, a device, a directory) is refused, never replaced.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use encoding_rs::{DecoderResult, Encoding, GB18030, UTF_8};
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
    // Bytes of valid UTF-8 before the current chunk.
    let mut offset = 0u64;
    let found = loop {
        let r = file.read(&mut buf[carried..])?;
        if r == 0 {
            break if carried == 0 { Detected::Encoding(UTF_8) } else { Detected::Encoding(GB18030) };
        }
        let n = carried + r;
        match std::str::from_utf8(&buf[..n]) {
            Ok(_) => {
                offset += n as u64;
                carried = 0;
            }
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                offset += valid as u64;
                buf.copy_within(valid..n, 0);
                carried = n - valid;
            }
            Err(e) => {
                // Only now are the lines and the CJK characters before this byte counted: the
                // common case, a file valid throughout, is checked in a single pass.
                let (lines, cjk) = count_before(file, offset + e.valid_up_to() as u64)?;
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

/// Line breaks and three-byte (CJK) UTF-8 characters in the first `end` bytes of the file.
fn count_before(file: &mut File, end: u64) -> std::io::Result<(u64, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut left, mut lines, mut cjk) = (end, 0u64, 0u64);
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        cjk += buf[..n].iter().filter(|&&b| (0xE0..=0xEF).contains(&b)).count() as u64;
        left -= n as u64;
    }
    Ok((lines, cjk))
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
    let kind = file.metadata().map_err(io)?.file_type();
    #[cfg(unix)]
    let pipe = std::os::unix::fs::FileTypeExt::is_fifo(&kind);
    #[cfg(not(unix))]
    let pipe = false;
    if !kind.is_file() && !pipe {
        return Err(WxError::io(
            api,
            path,
            format!("{path} is {}, not a CSV file: only files and pipes are read", file_kind(&kind)),
        ));
    }
    // A pipe cannot be read twice: without an encoding given, it is taken as UTF-8.
    let enc = match opts.encoding {
        Some(e) => e,
        None if pipe => UTF_8,
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
    // UTF-8 is read as it is (the parser validates it), past a BOM; anything else is decoded,
    // refusing bytes the encoding has no character for.
    let reader: Box<dyn Read> = if enc == UTF_8 {
        let mut bom = [0u8; 3];
        let mut n = 0;
        while n < 3 {
            match file.read(&mut bom[n..]).map_err(io)? {
                0 => break,
                r => n += r,
            }
        }
        let kept = if bom[..n] == [0xEF, 0xBB, 0xBF] { 0 } else { n };
        Box::new(LineCap::new(std::io::Cursor::new(bom[..kept].to_vec()).chain(file)))
    } else {
        Box::new(LineCap::new(Strict::new(file, enc, opts.delimiter)))
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let headers: Vec<rhai::ImmutableString> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().into()).collect(),
        Err(e) => return Err(WxError::io(api, path, describe(path, &e, 1))),
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
    // Rows are cloned from a template (every key, in the map's own order) and filled in place,
    // not built key by key; and a value equal to its column's in the previous row shares that
    // row's string: sheets repeat provinces, cities, hours and categories row after row, and
    // each string saved is an allocation and, in `csv::read`, memory held.
    let template: Map = keys.iter().map(|k| (k.clone(), Dynamic::UNIT)).collect();
    let order: Vec<usize> = template.keys().map(|k| keys.iter().position(|h| h == k).unwrap_or(0)).collect();
    let mut last: Vec<rhai::ImmutableString> = vec![rhai::ImmutableString::new(); keys.len()];
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
                let mut m = template.clone();
                for (slot, &col) in m.values_mut().zip(&order) {
                    let v = record.get(col).unwrap_or_default();
                    let shared = &mut last[col];
                    if shared.as_str() != v {
                        *shared = v.into();
                    }
                    *slot = Dynamic::from(shared.clone());
                }
                if let Err(e) = on_row(m) {
                    return Ok(Err(e));
                }
            }
            Err(e) => {
                let msg = describe(path, &e, rdr.position().line());
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

/// A parse error as `path:line: what`; `at` is the line of the record being read.
fn describe(path: &str, e: &csv::Error, at: u64) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, err } => format!(
            "{path}:{}: column {} is not valid text (try #{{encoding: \"gbk\"}})",
            pos.as_ref().map(|p| p.line()).unwrap_or(0),
            err.field() + 1
        ),
        csv::ErrorKind::Io(io) => match io.get_ref() {
            Some(inner) if inner.is::<BadBytes>() => format!("{path}:{inner}"),
            Some(inner) if inner.is::<LongLine>() => format!("{path}:{at}: {inner}"),
            _ => format!("{path}: {io}"),
        },
        _ => match e.position() {
            Some(p) => format!("{path}:{}: {e}", p.line()),
            None => format!("{path}: {e}"),
        },
    }
}

/// What a path that is not a regular file is, for the error that refuses it.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_fifo() {
            return "a named pipe";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// The longest line read: a sheet's rows are a few hundred bytes, and the parser holds a whole
/// record, so an endless line (a binary file, `cat /dev/zero |`) must stop somewhere.
pub const MAX_LINE: usize = 1 << 20;

/// A line over [`MAX_LINE`]; the parser's position names the line.
#[derive(Debug)]
struct LongLine;

impl std::fmt::Display for LongLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the line is longer than {} MB: not a CSV sheet", MAX_LINE >> 20)
    }
}

impl std::error::Error for LongLine {}

/// Passes bytes through, failing at the first line longer than [`MAX_LINE`].
struct LineCap<R> {
    inner: R,
    /// Bytes since the last line break.
    run: usize,
}

impl<R: Read> LineCap<R> {
    fn new(inner: R) -> Self {
        LineCap { inner, run: 0 }
    }
}

impl<R: Read> Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        match got.iter().rposition(|&b| b == b'\n') {
            Some(last) => self.run = n - last - 1,
            None => self.run += n,
        }
        if self.run > MAX_LINE {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, LongLine));
        }
        Ok(n)
    }
}

/// Bytes the file's encoding has no character for.
#[derive(Debug)]
struct BadBytes {
    line: u64,
    column: u64,
    bytes: Vec<u8>,
    encoding: &'static str,
}

impl std::fmt::Display for BadBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: Vec<String> = self.bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
        write!(
            f,
            "{}: column {} holds bytes ({}) that are neither UTF-8 nor {}: the file is in another encoding, or damaged",
            self.line,
            self.column,
            hex.join(""),
            if self.encoding == "gb18030" { "GBK" } else { self.encoding }
        )
    }
}

impl std::error::Error for BadBytes {}

/// Decodes to UTF-8, failing at the first malformed sequence instead of replacing it, and keeps
/// track of the line and column (field) it has reached, to name them.
struct Strict<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    encoding: &'static str,
    input: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    output: Vec<u8>,
    pos: usize,
    len: usize,
    delimiter: u8,
    line: u64,
    column: u64,
    quoted: bool,
}

impl<R: Read> Strict<R> {
    fn new(inner: R, enc: &'static Encoding, delimiter: u8) -> Self {
        Strict {
            inner,
            decoder: enc.new_decoder(),
            encoding: enc.name(),
            input: vec![0; 1 << 16],
            start: 0,
            end: 0,
            eof: false,
            output: vec![0; 3 << 16],
            pos: 0,
            len: 0,
            delimiter,
            line: 1,
            column: 1,
            quoted: false,
        }
    }

    fn track(&mut self, text: &[u8]) {
        for &b in text {
            if b == b'"' {
                self.quoted = !self.quoted;
            } else if b == b'\n' {
                self.line += 1;
                if !self.quoted {
                    self.column = 1;
                }
            } else if b == self.delimiter && !self.quoted {
                self.column += 1;
            }
        }
    }
}

impl<R: Read> Read for Strict<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.len {
            if self.start == self.end {
                if self.eof {
                    return Ok(0);
                }
                self.start = 0;
                self.end = self.inner.read(&mut self.input)?;
                self.eof = self.end == 0;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.start..self.end],
                &mut self.output,
                self.eof,
            );
            let text = std::mem::take(&mut self.output);
            self.track(&text[..written]);
            self.output = text;
            self.start += read;
            self.pos = 0;
            self.len = written;
            if let DecoderResult::Malformed(bad, after) = result {
                let at = self.start - after as usize;
                let bytes = self.input[at.saturating_sub(bad as usize)..at].to_vec();
                let e = BadBytes { line: self.line, column: self.column, bytes, encoding: self.encoding };
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
            }
            if self.eof && self.start == self.end && written == 0 {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.output[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
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

/// The mode a write keeps: that of the regular file at `path`, `None` when there is none yet.
/// Anything else there (a symbolic link, a device such as `/dev/null`, a directory) is refused:
/// the rename that makes a write atomic would replace it with a regular file.
fn target_mode(api: &str, path: &str) -> Result<Option<u32>, WxError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WxError::io(api, path, format!("cannot write {path}: {e}"))),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let to = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
        return Err(WxError::io(
            api,
            path,
            format!(
                "{path} is a symbolic link (to {to}): csv::write replaces only regular files, so write to the link's target or another path"
            ),
        ));
    }
    if !kind.is_file() {
        return Err(WxError::io(
            api,
            path,
            format!("{path} is {}: csv::write replaces only regular files, never that", file_kind(&kind)),
        ));
    }
    #[cfg(unix)]
    let mode = Some(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777);
    #[cfg(not(unix))]
    let mode = None;
    Ok(mode)
}

/// Writes rows (maps) with a header; columns in the given order, else the first row's keys
/// followed by any other key seen. Written to a temporary file and renamed over a regular file
/// (keeping its mode), or a new one: never half a file, never over anything else.
pub fn write(api: &str, path: &str, rows: &Array, columns: Option<Vec<String>>, bom: bool) -> Result<(), WxError> {
    let keep = target_mode(api, path)?;
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
    crate::util::write_atomic(std::path::Path::new(path), keep, |file| {
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
        doc: "Every row of a CSV file as a map keyed by the header row (a column without a name is keyed `column3` and so on by its position; a name used twice is an error); values are strings exactly as in the file. UTF-8 (with or without BOM) or GBK/GB18030, detected or given as `#{encoding: \"gbk\"}`; quoted fields may hold newlines. Bytes that are neither UTF-8 nor GBK are refused, naming line and column; only files and pipes are read, and a line over 1 MB stops the read. A row whose field count differs from the header is an error naming file and line, unless `#{skip_bad_rows: true}`, which returns `#{rows, bad_rows}` instead (each bad row `#{line, error, fields}`). Options: encoding, skip_bad_rows, delimiter.",
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
        doc: "Writes an array of maps as CSV with a header row: the first row's keys, then any other key seen, or `#{columns: [...]}` in that order. `#{bom: true}` writes a UTF-8 BOM for Excel. A file already there is replaced atomically, keeping its mode; a symbolic link, device or directory at the path is refused. A dry run writes nothing: it prints `dry-run: write PATH (N rows)`.",
        returns: "()",
        example: "csv::write(\"example.csv\", [#{id: 1, name: \"海珠店\"}], #{columns: [\"id\", \"name\"]});",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_never_write_targets() {
        let e = target_mode("csv::write", "/dev/null").expect_err("refused");
        assert!(e.errmsg.contains("character device"), "{}", e.errmsg);
        let dir = tempfile::tempdir().expect("tempdir");
        let e = target_mode("csv::write", &dir.path().display().to_string()).expect_err("refused");
        assert!(e.errmsg.contains("a directory"), "{}", e.errmsg);
        let new = dir.path().join("new.csv");
        assert_eq!(target_mode("csv::write", &new.display().to_string()).expect("a new file"), None);
    }

    #[test]
    fn strict_decoding_names_line_and_column() {
        let mut gbk = GB18030.encode("name,city\n\"a,b\",广州\n").0.into_owned();
        gbk.extend_from_slice(b"x,caf\xe9\n");
        let mut out = String::new();
        let e = Strict::new(&gbk[..], GB18030, b',').read_to_string(&mut out).expect_err("refused");
        let bad = e.get_ref().and_then(|i| i.downcast_ref::<BadBytes>()).expect("BadBytes");
        assert_eq!((bad.line, bad.column, bad.bytes.as_slice()), (3, 2, &b"\xe9"[..]), "{bad}");
    }
}
