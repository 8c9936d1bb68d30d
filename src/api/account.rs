//! Calls about the account itself rather than one family's data: its API quotas.

use super::{BASE, Endpoint, Policy};

pub const ENDPOINTS: &[Endpoint] = &[Endpoint {
    module: "wx",
    name: "clear_quota",
    policy: Policy::Write,
    path: "cgi-bin/clear_quota",
    doc: "Resets the current account's API call counters, after a 45009 (daily quota reached). WeChat allows it only a few times a month: spend it when a day's work cannot wait for tomorrow's quota.",
    example: "wx::clear_quota();",
    ..BASE
}];
