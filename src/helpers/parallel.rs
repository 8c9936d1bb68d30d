//! `parallel(items, concurrency, fn)`: `fn(item)` for every item on `concurrency` worker
//! threads, so at most that many API calls are in flight; results come back in input order
//! as `#{ok: true, value}` or `#{ok: false, error}`, and one failure does not stop the rest.
//!
//! Script closures run on the workers through the calling context (the engine is `sync`);
//! each native call inside blocks its own worker on the shared tokio runtime. A Ctrl-C stops
//! handing out items and ends the call as interrupted.
//!
//! Every item starts as the account in force where `parallel` was called; an item that
//! switches (`account::use`) switches only itself, not the other items or the caller.
//!
//! Each worker gets its own copy of the variables the closure captured (see [`copied`]).
//!
//! An item's error has the shape of every error (`runtime::script_error`). When every item
//! fails with the same error of the script itself (a misspelt function in the closure), the
//! fault is the script's, not the data's: the call throws it instead of returning it per item.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rhai::{Array, Dynamic, EvalAltResult, FnPtr, Map, NativeCallContext};

use super::progress::Progress;
use crate::api::WxError;
use crate::runtime::catalog::HelperDoc;
use crate::runtime::{Ctx, RhaiResult, place_of, script_error, throw};

/// The error every item failed with, when it is one and the same error of the script itself.
fn same_script_error(results: &[Dynamic]) -> Option<Map> {
    let error_of = |r: &Dynamic| -> Option<Map> {
        let m = r.read_lock::<Map>()?;
        m.get("error")?.read_lock::<Map>().map(|e| e.clone())
    };
    let first = error_of(results.first()?)?;
    let text = |m: &Map, k: &str| m.get(k).map(|v| v.to_string());
    if text(&first, "kind").as_deref() != Some("script") {
        return None;
    }
    results
        .iter()
        .skip(1)
        .all(|r| {
            error_of(r).is_some_and(|e| {
                text(&e, "kind") == text(&first, "kind") && text(&e, "errmsg") == text(&first, "errmsg")
            })
        })
        .then_some(first)
}

fn is_terminated(e: &EvalAltResult) -> bool {
    match e {
        EvalAltResult::ErrorTerminated(..) => true,
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => is_terminated(inner),
        _ => false,
    }
}

/// The values (array elements, map entries, nested) all workers' copies of the captured
/// variables may hold together; a larger variable stays shared (see [`copied`]).
const COPY_BUDGET: usize = 2_000_000;

/// The values in `v`, counting nested ones, up to `cap`.
fn size(v: &Dynamic, cap: usize) -> usize {
    fn walk(v: &Dynamic, n: &mut usize, cap: usize) {
        *n += 1;
        if *n >= cap {
            return;
        }
        let mut each = |x: &Dynamic| {
            if *n < cap {
                walk(x, n, cap);
            }
        };
        if let Some(a) = v.read_lock::<Array>() {
            a.iter().for_each(&mut each);
        } else if let Some(m) = v.read_lock::<Map>() {
            m.values().for_each(&mut each);
        }
    }
    let mut n = 0;
    walk(v, &mut n, cap);
    n
}

/// Which of `f`'s curried values are captured variables each worker gets a copy of: rhai
/// locks a captured variable for every use (a read of a map's key included) and refuses a lock
/// another thread holds as a "data race", so workers sharing the script's variables would fail
/// now and then; a worker's own copy is used by one thread at a time. A journal is a handle to
/// state shared and locked already: its copies are the same journal. A variable too big to
/// copy for every worker stays shared, as rhai has it.
fn copied(f: &FnPtr, workers: usize) -> Vec<bool> {
    let cap = COPY_BUDGET / workers.max(1);
    f.iter_curry().map(|v| v.is_shared() && size(v, cap + 1) <= cap).collect()
}

