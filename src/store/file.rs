//! The file store, for one host: each token in an owner-only JSON file under the cache
//! directory's `tokens/` (a `.lock` file beside it guards the refresh), journals as JSON-lines
//! files at the path they are opened with, the event log as the JSON-lines file of `events`,
//! and the platform's ticket and authorizers as owner-only JSON files under `platform/`.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use serde_json::{Map, Value};

use super::{
    Authorizer, EventLog, EventReader, JournalError, JournalWriter, LeaseGuard, OpenJournal, Store, StoreError,
    StoreFuture, Ticket, TokenEntry, TokenFamily, TokenKey, TokenLease, events,
};

/// Files on this host. Without a cache directory, tokens live in the callers' memory only
/// (the store keeps none) and the platform's ticket and authorizers in the store's memory, for
/// the process's life; journals and the event log are files wherever they are named.
#[derive(Clone, Debug, Default)]
pub struct FileStore {
    cache_dir: Option<PathBuf>,
    memory: Arc<Mutex<Memory>>,
}

/// The platform's records of a store without a directory.
#[derive(Default)]
struct Memory {
    tickets: HashMap<String, Ticket>,
    authorizers: BTreeMap<(String, String), Authorizer>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memory {{ {} tickets, {} authorizers }}", self.tickets.len(), self.authorizers.len())
    }
}

fn memory(m: &Mutex<Memory>) -> std::sync::MutexGuard<'_, Memory> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FileStore {
    pub fn new(cache_dir: Option<PathBuf>) -> FileStore {
        FileStore { cache_dir, memory: Default::default() }
    }

    /// The directory of a platform's records.
    fn platform_dir(&self, component_appid: &str) -> Option<PathBuf> {
        Some(self.cache_dir.as_ref()?.join("platform").join(super::safe_name(component_appid)))
    }

    fn authorizer_path(&self, component_appid: &str, appid: &str) -> Option<PathBuf> {
        Some(self.platform_dir(component_appid)?.join("authorizers").join(format!("{}.json", super::safe_name(appid))))
    }

    /// Writes `value` owner-only to `path`, its directories made owner-only; durable on return.
    fn write_private(path: &Path, value: &impl serde::Serialize) -> io::Result<()> {
        Self::write_private_bytes(path, &serde_json::to_vec_pretty(value).map_err(io::Error::other)?)
    }

    /// Writes `bytes` owner-only to `path` as [`Self::write_private`] does.
    fn write_private_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
        private_dir(path.parent().unwrap_or(Path::new(".")))?;
        crate::util::write_atomic(path, Some(0o600), |f| f.write_all(bytes))
    }

    fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// The file of a token: classic keeps the name it always had, the stable family has names
    /// of its own.
    fn token_path(&self, key: &TokenKey) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let safe = super::safe_name(&key.appid);
        let family = match key.family {
            TokenFamily::Classic => String::new(),
            other => format!("{}-", other.as_str()),
        };
        Some(dir.join("tokens").join(format!("{safe}-{family}{}.json", key.identity)))
    }
}

impl FileStore {
    fn read_token(&self, key: &TokenKey) -> Option<TokenEntry> {
        Self::read_json(&self.token_path(key)?)
    }

    /// Written to a temporary file and renamed, owner-only, so readers never see half a token
    /// (compact JSON, as token files always were).
    fn write_token(&self, key: &TokenKey, entry: &TokenEntry) -> io::Result<()> {
        let Some(path) = self.token_path(key) else { return Ok(()) };
        Self::write_private_bytes(&path, &serde_json::to_vec(entry).map_err(io::Error::other)?)
    }

    /// The token file's lock file (owner-only), locked: blocks until it is free.
    pub fn lease_blocking(&self, key: &TokenKey) -> Option<TokenLease> {
        let path = self.token_path(key)?;
        let dir = path.parent()?;
        private_dir(dir).ok()?;
        let mut lock_path = path.into_os_string();
        lock_path.push(".lock");
        let mut opts = OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let f = opts.open(lock_path).ok()?;
        f.lock().ok()?;
        Some(TokenLease::new(Box::new(LockedFile { _lock: f })))
    }
}

/// A locked lock file: closing it unlocks.
struct LockedFile {
    _lock: File,
}

impl LeaseGuard for LockedFile {
    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        drop(self);
        Box::pin(async {})
    }
}

/// The platform's records, as the trait's methods read and write them.
impl FileStore {
    fn read_ticket(&self, component_appid: &str) -> Option<Ticket> {
        match self.platform_dir(component_appid) {
            Some(dir) => Self::read_json(&dir.join("ticket.json")),
            None => memory(&self.memory).tickets.get(component_appid).cloned(),
        }
    }

