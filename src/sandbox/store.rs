//! Stores of the store mini-program (add, update, read, list, delete and their audits), the
//! cards attached to them, and the legacy stores of 门店管理 that wait for migration.
//!
//! A store gets its `poi_id` as soon as it is added and is listed meanwhile with status 2; its
//! audit approves it (1) unless the credential asks for a failure with `REJECT` (3). New
//! pictures given to `update_store` are audited the same way (a URL containing `REJECT` fails)
//! and replace the old ones only when approved.
//!
//! The sandbox starts with five legacy stores covering the migration states 0, 0, 1, 3 and 4;
//! migrating one (`add_store` with its `poi_id`) moves it to 2 and then to 3, or back to 1 with
//! the reason in `upgrade_comment`. While one waits for migration (0 or 1), a new store at its
//! place (its map POI, or another POI at its address) is refused with 85054: it must be migrated
//! with its `poi_id`.
//!
//! A business credential belongs to one store (85041); a migration keeps the legacy store's own
//! registration and is not held to it.

use serde_json::{Map, Value, json};

use super::map::{self, Poi};
use super::routes::Handler;
use super::{AuditEvent, AuditKind, State, fail, invalid, media_ids, ok, ok_data, str_field, usize_field};
use crate::api::wire::pic_urls;
use crate::message::events::{ADD_STORE_AUDIT_INFO, MODIFY_STORE_AUDIT_INFO};

/// Stores one account may have ("附近地点添加数量达到上线").
const MAX_STORES: usize = 5000;

pub(crate) struct Store {
    poi_id: String,
    map_poi_id: String,
    audit_id: u64,
    /// 1 approved, 2 in audit, 3 failed.
    status: i64,
    business_name: String,
    address: String,
    province: String,
    city: String,
    district: String,
    lng: f64,
    lat: f64,
    telephone: String,
    photos: Vec<String>,
    open_time: String,
    credential: String,
    qualification_name: String,
    qualification_list: Vec<String>,
    card_id: String,
    /// Migrated from a legacy store (the event's `is_upgrade`).
    upgrade: bool,
    /// A picture change in audit: (audit id, new pictures).
    modify: Option<(u64, Vec<String>)>,
}

impl Store {
    fn base_info(&self) -> Value {
        json!({
            "business_name": self.business_name,
            "address": self.address,
            "telephone": self.telephone,
            "categories": [],
            "city": self.city,
            "province": self.province,
            "district": self.district,
            "longitude": self.lng,
            "latitude": self.lat,
            "photo_list": self.photos.iter().map(|u| json!({ "photo_url": u })).collect::<Vec<_>>(),
            "open_time": self.open_time,
            "poi_id": self.poi_id,
            "status": self.status,
            "qualification_list": self.qualification_list,
            "qualification_num": self.credential,
            "qualification_name": self.qualification_name,
        })
    }
}

/// A store of the old 门店管理 API.
pub(crate) struct Legacy {
    poi_id: String,
    poi: Poi,
    province: String,
    city: String,
    district: String,
    /// 0 to migrate, 1 failed, 2 migrating, 3 done, 4 not allowed.
    upgrade_status: i64,
    upgrade_comment: String,
}

impl Legacy {
    fn base_info(&self) -> Value {
        json!({
            "sid": "",
            "business_name": self.poi.brand,
            "branch_name": self.poi.branch,
            "address": self.poi.street,
            "telephone": self.poi.telephone,
            "categories": [self.poi.category.replace(':', ",")],
            "city": self.city,
            "province": self.province,
            "district": self.district,
            "offset_type": 1,
            "longitude": self.poi.lng,
            "latitude": self.poi.lat,
            "photo_list": [],
            "introduction": "",
            "recommend": "",
            "special": "",
            "open_time": "08:00-22:00",
            "avg_price": 0,
            "available_state": 3,
            "update_status": 0,
            "poi_id": self.poi_id,
            "upgrade_status": self.upgrade_status,
            "upgrade_comment": self.upgrade_comment,
            "mapid": self.poi.uid,
        })
    }
}

pub(crate) struct Stores {
    list: Vec<Store>,
    legacy: Vec<Legacy>,
    next_poi_id: u64,
}

