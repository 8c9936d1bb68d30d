//! Results as people read them: short values on one line, maps and arrays indented with their
//! values aligned, an array of maps sharing the same keys as a table. Widths are display
//! columns (a CJK character takes two), so Chinese store names line up. A huge array or map
//! shows its first [`MAX_ITEMS`] items and says how many it left out: the whole value stays in
//! the session's `_`.

use rhai::{Array, Dynamic, Map};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

const INDENT: usize = 2;
/// The widest a table cell may grow before it is cut with `…`.
const MAX_CELL: usize = 40;
/// A column is never cut narrower than this to make a table fit.
const MIN_CELL: usize = 6;
/// The widest a column may be in a table that leaves columns out.
const NARROW_CELL: usize = 24;
/// How many items of an array or map (rows of a table) are shown; the rest are counted.
pub const MAX_ITEMS: usize = 100;

/// The line that stands for the items of a value that were not shown.
fn more(left_out: usize, total: usize) -> String {
    format!("… {left_out} more ({MAX_ITEMS} of {total} shown; the whole value is in _)")
}

/// The text shown for a result; empty for `()`, which prints nothing.
pub fn pretty(v: &Dynamic, width: usize) -> String {
    if v.is_unit() {
        return String::new();
    }
    block(v, 0, width.max(20))
}

/// Display width in terminal columns.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` padded with spaces to `w` columns.
fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// `s` cut to at most `w` columns, ending in `…` when cut.
pub fn truncate(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push('…');
    out
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key(k: &str) -> String {
    let ident = k.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_alphanumeric() || c == '_');
    if ident { k.to_string() } else { quote(k) }
}

/// The one-line form of any value, as rhai would read it back.
pub fn inline(v: &Dynamic) -> String {
    if v.is_unit() {
        return "()".into();
    }
    if v.is_string() {
        return quote(&v.clone().into_string().unwrap_or_default());
    }
    if let Ok(c) = v.as_char() {
        return format!("{c:?}");
    }
    // Past MAX_ITEMS an item count stands for the rest: the text stays bounded however big
    // the value.
    let rest = |n: usize| (n > MAX_ITEMS).then(|| format!("…{} more", n - MAX_ITEMS));
    if let Some(a) = v.read_lock::<Array>() {
        let items = a.iter().take(MAX_ITEMS).map(inline).chain(rest(a.len()));
        return format!("[{}]", items.collect::<Vec<_>>().join(", "));
    }
    if let Some(m) = v.read_lock::<Map>() {
        let items = m.iter().take(MAX_ITEMS).map(|(k, v)| format!("{}: {}", key(k), inline(v))).chain(rest(m.len()));
        return format!("#{{{}}}", items.collect::<Vec<_>>().join(", "));
    }
    v.to_string()
}

/// A table cell: strings without quotes, everything else in its one-line form; cut to
/// [`MAX_CELL`] unless it is an id.
fn cell(v: &Dynamic, id: bool) -> String {
    let s = if v.is_string() { v.clone().into_string().unwrap_or_default() } else { inline(v) };
    let s = s.replace(['\n', '\r', '\t'], " ");
    if id { s } else { truncate(&s, MAX_CELL) }
}

