//! District lookup: `district::find`, `district::nearest`, `district::children`, built from
//! `map::districts()` of the server the run talks to, cached on disk per API base and held in
//! memory for the run, so a lookup in a loop costs no request.
//!
//! Every way a person writes a place is indexed up front (ids; names with and without 省/市/区
//! suffixes; province + city + district text with any level left out), so a lookup is one
//! hash probe.

use std::collections::HashMap;

use rhai::{Dynamic, Map};
use serde_json::Value;

use crate::runtime::catalog::HelperDoc;

/// One area of any level.
#[derive(Debug, Clone)]
pub struct Area {
    pub id: String,
    /// 1 province, 2 city, 3 district.
    pub level: u8,
    pub fullname: String,
    pub lat: f64,
    pub lng: f64,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    names: Vec<String>,
}

/// The lookup tables.
#[derive(Debug, Default)]
pub struct Index {
    pub areas: Vec<Area>,
    by_id: HashMap<String, usize>,
    by_text: HashMap<String, Vec<usize>>,
}

/// Suffixes dropped to get the short form people also write (广州市 -> 广州, 海珠区 -> 海珠).
const SUFFIXES: &[&str] = &[
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "林区",
    "新区",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
];

fn short_forms(full: &str, name: Option<&str>) -> Vec<String> {
    let mut v = vec![full.to_string()];
    if let Some(n) = name
        && !n.is_empty()
    {
        v.push(n.to_string());
    }
    for s in SUFFIXES {
        if let Some(stem) = full.strip_suffix(s)
            && stem.chars().count() >= 2
        {
            v.push(stem.to_string());
            break;
        }
    }
    v.sort();
    v.dedup();
    v
}

fn area_of(v: &Value, level: u8) -> Option<Area> {
    let id = v.get("id")?.as_str().map(str::to_string).or_else(|| v.get("id").map(|i| i.to_string()))?;
    let fullname = v.get("fullname").and_then(Value::as_str)?.to_string();
    let loc = v.get("location");
    let lat = loc.and_then(|l| l.get("lat")).and_then(Value::as_f64).unwrap_or(0.0);
    let lng = loc.and_then(|l| l.get("lng")).and_then(Value::as_f64).unwrap_or(0.0);
    let names = short_forms(&fullname, v.get("name").and_then(Value::as_str));
    Some(Area { id, level, fullname, lat, lng, parent: None, children: Vec::new(), names })
}

impl Index {
    /// Builds the index from `get_district`'s `result` (three arrays linked by `cidx`).
    pub fn build(result: &Value) -> Result<Index, String> {
        let levels = result.as_array().filter(|a| a.len() == 3).ok_or("the district table is not three arrays")?;
        let mut idx = Index::default();
        let mut offsets = [0usize; 3];
        for (l, arr) in levels.iter().enumerate() {
            offsets[l] = idx.areas.len();
            for v in arr.as_array().ok_or("a district level is not an array")? {
                if let Some(a) = area_of(v, l as u8 + 1) {
                    idx.areas.push(a);
                }
            }
        }
        for (l, arr) in levels.iter().enumerate().take(2) {
            for (i, v) in arr.as_array().into_iter().flatten().enumerate() {
                let me = offsets[l] + i;
                if let Some([first, last]) = v.get("cidx").and_then(Value::as_array).map(|c| [c.first(), c.last()]) {
                    let (Some(f), Some(t)) = (first.and_then(Value::as_u64), last.and_then(Value::as_u64)) else {
                        continue;
                    };
                    for c in f..=t {
                        let child = offsets[l + 1] + c as usize;
                        if child < idx.areas.len() && idx.areas[child].level == l as u8 + 2 {
                            idx.areas[child].parent = Some(me);
                            idx.areas[me].children.push(child);
                        }
                    }
                }
            }
        }
        for i in 0..idx.areas.len() {
            idx.by_id.insert(idx.areas[i].id.clone(), i);
            for key in idx.keys(i) {
                let e = idx.by_text.entry(key).or_default();
                if !e.contains(&i) {
                    e.push(i);
                }
            }
        }
        Ok(idx)
    }

