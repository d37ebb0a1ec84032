//! Sessions as use cases (§10, §5, §3): logging in issues an audited session, throttled per
//! account and address with a progressive delay; logging out and authenticating; impersonating
//! sessions written with their event and ending with their parent; and a member's sessions
//! ending with the change that takes their access away.

use roster_domain::audit::Source;
use roster_domain::invites::hash_token;
use roster_domain::services::{LoggedIn, LoginAttempt, RoleAssignment};
use roster_domain::throttle::ProgressiveDelay;
use roster_domain::{ErrorCode, ServiceError};
use time::Duration;

use crate::support::{World, failure, password, reason, slug};

const GOOD: &str = "correct horse battery";
const BAD: &str = "wrong horse battery";

async fn with_password(w: &World, local: &str, roles: &[&str]) -> roster_domain::ids::UserId {
    let user = w.member(local, roles, &[]).await;
    w.services.change_password(&w.actor(user).await, &password(GOOD)).await.expect("sets a password");
    user
}

fn attempt(w: &World, local: &str, pw: &str, address: &str) -> LoginAttempt {
    LoginAttempt {
        org: slug("acme"),
        email: w.email(local),
        password: password(pw),
        address: address.to_owned(),
        source: Source::Api,
    }
}

async fn log_in(w: &World, local: &str, address: &str) -> LoggedIn {
    w.services.log_in(&attempt(w, local, GOOD, address)).await.expect("logs in")
}

fn retry_after(err: &ServiceError) -> u64 {
    match err {
        ServiceError::RateLimited { retry_after_seconds } => *retry_after_seconds,
        other => panic!("expected rate_limited, got {other:?}"),
    }
}

#[tokio::test]
async fn logging_in_issues_a_session_that_authenticates_and_is_audited_with_the_address() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let logged_in = log_in(&w, "ann", "10.0.0.1").await;
    assert_eq!(logged_in.user.id, ann);
    assert_eq!(logged_in.session.token_hash, hash_token(&logged_in.token), "only the hash is stored");
    assert_eq!(w.store.snapshot().await.sessions.get(&logged_in.session.token_hash), Some(&logged_in.session));
    let auth = w.services.authenticate(&logged_in.token, Source::Api).await.expect("authenticates");
    assert_eq!(auth.actor.user_id(), Some(ann));
    let event = w.events_named("session.login_succeeded").await.pop().expect("audited");
    assert_eq!(event.details["source_address"], "10.0.0.1");
}

#[tokio::test]
async fn a_failed_login_records_the_source_address() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    failure(w.services.log_in(&attempt(&w, "ann", BAD, "10.0.0.9")).await);
    let event = w.events_named("session.login_failed").await.pop().expect("audited");
    assert_eq!(event.details["source_address"], "10.0.0.9");
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let logged_in = log_in(&w, "ann", "10.0.0.1").await;
    w.services.log_out(&logged_in.session.token_hash).await.expect("logs out");
    let err = failure(w.services.authenticate(&logged_in.token, Source::Api).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    w.services.log_out(&logged_in.session.token_hash).await.expect("logging out twice is fine");
}

#[tokio::test]
async fn a_session_slides_and_expires_when_unused() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let logged_in = log_in(&w, "ann", "10.0.0.1").await;
    let ttl = w.services.session_settings().ttl;
    w.clock.advance(ttl - Duration::minutes(1));
    w.services.authenticate(&logged_in.token, Source::Api).await.expect("still live, and slides");
    w.clock.advance(ttl - Duration::minutes(1));
    w.services.authenticate(&logged_in.token, Source::Api).await.expect("the expiry moved on use");
    w.clock.advance(ttl);
    let err = failure(w.services.authenticate(&logged_in.token, Source::Api).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated, "unused for a whole lifetime");
}

#[tokio::test]
async fn failures_from_one_address_do_not_lock_the_owner_out_from_another() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    for _ in 0..10 {
        let _ = w.services.log_in(&attempt(&w, "ann", BAD, "10.6.6.6")).await;
    }
    let err = failure(w.services.log_in(&attempt(&w, "ann", GOOD, "10.6.6.6")).await);
    assert_eq!(err.code(), ErrorCode::RateLimited, "the guesser's address waits");
    log_in(&w, "ann", "10.0.0.1").await;
}

