//! The event pushes, declared once: every event the simulator pushes and the listener and
//! scripts read, with its fields in document order and what their numbers mean. The XML
//! writer takes the beacon's element order from here, the reader the fields it reads as
//! numbers and the names scripts use for a beacon, and the simulator builds its events from
//! these declarations. The third-party platform's pushes (`InfoType`) are declared here too.

use serde_json::{Map, Value};

/// What a field holds, as the XML carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number, bare (read as a number even when a sender wraps it in CDATA).
    Int,
    /// A decimal number, bare.
    Float,
    /// Text, in CDATA.
    Text,
    /// One beacon: the elements of [`BEACON`].
    Beacon,
    /// Beacons, each in the singular of the field's name (`AroundBeacons/AroundBeacon`).
    Beacons,
}

/// One element of a push.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The XML element's name.
    pub name: &'static str,
    pub kind: Kind,
    /// What it holds, numbers with their meaning.
    pub doc: &'static str,
}

const fn field(name: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field { name, kind, doc }
}

/// One declared event push.
#[derive(Clone, Copy, Debug)]
pub struct PushEvent {
    /// The `Event` element.
    pub name: &'static str,
    /// What happened, in one line.
    pub doc: &'static str,
    /// The fields after the header, in document order. A `FromUserName` among them is the
    /// header's sender (a user's event), not an element of its own.
    pub fields: &'static [Field],
}

impl PushEvent {
    /// The event's fields named from this declaration, given their values in its order.
    pub fn with(&self, values: Vec<Value>) -> Vec<(&'static str, Value)> {
        debug_assert_eq!(values.len(), self.fields.len(), "{}: one value per declared field", self.name);
        self.fields.iter().map(|f| f.name).zip(values).collect()
    }
}

/// The header every event push opens with, in order.
pub const HEADER: &[Field] = &[
    field(TO_USER_NAME, Kind::Text, "the official account the push is for (its gh_ id)"),
    field(FROM_USER_NAME, Kind::Text, "the sender: the platform's system user, or the user's openid"),
    field(CREATE_TIME, Kind::Int, "unix seconds"),
    field(MSG_TYPE, Kind::Text, "`event`"),
    field("Event", Kind::Text, "which event (a name below)"),
];

/// The recipient element: an account's messages carry it, the platform's own pushes do not.
pub const TO_USER_NAME: &str = "ToUserName";
/// The sender element, which a user's event carries among its fields.
pub const FROM_USER_NAME: &str = "FromUserName";
/// When a message or push was sent, in unix seconds (every message and push has it).
pub const CREATE_TIME: &str = "CreateTime";
/// What kind of message (`event` for an event push).
pub const MSG_TYPE: &str = "MsgType";

/// A beacon's elements in the documents' order, each with the key scripts read it by
/// (`chosen_beacon`, `around_beacons`).
pub const BEACON: &[(Field, &str)] = &[
    (field("Uuid", Kind::Text, "the beacon's UUID"), "uuid"),
    (field("Major", Kind::Int, "its major"), "major"),
    (field("Minor", Kind::Int, "its minor"), "minor"),
    (field("Distance", Kind::Float, "metres from the user"), "distance"),
];

/// A beacon as a shake's `ChosenBeacon` or `AroundBeacon` carries it.
pub fn beacon(uuid: &str, major: i64, minor: i64, distance: f64) -> Value {
    let values = [Value::from(uuid), Value::from(major), Value::from(minor), Value::from(distance)];
    Value::Object(BEACON.iter().map(|(f, _)| f.name.to_string()).zip(values).collect())
}

pub const APPLY_MERCHANT_AUDIT_INFO: PushEvent = PushEvent {
    name: "apply_merchant_audit_info",
    doc: "The store mini-program application was audited: status 1 approved, 3 failed, 4 refused by the administrator.",
    fields: &[
        field("audit_id", Kind::Int, "the audit, as merchant::apply answered it"),
        field("status", Kind::Int, "1 approved, 3 failed, 4 refused by the administrator"),
        field("reason", Kind::Text, "why, when status is 3 or 4"),
    ],
};

pub const CREATE_MAP_POI_AUDIT_INFO: PushEvent = PushEvent {
    name: "create_map_poi_audit_info",
    doc: "A POI created on Tencent map was audited: status 0 approved, 1 failed (the reverse of the other audits).",
    fields: &[
        field("audit_id", Kind::Int, "the audit: the base_id map::create_poi answered"),
        field("status", Kind::Int, "0 approved, 1 failed"),
        field("map_poi_id", Kind::Text, "the POI's id on Tencent map"),
        field("name", Kind::Text, "the POI's name"),
        field("address", Kind::Text, "its address"),
        field("latitude", Kind::Text, "its latitude"),
        field("longitude", Kind::Text, "its longitude"),
        field("sh_remark", Kind::Text, "the auditor's remark"),
    ],
};

