//! Merchant account of the store mini-program: categories, application, audit, changes.

use super::{BASE, Endpoint, INT, Method, NONEMPTY, Policy, STR, Ty, Unwrap, opt, req};

const APPLY_ERRORS: &[i64] = &[
    85024, 85025, 85026, 85027, 85028, 85029, 85030, 85031, 85032, 85033, 85034, 85035, 85036, 85049, 43104, 85050,
    85053, 85056,
];

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        module: "merchant",
        name: "categories",
        method: Method::Get,
        path: "wxa/get_merchant_category",
        body: super::Body::None,
        unwrap: Unwrap::DataPath(&["all_category_info", "categories"]),
        doc: "The store mini-program category tree: a root (level 0), first-level and second-level categories. A second-level category with `sensitive_type` 1 needs `qualification_list` when applying.",
        returns: "array of #{id, name, level, father, children, qualify, scene, sensitive_type}",
        example: "let cats = merchant::categories();\nlet second = cats.filter(|c| c.level == 2 && c.sensitive_type == 0)[0];\nprint(`${second.name} (${second.id}) under ${second.father}`);",
        ..BASE
    },
    Endpoint {
        module: "merchant",
        name: "apply",
        policy: Policy::Create { verify: "merchant::audit_info()" },
        path: "wxa/apply_merchant",
        fields: &[
            req("first_catid", INT, "first-level category id (merchant::categories)"),
            req("second_catid", INT, "second-level category id"),
            opt(
                "qualification_list",
                Ty::MediaIds { max: 5 },
                "media ids of the category's certificates; required when the category's sensitive_type is 1",
            ),
            req("headimg_mediaid", NONEMPTY, "avatar: temporary media id from media::upload (jpg/png)"),
            req("nickname", Ty::Str { min: 4, max: 30, cjk2: true }, "name of the store mini-program").answers(85030),
            req("intro", NONEMPTY, "introduction"),
            opt("org_code", STR, "media id of the business licence; needed after errcode 85024"),
            opt("other_files", Ty::MediaIds { max: 5 }, "supplementary media ids; after errcode 85024"),
        ],
        doc: "Applies for the store mini-program. The account's administrator confirms, then WeChat audits it: follow it with merchant::audit_info() or the apply_merchant_audit_info event.",
        errors: APPLY_ERRORS,
        example: "let head = media::upload(sandbox::sample(\"logo.png\"), \"image\");\nlet cat = merchant::categories().filter(|c| c.level == 2 && c.sensitive_type == 0)[0];\nmerchant::apply(#{\n    first_catid: cat.father, second_catid: cat.id,\n    headimg_mediaid: head.media_id, nickname: \"示例便利店\", intro: \"社区便利店\"\n});",
        ..BASE
    },
    Endpoint {
        module: "merchant",
        name: "audit_info",
        method: Method::Get,
        path: "wxa/get_merchant_audit_info",
        body: super::Body::None,
        unwrap: Unwrap::Data,
        doc: "The audit of the merchant application. `status`: 0 not submitted, 1 approved, 2 in review, 3 failed, 4 refused by the administrator; `reason` explains 3 and 4.",
        returns: "#{audit_id, status, reason}",
        example: "let a = merchant::audit_info();\nprint(`audit ${a.audit_id}: status ${a.status}`);",
        ..BASE
    },
    Endpoint {
        module: "merchant",
        name: "modify",
        policy: Policy::Write,
        path: "wxa/modify_merchant",
        fields: &[
            req("headimg_mediaid", STR, "new avatar media id, or \"\" to keep it"),
            req("intro", STR, "new introduction, or \"\" to keep it"),
        ],
        doc: "Changes the avatar or the introduction of an approved store mini-program (a few times a month at most).",
        errors: APPLY_ERRORS,
        example: "try {\n    merchant::modify(#{headimg_mediaid: \"\", intro: \"新的介绍\"});\n} catch (e) {\n    print(`not changed: ${e.errcode} ${e.hint}`);\n}",
        ..BASE
    },
];
