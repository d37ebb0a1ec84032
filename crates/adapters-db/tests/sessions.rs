//! `SeaOrmSessions` on both engines: sessions round-trip by token hash, slide, end one by one or
//! all of a member's at once, expire; failed logins are counted per address and window; a
//! session of a member who does not exist is refused by the foreign key.

#[allow(dead_code, reason = "the support module serves several test binaries; this one needs only `stores`")]
mod support;

use std::sync::Arc;

use roster_adapters_db::{SeaOrmSessions, SeaOrmStore};
use roster_domain::Services;
use roster_domain::audit::Source;
use roster_domain::ids::{OrgId, UserId};
use roster_domain::org::OrgSettings;
use roster_domain::ports::{Session, SessionRepository, StoreError};
use roster_domain::services::{NewAdmin, NewOrganization};
use roster_domain::testing::{FakeHasher, ManualClock, SequentialIds};
use roster_domain::values::{Email, Label, Password, PersonName, Slug};
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
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + Duration::hours(12),
    }
}

#[tokio::test]
async fn sessions_round_trip_slide_end_and_expire() {
    for (t, store) in stores("sessions_round_trip").await {
        let sessions = SeaOrmSessions::new(t.db.clone());
        let (org, user) = member(store).await;
        let a = session("hash-a", org, user);
        let b = Session { impersonator_id: Some(user), ..session("hash-b", org, user) };
        sessions.insert_session(&a).await.expect("inserts");
        sessions.insert_session(&b).await.expect("inserts");
        assert_eq!(sessions.session("hash-a").await.expect("reads"), Some(a.clone()), "{:?}", t.engine());
        assert_eq!(sessions.session("hash-b").await.expect("reads"), Some(b.clone()));
        assert_eq!(sessions.session("unknown").await.expect("reads"), None);

        let later = T0 + Duration::hours(1);
        sessions.extend_session("hash-a", later, later + Duration::hours(12)).await.expect("extends");
        let slid = sessions.session("hash-a").await.expect("reads").expect("present");
        assert_eq!((slid.last_seen_at, slid.expires_at), (later, later + Duration::hours(12)));

        // b expires first: purging at its expiry removes it only.
        assert_eq!(sessions.purge_expired_sessions(b.expires_at).await.expect("purges"), 1);
        assert_eq!(sessions.session("hash-b").await.expect("reads"), None);
        sessions.delete_session("hash-a").await.expect("deletes");
        sessions.delete_session("hash-a").await.expect("deleting twice is fine");
        assert_eq!(sessions.session("hash-a").await.expect("reads"), None);

        sessions.insert_session(&session("hash-c", org, user)).await.expect("inserts");
        sessions.insert_session(&session("hash-d", org, user)).await.expect("inserts");
        assert_eq!(sessions.delete_user_sessions(org, user).await.expect("deletes"), 2);
        t.finish().await;
    }
}

#[tokio::test]
async fn a_session_of_an_unknown_member_is_refused() {
    for (t, store) in stores("sessions_unknown_member").await {
        let sessions = SeaOrmSessions::new(t.db.clone());
        let (org, _) = member(store).await;
        let stranger = UserId::from_uuid(uuid::Uuid::from_u128(7));
        let refused = sessions.insert_session(&session("hash-x", org, stranger)).await;
        assert!(matches!(refused, Err(StoreError::Missing { .. })), "{:?}: {refused:?}", t.engine());
        t.finish().await;
    }
}

#[tokio::test]
async fn failed_logins_are_counted_per_address_within_the_window() {
    for (t, _store) in stores("login_failures").await {
        let sessions = SeaOrmSessions::new(t.db.clone());
        for minutes in [0, 5, 10] {
            sessions.record_login_failure("10.0.0.1", T0 + Duration::minutes(minutes)).await.expect("records");
        }
        sessions.record_login_failure("10.0.0.2", T0).await.expect("records");
        let since = T0 + Duration::minutes(5);
        let times = sessions.login_failures_since("10.0.0.1", since).await.expect("reads");
        assert_eq!(times, vec![since, T0 + Duration::minutes(10)], "{:?}", t.engine());
        assert!(sessions.login_failures_since("10.0.0.3", T0).await.expect("reads").is_empty());
        t.finish().await;
    }
}