pub const ADD_STORE_AUDIT_INFO: PushEvent = PushEvent {
    name: "add_store_audit_info",
    doc: "An added (or migrated) store was audited: status 1 approved, 3 failed.",
    fields: &[
        field("audit_id", Kind::Int, "the audit store::add answered"),
        field("status", Kind::Int, "1 approved, 3 failed"),
        field("reason", Kind::Text, "why, when status is 3"),
        field("is_upgrade", Kind::Int, "0 a new store, 1 a migrated one"),
        field("poiid", Kind::Int, "the store's poi_id (meaningful when status is 1)"),
    ],
};

pub const MODIFY_STORE_AUDIT_INFO: PushEvent = PushEvent {
    name: "modify_store_audit_info",
    doc: "A store's new pictures were audited: status 1 approved, 3 failed.",
    fields: &[
        field("audit_id", Kind::Int, "the audit store::update answered"),
        field("status", Kind::Int, "1 approved, 3 failed"),
        field("reason", Kind::Text, "why, when status is 3"),
    ],
};

pub const SHAKEAROUND_USER_SHAKE: PushEvent = PushEvent {
    name: "ShakearoundUserShake",
    doc: "A user shook near a beacon: the nearest one and the others in range, distances in metres.",
    fields: &[field(FROM_USER_NAME, Kind::Text, "the user's openid"), CHOSEN_BEACON, AROUND_BEACONS],
};

/// A shake's nearest beacon.
pub const CHOSEN_BEACON: Field = field("ChosenBeacon", Kind::Beacon, "the beacon the user was matched to");
/// A shake's other beacons.
pub const AROUND_BEACONS: Field = field("AroundBeacons", Kind::Beacons, "the other beacons in range (possibly none)");

/// Every declared event push.
pub const EVENTS: &[PushEvent] = &[
    APPLY_MERCHANT_AUDIT_INFO,
    CREATE_MAP_POI_AUDIT_INFO,
    ADD_STORE_AUDIT_INFO,
    MODIFY_STORE_AUDIT_INFO,
    SHAKEAROUND_USER_SHAKE,
];

/// The declaration of event `name`.
pub fn by_name(name: &str) -> Option<&'static PushEvent> {
    EVENTS.iter().find(|e| e.name == name)
}

/// Whether `element` is declared a whole number, in the header or in an event's own fields
/// (the ones read as numbers even from CDATA).
pub fn is_int(element: &str) -> bool {
    HEADER
        .iter()
        .chain(EVENTS.iter().flat_map(|e| e.fields))
        .chain(PLATFORM_HEADER)
        .chain(PLATFORM_EVENTS.iter().flat_map(|e| e.fields))
        .any(|f| f.name == element && f.kind == Kind::Int)
}

// ---------------------------------------------------------------------------------------------
// The third-party platform's pushes, to its authorization event URL: `InfoType` where an
// account's pushes have `Event`, and no `ToUserName` (they are for the platform itself).

/// A platform push's element naming the platform (its component appid).
pub const APP_ID: &str = "AppId";
/// A platform push's element naming which push it is (where an account's push has `Event`).
pub const INFO_TYPE: &str = "InfoType";
/// The account a platform push is about (and, in the log, the authorizer a message came for).
pub const AUTHORIZER_APPID: &str = "AuthorizerAppid";
/// The code an authorisation push carries.
pub const AUTHORIZATION_CODE: &str = "AuthorizationCode";
/// The ticket a `component_verify_ticket` push carries.
pub const VERIFY_TICKET: &str = "ComponentVerifyTicket";

/// The header every platform push opens with, in order.
pub const PLATFORM_HEADER: &[Field] = &[
    field(APP_ID, Kind::Text, "the platform's component appid"),
    field(CREATE_TIME, Kind::Int, "unix seconds"),
    field(INFO_TYPE, Kind::Text, "which push (a name below)"),
];

pub const COMPONENT_VERIFY_TICKET: PushEvent = PushEvent {
    name: "component_verify_ticket",
    doc: "WeChat's ticket for the platform's component token, pushed every 10 minutes; the newest wins, each lives 12 hours.",
    fields: &[field(VERIFY_TICKET, Kind::Text, "the ticket api_component_token takes")],
};

/// The fields of an authorisation push (`authorized`, `updateauthorized`).
const AUTHORIZATION: &[Field] = &[
    field(AUTHORIZER_APPID, Kind::Text, "the account that authorised the platform"),
    field(AUTHORIZATION_CODE, Kind::Text, "the code api_query_auth exchanges"),
    field("AuthorizationCodeExpiredTime", Kind::Int, "unix seconds when the code expires"),
    field("PreAuthCode", Kind::Text, "the pre-auth code the admin authorised with"),
];