#[tokio::test]
async fn failures_of_an_account_from_an_address_are_delayed_progressively() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let free = ProgressiveDelay::PER_ACCOUNT.free;
    for _ in 0..free {
        let err = failure(w.services.log_in(&attempt(&w, "ann", BAD, "10.0.0.1")).await);
        assert_eq!(err.code(), ErrorCode::Unauthenticated);
    }
    for expected in [1, 2, 4, 8] {
        let err = failure(w.services.log_in(&attempt(&w, "ann", GOOD, "10.0.0.1")).await);
        assert_eq!(retry_after(&err), expected, "the wait doubles with each failure");
        w.clock.advance(Duration::seconds(i64::try_from(expected).expect("small")));
        let err = failure(w.services.log_in(&attempt(&w, "ann", BAD, "10.0.0.1")).await);
        assert_eq!(err.code(), ErrorCode::Unauthenticated, "after the wait, the attempt is checked");
    }
    w.clock.advance(Duration::seconds(16));
    log_in(&w, "ann", "10.0.0.1").await;
    failure(w.services.log_in(&attempt(&w, "ann", BAD, "10.0.0.1")).await);
    log_in(&w, "ann", "10.0.0.1").await;
}

#[tokio::test]
async fn an_address_failing_on_many_accounts_is_delayed_too() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let free = ProgressiveDelay::PER_ADDRESS.free;
    for i in 0..free {
        let local = format!("nobody{i}");
        let err = failure(w.services.log_in(&attempt(&w, &local, BAD, "10.0.0.7")).await);
        assert_eq!(err.code(), ErrorCode::Unauthenticated);
    }
    let err = failure(w.services.log_in(&attempt(&w, "ann", GOOD, "10.0.0.7")).await);
    assert_eq!(retry_after(&err), 1);
    log_in(&w, "ann", "10.0.0.8").await;
}

#[tokio::test]
async fn unknown_accounts_and_members_without_a_password_cost_a_verification_like_a_wrong_password() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use roster_domain::ports::{HasherError, PasswordHash, PasswordHasher};
    use roster_domain::values::Password;
    use roster_testkit::FakeHasher;

    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);
    #[async_trait]
    impl PasswordHasher for Counting {
        async fn hash(&self, password: &Password) -> Result<PasswordHash, HasherError> {
            FakeHasher.hash(password).await
        }
        async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, HasherError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            FakeHasher.verify(password, hash).await
        }
    }

    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    w.member("bob", &["standard"], &[]).await;
    let counting = Arc::new(Counting::default());
    let services = w.services_with_hasher(counting.clone());
    let attempts = [
        attempt(&w, "ann", BAD, "10.0.0.1"),
        attempt(&w, "nobody", GOOD, "10.0.0.1"),
        attempt(&w, "bob", GOOD, "10.0.0.1"),
        LoginAttempt { org: slug("nowhere"), ..attempt(&w, "ann", GOOD, "10.0.0.1") },
    ];
    for (i, a) in attempts.iter().enumerate() {
        let err = failure(services.log_in(a).await);
        assert_eq!(err.code(), ErrorCode::Unauthenticated);
        assert_eq!(counting.0.load(Ordering::SeqCst), i + 1, "attempt {i} verified one hash");
    }
}

#[tokio::test]
async fn an_impersonating_session_is_written_with_its_event_and_ends_with_its_parent() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.change_password(&w.admin_actor().await, &password(GOOD)).await.expect("sets a password");
    let admin = log_in(&w, "admin", "10.0.0.1").await;
    let as_admin = w.services.authenticate(&admin.token, Source::Api).await.expect("authenticates");
    let started = w
        .services
        .impersonate(&as_admin.actor, Some(&admin.session.token_hash), ann, reason("ticket"))
        .await
        .expect("starts");
    let session = w.store.snapshot().await.sessions.get(&hash_token(&started.token)).cloned().expect("stored");
    assert_eq!(session.parent_hash.as_deref(), Some(admin.session.token_hash.as_str()));
    assert_eq!((session.user_id, session.impersonator_id), (ann, Some(w.admin)));
    let as_ann = w.services.authenticate(&started.token, Source::Api).await.expect("acts as ann");
    assert_eq!(as_ann.actor.user_id(), Some(ann));
    w.services.log_out(&admin.session.token_hash).await.expect("logs out");
    let err = failure(w.services.authenticate(&started.token, Source::Api).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated, "ended with the session that started it");
}

#[tokio::test]
async fn ending_an_impersonation_ends_its_session_and_keeps_the_parent() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.change_password(&w.admin_actor().await, &password(GOOD)).await.expect("sets a password");
    let admin = log_in(&w, "admin", "10.0.0.1").await;
    let actor = w.services.authenticate(&admin.token, Source::Api).await.expect("authenticates").actor;
    let started =
        w.services.impersonate(&actor, Some(&admin.session.token_hash), ann, reason("ticket")).await.expect("starts");
    let as_ann = w.services.authenticate(&started.token, Source::Api).await.expect("acts as ann");
    let hash = as_ann.session.as_ref().map(|s| s.token_hash.clone());
    w.services.end_impersonation(&as_ann.actor, hash.as_deref()).await.expect("ends");
    assert_eq!(failure(w.services.authenticate(&started.token, Source::Api).await).code(), ErrorCode::Unauthenticated);
    w.services.authenticate(&admin.token, Source::Api).await.expect("the admin's own session goes on");
    assert_eq!(w.events_named("impersonation.stopped").await.len(), 1);
}

