//! The XML of a pushed message, read into a JSON object and written from one.
//!
//! Reading: CDATA stays text (except in the fields declared as numbers), bare numbers become
//! ints (or floats), nested elements become objects, and an element whose children all bear
//! its singular name (`AroundBeacons/AroundBeacon`) becomes an array. Character references are
//! read; a DOCTYPE or any other entity is refused, since WeChat sends neither, and so is nesting
//! deeper than [`MAX_DEPTH`] (WeChat's go four deep), before a tree that deep is built and
//! walked recursively. A shake's beacons
//! are also given under the names scripts use (`chosen_beacon`, `around_beacons`).
//!
//! Writing: strings in CDATA, numbers bare, objects as nested elements (a beacon's in the
//! documents' order), arrays as repeated singular elements.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Number, Value};

use super::events::{self, AROUND_BEACONS, BEACON, CHOSEN_BEACON, SHAKEAROUND_USER_SHAKE};

#[derive(Default)]
struct Node {
    name: String,
    text: String,
    cdata: bool,
    children: Vec<Node>,
}

/// How deep elements may nest (`<xml>` counting as one). Reading and dropping the tree recurse,
/// so a push of thousands of nested elements would overflow the stack.
pub const MAX_DEPTH: usize = 32;

/// `<xml>...</xml>` as a JSON object.
pub fn read(xml: &str) -> Result<Map<String, Value>, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))? {
            Event::Start(s) => {
                // The stack's bottom is the document, not an element.
                if stack.len() > MAX_DEPTH {
                    return Err(format!(
                        "XML nested deeper than {MAX_DEPTH} elements (at byte {}): not a WeChat message",
                        reader.buffer_position()
                    ));
                }
                stack.push(Node { name: s.name().into_inner().to_string(), ..Node::default() })
            }
            Event::Empty(s) => {
                let n = Node { name: s.name().into_inner().to_string(), ..Node::default() };
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("unbalanced XML")?;
                stack.last_mut().ok_or("unbalanced XML")?.children.push(n);
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let ch = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        // Character references; any other entity would need a DOCTYPE to mean
                        // something, and WeChat sends none.
                        let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => name.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()),
                        };
                        code.and_then(char::from_u32).ok_or_else(|| format!("unknown XML entity &{name};"))?
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::DocType(_) => return Err("a DOCTYPE is not part of a WeChat message".into()),
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c);
                    top.cdata = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("unexpected end of XML: an element is not closed".into());
    }
    let root = stack.pop().and_then(|r| r.children.into_iter().next()).ok_or("no XML element found")?;
    match value(root)? {
        Value::Object(mut m) => {
            beacons(&mut m);
            Ok(m)
        }
        _ => Err("the event has no fields".into()),
    }
}

fn value(n: Node) -> Result<Value, String> {
    if n.children.is_empty() {
        let t = n.text.trim();
        if n.cdata
            && events::is_int(&n.name)
            && let Ok(i) = t.parse::<i64>()
        {
            return Ok(Value::from(i));
        }
        if !n.cdata {
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::from(i));
            }
            if t.contains('.')
                && let Ok(f) = t.parse::<f64>()
            {
                return float(f);
            }
        }
        return Ok(Value::String(n.text));
    }
    let plural = n.children.iter().all(|c| format!("{}s", c.name) == n.name);
    if plural {
        return n.children.into_iter().map(value).collect::<Result<_, _>>().map(Value::Array);
    }
    let mut m = Map::new();
    for c in n.children {
        // The name stays on the child too: it decides how the child's text reads.
        let name = c.name.clone();
        m.insert(name, value(c)?);
    }
    Ok(Value::Object(m))
}

fn float(f: f64) -> Result<Value, String> {
    Number::from_f64(f).map(Value::Number).ok_or_else(|| format!("the number {f} is out of range"))
}