/// `f` for one worker, with copies of its own of the `copy` values.
fn worker_copy(f: &FnPtr, copy: &[bool]) -> FnPtr {
    let mut g = f.clone();
    for (v, _) in g.iter_curry_mut().zip(copy).filter(|(_, c)| **c) {
        *v = v.flatten_clone().into_shared();
    }
    g
}

/// How the `copy` values look, to tell whether a worker changed its copy.
fn looks(f: &FnPtr, copy: &[bool]) -> Vec<Option<String>> {
    f.iter_curry().zip(copy).map(|(v, c)| c.then(|| format!("{:?}", v.flatten_clone()))).collect()
}

/// The first captured value some worker changed, as it now looks: a change made to a copy, which
/// the script would miss after `parallel`.
fn changed_capture(before: &[Option<String>], copies: &[FnPtr], copy: &[bool]) -> Option<String> {
    copies.iter().flat_map(|c| looks(c, copy).into_iter().zip(before)).find_map(|(now, was)| match (now, was) {
        (Some(now), Some(was)) if now != *was => Some(now),
        _ => None,
    })
}

/// An item's error; rhai's "data race" (a captured variable too big to copy for each worker,
/// in use by another) says what to do about it.
fn item_error(e: &EvalAltResult) -> Dynamic {
    let mut error = script_error(e);
    if matches!(e.unwrap_inner(), EvalAltResult::ErrorDataRace(..))
        && let Some(mut m) = error.write_lock::<Map>()
    {
        m.insert(
            "hint".into(),
            "a variable the function captured is too big to copy for every worker, and another worker was using it: put what each item needs in the items, e.g. items.map(|r| #{row: r, store: by_name[r.name]})".into(),
        );
    }
    error
}

pub fn run(ctx: &Ctx, nc: &NativeCallContext, items: Array, concurrency: i64, f: FnPtr) -> RhaiResult {
    let pos = nc.call_position();
    if concurrency < 1 {
        return Err(throw(
            WxError::input("parallel", "concurrency", format!("concurrency must be at least 1, got {concurrency}")),
            pos,
        ));
    }
    let n = items.len();
    let workers = (concurrency as usize).min(n).max(1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Vec<Mutex<Option<Dynamic>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let progress = Progress::new("parallel", n as u64, ctx.quiet);
    let account = ctx.account();
    let copy = copied(&f, workers);
    let before = looks(&f, &copy);
    let copies: Vec<FnPtr> = (0..workers).map(|_| worker_copy(&f, &copy)).collect();
    std::thread::scope(|s| {
        for f in &copies {
            let (next, stop, results, progress, items) = (&next, &stop, &results, &progress, &items);
            s.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) || ctx.cancel.is_cancelled() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let outcome =
                        ctx.with_account(account, || f.call_within_context::<Dynamic>(nc, (items[i].clone(),)));
                    let mut m = Map::new();
                    match outcome {
                        Ok(v) => {
                            m.insert("ok".into(), true.into());
                            m.insert("value".into(), v);
                        }
                        Err(e) if is_terminated(&e) => {
                            stop.store(true, Ordering::Relaxed);
                            return;
                        }
                        Err(e) => {
                            m.insert("ok".into(), false.into());
                            m.insert("error".into(), item_error(&e));
                        }
                    }
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(Dynamic::from_map(m));
                    }
                    progress.inc();
                }
            });
        }
    });
    progress.finish();
    if stop.load(Ordering::Relaxed) || ctx.cancel.is_cancelled() {
        return Err(EvalAltResult::ErrorTerminated("cancelled".into(), pos).into());
    }
    if let Some(now) = changed_capture(&before, &copies, &copy) {
        let now: String = now.chars().take(80).collect();
        let msg = format!(
            "parallel: the function changed a variable it captured (to {now}); each worker changes a copy of its own, so the change is not seen after parallel: return what each item makes and read it from parallel's results"
        );
        // In the shape of every error, as a catch sees it.
        let e = script_error(&EvalAltResult::ErrorRuntime(msg.into(), pos));
        return Err(EvalAltResult::ErrorRuntime(e, pos).into());
    }
    let results: Vec<Dynamic> =
        results.into_iter().map(|m| m.into_inner().ok().flatten().unwrap_or(Dynamic::UNIT)).collect();
    if let Some(mut e) = same_script_error(&results) {
        let msg = e.get("errmsg").map(|m| m.to_string()).unwrap_or_default();
        let what = if n == 1 {
            "its only item failed with a script error".to_string()
        } else {
            format!("all {n} items failed with the same script error")
        };
        e.insert("errmsg".into(), format!("parallel: {what}: {msg}").into());
        // Shown where the closure failed, when the error knows it.
        let at = place_of(&e).unwrap_or(pos);
        return Err(EvalAltResult::ErrorRuntime(e.into(), at).into());
    }
    Ok(Dynamic::from_array(results))
}

