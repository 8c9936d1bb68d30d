//! Tencent map as the sandbox sees it: the real district table (`data/districts.json`), a
//! deterministic set of POIs in every district, and POIs created through `create_map_poi`.
//!
//! Generated POIs are not stored: POI `i` of district `d` is computed from `(d, i)` with a
//! fixed hash, and its 19-digit `sosomap_poi_uid` encodes `d` and `i`, so any uid can be
//! checked by decoding it and generating the POI again. Created POIs become searchable (and
//! usable as `map_poi_id`) once their audit approves them.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::routes::Handler;
use super::{AuditEvent, AuditKind, Reply, State, invalid, ok_data, str_field, with_rid};
use crate::message::events::CREATE_MAP_POI_AUDIT_INFO;

/// POIs generated per district.
pub(crate) const POIS_PER_DISTRICT: u32 = 20;

/// A leaf area of the district table: a district, or a city or province without children.
pub(crate) struct Area {
    pub province: String,
    /// Empty for a province without children.
    pub city: String,
    /// Empty for a city or province without children.
    pub district: String,
    pub lat: f64,
    pub lng: f64,
}

impl Area {
    /// The area part of an address, without repeating a municipality's name or the
    /// `省直辖县级行政区划` placeholder.
    fn address_prefix(&self) -> String {
        let mut s = self.province.clone();
        if self.city != self.province && !self.city.contains("直辖") {
            s += &self.city;
        }
        s + self.district.as_str()
    }

    /// The most local name, for branch names.
    fn local_name(&self) -> &str {
        [&self.district, &self.city, &self.province].into_iter().find(|s| !s.is_empty()).map_or("", |s| s)
    }
}

struct Districts {
    /// The whole `get_district` answer, serialised once.
    answer: String,
    areas: HashMap<u32, Area>,
}

static DISTRICTS: LazyLock<Districts> = LazyLock::new(|| {
    let result: Value =
        serde_json::from_str(include_str!("../../data/districts.json")).expect("data/districts.json is valid JSON");
    let level = |i: usize| result[i].as_array().expect("districts.json has three arrays").as_slice();
    let (provinces, cities, districts) = (level(0), level(1), level(2));
    let name = |v: &Value| v["fullname"].as_str().unwrap_or_default().to_string();
    let id = |v: &Value| v["id"].as_str().and_then(|s| s.parse::<u32>().ok()).expect("district ids are numeric");
    let loc = |v: &Value| (v["location"]["lat"].as_f64().unwrap_or(0.0), v["location"]["lng"].as_f64().unwrap_or(0.0));
    let children = |v: &Value| -> Option<std::ops::RangeInclusive<usize>> {
        let c = v.get("cidx")?.as_array()?;
        Some(c.first()?.as_u64()? as usize..=c.get(1)?.as_u64()? as usize)
    };
    let mut areas = HashMap::new();
    let mut leaf = |v: &Value, province: String, city: String, district: String| {
        let (lat, lng) = loc(v);
        areas.insert(id(v), Area { province, city, district, lat, lng });
    };
    for p in provinces {
        let Some(pc) = children(p) else {
            leaf(p, name(p), String::new(), String::new());
            continue;
        };
        for c in &cities[pc] {
            match children(c) {
                None => leaf(c, name(p), name(c), String::new()),
                Some(dc) => {
                    for d in &districts[dc] {
                        leaf(d, name(p), name(c), name(d));
                    }
                }
            }
        }
    }
    let answer = json!({ "status": 0, "message": "query ok", "data_version": "20160101", "result": result });
    Districts { answer: answer.to_string(), areas }
});

/// The leaf area with this id.
pub(crate) fn area(id: u32) -> Option<&'static Area> {
    DISTRICTS.areas.get(&id)
}

/// `map::districts`
pub(crate) fn districts() -> Reply {
    Reply::Raw(DISTRICTS.answer.as_str())
}

/// A map POI, generated or created.
#[derive(Clone, Debug)]
pub(crate) struct Poi {
    pub uid: String,
    pub district_id: u32,
    /// Brand or shop name, e.g. `全家便利店`.
    pub brand: String,
    /// Branch, e.g. `海珠区江南西店` (empty for created POIs).
    pub branch: String,
    /// Street and number, e.g. `江南西路125号`.
    pub street: String,
    /// Full address with province, city and district.
    pub address: String,
    pub telephone: String,
    pub category: String,
    pub lng: f64,
    pub lat: f64,
    pub data_supply: i64,
}

