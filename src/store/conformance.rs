//! What every [`Store`] must do, written once over the trait so each implementation runs the
//! same checks (the file store's tests call them with a `FileStore`).

use std::path::Path;

use serde_json::{Value, json};

use super::{Authorizer, Store, Stored, Ticket, TokenEntry, TokenFamily, TokenKey};

pub fn entry(token: &str) -> TokenEntry {
    TokenEntry {
        access_token: token.into(),
        expires_at: 7200,
        obtained_at: 0,
        forced_at: 30,
        last_error: Some("cgi-bin/token: busy".into()),
        failed_at: 25,
    }
}

/// A token written is read back whole; another secret, family or appid never sees it; the
/// lease is taken, released and taken again.
pub async fn tokens_round_trip(store: &dyn Store) {
    let base = "http://127.0.0.1:1";
    let key = TokenKey::new("wx1", true, base, "secret-a");
    assert_eq!(store.token(&key).await, None);
    let lease = store.lease_token(&key).await.expect("lease").expect("the lease is held");
    store.put_token(&key, &entry("tok-1")).await.expect("put");
    lease.release().await;
    assert_eq!(store.token(&key).await, Some(entry("tok-1")));
    for other in [
        TokenKey::new("wx1", true, base, "secret-b"),
        TokenKey::new("wx1", false, base, "secret-a"),
        TokenKey::new("wx2", true, base, "secret-a"),
        TokenKey::new("wx1", true, "http://127.0.0.1:2", "secret-a"),
        TokenKey::of("wx1", TokenFamily::Component, base, "secret-a"),
        TokenKey::of("wx1", TokenFamily::Authorizer, base, "secret-a"),
    ] {
        assert_eq!(store.token(&other).await, None, "{other:?}");
    }
    let again = store.lease_token(&key).await.expect("the lease again").expect("the lease is held again");
    let mut later = entry("tok-2");
    later.obtained_at = 1;
    store.put_token(&key, &later).await.expect("replace");
    drop(again);
    assert_eq!(store.token(&key).await.map(|e| e.access_token), Some("tok-2".into()));
}

/// Records appended are read back in order after a reopen; a read-only open of a journal that
/// does not exist finds none.
pub fn journal_append_and_read(store: &dyn Store, name: &str) {
    assert!(store.open_journal(name, false).expect("read only").is_none());
    let mut j = store.open_journal(name, true).expect("open").expect("created");
    assert!(j.records.is_empty());
    let w = j.writer.as_mut().expect("writer");
    w.settle(false).expect("settle");
    let records = [json!({"scope": {"server": "s", "sandbox": false}}), json!({"key": "a", "value": 1, "at": 2})];
    for r in &records {
        w.append(r).expect("append");
    }
    drop(j);
    let j = store.open_journal(name, false).expect("reopen").expect("exists");
    assert_eq!(j.records, records.to_vec());
    assert!(j.writer.is_none());
    let mut j = store.open_journal(name, true).expect("reopen").expect("exists");
    j.writer.as_mut().expect("writer").settle(true).expect("start over");
    drop(j);
    let j = store.open_journal(name, false).expect("reopen").expect("exists");
    assert_eq!(j.records, Vec::<Value>::new());
}

/// An event appended is read back once; the same event again is a duplicate.
pub fn events_append_and_read(store: &dyn Store, log: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (events, count) = store.open_event_log(log, None).expect("open");
    assert_eq!(count, 0);
    let ev = json!({"FromUserName": "u", "CreateTime": 1, "Event": "x", "audit_id": 7});
    let ev = ev.as_object().cloned().unwrap_or_default();
    assert_eq!(rt.block_on(events.append(ev.clone())).expect("append"), Stored::New);
    assert_eq!(rt.block_on(events.append(ev.clone())).expect("append"), Stored::Duplicate);
    let mut reader = store.event_reader(log, None);
    assert_eq!(reader.next_batch().expect("read"), vec![ev.clone()]);
    assert!(reader.next_batch().expect("read again").is_empty());
    drop(events);
    let (_, count) = store.open_event_log(log, None).expect("reopen");
    assert_eq!(count, 1);
}

pub fn authorizer(appid: &str, refresh: &str, at: u64) -> Authorizer {
    Authorizer {
        appid: appid.into(),
        refresh_token: refresh.into(),
        func_info: vec![12, 13],
        authorized_at: 1,
        refreshed_at: at,
        revoked_at: 0,
        auth_code: String::new(),
    }
}

/// The newest ticket wins; authorizers are kept per platform, read back whole, and replaced.
pub async fn platform_records(store: &dyn Store) {
    assert_eq!(store.ticket("wxc").await, None);
    let ticket = |t: &str, at: u64| Ticket { ticket: t.into(), created_at: at, received_at: at };
    store.put_ticket("wxc", &ticket("t-2", 20)).await.expect("put");
    store.put_ticket("wxc", &ticket("t-1", 10)).await.expect("an older push");
    assert_eq!(store.ticket("wxc").await, Some(ticket("t-2", 20)), "an older push never replaces a newer ticket");
    store.put_ticket("wxc", &ticket("t-3", 30)).await.expect("put");
    assert_eq!(store.ticket("wxc").await.map(|t| t.ticket), Some("t-3".into()));
    assert_eq!(store.ticket("wxother").await, None);

    assert!(store.authorizers("wxc").await.expect("list").is_empty());
    store.put_authorizer("wxc", &authorizer("wxb", "r-b", 1)).await.expect("put");
    store.put_authorizer("wxc", &authorizer("wxa", "r-a", 1)).await.expect("put");
    store.put_authorizer("wxother", &authorizer("wxz", "r-z", 1)).await.expect("put");
    let appids: Vec<String> = store.authorizers("wxc").await.expect("list").into_iter().map(|a| a.appid).collect();
    assert_eq!(appids, ["wxa", "wxb"]);
    store.put_authorizer("wxc", &authorizer("wxa", "r-a2", 2)).await.expect("replace");
    assert_eq!(store.authorizer("wxc", "wxa").await.expect("read"), Some(authorizer("wxa", "r-a2", 2)));
    assert_eq!(store.authorizer("wxother", "wxa").await.expect("read"), None);
}
