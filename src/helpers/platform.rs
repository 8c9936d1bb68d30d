//! `platform::`: the third-party platform's side of authorisation, for agencies. A pre-auth
//! code and the admin's authorisation URL, the code exchange (the authorizer and its refresh
//! token go to the store), the authorizers the store knows, a sync from WeChat's list, and an
//! authorizer's details. The component calls behind them are declared in `api::platform`; the
//! client makes them with the component token.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, Engine, Map, Module, NativeCallContext, Position};

use crate::api::WxError;
use crate::runtime::catalog::HelperDoc;
use crate::runtime::{Ctx, RhaiResult, convert, throw};
use crate::transport::authorize_url;

/// The declarations of `platform::`.
pub const DOCS: &[HelperDoc] = &[
    HelperDoc {
        name: "platform::authorize_url",
        signatures: &["platform::authorize_url(#{redirect_uri, auth_type})"],
        doc: "A fresh pre-auth code (valid 1,800 s) and the page where a merchant account's admin authorises the platform. `redirect_uri` is where the admin's browser goes afterwards, with `auth_code` in its query (on a domain set in the open-platform console); `auth_type` is 1 (official accounts), 2 (mini programs) or 3 (both, the default). The authorised account is stored as soon as the listener gets the `authorized` push, or when the code is passed to platform::query_auth.",
        returns: "#{url, pre_auth_code, expires_in}",
        example: "let a = platform::authorize_url(#{redirect_uri: \"https://agency.example/authorized\"});\nprint(a.url);",
    },
    HelperDoc {
        name: "platform::query_auth",
        signatures: &["platform::query_auth(auth_code)"],
        doc: "Exchanges an authorization code (the `auth_code` of the redirect): the authorizer and its refresh token are stored, and it becomes an account of this run, named by its appid. A code works once and for an hour.",
        returns: "#{authorizer_appid, func_info: [permission set ids]}",
        example: "let page = platform::authorize_url(#{redirect_uri: \"https://agency.example/authorized\"});\nlet auth_code = sandbox::authorize(page.pre_auth_code, \"wxsandboxauth1\").auth_code;\nlet a = platform::query_auth(auth_code);\naccount::with(a.authorizer_appid, || print(store::list(0, 1).total_count));",
    },
    HelperDoc {
        name: "platform::authorizers",
        signatures: &["platform::authorizers()"],
        doc: "The accounts authorised to the platform that the store knows, by appid: the account name calls use (the config's name, else the appid), the permission sets granted, when it authorised (Unix seconds), whether it has revoked the authorisation, and its token's source and seconds left. Never a token.",
        returns: "array of #{appid, name, func_info, authorized_at, revoked, token: #{source, expires_in}}",
        example: "for a in platform::authorizers() { print(`${a.name}: sets ${a.func_info}`); }",
    },
    HelperDoc {
        name: "platform::sync_authorizers",
        signatures: &["platform::sync_authorizers()"],
        doc: "Reads WeChat's list of the accounts authorised to the platform (api_get_authorizer_list, page by page) and records each one, with its current refresh token, in the store: the way back after refresh tokens were lost. A dry run reads the list and records nothing.",
        returns: "the number of authorizers",
        example: "print(`${platform::sync_authorizers()} authorizers`);",
    },
    HelperDoc {
        name: "platform::authorizer_info",
        signatures: &["platform::authorizer_info(appid)"],
        doc: "An authorizer's account details and the permission sets it grants (api_get_authorizer_info).",
        returns: crate::api::platform::AUTHORIZER_INFO_RETURNS,
        example: "let info = platform::authorizer_info(\"wxsandboxauth1\");\nprint(info.authorizer_info.nick_name);",
    },
];

fn input(api: &str, field: &str, msg: impl Into<String>, pos: Position) -> Box<rhai::EvalAltResult> {
    throw(WxError::input(api, field, msg), pos)
}

/// `platform::authorize_url(#{redirect_uri, auth_type})`.
fn authorize(ctx: &Ctx, opts: &Map, pos: Position) -> RhaiResult {
    const API: &str = "platform::authorize_url";
    for k in opts.keys() {
        if !["redirect_uri", "auth_type"].contains(&k.as_str()) {
            return Err(input(API, k, format!("unknown option {k:?}: it takes redirect_uri and auth_type"), pos));
        }
    }
    let redirect = match opts.get("redirect_uri") {
        Some(v) if v.is_string() && !v.to_string().is_empty() => v.to_string(),
        Some(v) => {
            return Err(input(API, "redirect_uri", format!("expected a URL string, got {}", v.type_name()), pos));
        }
        None => return Err(input(API, "redirect_uri", "missing: where the admin's browser goes afterwards", pos)),
    };
    let auth_type = match opts.get("auth_type") {
        None => 3,
        Some(v) => match v.as_int() {
            Ok(n @ 1..=3) => n,
            _ => return Err(input(API, "auth_type", format!("expected 1, 2 or 3, got {v}"), pos)),
        },
    };
    let (code, expires_in) = ctx.block(ctx.client.preauth_code()).map_err(|e| throw(e, pos))?;
    let component = ctx.client.platform_appid().unwrap_or_default();
    let mut m = Map::new();
    m.insert("url".into(), authorize_url(component, &code, &redirect, auth_type).into());
    m.insert("pre_auth_code".into(), code.into());
    m.insert("expires_in".into(), expires_in.into());
    Ok(m.into())
}

