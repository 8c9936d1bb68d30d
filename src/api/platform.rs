//! The third-party platform's component calls (开放平台, an agency acting for the merchants that
//! authorised it): its own token from the pushed `component_verify_ticket`, pre-auth codes, the
//! code exchange, authorizer tokens from refresh tokens, and the authorizer list and info. They
//! carry `component_access_token` in the query (the component token call itself none), which
//! the declarations say with [`TokenKind`]. They are not script functions of their own (so
//! they have no examples): the `platform::` helpers of the accounts contract use them.

use super::{BASE, Endpoint, NONEMPTY, Policy, TokenKind, Ty, Unwrap, req};

/// Where the component token comes from.
pub const COMPONENT_TOKEN_PATH: &str = "cgi-bin/component/api_component_token";
/// Where an authorization code is exchanged for an authorizer and its refresh token.
pub const QUERY_AUTH_PATH: &str = "cgi-bin/component/api_query_auth";
/// Where an authorizer's tokens come from.
pub const AUTHORIZER_TOKEN_PATH: &str = "cgi-bin/component/api_authorizer_token";

/// What `api_get_authorizer_info` answers (and `platform::authorizer_info` returns).
pub const AUTHORIZER_INFO_RETURNS: &str =
    "#{authorizer_info: #{nick_name, user_name, ...}, authorization_info: #{authorizer_appid, func_info}}";

/// The most authorizers one `api_get_authorizer_list` page holds.
pub const LIST_PAGE: i64 = 500;

/// The component appid every call names, as its first field.
const COMPONENT_APPID: super::Field = req("component_appid", NONEMPTY, "the platform's appid");

const COMPONENT: Endpoint =
    Endpoint { module: "platform", token: TokenKind::Component, unwrap: Unwrap::Fields, ..BASE };

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: "component_token",
        path: COMPONENT_TOKEN_PATH,
        token: TokenKind::None,
        fields: &[
            COMPONENT_APPID,
            req("component_appsecret", NONEMPTY, "the platform's appsecret"),
            req(
                "component_verify_ticket",
                NONEMPTY,
                "the latest ticket WeChat pushed to the platform's URL (valid 12 h)",
            ),
        ],
        errors: &[40013, 40125, 61004, 61005, 61006],
        doc: "The platform's component_access_token, from the latest component_verify_ticket.",
        returns: "#{component_access_token, expires_in}",
        ..COMPONENT
    },
    Endpoint {
        name: "create_preauthcode",
        path: "cgi-bin/component/api_create_preauthcode",
        fields: &[COMPONENT_APPID],
        errors: &[61004],
        policy: Policy::Write,
        doc: "A pre-auth code for the admin's authorisation page (valid 1,800 s).",
        returns: "#{pre_auth_code, expires_in}",
        ..COMPONENT
    },
    Endpoint {
        name: "query_auth",
        path: QUERY_AUTH_PATH,
        fields: &[
            COMPONENT_APPID,
            req("authorization_code", NONEMPTY, "the auth_code of the redirect or the authorized push"),
        ],
        errors: &[61004, 61009, 61010],
        policy: Policy::Write,
        doc: "Exchanges an authorization code for the authorizer's first access token and its refresh token.",
        returns: "#{authorization_info: #{authorizer_appid, authorizer_access_token, expires_in, authorizer_refresh_token, func_info}}",
        ..COMPONENT
    },
    Endpoint {
        name: "authorizer_token",
        path: AUTHORIZER_TOKEN_PATH,
        fields: &[
            COMPONENT_APPID,
            req("authorizer_appid", NONEMPTY, "the merchant account's appid"),
            req(
                "authorizer_refresh_token",
                NONEMPTY,
                "its latest refresh token: each call hands out a new one and the old one stops working",
            ),
        ],
        errors: &[61003, 61004, 61023],
        policy: Policy::Write,
        doc: "A new access token of an authorizer, and its new refresh token (store it before using the token).",
        returns: "#{authorizer_access_token, expires_in, authorizer_refresh_token}",
        ..COMPONENT
    },
    Endpoint {
        name: "get_authorizer_list",
        path: "cgi-bin/component/api_get_authorizer_list",
        fields: &[
            COMPONENT_APPID,
            req("offset", Ty::Int { min: 0, max: i64::MAX }, "where the page starts"),
            req("count", Ty::Int { min: 1, max: LIST_PAGE }, "accounts in the page"),
        ],
        errors: &[61004],
        doc: "A page of the accounts that authorised the platform, each with its refresh token.",
        returns: "#{total_count, list: [#{authorizer_appid, refresh_token, auth_time}]}",
        ..COMPONENT
    },
    Endpoint {
        name: "get_authorizer_info",
        path: "cgi-bin/component/api_get_authorizer_info",
        fields: &[COMPONENT_APPID, req("authorizer_appid", NONEMPTY, "the merchant account's appid")],
        errors: &[61003, 61004],
        doc: "An authorizer's account details and the permission sets it granted.",
        returns: AUTHORIZER_INFO_RETURNS,
        ..COMPONENT
    },
];

/// Permission sets (`func_info` ids) the store family needs one of: 8 cards, 9 scan, 10 WiFi,
/// 13 stores, as the store mini-program's documents list them.
pub const STORE_SETS: &[i64] = &[8, 9, 10, 13];
/// Permission set the shake-around family needs: 12, 微信摇周边.
pub const SHAKE_SETS: &[i64] = &[12];

/// The permission sets an authorizer needs one of to call `ep` (empty: none needed).
pub fn needed_sets(ep: &Endpoint) -> &'static [i64] {
    match ep.module {
        "shake" => SHAKE_SETS,
        "store" | "merchant" | "map" | "poi" | "media" => STORE_SETS,
        _ => &[],
    }
}
