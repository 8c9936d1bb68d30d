//! The census of documented error codes: every code of the documents' error tables (seed 002's
//! six tables and the codes `script-api.md` names) and every code an endpoint declares is either
//! provoked under its documented condition by a named test, answered only by fault injection,
//! or listed with the reason no rehearsal can produce it. A code declared without a census
//! entry fails this test, and so does an entry whose test no longer exists or no longer
//! mentions its code, so the census stays true as endpoints are added.

use std::collections::{BTreeMap, BTreeSet};

/// The documents' error tables, as written there: where, and the codes it lists.
const DOCUMENTED: &[(&str, &[i64])] = &[
    (
        "seed 002, apply_merchant (modify_merchant reuses it)",
        &[
            85024, 85025, 85026, 85027, 85028, 85029, 85030, 85031, 85032, 85033, 85034, 85035, 85036, 85049, 43104,
            85050, 85053, 85056,
        ],
    ),
    ("seed 002, add_store", &[-1, 85038, 85039, 85040, 85041, 85042, 85054, 85055, 85056]),
    ("seed 002, update_store", &[-1, 40097, 65115, 65118, 85053]),
    ("seed 002, get_store_info", &[-1, 40097, 65115]),
    ("seed 002, get_store_list", &[-1, 40097]),
    ("seed 002, del_store", &[-1, 85053]),
    ("script-api.md, tokens, retries and auth", &[40001, 40014, 42001, -1, 45009, 40013, 40125, 40164]),
];

