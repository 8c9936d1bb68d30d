//! The simulated merchant account: the category tree, the application and its audit, and
//! later changes of avatar and introduction.
//!
//! The account starts with no application (audit status 0). An application goes into review
//! (status 2) and is decided after the audit delay: approved (1), unless the nickname or intro
//! asks for a failure with `REJECT` (status 3) or a refusal by the administrator with `REFUSE`
//! (status 4).
//!
//! The refusals that depend on WeChat's judgement of a name or an intro are asked for by words
//! too (`super::REHEARSAL_WORDS`): a nickname with `DOCS` needs supporting documents (85024) until the
//! same application carries `org_code` and `other_files`, a nickname with `BANNED` cannot be used
//! (85031), and an intro with `FAKE` is misleading (85036, on `modify` too).

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::routes::Handler;
use super::{AuditEvent, AuditKind, Reply, State, fail, invalid, media_ids, ok, ok_data, str_field};
use crate::message::events::APPLY_MERCHANT_AUDIT_INFO;

/// Avatar or intro changes allowed per calendar month (UTC+8).
const MAX_MODIFICATIONS: u32 = 5;

/// 85036 for an intro that asks for it with `FAKE`.
fn misleading(intro: &str) -> Option<Value> {
    intro.contains("FAKE").then(|| fail(85036, "sandbox: misleading intro on request"))
}

/// Names the sandbox treats as taken by other merchants.
const TAKEN_NAMES: &[&str] = &["星巴克", "麦当劳", "肯德基", "全家便利店", "7-Eleven"];

/// Reserved words no name may contain (compared case-insensitively).
const RESERVED_WORDS: &[&str] = &["微信", "腾讯", "weixin", "wechat"];

#[derive(Default)]
pub(crate) struct Merchant {
    /// 0 none, 1 approved, 2 in review, 3 failed, 4 refused by the administrator.
    pub status: i64,
    pub audit_id: u64,
    pub reason: String,
    pub nickname: String,
    intro: String,
    /// Changes of avatar or intro: the month (`YYYY-MM`, UTC+8) and how many in it.
    modifications: (String, u32),
}

impl Merchant {
    pub fn approved(&self) -> bool {
        self.status == 1
    }
}

/// A second-level category; `quals` non-empty makes it sensitive.
struct Sub {
    id: i64,
    name: &'static str,
    quals: &'static [&'static str],
}

struct Cat {
    id: i64,
    name: &'static str,
    children: &'static [Sub],
}

const FOOD_LICENCE: &[&str] = &["《食品经营许可证》或《餐饮服务许可证》"];
const FOOD_IF_ANY: &[&str] = &["若涉及食品,请提供《食品经营许可证》或《卫生许可证》"];
const MEDICAL: &[&str] = &["《医疗机构执业许可证》"];
const HOTEL: &[&str] = &["《特种行业许可证》", "《卫生许可证》"];