#[tokio::test]
async fn an_impersonation_that_fails_to_write_its_session_leaves_no_event() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let refused = w.services.impersonate(&admin, Some("no such session"), ann, reason("ticket")).await;
    assert!(refused.is_err());
    assert!(w.events_named("impersonation.started").await.is_empty(), "the event went with the session");
}

#[tokio::test]
async fn deactivation_ends_the_sessions_and_reactivation_does_not_revive_them() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let logged_in = log_in(&w, "ann", "10.0.0.1").await;
    let admin = w.admin_actor().await;
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    assert!(w.store.snapshot().await.sessions.values().all(|s| s.user_id != ann), "ended in the same transaction");
    w.services.reactivate_user(&admin, ann, Default::default(), None).await.expect("reactivates");
    let err = failure(w.services.authenticate(&logged_in.token, Source::Api).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn deletion_ends_the_sessions() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let logged_in = log_in(&w, "ann", "10.0.0.1").await;
    w.services.delete_user(&w.admin_actor().await, ann, true).await.expect("deletes");
    assert_eq!(
        failure(w.services.authenticate(&logged_in.token, Source::Api).await).code(),
        ErrorCode::Unauthenticated
    );
    assert!(w.store.snapshot().await.sessions.values().all(|s| s.user_id != ann));
}

#[tokio::test]
async fn a_demotion_ends_the_sessions_and_a_promotion_does_not() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard", "team_lead"]).await;
    let admin = w.admin_actor().await;
    let first = log_in(&w, "ann", "10.0.0.1").await;
    let role = |key: &str| RoleAssignment::org_wide(roster_domain::values::Key::parse(key).expect("key"));
    w.services
        .set_roles(&admin, ann, vec![role("standard"), role("team_lead"), role("analyst")], None)
        .await
        .expect("promotes");
    w.services.authenticate(&first.token, Source::Api).await.expect("a promotion keeps the session");
    w.services.set_roles(&admin, ann, vec![role("standard")], None).await.expect("demotes");
    assert_eq!(failure(w.services.authenticate(&first.token, Source::Api).await).code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_the_callers() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let mine = log_in(&w, "ann", "10.0.0.1").await;
    let other = log_in(&w, "ann", "10.0.0.2").await;
    let actor = w.services.authenticate(&mine.token, Source::Api).await.expect("authenticates").actor;
    w.services
        .change_own_password(&actor, &password("another horse battery"), Some(&mine.session.token_hash))
        .await
        .expect("changes");
    w.services.authenticate(&mine.token, Source::Api).await.expect("the caller's session stays");
    assert_eq!(failure(w.services.authenticate(&other.token, Source::Api).await).code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn sign_up_requests_answer_alike_and_are_throttled_per_address() {
    use roster_domain::org::SettingsChange;
    use roster_domain::services::SignupRequest;

    use crate::support::{domain, email, person};

    let w = World::new().await;
    let change =
        SettingsChange { allowed_signup_domains: Some(vec![domain("acme.test")]), ..SettingsChange::default() };
    w.services.update_settings(&w.admin_actor().await, change).await.expect("opens sign-up");
    let request = |org: &str, address: &str| SignupRequest {
        org: slug(org),
        email: email(address),
        first_name: person("Sam"),
        last_name: person("Tester"),
        password: password(GOOD),
    };
    let cases = [
        request("acme", "sam@acme.test"),
        request("acme", "admin@acme.test"),
        request("acme", "sam@elsewhere.test"),
        request("nowhere", "sam@acme.test"),
    ];
    for r in cases {
        w.services.request_sign_up(r, "10.0.0.1").await.expect("answers alike");
    }
    assert_eq!(w.events_named("user.signed_up").await.len(), 1, "only the open, new address signed up");
    let limit = w.services.session_settings().sign_up_per_address.max_failures;
    for i in 4..limit {
        w.services.request_sign_up(request("acme", &format!("x{i}@acme.test")), "10.0.0.1").await.expect("answers");
    }
    let err = failure(w.services.request_sign_up(request("acme", "late@acme.test"), "10.0.0.1").await);
    assert_eq!(err.code(), ErrorCode::RateLimited);
    w.services.request_sign_up(request("acme", "late@acme.test"), "10.0.0.2").await.expect("another address");
}
