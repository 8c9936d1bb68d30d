//! Shake-around (摇一摇周边) in the simulator: the account and its review, device id
//! applications and their devices, pages and icons, device-page relations, groups, daily
//! statistics, shakes with their tickets and `ShakearoundUserShake` events, and lotteries.
//!
//! The account starts without an application. `register` puts one in review, decided after the
//! audit delay: approved (2), or rejected (0) when the name or reason contains `REJECT`. Every
//! other call except `material/add` needs an approved account (9001020).
//!
//! Device ids: an application is decided once the audit delay has passed (default 0: at the
//! next request), the quick review of up to 500 ids and the manual review of more alike; the
//! answer to a larger one says it went to manual review. `REJECT` in the reason rejects it. Devices exist only once approved: each application
//! gets its own `major`, its devices `minor` 1, 2, ... under the account's UUID. At most 10,000
//! ids per account, counting applications in review.
//!
//! Statistics are a pure function of (device or page, day): the same query always answers the
//! same plausible counts, with quiet days; today and later have no rows yet.
//!
//! Time is the simulator's clock: tickets expire 30 minutes after the shake, "today" of the
//! statistics is the clock's day (UTC+8), and a lottery past its `expire_time` cannot be switched
//! on. An account holding at least 100 device ids of which fewer than half were ever activated
//! (shaken near) gets no new ids (9001021).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::media::PartError;
use super::routes::Handler;
use super::{AuditEvent, AuditKind, State, fail, int_field, random_id, str_field, usize_field};
use crate::api::media::sniff;
use crate::api::shake::{
    ICON_MAX_PX, LICENSE_MAX_BYTES, MATERIAL_KINDS, MAX_GROUP_DEVICES, MAX_GROUPS, MAX_IDS, QUICK_REVIEW, STATS_PAGE,
    STATS_SPAN_DAYS, STATS_WINDOW_DAYS, image_size, lottery_logo, today_utc8,
};
use crate::message::events::{self, SHAKEAROUND_USER_SHAKE};

/// A shake's ticket stays valid this long (seconds).
const TICKET_TTL: u64 = 30 * 60;
/// From this many device ids held, new ones need half of them activated (9001021).
const ACTIVATION_FLOOR: usize = 100;
/// The UUID WeChat assigns to this account's beacons.
pub const UUID: &str = "FDA50693-A4E2-4FB1-AFCF-C6EB07647825";

struct Account {
    /// 0 rejected, 1 in review, 2 approved.
    status: i64,
    apply_time: u64,
    audit_time: u64,
    comment: String,
    name: String,
    reason: String,
}

struct Apply {
    id: i64,
    quantity: i64,
    /// 0 rejected, 1 in review, 2 approved.
    status: i64,
    apply_time: u64,
    audit_time: u64,
    /// The review's remark (`audit_comment`).
    comment: String,
    reason: String,
    poi_id: i64,
    major: i64,
}

struct Device {
    device_id: i64,
    major: i64,
    minor: i64,
    comment: String,
    /// 0 inactive, 1 activated, 2 active.
    status: i64,
    poi_id: i64,
    last_active_time: u64,
    apply_id: i64,
    pages: Vec<i64>,
}

impl Device {
    fn json(&self) -> Value {
        json!({
            "device_id": self.device_id, "uuid": UUID, "major": self.major, "minor": self.minor,
            "comment": self.comment, "status": self.status, "poi_id": self.poi_id,
            "last_active_time": self.last_active_time,
        })
    }
}

struct Page {
    title: String,
    description: String,
    page_url: String,
    icon_url: String,
    comment: String,
}

struct Group {
    name: String,
    devices: BTreeSet<i64>,
}

struct Ticket {
    device_id: i64,
    page_id: i64,
    openid: String,
    distance: f64,
    /// Unix seconds (simulated) of the shake.
    issued: u64,
}

struct Lottery {
    page_id: i64,
    fields: Map<String, Value>,
    tickets: BTreeSet<String>,
}

/// Everything shake-around holds for the account.
#[derive(Default)]
pub(crate) struct Shake {
    account: Option<Account>,
    applies: Vec<Apply>,
    /// Sorted by `device_id` (ids only grow).
    devices: Vec<Device>,
    /// Ids applied for, in review or approved.
    ids_used: u64,
    pages: BTreeMap<i64, Page>,
    icons: BTreeSet<String>,
    groups: BTreeMap<i64, Group>,
    tickets: HashMap<String, Ticket>,
    lotteries: BTreeMap<String, Lottery>,
    next_page: i64,
    next_group: i64,
}

