//! The durable event log: one JSON object per line, `{"received_at": UNIX_SECONDS, "event": {...}}`,
//! appended and fsync'd before the listener answers `success`.
//!
//! One writer thread owns the file and the set of keys already stored. Requests that arrive
//! together are written together and made durable by one `fdatasync` (group commit); each
//! caller is answered only after the fsync that covers its line, duplicates included, so a
//! `success` always means "on disk". At start the key set is rebuilt from the file, and a torn
//! last line (a crash in the middle of a write, never acknowledged) is cut off.
//!
//! Readers (`event::find`, `event::wait`, in this process or another) read the same file and
//! ignore anything after the last complete line.
//!
//! A shared store adds a second destination ([`SharedEvents`], the Redis stream several
//! listeners feed): an event is written to the file, then to the stream, and only then is the
//! listener answered; the stream's answer (new or re-sent) is the one that counts. The log
//! named [`SHARED_LOG`] (`--log redis`) is the stream alone.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

/// The environment variable naming the event log.
pub const ENV: &str = "WXSCRIPT_EVENT_LOG";
/// The event log when neither `--log` nor the environment names one (relative to the working directory).
pub const DEFAULT_FILE: &str = "wxscript-events.jsonl";
/// The log that is the shared store's event stream only, no file (`--log redis`).
pub const SHARED_LOG: &str = "redis";

/// Whether `log` names the shared store's stream instead of a file.
pub fn is_shared(log: &Path) -> bool {
    log.as_os_str() == SHARED_LOG
}

/// Where a shared store keeps events (several listeners append, every host reads), a stream
/// per account.
pub trait SharedEvents: Send + Sync {
    /// Appends `event` to the stream of its account unless the store holds it already; returns
    /// once the store has it. The account is the event's `AuthorizerAppid`, else `account`,
    /// else the store's own.
    fn append<'a>(
        &'a self,
        event: &'a Map<String, Value>,
        account: Option<&'a str>,
    ) -> super::StoreFuture<'a, io::Result<Stored>>;
}

/// `WXSCRIPT_EVENT_LOG`, else `./wxscript-events.jsonl`.
pub fn default_path() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_FILE),
    }
}

/// What WeChat re-sends unchanged: FromUserName + CreateTime + Event (+ audit_id, MsgId); for
/// a platform push, AppId + CreateTime + InfoType (+ AuthorizerAppid).
pub fn dedup_key(ev: &Map<String, Value>) -> String {
    let f = |k: &str| match ev.get(k) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    use crate::message::events::{APP_ID, AUTHORIZER_APPID, CREATE_TIME, FROM_USER_NAME, INFO_TYPE, MSG_TYPE};
    let mut key =
        [f(FROM_USER_NAME), f(CREATE_TIME), f(MSG_TYPE), f("Event"), f("audit_id"), f("MsgId")].join("\u{1f}");
    if ev.contains_key(INFO_TYPE) {
        for k in [APP_ID, INFO_TYPE, AUTHORIZER_APPID] {
            key.push('\u{1f}');
            key.push_str(&f(k));
        }
    }
    key
}

/// The result of one append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// A new event, now durable.
    New,
    /// Already in the log; nothing written.
    Duplicate,
}

struct Job {
    event: Map<String, Value>,
    done: oneshot::Sender<io::Result<Stored>>,
}

/// The writing side of a log. Cloning shares the writer.
#[derive(Clone)]
pub struct EventLog {
    /// The file's writer thread; `None` when the log is the shared stream alone.
    tx: Option<mpsc::Sender<Job>>,
    path: PathBuf,
    shared: Option<std::sync::Arc<dyn SharedEvents>>,
    /// Where new events go when no file writer sends them (the stream alone).
    new_events: Option<mpsc::Sender<Map<String, Value>>>,
}

