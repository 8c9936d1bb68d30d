//! `journal::open(path)`: an append-only, fsync'd record of what a bulk job has done, so a
//! job that is killed and run again skips what was done and repeats nothing.
//!
//! Each record is one JSON line `{"key", "value", "at"}` in the session's store (a file at
//! `path` in the file store), flushed to disk before `record` returns. A line torn by a crash (no trailing newline) is cut off when the journal is
//! opened again: that record never completed, so its work is done again.
//!
//! A journal belongs to one server and account: a line `{"scope": {server, sandbox}}` (the
//! first, in a journal this version started) says which. What was done on one server says nothing of another, so a journal is not used
//! against a different one. A rehearsal's journal (written against a simulator, whose state
//! dies with it) is started afresh; any other is refused. In a dry run the journal is read but
//! not written: its records would claim work that was never done.
//!
//! `journal::open("redis:NAME")` keeps the journal in the session's Redis store instead, shared
//! by every host, and `j.claim(key)` splits the work: true for exactly one caller on any host
//! until the key is recorded or its claim lapses (60 s, renewed while the claimer lives). With
//! a file journal, a claim holds among this run's callers only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::api::WxError;
use crate::runtime::catalog::HelperDoc;
use crate::store::{JournalError, JournalWriter, OpenJournal, Store};

/// Where a journal is used: the server and account, whether it is a simulator, and whether the
/// run only pretends to write.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub server: String,
    pub sandbox: bool,
    pub dry_run: bool,
}

struct Inner {
    path: String,
    /// `None` in a dry run: records are kept in memory only.
    writer: Option<Box<dyn JournalWriter>>,
    entries: HashMap<String, Value>,
    /// Keys in the order first recorded.
    order: Vec<String>,
    /// Keys claimed in this run, when the journal keeps no claims of its own (a file).
    claimed: std::collections::HashSet<String>,
}

/// A journal shared by every clone (scripts pass it around and into `parallel`).
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Mutex<Inner>>,
}

const API: &str = "journal";

impl Journal {
    /// Opens journal `path` in `store` for a run in `scope`.
    pub fn open(store: &dyn Store, path: &str, scope: &Scope) -> Result<Journal, WxError> {
        let io = |e: std::io::Error| WxError::io(API, path, format!("cannot open journal {path}: {e}"));
        let opened = store.open_journal(path, !scope.dry_run).map_err(|e| match e {
            JournalError::Io(e) => io(e),
            JournalError::BadLine { line, error } => {
                WxError::io(API, path, format!("{path}: line {line} is not a journal record: {error}"))
            }
        })?;
        // A dry run with nothing to read, and nothing that may be written: an empty journal in memory.
        let Some(OpenJournal { records, mut writer }) = opened else { return Ok(Journal::in_memory(path)) };
        let mut entries = HashMap::new();
        let mut order = Vec::new();
        let mut written_for: Option<(String, bool)> = None;
        for v in records {
            if let Some(sc) = v.get("scope") {
                let server = sc.get("server").and_then(Value::as_str).unwrap_or_default().to_string();
                written_for = Some((server, sc.get("sandbox").and_then(Value::as_bool).unwrap_or(false)));
                continue;
            }
            let key = v.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
            if !entries.contains_key(&key) {
                order.push(key.clone());
            }
            entries.insert(key, v.get("value").cloned().unwrap_or(Value::Null));
        }
        let mut start_over = false;
        match &written_for {
            Some((server, _)) if *server == scope.server => {}
            Some((server, true)) if scope.sandbox => {
                eprintln!("journal {path} holds a rehearsal on another simulator ({server}): starting it afresh");
                start_over = true;
            }
            Some((server, was_sandbox)) => {
                let what = if *was_sandbox { "a rehearsal on a simulator" } else { "runs against" };
                return Err(WxError::input(
                    API,
                    "path",
                    format!(
                        "journal {path} records {what} {server}, and this run works on {}: what was done there says \
                         nothing here. Give this run a journal of its own (e.g. --arg journal=...), or delete that \
                         one to start over",
                        scope.server
                    ),
                ));
            }
            // Written before journals named their server, or new: it is this run's from now on.
            None => {}
        }
        let Some(w) = writer.as_mut() else {
            if start_over {
                return Ok(Journal::in_memory(path));
            }
            return Ok(Journal::from_parts(path, None, entries, order));
        };
        if start_over {
            entries.clear();
            order.clear();
        }
        w.settle(start_over).map_err(io)?;
        if written_for.is_none() || start_over {
            w.append(&json!({"scope": {"server": scope.server, "sandbox": scope.sandbox}})).map_err(io)?;
        }
        Ok(Journal::from_parts(path, writer, entries, order))
    }