impl Shake {
    /// Device ids the account holds, and its pages.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.devices.len(), self.pages.len())
    }

    fn approved(&self) -> bool {
        self.account.as_ref().is_some_and(|a| a.status == 2)
    }

    fn device_pos(&self, id: i64) -> Option<usize> {
        self.devices.binary_search_by_key(&id, |d| d.device_id).ok()
    }

    /// The device a `device_identifier` names (device_id wins when both forms are given).
    fn find(&self, ident: Option<&Value>) -> Option<usize> {
        let o = ident?.as_object()?;
        if let Some(id) = o.get("device_id") {
            return self.device_pos(id.as_i64()?);
        }
        let uuid = o.get("uuid")?.as_str()?;
        let (major, minor) = (o.get("major")?.as_i64()?, o.get("minor")?.as_i64()?);
        if !uuid.eq_ignore_ascii_case(UUID) {
            return None;
        }
        self.devices.iter().position(|d| d.major == major && d.minor == minor)
    }

    fn next_page_id(&mut self) -> i64 {
        self.next_page += 1;
        28_840 + self.next_page
    }
}

/// A shake-around success: `{"data": ..., "errcode": 0, "errmsg": "success."}`.
fn done(data: Value) -> Value {
    json!({ "data": data, "errcode": 0, "errmsg": "success." })
}

fn done_empty() -> Value {
    done(json!({}))
}

fn not_approved() -> Value {
    fail(9001020, "shake-around is not enabled for this account (register and wait for approval)")
}

fn no_device() -> Value {
    fail(9001025, "no such device")
}

/// A list call's page size. The wire check has already held `count` to its declared limits;
/// a call variant without one gets a single row.
fn count_of(b: &Map<String, Value>) -> usize {
    usize_field(b, "count").max(1)
}

/// The page a `begin`/`count` list call asks for out of `rows` (of `what`): refused with 9001036
/// when `begin` is past the end.
fn page_of<T>(b: &Map<String, Value>, rows: impl ExactSizeIterator<Item = T>, what: &str) -> Result<Vec<T>, Value> {
    let (begin, len) = (usize_field(b, "begin"), rows.len());
    if begin > len {
        return Err(fail(9001036, format!("begin {begin} beyond {len} {what}")));
    }
    Ok(rows.skip(begin).take(count_of(b)).collect())
}

/// This family's behaviour, by endpoint (see `routes`). Every call but registering, its
/// status and uploading material needs an approved account (9001020).
pub(crate) fn handlers() -> Vec<(&'static str, Handler)> {
    /// The handler behind the approval gate.
    macro_rules! approved {
        (|$st:ident, $b:ident| $body:expr) => {
            Handler::Call(|$st, $b| if $st.shake.approved() { $body.into() } else { not_approved().into() })
        };
    }
    vec![
        ("shake::register", Handler::Call(|st, b| register(st, b).into())),
        ("shake::audit_status", Handler::Call(|st, _| audit_status(st).into())),
        ("shake::upload_material", Handler::Upload(|st, b, file| upload(st, b, file).into())),
        ("shake::apply_ids", approved!(|st, b| apply_ids(st, b))),
        ("shake::bind_location", approved!(|st, b| bind_location(st, b))),
        ("shake::apply_status", approved!(|st, b| apply_status(&st.shake, b))),
        ("shake::search_devices", approved!(|st, b| search_devices(&st.shake, b))),
        ("shake::update_device", approved!(|st, b| update_device(&mut st.shake, b))),
        ("shake::bind_pages", approved!(|st, b| bind_pages(&mut st.shake, b))),
        ("shake::search_relations", approved!(|st, b| search_relations(&st.shake, b))),
        ("shake::add_page", approved!(|st, b| add_page(&mut st.shake, b))),
        ("shake::update_page", approved!(|st, b| update_page(&mut st.shake, b))),
        ("shake::search_pages", approved!(|st, b| search_pages(&st.shake, b))),
        ("shake::delete_page", approved!(|st, b| delete_page(&mut st.shake, b))),
        ("shake::shake_info", approved!(|st, b| shake_info(&st.shake, b, st.now()))),
        ("shake::device_stats", approved!(|st, b| device_stats(&st.shake, b, st.now()))),
        ("shake::device_stats_list", approved!(|st, b| device_stats_list(&st.shake, b, st.now()))),
        ("shake::page_stats", approved!(|st, b| page_stats(&st.shake, b, st.now()))),
        ("shake::page_stats_list", approved!(|st, b| page_stats_list(&st.shake, b, st.now()))),
        ("shake::add_group", approved!(|st, b| add_group(&mut st.shake, b))),
        ("shake::update_group", approved!(|st, b| update_group(&mut st.shake, b))),
        ("shake::delete_group", approved!(|st, b| delete_group(&mut st.shake, b))),
        ("shake::list_groups", approved!(|st, b| list_groups(&st.shake, b))),
        ("shake::group_detail", approved!(|st, b| group_detail(&st.shake, b))),
        ("shake::add_group_devices", approved!(|st, b| add_group_devices(&mut st.shake, b))),
        ("shake::remove_group_devices", approved!(|st, b| remove_group_devices(&mut st.shake, b))),
        ("shake::add_lottery", approved!(|st, b| add_lottery(&mut st.shake, b))),
        ("shake::set_prize_bucket", approved!(|st, b| set_prize_bucket(&mut st.shake, b))),
        ("shake::set_lottery_switch", approved!(|st, b| set_lottery_switch(&mut st.shake, b, st.clock.unix()))),
        ("shake::query_lottery", approved!(|st, b| query_lottery(&st.shake, b))),
    ]
}