/// The starting legacy stores: (poi_id, district, POI index, upgrade_status, comment). The
/// POIs are late in their districts' lists, away from what examples pick first.
const LEGACY: &[(&str, u32, u32, i64, &str)] = &[
    ("285633617", 440106, 19, 0, ""),
    ("285633920", 110105, 18, 0, ""),
    ("286014322", 310104, 17, 1, "门店图片与实际经营场所不符,请重新提交"),
    ("286311075", 440305, 16, 3, ""),
    ("287002168", 330106, 15, 4, "该门店存在违规记录,不能迁移,请删除后重新添加"),
];

impl Stores {
    /// Stores added to the account (not the legacy ones).
    pub fn count(&self) -> usize {
        self.list.len()
    }

    pub fn new() -> Self {
        let legacy = LEGACY
            .iter()
            .map(|&(poi_id, district, index, upgrade_status, comment)| {
                let poi = map::generated(district, index).expect("legacy POIs are in known districts");
                let area = map::area(district).expect("legacy districts exist");
                Legacy {
                    poi_id: poi_id.to_string(),
                    poi,
                    province: area.province.clone(),
                    city: area.city.clone(),
                    district: area.district.clone(),
                    upgrade_status,
                    upgrade_comment: comment.to_string(),
                }
            })
            .collect();
        Stores { list: Vec::new(), legacy, next_poi_id: 472_671_857 }
    }

    fn position(&self, poi_id: &str) -> Option<usize> {
        self.list.iter().position(|s| s.poi_id == poi_id)
    }

    /// Whether `poi_id` names a store or a legacy POI of the account (shake-around binds
    /// devices to either).
    pub(crate) fn has_poi(&self, poi_id: &str) -> bool {
        self.position(poi_id).is_some() || self.legacy.iter().any(|l| l.poi_id == poi_id)
    }
}

/// `store::add`
pub(crate) fn add(st: &mut State, b: &Map<String, Value>) -> Value {
    if !st.merchant.approved() {
        return fail(85053, "");
    }
    let Some(photos) = pic_urls(str_field(b, "pic_list")) else {
        return invalid("pic_list must be a JSON string {\"list\":[...]} of at least one http(s) URL");
    };
    let legacy_id = str_field(b, "poi_id");
    let legacy = if legacy_id.is_empty() {
        None
    } else {
        let Some(i) = st.stores.legacy.iter().position(|l| l.poi_id == legacy_id) else {
            return fail(65115, "");
        };
        match st.stores.legacy[i].upgrade_status {
            3 => return fail(85040, ""),
            4 => return fail(85039, ""),
            2 => return fail(85050, ""),
            _ => Some(i),
        }
    };
    let map_poi_id = str_field(b, "map_poi_id");
    let Some(poi) = map::lookup(st, map_poi_id) else {
        return fail(85055, "");
    };
    let waiting = |l: &&Legacy| matches!(l.upgrade_status, 0 | 1);
    if legacy.is_none()
        && let Some(l) =
            st.stores.legacy.iter().filter(waiting).find(|l| l.poi.uid == map_poi_id || l.poi.address == poi.address)
    {
        return fail(85054, format!("legacy store {} is at this place: add_store with its poi_id", l.poi_id));
    }
    if st.stores.list.iter().any(|s| s.map_poi_id == map_poi_id && s.status != 3) {
        return fail(85038, "");
    }
    let credential = str_field(b, "credential");
    if legacy.is_none() && st.stores.list.iter().any(|s| s.credential == credential && s.status != 3) {
        return fail(85041, "");
    }
    let quals = media_ids(b, "qualification_list");
    if let Some(id) = quals.iter().find(|id| !st.media.known(id, st.now())) {
        return fail(85056, format!("invalid media_id {id}"));
    }
    if st.stores.list.len() >= MAX_STORES {
        return fail(85042, "");
    }
    let poi_id = match legacy {
        Some(i) => {
            let l = &mut st.stores.legacy[i];
            l.upgrade_status = 2;
            l.upgrade_comment.clear();
            let id = l.poi_id.clone();
            // A failed earlier migration leaves a failed store under the same poi_id.
            st.stores.list.retain(|s| s.poi_id != id);
            id
        }
        None => {
            st.stores.next_poi_id += 1;
            st.stores.next_poi_id.to_string()
        }
    };
    let area = map::area(poi.district_id);
    let company = str_field(b, "company_name");
    let audit_id = st.submit(AuditKind::AddStore(poi_id.clone()));
    let store = Store {
        poi_id,
        map_poi_id: map_poi_id.to_string(),
        audit_id,
        status: 2,
        business_name: poi.branch_name(),
        address: poi.address.clone(),
        province: area.map(|a| a.province.clone()).unwrap_or_default(),
        city: area.map(|a| a.city.clone()).unwrap_or_default(),
        district: area.map(|a| a.district.clone()).unwrap_or_default(),
        lng: poi.lng,
        lat: poi.lat,
        telephone: str_field(b, "contract_phone").to_string(),
        photos,
        open_time: str_field(b, "hour").to_string(),
        credential: credential.to_string(),
        qualification_name: if company.is_empty() { st.merchant.nickname.clone() } else { company.to_string() },
        qualification_list: quals.iter().map(|s| s.to_string()).collect(),
        card_id: str_field(b, "card_id").to_string(),
        upgrade: legacy.is_some(),
        modify: None,
    };
    st.stores.list.push(store);
    ok_data(json!({ "audit_id": audit_id }))
}