impl Poi {
    pub fn branch_name(&self) -> String {
        if self.branch.is_empty() { self.brand.clone() } else { format!("{}({})", self.brand, self.branch) }
    }

    fn item(&self) -> Value {
        json!({
            "branch_name": self.branch_name(),
            "address": self.address,
            "longitude": self.lng,
            "latitude": self.lat,
            "telephone": self.telephone,
            "category": self.category,
            "sosomap_poi_uid": self.uid,
            "data_supply": self.data_supply,
            "pic_urls": [],
            "card_id_list": [],
        })
    }

    fn matches(&self, keyword: &str) -> bool {
        self.branch_name().contains(keyword) || self.address.contains(keyword) || self.category.contains(keyword)
    }
}

use crate::util::splitmix as mix;

/// 19 digits: lead (1-9), 8 hash digits, district (6), index (2), check (2).
fn encode_uid(district: u32, index: u32) -> String {
    let h = mix(u64::from(district) * 100 + u64::from(index));
    let lead = 1 + h % 9;
    let body = (h / 9) % 100_000_000;
    let check = mix(h) % 100;
    format!("{lead}{body:08}{district:06}{index:02}{check:02}")
}

/// The (district, index) of a generated uid, if it is one.
fn decode_uid(uid: &str) -> Option<(u32, u32)> {
    if uid.len() != 19 || !uid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let district: u32 = uid[9..15].parse().ok()?;
    let index: u32 = uid[15..17].parse().ok()?;
    (index < POIS_PER_DISTRICT && area(district).is_some() && encode_uid(district, index) == uid)
        .then_some((district, index))
}

/// Brands with their map category. The count is prime, so any stride visits distinct brands.
const BRANDS: &[(&str, &str)] = &[
    ("全家便利店", "购物:便利店"),
    ("罗森", "购物:便利店"),
    ("美宜佳便利店", "购物:便利店"),
    ("7-Eleven便利店", "购物:便利店"),
    ("华润万家", "购物:超市"),
    ("永辉超市", "购物:超市"),
    ("百果园", "购物:水果生鲜"),
    ("新华书店", "购物:书店"),
    ("瑞幸咖啡", "美食:咖啡厅"),
    ("星巴克", "美食:咖啡厅"),
    ("喜茶", "美食:甜品饮品"),
    ("真功夫", "美食:快餐小吃"),
    ("肯德基", "美食:快餐小吃"),
    ("麦当劳", "美食:快餐小吃"),
    ("海底捞火锅", "美食:火锅"),
    ("如家酒店", "酒店住宿:快捷酒店"),
    ("汉庭酒店", "酒店住宿:快捷酒店"),
    ("老百姓大药房", "医疗健康:药店"),
    ("中国石化加油站", "汽车服务:加油站"),
    ("超级猩猩健身", "运动健身:健身中心"),
    ("万达影城", "休闲娱乐:电影院"),
    ("顺丰速运", "生活服务:快递物流"),
    ("福奈特洗衣", "生活服务:洗衣店"),
];

const STREETS: &[&str] = &[
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "江南西路",
    "新港中路",
    "和平路",
    "文化路",
    "胜利路",
    "青年路",
    "朝阳路",
    "幸福路",
    "光明路",
    "东风路",
    "工业大道",
    "滨江路",
    "南京路",
    "北京路",
    "长江路",
    "黄河路",
    "振兴路",
    "育才路",
    "府前路",
    "环城路",
];

/// Area codes of the cities whose numbers look wrong as mobile numbers in examples.
const AREA_CODES: &[(u32, &str)] = &[
    (1100, "010"),
    (1200, "022"),
    (3100, "021"),
    (5000, "023"),
    (4401, "020"),
    (4403, "0755"),
    (3301, "0571"),
    (3201, "025"),
    (4201, "027"),
    (5101, "028"),
];