// ---------------------------------------------------------------------------------------------
// Account

fn register(st: &mut State, b: &Map<String, Value>) -> Value {
    match st.shake.account.as_ref().map(|a| a.status) {
        Some(1) => return fail(9001040, "an application is already in review"),
        Some(2) => return fail(9001041, "shake-around is already enabled"),
        _ => {}
    }
    let now = st.now();
    st.shake.account = Some(Account {
        status: 1,
        apply_time: now,
        audit_time: 0,
        comment: "审核中".into(),
        name: str_field(b, "name").to_string(),
        reason: str_field(b, "apply_reason").to_string(),
    });
    st.submit(AuditKind::ShakeAccount);
    done_empty()
}

/// Decides the account's review (no event is pushed for it).
pub(crate) fn decide_account(st: &mut State) -> Option<AuditEvent> {
    let now = st.now();
    let a = st.shake.account.as_mut().filter(|a| a.status == 1)?;
    let reject = a.name.contains("REJECT") || a.reason.contains("REJECT");
    a.status = if reject { 0 } else { 2 };
    a.audit_time = now;
    a.comment = if reject { "sandbox: rejected on request".into() } else { "审核通过".into() };
    None
}

fn audit_status(st: &State) -> Value {
    match &st.shake.account {
        None => fail(9001020, "no shake-around application yet (shake::register)"),
        Some(a) => done(json!({
            "apply_time": a.apply_time, "audit_comment": a.comment,
            "audit_status": a.status, "audit_time": a.audit_time,
        })),
    }
}

// ---------------------------------------------------------------------------------------------
// Device ids and devices

fn apply_ids(st: &mut State, b: &Map<String, Value>) -> Value {
    // The wire check has held it to its declared range (9001022 below 1).
    let quantity = int_field(b, "quantity").unwrap_or(1);
    let poi_id = int_field(b, "poi_id").unwrap_or(0);
    if poi_id != 0 && !st.stores.has_poi(&poi_id.to_string()) {
        return fail(9001033, format!("no store with poi_id {poi_id}"));
    }
    let now = st.now();
    let sh = &mut st.shake;
    let left = MAX_IDS - sh.ids_used;
    if quantity as u64 > left {
        return fail(
            9001042,
            format!(
                "an account holds at most {MAX_IDS} device ids; {} are applied for, {left} left, {quantity} asked",
                sh.ids_used
            ),
        );
    }
    let activated = sh.devices.iter().filter(|d| d.status != 0).count();
    if sh.devices.len() >= ACTIVATION_FLOOR && activated * 2 < sh.devices.len() {
        return fail(
            9001021,
            format!("{activated} of {} devices were ever activated (sandbox::shake activates one)", sh.devices.len()),
        );
    }
    sh.ids_used += quantity as u64;
    let id = 1_000 + sh.applies.len() as i64 + 1;
    // As in the documents' own example, the answer says "in review" even for a quick review.
    let comment = if quantity <= QUICK_REVIEW { "审核中" } else { "人工审核中, 预计3个工作日" };
    sh.applies.push(Apply {
        id,
        quantity,
        status: 1,
        apply_time: now,
        audit_time: 0,
        // The review's remark; the applicant's own `comment` is not part of any answer.
        comment: comment.to_string(),
        reason: str_field(b, "apply_reason").to_string(),
        poi_id,
        major: 10_000 + sh.applies.len() as i64 + 1,
    });
    st.submit(AuditKind::ShakeApply { apply_id: id });
    done(json!({ "apply_id": id, "audit_status": 1, "audit_comment": comment }))
}

/// Decides a device id application; approved ones get their devices.
pub(crate) fn decide_apply(st: &mut State, apply_id: i64) -> Option<AuditEvent> {
    let now = st.now();
    let sh = &mut st.shake;
    let a = sh.applies.iter_mut().find(|a| a.id == apply_id && a.status == 1)?;
    a.audit_time = now;
    if a.reason.contains("REJECT") {
        a.status = 0;
        a.comment = "sandbox: rejected on request".into();
        sh.ids_used = sh.ids_used.saturating_sub(a.quantity as u64);
        return None;
    }
    a.status = 2;
    a.comment = "审核通过".into();
    let (quantity, major, poi_id) = (a.quantity, a.major, a.poi_id);
    let first = sh.devices.last().map_or(10_100, |d| d.device_id + 1);
    for i in 0..quantity {
        sh.devices.push(Device {
            device_id: first + i,
            major,
            minor: i + 1,
            comment: String::new(),
            status: 0,
            poi_id,
            last_active_time: 0,
            apply_id,
            pages: Vec::new(),
        });
    }
    None
}

fn apply_status(sh: &Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "apply_id").unwrap_or(-1);
    match sh.applies.iter().find(|a| a.id == id) {
        None => fail(9001035, format!("no application {id}")),
        Some(a) => done(json!({
            "apply_time": a.apply_time, "audit_comment": a.comment,
            "audit_status": a.status, "audit_time": a.audit_time,
        })),
    }
}

