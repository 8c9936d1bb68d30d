//! Calls about the account itself rather than one family's data: its API quotas.

use super::{BASE, Endpoint, Policy};

/// Where a spent daily quota is reset: the one call a spent quota never refuses.
pub const CLEAR_QUOTA_PATH: &str = "cgi-bin/clear_quota";

pub const ENDPOINTS: &[Endpoint] = &[Endpoint {
    module: "wx",
    name: "clear_quota",
    policy: Policy::Write,
    path: CLEAR_QUOTA_PATH,
    doc: "Resets the current account's API call counters, after a 45009 (daily quota reached). WeChat allows it only a few times a month: spend it when a day's work cannot wait for tomorrow's quota.",
    example: "wx::clear_quota();",
    ..BASE
}];
