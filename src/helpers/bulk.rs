//! Registration of the bulk helpers: `csv::`, `district::`, `journal::` and `parallel`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, FnPtr, FuncRegistration, Map, Module, NativeCallContext, Position};
use serde_json::Value;

use super::csv as csvh;
use super::district::Index;
use super::journal::{Journal, Scope};
use crate::api::{self, WxError};
use crate::runtime::{Ctx, RhaiResult, arg_json, convert, throw};

/// How far from a district centre `district::nearest` still answers: the largest counties are
/// a few hundred kilometres across.
const NEAREST_MAX_KM: f64 = 500.0;

fn reg(name: &str) -> FuncRegistration {
    FuncRegistration::new(name).with_volatility(true)
}

fn str_arg(api: &str, field: &str, d: &Dynamic, pos: Position) -> Result<String, Box<rhai::EvalAltResult>> {
    d.clone()
        .into_string()
        .map_err(|t| throw(WxError::input(api, field, format!("{api}: {field} must be a string, got {t}")), pos))
}

fn csv_read(path: &str, opts: &Map, pos: Position) -> RhaiResult {
    let o = csvh::read_options("csv::read", opts).map_err(|e| throw(e, pos))?;
    let mut rows = Array::new();
    let bad = csvh::each("csv::read", path, &o, |m| {
        rows.push(Dynamic::from_map(m));
        Ok(())
    })
    .map_err(|e| throw(e, pos))??;
    if o.skip_bad_rows {
        let mut m = Map::new();
        m.insert("rows".into(), Dynamic::from_array(rows));
        m.insert("bad_rows".into(), Dynamic::from_array(bad));
        return Ok(Dynamic::from_map(m));
    }
    Ok(Dynamic::from_array(rows))
}

fn csv_each(ctx: &Ctx, nc: &NativeCallContext, path: &str, f: &FnPtr, opts: &Map) -> RhaiResult {
    let pos = nc.call_position();
    let o = csvh::read_options("csv::each", opts).map_err(|e| throw(e, pos))?;
    let mut count = 0i64;
    let bad = csvh::each("csv::each", path, &o, |m| {
        if ctx.cancel.is_cancelled() {
            return Err(rhai::EvalAltResult::ErrorTerminated("cancelled".into(), pos).into());
        }
        count += 1;
        f.call_within_context::<Dynamic>(nc, (Dynamic::from_map(m),)).map(|_| ())
    })
    .map_err(|e| throw(e, pos))??;
    let mut m = Map::new();
    m.insert("rows".into(), Dynamic::from_int(count));
    m.insert("bad_rows".into(), Dynamic::from_array(bad));
    Ok(Dynamic::from_map(m))
}

fn csv_write(ctx: &Ctx, path: &str, rows: &Array, opts: &Map, pos: Position) -> RhaiResult {
    let mut columns = None;
    let mut bom = false;
    for (k, v) in opts {
        match k.as_str() {
            "columns" => {
                let cols = v.clone().into_array().map_err(|_| {
                    throw(WxError::input("csv::write", "columns", "columns must be an array of names"), pos)
                })?;
                columns = Some(cols.iter().map(|c| c.to_string()).collect());
            }
            "bom" => bom = v.as_bool().unwrap_or(false),
            other => {
                return Err(throw(
                    WxError::input("csv::write", other, format!("unknown option \"{other}\" (columns, bom)")),
                    pos,
                ));
            }
        }
    }
    // A dry run changes nothing: a result file of writes never sent would read as real, and
    // would replace the real one.
    if ctx.dry_run {
        println!("dry-run: write {path} ({} rows)", rows.len());
        return Ok(Dynamic::UNIT);
    }
    csvh::write("csv::write", path, rows, columns, bom).map_err(|e| throw(e, pos))?;
    Ok(Dynamic::UNIT)
}

/// The district index of this run: loaded once, from the disk cache or the server.
#[derive(Default)]
pub struct Districts {
    index: Mutex<Option<Arc<Index>>>,
}

/// Cached tables are refreshed after a week: districts change rarely, but they do change.
const DISTRICT_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

fn cache_file(ctx: &Ctx) -> Option<PathBuf> {
    let base = ctx.client.base();
    let h = base.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    ctx.client.cache_dir().map(|d| d.join("districts").join(format!("{h:016x}.json")))
}