fn search_devices(sh: &Shake, b: &Map<String, Value>) -> Value {
    let count = count_of(b);
    let last_seen = int_field(b, "last_seen").unwrap_or(0);
    match int_field(b, "type") {
        Some(1) => {
            let Some(list) = b.get("device_identifiers").and_then(Value::as_array) else {
                return fail(9001001, "type 1 needs device_identifiers");
            };
            let devices: Vec<Value> =
                list.iter().filter_map(|i| sh.find(Some(i))).map(|p| sh.devices[p].json()).collect();
            done(json!({ "devices": devices, "total_count": sh.devices.len() }))
        }
        Some(2) => {
            let start = sh.devices.partition_point(|d| d.device_id <= last_seen);
            let devices: Vec<Value> = sh.devices[start..].iter().take(count).map(Device::json).collect();
            done(json!({ "devices": devices, "total_count": sh.devices.len() }))
        }
        Some(3) => {
            let id = int_field(b, "apply_id").unwrap_or(-1);
            if !sh.applies.iter().any(|a| a.id == id) {
                return fail(9001035, format!("no application {id}"));
            }
            let mine = sh.devices.iter().filter(|d| d.apply_id == id);
            let total = mine.clone().count();
            let devices: Vec<Value> = mine.filter(|d| d.device_id > last_seen).take(count).map(Device::json).collect();
            done(json!({ "devices": devices, "total_count": total }))
        }
        _ => fail(9001001, "type must be 1, 2 or 3"),
    }
}

fn update_device(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let Some(p) = sh.find(b.get("device_identifier")) else {
        return no_device();
    };
    sh.devices[p].comment = str_field(b, "comment").to_string();
    done_empty()
}

fn bind_location(st: &mut State, b: &Map<String, Value>) -> Value {
    let Some(p) = st.shake.find(b.get("device_identifier")) else {
        return no_device();
    };
    let poi_id = int_field(b, "poi_id").unwrap_or(0);
    let other_account = int_field(b, "type") == Some(2);
    if other_account && str_field(b, "poi_appid").is_empty() {
        return fail(9001001, "type 2 needs poi_appid");
    }
    // Another account's stores cannot be seen from here; this account's must exist.
    if poi_id != 0 && !other_account && !st.stores.has_poi(&poi_id.to_string()) {
        return fail(9001033, format!("no store with poi_id {poi_id}"));
    }
    st.shake.devices[p].poi_id = poi_id;
    done_empty()
}

fn bind_pages(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let Some(p) = sh.find(b.get("device_identifier")) else {
        return no_device();
    };
    let ids: Vec<i64> = b
        .get("page_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if let Some(id) = ids.iter().find(|id| !sh.pages.contains_key(id)) {
        return fail(9001026, format!("no page {id}"));
    }
    let mut pages = Vec::new();
    for id in ids {
        if !pages.contains(&id) {
            pages.push(id);
        }
    }
    sh.devices[p].pages = pages;
    done_empty()
}

fn search_relations(sh: &Shake, b: &Map<String, Value>) -> Value {
    let rel = |d: &Device, page: i64| json!({ "device_id": d.device_id, "uuid": UUID, "major": d.major, "minor": d.minor, "page_id": page });
    match int_field(b, "type") {
        Some(1) => {
            let Some(p) = sh.find(b.get("device_identifier")) else {
                return no_device();
            };
            let d = &sh.devices[p];
            let relations: Vec<Value> = d.pages.iter().map(|pg| rel(d, *pg)).collect();
            done(json!({ "relations": relations, "total_count": d.pages.len() }))
        }
        Some(2) => {
            let page = int_field(b, "page_id").unwrap_or(-1);
            if !sh.pages.contains_key(&page) {
                return fail(9001026, format!("no page {page}"));
            }
            let bound: Vec<&Device> = sh.devices.iter().filter(|d| d.pages.contains(&page)).collect();
            let relations = match page_of(b, bound.iter().map(|d| rel(d, page)), "relations") {
                Ok(rows) => rows,
                Err(e) => return e,
            };
            done(json!({ "relations": relations, "total_count": bound.len() }))
        }
        _ => fail(9001001, "type must be 1 or 2"),
    }
}

// ---------------------------------------------------------------------------------------------
// Pages and material

fn page_fields(sh: &Shake, b: &Map<String, Value>) -> Result<Page, Value> {
    let icon = str_field(b, "icon_url");
    if !sh.icons.contains(icon) {
        return Err(fail(9001027, format!("icon_url {icon:?} was not uploaded with material/add?type=icon")));
    }
    Ok(Page {
        title: str_field(b, "title").to_string(),
        description: str_field(b, "description").to_string(),
        page_url: str_field(b, "page_url").to_string(),
        icon_url: icon.to_string(),
        comment: str_field(b, "comment").to_string(),
    })
}

