//! The simulator's routing, derived from the declarations: each family registers its behaviour
//! against its endpoints by function name (`store::add`), and the path a request arrives on is
//! looked up in the declarations, never written here. A unit test holds that every declared
//! endpoint has exactly one handler.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::media::PartError;
use super::{Reply, Shared, State, map, media, merchant, platform, quota, shake, store};
use crate::api::{self, Endpoint};

/// An upload's file part: its bytes, or why there are none.
pub(crate) type FilePart = Result<Vec<u8>, PartError>;

/// An endpoint's behaviour, given its fields once the wire check has passed.
#[derive(Clone, Copy)]
pub(crate) enum Handler {
    /// JSON and GET calls: the body's fields with the query's declared fields merged in.
    Call(fn(&mut State, &Map<String, Value>) -> Reply),
    /// Multipart uploads: the query's declared fields and the file part (or why there is none).
    Upload(fn(&mut State, &Map<String, Value>, FilePart) -> Reply),
    /// The third-party platform's component calls, which act on the platform, not an account.
    Component(fn(&Shared, &Map<String, Value>) -> Reply),
}

/// Every family's handlers, by the function name of their endpoint.
fn handlers() -> Vec<(&'static str, Handler)> {
    let mut all = Vec::new();
    all.extend(merchant::handlers());
    all.extend(map::handlers());
    all.extend(store::handlers());
    all.extend(media::handlers());
    all.extend(shake::handlers());
    all.extend(quota::handlers());
    all.extend(platform::handlers());
    all
}

/// Path -> (declaration, handler).
static ROUTES: LazyLock<HashMap<&'static str, (&'static Endpoint, Handler)>> = LazyLock::new(|| {
    handlers().into_iter().filter_map(|(name, h)| api::declared(name).map(|ep| (ep.path, (ep, h)))).collect()
});

/// The declaration and handler of the endpoint at `path` (no leading slash).
pub(crate) fn find(path: &str) -> Option<(&'static Endpoint, Handler)> {
    ROUTES.get(path).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Body;

    #[test]
    fn every_declared_endpoint_has_exactly_one_handler_of_its_kind() {
        let all = handlers();
        for (name, _) in &all {
            assert!(api::declared(name).is_some(), "handler for undeclared {name}");
        }
        for ep in api::all_declared() {
            let q = ep.qualified();
            let mine: Vec<&Handler> = all.iter().filter(|(n, _)| *n == q).map(|(_, h)| h).collect();
            assert_eq!(mine.len(), 1, "{q} has {} handlers", mine.len());
            let upload = matches!(ep.body, Body::Multipart { .. });
            assert_eq!(matches!(mine[0], Handler::Upload(_)), upload, "{q}: handler kind follows the body");
            let component = ep.token != api::TokenKind::Access;
            assert_eq!(matches!(mine[0], Handler::Component(_)), component, "{q}: component calls act on the platform");
        }
    }
}