fn ids(sets: &[i64]) -> Dynamic {
    Dynamic::from_array(sets.iter().map(|i| Dynamic::from_int(*i)).collect())
}

/// `platform::query_auth(code)`.
fn query_auth(ctx: &Ctx, code: &str, pos: Position) -> RhaiResult {
    const API: &str = "platform::query_auth";
    if code.trim().is_empty() {
        return Err(input(API, "auth_code", "empty: pass the auth_code of the redirect", pos));
    }
    if ctx.dry_run {
        eprintln!("dry run: {API} would exchange the code and store the authorizer");
        return Ok(Dynamic::UNIT);
    }
    let a = ctx.block(ctx.client.exchange_code(code)).map_err(|e| throw(e, pos))?;
    let mut m = Map::new();
    m.insert("authorizer_appid".into(), a.appid.into());
    m.insert("func_info".into(), ids(&a.func_info));
    Ok(m.into())
}

/// `platform::authorizers()`.
fn authorizers(ctx: &Ctx, pos: Position) -> RhaiResult {
    let stored = ctx.block(ctx.client.stored_authorizers()).map_err(|e| throw(e, pos))?;
    ctx.block(ctx.client.adopt_authorizers());
    let accounts = ctx.client.accounts();
    let list = stored
        .into_iter()
        .map(|a| {
            let account = accounts.iter().find(|acc| acc.appid() == Some(a.appid.as_str()));
            let mut m = Map::new();
            m.insert("appid".into(), a.appid.clone().into());
            m.insert("name".into(), account.map_or_else(|| a.appid.clone(), |acc| acc.name.clone()).into());
            m.insert("func_info".into(), ids(&a.func_info));
            m.insert("authorized_at".into(), (a.authorized_at as i64).into());
            m.insert("revoked".into(), (a.revoked_at != 0).into());
            m.insert("token".into(), account.map_or(Dynamic::UNIT, |acc| super::accounts::token_of(ctx, acc)));
            m.into()
        })
        .collect();
    Ok(Dynamic::from_array(list))
}

/// `platform::sync_authorizers()`.
fn sync(ctx: &Ctx, pos: Position) -> RhaiResult {
    if ctx.dry_run {
        let mut body = serde_json::Map::new();
        body.insert("offset".into(), 0.into());
        body.insert("count".into(), 1.into());
        let page = ctx.block(ctx.client.component_call("get_authorizer_list", body)).map_err(|e| throw(e, pos))?;
        let total = page.get("total_count").and_then(serde_json::Value::as_i64).unwrap_or(0);
        eprintln!("dry run: platform::sync_authorizers records nothing ({total} authorizers on WeChat's list)");
        return Ok(total.into());
    }
    let n = ctx.block(ctx.client.sync_authorizers()).map_err(|e| throw(e, pos))?;
    Ok((n as i64).into())
}

/// `platform::authorizer_info(appid)`.
fn info(ctx: &Ctx, appid: &str, pos: Position) -> RhaiResult {
    if appid.trim().is_empty() {
        return Err(input("platform::authorizer_info", "appid", "empty: pass an authorizer's appid", pos));
    }
    let mut body = serde_json::Map::new();
    body.insert("authorizer_appid".into(), appid.into());
    let answer = ctx.block(ctx.client.component_call("get_authorizer_info", body)).map_err(|e| throw(e, pos))?;
    Ok(convert::to_dynamic(&answer))
}

pub fn register(_: &mut Engine, modules: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
    let m = modules.entry("platform").or_default();
    let c = ctx.clone();
    super::helper("platform::authorize_url")
        .set_into_module(m, move |nc: NativeCallContext, opts: Map| authorize(&c, &opts, nc.call_position()));
    let c = ctx.clone();
    super::helper("platform::query_auth")
        .set_into_module(m, move |nc: NativeCallContext, code: &str| query_auth(&c, code, nc.call_position()));
    let c = ctx.clone();
    super::helper("platform::authorizers")
        .set_into_module(m, move |nc: NativeCallContext| authorizers(&c, nc.call_position()));
    let c = ctx.clone();
    super::helper("platform::sync_authorizers")
        .set_into_module(m, move |nc: NativeCallContext| sync(&c, nc.call_position()));
    let c = ctx.clone();
    super::helper("platform::authorizer_info")
        .set_into_module(m, move |nc: NativeCallContext, appid: &str| info(&c, appid, nc.call_position()));
}