pub const AUTHORIZED: PushEvent = PushEvent {
    name: "authorized",
    doc: "An account's admin authorised the platform: exchange the code at once (api_query_auth) to keep its refresh token.",
    fields: AUTHORIZATION,
};

pub const UPDATEAUTHORIZED: PushEvent = PushEvent {
    name: "updateauthorized",
    doc: "An account's admin changed the permission sets it grants the platform: exchange the code again.",
    fields: AUTHORIZATION,
};

pub const UNAUTHORIZED: PushEvent = PushEvent {
    name: "unauthorized",
    doc: "An account revoked the platform's authorisation: its refresh token no longer works (61023).",
    fields: &[field(AUTHORIZER_APPID, Kind::Text, "the account that revoked it")],
};

/// Every declared platform push, by `InfoType`.
pub const PLATFORM_EVENTS: &[PushEvent] = &[COMPONENT_VERIFY_TICKET, AUTHORIZED, UPDATEAUTHORIZED, UNAUTHORIZED];

/// The declaration of platform push `info_type`.
pub fn platform_by_name(info_type: &str) -> Option<&'static PushEvent> {
    PLATFORM_EVENTS.iter().find(|e| e.name == info_type)
}

/// One platform push: the header, then its own fields in document order.
#[derive(Clone, Copy, Debug)]
pub struct PlatformPush<'a> {
    /// `AppId`: the component appid.
    pub appid: &'a str,
    pub create_time: u64,
    /// `InfoType`.
    pub info_type: &'a str,
    pub fields: &'a [(&'static str, Value)],
}

impl PlatformPush<'_> {
    /// Every element in order: the header, then the fields.
    pub fn elements(&self) -> Vec<(&str, Value)> {
        let header: [Value; 3] = [self.appid.into(), self.create_time.into(), self.info_type.into()];
        let own = self.fields.iter().map(|(k, v)| (*k, v.clone()));
        PLATFORM_HEADER.iter().map(|f| f.name).zip(header).chain(own).collect()
    }

    /// As WeChat pushes it (before encryption).
    pub fn to_xml(&self) -> String {
        super::xml::write(self.elements().iter().map(|(k, v)| (*k, v)))
    }

    /// As a JSON object with the XML's element names.
    pub fn to_json(&self) -> Map<String, Value> {
        self.elements().into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// One event push: the header, then the event's own fields in document order.
#[derive(Clone, Copy, Debug)]
pub struct Push<'a> {
    /// `ToUserName`.
    pub to: &'a str,
    /// The sender when the fields carry none (the platform's system user).
    pub from: &'a str,
    pub create_time: u64,
    pub event: &'a str,
    pub fields: &'a [(&'static str, Value)],
}

