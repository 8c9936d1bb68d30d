//! `account::`: which account a script's calls are made as. `list` and `current` describe the
//! accounts (never a token or secret), `use` switches the script thread's account, `with` runs
//! a function as another account and switches back however it ends. The account in force is
//! kept by the run's context per script thread (see `runtime::Ctx::with_account`), so `parallel`
//! workers never switch each other's. `wx::clear_quota` acts on the account in force too.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, Engine, FnPtr, FuncRegistration, Map, Module, NativeCallContext, Position};

use crate::api::check::{self, Payload};
use crate::api::{self, ErrorKind, WxError};
use crate::runtime::catalog::HelperDoc;
use crate::runtime::{Ctx, RhaiResult, convert, throw};
use crate::transport::{self, Account};

/// The declarations of `account::`.
pub const DOCS: &[HelperDoc] = &[
    HelperDoc {
        name: "account::list",
        signatures: &["account::list()"],
        doc: "Every account calls can be made as: `default` first, then the config file's [accounts.NAME] (with --sandbox, the simulator's other own accounts by appid). `kind` is \"own\" (its own appid and secret), \"authorizer\" (authorised to the config's [platform]; with --sandbox, the simulator's wxsandboxauth1..N), \"static\" (a fixed access token) or \"none\" (no credentials); `token` says where tokens come from (\"stable\", \"classic\", \"refresh_token\" or \"static\") and the seconds the current one has left (() when none is held yet). Never a token or secret.",
        returns: "array of #{name, appid, kind, qps, token: #{source, expires_in}}",
        example: "for a in account::list() { print(`${a.name}: ${a.appid} (${a.kind})`); }",
    },
    HelperDoc {
        name: "account::current",
        signatures: &["account::current()"],
        doc: "The account calls are made as now: --account, else WXSCRIPT_ACCOUNT, else `default`, until account::use or account::with changes it.",
        returns: "#{name, appid, kind}",
        example: "print(`calls go to ${account::current().name}`);",
    },
    HelperDoc {
        name: "account::use",
        signatures: &["account::use(name)"],
        doc: "From now on this script's calls are made as `name` (an account's name or appid). Inside `parallel` it switches only the item that calls it; inside account::with, only until that ends. An unknown name is an input error with the nearest one.",
        returns: "()",
        example: "account::use(\"default\");\nprint(account::current().name);",
    },
    HelperDoc {
        name: "account::with",
        signatures: &["account::with(name, fn)"],
        doc: "Calls `fn()` as the account `name` (a name or appid) and returns its value; the account in force before is back afterwards however `fn` ends, an error included. Nests; inside `parallel` each item keeps its own account.",
        returns: "what fn returns",
        example: "let n = account::with(\"default\", || store::list(0, 1).total_count);\nprint(n);",
    },
];

/// `#{name, appid, kind}` of an account.
fn describe(a: &Account) -> Map {
    let mut m = Map::new();
    m.insert("name".into(), a.name.clone().into());
    m.insert("appid".into(), a.appid().map_or(Dynamic::UNIT, |s| s.to_string().into()));
    m.insert("kind".into(), a.kind().into());
    m
}

/// An account's `token` entry: `#{source, expires_in}` (never the token), `()` when it has no
/// credentials.
pub(super) fn token_of(ctx: &Ctx, a: &transport::Account) -> Dynamic {
    if a.kind() == "none" {
        return Dynamic::UNIT;
    }
    let st = ctx.block(a.status());
    let mut t = Map::new();
    t.insert("source".into(), st.source.into());
    t.insert("expires_in".into(), st.expires_in.map_or(Dynamic::UNIT, Dynamic::from_int));
    t.into()
}

/// `account::list()`'s entries.
fn list(ctx: &Ctx) -> rhai::Array {
    ctx.client
        .accounts()
        .iter()
        .map(|a| {
            let mut m = describe(a);
            m.insert("qps".into(), a.qps().map_or(Dynamic::UNIT, Dynamic::from_float));
            m.insert("token".into(), token_of(ctx, a));
            m.into()
        })
        .collect()
}

/// The index of the account `name` names (a name or an appid), or an input error naming the
/// nearest.
fn find(ctx: &Ctx, api: &str, name: &str, pos: Position) -> Result<usize, Box<rhai::EvalAltResult>> {
    let names = ctx.client.account_names();
    transport::find_account(name, &names)
        .ok_or_else(|| throw(WxError::input(api, "name", transport::unknown_account(name, &names)), pos))
}

/// `wx::clear_quota()`: `cgi-bin/clear_quota {appid}` for the account in force. Its declaration
/// gives the path, policy, docs and answer; the call is made here because WeChat wants the
/// account's appid in the body, and because it spends an allowance of a few a month, which is
/// said on stderr.
fn clear_quota(ctx: &Ctx, pos: Position) -> RhaiResult {
    const NAME: &str = "wx::clear_quota";
    let ep = api::by_name(NAME)
        .ok_or_else(|| throw(WxError::new(ErrorKind::Input, NAME, format!("{NAME} is not declared")), pos))?;
    let account = ctx.current_account();
    let Some(appid) = account.appid() else {
        let msg = format!(
            "{NAME} clears an own account's quota and needs its appid: account {} has {}",
            account.label(),
            if account.kind() == "static" { "a fixed access token" } else { "no credentials" }
        );
        return Err(throw(WxError::new(ErrorKind::Auth, ep.path, msg), pos));
    };
    let mut req = check::prepare(ep, serde_json::Map::new(), &|| ctx.now()).map_err(|e| throw(e, pos))?;
    req.payload = Payload::Json(serde_json::json!({ "appid": appid }));
    if ctx.dry_run {
        crate::runtime::dry_run_print(&req);
        return Ok(Dynamic::UNIT);
    }
    eprintln!(
        "wxscript: clearing the API quota of account {} ({}): WeChat allows this only a few times a month",
        account.label(),
        ep.path
    );
    let answer = ctx.send(&req, pos)?;
    check::unwrap(ep, answer).map(|v| convert::to_dynamic(&v)).map_err(|e| throw(e, pos))
}

pub fn register(_: &mut Engine, modules: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
    let m = modules.entry("account").or_default();
    let c = ctx.clone();
    super::helper("account::list")
        .set_into_module(m, move |_: NativeCallContext| -> RhaiResult { Ok(Dynamic::from_array(list(&c))) });
    let c = ctx.clone();
    super::helper("account::current").set_into_module(m, move |_: NativeCallContext| -> RhaiResult {
        Ok(Dynamic::from_map(describe(&c.current_account())))
    });
    let c = ctx.clone();
    super::helper("account::use").set_into_module(m, move |nc: NativeCallContext, name: &str| -> RhaiResult {
        c.use_account(find(&c, "account::use", name, nc.call_position())?);
        Ok(Dynamic::UNIT)
    });
    let c = ctx.clone();
    super::helper("account::with").set_into_module(
        m,
        move |nc: NativeCallContext, name: &str, f: FnPtr| -> RhaiResult {
            let index = find(&c, "account::with", name, nc.call_position())?;
            c.with_account(index, || f.call_within_context::<Dynamic>(&nc, ()))
        },
    );
    // Replaces the function registered from the declaration (same name and arity).
    let c = ctx.clone();
    let doc = api::by_name("wx::clear_quota").map(|ep| vec![format!("/// {}", ep.doc)]).unwrap_or_default();
    FuncRegistration::new("clear_quota")
        .with_volatility(true)
        .with_comments(doc)
        .set_into_module(modules.entry("wx").or_default(), move |nc: NativeCallContext| -> RhaiResult {
            clear_quota(&c, nc.call_position())
        });
}
