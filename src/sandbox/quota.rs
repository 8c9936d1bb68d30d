//! Daily API quotas (`--daily-quota N`): past N calls of one API by one account on one simulated
//! day (China's), calls answer 45009 until the day ends or `cgi-bin/clear_quota` (`wx::clear_quota`)
//! resets the account's counters. `api_call` counts; the handler here clears.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::routes::Handler;
use super::{State, fail, ok, str_field};

pub(crate) fn handlers() -> Vec<(&'static str, Handler)> {
    vec![("wx::clear_quota", Handler::Call(|st, b| clear(st, b).into()))]
}

/// `cgi-bin/clear_quota {appid}`: WeChat takes the appid in the body; the token already names
/// the account, so a body without it is taken as meaning that account.
fn clear(st: &mut State, b: &Map<String, Value>) -> Value {
    let appid = str_field(b, "appid");
    if !appid.is_empty() && appid != st.appid {
        return fail(40013, format!("the token belongs to {}, not {appid}", st.appid));
    }
    st.quota.clear();
    ok()
}

/// Calls of each API one account made on one simulated day, against `--daily-quota`.
#[derive(Default)]
pub(crate) struct Quota {
    day: u64,
    pub(crate) calls: HashMap<&'static str, u64>,
}

impl Quota {
    /// Counts a call of `path` on `day`; false when it is past `limit` calls that day.
    pub(crate) fn take(&mut self, path: &'static str, day: u64, limit: u64) -> bool {
        if self.day != day {
            self.day = day;
            self.calls.clear();
        }
        let n = self.calls.entry(path).or_default();
        *n = n.saturating_add(1);
        *n <= limit
    }

    /// `cgi-bin/clear_quota`: every API of the account starts from zero again.
    pub(crate) fn clear(&mut self) {
        self.calls.clear();
    }
}