fn block(v: &Dynamic, indent: usize, width_: usize) -> String {
    // Records read best as a table, however few: a result on its own line is one.
    if indent == 0
        && let Some(t) = v.read_lock::<Array>().and_then(|a| table(&a, 0, width_))
    {
        return t;
    }
    let one = inline(v);
    if indent + width(&one) <= width_ {
        return one;
    }
    if let Some(a) = v.read_lock::<Array>() {
        let inner = " ".repeat(indent + INDENT);
        let mut out = String::from("[\n");
        for item in a.iter().take(MAX_ITEMS) {
            out.push_str(&format!("{inner}{},\n", block(item, indent + INDENT, width_)));
        }
        if a.len() > MAX_ITEMS {
            out.push_str(&format!("{inner}{}\n", more(a.len() - MAX_ITEMS, a.len())));
        }
        out.push_str(&" ".repeat(indent));
        out.push(']');
        return out;
    }
    if let Some(m) = v.read_lock::<Map>() {
        let inner = " ".repeat(indent + INDENT);
        let keys: Vec<String> = m.keys().take(MAX_ITEMS).map(|k| key(k)).collect();
        let kw = keys.iter().map(|k| width(k)).max().unwrap_or(0);
        let mut out = String::from("#{\n");
        for (k, v) in keys.iter().zip(m.values()) {
            // A list of records (a page's `business_list`) gets a table below its key.
            let fits = indent + INDENT + kw + 2 + width(&inline(v)) <= width_;
            if !fits && let Some(t) = v.read_lock::<Array>().and_then(|a| table(&a, indent + 2 * INDENT, width_)) {
                out.push_str(&format!("{inner}{k}:\n{t}\n"));
                continue;
            }
            // Values line up after the longest key; a nested block starts on the key's line.
            let val = block(v, indent + INDENT + kw + 2, width_);
            out.push_str(&format!("{inner}{} {val},\n", pad(&format!("{k}:"), kw + 1)));
        }
        if m.len() > MAX_ITEMS {
            out.push_str(&format!("{inner}{}\n", more(m.len() - MAX_ITEMS, m.len())));
        }
        out.push_str(&" ".repeat(indent));
        out.push('}');
        return out;
    }
    one
}

/// Whether a column holds ids, which are never cut: half an id is no use to anyone.
fn is_id(k: &str) -> bool {
    k == "id" || k.ends_with("_id") || k.ends_with("_uid") || k.ends_with("id") && k.len() <= 6
}

/// Where a column goes: ids first, then names, then the rest in their own order.
fn rank(k: &str) -> u8 {
    if is_id(k) {
        0
    } else if k.contains("name") {
        1
    } else {
        2
    }
}