fn page_json(id: i64, p: &Page) -> Value {
    json!({
        "page_id": id, "title": p.title, "description": p.description,
        "icon_url": p.icon_url, "page_url": p.page_url, "comment": p.comment,
    })
}

fn add_page(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let page = match page_fields(sh, b) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let id = sh.next_page_id();
    sh.pages.insert(id, page);
    done(json!({ "page_id": id }))
}

fn update_page(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "page_id").unwrap_or(-1);
    if !sh.pages.contains_key(&id) {
        return fail(9001026, format!("no page {id}"));
    }
    match page_fields(sh, b) {
        Ok(p) => {
            sh.pages.insert(id, p);
            done(json!({ "page_id": id }))
        }
        Err(e) => e,
    }
}

fn search_pages(sh: &Shake, b: &Map<String, Value>) -> Value {
    let total = sh.pages.len();
    match int_field(b, "type") {
        Some(1) => {
            let ids: Vec<i64> = b
                .get("page_ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            let pages: Vec<Value> = ids.iter().filter_map(|id| sh.pages.get(id).map(|p| page_json(*id, p))).collect();
            done(json!({ "pages": pages, "total_count": total }))
        }
        Some(2) => {
            let pages = match page_of(b, sh.pages.iter().map(|(id, p)| page_json(*id, p)), "pages") {
                Ok(rows) => rows,
                Err(e) => return e,
            };
            done(json!({ "pages": pages, "total_count": total }))
        }
        _ => fail(9001001, "type must be 1 or 2"),
    }
}

fn delete_page(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "page_id").unwrap_or(-1);
    if !sh.pages.contains_key(&id) {
        return fail(9001026, format!("no page {id}"));
    }
    let bound = sh.devices.iter().filter(|d| d.pages.contains(&id)).count();
    if bound > 0 {
        return fail(9001029, format!("page {id} is bound to {bound} devices"));
    }
    sh.pages.remove(&id);
    done_empty()
}

/// `shake::upload_material`: an icon or a licence picture, judged by content.
fn upload(st: &mut State, b: &Map<String, Value>, file: Result<Vec<u8>, PartError>) -> Value {
    let ty = str_field(b, "type");
    let bytes = match file {
        Ok(b) => b,
        Err(PartError::Missing) => return fail(9001007, ""),
        Err(PartError::TooLarge) => return fail(9001009, ""),
    };
    if !sniff(&bytes).is_some_and(|k| MATERIAL_KINDS.contains(&k)) {
        return fail(9001008, MATERIAL_KINDS.join(", "));
    }
    if ty == "license" && bytes.len() as u64 > LICENSE_MAX_BYTES {
        return fail(9001009, format!("a license is at most {LICENSE_MAX_BYTES} bytes"));
    }
    if ty == "icon" && !image_size(&bytes).is_some_and(|(w, h)| w == h && w <= ICON_MAX_PX) {
        return fail(9001009, format!("an icon is square, at most {ICON_MAX_PX}x{ICON_MAX_PX} px"));
    }
    let url = format!("http://p.qpic.cn/wx_shake_bus/0/{}/0", random_id(40));
    if ty == "icon" {
        st.shake.icons.insert(url.clone());
    }
    done(json!({ "pic_url": url }))
}

// ---------------------------------------------------------------------------------------------
// Shakes

/// `POST /_sandbox/shake` `{device_id | uuid, major, minor, openid?}`: a user shakes near a
/// device. Issues a ticket for `user/getshakeinfo` and records a `ShakearoundUserShake` event.
pub(crate) fn simulate(st: &mut State, b: &Map<String, Value>) -> Value {
    let now = st.now();
    let sh = &mut st.shake;
    let Some(p) = sh.find(Some(&Value::Object(b.clone()))) else {
        return fail(9001025, "no such device (give device_id, or uuid, major and minor)");
    };
    let Some(&page_id) = sh.devices[p].pages.first() else {
        return fail(9001026, "the device has no page to show: bind one with shake::bind_pages");
    };
    let openid = match str_field(b, "openid") {
        "" => format!("oVDmXjp{}", random_id(21)),
        o => o.to_string(),
    };
    let d = &mut sh.devices[p];
    d.status = 2;
    d.last_active_time = now;
    let (device_id, major, minor) = (d.device_id, d.major, d.minor);
    let distance = (fastrand::f64() * 5.0 * 1000.0).round() / 1000.0 + 0.05;
    let beacon = |major: i64, minor: i64, distance: f64| events::beacon(UUID, major, minor, distance);
    // Up to three other devices of the account are "around", a little farther away.
    let around: Vec<Value> = sh
        .devices
        .iter()
        .filter(|o| o.device_id != device_id)
        .take(3)
        .enumerate()
        .map(|(i, o)| beacon(o.major, o.minor, distance + 1.5 * (i as f64 + 1.0)))
        .collect();
    let ticket = random_id(32);
    sh.tickets.retain(|_, t| now < t.issued + TICKET_TTL);
    sh.tickets.insert(ticket.clone(), Ticket { device_id, page_id, openid: openid.clone(), distance, issued: now });
    let page_url = sh.pages.get(&page_id).map(|p| p.page_url.clone()).unwrap_or_default();
    let sep = if page_url.contains('?') { '&' } else { '?' };
    st.record(AuditEvent::new(
        &SHAKEAROUND_USER_SHAKE,
        vec![json!(openid), beacon(major, minor, distance), Value::Array(around)],
    ));
    json!({
        "errcode": 0, "errmsg": "ok", "ticket": ticket, "openid": openid, "page_id": page_id,
        "device_id": device_id, "uuid": UUID, "major": major, "minor": minor, "distance": distance,
        "url": format!("{page_url}{sep}ticket={ticket}"), "expires_in": TICKET_TTL,
    })
}