const fn sub(id: i64, name: &'static str, quals: &'static [&'static str]) -> Sub {
    Sub { id, name, quals }
}

/// The category tree: the seed's ids (269, 278/279/280, 476/477) plus a realistic rest.
const CATEGORIES: &[Cat] = &[
    Cat {
        id: 269,
        name: "生活服务",
        children: &[
            sub(270, "洗衣店", &[]),
            sub(271, "家政服务", &[]),
            sub(272, "快递物流", &["《快递业务经营许可证》"]),
            sub(273, "维修服务", &[]),
            sub(274, "摄影冲印", &[]),
            sub(275, "宠物服务", &["若涉及诊疗,请提供《动物诊疗许可证》"]),
        ],
    },
    Cat {
        id: 278,
        name: "购物",
        children: &[
            sub(279, "综合商场", &[]),
            sub(280, "便利店", FOOD_IF_ANY),
            sub(281, "超市", FOOD_IF_ANY),
            sub(282, "服装鞋帽", &[]),
            sub(283, "数码家电", &[]),
            sub(284, "书店", &["《出版物经营许可证》"]),
            sub(285, "花店", &[]),
            sub(286, "水果生鲜", FOOD_IF_ANY),
        ],
    },
    Cat {
        id: 300,
        name: "休闲娱乐",
        children: &[
            sub(301, "KTV", &["《娱乐经营许可证》"]),
            sub(302, "电影院", &["《电影放映经营许可证》"]),
            sub(303, "网吧", &["《网络文化经营许可证》"]),
            sub(304, "酒吧", FOOD_LICENCE),
            sub(305, "桌游", &[]),
            sub(306, "密室逃脱", &[]),
        ],
    },
    Cat {
        id: 310,
        name: "运动健身",
        children: &[
            sub(311, "健身中心", &[]),
            sub(312, "游泳馆", &["《高危险性体育项目经营许可证》"]),
            sub(313, "瑜伽", &[]),
            sub(314, "球馆", &[]),
            sub(315, "舞蹈", &[]),
        ],
    },
    Cat {
        id: 320,
        name: "酒店住宿",
        children: &[
            sub(321, "星级酒店", HOTEL),
            sub(322, "快捷酒店", HOTEL),
            sub(323, "民宿", HOTEL),
            sub(324, "青年旅社", HOTEL),
        ],
    },
    Cat {
        id: 330,
        name: "丽人",
        children: &[
            sub(331, "美发", &[]),
            sub(332, "美甲", &[]),
            sub(333, "美容SPA", &["《公共场所卫生许可证》"]),
            sub(334, "医疗美容", MEDICAL),
        ],
    },
    Cat {
        id: 340,
        name: "医疗健康",
        children: &[
            sub(341, "医院", MEDICAL),
            sub(342, "诊所", MEDICAL),
            sub(343, "药店", &["《药品经营许可证》"]),
            sub(344, "体检中心", MEDICAL),
            sub(345, "口腔", MEDICAL),
        ],
    },
    Cat {
        id: 350,
        name: "教育培训",
        children: &[
            sub(351, "语言培训", &[]),
            sub(352, "职业技能", &[]),
            sub(353, "驾校", &["《道路运输经营许可证》"]),
            sub(354, "幼儿园", &["《办学许可证》"]),
            sub(355, "艺术培训", &[]),
        ],
    },
    Cat {
        id: 360,
        name: "汽车服务",
        children: &[
            sub(361, "加油站", &["《成品油零售经营批准证书》"]),
            sub(362, "洗车", &[]),
            sub(363, "汽车维修", &["《机动车维修经营备案表》"]),
            sub(364, "停车场", &[]),
            sub(365, "汽车4S店", &[]),
        ],
    },
    Cat {
        id: 476,
        name: "美食",
        children: &[
            sub(477, "中餐厅", FOOD_LICENCE),
            sub(478, "西餐", FOOD_LICENCE),
            sub(479, "快餐小吃", FOOD_LICENCE),
            sub(480, "咖啡厅", FOOD_LICENCE),
            sub(481, "甜品饮品", FOOD_LICENCE),
            sub(482, "火锅", FOOD_LICENCE),
            sub(483, "面包烘焙", FOOD_LICENCE),
        ],
    },
];

static CATEGORY_ANSWER: LazyLock<String> = LazyLock::new(|| {
    let mut all = vec![json!({
        "id": 0, "name": "root", "level": 0,
        "children": CATEGORIES.iter().map(|c| c.id).collect::<Vec<_>>(),
    })];
    for c in CATEGORIES {
        all.push(json!({
            "id": c.id, "name": c.name, "level": 1, "father": 0,
            "children": c.children.iter().map(|s| s.id).collect::<Vec<_>>(),
        }));
        for s in c.children {
            let inner: Vec<Value> = s.quals.iter().map(|q| json!({ "name": q })).collect();
            let exter = if inner.is_empty() { json!([]) } else { json!([{ "inner_list": inner }]) };
            all.push(json!({
                "id": s.id, "name": s.name, "level": 2, "father": c.id, "children": [],
                "qualify": { "exter_list": exter },
                "scene": 3,
                "sensitive_type": i64::from(!s.quals.is_empty()),
            }));
        }
    }
    ok_data(json!({ "all_category_info": { "categories": all } })).to_string()
});

/// The second-level category `second` if it lies under `first`.
fn category(first: i64, second: i64) -> Option<&'static Sub> {
    CATEGORIES.iter().find(|c| c.id == first)?.children.iter().find(|s| s.id == second)
}

/// `merchant::categories`
pub(crate) fn categories() -> Reply {
    Reply::Raw(CATEGORY_ANSWER.as_str())
}

/// CJK ideographs (the characters counted 2 wide in names).
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

fn nickname_chars_ok(s: &str) -> bool {
    s.chars().all(|c| is_cjk(c) || c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '·'))
}

/// Unknown or expired media ids among the given ones (empty strings are "not given").
fn unknown_media<'a>(st: &State, ids: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    ids.into_iter().find(|id| !id.is_empty() && !st.media.known(id, st.now()))
}

/// The calendar month (UTC+8) of Unix seconds `now`, as `YYYY-MM`.
fn month(now: u64) -> String {
    let mut day = crate::api::check::date_utc8(i64::try_from(now).unwrap_or(i64::MAX));
    day.truncate(7);
    day
}

