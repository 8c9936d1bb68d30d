//! Stores of the store mini-program: add, update, read, list, delete, and their cards.

use super::{BASE, Endpoint, NONEMPTY, Policy, STR, Ty, Unwrap, opt, req};

const ADD_ERRORS: &[i64] = &[-1, 85038, 85039, 85040, 85041, 85042, 85053, 85054, 85055, 85056];

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        module: "store",
        name: "add",
        policy: Policy::Create { verify: "store::all()" },
        path: "wxa/add_store",
        fields: &[
            req("map_poi_id", Ty::IdStr, "map POI id: sosomap_poi_uid from map::search_poi"),
            req("pic_list", Ty::PicList, "store pictures: array of URLs (media::upload_image)"),
            req("contract_phone", NONEMPTY, "contact phone"),
            req("hour", Ty::Hour, "opening hours, e.g. 10:00-21:00"),
            req("credential", NONEMPTY, "business credential number"),
            opt("company_name", STR, "legal entity name when it is not the official account's"),
            opt(
                "qualification_list",
                Ty::MediaIds { max: 5 },
                "media ids of supporting documents (other legal entity only)",
            ),
            opt("card_id", STR, "card id to attach (member card, pay-by-code)"),
            opt("poi_id", Ty::IdStr, "legacy store poi_id when migrating (poi::list)"),
        ],
        unwrap: Unwrap::Data,
        doc: "Adds a store (or migrates a legacy one with `poi_id`). The store is audited; the result, with the store's `poiid`, arrives as the add_store_audit_info event, and store::all() lists the store meanwhile.",
        returns: "#{audit_id}",
        errors: ADD_ERRORS,
        example: "let poi = map::search_poi(#{districtid: 440105, keyword: \"便利店\"})[0];\nlet r = store::add(#{\n    map_poi_id: poi.sosomap_poi_uid,\n    pic_list: [\"http://mmbiz.qpic.cn/sandbox/shop.jpg\"],\n    contract_phone: \"020-12345678\", hour: \"08:00-22:00\", credential: \"91440101MA59TEST01\"\n});\nprint(`audit ${r.audit_id}`);",
        sample: r#"{"errcode":0,"errmsg":"ok","data":{"audit_id":0}}"#,
        ..BASE
    },
    Endpoint {
        module: "store",
        name: "update",
        policy: Policy::Write,
        path: "wxa/update_store",
        fields: &[
            req("poi_id", Ty::IdStr, "store id"),
            req("hour", Ty::Hour, "opening hours, e.g. 10:00-21:00"),
            req("contract_phone", NONEMPTY, "contact phone"),
            req("pic_list", Ty::PicList, "store pictures; a changed list is audited again"),
            opt("card_id", STR, "card id; \"\" or absent keeps it"),
            opt("map_poi_id", Ty::IdStr, "map POI id"),
        ],
        unwrap: Unwrap::Data,
        doc: "Updates a store's hours, phone and pictures. New pictures go through audit (`has_audit_id` 1, result in the modify_store_audit_info event); pictures already approved do not.",
        returns: "#{has_audit_id, audit_id}",
        errors: &[-1, 40097, 65115, 65118, 85053],
        example: "let s = store::all()[0];\nlet r = store::update(#{\n    poi_id: s.poi_id, hour: \"09:00-21:00\", contract_phone: s.telephone,\n    pic_list: s.photo_list.map(|p| p.photo_url)\n});\nprint(`needs audit: ${r.has_audit_id}`);",
        sample: r#"{"errcode":0,"errmsg":"ok","data":{"has_audit_id":0,"audit_id":0}}"#,
        ..BASE
    },
    Endpoint {
        module: "store",
        name: "get",
        path: "wxa/get_store_info",
        params: &["poi_id"],
        fields: &[req("poi_id", Ty::IdStr, "store id")],
        unwrap: Unwrap::BaseInfo,
        doc: "One store. `status`: 1 approved, 2 in audit, 3 failed.",
        returns: "#{business_name, address, telephone, city, province, district, longitude, latitude, photo_list, open_time, poi_id, status, qualification_num, qualification_name}",
        errors: &[-1, 40097, 65115],
        example: "let s = store::get(store::all()[0].poi_id);\nprint(`${s.business_name}: ${s.open_time}`);",
        ..BASE
    },
    Endpoint {
        module: "store",
        name: "list",
        path: "wxa/get_store_list",
        params: &["offset", "limit"],
        fields: &[
            req("offset", super::Ty::Int { min: 0, max: i64::MAX }, "index of the first store, from 0"),
            req("limit", super::Ty::Int { min: 0, max: 50 }, "stores per page; 0 means 20"),
        ],
        unwrap: Unwrap::BusinessList,
        doc: "One page of stores. store::all() pages through every store.",
        returns: "#{total_count, business_list} (each element the store's base_info)",
        errors: &[-1, 40097],
        example: "let page = store::list(0, 10);\nprint(`${page.business_list.len()} of ${page.total_count}`);",
        ..BASE
    },
    Endpoint {
        module: "store",
        name: "delete",
        policy: Policy::Write,
        path: "wxa/del_store",
        params: &["poi_id"],
        fields: &[req("poi_id", Ty::IdStr, "store id")],
        doc: "Deletes a store.",
        errors: &[-1, 85053],
        own_codes: &[(
            -1,
            "删除失败 / delete failed: no store with this poi_id, or it cannot be deleted now (store::all() lists the stores)",
        )],
        example: "let s = store::all();\nif s.len() > 0 { store::delete(s[s.len() - 1].poi_id); }",
        ..BASE
    },
    Endpoint {
        module: "store",
        name: "get_card",
        path: "card/storewxa/get",
        params: &["poi_id"],
        fields: &[req("poi_id", Ty::IdInt, "store id")],
        unwrap: Unwrap::Top("card_id"),
        doc: "The card configured for a store, or () when none is set.",
        returns: "card_id string or ()",
        example: "let card = store::get_card(store::all()[0].poi_id);\nprint(if card == () { \"no card\" } else { card });",
        ..BASE
    },
    Endpoint {
        module: "store",
        name: "set_card",
        policy: Policy::Write,
        path: "card/storewxa/set",
        params: &["poi_id", "card_id"],
        fields: &[req("poi_id", Ty::IdInt, "store id"), req("card_id", NONEMPTY, "card id (not custom-code)")],
        doc: "Sets the card shown in a store's mini-program.",
        example: "store::set_card(store::all()[0].poi_id, \"pabcedfg1234567hijklmn\");",
        ..BASE
    },
];
