//! Legacy stores (门店管理) awaiting migration to the store mini-program.

use super::{BASE, Endpoint, Policy, Ty, Unwrap, req};

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        module: "poi",
        name: "list",
        path: "cgi-bin/poi/getpoilist",
        params: &["begin", "limit"],
        fields: &[
            req("begin", Ty::Int { min: 0, max: i64::MAX }, "index of the first legacy store, from 0"),
            req("limit", Ty::Int { min: 1, max: 50 }, "stores per page"),
        ],
        unwrap: Unwrap::BusinessList,
        doc: "Legacy stores with their migration state. `upgrade_status`: 0 to migrate, 1 failed (see `upgrade_comment`), 2 migrating, 3 done, 4 not allowed (delete with poi::delete). Migrate 0 and 1 with store::add and `poi_id`, `map_poi_id` = `mapid`.",
        returns: "#{total_count, business_list} (each #{poi_id, business_name, address, upgrade_status, upgrade_comment, mapid, ...})",
        example: "for p in poi::list(0, 50).business_list {\n    print(`${p.poi_id} ${p.business_name}: upgrade_status ${p.upgrade_status}`);\n}",
        ..BASE
    },
    Endpoint {
        module: "poi",
        name: "delete",
        policy: Policy::Write,
        path: "cgi-bin/poi/delpoi",
        params: &["poi_id"],
        fields: &[req("poi_id", Ty::IdStr, "legacy store id")],
        doc: "Deletes a legacy store (the only way out for upgrade_status 4).",
        example: "for p in poi::list(0, 50).business_list {\n    if p.upgrade_status == 4 { poi::delete(p.poi_id); }\n}",
        ..BASE
    },
];