/// POI `index` of `district` (which must be a known area).
pub(crate) fn generated(district: u32, index: u32) -> Option<Poi> {
    let a = area(district)?;
    if index >= POIS_PER_DISTRICT {
        return None;
    }
    let n = BRANDS.len() as u64;
    let hd = mix(u64::from(district));
    let brand_idx = (hd % n + u64::from(index) * (1 + (hd / n) % (n - 1))) % n;
    let (brand, category) = BRANDS[brand_idx as usize];
    let h = mix(hd ^ u64::from(index + 1));
    let street = STREETS[(h % STREETS.len() as u64) as usize];
    let number = 1 + (h >> 8) % 399;
    let stem = street.trim_end_matches("大道").trim_end_matches('路');
    let branch = format!("{}{stem}店", a.local_name());
    // Within about 3 km of the district's centre, with the map's 7 decimals.
    let round7 = |x: f64| (x * 1e7).round() / 1e7;
    let offset = |bits: u64| ((bits % 600_001) as f64 - 300_000.0) / 1e7;
    let lat = round7(a.lat + offset(h >> 16));
    let lng = round7(a.lng + offset(mix(h) >> 24));
    // Landline numbers start with 2-8.
    let digits = 20_000_000 + mix(h ^ 0xA5) % 70_000_000;
    let telephone =
        match AREA_CODES.iter().find(|(prefix, _)| district / 100 == *prefix || district / 10_000 * 100 == *prefix) {
            Some((_, code)) => format!("{code}-{digits:08}"),
            None => format!("13{}{:08}", (h >> 40) % 10, digits),
        };
    let street_addr = format!("{street}{number}号");
    Some(Poi {
        uid: encode_uid(district, index),
        district_id: district,
        brand: brand.to_string(),
        branch,
        address: format!("{}{street_addr}", a.address_prefix()),
        street: street_addr,
        telephone,
        category: category.to_string(),
        lng,
        lat,
        data_supply: 1 + (h >> 48) as i64 % 2,
    })
}

/// Whether a POI created through `create_map_poi` is still in audit or was decided.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Created {
    Pending,
    Approved,
    Failed,
}

struct CreatedPoi {
    audit_id: u64,
    status: Created,
    name: String,
    poi: Poi,
}

/// POIs created through the API.
pub(crate) struct MapState {
    created: Vec<CreatedPoi>,
    next_rich_id: u64,
}

impl MapState {
    /// POIs created through the API.
    pub(crate) fn count(&self) -> usize {
        self.created.len()
    }
}

impl Default for MapState {
    fn default() -> Self {
        MapState { created: Vec::new(), next_rich_id: 42_010 }
    }
}

/// The POI a `map_poi_id` names: a generated one, or a created one that was approved.
pub(crate) fn lookup(st: &State, uid: &str) -> Option<Poi> {
    if let Some((d, i)) = decode_uid(uid) {
        return generated(d, i);
    }
    st.map.created.iter().find(|c| c.status == Created::Approved && c.poi.uid == uid).map(|c| c.poi.clone())
}

/// `map::search_poi`
pub(crate) fn search(st: &State, b: &Map<String, Value>) -> Value {
    let id = b.get("districtid").and_then(Value::as_u64).and_then(|d| u32::try_from(d).ok());
    let Some(district) = id.filter(|d| area(*d).is_some()) else {
        return invalid("districtid is not a district of map::districts()");
    };
    let keyword = str_field(b, "keyword");
    let created = st
        .map
        .created
        .iter()
        .filter(|c| c.status == Created::Approved && c.poi.district_id == district)
        .map(|c| &c.poi);
    let generated: Vec<Poi> = (0..POIS_PER_DISTRICT).filter_map(|i| generated(district, i)).collect();
    let item: Vec<Value> = generated.iter().chain(created).filter(|p| p.matches(keyword)).map(Poi::item).collect();
    ok_data(json!({ "item": item }))
}

/// This endpoint's own error shape: `{"errcode":N,"error":"msg","data":null}`.
fn poi_err(code: i64, detail: &str) -> Value {
    json!({ "errcode": code, "error": with_rid(&crate::api::errors::errmsg(code, detail)), "data": null })
}