/// `ChosenBeacon` and `AroundBeacons/AroundBeacon` also as `chosen_beacon` and
/// `around_beacons`, each `{uuid, major, minor, distance}` with a float distance.
fn beacons(m: &mut Map<String, Value>) {
    fn beacon(d: &Value) -> Option<Value> {
        let b = d.as_object()?;
        let mut out = Map::new();
        for (f, key) in BEACON {
            let v = b.get(f.name).cloned().unwrap_or(Value::Null);
            let v = match (f.kind, v.as_i64()) {
                (events::Kind::Float, Some(i)) => float(i as f64).unwrap_or(v),
                _ => v,
            };
            out.insert((*key).to_string(), v);
        }
        Some(Value::Object(out))
    }
    let (chosen, around) = (CHOSEN_BEACON, AROUND_BEACONS);
    if let Some(c) = m.get(chosen.name).and_then(beacon) {
        m.insert("chosen_beacon".into(), c);
    }
    let is_shake = m.get("Event").and_then(Value::as_str) == Some(SHAKEAROUND_USER_SHAKE.name);
    let list: Option<Vec<Value>> = match m.get(around.name) {
        // An empty <AroundBeacons/> reads as text; one element is still a list.
        Some(Value::Array(items)) => Some(items.iter().filter_map(beacon).collect()),
        Some(a) => Some(a.get(singular(around.name)).and_then(beacon).into_iter().collect()),
        // A shake with no beacon around the chosen one: an empty list, so scripts can loop.
        None if is_shake || m.contains_key(chosen.name) => Some(Vec::new()),
        None => None,
    };
    if let Some(list) = list {
        m.insert("around_beacons".into(), Value::Array(list));
    }
}

/// An array item's element name: `AroundBeacons` holds `AroundBeacon`s.
fn singular(plural: &str) -> &str {
    plural.strip_suffix('s').unwrap_or(plural)
}

/// `<xml>` with one element per `(name, value)`, one per line.
pub fn write<'a>(elements: impl IntoIterator<Item = (&'a str, &'a Value)>) -> String {
    let mut x = String::from("<xml>\n");
    for (k, v) in elements {
        x += &element(k, v);
        x.push('\n');
    }
    x + "</xml>"
}

fn element(k: &str, v: &Value) -> String {
    let body = match v {
        Value::String(s) => cdata(s),
        Value::Null => String::new(),
        Value::Object(o) => {
            // JSON objects sort their keys; the documents list a beacon's in their own order.
            let rank = |k: &str| BEACON.iter().position(|(f, _)| f.name == k).unwrap_or(BEACON.len());
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by_key(|k| (rank(k), k.as_str()));
            keys.iter().map(|k| element(k, &o[k.as_str()])).collect()
        }
        Value::Array(a) => a.iter().map(|v| element(singular(k), v)).collect(),
        other => other.to_string(),
    };
    format!("<{k}>{body}</{k}>")
}