    fn write_ticket(&self, component_appid: &str, ticket: &Ticket) -> io::Result<()> {
        if self.read_ticket(component_appid).is_some_and(|t| t.created_at > ticket.created_at) {
            return Ok(());
        }
        match self.platform_dir(component_appid) {
            Some(dir) => Self::write_private(&dir.join("ticket.json"), ticket),
            None => {
                memory(&self.memory).tickets.insert(component_appid.to_string(), ticket.clone());
                Ok(())
            }
        }
    }

    fn read_authorizers(&self, component_appid: &str) -> Vec<Authorizer> {
        let Some(dir) = self.platform_dir(component_appid) else {
            let m = memory(&self.memory);
            return m.authorizers.iter().filter(|((c, _), _)| c == component_appid).map(|(_, a)| a.clone()).collect();
        };
        let Ok(entries) = std::fs::read_dir(dir.join("authorizers")) else { return Vec::new() };
        let mut list: Vec<Authorizer> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| Self::read_json(&e.path()))
            .collect();
        list.sort_by(|a, b| a.appid.cmp(&b.appid));
        list
    }

    fn read_authorizer(&self, component_appid: &str, appid: &str) -> Option<Authorizer> {
        match self.authorizer_path(component_appid, appid) {
            Some(path) => Self::read_json(&path),
            None => memory(&self.memory).authorizers.get(&(component_appid.to_string(), appid.to_string())).cloned(),
        }
    }

    /// Written to a temporary file, synced and renamed: a crash leaves the old record or the
    /// new one, never a torn one.
    fn write_authorizer(&self, component_appid: &str, record: &Authorizer) -> io::Result<()> {
        match self.authorizer_path(component_appid, &record.appid) {
            Some(path) => Self::write_private(&path, record),
            None => {
                memory(&self.memory)
                    .authorizers
                    .insert((component_appid.to_string(), record.appid.clone()), record.clone());
                Ok(())
            }
        }
    }
}

impl Store for FileStore {
    fn describe(&self) -> String {
        match &self.cache_dir {
            Some(d) => format!("file ({})", d.display()),
            None => "file (tokens in memory only)".into(),
        }
    }

    fn token<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Option<TokenEntry>> {
        Box::pin(async move { self.read_token(key) })
    }

    fn put_token<'a>(&'a self, key: &'a TokenKey, entry: &'a TokenEntry) -> StoreFuture<'a, io::Result<()>> {
        Box::pin(async move { self.write_token(key, entry) })
    }

    /// The lock is waited for on a blocking thread: a lock file does not wake a task.
    fn lease_token<'a>(&'a self, key: &'a TokenKey) -> StoreFuture<'a, Result<Option<TokenLease>, StoreError>> {
        let (this, key) = (self.clone(), key.clone());
        Box::pin(async move { Ok(tokio::task::spawn_blocking(move || this.lease_blocking(&key)).await.ok().flatten()) })
    }

    fn ticket<'a>(&'a self, component_appid: &'a str) -> StoreFuture<'a, Option<Ticket>> {
        Box::pin(async move { self.read_ticket(component_appid) })
    }

    fn put_ticket<'a>(&'a self, component_appid: &'a str, ticket: &'a Ticket) -> StoreFuture<'a, io::Result<()>> {
        Box::pin(async move { self.write_ticket(component_appid, ticket) })
    }

    fn authorizers<'a>(&'a self, component_appid: &'a str) -> StoreFuture<'a, io::Result<Vec<Authorizer>>> {
        Box::pin(async move { Ok(self.read_authorizers(component_appid)) })
    }

    fn authorizer<'a>(
        &'a self,
        component_appid: &'a str,
        appid: &'a str,
    ) -> StoreFuture<'a, io::Result<Option<Authorizer>>> {
        Box::pin(async move { Ok(self.read_authorizer(component_appid, appid)) })
    }

    fn put_authorizer<'a>(
        &'a self,
        component_appid: &'a str,
        record: &'a Authorizer,
    ) -> StoreFuture<'a, io::Result<()>> {
        Box::pin(async move { self.write_authorizer(component_appid, record) })
    }

    fn open_journal(&self, name: &str, write: bool) -> Result<Option<OpenJournal>, JournalError> {
        if name.starts_with(super::redis::JOURNAL_SCHEME) {
            return Err(JournalError::Io(io::Error::other(format!(
                "a journal named {name} is kept in Redis, and this run's store is files: run with --store redis://HOST:PORT (or WXSCRIPT_STORE, or `store` in the config file)"
            ))));
        }
        let mut file = if !write && !Path::new(name).exists() {
            return Ok(None);
        } else if !write {
            OpenOptions::new().read(true).open(name).map_err(JournalError::Io)?
        } else {
            OpenOptions::new().read(true).append(true).create(true).open(name).map_err(JournalError::Io)?
        };
        let mut records = Vec::new();
        let mut good_len = 0u64;
        {
            let mut reader = BufReader::new(&mut file);
            let mut line = String::new();
            let mut offset = 0u64;
            let mut line_no = 0usize;
            loop {
                line_no += 1;
                line.clear();
                let n = reader.read_line(&mut line).map_err(JournalError::Io)?;
                if n == 0 {
                    break;
                }
                offset += n as u64;
                if !line.ends_with('\n') {
                    break;
                }
                // A blank line (an editor's) holds no record.
                if !line.trim().is_empty() {
                    let v: Value = serde_json::from_str(line.trim_end())
                        .map_err(|error| JournalError::BadLine { line: line_no, error })?;
                    records.push(v);
                }
                good_len = offset;
            }
        }
        let writer = write.then(|| Box::new(JournalFile { file, good_len }) as Box<dyn JournalWriter>);
        Ok(Some(OpenJournal { records, writer }))
    }

    fn open_event_log(
        &self,
        log: &Path,
        new_events: Option<mpsc::Sender<Map<String, Value>>>,
    ) -> io::Result<(EventLog, usize)> {
        if events::is_shared(log) {
            return Err(io::Error::other(NO_SHARED_LOG));
        }
        EventLog::open(log, new_events)
    }

    fn event_reader(&self, log: &Path, _account: Option<&str>) -> Box<dyn EventReader> {
        if events::is_shared(log) {
            return Box::new(NoSharedLog);
        }
        Box::new(events::Reader::new(log))
    }
}