fn shake_info(sh: &Shake, b: &Map<String, Value>, now: u64) -> Value {
    let Some(t) = sh.tickets.get(str_field(b, "ticket")).filter(|t| now < t.issued + TICKET_TTL) else {
        return fail(9001003, "unknown or expired (a ticket is valid for 30 minutes)");
    };
    let Some(d) = sh.device_pos(t.device_id).map(|p| &sh.devices[p]) else {
        return fail(9001004, "");
    };
    let mut data = json!({
        "page_id": t.page_id,
        "openid": t.openid,
        "beacon_info": { "distance": t.distance, "uuid": UUID, "major": d.major, "minor": d.minor },
    });
    if int_field(b, "need_poi") == Some(1) {
        data["poi_id"] = json!(d.poi_id);
    }
    done(data)
}

// ---------------------------------------------------------------------------------------------
// Statistics

use crate::util::splitmix as mix;

/// One day's (shake_pv, shake_uv, click_pv, click_uv) of a device (kind 1) or page (kind 2);
/// zeros for today and later, and on quiet days.
fn counts(kind: u64, id: i64, day: i64, today: i64) -> [i64; 4] {
    if day >= today {
        return [0; 4];
    }
    let h = mix(kind << 60 ^ (id as u64) << 20 ^ (day / 86_400) as u64);
    if h.is_multiple_of(4) {
        return [0; 4];
    }
    let shake_pv = 1 + (h >> 8) as i64 % 60;
    let shake_uv = 1 + (h >> 16) as i64 % shake_pv;
    let click_pv = (h >> 24) as i64 % (shake_pv + 1);
    let click_uv = if click_pv == 0 { 0 } else { 1 + (h >> 32) as i64 % click_pv.min(shake_uv) };
    [shake_pv, shake_uv, click_pv, click_uv]
}

fn row(c: [i64; 4]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in ["shake_pv", "shake_uv", "click_pv", "click_uv"].iter().zip(c) {
        m.insert((*k).to_string(), json!(v));
    }
    m
}

/// Checks a day range as WeChat does: a span and a window of the declared numbers of days.
fn range(b: &Map<String, Value>, today: i64) -> Result<(i64, i64), Value> {
    let begin = today_utc8(int_field(b, "begin_date").unwrap_or(0));
    let end = today_utc8(int_field(b, "end_date").unwrap_or(0));
    if end < begin || end - begin > STATS_SPAN_DAYS * 86_400 || begin < today - STATS_WINDOW_DAYS * 86_400 {
        return Err(fail(
            9001031,
            format!("at most {STATS_SPAN_DAYS} days, within the last {STATS_WINDOW_DAYS} (UTC+8)"),
        ));
    }
    Ok((begin, end))
}

fn series(kind: u64, id: i64, b: &Map<String, Value>, now: u64) -> Value {
    let today = today_utc8(now as i64);
    let (begin, end) = match range(b, today) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let rows: Vec<Value> = (0..)
        .map(|i| begin + i * 86_400)
        .take_while(|d| *d <= end && *d < today)
        .map(|day| {
            let mut m = row(counts(kind, id, day, today));
            m.insert("ftime".into(), json!(day));
            Value::Object(m)
        })
        .collect();
    done(Value::Array(rows))
}

fn device_stats(sh: &Shake, b: &Map<String, Value>, now: u64) -> Value {
    match sh.find(b.get("device_identifier")) {
        Some(p) => series(1, sh.devices[p].device_id, b, now),
        None => no_device(),
    }
}

fn page_stats(sh: &Shake, b: &Map<String, Value>, now: u64) -> Value {
    let id = int_field(b, "page_id").unwrap_or(-1);
    if !sh.pages.contains_key(&id) {
        return fail(9001026, format!("no page {id}"));
    }
    series(2, id, b, now)
}

