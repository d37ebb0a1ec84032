//! Sessions on both engines, through the store's transaction (`SessionRepository` on
//! `SeaOrmTx`) and its per-request statements (`Store::session`, `Store::touch_session`):
//! sessions round-trip by token hash, slide, end one by one or all of a member's at once,
//! expire; failed logins are counted per address and window; a session of a member who does
//! not exist is refused by the foreign key.

#[allow(dead_code, reason = "the support module serves several test binaries; this one needs only `stores`")]
mod support;

use std::sync::Arc;

use roster_adapters_db::SeaOrmStore;
use roster_domain::Services;
use roster_domain::audit::Source;
use roster_domain::ids::{OrgId, UserId};
use roster_domain::org::OrgSettings;
use roster_domain::ports::{Attempt, AttemptKind, Session, Store, StoreError};
use roster_domain::services::{NewAdmin, NewOrganization};
use roster_domain::values::{Email, Label, Password, PersonName, Slug};
use roster_testkit::{FakeHasher, ManualClock, SequentialIds};
use time::Duration;
use time::macros::datetime;

use support::stores;

const T0: time::OffsetDateTime = datetime!(2026-03-02 9:00 UTC);

/// An organization and its admin, created through the services on `store`.
async fn member(store: SeaOrmStore) -> (OrgId, UserId) {
    let services = Services::new(
        Arc::new(store),
        Arc::new(ManualClock::new(T0)),
        Arc::new(SequentialIds::new()),
        Arc::new(FakeHasher),
    );
    let org = NewOrganization {
        name: Label::parse("Acme").expect("label"),
        slug: Slug::parse("acme").expect("slug"),
        trial_ends_at: None,
        settings: OrgSettings::default(),
    };
    let org = services.create_organization(Source::Cli, org).await.expect("creates the organization");
    let admin = NewAdmin {
        org: org.slug.clone(),
        email: Email::parse("ann@acme.example").expect("email"),
        first_name: PersonName::parse("Ann").expect("name"),
        last_name: PersonName::parse("Admin").expect("name"),
        password: Password::parse("correct horse battery").expect("password"),
    };
    let user = services.create_admin(Source::Cli, admin).await.expect("creates the admin");
    (org.id, user.user.id)
}

fn session(hash: &str, org: OrgId, user: UserId) -> Session {
    Session {
        token_hash: hash.to_owned(),
        org_id: org,
        user_id: user,
        impersonator_id: None,
        parent_hash: None,
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + Duration::hours(12),
    }
}

#[tokio::test]
async fn sessions_round_trip_slide_end_and_expire() {
    for (t, store) in stores("sessions_round_trip").await {
        let (org, user) = member(store.clone()).await;
        let (a, b) = (session("hash-a", org, user), session("hash-b", org, user));
        let b = Session { expires_at: T0 + Duration::hours(1), ..b };
        let mut tx = Store::begin(&store).await.expect("begins");
        tx.insert_session(&a).await.expect("inserts");
        tx.insert_session(&b).await.expect("inserts");
        tx.commit().await.expect("commits");
        assert_eq!(Store::session(&store, "hash-a").await.expect("reads"), Some(a.clone()), "{:?}", t.engine());
        assert_eq!(Store::session(&store, "hash-b").await.expect("reads"), Some(b.clone()));
        assert_eq!(Store::session(&store, "unknown").await.expect("reads"), None);

        let later = T0 + Duration::minutes(5);
        store.touch_session("hash-a", later, later + Duration::hours(12)).await.expect("extends");
        let slid = Store::session(&store, "hash-a").await.expect("reads").expect("present");
        assert_eq!((slid.last_seen_at, slid.expires_at), (later, later + Duration::hours(12)));

        let mut tx = Store::begin(&store).await.expect("begins");
        assert_eq!(tx.purge_expired_sessions(b.expires_at).await.expect("purges"), 1);
        assert_eq!(tx.session("hash-b").await.expect("reads"), None);
        assert!(tx.delete_session("hash-a").await.expect("deletes"));
        assert!(!tx.delete_session("hash-a").await.expect("deleting twice is fine"));
        assert_eq!(tx.session("hash-a").await.expect("reads"), None);

        tx.insert_session(&session("hash-c", org, user)).await.expect("inserts");
        tx.insert_session(&session("hash-d", org, user)).await.expect("inserts");
        assert_eq!(tx.delete_user_sessions(org, user, None).await.expect("deletes"), 2);
        tx.commit().await.expect("commits");
        t.finish().await;
    }
}

#[tokio::test]
async fn a_session_of_an_unknown_member_is_refused() {
    for (t, store) in stores("sessions_unknown_member").await {
        let (org, _) = member(store.clone()).await;
        let stranger = UserId::from_uuid(uuid::Uuid::from_u128(7));
        let mut tx = Store::begin(&store).await.expect("begins");
        let refused = tx.insert_session(&session("hash-x", org, stranger)).await;
        assert!(matches!(refused, Err(StoreError::Missing { .. })), "{:?}: {refused:?}", t.engine());
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn failed_logins_are_counted_per_address_within_the_window() {
    for (t, store) in stores("login_failures").await {
        let failure = |address: &str, at| Attempt {
            kind: AttemptKind::LoginFailure,
            address: address.to_owned(),
            account: None,
            at,
        };
        let mut tx = Store::begin(&store).await.expect("begins");
        for minutes in [0, 5, 10] {
            tx.record_attempt(&failure("10.0.0.1", T0 + Duration::minutes(minutes))).await.expect("records");
        }
        tx.record_attempt(&failure("10.0.0.2", T0)).await.expect("records");
        let since = T0 + Duration::minutes(5);
        let login = AttemptKind::LoginFailure;
        let times = tx.attempts_since(login, "10.0.0.1", None, since).await.expect("reads");
        assert_eq!(times, vec![since, T0 + Duration::minutes(10)], "{:?}", t.engine());
        assert!(tx.attempts_since(login, "10.0.0.3", None, T0).await.expect("reads").is_empty());
        tx.commit().await.expect("commits");
        t.finish().await;
    }
}