impl Districts {
    pub fn get(&self, ctx: &Ctx, pos: Position) -> Result<Arc<Index>, Box<rhai::EvalAltResult>> {
        let mut guard = self.index.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ix) = guard.as_ref() {
            return Ok(ix.clone());
        }
        let file = cache_file(ctx);
        let cached = file.as_ref().and_then(|f| {
            let fresh = std::fs::metadata(f).ok()?.modified().ok()?.elapsed().ok()? < DISTRICT_TTL;
            if !fresh {
                return None;
            }
            serde_json::from_slice::<Value>(&std::fs::read(f).ok()?).ok()
        });
        let result = match cached {
            Some(v) => v,
            None => {
                let ep = api::by_name("map::districts")
                    .ok_or_else(|| throw(WxError::input("district", "", "map::districts is not declared"), pos))?;
                let v = crate::runtime::invoke_json(ctx, ep, serde_json::Map::new(), pos)?;
                // A dry run writes no local file, caches included.
                if let Some(f) = file.as_ref().filter(|_| !ctx.dry_run)
                    && let Some(dir) = f.parent()
                    && crate::transport::private_dir(dir).is_ok()
                {
                    // A cache that cannot be written only costs a request next run.
                    let _ = crate::util::write_atomic(f, None, |out| {
                        std::io::Write::write_all(out, v.to_string().as_bytes())
                    });
                }
                v
            }
        };
        let ix = Arc::new(
            Index::build(&result)
                .map_err(|m| throw(WxError::new(api::ErrorKind::Network, "map::districts", m), pos))?,
        );
        *guard = Some(ix.clone());
        Ok(ix)
    }
}

fn json_key(d: &Dynamic) -> String {
    if d.is_string() { d.clone().into_string().unwrap_or_default() } else { d.to_string() }
}

