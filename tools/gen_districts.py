#!/usr/bin/env python3
"""Generate data/districts.json from cpca's adcodes.csv.

The output mirrors the `result` field of WeChat's `wxa/get_district` answer:
a 3-element array [provinces, cities, districts].  Provinces and cities carry
`cidx` = inclusive [first, last] index range of their children in the next
level's array.

Usage (from the repository root):

    pip download --no-deps -d /tmp/cpca cpca==0.5.5
    pip install pypinyin==0.55.0
    python3 tools/gen_districts.py /tmp/cpca/cpca-0.5.5-py3-none-any.whl

The input may be the cpca wheel/sdist archive (adcodes.csv is read from
cpca/resources/ inside it) or a path to an extracted adcodes.csv.
Pass --no-pinyin to build without pypinyin (the `pinyin` arrays are omitted).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

CSV_MEMBER = "cpca/resources/adcodes.csv"

MUNICIPALITIES = {"11", "12", "31", "50"}  # 北京 天津 上海 重庆

# 56 ethnic groups (same list as cpca/resources/56_nations.csv); used to turn
# "延边朝鲜族自治州" into the short name "延边".
NATIONS = (
    "汉族 蒙古族 回族 藏族 维吾尔族 苗族 彝族 壮族 布依族 朝鲜族 满族 侗族 瑶族 白族 "
    "土家族 哈尼族 哈萨克族 傣族 黎族 傈僳族 佤族 畲族 拉祜族 水族 东乡族 纳西族 景颇族 "
    "柯尔克孜族 土族 达斡尔族 仫佬族 羌族 布朗族 撒拉族 毛南族 仡佬族 锡伯族 阿昌族 普米族 "
    "塔吉克族 怒族 乌孜别克族 俄罗斯族 鄂温克族 德昂族 保安族 裕固族 京族 塔塔尔族 独龙族 "
    "鄂伦春族 赫哲族 门巴族 珞巴族 基诺族 高山族"
).split()
# Longest first so that e.g. "土家族" wins over "土族"; also accept the form
# without "族" (博尔塔拉蒙古自治州, 伊犁哈萨克自治州, 克孜勒苏柯尔克孜自治州).
NATION_FORMS = sorted(
    {n for n in NATIONS} | {n[:-1] for n in NATIONS if len(n) > 2},
    key=len,
    reverse=True,
)

# Polyphonic characters that pypinyin reads wrongly in place names.
PINYIN_OVERRIDES = {
    "长治": ["chang", "zhi"],
    "朝阳": ["chao", "yang"],
    "克孜勒苏": ["ke", "zi", "le", "su"],
    "漯河": ["luo", "he"],
    "锡林郭勒": ["xi", "lin", "guo", "le"],
    "阿勒泰": ["a", "le", "tai"],
    "昌都": ["chang", "du"],
}


def read_csv_text(src: Path) -> str:
    name = src.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(src) as zf:
            return zf.read(CSV_MEMBER).decode("utf-8")
    if name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(src) as tf:
            for m in tf.getmembers():
                if m.name.endswith("/" + CSV_MEMBER):
                    return tf.extractfile(m).read().decode("utf-8")
        raise SystemExit(f"{CSV_MEMBER} not found in {src}")
    return src.read_text(encoding="utf-8")


def strip_nations(s: str) -> str:
    changed = True
    while changed:
        changed = False
        for n in NATION_FORMS:
            if s.endswith(n) and len(s) - len(n) >= 2:
                s = s[: -len(n)]
                changed = True
                break
    return s


def short_name(full: str) -> str:
    for suffix in ("特别行政区", "自治区", "自治州"):
        if full.endswith(suffix):
            return strip_nations(full[: -len(suffix)])
    for suffix in ("省", "市", "地区", "盟"):
        if full.endswith(suffix) and len(full) - len(suffix) >= 2:
            return full[: -len(suffix)]
    return full


def loc(lat: float, lng: float) -> dict:
    return {"lat": round(lat, 5), "lng": round(lng, 5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="cpca wheel/sdist or adcodes.csv")
    ap.add_argument("-o", "--output", type=Path,
                    default=Path(__file__).resolve().parent.parent / "data" / "districts.json")
    ap.add_argument("--no-pinyin", action="store_true", help="omit pinyin arrays (no pypinyin needed)")
    args = ap.parse_args()

    pinyin = None
    if not args.no_pinyin:
        try:
            from pypinyin import lazy_pinyin
        except ImportError:
            raise SystemExit("pypinyin is not installed; install it or pass --no-pinyin")

        def pinyin(s: str) -> list[str]:
            return PINYIN_OVERRIDES.get(s) or lazy_pinyin(s)

    rows: dict[str, dict] = {}
    stats = {"rows": 0, "non_county_level": 0, "duplicates": 0, "placeholder_shixiaqu": 0,
             "no_coordinates": 0}
    reader = csv.DictReader(io.StringIO(read_csv_text(args.source)))
    for r in reader:
        stats["rows"] += 1
        code = r["adcode"].strip()
        if not code.isdigit() or len(code) < 6:
            raise SystemExit(f"bad adcode {code!r}")
        if code[6:].strip("0"):  # township/village level
            stats["non_county_level"] += 1
            continue
        aid = code[:6]
        if aid in rows:
            stats["duplicates"] += 1
            continue
        name = r["name"].strip()
        lng, lat = r.get("longitude", "").strip(), r.get("latitude", "").strip()
        coord = (float(lat), float(lng)) if lat and lng else None
        if coord is None:
            stats["no_coordinates"] += 1
        rows[aid] = {"id": aid, "fullname": name, "coord": coord}

    provinces = {a: v for a, v in rows.items() if a[2:] == "0000"}
    cities: dict[str, dict] = {}
    districts: dict[str, dict] = {}
    for a, v in rows.items():
        if a[2:] == "0000":
            continue
        if a[:2] + "0000" not in provinces:
            raise SystemExit(f"{a} {v['fullname']} has no province")
        if a[4:] == "00":
            cities[a] = v
        elif v["fullname"] == "市辖区":
            # Statistical placeholder "city proper" codes (xxxx01), not a real district.
            stats["placeholder_shixiaqu"] += 1
        else:
            districts[a] = v

    # Municipalities: one city entry "北京市" (xx0100) holding every district,
    # replacing the CSV's "市辖区" (xx0100) / "县" (500200) groupings.
    city_of: dict[str, str] = {}
    for p in sorted(MUNICIPALITIES):
        if p + "0000" not in provinces:
            continue
        cid = p + "0100"
        for a in [a for a in cities if a[:2] == p]:
            del cities[a]
        prov = provinces[p + "0000"]
        cities[cid] = {"id": cid, "fullname": prov["fullname"], "coord": prov["coord"],
                       "name": short_name(prov["fullname"])}
        for a in districts:
            if a[:2] == p:
                city_of[a] = cid
    for a in districts:
        if a not in city_of:
            cid = a[:4] + "00"
            if cid not in cities:
                # Not hit by cpca 0.5.5, kept for robustness.
                cities[cid] = {"id": cid, "fullname": "省直辖县级行政区划", "coord": None}
            city_of[a] = cid

    # Fill in missing coordinates from the parent (city -> province).
    for c in cities.values():
        if c["coord"] is None:
            c["coord"] = provinces[c["id"][:2] + "0000"]["coord"]
    for d in districts.values():
        if d["coord"] is None:
            d["coord"] = cities[city_of[d["id"]]]["coord"]

    prov_list = [provinces[a] for a in sorted(provinces)]
    city_list = [cities[a] for a in sorted(cities)]
    dist_list = [districts[a] for a in sorted(districts)]

    def ranges(children: list[dict], parent_key) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, ch in enumerate(children):
            k = parent_key(ch)
            if k in out:
                if out[k][1] != i - 1:
                    raise SystemExit(f"children of {k} are not contiguous")
                out[k][1] = i
            else:
                out[k] = [i, i]
        return out

    city_cidx = ranges(dist_list, lambda d: city_of[d["id"]])
    prov_cidx = ranges(city_list, lambda c: c["id"][:2] + "0000")

    def region(v: dict, cidx: dict) -> dict:
        o = {"id": v["id"], "name": v.get("name") or short_name(v["fullname"]), "fullname": v["fullname"]}
        if pinyin:
            o["pinyin"] = pinyin(o["name"])
        o["location"] = loc(*v["coord"])
        if v["id"] in cidx:
            o["cidx"] = cidx[v["id"]]
        return o

    result = [
        [region(p, prov_cidx) for p in prov_list],
        [region(c, city_cidx) for c in city_list],
        [{"id": d["id"], "fullname": d["fullname"], "location": loc(*d["coord"])} for d in dist_list],
    ]

    dump = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":"))
    text = "[\n" + ",\n".join("[\n" + ",\n".join(dump(e) for e in level) + "\n]" for level in result) + "\n]\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")

    print(f"wrote {args.output}: provinces={len(result[0])} cities={len(result[1])} "
          f"districts={len(result[2])} total={sum(map(len, result))}", file=sys.stderr)
    print("input: " + " ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