/// `merchant::apply`
pub(crate) fn apply(st: &mut State, b: &Map<String, Value>) -> Value {
    let first = b.get("first_catid").and_then(Value::as_i64).unwrap_or(-1);
    let second = b.get("second_catid").and_then(Value::as_i64).unwrap_or(-1);
    let Some(cat) = category(first, second) else {
        return invalid(format!("second_catid {second} is not a second-level category under first_catid {first}"));
    };
    let nickname = str_field(b, "nickname").trim();
    // The width is the declaration's and the wire check answers it (85030); the characters are
    // judged here.
    if !nickname_chars_ok(nickname) {
        return fail(85030, "");
    }
    let lower = nickname.to_lowercase();
    if RESERVED_WORDS.iter().any(|w| lower.contains(w)) {
        return fail(85033, "");
    }
    match st.merchant.status {
        2 => return fail(85050, ""),
        1 => return invalid("merchant already created"),
        _ => {}
    }
    if TAKEN_NAMES.iter().any(|t| t.eq_ignore_ascii_case(nickname)) {
        return fail(85029, "");
    }
    if nickname.contains("BANNED") {
        return fail(85031, "sandbox: name refused on request");
    }
    if let Some(e) = misleading(str_field(b, "intro")) {
        return e;
    }
    let quals = media_ids(b, "qualification_list");
    let (org_code, other_files) = (str_field(b, "org_code"), media_ids(b, "other_files"));
    let given = [str_field(b, "headimg_mediaid"), org_code]
        .into_iter()
        .chain(quals.iter().copied())
        .chain(other_files.iter().copied());
    if let Some(id) = unknown_media(st, given) {
        return fail(85056, format!("invalid media_id {id}"));
    }
    if nickname.contains("DOCS") && (org_code.is_empty() || other_files.is_empty()) {
        return fail(85024, "sandbox: this name needs org_code and other_files");
    }
    if !cat.quals.is_empty() && quals.is_empty() {
        return invalid(format!("qualification_list required for this category ({})", cat.quals.join("、")));
    }
    let audit_id = st.submit(AuditKind::Merchant);
    st.merchant = Merchant {
        status: 2,
        audit_id,
        reason: String::new(),
        nickname: nickname.to_string(),
        intro: str_field(b, "intro").to_string(),
        modifications: (String::new(), 0),
    };
    ok()
}

/// Decides the merchant application `audit_id`.
pub(crate) fn decide(st: &mut State, audit_id: u64) -> Option<AuditEvent> {
    let m = &mut st.merchant;
    if m.audit_id != audit_id || m.status != 2 {
        return None;
    }
    let asks = |word: &str| m.nickname.contains(word) || m.intro.contains(word);
    (m.status, m.reason) = if asks("REJECT") {
        (3, "sandbox: rejected on request".to_string())
    } else if asks("REFUSE") {
        (4, "sandbox: refused by the administrator on request".to_string())
    } else {
        (1, String::new())
    };
    Some(AuditEvent::new(&APPLY_MERCHANT_AUDIT_INFO, vec![json!(audit_id), json!(m.status), json!(m.reason)]))
}

/// `merchant::audit_info`
pub(crate) fn audit_info(st: &State) -> Value {
    let m = &st.merchant;
    ok_data(json!({ "audit_id": m.audit_id, "status": m.status, "reason": m.reason }))
}

/// `merchant::modify`
pub(crate) fn modify(st: &mut State, b: &Map<String, Value>) -> Value {
    if !st.merchant.approved() {
        return fail(85053, "");
    }
    let head = str_field(b, "headimg_mediaid");
    if let Some(id) = unknown_media(st, [head]) {
        return fail(85056, format!("invalid media_id {id}"));
    }
    let intro = str_field(b, "intro");
    if let Some(e) = misleading(intro) {
        return e;
    }
    let this_month = month(st.now());
    let m = &mut st.merchant;
    if m.modifications.0 != this_month {
        m.modifications = (this_month, 0);
    }
    if m.modifications.1 >= MAX_MODIFICATIONS {
        return fail(85049, format!("at most {MAX_MODIFICATIONS} changes in {}", m.modifications.0));
    }
    m.modifications.1 += 1;
    if !intro.is_empty() {
        m.intro = intro.to_string();
    }
    ok()
}

/// This family's behaviour, by endpoint (see `routes`).
pub(crate) fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("merchant::categories", Handler::Call(|_, _| categories())),
        ("merchant::apply", Handler::Call(|st, b| apply(st, b).into())),
        ("merchant::audit_info", Handler::Call(|st, _| audit_info(st).into())),
        ("merchant::modify", Handler::Call(|st, b| modify(st, b).into())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_is_consistent() {
        let v: Value = serde_json::from_str(&CATEGORY_ANSWER).expect("valid JSON");
        let cats = v["data"]["all_category_info"]["categories"].as_array().expect("array");
        assert_eq!(cats[0]["id"], 0);
        let firsts = cats.iter().filter(|c| c["level"] == 1).count();
        assert!(firsts >= 8);
        for c in cats.iter().filter(|c| c["level"] == 2) {
            let father = cats.iter().find(|f| f["id"] == c["father"]).expect("father exists");
            assert!(father["children"].as_array().expect("children").contains(&c["id"]));
        }
        assert_eq!(category(278, 280).map(|s| s.quals.is_empty()), Some(false));
        assert!(category(476, 477).is_some());
        assert!(category(278, 477).is_none());
    }

    #[test]
    fn nickname_characters() {
        assert!(nickname_chars_ok("示例便利店 7-Eleven_·"));
        assert!(!nickname_chars_ok("便利店!"));
    }
}