/// Decides the audit of an added (or migrated) store.
pub(crate) fn decide_add(st: &mut State, audit_id: u64, poi_id: &str) -> Option<AuditEvent> {
    let s = st.stores.list.iter_mut().find(|s| s.poi_id == poi_id && s.audit_id == audit_id && s.status == 2)?;
    let reason = if s.credential.contains("REJECT") { "sandbox: rejected on request" } else { "" };
    s.status = if reason.is_empty() { 1 } else { 3 };
    let (status, upgrade) = (s.status, s.upgrade);
    if upgrade && let Some(l) = st.stores.legacy.iter_mut().find(|l| l.poi_id == poi_id) {
        l.upgrade_status = if status == 1 { 3 } else { 1 };
        l.upgrade_comment = reason.to_string();
    }
    Some(AuditEvent::new(
        &ADD_STORE_AUDIT_INFO,
        vec![
            json!(audit_id),
            json!(status),
            json!(reason),
            json!(i64::from(upgrade)),
            poi_id.parse::<u64>().map_or_else(|_| json!(poi_id), |n| json!(n)),
        ],
    ))
}

/// `store::update`
pub(crate) fn update(st: &mut State, b: &Map<String, Value>) -> Value {
    if !st.merchant.approved() {
        return fail(85053, "");
    }
    let poi_id = str_field(b, "poi_id");
    let Some(i) = st.stores.position(poi_id) else {
        return fail(65115, "");
    };
    let Some(photos) = pic_urls(str_field(b, "pic_list")) else {
        return invalid("pic_list must be a JSON string {\"list\":[...]} of at least one http(s) URL");
    };
    let s = &mut st.stores.list[i];
    if s.status != 1 || s.modify.is_some() {
        return fail(65118, "");
    }
    s.open_time = str_field(b, "hour").to_string();
    s.telephone = str_field(b, "contract_phone").to_string();
    let card = str_field(b, "card_id");
    if !card.is_empty() {
        s.card_id = card.to_string();
    }
    // Pictures already approved need no new audit (the documents say so), so dropping or
    // reordering them applies at once; only a new URL starts an audit.
    if photos.iter().all(|p| s.photos.contains(p)) {
        s.photos = photos;
        return ok_data(json!({ "has_audit_id": 0, "audit_id": 0 }));
    }
    let audit_id = st.submit(AuditKind::ModifyStore(poi_id.to_string()));
    st.stores.list[i].modify = Some((audit_id, photos));
    ok_data(json!({ "has_audit_id": 1, "audit_id": audit_id }))
}

/// Decides a picture change.
pub(crate) fn decide_modify(st: &mut State, audit_id: u64, poi_id: &str) -> Option<AuditEvent> {
    let s = st.stores.list.iter_mut().find(|s| s.poi_id == poi_id)?;
    let (id, photos) = s.modify.take().filter(|(id, _)| *id == audit_id)?;
    let reason = if photos.iter().any(|p| p.contains("REJECT")) { "sandbox: rejected on request" } else { "" };
    if reason.is_empty() {
        s.photos = photos;
    }
    Some(AuditEvent::new(
        &MODIFY_STORE_AUDIT_INFO,
        vec![json!(id), json!(if reason.is_empty() { 1 } else { 3 }), json!(reason)],
    ))
}

