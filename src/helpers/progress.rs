//! Progress of long bulk operations: a bar with rate and ETA on a terminal, a plain line every
//! few seconds otherwise, nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub enum Progress {
    Off,
    Bar(ProgressBar),
    Lines { label: String, total: u64, start: Instant, last: Mutex<Instant>, done: std::sync::atomic::AtomicU64 },
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(label: &str, total: u64, quiet: bool) -> Progress {
        // Short jobs finish before a bar would be worth drawing.
        if quiet || total < 20 {
            return Progress::Off;
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label.to_string());
            Progress::Bar(bar)
        } else {
            let now = Instant::now();
            Progress::Lines {
                label: label.to_string(),
                total,
                start: now,
                last: Mutex::new(now),
                done: std::sync::atomic::AtomicU64::new(0),
            }
        }
    }

    pub fn inc(&self) {
        match self {
            Progress::Off => {}
            Progress::Bar(b) => b.inc(1),
            Progress::Lines { label, total, start, last, done } => {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let Ok(mut l) = last.lock() else { return };
                if l.elapsed() >= LINE_EVERY || n == *total {
                    *l = Instant::now();
                    let secs = start.elapsed().as_secs_f64().max(1e-6);
                    let rate = n as f64 / secs;
                    let eta = if rate > 0.0 { (*total - n) as f64 / rate } else { 0.0 };
                    eprintln!(
                        "{label}: {n}/{total} ({:.0}%), {rate:.1}/s, ETA {eta:.0}s",
                        n as f64 * 100.0 / *total as f64
                    );
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Progress::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}
