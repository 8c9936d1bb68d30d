//! Values between rhai and JSON: script maps become request bodies, answers become maps.

use rhai::{Array, Dynamic, Map};
use serde_json::{Number, Value};

/// A script value as JSON; values with no JSON form (functions, timestamps) are named in the error.
pub fn to_json(d: &Dynamic) -> Result<Value, String> {
    if d.is_unit() {
        return Ok(Value::Null);
    }
    if let Some(b) = d.clone().try_cast::<bool>() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = d.as_float() {
        return Number::from_f64(f).map(Value::Number).ok_or_else(|| format!("the float {f} has no JSON form"));
    }
    if d.is_string() {
        return Ok(Value::String(d.clone().into_string().unwrap_or_default()));
    }
    if let Ok(c) = d.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if d.is_array() {
        let a = d.read_lock::<Array>().ok_or("array is locked")?;
        return a.iter().map(to_json).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if d.is_map() {
        let m = d.read_lock::<Map>().ok_or("map is locked")?;
        let mut o = serde_json::Map::new();
        for (k, v) in m.iter() {
            o.insert(k.to_string(), to_json(v)?);
        }
        return Ok(Value::Object(o));
    }
    Err(format!("a {} cannot be sent to WeChat", d.type_name()))
}

/// A JSON answer as a script value: ints stay ints, floats floats, null becomes `()`.
pub fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(a) => Dynamic::from_array(a.iter().map(to_dynamic).collect()),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                m.insert(k.as_str().into(), to_dynamic(v));
            }
            Dynamic::from_map(m)
        }
    }
}