impl EventLog {
    /// Opens (creating) the log and starts its writer thread. Every newly stored event is also
    /// sent to `new_events`, in log order, after it is durable.
    pub fn open(path: &Path, new_events: Option<mpsc::Sender<Map<String, Value>>>) -> io::Result<(EventLog, usize)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let keys = recover(&mut file)?;
        let count = keys.len();
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("event-log".into()).spawn(move || writer(file, keys, rx, new_events))?;
        Ok((EventLog { tx: Some(tx), path: path.to_path_buf(), shared: None, new_events: None }, count))
    }

    /// The same log, each event also appended to `shared` before it is answered.
    pub fn with_shared(mut self, shared: std::sync::Arc<dyn SharedEvents>) -> EventLog {
        self.shared = Some(shared);
        self
    }

    /// A log that is `shared` alone ([`SHARED_LOG`]); new events go to `new_events`.
    pub fn shared_only(
        shared: std::sync::Arc<dyn SharedEvents>,
        new_events: Option<mpsc::Sender<Map<String, Value>>>,
    ) -> EventLog {
        EventLog { tx: None, path: PathBuf::from(SHARED_LOG), shared: Some(shared), new_events }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` unless it is a re-sent one; returns once the outcome is durable (in the
    /// file, and in the shared store when there is one).
    pub async fn append(&self, event: Map<String, Value>) -> io::Result<Stored> {
        self.append_for(event, None).await
    }

    /// [`EventLog::append`] for account `account` (its appid): in a shared store, the event
    /// goes to that account's stream (an authorizer's message to its own, whatever `account`).
    pub async fn append_for(&self, event: Map<String, Value>, account: Option<&str>) -> io::Result<Stored> {
        let in_file = match &self.tx {
            Some(tx) => {
                let (done, rx) = oneshot::channel();
                let job = Job { event: event.clone(), done };
                tx.send(job).map_err(|_| io::Error::other("the event log writer has stopped"))?;
                Some(rx.await.map_err(|_| io::Error::other("the event log writer has stopped"))??)
            }
            None => None,
        };
        let Some(shared) = &self.shared else { return in_file.ok_or_else(|| io::Error::other("no event log")) };
        // A failure here is answered as one, so WeChat sends the event again: the file already
        // holding it then says re-sent, and the stream gets it.
        let stored = shared.append(&event, account).await?;
        if stored == Stored::New
            && self.tx.is_none()
            && let Some(tx) = &self.new_events
        {
            let _ = tx.send(event);
        }
        Ok(stored)
    }
}

/// Cuts a torn last line and returns the keys of the stored events.
fn recover(file: &mut File) -> io::Result<HashSet<String>> {
    let mut data = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut data)?;
    let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < data.len() {
        file.set_len(complete as u64)?;
        file.sync_data()?;
    }
    let mut keys = HashSet::new();
    for line in data[..complete].split(|&b| b == b'\n') {
        if let Some(ev) = parse_line(line) {
            keys.insert(dedup_key(&ev));
        }
    }
    Ok(keys)
}

fn writer(
    mut file: File,
    mut keys: HashSet<String>,
    rx: mpsc::Receiver<Job>,
    new_events: Option<mpsc::Sender<Map<String, Value>>>,
) {
    const BATCH: usize = 512;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let received_at = crate::util::unix_now();
        let mut buf = Vec::new();
        let mut fresh: Vec<(usize, String)> = Vec::new();
        for (i, j) in jobs.iter().enumerate() {
            let key = dedup_key(&j.event);
            if keys.insert(key.clone()) {
                let line = json!({ "received_at": received_at, "event": j.event });
                buf.extend_from_slice(line.to_string().as_bytes());
                buf.push(b'\n');
                fresh.push((i, key));
            }
        }
        let outcome = if buf.is_empty() { Ok(()) } else { write_durably(&mut file, &buf) };
        match outcome {
            Ok(()) => {
                let is_new: HashSet<usize> = fresh.iter().map(|(i, _)| *i).collect();
                for (i, j) in jobs.into_iter().enumerate() {
                    let stored = if is_new.contains(&i) { Stored::New } else { Stored::Duplicate };
                    if stored == Stored::New
                        && let Some(tx) = &new_events
                    {
                        let _ = tx.send(j.event.clone());
                    }
                    let _ = j.done.send(Ok(stored));
                }
            }
            Err(e) => {
                for (_, k) in &fresh {
                    keys.remove(k);
                }
                for j in jobs {
                    let _ = j.done.send(Err(io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }
}

/// Appends whole lines and fsyncs; on failure, cuts the file back so no partial line stays.
fn write_durably(file: &mut File, buf: &[u8]) -> io::Result<()> {
    let before = file.seek(SeekFrom::End(0))?;
    let res = file.write_all(buf).and_then(|()| file.sync_data());
    if res.is_err() {
        let _ = file.set_len(before);
    }
    res
}

/// The event of one complete log line, or `None` for anything else.
fn parse_line(line: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(line).ok()? {
        Value::Object(mut o) => match o.remove("event")? {
            Value::Object(ev) => Some(ev),
            _ => None,
        },
        _ => None,
    }
}

/// Reads the events of a log file incrementally (for waiting on new ones).
pub struct Reader {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Reader {
    pub fn new(path: &Path) -> Reader {
        Reader { path: path.to_path_buf(), offset: 0, partial: Vec::new() }
    }

    /// Events appended since the last call (all of them the first time). A missing file has none.
    pub fn next_batch(&mut self) -> io::Result<Vec<Map<String, Value>>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Replaced or truncated: start over.
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut r = BufReader::new(file.take(len - self.offset));
        let mut out = Vec::new();
        loop {
            let mut line = std::mem::take(&mut self.partial);
            let n = r.read_until(b'\n', &mut line)?;
            self.offset += n as u64;
            if n == 0 {
                self.partial = line;
                break;
            }
            if line.last() != Some(&b'\n') {
                // Still being written: keep it for the next call.
                self.partial = line;
                break;
            }
            if let Some(ev) = parse_line(&line[..line.len() - 1]) {
                out.push(ev);
            }
        }
        Ok(out)
    }
}

/// Every event in the log, oldest first.
pub fn read_all(path: &Path) -> io::Result<Vec<Map<String, Value>>> {
    Reader::new(path).next_batch()
}

/// Whether `ev` has every key of `filter` with an equal value; numbers and numeric strings
/// compare by value (`audit_id: 123` matches `"123"` and `123.0`).
pub fn matches(ev: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, want)| ev.get(k).is_some_and(|got| equal(got, want)))
}

fn equal(a: &Value, b: &Value) -> bool {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => {
                let t = s.trim();
                (!t.is_empty()).then(|| t.parse::<f64>().ok()).flatten()
            }
            _ => None,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            // Large ids compare exactly as text first; otherwise by value.
            let text = |v: &Value| match v {
                Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            };
            text(a) == text(b) || matches!((num(a), num(b)), (Some(x), Some(y)) if x == y)
        }
        (Value::Object(x), Value::Object(y)) => matches(x, y) && x.len() == y.len(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn filters_compare_numbers_sensibly() {
        let ev = obj(json!({"Event": "add_store_audit_info", "audit_id": 123, "poiid": "456", "lat": "23.10"}));
        assert!(matches(&ev, &obj(json!({"audit_id": 123}))));
        assert!(matches(&ev, &obj(json!({"audit_id": "123"}))));
        assert!(matches(&ev, &obj(json!({"poiid": 456}))));
        assert!(matches(&ev, &obj(json!({"lat": 23.1}))));
        assert!(!matches(&ev, &obj(json!({"audit_id": 124}))));
        assert!(!matches(&ev, &obj(json!({"missing": 1}))));
        assert!(matches(&ev, &obj(json!({}))));
    }

    #[test]
    fn torn_line_is_cut_and_keys_rebuilt() {
        let dir = std::env::temp_dir().join(format!("wxscript-log-test-{}", std::process::id()));
        let path = dir.join("e.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let line =
            json!({"received_at": 1, "event": {"FromUserName": "u", "CreateTime": 1, "Event": "x", "audit_id": 1}});
        std::fs::write(&path, format!("{line}\n{{\"received_at\":2,\"ev")).expect("write");
        let mut f = OpenOptions::new().read(true).append(true).open(&path).expect("open");
        let keys = recover(&mut f).expect("recover");
        assert_eq!(keys.len(), 1);
        assert_eq!(read_all(&path).expect("read").len(), 1);
        assert!(std::fs::read_to_string(&path).expect("read").ends_with("}\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
