//! The run-wide request rate: requests spaced evenly at the configured rate (or not at all),
//! lowered when WeChat answers 45009 (frequency limit) and raised back step by step as calls
//! succeed, so that a few refusals cost seconds, not the rest of the run at one call a second.
//! With a shared store (Redis) an account's slots are taken from the store, so its rate holds
//! for every process together; while the store is out of reach, each process spaces its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::store::Store;

/// Where an unlimited run starts when WeChat first says 45009.
const FIRST_LIMIT: f64 = 20.0;
/// An unlimited run is unlimited again once it climbs back past this rate.
const UNLIMITED_AGAIN: f64 = 50.0;
/// Never lowered below this (unless configured lower).
const FLOOR: f64 = 1.0;
/// Added to the rate (requests per second) per successful call while lowered.
const STEP: f64 = 1.0;

/// Spaces requests evenly: each caller takes the next free slot and waits for it.
pub struct RateLimit {
    state: Mutex<State>,
    /// Whether any limit applies: the common unlimited case takes no lock.
    limited: AtomicBool,
    /// Whether the rate is below the configured one: successes then take the lock to raise it.
    lowered: AtomicBool,
    /// Whether changes are reported on stderr.
    report: bool,
    /// The account named in those reports, when the run has several.
    who: Option<String>,
    /// The store whose slots this account's requests take, and the account's appid.
    shared: Option<(Arc<dyn Store>, String)>,
}

struct State {
    /// The configured rate (requests per second); `None` is unlimited.
    target: Option<f64>,
    /// The rate in force.
    current: Option<f64>,
    /// The lowest rate reported since the last restore, so that a run with many 45009s says
    /// each new low once, not each refusal.
    reported_low: Option<f64>,
    next: Instant,
}

/// What a change of rate is to be told as.
#[derive(Debug, PartialEq)]
pub enum Change {
    Lowered(f64),
    Restored(Option<f64>),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Lowered(r) => write!(
                f,
                "wxscript: WeChat's frequency limit (45009): request rate lowered to {}/s; it rises again as calls succeed",
                show(*r)
            ),
            Change::Restored(Some(r)) => write!(f, "wxscript: request rate restored to {}/s", show(*r)),
            Change::Restored(None) => f.write_str("wxscript: request rate restored (no limit)"),
        }
    }
}

fn show(r: f64) -> String {
    if r >= 10.0 { format!("{r:.0}") } else { format!("{:.1}", r).trim_end_matches(".0").to_string() }
}

impl RateLimit {
    /// A limit of `qps` requests per second (`None`, zero, negative or not finite: unlimited).
    /// `report` says changes on stderr.
    pub fn new(qps: Option<f64>, report: bool) -> RateLimit {
        let target = qps.filter(|q| *q > 0.0 && q.is_finite());
        RateLimit {
            state: Mutex::new(State { target, current: target, reported_low: None, next: Instant::now() }),
            limited: AtomicBool::new(target.is_some()),
            lowered: AtomicBool::new(false),
            report,
            who: None,
            shared: None,
        }
    }

    /// The same, its slots shared through `store` (if it keeps a shared rate) with every
    /// process limiting account `appid`.
    pub fn shared(mut self, store: Arc<dyn Store>, appid: &str) -> RateLimit {
        self.shared = Some((store, appid.to_string()));
        self
    }

    /// The same, its reports naming the account it limits (`shop-a (wx1111…)`).
    pub fn of_account(mut self, who: String) -> RateLimit {
        self.who = Some(who);
        self
    }

    pub async fn acquire(&self) {
        if !self.limited.load(Ordering::Relaxed) {
            return;
        }
        if let Some((store, appid)) = &self.shared {
            let Some(rate) = self.current() else { return };
            if let Ok(Some(wait)) = store.rate_slot(appid, Duration::from_secs_f64(1.0 / rate)).await {
                tokio::time::sleep(wait).await;
                return;
            }
        }
        let slot = {
            let Ok(mut st) = self.state.lock() else { return };
            let Some(rate) = st.current else { return };
            let now = Instant::now();
            let slot = st.next.max(now);
            st.next = slot + Duration::from_secs_f64(1.0 / rate);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// WeChat said 45009: halve the rate (at least [`FLOOR`]), or start limiting at
    /// [`FIRST_LIMIT`].
    pub fn slow_down(&self) {
        let change = {
            let Ok(mut st) = self.state.lock() else { return };
            let new = match st.current {
                Some(r) => (r / 2.0).max(FLOOR.min(r)),
                None => FIRST_LIMIT,
            };
            st.current = Some(new);
            self.limited.store(true, Ordering::Relaxed);
            self.lowered.store(true, Ordering::Relaxed);
            if st.reported_low.is_none_or(|low| new < low) {
                st.reported_low = Some(new);
                Some(Change::Lowered(new))
            } else {
                None
            }
        };
        self.tell(change);
    }

    /// A call went through: while lowered, raise the rate by [`STEP`], back to the configured.
    pub fn succeeded(&self) {
        if !self.lowered.load(Ordering::Relaxed) {
            return;
        }
        let change = {
            let Ok(mut st) = self.state.lock() else { return };
            let Some(r) = st.current else { return };
            let raised = r + STEP;
            let back = match st.target {
                Some(t) => raised >= t,
                None => raised > UNLIMITED_AGAIN,
            };
            if back {
                st.current = st.target;
                st.reported_low = None;
                self.lowered.store(false, Ordering::Relaxed);
                self.limited.store(st.target.is_some(), Ordering::Relaxed);
                Some(Change::Restored(st.target))
            } else {
                st.current = Some(raised);
                None
            }
        };
        self.tell(change);
    }

    /// The rate in force (requests per second), `None` when unlimited.
    pub fn current(&self) -> Option<f64> {
        self.state.lock().ok().and_then(|st| st.current)
    }

    fn tell(&self, change: Option<Change>) {
        if let Some(c) = change
            && self.report
        {
            match &self.who {
                Some(who) => eprintln!("{c} (account {who})"),
                None => eprintln!("{c}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_rate_halves_on_45009_and_climbs_back() {
        let r = RateLimit::new(Some(8.0), false);
        r.slow_down();
        assert_eq!(r.current(), Some(4.0));
        r.slow_down();
        r.slow_down();
        r.slow_down();
        assert_eq!(r.current(), Some(1.0), "never below one a second");
        for _ in 0..6 {
            r.succeeded();
        }
        assert_eq!(r.current(), Some(7.0));
        r.succeeded();
        assert_eq!(r.current(), Some(8.0), "back to the configured rate, not above");
        r.succeeded();
        assert_eq!(r.current(), Some(8.0));
    }

    #[test]
    fn an_unlimited_run_is_unlimited_again() {
        let r = RateLimit::new(None, false);
        r.slow_down();
        assert_eq!(r.current(), Some(FIRST_LIMIT));
        for _ in 0..100 {
            r.succeeded();
        }
        assert_eq!(r.current(), None);
    }

    #[test]
    fn a_rate_below_the_floor_is_not_raised_by_a_refusal() {
        let r = RateLimit::new(Some(0.5), false);
        r.slow_down();
        assert_eq!(r.current(), Some(0.5));
    }

    #[test]
    fn changes_read_as_rates() {
        assert!(Change::Lowered(2.5).to_string().contains("lowered to 2.5/s"));
        assert!(Change::Lowered(20.0).to_string().contains("lowered to 20/s"));
        assert_eq!(Change::Restored(Some(8.0)).to_string(), "wxscript: request rate restored to 8/s");
    }
}
