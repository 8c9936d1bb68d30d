//! `journal::open(path)`: an append-only, fsync'd record of what a bulk job has done, so a
//! job that is killed and run again skips what was done and repeats nothing.
//!
//! Each record is one JSON line `{"key", "value", "at"}`, flushed to disk before `record`
//! returns. A line torn by a crash (no trailing newline) is cut off when the journal is
//! opened again: that record never completed, so its work is done again.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::api::WxError;

struct Inner {
    path: String,
    file: File,
    entries: HashMap<String, Value>,
    /// Keys in the order first recorded.
    order: Vec<String>,
}

/// A journal shared by every clone (scripts pass it around and into `parallel`).
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Mutex<Inner>>,
}

const API: &str = "journal";

impl Journal {
    pub fn open(path: &str) -> Result<Journal, WxError> {
        let io = |e: std::io::Error| WxError::io(API, path, format!("cannot open journal {path}: {e}"));
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io)?;
        let mut entries = HashMap::new();
        let mut order = Vec::new();
        let mut good_len = 0u64;
        {
            let mut reader = BufReader::new(&mut file);
            let mut line = String::new();
            let mut offset = 0u64;
            let mut line_no = 0usize;
            loop {
                line_no += 1;
                line.clear();
                let n = reader.read_line(&mut line).map_err(io)?;
                if n == 0 {
                    break;
                }
                offset += n as u64;
                if !line.ends_with('\n') {
                    break;
                }
                let v: Value = serde_json::from_str(line.trim_end()).map_err(|e| {
                    WxError::io(API, path, format!("{path}: line {line_no} is not a journal record: {e}"))
                })?;
                let key = v.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
                if !entries.contains_key(&key) {
                    order.push(key.clone());
                }
                entries.insert(key, v.get("value").cloned().unwrap_or(Value::Null));
                good_len = offset;
            }
        }
        if file.metadata().map_err(io)?.len() != good_len {
            file.set_len(good_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(Journal { inner: Arc::new(Mutex::new(Inner { path: path.to_string(), file, entries, order })) })
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

    /// Appends and fsyncs one record; only then is the key `done`.
    pub fn record(&self, key: &str, value: Value) -> Result<(), WxError> {
        let mut inner = self.lock();
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut line = json!({"key": key, "value": value, "at": at}).to_string();
        line.push('\n');
        let path = inner.path.clone();
        let io = |e: std::io::Error| WxError::io(API, &path, format!("cannot write journal {path}: {e}"));
        inner.file.write_all(line.as_bytes()).map_err(io)?;
        inner.file.sync_data().map_err(io)?;
        if !inner.entries.contains_key(key) {
            inner.order.push(key.to_string());
        }
        inner.entries.insert(key.to_string(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_line_is_named_by_its_line_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("j.journal");
        let path = p.to_str().expect("utf8");
        let j = Journal::open(path).expect("open");
        // Five lines, two keys recorded twice: the garbage after them is on line 6.
        for (k, v) in [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("c", 5)] {
            j.record(k, json!(v)).expect("record");
        }
        drop(j);
        let mut text = std::fs::read_to_string(&p).expect("read");
        text.push_str("not json\n");
        std::fs::write(&p, text).expect("write");
        let err = Journal::open(path).err().expect("refused");
        assert!(err.errmsg.contains("line 6 "), "{}", err.errmsg);
    }

    #[test]
    fn records_survive_reopen_and_torn_lines_are_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("j.journal");
        let path = p.to_str().expect("utf8");
        let j = Journal::open(path).expect("open");
        j.record("row-1", json!({"audit_id": 1})).expect("record");
        j.record("row-2", json!(2)).expect("record");
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .expect("open")
            .write_all(b"{\"key\":\"row-3\",\"val")
            .expect("torn");
        let j = Journal::open(path).expect("reopen");
        assert!(j.done("row-1") && j.done("row-2") && !j.done("row-3"));
        assert_eq!(j.get("row-1"), Some(json!({"audit_id": 1})));
        j.record("row-3", json!(3)).expect("record after torn line");
        drop(j);
        let j = Journal::open(path).expect("reopen");
        assert_eq!(j.keys(), vec!["row-1", "row-2", "row-3"]);
    }
}
