//! Self sign-up with email verification (§8.2).

use roster_domain::ErrorCode;
use roster_domain::audit::Source;
use roster_domain::mail::MailKind;
use roster_domain::org::SettingsChange;
use roster_domain::roles::{Permission, Visibility};
use roster_domain::services::SignupRequest;
use roster_domain::user::StatusKind;
use roster_domain::users_query::UserQuery;

use crate::credentials::log_in;
use crate::support::{World, domain, failure, password, person, slug};

async fn open_signup(w: &World, domains: &[&str]) {
    let change = SettingsChange {
        allowed_signup_domains: Some(domains.iter().map(|d| domain(d)).collect()),
        ..SettingsChange::default()
    };
    w.services.update_settings(&w.admin_actor().await, change).await.expect("changes settings");
}

fn request(w: &World, address: &str) -> SignupRequest {
    SignupRequest {
        org: w.org.slug.clone(),
        email: crate::support::email(address),
        first_name: person("Sam"),
        last_name: person("Self"),
        password: password("correct horse battery"),
    }
}

async fn verification_token(w: &World) -> String {
    match w.outbox().await.pop().expect("a mail is queued").kind {
        MailKind::SignupVerification { token, .. } => token,
        other => panic!("expected a verification mail, got {other:?}"),
    }
}

#[tokio::test]
async fn a_person_from_an_allowed_domain_signs_up_with_the_standard_role_and_no_license() {
    let w = World::new().await;
    open_signup(&w, &["acme.test"]).await;
    let user = w.services.sign_up(request(&w, "sam@acme.test")).await.expect("signs up");
    assert_eq!(w.status(user).await, StatusKind::Invited, "waits for email verification");
    w.services.verify_sign_up(&verification_token(&w).await).await.expect("verifies");
    let details = w.details(user).await;
    assert!(details.products.is_empty());
    assert_eq!(details.status.kind(), StatusKind::Inactive, "no license yet");
    let actor = w.actor(user).await;
    assert_eq!(actor.visibility(), Visibility::Groups);
    assert!(actor.has(Permission::InviteConnections) && !actor.has(Permission::ManageUsers));
    log_in(&w.services, &slug("acme"), &w.email("sam"), &password("correct horse battery"), Source::Console)
        .await
        .expect("logs in");
}

#[tokio::test]
async fn admins_see_signed_up_users_appear_in_the_users_table() {
    let w = World::new().await;
    open_signup(&w, &["acme.test"]).await;
    let user = w.services.sign_up(request(&w, "sam@acme.test")).await.expect("signs up");
    let page = w.services.list_users(&w.admin_actor().await, UserQuery::new(w.org.id)).await.expect("lists");
    assert!(page.items.iter().any(|u| u.user.id == user));
    let event = w.events_named("user.signed_up").await.pop().expect("audited");
    assert_eq!((event.actor_id, event.source), (Some(user), Source::Api));
}

#[tokio::test]
async fn sign_up_is_refused_when_auto_signup_is_off() {
    let w = World::new().await;
    open_signup(&w, &["acme.test"]).await;
    w.set_auto_signup(false).await;
    let before = w.store.snapshot().await;
    let err = failure(w.services.sign_up(request(&w, "sam@acme.test")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn sign_up_is_refused_for_an_address_outside_the_allowed_domains() {
    let w = World::new().await;
    open_signup(&w, &["acme.test"]).await;
    let err = failure(w.services.sign_up(request(&w, "sam@elsewhere.test")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.sign_up(request(&w, "sam@sub.acme.test")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "a subdomain is another domain");
}

#[tokio::test]
async fn sign_up_with_no_allowed_domain_is_closed() {
    let w = World::new().await;
    let err = failure(w.services.sign_up(request(&w, "sam@acme.test")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn signing_up_with_a_members_email_is_a_conflict() {
    let w = World::new().await;
    open_signup(&w, &["acme.test"]).await;
    w.member("sam", &["standard"], &[]).await;
    let err = failure(w.services.sign_up(request(&w, "sam@acme.test")).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
}

#[tokio::test]
async fn signing_up_for_an_unknown_organization_is_not_found() {
    let w = World::new().await;
    let mut req = request(&w, "sam@acme.test");
    req.org = slug("nowhere");
    let err = failure(w.services.sign_up(req).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn an_unverified_account_cannot_log_in_and_a_verification_token_is_single_use() {
    let w = World::new().await;
    open_signup(&w, &["acme.test"]).await;
    w.services.sign_up(request(&w, "sam@acme.test")).await.expect("signs up");
    let err = failure(
        log_in(&w.services, &slug("acme"), &w.email("sam"), &password("correct horse battery"), Source::Console).await,
    );
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    let token = verification_token(&w).await;
    w.services.verify_sign_up(&token).await.expect("verifies");
    let err = failure(w.services.verify_sign_up(&token).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn a_verification_token_expires_after_seven_days() {
    let w = World::new().await;
    open_signup(&w, &["acme.test"]).await;
    w.services.sign_up(request(&w, "sam@acme.test")).await.expect("signs up");
    w.clock.advance(roster_domain::invites::TOKEN_LIFETIME);
    let err = failure(w.services.verify_sign_up(&verification_token(&w).await).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn a_member_invite_token_cannot_verify_a_sign_up() {
    let w = World::inviting().await;
    let (invite, _) = w.invite("ann", &["core"]).await;
    let err = failure(w.services.verify_sign_up(&w.token_of(invite).await).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
}