/// An array of maps with the same keys, as a table with a row number column, every line
/// indented by `indent`; `None` when the rows differ. Ids and names come first, and neither
/// an id nor a header is ever cut. Past [`MAX_ITEMS`] rows, a line counts the rest.
///
/// A table too wide for the terminal first has its widest other cells cut. When even that is
/// not enough (a store has fifteen fields), it keeps the simple columns that fit, ids and names
/// first, and says which columns it left out.
fn table(rows: &Array, indent: usize, width_: usize) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    let maps: Vec<Map> = rows.iter().map(|r| r.read_lock::<Map>().map(|m| m.clone())).collect::<Option<_>>()?;
    let mut keys: Vec<&str> = maps[0].keys().map(|k| k.as_str()).collect();
    if keys.is_empty() || maps.iter().any(|m| m.len() != keys.len() || keys.iter().any(|k| !m.contains_key(*k))) {
        return None;
    }
    keys.sort_by_key(|k| rank(k));
    let shown = &maps[..maps.len().min(MAX_ITEMS)];
    let cells: Vec<Vec<String>> = shown.iter().map(|m| keys.iter().map(|k| cell(&m[*k], is_id(k))).collect()).collect();
    let natural: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| cells.iter().map(|r| width(&r[i])).max().unwrap_or(0).max(width(k)))
        .collect();
    // The narrowest a column may be cut to: an id not at all, any other not below its header.
    let least = |i: usize| if is_id(keys[i]) { natural[i] } else { MIN_CELL.max(width(keys[i])).min(natural[i]) };
    let num_w = (shown.len() - 1).to_string().len();
    let total = |cols: &[(usize, usize)]| indent + num_w + cols.iter().map(|c| c.1 + 2).sum::<usize>();
    // (column, width) of the columns shown.
    let mut cols: Vec<(usize, usize)> = natural.iter().copied().enumerate().collect();
    // Too wide: narrow the widest column that may be narrowed, step by step.
    while total(&cols) > width_ {
        let Some(widest) = cols.iter_mut().filter(|c| c.1 > least(c.0)).max_by_key(|c| c.1) else { break };
        widest.1 -= 1;
    }
    if total(&cols) > width_ {
        let nested = |i: usize| shown.iter().any(|m| m[keys[i]].is_array() || m[keys[i]].is_map());
        cols.clear();
        for i in (0..keys.len()).filter(|i| !nested(*i)) {
            let w = if is_id(keys[i]) { natural[i] } else { natural[i].min(NARROW_CELL.max(width(keys[i]))) };
            cols.push((i, w));
            // The first column stays however wide: a table always shows its id. Another one
            // is cut to the room left, if its header fits.
            let over = total(&cols).saturating_sub(width_);
            if cols.len() > 1 && over > 0 {
                match cols.last_mut() {
                    Some(c) if c.1 >= least(i) + over => c.1 -= over,
                    _ => {
                        cols.pop();
                    }
                }
            }
        }
        if cols.len() < 2 {
            return None;
        }
    }
    let lead = " ".repeat(indent);
    let line = |num: &str, row: &dyn Fn(usize) -> String| {
        let mut s = format!("{lead}{num:>num_w$}");
        for &(i, w) in &cols {
            s.push_str("  ");
            s.push_str(&pad(&truncate(&row(i), w), w));
        }
        s.trim_end().to_string()
    };
    let mut out = line("", &|i| keys[i].to_string());
    out.push('\n');
    let rule: std::collections::HashMap<usize, String> = cols.iter().map(|&(i, w)| (i, "─".repeat(w))).collect();
    out.push_str(&line("", &|i| rule[&i].clone()));
    for (n, row) in cells.iter().enumerate() {
        out.push('\n');
        out.push_str(&line(&n.to_string(), &|i| row[i].clone()));
    }
    if maps.len() > shown.len() {
        out.push_str(&format!("\n{lead}{}", more(maps.len() - shown.len(), maps.len())));
    }
    let left_out: Vec<&str> = (0..keys.len()).filter(|i| !cols.iter().any(|c| c.0 == *i)).map(|i| keys[i]).collect();
    if !left_out.is_empty() {
        // Wrapped, not cut: the names are what the reader needs to ask for them.
        let mut note = format!("\n{lead}({} more:", left_out.len());
        let mut used = indent + width(&note) - 1;
        for (n, k) in left_out.iter().enumerate() {
            let word = format!(" {k}{}", if n + 1 == left_out.len() { ")" } else { "," });
            if used + width(&word) > width_ && used > indent {
                note.push_str(&format!("\n{lead} "));
                used = indent + 1;
            }
            used += width(&word);
            note.push_str(&word);
        }
        out.push_str(&note);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Dynamic {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert((*k).into(), v.clone());
        }
        Dynamic::from_map(m)
    }

    #[test]
    fn unit_prints_nothing_scalars_print_plainly() {
        assert_eq!(pretty(&Dynamic::UNIT, 80), "");
        assert_eq!(pretty(&Dynamic::from(42_i64), 80), "42");
        assert_eq!(pretty(&Dynamic::from("门店\n"), 80), "\"门店\\n\"");
        assert_eq!(pretty(&Dynamic::from(true), 80), "true");
    }

    #[test]
    fn short_values_stay_on_one_line() {
        let v = map(&[("audit_id", Dynamic::from(7_i64)), ("name", "a b".into())]);
        assert_eq!(pretty(&v, 80), "#{audit_id: 7, name: \"a b\"}");
        let a = Dynamic::from_array(vec![Dynamic::from(1_i64), Dynamic::UNIT]);
        assert_eq!(pretty(&a, 80), "[1, ()]");
        assert_eq!(pretty(&map(&[("a-b", Dynamic::UNIT)]), 80), "#{\"a-b\": ()}");
    }

    #[test]
    fn long_maps_indent_and_align_values() {
        let inner = Dynamic::from_array(vec!["http://mmbiz.qpic.cn/1.jpg".into(), "http://mmbiz.qpic.cn/2.jpg".into()]);
        let v = map(&[("poi_id", Dynamic::from(1_i64)), ("photo_list", inner), ("business_name", "测试便利店".into())]);
        let out = pretty(&v, 40);
        let expected = "#{\n  business_name: \"测试便利店\",\n  photo_list:    [\n                   \"http://mmbiz.qpic.cn/1.jpg\",\n                   \"http://mmbiz.qpic.cn/2.jpg\",\n                 ],\n  poi_id:        1,\n}";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn arrays_of_same_maps_are_tables_aligned_by_display_width() {
        let rows = Dynamic::from_array(vec![
            map(&[("name", "测试便利店".into()), ("poi_id", Dynamic::from(4711_i64))]),
            map(&[("name", "shop".into()), ("poi_id", Dynamic::from(12_i64))]),
        ]);
        let out = pretty(&rows, 30);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "\n{out}");
        // The id comes first, whatever the keys' order.
        assert_eq!(lines[0], "   poi_id  name");
        assert_eq!(lines[1], "   ──────  ──────────");
        assert_eq!(lines[2], "0  4711    测试便利店");
        assert_eq!(lines[3], "1  12      shop");
        // The name column starts at the same display column in every row.
        let col = |l: &str| width(&l[..l.rfind("  ").unwrap_or(0)]);
        assert_eq!(col(lines[2]), col(lines[3]));
        // However short: a table even where the one-line form would fit, one row included.
        assert_eq!(pretty(&rows, 200).lines().count(), 4);
        let one = Dynamic::from_array(vec![map(&[("name", "shop".into()), ("poi_id", Dynamic::from(12_i64))])]);
        assert_eq!(pretty(&one, 200).lines().count(), 3, "{}", pretty(&one, 200));
    }

    #[test]
    fn a_page_of_records_gets_a_table_below_its_key() {
        let rows = Dynamic::from_array(vec![
            map(&[("name", "测试便利店".into()), ("poi_id", Dynamic::from(4711_i64))]),
            map(&[("name", "shop".into()), ("poi_id", Dynamic::from(12_i64))]),
        ]);
        let page = map(&[("business_list", rows), ("total_count", Dynamic::from(2_i64))]);
        let out = pretty(&page, 40);
        let expected = "#{\n  business_list:\n       poi_id  name\n       ──────  ──────────\n    0  4711    测试便利店\n    1  12      shop\n  total_count:   2,\n}";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn mixed_rows_are_not_a_table() {
        let rows = Dynamic::from_array(vec![
            map(&[("name", "a".repeat(30).into())]),
            map(&[("other", "b".repeat(30).into())]),
        ]);
        let out = pretty(&rows, 30);
        assert!(out.starts_with("[\n  #{"), "\n{out}");
    }

    #[test]
    fn wide_tables_cut_cells_to_fit() {
        let long = "很长的门店名称".repeat(6);
        let rows = Dynamic::from_array(vec![
            map(&[("name", long.clone().into()), ("id", Dynamic::from(1_i64))]),
            map(&[("name", long.into()), ("id", Dynamic::from(2_i64))]),
        ]);
        let out = pretty(&rows, 30);
        assert!(out.lines().all(|l| width(l) <= 30), "\n{out}");
        assert!(out.contains('…'), "\n{out}");
    }

    #[test]
    fn tables_with_too_many_columns_keep_ids_and_names_first() {
        let row = |id: i64, name: &str| {
            map(&[
                ("address", "广东省广州市海珠区府前路127号".into()),
                ("business_name", name.into()),
                ("city", "广州市".into()),
                ("latitude", Dynamic::from(23.062957)),
                ("open_time", "08:00-22:00".into()),
                ("photo_list", Dynamic::from_array(vec!["http://x/1.jpg".into()])),
                ("poi_id", Dynamic::from(id)),
                ("status", Dynamic::from(1_i64)),
                ("telephone", "020-12345678".into()),
            ])
        };
        let rows = Dynamic::from_array(vec![row(472671858, "瑞幸咖啡(海珠区府前店)"), row(9, "shop")]);
        let out = pretty(&rows, 60);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.iter().all(|l| width(l) <= 60), "\n{out}");
        assert!(lines[0].trim_start().starts_with("poi_id     business_name"), "\n{out}");
        assert!(lines[2].contains("472671858  瑞幸咖啡(海珠区府前店)"), "\n{out}");
        assert!(lines[4].starts_with("(") && lines[4].contains("photo_list"), "\n{out}");
    }

    #[test]
    fn ids_and_headers_are_never_cut_ids_and_names_come_first() {
        // A store as WeChat lists it, keys in its order: the id last, long headers.
        let row = |id: &str| {
            map(&[
                ("address", "广东省广州市海珠区府前路127号".into()),
                ("business_name", "瑞幸咖啡(海珠区府前店)".into()),
                ("qualification_list", "media-id-1|media-id-2".into()),
                ("qualification_name", "食品经营许可证".into()),
                ("qualification_num", "JY14401050123456".into()),
                ("sosomap_poi_uid", id.into()),
                ("telephone", "020-12345678".into()),
            ])
        };
        let long_id = "8932347112233445566";
        let rows = Dynamic::from_array(vec![row(long_id), row("1")]);
        for w in [40, 60, 80, 100, 140, 200] {
            let out = pretty(&rows, w);
            let lines: Vec<&str> = out.lines().collect();
            let headers: Vec<&str> = lines[0].split_whitespace().collect();
            assert_eq!(headers[..2], ["sosomap_poi_uid", "business_name"], "width {w}:\n{out}");
            assert!(lines[2].contains(long_id), "width {w}: the id is whole\n{out}");
            // Every header shown is whole.
            assert!(!lines[0].contains('…'), "width {w}:\n{out}");
            for h in headers {
                assert!(row("1").read_lock::<Map>().is_some_and(|m| m.contains_key(h)), "width {w}: {h}\n{out}");
            }
        }
        // An id longer than any cell may be is not cut either.
        let media = "m".repeat(64);
        let rows = Dynamic::from_array(vec![map(&[("media_id", media.clone().into()), ("type", "image".into())])]);
        assert!(pretty(&rows, 200).contains(&media));
    }

    #[test]
    fn huge_values_show_the_first_items_and_count_the_rest() {
        let big = Dynamic::from_array((0..12_345_i64).map(Dynamic::from).collect());
        let out = pretty(&big, 80);
        assert!(out.lines().count() < MAX_ITEMS + 5, "{out}");
        assert!(out.contains("  99,\n") && !out.contains("  100,"), "{out}");
        assert!(out.contains("… 12245 more (100 of 12345 shown; the whole value is in _)"), "{out}");
        let rows = Dynamic::from_array((0..150_i64).map(|i| map(&[("poi_id", Dynamic::from(i))])).collect());
        let out = pretty(&rows, 80);
        assert!(out.contains("\n99  99\n") && !out.contains("\n100 "), "{out}");
        assert!(out.ends_with("… 50 more (100 of 150 shown; the whole value is in _)"), "{out}");
        let mut m = Map::new();
        for i in 0..250 {
            m.insert(format!("k{i:03}").into(), Dynamic::from(i as i64));
        }
        let out = pretty(&Dynamic::from_map(m), 80);
        assert!(out.contains("k099:") && !out.contains("k100:") && out.contains("… 150 more"), "{out}");
        // The one-line form is bounded too.
        assert!(inline(&big).ends_with(", 99, …12245 more]"));
    }

    #[test]
    fn truncate_counts_columns() {
        assert_eq!(truncate("门店门店", 5), "门店…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