/// The declaration of `parallel`.
pub const DOCS: &[HelperDoc] = &[HelperDoc {
    name: "parallel",
    signatures: &["parallel(items, concurrency, fn)"],
    doc: "Calls `fn(item)` for every item with at most `concurrency` calls in flight; one failure does not stop the rest. Each worker reads its own copy of the variables `fn` captured (a journal stays one journal); a change `fn` makes to one would be lost, so it is an error after the run: return what each item makes instead. A failed item's error has the shape of every error (`kind` \"script\" for the script's own mistakes); when every item fails with the same script error (a typo in `fn`), the call throws it instead. Shows progress on long runs (hidden by --quiet). Every request still honours the run's --qps.",
    returns: "array, in input order, of #{ok: true, value} or #{ok: false, error}",
    example: "let r = parallel([1, 2, 3], 2, |x| x * 10);\nprint(r.map(|o| o.value));",
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_race_says_what_to_do_and_other_errors_keep_their_hint() {
        let race = EvalAltResult::ErrorDataRace(String::new(), rhai::Position::NONE);
        let e = item_error(&race);
        let hint = e.read_lock::<Map>().and_then(|m| m.get("hint").map(|h| h.to_string())).unwrap_or_default();
        assert!(hint.contains("put what each item needs in the items"), "{hint}");
        let other = EvalAltResult::ErrorRuntime("boom".into(), rhai::Position::NONE);
        let e = item_error(&other);
        let hint = e.read_lock::<Map>().and_then(|m| m.get("hint").map(|h| h.to_string())).unwrap_or_default();
        assert_eq!(hint, "");
    }

    #[test]
    fn only_captured_values_within_the_budget_are_copied() {
        let mut f = FnPtr::new("f").expect("a name");
        let small = Dynamic::from_array(vec![Dynamic::from_int(1); 10]).into_shared();
        let big = Dynamic::from_array(vec![Dynamic::from_int(1); COPY_BUDGET / 4]).into_shared();
        f.set_curry([small, big, Dynamic::from_int(3)]);
        assert_eq!(copied(&f, 1), [true, true, false], "one worker: both fit, a plain value is no capture");
        assert_eq!(copied(&f, 8), [true, false, false], "eight workers: the big one stays shared");
        let copies = [worker_copy(&f, &copied(&f, 8))];
        let before = looks(&f, &copied(&f, 8));
        assert_eq!(changed_capture(&before, &copies, &copied(&f, 8)), None);
        // A clone of a shared value is the same cell.
        let mut cell = copies[0].curry()[0].clone();
        if let Some(mut a) = cell.write_lock::<Array>() {
            a.push(Dynamic::from_int(2));
        }
        assert!(changed_capture(&before, &copies, &copied(&f, 8)).is_some(), "a worker's change is seen");
        assert_eq!(f.curry()[0].read_lock::<Array>().map(|a| a.len()), Some(10), "the original is untouched");
    }
}