/// One page of a day's list; rows without activity are left out.
fn day_list(
    b: &Map<String, Value>,
    key: &str,
    rows: impl Iterator<Item = (i64, Map<String, Value>)>,
    kind: u64,
    now: u64,
) -> Value {
    let today = today_utc8(now as i64);
    let date = int_field(b, "date").unwrap_or(0);
    let day = today_utc8(date);
    if day < today - STATS_WINDOW_DAYS * 86_400 || day > today {
        return fail(9001031, format!("the day must lie within the last {STATS_WINDOW_DAYS} days (UTC+8)"));
    }
    let active: Vec<Value> = rows
        .filter_map(|(id, mut m)| {
            let c = counts(kind, id, day, today);
            (c != [0; 4]).then(|| {
                m.extend(row(c));
                Value::Object(m)
            })
        })
        .collect();
    let page_index = usize_field(b, "page_index").max(1);
    let list: Vec<Value> =
        active.iter().skip((page_index - 1).saturating_mul(STATS_PAGE)).take(STATS_PAGE).cloned().collect();
    json!({
        "data": { key: list },
        "date": date, "total_count": active.len(), "page_index": page_index,
        "errcode": 0, "errmsg": "success.",
    })
}

fn device_stats_list(sh: &Shake, b: &Map<String, Value>, now: u64) -> Value {
    let rows = sh.devices.iter().map(|d| {
        let mut m = Map::new();
        for (k, v) in [("device_id", d.device_id), ("major", d.major), ("minor", d.minor)] {
            m.insert(k.into(), json!(v));
        }
        m.insert("uuid".into(), json!(UUID));
        (d.device_id, m)
    });
    day_list(b, "devices", rows, 1, now)
}

fn page_stats_list(sh: &Shake, b: &Map<String, Value>, now: u64) -> Value {
    let rows = sh.pages.keys().map(|id| {
        let mut m = Map::new();
        m.insert("page_id".into(), json!(id));
        (*id, m)
    });
    day_list(b, "pages", rows, 2, now)
}

// ---------------------------------------------------------------------------------------------
// Groups

fn no_group(id: i64) -> Value {
    fail(9001043, format!("no group {id}"))
}

fn add_group(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    if sh.groups.len() >= MAX_GROUPS {
        return fail(9001045, format!("an account has at most {MAX_GROUPS} groups"));
    }
    sh.next_group += 1;
    let id = 440 + sh.next_group;
    let name = str_field(b, "group_name").to_string();
    sh.groups.insert(id, Group { name: name.clone(), devices: BTreeSet::new() });
    done(json!({ "group_id": id, "group_name": name }))
}

fn update_group(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "group_id").unwrap_or(-1);
    match sh.groups.get_mut(&id) {
        Some(g) => {
            g.name = str_field(b, "group_name").to_string();
            done_empty()
        }
        None => no_group(id),
    }
}

fn delete_group(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "group_id").unwrap_or(-1);
    match sh.groups.get(&id) {
        None => no_group(id),
        Some(g) if !g.devices.is_empty() => {
            fail(9001044, format!("group {id} holds {} devices; remove them first", g.devices.len()))
        }
        Some(_) => {
            sh.groups.remove(&id);
            done_empty()
        }
    }
}

fn list_groups(sh: &Shake, b: &Map<String, Value>) -> Value {
    let groups =
        match page_of(b, sh.groups.iter().map(|(id, g)| json!({ "group_id": id, "group_name": g.name })), "groups") {
            Ok(rows) => rows,
            Err(e) => return e,
        };
    done(json!({ "total_count": sh.groups.len(), "groups": groups }))
}

fn group_detail(sh: &Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "group_id").unwrap_or(-1);
    let Some(g) = sh.groups.get(&id) else {
        return no_group(id);
    };
    let ids = match page_of(b, g.devices.iter(), "devices") {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let devices: Vec<Value> = ids
        .into_iter()
        .filter_map(|d| sh.device_pos(*d))
        .map(|p| {
            let d = &sh.devices[p];
            json!({
                "device_id": d.device_id, "uuid": UUID, "major": d.major, "minor": d.minor,
                "comment": d.comment, "poi_id": d.poi_id,
            })
        })
        .collect();
    done(json!({ "group_id": id, "group_name": g.name, "total_count": g.devices.len(), "devices": devices }))
}

/// The device ids of a `device_identifiers` list, or the error for the first unknown one.
fn device_ids(sh: &Shake, b: &Map<String, Value>) -> Result<Vec<i64>, Value> {
    let list = b.get("device_identifiers").and_then(Value::as_array).cloned().unwrap_or_default();
    list.iter()
        .enumerate()
        .map(|(i, ident)| {
            sh.find(Some(ident))
                .map(|p| sh.devices[p].device_id)
                .ok_or_else(|| fail(9001025, format!("device_identifiers[{i}] names no device")))
        })
        .collect()
}

fn add_group_devices(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "group_id").unwrap_or(-1);
    if !sh.groups.contains_key(&id) {
        return no_group(id);
    }
    let ids = match device_ids(sh, b) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let Some(g) = sh.groups.get_mut(&id) else {
        return no_group(id);
    };
    let new = ids.iter().filter(|d| !g.devices.contains(d)).collect::<BTreeSet<_>>().len();
    if g.devices.len() + new > MAX_GROUP_DEVICES {
        return fail(9001045, format!("a group holds at most {MAX_GROUP_DEVICES} devices ({} now)", g.devices.len()));
    }
    g.devices.extend(ids);
    done_empty()
}