/// How a code comes about on the simulator.
enum How {
    /// Provoked by the test `file::function` (in `tests/`) with this call.
    Produced { test: &'static str, call: &'static str },
    /// Answered only when fault injection asks for it (`--fail-code`, `sandbox::set_fault`),
    /// which that test does.
    Injected { test: &'static str, why: &'static str },
    /// Decided by people or systems outside the account: nothing a rehearsal does produces it.
    Unreachable(&'static str),
}

use How::{Injected, Produced, Unreachable};

const PEOPLE: &str =
    "depends on the administrator's identity, phone or WeChat account, which the simulator does not model";

const CENSUS: &[(i64, How)] = &[
    // Platform-wide codes.
    (
        -1,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "store::delete of an unknown poi_id (del_store's own \"delete failed\"); as \"system busy\" see fail_rate_injection",
        },
    ),
    (40001, Produced { test: "sandbox_http::token_errors", call: "any call with a token the simulator never issued" }),
    (40013, Produced { test: "sandbox_http::token_issue_and_refusals", call: "cgi-bin/token with another appid" }),
    (
        40014,
        Produced { test: "sandbox_http::token_errors", call: "any call with access_token=%21%21 (not a token at all)" },
    ),
    (
        40097,
        Produced {
            test: "store_api::store_codes_under_their_conditions",
            call: "wx::request POST wxa/update_store with hour \"9-21\" (the client refuses it first)",
        },
    ),
    (40125, Produced { test: "sandbox_http::token_issue_and_refusals", call: "cgi-bin/token with a wrong secret" }),
    (
        40164,
        Unreachable(
            "the caller's IP against the account's whitelist: the simulator has no whitelist, and serves loopback only",
        ),
    ),
    (
        42001,
        Produced {
            test: "sandbox_http::the_clock_moves_tokens_audits_and_timestamps",
            call: "a call with a token after the clock is advanced past its lifetime",
        },
    ),
    (
        43104,
        Unreachable(
            "the account's permission set is granted by WeChat (or a third party's authorisation), not by anything a script does",
        ),
    ),
    (
        45009,
        Injected {
            test: "sandbox_http::fail_rate_injection",
            why: "the frequency limit is WeChat's load, which a rehearsal asks for with fail_code 45009",
        },
    ),
    // The third-party platform's component calls.
    (
        61003,
        Produced {
            test: "platform_sim::ticket_to_authorizer_calls_each_on_its_own_state",
            call: "api_get_authorizer_info of an account that has not authorised the platform",
        },
    ),
    (61004, Unreachable("the caller's IP against the platform's whitelist: the simulator serves loopback only")),
    (
        61005,
        Produced {
            test: "platform_sim::tickets_are_checked_and_renewed_on_the_interval",
            call: "api_component_token with a ticket more than 12 hours old",
        },
    ),
    (
        61006,
        Produced {
            test: "platform_sim::tickets_are_checked_and_renewed_on_the_interval",
            call: "api_component_token with a ticket never pushed",
        },
    ),
    (
        61009,
        Produced {
            test: "platform_sim::ticket_to_authorizer_calls_each_on_its_own_state",
            call: "api_query_auth with a code already exchanged",
        },
    ),
    (
        61010,
        Produced {
            test: "platform_sim::tickets_are_checked_and_renewed_on_the_interval",
            call: "api_query_auth with a code more than an hour old",
        },
    ),
    (
        61023,
        Produced {
            test: "platform_sim::refresh_tokens_rotate_and_revocation_answers_61023",
            call: "api_authorizer_token with a used refresh token, and after /_sandbox/unauthorize",
        },
    ),
    // Media.
    (40004, Produced { test: "sandbox_http::media_errors", call: "cgi-bin/media/upload with type sticker" }),
    (40005, Produced { test: "sandbox_http::media_errors", call: "cgi-bin/media/upload of text as an image" }),
    (40006, Produced { test: "sandbox_http::media_errors", call: "cgi-bin/media/upload of a thumb over 64 KB" }),
    (
        40009,
        Produced {
            test: "sandbox_http::raw_upload_and_shake_refusals",
            call: "cgi-bin/media/uploadimg of 1 MB and more (the client refuses it first)",
        },
    ),
    (41005, Produced { test: "sandbox_http::media_errors", call: "cgi-bin/media/upload without the media part" }),
    // Merchant.
    (
        85024,
        Produced {
            test: "store_api::rehearsal_words_monthly_limit_and_media_expiry",
            call: "merchant::apply with DOCS in the nickname, without org_code and other_files",
        },
    ),
    (85025, Unreachable(PEOPLE)),
    (85026, Unreachable(PEOPLE)),
    (85027, Unreachable(PEOPLE)),
    (85028, Unreachable("how many times the legal entity registered elsewhere is WeChat's record, not the account's")),
    (
        85029,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "merchant::apply with a name another merchant holds (星巴克)",
        },
    ),
    (
        85030,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "merchant::apply with a nickname of special characters",
        },
    ),
    (
        85031,
        Produced {
            test: "store_api::rehearsal_words_monthly_limit_and_media_expiry",
            call: "merchant::apply with BANNED in the nickname",
        },
    ),
    (85032, Unreachable("an infringement complaint is filed by a third party against a name")),
    (
        85033,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "merchant::apply with 微信 in the nickname",
        },
    ),
    (85034, Unreachable("a name's 15-day protection follows another merchant's rename")),
    (85035, Unreachable("the legal entity behind the official account is fixed at its registration with WeChat")),
    (
        85036,
        Produced {
            test: "store_api::rehearsal_words_monthly_limit_and_media_expiry",
            call: "merchant::apply and merchant::modify with FAKE in the intro",
        },
    ),
    (
        85049,
        Produced {
            test: "store_api::rehearsal_words_monthly_limit_and_media_expiry",
            call: "the sixth merchant::modify in a calendar month",
        },
    ),
    (
        85050,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "merchant::apply while an application is in review",
        },
    ),
    (
        85053,
        Produced {
            test: "store_api::rehearsal_words_monthly_limit_and_media_expiry",
            call: "store::update before the merchant is approved (add, modify, delete: documented_error_codes_are_catchable)",
        },
    ),
    (
        85056,
        Produced {
            test: "store_api::rehearsal_words_monthly_limit_and_media_expiry",
            call: "merchant::modify with a media id three days old",
        },
    ),
    // Stores.
    (
        65115,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "store::get and store::update of an unknown poi_id",
        },
    ),
    (
        65118,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "store::update of a store still in audit",
        },
    ),
    (
        85038,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "store::add at a map POI that has a store",
        },
    ),
    (
        85039,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "store::add migrating a legacy store whose upgrade_status is 4",
        },
    ),
    (
        85040,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "store::add migrating a legacy store already migrated",
        },
    ),
    (
        85041,
        Produced {
            test: "store_api::store_codes_under_their_conditions",
            call: "store::add with a credential another store holds",
        },
    ),
    (
        85042,
        Produced {
            test: "store_api::the_five_thousand_and_first_store_is_refused",
            call: "store::add of the 5,001st store",
        },
    ),
    (
        85054,
        Produced {
            test: "store_api::store_codes_under_their_conditions",
            call: "store::add without poi_id at a waiting legacy store's place (its map POI, or one drawn again at its address)",
        },
    ),
    (
        85055,
        Produced {
            test: "store_api::documented_error_codes_are_catchable",
            call: "store::add with a map_poi_id the map does not know",
        },
    ),
    // Shake-around.
    (
        9001001,
        Produced {
            test: "shake::simulator_checks_raw_requests",
            call: "raw shakearound calls with fields of the wrong type variant",
        },
    ),
    (
        9001003,
        Produced {
            test: "shake::tickets_statistics_and_lotteries_follow_the_clock",
            call: "shake::shake_info with a ticket older than 30 minutes",
        },
    ),
    (
        9001004,
        Unreachable(
            "reading the shaking user's information is WeChat's own service failing; the simulator's shakes always know their user",
        ),
    ),
    (9001006, Unreachable("reading the user's openid is WeChat's own service failing")),
    (
        9001007,
        Produced {
            test: "sandbox_http::raw_upload_and_shake_refusals",
            call: "shakearound/material/add without the media part",
        },
    ),
    (
        9001008,
        Produced {
            test: "sandbox_http::raw_upload_and_shake_refusals",
            call: "shakearound/material/add of text (the client refuses it first)",
        },
    ),
    (
        9001009,
        Produced {
            test: "shake::simulator_checks_raw_requests",
            call: "shakearound/material/add of a non-square icon",
        },
    ),
    (
        9001010,
        Unreachable(
            "an upload failing inside WeChat; rehearse it with sandbox::set_fault(#{fail_rate: 1.0, fail_code: 9001010})",
        ),
    ),
    (
        9001020,
        Produced {
            test: "shake::account_review_device_review_and_gating",
            call: "shake::apply_ids before the account is approved",
        },
    ),
    (
        9001021,
        Produced {
            test: "shake::low_activation_stops_new_device_ids",
            call: "shake::apply_ids holding 100 ids, fewer than half ever shaken near",
        },
    ),
    (
        9001022,
        Produced {
            test: "shake::limits_with_their_own_codes_reach_the_simulator",
            call: "raw device/applyid with quantity 0",
        },
    ),
    (
        9001024,
        Produced {
            test: "shake::limits_with_their_own_codes_reach_the_simulator",
            call: "raw device/search type 1 with 51 identifiers",
        },
    ),
    (9001025, Produced { test: "shake::simulator_refusals", call: "a device call naming no device" }),
    (9001026, Produced { test: "shake::simulator_refusals", call: "a page call naming no page" }),
    (
        9001027,
        Produced {
            test: "shake::simulator_refusals",
            call: "shake::add_page with an icon_url not uploaded as an icon",
        },
    ),
    (9001029, Produced { test: "shake::simulator_refusals", call: "shake::delete_page of a page bound to a device" }),
    (
        9001030,
        Produced {
            test: "shake::limits_with_their_own_codes_reach_the_simulator",
            call: "raw page/search type 1 with 51 page ids",
        },
    ),
    (9001031, Produced { test: "shake::simulator_refusals", call: "shake::device_stats_list for a day 100 days ago" }),
    (
        9001032,
        Produced {
            test: "shake::limits_with_their_own_codes_reach_the_simulator",
            call: "raw device/bindpage with 31 pages",
        },
    ),
    (9001033, Produced { test: "shake::simulator_refusals", call: "shake::bind_location with an unknown poi_id" }),
    (
        9001034,
        Produced {
            test: "shake::simulator_checks_raw_requests",
            call: "raw device/update with a comment over 30 Latin characters",
        },
    ),
    (9001035, Produced { test: "shake::simulator_refusals", call: "shake::apply_status of an unknown apply_id" }),
    (9001036, Produced { test: "shake::simulator_refusals", call: "shake::search_pages with begin past the end" }),
    (
        9001040,
        Produced {
            test: "sandbox_http::raw_upload_and_shake_refusals",
            call: "shake::register while an application is in review",
        },
    ),
    (9001041, Produced { test: "sandbox_http::raw_upload_and_shake_refusals", call: "shake::register once approved" }),
    (9001042, Produced { test: "shake::quota_of_ten_thousand_ids", call: "shake::apply_ids beyond 10,000 ids" }),
    (9001043, Produced { test: "shake::simulator_refusals", call: "shake::group_detail of an unknown group" }),
    (9001044, Produced { test: "shake::simulator_refusals", call: "shake::delete_group of a group holding devices" }),
    (
        9001045,
        Produced { test: "sandbox_http::raw_upload_and_shake_refusals", call: "device/group/add of the 1,001st group" },
    ),
    (9001046, Produced { test: "shake::simulator_refusals", call: "shake::query_lottery of an unknown lottery" }),
    (
        9001047,
        Produced {
            test: "shake::lottery_logo_only_with_the_template",
            call: "add_lottery with use_template 1 and no logo, sent raw",
        },
    ),
];