    fn from_parts(
        path: &str,
        writer: Option<Box<dyn JournalWriter>>,
        entries: HashMap<String, Value>,
        order: Vec<String>,
    ) -> Journal {
        let claimed = Default::default();
        Journal { inner: Arc::new(Mutex::new(Inner { path: path.to_string(), writer, entries, order, claimed })) }
    }

    /// A dry run's journal with nothing on disk to read: records live in memory.
    fn in_memory(path: &str) -> Journal {
        Journal::from_parts(path, None, HashMap::new(), Vec::new())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave a record half-applied in memory: use the data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn done(&self, key: &str) -> bool {
        self.lock().entries.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().entries.get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn keys(&self) -> Vec<String> {
        self.lock().order.clone()
    }

    pub fn path(&self) -> String {
        self.lock().path.clone()
    }

    /// Whether this caller may do the work of `key`: false when it is recorded, or claimed by
    /// another caller (on any host, for a journal in Redis) whose claim has not lapsed.
    pub fn claim(&self, key: &str) -> Result<bool, WxError> {
        let mut inner = self.lock();
        if inner.entries.contains_key(key) {
            return Ok(false);
        }
        let path = inner.path.clone();
        if let Some(writer) = inner.writer.as_mut() {
            match writer.claim(key) {
                Ok(Some(won)) => return Ok(won),
                Ok(None) => {}
                Err(e) => {
                    return Err(WxError::new(
                        crate::api::ErrorKind::Network,
                        API,
                        format!("cannot claim {key:?} in journal {path}: {e}"),
                    ));
                }
            }
        }
        Ok(inner.claimed.insert(key.to_string()))
    }

    /// Appends and fsyncs one record; only then is the key `done`. In a dry run the record is
    /// kept in memory only, so the rest of the run sees it but the journal on disk does not.
    pub fn record(&self, key: &str, value: Value) -> Result<(), WxError> {
        let mut inner = self.lock();
        let path = inner.path.clone();
        if let Some(writer) = inner.writer.as_mut() {
            let at = crate::util::unix_now();
            writer
                .append(&json!({"key": key, "value": value, "at": at}))
                .map_err(|e| WxError::io(API, &path, format!("cannot write journal {path}: {e}")))?;
        }
        if !inner.entries.contains_key(key) {
            inner.order.push(key.to_string());
        }
        inner.entries.insert(key.to_string(), value);
        Ok(())
    }
}

/// The declaration of `journal::open` and a journal's methods.
pub const DOCS: &[HelperDoc] = &[HelperDoc {
    name: "journal::open",
    signatures: &[
        "journal::open(path)",
        "j.done(key)",
        "j.claim(key)",
        "j.record(key, value)",
        "j.get(key)",
        "j.len()",
        "j.keys()",
    ],
    doc: "An append-only, fsync'd journal of finished work: `j.record(key, value)` returns only once the record is on disk, `j.done(key)` tells whether it was recorded (in this run or an earlier one), `j.get(key)` returns its value or (). A job killed and run again skips what it recorded and repeats nothing. A journal belongs to the server and account it was first written against: a simulator rehearsal's journal is started afresh by the next rehearsal, any other is refused (an input error) on another server or account. In a dry run records are kept in memory, never written. `journal::open(\"redis:NAME\")` keeps the journal in the Redis store (`--store redis://...`; with the file store it is an error), shared by every host: `j.claim(key)` is true for exactly one caller on any host until the key is recorded or its claim lapses (60 s, renewed while the claimer runs), so several hosts running one import split it and a killed host's rows are taken over; a claim Redis cannot answer throws #{kind: \"network\"}. With a file journal, `j.claim(key)` holds among this run's callers (`parallel` workers).",
    returns: "a Journal",
    example: "let j = journal::open(\"example.journal\");\nif j.claim(\"row-1\") { j.record(\"row-1\", #{audit_id: 1}); }\nprint(j.get(\"row-1\"));",
}];

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::store::FileStore;

    fn open(path: &str, scope: &Scope) -> Result<Journal, WxError> {
        Journal::open(&FileStore::default(), path, scope)
    }

    fn real() -> Scope {
        Scope { server: "wx1 at https://api.weixin.qq.com".into(), sandbox: false, dry_run: false }
    }

    fn sim(port: u16) -> Scope {
        Scope { server: format!("wxsandbox at http://127.0.0.1:{port}"), sandbox: true, dry_run: false }
    }

    #[test]
    fn a_damaged_line_is_named_by_its_line_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("j.journal");
        let path = p.to_str().expect("utf8");
        let j = open(path, &real()).expect("open");
        // The scope line, five records with two keys recorded twice, a blank line: the
        // garbage after them is on line 8.
        for (k, v) in [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("c", 5)] {
            j.record(k, json!(v)).expect("record");
        }
        drop(j);
        let mut text = std::fs::read_to_string(&p).expect("read");
        // A blank line is no record and no damage.
        text.push('\n');
        std::fs::write(&p, &text).expect("write");
        assert!(open(path, &real()).expect("blank line").done("c"));
        text.push_str("not json\n");
        std::fs::write(&p, text).expect("write");
        let err = open(path, &real()).err().expect("refused");
        assert!(err.errmsg.contains("line 8 "), "{}", err.errmsg);
    }