    /// Every text that names area `i`: its own forms, prefixed by any of its ancestors' forms
    /// or by none.
    fn keys(&self, i: usize) -> Vec<String> {
        let mut chain = vec![i];
        let mut p = self.areas[i].parent;
        while let Some(x) = p {
            chain.push(x);
            p = self.areas[x].parent;
        }
        chain.reverse();
        let mut out = vec![String::new()];
        let last = chain.len() - 1;
        for (k, a) in chain.iter().enumerate() {
            let forms = &self.areas[*a].names;
            let mut next = Vec::new();
            for prefix in &out {
                for f in forms {
                    next.push(format!("{prefix}{f}"));
                }
                if k != last {
                    next.push(prefix.clone());
                }
            }
            out = next;
        }
        out.retain(|s| !s.is_empty());
        out
    }

    pub fn ancestors(&self, i: usize) -> (Option<usize>, Option<usize>) {
        let a = &self.areas[i];
        match a.level {
            1 => (Some(i), None),
            2 => (a.parent, Some(i)),
            _ => {
                let city = a.parent;
                (city.and_then(|c| self.areas[c].parent), city)
            }
        }
    }

    /// The area named by `text`; ambiguity and unknown names are explained.
    pub fn find(&self, text: &str) -> Result<usize, String> {
        let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if t.is_empty() {
            return Err("an empty name matches no district".into());
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return self.by_id.get(&t).copied().ok_or_else(|| format!("no district has id {t}"));
        }
        let Some(cands) = self.by_text.get(&t) else {
            let names = self.areas.iter().map(|a| a.fullname.as_str());
            let hint =
                crate::api::check::did_you_mean(&t, names).map(|s| format!(", did you mean {s}?")).unwrap_or_default();
            return Err(format!("no district matches {text:?}{hint}"));
        };
        if cands.len() == 1 {
            return Ok(cands[0]);
        }
        // A municipality is both a province and its only city: that is one place, not two.
        let shallowest = *cands.iter().min_by_key(|i| self.areas[**i].level).unwrap_or(&cands[0]);
        if cands.iter().all(|&c| {
            c == shallowest
                || self.is_within(c, shallowest) && self.areas[c].fullname == self.areas[shallowest].fullname
        }) {
            return Ok(shallowest);
        }
        let list: Vec<String> = cands.iter().map(|&c| format!("{} ({})", self.path(c), self.areas[c].id)).collect();
        Err(format!("{text:?} is ambiguous: {}; give the province or city too, or the id", list.join(", ")))
    }

    fn is_within(&self, mut i: usize, ancestor: usize) -> bool {
        while let Some(p) = self.areas[i].parent {
            if p == ancestor {
                return true;
            }
            i = p;
        }
        false
    }

    /// 广东省广州市海珠区 style text of an area.
    pub fn path(&self, i: usize) -> String {
        let (p, c) = self.ancestors(i);
        let mut s = String::new();
        for x in [p, c, Some(i)].into_iter().flatten() {
            if !s.ends_with(&self.areas[x].fullname) {
                s.push_str(&self.areas[x].fullname);
            }
        }
        s
    }

    /// The district (or city without districts) whose centre is nearest.
    pub fn nearest(&self, lat: f64, lng: f64) -> Option<usize> {
        let k = lat.to_radians().cos();
        self.areas
            .iter()
            .enumerate()
            .filter(|(_, a)| a.level == 3 || (a.level == 2 && a.children.is_empty()))
            .min_by(|(_, a), (_, b)| {
                let d = |x: &Area| (x.lat - lat).powi(2) + ((x.lng - lng) * k).powi(2);
                d(a).total_cmp(&d(b))
            })
            .map(|(i, _)| i)
    }

