//! `PasswordResetRepository`: links stored by token hash, needing their member, taken once,
//! ended per member and purged when expired; and the throttle's count of attempts on an
//! account from every address.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use async_lock::Barrier;
use time::Duration;

use roster_domain::ids::UserId;
use roster_domain::password_resets::PasswordReset;
use roster_domain::ports::{Attempt, AttemptKind, Store, StoreError};
use roster_domain::user::User;

use super::seed::{T0, seed, uid};
use super::{Task, assert_missing, begin, commit};

fn link(hash: &str, user: &User, minutes: i64) -> PasswordReset {
    PasswordReset {
        token_hash: hash.to_owned(),
        org_id: user.org_id,
        user_id: user.id,
        created_at: T0 + Duration::minutes(minutes),
        expires_at: T0 + Duration::minutes(minutes + 60),
    }
}

/// A link reads back exactly as written when it is taken, and only once; a take in a
/// transaction that rolls back leaves the link in place; a link needs its member in the
/// organization (`Missing { kind: "user" }`); ending a member's links spares other members';
/// expired links are purged; purging a member takes their links along.
pub async fn a_reset_link_is_taken_once_needs_its_member_and_ends_with_them(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let other = seed(&store, 2).await;
    let mut tx = begin(&store).await;
    let ada = link("hash-ada", &s.ada, 0);
    tx.insert_password_reset(&ada).await.expect("inserts");
    tx.insert_password_reset(&link("hash-ada-2", &s.ada, 5)).await.expect("a member may have several");
    tx.insert_password_reset(&link("hash-bob", &s.bob, 0)).await.expect("inserts");
    tx.insert_password_reset(&link("hash-cy", &s.cy, 30)).await.expect("inserts");
    let ghost = PasswordReset { user_id: UserId::from_uuid(uid(1, 999)), ..link("hash-x", &s.ada, 0) };
    assert_missing(tx.insert_password_reset(&ghost).await, "user", "no such member");
    let elsewhere = PasswordReset { org_id: s.org.id, ..link("hash-y", &other.ada, 0) };
    assert_missing(tx.insert_password_reset(&elsewhere).await, "user", "a member of another organization");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.take_password_reset("hash-ada").await.expect("takes"), Some(ada.clone()));
    drop(tx);
    let mut tx = begin(&store).await;
    assert_eq!(tx.take_password_reset("hash-ada").await.expect("takes"), Some(ada.clone()), "the rollback kept it");
    assert_eq!(tx.take_password_reset("hash-ada").await.expect("takes"), None, "taken once");
    assert_eq!(tx.take_password_reset("hash-x").await.expect("takes"), None, "never stored");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.take_password_reset("hash-ada").await.expect("takes"), None, "still gone after the commit");
    assert_eq!(tx.delete_password_resets(s.org.id, s.ada.id).await.expect("deletes"), 1, "ada's other link");
    assert_eq!(tx.delete_password_resets(other.org.id, s.bob.id).await.expect("deletes"), 0, "another org's id");
    assert!(tx.take_password_reset("hash-ada-2").await.expect("takes").is_none());
    assert!(tx.take_password_reset("hash-bob").await.expect("takes").is_some(), "bob's link stayed");
    commit(tx).await;

    let mut tx = begin(&store).await;
    tx.insert_password_reset(&link("hash-bob-old", &s.bob, 0)).await.expect("inserts");
    assert_eq!(tx.purge_expired_password_resets(T0 + Duration::minutes(59)).await.expect("purges"), 0);
    assert_eq!(tx.purge_expired_password_resets(T0 + Duration::minutes(60)).await.expect("purges"), 1);
    assert!(tx.take_password_reset("hash-bob-old").await.expect("takes").is_none(), "expired and purged");
    tx.purge_user(s.org.id, s.cy.id).await.expect("purges the invitee");
    assert!(tx.take_password_reset("hash-cy").await.expect("takes").is_none(), "gone with its member");
    commit(tx).await;
}

/// Attempts on an account are counted from every source address, per kind, from `since` on,
/// oldest first; attempts without an account count for none.
pub async fn attempts_on_an_account_are_counted_from_every_address(store: Arc<dyn Store>) {
    let at = |minutes: i64| T0 + Duration::minutes(minutes);
    let attempt = |kind, address: &str, account: Option<&str>, minutes| Attempt {
        kind,
        address: address.to_owned(),
        account: account.map(str::to_owned),
        at: at(minutes),
    };
    let reset = AttemptKind::PasswordReset;
    let mut tx = begin(&store).await;
    for a in [
        attempt(reset, "10.0.0.1", Some("org/ann@x.example"), 10),
        attempt(reset, "10.0.0.2", Some("org/ann@x.example"), 0),
        attempt(reset, "10.0.0.3", Some("org/ann@x.example"), 5),
        attempt(reset, "10.0.0.1", Some("org/bob@x.example"), 5),
        attempt(AttemptKind::LoginFailure, "10.0.0.1", Some("org/ann@x.example"), 5),
        attempt(AttemptKind::SignUp, "10.0.0.1", None, 5),
    ] {
        tx.record_attempt(&a).await.expect("records");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    let ann = "org/ann@x.example";
    assert_eq!(tx.account_attempts_since(reset, ann, at(0)).await.expect("reads"), [at(0), at(5), at(10)]);
    assert_eq!(tx.account_attempts_since(reset, ann, at(1)).await.expect("reads"), [at(5), at(10)]);
    assert_eq!(tx.account_attempts_since(AttemptKind::LoginFailure, ann, at(0)).await.expect("reads"), [at(5)]);
    assert!(tx.account_attempts_since(reset, "org/cy@x.example", at(0)).await.expect("reads").is_empty());
    assert_eq!(tx.attempts_since(reset, "10.0.0.1", None, at(0)).await.expect("reads"), [at(5), at(10)]);
    commit(tx).await;
}

const RACERS: usize = 8;

/// Several transactions take the same link at once: exactly one gets it.
pub async fn of_transactions_taking_one_link_at_once_exactly_one_gets_it<S, H, E>(store: Arc<dyn Store>, spawn: S)
where
    S: Fn(Task<Result<Option<PasswordReset>, StoreError>>) -> H,
    H: Future<Output = Result<Result<Option<PasswordReset>, StoreError>, E>>,
    E: Debug,
{
    let s = seed(&store, 1).await;
    let mut tx = begin(&store).await;
    let ada = link("hash-race", &s.ada, 0);
    tx.insert_password_reset(&ada).await.expect("inserts");
    commit(tx).await;

    let barrier = Arc::new(Barrier::new(RACERS));
    let handles: Vec<H> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            spawn(Box::pin(async move {
                barrier.wait().await;
                let mut tx = store.begin().await?;
                let taken = tx.take_password_reset("hash-race").await?;
                tx.commit().await?;
                Ok(taken)
            }))
        })
        .collect();
    let mut got = Vec::new();
    for h in handles {
        got.push(h.await.expect("a racing task panicked").expect("a take is no error"));
    }
    let winners: Vec<&PasswordReset> = got.iter().flatten().collect();
    assert_eq!(winners, [&ada], "exactly one transaction took the link: {got:?}");
}
