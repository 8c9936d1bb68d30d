//! Tencent map: districts, POI search and POI creation.

use super::{BASE, Endpoint, Method, NONEMPTY, Policy, Ty, Unwrap, opt, req};

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        module: "map",
        name: "districts",
        method: Method::Get,
        path: "wxa/get_district",
        body: super::Body::None,
        unwrap: Unwrap::TencentResult,
        doc: "China's provinces, cities and districts from Tencent map, as three arrays; `cidx` of a province or city is the index range of its children in the next array.",
        returns: "[provinces, cities, districts], each element #{id, name, fullname, pinyin, location: #{lat, lng}, cidx}",
        example: "let d = map::districts();\nprint(`${d[0].len()} provinces, ${d[1].len()} cities, ${d[2].len()} districts`);",
        ..BASE
    },
    Endpoint {
        module: "map",
        name: "search_poi",
        path: "wxa/search_map_poi",
        fields: &[
            req("districtid", Ty::IdInt, "district id from map::districts"),
            req("keyword", NONEMPTY, "search keyword"),
        ],
        unwrap: Unwrap::DataPath(&["item"]),
        doc: "Searches Tencent map POIs of a district. Each item's `sosomap_poi_uid` is the `map_poi_id` that store::add takes.",
        returns: "array of #{branch_name, address, longitude, latitude, telephone, category, sosomap_poi_uid, data_supply, pic_urls, card_id_list}",
        example: "let items = map::search_poi(#{districtid: 440105, keyword: \"便利店\"});\nfor p in items { print(`${p.sosomap_poi_uid} ${p.branch_name} ${p.address}`); }",
        ..BASE
    },
    Endpoint {
        module: "map",
        name: "create_poi",
        policy: Policy::Create { verify: "map::search_poi() once the map audit is done" },
        path: "wxa/create_map_poi",
        fields: &[
            req("name", NONEMPTY, "name"),
            req("longitude", Ty::Decimal, "longitude"),
            req("latitude", Ty::Decimal, "latitude"),
            req("province", NONEMPTY, "province, e.g. 广东省"),
            req("city", NONEMPTY, "city, e.g. 广州市"),
            req("district", NONEMPTY, "district, e.g. 海珠区"),
            req("address", NONEMPTY, "street address"),
            req("category", NONEMPTY, "category as 类目1:类目2, e.g. 美食:中餐厅"),
            req("telephone", NONEMPTY, "phone numbers separated by ;"),
            req("photo", NONEMPTY, "picture URL (media::upload_image)"),
            req("license", NONEMPTY, "business licence picture URL"),
            req("introduct", NONEMPTY, "introduction"),
            req("districtid", Ty::IdStr, "district id from map::districts"),
            opt("poi_id", Ty::IdStr, "legacy poi_id when migrating a store"),
        ],
        unwrap: Unwrap::ErrorData,
        doc: "Creates a POI on Tencent map when map::search_poi finds none. The map audit takes up to 3 working days; its result (with the new `map_poi_id`) arrives as the create_map_poi_audit_info event, and the POI becomes searchable.",
        returns: "#{base_id, rich_id} (base_id is the audit id)",
        example: "let pic = media::upload_image(sandbox::sample(\"shop.jpg\"));\nlet r = map::create_poi(#{\n    name: \"示例便利店\", longitude: 113.323753357, latitude: 23.0974903107,\n    province: \"广东省\", city: \"广州市\", district: \"海珠区\", address: \"新港中路397号\",\n    category: \"购物:便利店\", telephone: \"020-12345678\", photo: pic, license: pic,\n    introduct: \"社区便利店\", districtid: \"440105\"\n});\nprint(`map audit ${r.base_id}`);",
        sample: r#"{"error":null,"data":{"base_id":0,"rich_id":0}}"#,
        ..BASE
    },
];