    #[test]
    fn records_survive_reopen_and_torn_lines_are_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("j.journal");
        let path = p.to_str().expect("utf8");
        let j = open(path, &real()).expect("open");
        j.record("row-1", json!({"audit_id": 1})).expect("record");
        j.record("row-2", json!(2)).expect("record");
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .expect("open")
            .write_all(b"{\"key\":\"row-3\",\"val")
            .expect("torn");
        let j = open(path, &real()).expect("reopen");
        assert!(j.done("row-1") && j.done("row-2") && !j.done("row-3"));
        assert_eq!(j.get("row-1"), Some(json!({"audit_id": 1})));
        j.record("row-3", json!(3)).expect("record after torn line");
        drop(j);
        let j = open(path, &real()).expect("reopen");
        assert_eq!(j.keys(), vec!["row-1", "row-2", "row-3"]);
    }

    #[test]
    fn a_journal_belongs_to_one_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("j.journal");
        let path = p.to_str().expect("utf8");
        // A rehearsal on one simulator, then on another: started afresh.
        open(path, &sim(1)).expect("open").record("row-1", json!(1)).expect("record");
        let j = open(path, &sim(2)).expect("a later rehearsal");
        assert!(!j.done("row-1"), "the first simulator's work means nothing on the second");
        j.record("row-2", json!(2)).expect("record");
        drop(j);
        // A real run does not inherit a rehearsal's records: refused, with a way out.
        let err = open(path, &real()).err().expect("refused");
        assert_eq!(err.kind, crate::api::ErrorKind::Input);
        assert!(err.errmsg.contains("127.0.0.1:2") && err.errmsg.contains("api.weixin.qq.com"), "{}", err.errmsg);
        // A real journal is kept from both a rehearsal and another account.
        std::fs::remove_file(&p).expect("delete");
        open(path, &real()).expect("open").record("row-1", json!(1)).expect("record");
        let err = open(path, &sim(3)).err().expect("a rehearsal is refused");
        assert_eq!(err.kind, crate::api::ErrorKind::Input);
        assert!(err.errmsg.contains("runs against wx1 at https://api.weixin.qq.com"), "{}", err.errmsg);
        assert!(err.errmsg.contains("127.0.0.1:3"), "{}", err.errmsg);
        let other = Scope { server: "wx2 at https://api.weixin.qq.com".into(), ..real() };
        let err = open(path, &other).err().expect("another account is refused");
        assert_eq!(err.kind, crate::api::ErrorKind::Input);
        assert!(err.errmsg.contains("runs against wx1 at https://api.weixin.qq.com"), "{}", err.errmsg);
        assert!(err.errmsg.contains("works on wx2 at https://api.weixin.qq.com"), "{}", err.errmsg);
        assert!(open(path, &real()).expect("its own server").done("row-1"));
    }

    #[test]
    fn a_dry_run_reads_the_journal_but_never_writes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("j.journal");
        let path = p.to_str().expect("utf8");
        let dry = Scope { dry_run: true, ..real() };
        let j = open(path, &dry).expect("open");
        j.record("row-1", json!(1)).expect("record");
        assert!(j.done("row-1"), "the run itself sees its records");
        assert!(!p.exists(), "no file is created");
        open(path, &real()).expect("open").record("row-2", json!(2)).expect("record");
        let before = std::fs::read(&p).expect("read");
        let j = open(path, &dry).expect("open");
        assert!(j.done("row-2"));
        j.record("row-3", json!(3)).expect("record");
        assert_eq!(std::fs::read(&p).expect("read"), before, "the journal on disk is untouched");
    }
}
