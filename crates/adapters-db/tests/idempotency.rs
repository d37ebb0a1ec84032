//! `SeaOrmIdempotency` on both engines: one claim wins, a claimed key answers its record, an
//! answer is recorded and read back, a stale record is taken over once, a released key can be
//! claimed again, keys are scoped per organization and principal, old keys are purged.

#[allow(dead_code, reason = "the support module serves several test binaries; this one needs only `stores`")]
mod support;

use std::sync::Arc;

use roster_adapters_db::SeaOrmIdempotency;
use roster_domain::ids::OrgId;
use roster_domain::ports::{IdempotencyRepository, IdempotencyScope, StoredResponse};
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

use support::stores;

const T0: time::OffsetDateTime = datetime!(2026-03-02 9:00 UTC);

fn scope(org: u128, principal: u128, key: &str) -> IdempotencyScope {
    IdempotencyScope {
        org_id: OrgId::from_uuid(Uuid::from_u128(org)),
        principal_id: Uuid::from_u128(principal),
        key: key.to_owned(),
    }
}

#[tokio::test]
async fn a_key_is_claimed_once_completed_and_read_back() {
    for (t, _store) in stores("idempotency_claim").await {
        let keys = SeaOrmIdempotency::new(t.db.clone());
        let a = scope(1, 10, "retry-me");
        assert_eq!(keys.claim(&a, "fp-1", T0).await.expect("claims"), None, "{:?}", t.engine());
        let pending = keys.claim(&a, "fp-2", T0 + Duration::seconds(1)).await.expect("reads").expect("a record");
        assert_eq!((pending.fingerprint.as_str(), pending.response.as_ref(), pending.created_at), ("fp-1", None, T0));

        let answer = StoredResponse { status: 201, body: "{\"id\": 1}".to_owned() };
        keys.complete(&a, &answer).await.expect("completes");
        let done = keys.claim(&a, "fp-1", T0).await.expect("reads").expect("a record");
        assert_eq!(done.response, Some(answer), "{:?}", t.engine());

        // The same key text of another principal or organization is another key.
        assert_eq!(keys.claim(&scope(1, 11, "retry-me"), "fp-1", T0).await.expect("claims"), None);
        assert_eq!(keys.claim(&scope(2, 10, "retry-me"), "fp-1", T0).await.expect("claims"), None);

        keys.release(&a).await.expect("releases");
        assert_eq!(keys.claim(&a, "fp-3", T0).await.expect("claims again"), None);
        t.finish().await;
    }
}

#[tokio::test]
async fn concurrent_claims_of_one_key_have_exactly_one_winner() {
    for (t, _store) in stores("idempotency_race").await {
        let keys = Arc::new(SeaOrmIdempotency::new(t.db.clone()));
        let a = scope(1, 10, "raced");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let keys = keys.clone();
                let a = a.clone();
                tokio::spawn(async move { keys.claim(&a, &format!("fp-{i}"), T0).await.expect("answers") })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("joins").is_none() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "{:?}", t.engine());
        t.finish().await;
    }
}

#[tokio::test]
async fn a_stale_record_is_taken_over_once_and_old_keys_are_purged() {
    for (t, _store) in stores("idempotency_stale").await {
        let keys = SeaOrmIdempotency::new(t.db.clone());
        let a = scope(1, 10, "stale");
        keys.claim(&a, "fp-old", T0).await.expect("claims");
        let later = T0 + Duration::hours(1);
        assert!(keys.take_over(&a, T0, "fp-new", later).await.expect("takes over"), "{:?}", t.engine());
        assert!(!keys.take_over(&a, T0, "fp-other", later).await.expect("answers"), "only once");
        let record = keys.claim(&a, "fp-x", later).await.expect("reads").expect("a record");
        assert_eq!((record.fingerprint.as_str(), record.created_at), ("fp-new", later));

        keys.claim(&scope(1, 10, "older"), "fp", T0).await.expect("claims");
        assert_eq!(keys.purge_idempotency_keys(T0 + Duration::minutes(1)).await.expect("purges"), 1);
        assert_eq!(keys.claim(&scope(1, 10, "older"), "fp", later).await.expect("claims anew"), None);
        assert!(keys.claim(&a, "fp-new", later).await.expect("reads").is_some(), "the newer key stays");
        t.finish().await;
    }
}
