//! `SessionRepository`: sessions in the unit of work, ending with their parent, and the
//! throttled attempts; `Store::session` and `Store::touch_session` outside it.

use std::sync::Arc;

use time::Duration;

use roster_domain::ids::UserId;
use roster_domain::ports::{Attempt, AttemptKind, Session, Store, StoreError};

use super::seed::{T0, seed, uid};
use super::{begin, commit};

fn session(hash: &str, user: &roster_domain::user::User, parent: Option<&str>) -> Session {
    Session {
        token_hash: hash.to_owned(),
        org_id: user.org_id,
        user_id: user.id,
        impersonator_id: parent.map(|_| user.id),
        parent_hash: parent.map(str::to_owned),
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + Duration::hours(12),
    }
}

/// A session round-trips by token hash, in the transaction and through `Store::session`;
/// `touch_session` moves its expiry outside any transaction; a rolled-back insert leaves
/// nothing; a session needs its member (`Missing`) and its parent (`Missing`).
pub async fn sessions_round_trip_slide_and_need_their_member_and_parent(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let mut tx = begin(&store).await;
    let a = session("hash-a", &s.ada, None);
    tx.insert_session(&a).await.expect("inserts");
    assert_eq!(tx.session("hash-a").await.expect("reads"), Some(a.clone()), "visible in its transaction");
    drop(tx);
    assert_eq!(store.session("hash-a").await.expect("reads"), None, "rolled back");

    let mut tx = begin(&store).await;
    tx.insert_session(&a).await.expect("inserts");
    let ghost = Session { user_id: UserId::from_uuid(uid(1, 999)), ..session("hash-x", &s.ada, None) };
    assert!(matches!(tx.insert_session(&ghost).await, Err(StoreError::Missing { .. })), "no such member");
    let orphan = session("hash-y", &s.bob, Some("no-such-parent"));
    assert!(matches!(tx.insert_session(&orphan).await, Err(StoreError::Missing { .. })), "no such parent");
    commit(tx).await;
    assert_eq!(store.session("hash-a").await.expect("reads"), Some(a.clone()));
    assert_eq!(store.session("hash-x").await.expect("reads"), None);
    assert_eq!(store.session("unknown").await.expect("reads"), None);

    let later = T0 + Duration::minutes(5);
    store.touch_session("hash-a", later, later + Duration::hours(12)).await.expect("slides");
    store.touch_session("unknown", later, later).await.expect("an unknown session is not an error");
    let slid = store.session("hash-a").await.expect("reads").expect("present");
    assert_eq!((slid.last_seen_at, slid.expires_at), (later, later + Duration::hours(12)));
}

/// Ending a session ends the sessions it started (an impersonation's `parent_hash`); ending a
/// member's sessions spares the one to `keep` and ends what the others started; `delete_session`
/// answers whether the session existed.
pub async fn ending_a_session_ends_what_it_started(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let mut tx = begin(&store).await;
    for (hash, user, parent) in [
        ("admin-1", &s.admin, None),
        ("imp-1", &s.ada, Some("admin-1")),
        ("admin-2", &s.admin, None),
        ("imp-2", &s.bob, Some("admin-2")),
        ("admin-3", &s.admin, None),
        ("imp-3", &s.cy, Some("admin-3")),
        ("ada-1", &s.ada, None),
    ] {
        tx.insert_session(&session(hash, user, parent)).await.expect("inserts");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert!(tx.delete_session("admin-1").await.expect("deletes"));
    assert!(!tx.delete_session("admin-1").await.expect("deleting twice is fine"));
    assert_eq!(tx.session("imp-1").await.expect("reads"), None, "the impersonation ended with its parent");
    assert_eq!(tx.delete_user_sessions(s.org.id, s.admin.id, Some("admin-3")).await.expect("deletes"), 1);
    assert_eq!(tx.session("imp-2").await.expect("reads"), None, "ended with admin-2");
    assert!(tx.session("admin-3").await.expect("reads").is_some(), "kept");
    assert!(tx.session("imp-3").await.expect("reads").is_some(), "its parent was kept");
    assert!(tx.session("ada-1").await.expect("reads").is_some(), "another member's");
    assert_eq!(tx.delete_user_sessions(s.org.id, s.ada.id, None).await.expect("deletes"), 1);
    commit(tx).await;
    assert_eq!(store.session("ada-1").await.expect("reads"), None);
}

/// `purge_expired_sessions` removes the sessions expired at `now` (and what they started).
pub async fn expired_sessions_are_purged(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let mut tx = begin(&store).await;
    let short = Session { expires_at: T0 + Duration::hours(1), ..session("short", &s.admin, None) };
    tx.insert_session(&short).await.expect("inserts");
    tx.insert_session(&session("child", &s.ada, Some("short"))).await.expect("inserts");
    tx.insert_session(&session("long", &s.bob, None)).await.expect("inserts");
    assert_eq!(tx.purge_expired_sessions(T0 + Duration::hours(1)).await.expect("purges"), 1);
    assert_eq!(tx.session("child").await.expect("reads"), None);
    assert!(tx.session("long").await.expect("reads").is_some());
    commit(tx).await;
}

/// Attempts are counted per kind and address, per account when asked, from `since` on, oldest
/// first; a success clears one account's at one address; old ones are purged.
pub async fn attempts_are_counted_per_kind_address_and_account(store: Arc<dyn Store>) {
    let at = |minutes: i64| T0 + Duration::minutes(minutes);
    let attempt = |kind, address: &str, account: Option<&str>, minutes| Attempt {
        kind,
        address: address.to_owned(),
        account: account.map(str::to_owned),
        at: at(minutes),
    };
    let mut tx = begin(&store).await;
    for a in [
        attempt(AttemptKind::LoginFailure, "10.0.0.1", Some("ann"), 10),
        attempt(AttemptKind::LoginFailure, "10.0.0.1", Some("ann"), 0),
        attempt(AttemptKind::LoginFailure, "10.0.0.1", Some("bob"), 5),
        attempt(AttemptKind::LoginFailure, "10.0.0.2", Some("ann"), 5),
        attempt(AttemptKind::SignUp, "10.0.0.1", None, 5),
    ] {
        tx.record_attempt(&a).await.expect("records");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    let login = AttemptKind::LoginFailure;
    assert_eq!(tx.attempts_since(login, "10.0.0.1", None, at(0)).await.expect("reads"), [at(0), at(5), at(10)]);
    assert_eq!(tx.attempts_since(login, "10.0.0.1", None, at(5)).await.expect("reads"), [at(5), at(10)]);
    assert_eq!(tx.attempts_since(login, "10.0.0.1", Some("ann"), at(0)).await.expect("reads"), [at(0), at(10)]);
    assert_eq!(tx.attempts_since(AttemptKind::SignUp, "10.0.0.1", None, at(0)).await.expect("reads"), [at(5)]);
    assert!(tx.attempts_since(login, "10.0.0.3", None, at(0)).await.expect("reads").is_empty());
    tx.clear_attempts(login, "10.0.0.1", "ann").await.expect("clears");
    assert_eq!(tx.attempts_since(login, "10.0.0.1", None, at(0)).await.expect("reads"), [at(5)]);
    assert_eq!(tx.attempts_since(login, "10.0.0.2", Some("ann"), at(0)).await.expect("reads"), [at(5)], "kept");
    assert_eq!(tx.purge_attempts(at(5)).await.expect("purges"), 0, "none before minute 5");
    assert_eq!(tx.purge_attempts(at(6)).await.expect("purges"), 3);
    commit(tx).await;
}