fn remove_group_devices(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let id = int_field(b, "group_id").unwrap_or(-1);
    if !sh.groups.contains_key(&id) {
        return no_group(id);
    }
    let ids = match device_ids(sh, b) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    if let Some(g) = sh.groups.get_mut(&id) {
        for d in ids {
            g.devices.remove(&d);
        }
    }
    done_empty()
}

// ---------------------------------------------------------------------------------------------
// Lottery: answers carry their fields at the top level

fn no_lottery(id: &str) -> Value {
    fail(9001046, format!("no lottery {id:?}"))
}

fn add_lottery(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let begin = int_field(b, "begin_time").unwrap_or(0);
    let expire = int_field(b, "expire_time").unwrap_or(0);
    if expire <= begin {
        return fail(9001047, "expire_time must be after begin_time");
    }
    if let Err(why) = lottery_logo(int_field(b, "use_template").unwrap_or(0), str_field(b, "logo_url")) {
        return fail(9001047, why);
    }
    let lottery_id = random_id(24).replace(['-', '_'], "x");
    let page_id = sh.next_page_id();
    // The lottery's own page: shaking a device bound to it leads to the draw.
    let icons = str_field(b, "logo_url").to_string();
    sh.pages.insert(
        page_id,
        Page {
            title: str_field(b, "title").chars().take(6).collect(),
            description: str_field(b, "desc").chars().take(7).collect(),
            page_url: str_field(b, "jump_url").to_string(),
            icon_url: icons,
            comment: format!("lottery {lottery_id}"),
        },
    );
    let mut fields = b.clone();
    fields.remove("key");
    sh.lotteries.insert(lottery_id.clone(), Lottery { page_id, fields, tickets: BTreeSet::new() });
    json!({ "errcode": 0, "errmsg": "", "lottery_id": lottery_id, "page_id": page_id })
}

fn set_prize_bucket(sh: &mut Shake, b: &Map<String, Value>) -> Value {
    let id = str_field(b, "lottery_id");
    let Some(l) = sh.lotteries.get_mut(id) else {
        return no_lottery(id);
    };
    if l.fields.get("sponsor_appid").and_then(Value::as_str) != Some(str_field(b, "sponsor_appid")) {
        return fail(9001047, "sponsor_appid differs from the lottery's");
    }
    let total = l.fields.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
    let tickets: Vec<&str> = b
        .get("prize_info_list")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|p| p.get("ticket").and_then(Value::as_str)).collect())
        .unwrap_or_default();
    let mut repeated = Vec::new();
    let mut success = 0;
    for t in tickets {
        if l.tickets.contains(t) {
            repeated.push(json!({ "ticket": t }));
        } else if l.tickets.len() >= total {
            return fail(9001047, format!("the bucket is full ({total} red packets); {success} tickets were added"));
        } else {
            l.tickets.insert(t.to_string());
            success += 1;
        }
    }
    json!({ "errcode": 0, "errmsg": "", "success_num": success, "repeat_ticket_list": repeated })
}

fn set_lottery_switch(sh: &mut Shake, b: &Map<String, Value>, now: u64) -> Value {
    let id = str_field(b, "lottery_id");
    let onoff = int_field(b, "onoff").unwrap_or(0);
    match sh.lotteries.get_mut(id) {
        Some(l) if onoff == 1 && l.fields.get("expire_time").and_then(Value::as_u64).is_some_and(|e| e <= now) => {
            fail(9001047, format!("the lottery {id:?} has expired; it cannot be switched on"))
        }
        Some(l) => {
            l.fields.insert("onoff".into(), json!(onoff));
            json!({ "errcode": 0, "errmsg": "" })
        }
        None => no_lottery(id),
    }
}

fn query_lottery(sh: &Shake, b: &Map<String, Value>) -> Value {
    let id = str_field(b, "lottery_id");
    let Some(l) = sh.lotteries.get(id) else {
        return no_lottery(id);
    };
    let mut m = l.fields.clone();
    m.insert("lottery_id".into(), json!(id));
    m.insert("page_id".into(), json!(l.page_id));
    m.insert("prize_count".into(), json!(l.tickets.len()));
    m.insert("available_count".into(), json!(l.tickets.len()));
    m.insert("drawed_count".into(), json!(0));
    m.insert("errcode".into(), json!(0));
    m.insert("errmsg".into(), json!(""));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_plausible_and_stable() {
        let today = 100 * 86_400;
        let mut quiet = 0;
        for day in 0..90 {
            let c = counts(1, 10_100, day * 86_400, today);
            assert_eq!(c, counts(1, 10_100, day * 86_400, today));
            assert!(c[1] <= c[0] && c[2] <= c[0] && c[3] <= c[2] && c[3] <= c[1], "{c:?}");
            quiet += usize::from(c == [0; 4]);
        }
        assert!(quiet > 5 && quiet < 45, "some quiet days: {quiet}");
        assert_eq!(counts(1, 10_100, today, today), [0; 4]);
    }
}