/// The body of `fn name` in `tests/file.rs`, up to the first line that closes it.
fn test_body(file: &str, name: &str) -> Option<String> {
    let path = format!("{}/tests/{file}.rs", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(path).ok()?;
    let start = src.find(&format!("fn {name}("))?;
    let end = src[start..].find("\n}\n").map_or(src.len(), |e| start + e);
    Some(src[start..end].to_string())
}

/// Whether `code` appears in `text` as a number of its own (not inside a longer one).
fn mentions(text: &str, code: i64) -> bool {
    let needle = code.to_string();
    text.match_indices(&needle).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn every_documented_code_is_produced_or_explained() {
    let mut wanted: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (table, codes) in DOCUMENTED {
        for c in *codes {
            wanted.entry(*c).or_default().push((*table).to_string());
        }
    }
    for ep in wxscript::api::all_declared() {
        for c in ep.errors {
            wanted.entry(*c).or_default().push(format!("declared on {}", ep.qualified()));
        }
    }
    let listed: BTreeSet<i64> = CENSUS.iter().map(|(c, _)| *c).collect();
    assert_eq!(listed.len(), CENSUS.len(), "a code is listed twice");

    let mut problems = Vec::new();
    for (code, from) in &wanted {
        if !listed.contains(code) {
            problems.push(format!("{code} ({}) is neither produced by a test nor explained", from.join("; ")));
        }
    }
    for (code, how) in CENSUS {
        if !wanted.contains_key(code) {
            problems.push(format!("{code} is in the census but no document or declaration lists it"));
        }
        let (test, what) = match how {
            Produced { test, call } => (test, call),
            Injected { test, why } => (test, why),
            Unreachable(reason) => {
                if reason.is_empty() {
                    problems.push(format!("{code} is unreachable without a reason"));
                }
                continue;
            }
        };
        if what.is_empty() {
            problems.push(format!("{code}: say how {test} provokes it"));
        }
        let Some((file, name)) = test.split_once("::") else {
            problems.push(format!("{code}: {test} is not file::function"));
            continue;
        };
        match test_body(file, name) {
            None => problems.push(format!("{code}: no test {name} in tests/{file}.rs")),
            Some(body) if !mentions(&body, *code) => {
                problems.push(format!("{code}: {test} does not assert it ({what})"))
            }
            Some(_) => {}
        }
    }
    assert!(problems.is_empty(), "the census of error codes is out of date:\n{}", problems.join("\n"));
}

#[test]
fn the_documents_hold_36_codes_of_which_9_no_rehearsal_reaches() {
    let distinct: BTreeSet<i64> = DOCUMENTED.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    assert_eq!(distinct.len(), 36);
    let unreachable: Vec<i64> =
        CENSUS.iter().filter(|(c, h)| distinct.contains(c) && matches!(h, Unreachable(_))).map(|(c, _)| *c).collect();
    assert_eq!(unreachable, [40164, 43104, 85025, 85026, 85027, 85028, 85032, 85034, 85035]);
}