/// A journal file open for appending; `good_len` is where its complete lines end.
struct JournalFile {
    file: File,
    good_len: u64,
}

impl JournalWriter for JournalFile {
    fn settle(&mut self, start_over: bool) -> io::Result<()> {
        let keep = if start_over { 0 } else { self.good_len };
        if self.file.metadata()?.len() != keep {
            self.file.set_len(keep)?;
            self.file.sync_all()?;
        }
        self.file.seek(SeekFrom::End(0))?;
        Ok(())
    }

    fn append(&mut self, record: &Value) -> io::Result<()> {
        let mut line = record.to_string();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

/// What `--log redis` says with the file store.
const NO_SHARED_LOG: &str = "the event log `redis` is the Redis store's event stream, and this run's store is files: run with --store redis://HOST:PORT (or WXSCRIPT_STORE, or `store` in the config file)";

/// The reader of `--log redis` with the file store: it says why there is nothing to read.
struct NoSharedLog;

impl EventReader for NoSharedLog {
    fn next_batch(&mut self) -> io::Result<Vec<Map<String, Value>>> {
        Err(io::Error::other(NO_SHARED_LOG))
    }
}

impl EventReader for events::Reader {
    fn next_batch(&mut self) -> io::Result<Vec<Map<String, Value>>> {
        events::Reader::next_batch(self)
    }
}

/// Creates a cache directory (and its missing parents) owner-only, and narrows one that exists
/// to owner-only: it holds tokens, and the lock files that guard them.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let meta = std::fs::metadata(dir)?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[test]
    fn the_file_store_passes_the_store_tests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::new(Some(dir.path().join("cache")));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(conformance::tokens_round_trip(&store));
        rt.block_on(conformance::platform_records(&store));
        conformance::journal_append_and_read(&store, dir.path().join("j.journal").to_str().expect("utf8"));
        conformance::events_append_and_read(&store, &dir.path().join("events.jsonl"));
    }

    #[cfg(unix)]
    #[test]
    fn token_files_and_their_directory_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::new(Some(dir.path().join("cache")));
        let key = TokenKey::new("wx1", true, "http://127.0.0.1:1", "s3cret");
        let lease = store.lease_blocking(&key).expect("lease");
        store.write_token(&key, &conformance::entry("tok")).expect("put");
        drop(lease);
        let tokens = dir.path().join("cache").join("tokens");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&tokens), 0o700);
        let names: Vec<String> = std::fs::read_dir(&tokens)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        for n in &names {
            assert!(n.starts_with("wx1-stable-") && !n.contains("s3cret"), "{n}");
            assert_eq!(mode(&tokens.join(n)), 0o600, "{n}");
        }
    }

    #[test]
    fn without_a_cache_directory_the_platform_is_kept_in_memory() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(conformance::platform_records(&FileStore::new(None)));
    }

    #[cfg(unix)]
    #[test]
    fn authorizer_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::new(Some(dir.path().join("cache")));
        store.write_authorizer("wxc", &conformance::authorizer("wxa", "refresh-1", 1)).expect("put");
        let path = dir.path().join("cache/platform/wxc/authorizers/wxa.json");
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let platform = dir.path().join("cache/platform");
        assert_eq!(std::fs::metadata(&platform).expect("meta").permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn without_a_cache_directory_no_token_is_kept() {
        let store = FileStore::new(None);
        let key = TokenKey::new("wx1", false, "http://127.0.0.1:1", "s");
        store.write_token(&key, &conformance::entry("tok")).expect("put is a no-op");
        assert_eq!(store.read_token(&key), None);
        assert!(store.lease_blocking(&key).is_none());
    }
}