/// `store::get`
pub(crate) fn get(st: &State, b: &Map<String, Value>) -> Value {
    match st.stores.position(str_field(b, "poi_id")) {
        Some(i) => json!({
            "errcode": 0, "errmsg": "ok",
            "business": { "base_info": st.stores.list[i].base_info() },
        }),
        None => fail(65115, ""),
    }
}

/// One page of `items` as WeChat's `business_list` answer.
fn page(items: impl ExactSizeIterator<Item = Value>, offset: usize, limit: usize) -> Value {
    let total = items.len();
    let list: Vec<Value> = items.skip(offset).take(limit).map(|b| json!({ "base_info": b })).collect();
    json!({ "errcode": 0, "errmsg": "ok", "business_list": list, "total_count": total })
}

/// `store::list`
pub(crate) fn list(st: &State, b: &Map<String, Value>) -> Value {
    let limit = match usize_field(b, "limit") {
        0 => 20,
        n => n,
    };
    page(st.stores.list.iter().map(Store::base_info), usize_field(b, "offset"), limit)
}

/// `store::delete`
pub(crate) fn delete(st: &mut State, b: &Map<String, Value>) -> Value {
    if !st.merchant.approved() {
        return fail(85053, "");
    }
    match st.stores.position(str_field(b, "poi_id")) {
        Some(i) => {
            st.stores.list.remove(i);
            ok()
        }
        None => fail(-1, "delete failed"),
    }
}

/// `poi_id` of the card endpoints, which send it as an int.
fn card_poi(b: &Map<String, Value>) -> String {
    b.get("poi_id").and_then(Value::as_u64).map(|n| n.to_string()).unwrap_or_default()
}

/// `store::get_card`
pub(crate) fn get_card(st: &State, b: &Map<String, Value>) -> Value {
    let Some(i) = st.stores.position(&card_poi(b)) else {
        return fail(65115, "");
    };
    let card = &st.stores.list[i].card_id;
    if card.is_empty() { ok() } else { json!({ "errcode": 0, "errmsg": "ok", "card_id": card }) }
}

/// `store::set_card`
pub(crate) fn set_card(st: &mut State, b: &Map<String, Value>) -> Value {
    let Some(i) = st.stores.position(&card_poi(b)) else {
        return fail(65115, "");
    };
    st.stores.list[i].card_id = str_field(b, "card_id").to_string();
    ok()
}

/// `poi::list`
pub(crate) fn legacy_list(st: &State, b: &Map<String, Value>) -> Value {
    page(st.stores.legacy.iter().map(Legacy::base_info), usize_field(b, "begin"), usize_field(b, "limit"))
}

/// `poi::delete`
pub(crate) fn legacy_delete(st: &mut State, b: &Map<String, Value>) -> Value {
    let poi_id = str_field(b, "poi_id");
    match st.stores.legacy.iter().position(|l| l.poi_id == poi_id) {
        Some(i) => {
            st.stores.legacy.remove(i);
            ok()
        }
        None => fail(65115, ""),
    }
}

/// This family's behaviour (stores, their cards, legacy POIs), by endpoint (see `routes`).
pub(crate) fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("store::add", Handler::Call(|st, b| add(st, b).into())),
        ("store::update", Handler::Call(|st, b| update(st, b).into())),
        ("store::get", Handler::Call(|st, b| get(st, b).into())),
        ("store::list", Handler::Call(|st, b| list(st, b).into())),
        ("store::delete", Handler::Call(|st, b| delete(st, b).into())),
        ("store::get_card", Handler::Call(|st, b| get_card(st, b).into())),
        ("store::set_card", Handler::Call(|st, b| set_card(st, b).into())),
        ("poi::list", Handler::Call(|st, b| legacy_list(st, b).into())),
        ("poi::delete", Handler::Call(|st, b| legacy_delete(st, b).into())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_legacy_store_itself_stands_at_its_address() {
        // 85054 refuses a new store at a waiting legacy store's address: no other generated POI
        // of its district may share it.
        for &(poi_id, district, index, _, _) in LEGACY {
            let own = map::generated(district, index).expect("legacy POI");
            for other in (0..map::POIS_PER_DISTRICT).filter(|i| *i != index) {
                let p = map::generated(district, other).expect("POI");
                assert_ne!(p.address, own.address, "legacy store {poi_id} shares its address with POI {other}");
            }
        }
    }
}