/// `map::create_poi`
pub(crate) fn create(st: &mut State, b: &Map<String, Value>) -> Value {
    if !st.merchant.approved() {
        return poi_err(85053, "");
    }
    let district = str_field(b, "districtid").parse::<u32>().ok().filter(|d| area(*d).is_some());
    let Some(district) = district else {
        return poi_err(40097, "districtid is not a district of map::districts()");
    };
    let coord = |k: &str, limit: f64| {
        let v = match b.get(k) {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        v.filter(|f| f.is_finite() && f.abs() <= limit)
    };
    let (Some(lng), Some(lat)) = (coord("longitude", 180.0), coord("latitude", 90.0)) else {
        return poi_err(40097, "longitude must be in -180..180 and latitude in -90..90");
    };
    let field = |k: &str| str_field(b, k).to_string();
    let street = field("address");
    let name = field("name");
    let prefix = format!("{}{}{}", field("province"), field("city"), field("district"));
    let address = if street.starts_with(&prefix) { street.clone() } else { format!("{prefix}{street}") };
    let poi = Poi {
        uid: String::new(),
        district_id: district,
        brand: name.clone(),
        branch: String::new(),
        street,
        address,
        telephone: field("telephone"),
        category: field("category"),
        lng,
        lat,
        data_supply: 1,
    };
    let idx = st.map.created.len();
    let audit_id = st.submit(AuditKind::MapPoi(idx));
    let rich_id = st.map.next_rich_id;
    st.map.next_rich_id += 1;
    st.map.created.push(CreatedPoi { audit_id, status: Created::Pending, name, poi });
    json!({ "error": null, "data": { "base_id": audit_id, "rich_id": rich_id } })
}

/// Decides the map audit of created POI `idx`.
pub(crate) fn decide(st: &mut State, audit_id: u64, idx: usize) -> Option<AuditEvent> {
    let c = st.map.created.get_mut(idx).filter(|c| c.audit_id == audit_id && c.status == Created::Pending)?;
    let remark = if c.name.contains("REJECT") {
        c.status = Created::Failed;
        "sandbox: rejected on request"
    } else {
        c.status = Created::Approved;
        // Created uids start with 5 and never decode as generated ones (wrong check digits
        // are astronomically unlikely to line up, and decode_uid re-encodes to compare).
        c.poi.uid = format!("5{:018}", mix(audit_id ^ 0x5A5A) % 1_000_000_000_000_000_000);
        ""
    };
    Some(AuditEvent::new(
        &CREATE_MAP_POI_AUDIT_INFO,
        vec![
            json!(audit_id),
            json!(if c.status == Created::Approved { 0 } else { 1 }),
            json!(c.poi.uid),
            json!(c.name),
            json!(c.poi.address),
            json!(c.poi.lat.to_string()),
            json!(c.poi.lng.to_string()),
            json!(remark),
        ],
    ))
}

/// This family's behaviour, by endpoint (see `routes`).
pub(crate) fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("map::districts", Handler::Call(|_, _| districts())),
        ("map::search_poi", Handler::Call(|st, b| search(st, b).into())),
        ("map::create_poi", Handler::Call(|st, b| create(st, b).into())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn districts_parse() {
        let a = area(440105).expect("海珠区");
        assert_eq!((a.province.as_str(), a.city.as_str(), a.district.as_str()), ("广东省", "广州市", "海珠区"));
        assert!(area(441900).is_some(), "a city without districts is a leaf");
        assert!(area(440100).is_none(), "a city with districts is not");
        assert_eq!(area(110105).map(Area::address_prefix).as_deref(), Some("北京市朝阳区"));
    }

    #[test]
    fn uids_round_trip() {
        for i in 0..POIS_PER_DISTRICT {
            let p = generated(440105, i).expect("generated");
            assert_eq!(p.uid.len(), 19);
            assert_eq!(decode_uid(&p.uid), Some((440105, i)));
        }
        let mut forged = encode_uid(440105, 3).into_bytes();
        forged[18] = if forged[18] == b'0' { b'1' } else { b'0' };
        assert_eq!(decode_uid(&String::from_utf8(forged).expect("ascii")), None);
        assert!(generated(440105, POIS_PER_DISTRICT).is_none());
    }

    #[test]
    fn brands_distinct_per_district() {
        let names: std::collections::HashSet<String> =
            (0..POIS_PER_DISTRICT).filter_map(|i| generated(440106, i)).map(|p| p.brand).collect();
        assert_eq!(names.len(), POIS_PER_DISTRICT as usize);
    }
}