pub fn register(engine: &mut Engine, modules: &mut BTreeMap<&'static str, Module>, ctx: &Arc<Ctx>) {
    let csvm = modules.entry("csv").or_default();
    reg("read").set_into_module(csvm, |nc: NativeCallContext, path: Dynamic| -> RhaiResult {
        let pos = nc.call_position();
        csv_read(&str_arg("csv::read", "path", &path, pos)?, &Map::new(), pos)
    });
    reg("read").set_into_module(csvm, |nc: NativeCallContext, path: Dynamic, opts: Map| -> RhaiResult {
        let pos = nc.call_position();
        csv_read(&str_arg("csv::read", "path", &path, pos)?, &opts, pos)
    });
    let c = ctx.clone();
    reg("each").set_into_module(csvm, move |nc: NativeCallContext, path: Dynamic, f: FnPtr| -> RhaiResult {
        let path = str_arg("csv::each", "path", &path, nc.call_position())?;
        csv_each(&c, &nc, &path, &f, &Map::new())
    });
    let c = ctx.clone();
    reg("each").set_into_module(csvm, move |nc: NativeCallContext, path: Dynamic, f: FnPtr, opts: Map| -> RhaiResult {
        let path = str_arg("csv::each", "path", &path, nc.call_position())?;
        csv_each(&c, &nc, &path, &f, &opts)
    });
    let c = ctx.clone();
    reg("write").set_into_module(csvm, move |nc: NativeCallContext, path: Dynamic, rows: Array| -> RhaiResult {
        let pos = nc.call_position();
        csv_write(&c, &str_arg("csv::write", "path", &path, pos)?, &rows, &Map::new(), pos)
    });
    let c = ctx.clone();
    reg("write").set_into_module(
        csvm,
        move |nc: NativeCallContext, path: Dynamic, rows: Array, opts: Map| -> RhaiResult {
            let pos = nc.call_position();
            csv_write(&c, &str_arg("csv::write", "path", &path, pos)?, &rows, &opts, pos)
        },
    );

    let districts = Arc::new(Districts::default());
    let dm = modules.entry("district").or_default();
    let (c, d) = (ctx.clone(), districts.clone());
    reg("find").set_into_module(dm, move |nc: NativeCallContext, text: Dynamic| -> RhaiResult {
        let pos = nc.call_position();
        let ix = d.get(&c, pos)?;
        let t = json_key(&text);
        let i = ix.find(&t).map_err(|m| throw(WxError::input("district::find", "text", m), pos))?;
        Ok(Dynamic::from_map(ix.to_map(i)))
    });
    let (c, d) = (ctx.clone(), districts.clone());
    reg("nearest").set_into_module(dm, move |nc: NativeCallContext, lat: Dynamic, lng: Dynamic| -> RhaiResult {
        let pos = nc.call_position();
        let num = |v: &Dynamic, f: &str| {
            v.as_float().or_else(|_| v.as_int().map(|i| i as f64)).map_err(|_| {
                throw(
                    WxError::input("district::nearest", f, format!("{f} must be a number, got {}", v.type_name())),
                    pos,
                )
            })
        };
        let (lat, lng) = (num(&lat, "lat")?, num(&lng, "lng")?);
        let bad = |f: &str, m: String| throw(WxError::input("district::nearest", f, m), pos);
        if !(-90.0..=90.0).contains(&lat) {
            return Err(bad(
                "lat",
                format!("lat must be a latitude between -90 and 90, got {lat} (lat and lng swapped?)"),
            ));
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(bad("lng", format!("lng must be a longitude between -180 and 180, got {lng}")));
        }
        let ix = d.get(&c, pos)?;
        let i = ix.nearest(lat, lng).ok_or_else(|| bad("lat", "no districts".into()))?;
        // The table is China's: a point far from every district centre is not in one.
        let km = super::district::distance_km(lat, lng, ix.areas[i].lat, ix.areas[i].lng);
        if km > NEAREST_MAX_KM {
            return Err(bad(
                "lat",
                format!(
                    "({lat}, {lng}) is {km:.0} km from the nearest district centre: the district table covers China"
                ),
            ));
        }
        Ok(Dynamic::from_map(ix.to_map(i)))
    });
    let (c, d) = (ctx.clone(), districts);
    reg("children").set_into_module(dm, move |nc: NativeCallContext, id: Dynamic| -> RhaiResult {
        let pos = nc.call_position();
        let ix = d.get(&c, pos)?;
        let i = ix.find(&json_key(&id)).map_err(|m| throw(WxError::input("district::children", "id", m), pos))?;
        Ok(Dynamic::from_array(ix.areas[i].children.iter().map(|&k| Dynamic::from_map(ix.to_map(k))).collect()))
    });

    engine.register_type_with_name::<Journal>("Journal");
    let c = ctx.clone();
    reg("open").set_into_module(
        modules.entry("journal").or_default(),
        move |nc: NativeCallContext, path: Dynamic| -> RhaiResult {
            let pos = nc.call_position();
            let p = str_arg("journal::open", "path", &path, pos)?;
            let scope = Scope { server: c.server(), sandbox: c.is_sandbox(), dry_run: c.dry_run };
            Journal::open(c.store.as_ref(), &p, &scope).map(Dynamic::from).map_err(|e| throw(e, pos))
        },
    );
    engine.register_fn("done", |j: &mut Journal, key: Dynamic| j.done(&json_key(&key)));
    engine.register_fn("claim", |nc: NativeCallContext, j: &mut Journal, key: Dynamic| -> RhaiResult {
        j.claim(&json_key(&key)).map(Dynamic::from).map_err(|e| throw(e, nc.call_position()))
    });
    engine.register_fn("get", |j: &mut Journal, key: Dynamic| {
        j.get(&json_key(&key)).map(|v| convert::to_dynamic(&v)).unwrap_or(Dynamic::UNIT)
    });
    engine.register_fn(
        "record",
        |nc: NativeCallContext, j: &mut Journal, key: Dynamic, value: Dynamic| -> RhaiResult {
            let pos = nc.call_position();
            let v = arg_json("journal.record", "value", &value, pos)?;
            j.record(&json_key(&key), v).map_err(|e| throw(e, pos))?;
            Ok(Dynamic::UNIT)
        },
    );
    engine.register_fn("len", |j: &mut Journal| j.len() as i64);
    engine.register_fn("keys", |j: &mut Journal| j.keys().into_iter().map(Dynamic::from).collect::<Array>());
    engine.register_get("path", |j: &mut Journal| j.path());

    let c = ctx.clone();
    engine.register_fn(
        "parallel",
        move |nc: NativeCallContext, items: Array, concurrency: rhai::INT, f: FnPtr| -> RhaiResult {
            super::parallel::run(&c, &nc, items, concurrency, f)
        },
    );
}