    /// `#{id, province, city, district, fullname, lat, lng, level}`.
    pub fn to_map(&self, i: usize) -> Map {
        let a = &self.areas[i];
        let (p, c) = self.ancestors(i);
        let name = |x: Option<usize>| x.map(|x| self.areas[x].fullname.clone()).unwrap_or_default();
        let mut m = Map::new();
        m.insert("id".into(), a.id.clone().into());
        m.insert("province".into(), name(p).into());
        m.insert("city".into(), name(c).into());
        m.insert("district".into(), if a.level == 3 { a.fullname.clone() } else { String::new() }.into());
        m.insert("fullname".into(), a.fullname.clone().into());
        m.insert("lat".into(), Dynamic::from_float(a.lat));
        m.insert("lng".into(), Dynamic::from_float(a.lng));
        m.insert("level".into(), Dynamic::from_int(a.level as i64));
        m
    }
}

/// The great-circle distance between two points, in kilometres.
pub fn distance_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lng2 - lng1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().atan2((1.0 - a).sqrt())
}

/// The declarations of the `district::` helpers.
pub const DOCS: &[HelperDoc] = &[
    HelperDoc {
        name: "district::find",
        signatures: &["district::find(text)"],
        doc: "One province, city or district by id (\"440105\"), name (\"海珠区\", \"海珠\", \"广州\"), or province/city/district text with or without suffixes (\"广东省广州市海珠区\", \"广州海珠\"). Ambiguous text throws, listing the candidates. Built from map::districts() once per run and cached on disk per API base.",
        returns: "#{id, province, city, district, fullname, lat, lng, level}",
        example: "let d = district::find(\"广州市海珠区\");\nprint(`${d.id} ${d.province}${d.city}${d.district}`);",
    },
    HelperDoc {
        name: "district::nearest",
        signatures: &["district::nearest(lat, lng)"],
        doc: "The district (or city without districts) whose centre is nearest to a point. A latitude outside -90..90 (often lat and lng swapped) or a point more than 500 km from every district centre (not in China) is an input error.",
        returns: "#{id, province, city, district, fullname, lat, lng, level}",
        example: "print(district::nearest(23.0974903107, 113.323753357).fullname);",
    },
    HelperDoc {
        name: "district::children",
        signatures: &["district::children(id_or_name)"],
        doc: "The cities of a province or the districts of a city.",
        returns: "array of #{id, province, city, district, fullname, lat, lng, level}",
        example: "for d in district::children(\"广州市\") { print(d.fullname); }",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Index {
        let v: Value = serde_json::from_str(include_str!("../../data/districts.json")).expect("data");
        Index::build(&v).expect("index")
    }

    #[test]
    fn finds_by_every_form() {
        let x = sample();
        for t in
            ["440105", "海珠区", "广东省广州市海珠区", "广州市海珠区", "广州海珠", "广东海珠区", "广东 广州 海珠区"]
        {
            let i = x.find(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(x.areas[i].id, "440105", "{t}");
        }
        assert_eq!(x.areas[x.find("广州").expect("city")].id, "440100");
        assert_eq!(x.areas[x.find("广州市").expect("city")].id, "440100");
        assert_eq!(x.areas[x.find("北京").expect("municipality")].id, "110000");
    }

    #[test]
    fn explains_ambiguity_and_unknowns() {
        let x = sample();
        let e = x.find("鼓楼区").expect_err("ambiguous");
        assert!(e.contains("南京市") && e.contains("福州市"), "{e}");
        assert!(x.find("南京市鼓楼区").is_ok());
        assert!(x.find("火星市").is_err());
    }

    #[test]
    fn distance() {
        // Guangzhou to Beijing, about 1,890 km.
        let km = super::distance_km(23.13, 113.26, 39.90, 116.40);
        assert!((1850.0..1930.0).contains(&km), "{km}");
    }

    #[test]
    fn nearest_point() {
        let x = sample();
        let i = x.nearest(23.08331, 113.3172).expect("some");
        assert_eq!(x.areas[i].id, "440105");
    }
}
