//! Small pieces every room uses and none owns: the clock, whole-file writes, a string that never
//! prints, and a fixed hash. Nothing here knows of WeChat, HTTP or rhai.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds now; 0 on a clock set before 1970 (nothing here is worth a panic over that).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Writes a file whole: `fill` writes into a temporary file beside `path`, which is synced and
/// renamed over it, so a reader or a crash sees the old file or the new one, never half of
/// either. With `mode` (unix permissions) the new file is created with exactly those bits,
/// never briefly wider.
pub fn write_atomic(path: &Path, mode: Option<u32>, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    // Two writers in one process (parallel workers) must not share a temporary name.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let result = opts.open(&tmp).and_then(|mut f| {
        // Exactly those bits: the mode given at creation is narrowed by the umask.
        #[cfg(unix)]
        if let Some(mode) = mode {
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        }
        fill(&mut f)?;
        f.sync_all()
    });
    let result = result.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A span of seconds as people say it: `45 s`, `12 min`, `3 h 20 min`, `2 days`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} days", secs / 86_400),
    }
}

/// A credential (app secret, access token, push Token, AES key): compared and passed on like its
/// value, but its `Debug` never shows it, so a logged struct cannot leak it. Text by default; a
/// key already decoded to bytes (`Secret<[u8; 32]>`) hides the same way.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T = String>(T);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> Secret<T> {
    /// The value itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: AsRef<[u8]>> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.as_ref().is_empty() { "\"\"" } else { "<redacted>" })
    }
}

impl<T> From<T> for Secret<T> {
    fn from(v: T) -> Self {
        Secret(v)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

/// splitmix64: a small, fixed hash, so generated data (POIs, statistics) is the same on every
/// machine and run.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_debug() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn atomic_write_replaces_whole_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f.txt");
        write_atomic(&p, Some(0o600), |f| io::Write::write_all(f, b"one")).expect("write");
        write_atomic(&p, Some(0o600), |f| io::Write::write_all(f, b"two")).expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "two");
        let failed = write_atomic(&p, None, |_| Err(io::Error::other("boom")));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1, "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