/// Text in CDATA; a `]]>` inside is split across two sections.
fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn audit_event() {
        let m = read("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1488856741</CreateTime><Event><![CDATA[add_store_audit_info]]></Event><audit_id>11111</audit_id><status>3</status><reason><![CDATA[xxx]]></reason><poiid>12344</poiid></xml>").expect("reads");
        assert_eq!(m["CreateTime"], json!(1488856741));
        assert_eq!(m["poiid"], json!(12344));
        assert_eq!(m["Event"], json!("add_store_audit_info"));
    }

    #[test]
    fn beacons_become_arrays() {
        let m = read("<xml><AroundBeacons><AroundBeacon><Major>1</Major><Distance>1.5</Distance></AroundBeacon><AroundBeacon><Major>2</Major></AroundBeacon></AroundBeacons></xml>").expect("reads");
        assert_eq!(m["AroundBeacons"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn shake_event() {
        let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[ouser]]></FromUserName><CreateTime>1433332012</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[ShakearoundUserShake]]></Event>\
            <ChosenBeacon><Uuid><![CDATA[FDA50693-A4E2-4FB1-AFCF-C6EB07647825]]></Uuid><Major>10001</Major><Minor>1</Minor><Distance>0.057</Distance></ChosenBeacon>\
            <AroundBeacons><AroundBeacon><Uuid><![CDATA[FDA50693-A4E2-4FB1-AFCF-C6EB07647825]]></Uuid><Major>10001</Major><Minor>2</Minor><Distance>166</Distance></AroundBeacon></AroundBeacons></xml>";
        let m = read(xml).expect("reads");
        let chosen = &m["chosen_beacon"];
        assert_eq!(chosen["major"], json!(10001));
        assert_eq!(chosen["distance"].as_f64(), Some(0.057));
        assert_eq!(chosen["uuid"], json!("FDA50693-A4E2-4FB1-AFCF-C6EB07647825"));
        let around = m["around_beacons"].as_array().expect("array");
        assert_eq!(around.len(), 1);
        assert_eq!(around[0]["minor"], json!(2));
        assert!(around[0]["distance"].is_f64(), "a whole distance is still a float");
        assert_eq!(around[0]["distance"].as_f64(), Some(166.0));
        let none = read("<xml><Event><![CDATA[ShakearoundUserShake]]></Event><AroundBeacons></AroundBeacons></xml>")
            .expect("reads");
        assert_eq!(none["around_beacons"], json!([]));
        let absent = read(
            "<xml><Event><![CDATA[ShakearoundUserShake]]></Event><ChosenBeacon><Major>1</Major></ChosenBeacon></xml>",
        )
        .expect("reads");
        assert_eq!(absent["around_beacons"], json!([]));
        assert_eq!(absent["chosen_beacon"], json!({"uuid": null, "major": 1, "minor": null, "distance": null}));
        let other = read("<xml><Event><![CDATA[add_store_audit_info]]></Event></xml>").expect("reads");
        assert!(!other.contains_key("around_beacons"));
    }

    #[test]
    fn documented_numbers_are_ints_even_in_cdata() {
        let m = read("<xml><CreateTime><![CDATA[1488856741]]></CreateTime><audit_id><![CDATA[11111]]></audit_id><poiid><![CDATA[12344]]></poiid><reason><![CDATA[123]]></reason></xml>").expect("reads");
        assert_eq!(m["audit_id"], json!(11111));
        assert_eq!(m["poiid"], json!(12344));
        assert_eq!(m["CreateTime"], json!(1_488_856_741));
        assert_eq!(m["reason"], json!("123"), "text stays text");
    }

    #[test]
    fn entities_and_doctypes() {
        let m = read("<xml><reason>a &lt;b&gt; &amp; &#20013;&#x6587;</reason></xml>").expect("reads");
        assert_eq!(m["reason"], json!("a <b> & 中文"));
        assert!(read("<!DOCTYPE xml [<!ENTITY x \"y\">]><xml><a>&x;</a></xml>").is_err());
        assert!(read("<xml><a>&nosuch;</a></xml>").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let deep = |n: usize| format!("<xml>{}{}</xml>", "<a>".repeat(n), "</a>".repeat(n));
        assert!(read(&deep(MAX_DEPTH - 2)).is_ok());
        let e = read(&deep(MAX_DEPTH)).expect_err("refused");
        assert!(e.contains("nested deeper than 32"), "{e}");
        assert!(read(&deep(100_000)).is_err(), "a hostile depth is refused, not a crash");
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(read("<xml><a>1</xml>").is_err());
        assert!(read("").is_err());
        assert!(read("<xml><a>1.0e999</a></xml>").is_err(), "no JSON form");
    }

    #[test]
    fn writes_cdata_numbers_and_nesting() {
        let beacon = json!({"Uuid": "U", "Major": 1, "Minor": 2, "Distance": 0.5});
        let x = write([
            ("reason", &json!("a]]>b")),
            ("audit_id", &json!(7)),
            ("none", &Value::Null),
            ("ChosenBeacon", &beacon),
            ("AroundBeacons", &json!([beacon.clone()])),
        ]);
        assert_eq!(
            x,
            "<xml>\n<reason><![CDATA[a]]]]><![CDATA[>b]]></reason>\n<audit_id>7</audit_id>\n<none></none>\n\
             <ChosenBeacon><Uuid><![CDATA[U]]></Uuid><Major>1</Major><Minor>2</Minor><Distance>0.5</Distance></ChosenBeacon>\n\
             <AroundBeacons><AroundBeacon><Uuid><![CDATA[U]]></Uuid><Major>1</Major><Minor>2</Minor><Distance>0.5</Distance></AroundBeacon></AroundBeacons>\n</xml>"
        );
        let back = read(&x).expect("reads back");
        assert_eq!(back["reason"], json!("a]]>b"));
        assert_eq!(back["ChosenBeacon"], beacon);
        assert_eq!(back["AroundBeacons"], json!([beacon]));
    }
}