impl Push<'_> {
    /// The sender: a user's event names the user among its fields.
    pub fn sender(&self) -> &str {
        self.fields.iter().find(|(k, _)| *k == FROM_USER_NAME).and_then(|(_, v)| v.as_str()).unwrap_or(self.from)
    }

    /// Every element in order: the header, then the fields (less the sender).
    pub fn elements(&self) -> Vec<(&str, Value)> {
        let header: [Value; 5] =
            [self.to.into(), self.sender().into(), self.create_time.into(), "event".into(), self.event.into()];
        let own = self.fields.iter().filter(|(k, _)| *k != FROM_USER_NAME).map(|(k, v)| (*k, v.clone()));
        HEADER.iter().map(|f| f.name).zip(header).chain(own).collect()
    }

    /// As WeChat pushes it.
    pub fn to_xml(&self) -> String {
        super::xml::write(self.elements().iter().map(|(k, v)| (*k, v)))
    }

    /// As a JSON object with the XML's element names.
    pub fn to_json(&self) -> Map<String, Value> {
        self.elements().into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_platform_push_has_infotype_and_reads_back_with_its_numbers() {
        let fields = AUTHORIZED.with(vec![json!("wxa"), json!("code"), json!(1_700_003_600), json!("pre")]);
        let p = PlatformPush { appid: "wxc", create_time: 1_700_000_000, info_type: AUTHORIZED.name, fields: &fields };
        let x = p.to_xml();
        assert!(x.contains("<InfoType><![CDATA[authorized]]></InfoType>"), "{x}");
        assert!(!x.contains("ToUserName"), "{x}");
        let back = crate::message::xml::read(&x).expect("reads back");
        assert_eq!(back["AuthorizationCodeExpiredTime"], json!(1_700_003_600));
        assert_eq!(Value::Object(back), Value::Object(p.to_json()));
        assert_eq!(platform_by_name("unauthorized").map(|e| e.fields.len()), Some(1));
    }
    use crate::message::xml;

    /// A value of each kind, with text that needs escaping and numbers that are not whole.
    fn sample(kind: Kind, i: usize) -> Value {
        let beacon = |n: i64| beacon("FDA50693-A4E2-4FB1-AFCF-C6EB07647825", 10_001, n, 0.25 + n as f64);
        match kind {
            Kind::Int => json!(1000 + i),
            Kind::Float => json!(1.5 + i as f64),
            Kind::Text => json!(format!("a]]>b <&> 中文 {i}")),
            Kind::Beacon => beacon(1),
            Kind::Beacons => json!([beacon(2), beacon(3)]),
        }
    }

    #[test]
    fn declarations_are_unique_and_documented() {
        let mut names = HashSet::new();
        for e in EVENTS {
            assert!(names.insert(e.name), "{} declared twice", e.name);
            assert!(!e.doc.is_empty(), "{}: no doc", e.name);
            assert_eq!(by_name(e.name).map(|d| d.name), Some(e.name));
            let mut fields = HashSet::new();
            for f in e.fields {
                assert!(fields.insert(f.name), "{}.{} declared twice", e.name, f.name);
                assert!(!f.doc.is_empty(), "{}.{}: no doc", e.name, f.name);
                assert!(
                    f.name == FROM_USER_NAME || !HEADER.iter().any(|h| h.name == f.name),
                    "{}.{} is a header element",
                    e.name,
                    f.name
                );
            }
        }
        assert!(by_name("no_such_event").is_none());
    }

    #[test]
    fn statuses_say_what_they_mean() {
        // The map audit counts the other way round from every other audit.
        let status = |e: &PushEvent| e.fields.iter().find(|f| f.name == "status").map(|f| f.doc);
        assert_eq!(status(&CREATE_MAP_POI_AUDIT_INFO), Some("0 approved, 1 failed"));
        for e in [APPLY_MERCHANT_AUDIT_INFO, ADD_STORE_AUDIT_INFO, MODIFY_STORE_AUDIT_INFO] {
            assert!(status(&e).is_some_and(|d| d.starts_with("1 approved, 3 failed")), "{}", e.name);
        }
    }

    #[test]
    fn numbers_read_from_cdata_are_the_declared_ints() {
        let mut ints: Vec<&str> = HEADER.iter().chain(EVENTS.iter().flat_map(|e| e.fields)).map(|f| f.name).collect();
        ints.retain(|n| is_int(n));
        ints.sort_unstable();
        ints.dedup();
        assert_eq!(ints, ["CreateTime", "audit_id", "is_upgrade", "poiid", "status"]);
    }

    #[test]
    fn every_event_reads_back_as_written() {
        for e in EVENTS {
            let values = e.fields.iter().enumerate().map(|(i, f)| sample(f.kind, i)).collect();
            let fields = e.with(values);
            let push = Push { to: "gh_1", from: "system", create_time: 1_488_856_741, event: e.name, fields: &fields };
            let xml = push.to_xml();
            let read = xml::read(&xml).unwrap_or_else(|m| panic!("{}: {m}\n{xml}", e.name));
            let written = push.to_json();
            for (k, v) in &written {
                assert_eq!(read.get(k), Some(v), "{}: {k} reads back\n{xml}", e.name);
            }
            // Only the script names of a shake's beacons are added.
            let extra: Vec<&String> = read.keys().filter(|k| !written.contains_key(*k)).collect();
            let expected: &[&str] =
                if e.name == SHAKEAROUND_USER_SHAKE.name { &["around_beacons", "chosen_beacon"] } else { &[] };
            assert_eq!(extra, expected, "{}", e.name);
            assert_eq!(read["Event"], json!(e.name));
            assert_eq!(read["MsgType"], json!("event"));
        }
    }

    #[test]
    fn a_users_event_comes_from_the_user() {
        let fields = SHAKEAROUND_USER_SHAKE.with(vec![json!("ouser"), sample(Kind::Beacon, 0), json!([])]);
        let push =
            Push { to: "gh_1", from: "system", create_time: 1, event: SHAKEAROUND_USER_SHAKE.name, fields: &fields };
        let names: Vec<&str> = push.elements().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChosenBeacon", "AroundBeacons"]
        );
        assert_eq!(push.to_json()["FromUserName"], json!("ouser"));
        let read = xml::read(&push.to_xml()).expect("reads");
        assert_eq!(read["chosen_beacon"]["uuid"], json!("FDA50693-A4E2-4FB1-AFCF-C6EB07647825"));
        assert_eq!(read["around_beacons"], json!([]));
    }
}
