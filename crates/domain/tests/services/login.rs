//! Password login, resolving actors and login throttling (§10).

use roster_domain::audit::Source;
use roster_domain::throttle::ProgressiveDelay;
use roster_domain::{ErrorCode, ServiceError};
use time::Duration;

use crate::credentials::log_in;
use crate::support::{World, failure, password, slug};

const GOOD_PASSWORD: &str = "correct horse battery";

async fn with_password(w: &World, local: &str) -> roster_domain::ids::UserId {
    let user = w.member(local, &["standard"], &[]).await;
    w.services.change_password(&w.actor(user).await, &password(GOOD_PASSWORD)).await.expect("sets a password");
    user
}

#[tokio::test]
async fn the_right_password_logs_in_and_the_success_is_audited() {
    let w = World::new().await;
    let ann = with_password(&w, "ann").await;
    let user = log_in(&w.services, &slug("ACME"), &w.email("ann"), &password("correct horse battery"), Source::Console)
        .await
        .expect("logs in");
    assert_eq!(user.id, ann);
    let event = w.events_named("session.login_succeeded").await.pop().expect("audited");
    assert_eq!(event.target_id, ann.to_string());
}

#[tokio::test]
async fn a_wrong_password_an_unknown_email_and_an_unknown_organization_answer_the_same_unauthenticated() {
    let w = World::new().await;
    with_password(&w, "ann").await;
    let attempts = [
        ("acme", w.email("ann"), "wrong horse battery"),
        ("acme", w.email("nobody"), "correct horse battery"),
        ("nowhere", w.email("ann"), "correct horse battery"),
    ];
    for (org, email, pw) in attempts {
        let err = failure(log_in(&w.services, &slug(org), &email, &password(pw), Source::Console).await);
        assert_eq!(err.code(), ErrorCode::Unauthenticated);
        assert_eq!(err.to_string(), "authentication failed", "nothing tells which part was wrong");
    }
    assert_eq!(w.events_named("session.login_failed").await.len(), 2, "failures in a known organization are audited");
}

#[tokio::test]
async fn a_member_without_a_password_cannot_log_in() {
    let w = World::new().await;
    w.member("ann", &["standard"], &[]).await;
    let err = failure(
        log_in(&w.services, &slug("acme"), &w.email("ann"), &password("correct horse battery"), Source::Console).await,
    );
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn a_deactivated_member_cannot_log_in_even_with_the_right_password() {
    let w = World::new().await;
    let ann = with_password(&w, "ann").await;
    w.services.deactivate_user(&w.admin_actor().await, ann, None).await.expect("deactivates");
    let err = failure(
        log_in(&w.services, &slug("acme"), &w.email("ann"), &password("correct horse battery"), Source::Console).await,
    );
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn repeated_login_failures_of_an_account_are_rate_limited() {
    let w = World::new().await;
    with_password(&w, "ann").await;
    let throttle = ProgressiveDelay::PER_ACCOUNT;
    let attempt = |pw: &'static str| {
        let (org, email, pw) = (slug("acme"), w.email("ann"), password(pw));
        let services = w.services.clone();
        async move { log_in(&services, &org, &email, &pw, Source::Console).await }
    };
    for _ in 0..throttle.free {
        let err = failure(attempt("wrong horse battery").await);
        assert_eq!(err.code(), ErrorCode::Unauthenticated);
        w.clock.advance(Duration::minutes(1));
    }
    // The free failures were at 0, 1, 2, 3 and 4 minutes; it is now minute 5: the next attempt
    // waits one second after the last failure, which has passed.
    let err = failure(attempt("wrong horse battery").await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    // Even the right password is refused now, without being checked.
    let err = failure(attempt(GOOD_PASSWORD).await);
    assert_eq!(err.code(), ErrorCode::RateLimited);
    let ServiceError::RateLimited { retry_after_seconds } = err else { unreachable!() };
    assert_eq!(retry_after_seconds, 2, "one failure beyond the free ones doubles the wait");
    w.clock.advance(Duration::seconds(2));
    attempt(GOOD_PASSWORD).await.expect("the wait has passed");
}

#[tokio::test]
async fn an_unknown_email_is_throttled_like_an_account() {
    let w = World::new().await;
    for _ in 0..ProgressiveDelay::PER_ACCOUNT.free {
        failure(
            log_in(&w.services, &slug("acme"), &w.email("nobody"), &password("guess guess guess"), Source::Console)
                .await,
        );
    }
    let err = failure(
        log_in(&w.services, &slug("acme"), &w.email("nobody"), &password("guess guess guess"), Source::Console).await,
    );
    assert_eq!(err.code(), ErrorCode::RateLimited);
}

#[tokio::test]
async fn resolving_an_actor_needs_a_live_joined_member() {
    let w = World::inviting().await;
    let (_, invited) = w.invite("ann", &["core"]).await;
    let err = failure(w.services.resolve_actor(w.org.id, invited, Source::Console, None).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    let other = w.other_org("globex").await;
    let err = failure(w.services.resolve_actor(w.org.id, other.admin, Source::Console, None).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated, "not a member of this organization");
}

#[tokio::test]
async fn only_a_member_changes_their_own_password() {
    let w = World::new().await;
    let err = failure(w.services.change_password(&w.system(), &password("correct horse battery")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn the_operator_creates_an_admin_who_logs_in_holding_the_admin_role_and_no_license() {
    use roster_domain::services::NewAdmin;
    use roster_domain::values::PersonName;

    let w = World::new().await;
    let new = NewAdmin {
        org: slug("acme"),
        email: w.email("boss"),
        first_name: PersonName::parse("Bo").expect("a name"),
        last_name: PersonName::parse("Ss").expect("a name"),
        password: password(GOOD_PASSWORD),
    };
    let created = w.services.create_admin(Source::Cli, new.clone()).await.expect("creates the admin");
    assert!(created.products.is_empty());
    assert!(created.user.has_password);
    let user = log_in(&w.services, &slug("acme"), &w.email("boss"), &password(GOOD_PASSWORD), Source::Api).await;
    let actor = w.actor(user.expect("logs in").id).await;
    assert!(actor.has(roster_domain::roles::Permission::ManageUsers));
    // The same email again is a conflict and changes nothing.
    let again = w.services.create_admin(Source::Cli, new).await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::Conflict);
    assert_eq!(w.events_named("user.password_set").await.len(), 1);
}
