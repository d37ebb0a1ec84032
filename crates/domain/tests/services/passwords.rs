//! Passwords over their whole life (§3): an admin sets a member's password or mails them a
//! reset link, a member changes their own with the current one, anyone asks for a link that
//! works once for an hour; every change ends the member's sessions and links, is audited
//! without the password, and an impersonating session changes none (§10).

use roster_domain::audit::Source;
use roster_domain::ids::UserId;
use roster_domain::invites::hash_token;
use roster_domain::mail::MailKind;
use roster_domain::password_resets::RESET_LIFETIME;
use roster_domain::services::{LoggedIn, LoginAttempt, OwnPasswordChange, PasswordChange, PasswordResetRequest};
use roster_domain::{ErrorCode, ServiceError};
use time::Duration;

use crate::support::{World, failure, password, slug};

const GOOD: &str = "correct horse battery";
const NEW: &str = "a brand new passphrase";

async fn with_password(w: &World, local: &str, roles: &[&str]) -> UserId {
    let user = w.member(local, roles, &[]).await;
    w.services.change_password(&w.actor(user).await, &password(GOOD)).await.expect("sets a password");
    user
}

fn attempt(w: &World, local: &str, pw: &str) -> LoginAttempt {
    LoginAttempt {
        org: slug("acme"),
        email: w.email(local),
        password: password(pw),
        address: "10.0.0.1".to_owned(),
        source: Source::Api,
    }
}

async fn log_in(w: &World, local: &str, pw: &str) -> Result<LoggedIn, ServiceError> {
    w.services.log_in(&attempt(w, local, pw)).await
}

fn forgot(w: &World, local: &str) -> PasswordResetRequest {
    PasswordResetRequest { org: slug("acme"), email: w.email(local) }
}

/// The tokens of the reset mails queued for `local`, oldest first.
async fn reset_tokens(w: &World, local: &str) -> Vec<String> {
    let to = w.email(local);
    w.outbox()
        .await
        .into_iter()
        .filter(|m| m.to == to)
        .filter_map(|m| match m.kind {
            MailKind::PasswordReset { token, .. } => Some(token),
            _ => None,
        })
        .collect()
}

async fn is_live(w: &World, token: &str) -> bool {
    w.services.authenticate(token, Source::Api).await.is_ok()
}

#[tokio::test]
async fn an_admin_sets_another_users_password_and_their_sessions_end() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let session = log_in(&w, "ann", GOOD).await.expect("logs in");
    let version = w.details(ann).await.user.version;

    let details = w
        .services
        .set_user_password(&w.admin_actor().await, ann, PasswordChange::Set(password(NEW)))
        .await
        .expect("the admin sets it");

    assert!(details.user.has_password);
    assert_eq!(details.user.version, version + 1, "the member's version moves (a new ETag)");
    assert!(!is_live(&w, &session.token).await, "ann's session ended");
    assert_eq!(failure(log_in(&w, "ann", GOOD).await).code(), ErrorCode::Unauthenticated, "the old one is dead");
    log_in(&w, "ann", NEW).await.expect("the new one works");
    let event = w.events_named("user.password_set").await.pop().expect("audited");
    assert_eq!(event.actor_id, Some(w.admin));
    assert!(!event.details.to_string().contains(NEW), "the audit log never holds the password");
}

#[tokio::test]
async fn nobody_sets_the_password_of_a_member_holding_more_than_they_do() {
    let w = World::new().await;
    let (sales, _, _) = w.sales_east_support().await;
    let scoped = w.member("scoped", &["standard"], &[sales]).await;
    w.scope_admin(scoped, sales).await;
    // Bob is in Sales, so the scoped admin manages his groups, but he holds `admin` org-wide.
    let bob = w.member("bob", &["admin"], &[sales]).await;
    let carl = w.member("carl", &["standard"], &[sales]).await;
    let scoped_actor = w.actor(scoped).await;

    for change in [PasswordChange::Set(password(NEW)), PasswordChange::SendReset] {
        let err = failure(w.services.set_user_password(&scoped_actor, bob, change).await);
        assert_eq!(err.code(), ErrorCode::Forbidden);
    }
    assert!(!w.details(bob).await.user.has_password, "nothing changed");
    assert!(reset_tokens(&w, "bob").await.is_empty(), "nothing was mailed");
    w.services
        .set_user_password(&scoped_actor, carl, PasswordChange::Set(password(NEW)))
        .await
        .expect("a member the scoped admin covers");
    let standard = w.actor(w.member("dora", &["standard"], &[]).await).await;
    let err = failure(w.services.set_user_password(&standard, carl, PasswordChange::SendReset).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "no manage_users");
}

#[tokio::test]
async fn an_impersonating_session_can_change_no_password() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["admin"]).await;
    let bob = with_password(&w, "bob", &["standard"]).await;
    let as_ann = w.impersonating(w.admin, ann).await;

    let err = failure(w.services.set_user_password(&as_ann, bob, PasswordChange::Set(password(NEW))).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.set_user_password(&as_ann, bob, PasswordChange::SendReset).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let own = OwnPasswordChange {
        current: password(GOOD),
        password: password(NEW),
        session: None,
        address: "10.0.0.1".to_owned(),
    };
    assert_eq!(failure(w.services.update_own_password(&as_ann, &own).await).code(), ErrorCode::Forbidden);
    let mut new = w.new_user("cleo", &["standard"], &[]);
    new.password = Some(password(NEW));
    assert_eq!(failure(w.services.create_user(&as_ann, new).await).code(), ErrorCode::Forbidden);

    log_in(&w, "ann", GOOD).await.expect("ann's password is unchanged");
    log_in(&w, "bob", GOOD).await.expect("bob's password is unchanged");
    assert!(w.outbox().await.iter().all(|m| !matches!(m.kind, MailKind::PasswordReset { .. })), "nothing mailed");
}

#[tokio::test]
async fn the_admin_route_refuses_the_callers_own_account_a_deactivated_member_and_an_invitee() {
    let w = World::inviting().await;
    let admin = w.admin_actor().await;
    let err = failure(w.services.set_user_password(&admin, w.admin, PasswordChange::Set(password(NEW))).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "one's own password changes with the current one");

    let dee = with_password(&w, "dee", &["standard"]).await;
    w.services.deactivate_user(&admin, dee, None).await.expect("deactivates");
    let err = failure(w.services.set_user_password(&admin, dee, PasswordChange::SendReset).await);
    assert_eq!(err.code(), ErrorCode::UserNotActive);
    let err = failure(w.services.set_user_password(&admin, dee, PasswordChange::Set(password(NEW))).await);
    assert_eq!(err.code(), ErrorCode::UserNotActive);

    let (_, ivy) = w.invite("ivy", &["core"]).await;
    let err = failure(w.services.set_user_password(&admin, ivy, PasswordChange::SendReset).await);
    let ServiceError::Validation(fields) = err else { panic!("validation_failed, got {err:?}") };
    assert_eq!((fields[0].field.as_str(), fields[0].code), ("send_reset", "invite_pending"));
    assert!(reset_tokens(&w, "ivy").await.is_empty() && reset_tokens(&w, "dee").await.is_empty());
}

#[tokio::test]
async fn an_admin_mails_a_reset_link_that_supersedes_the_older_one() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let session = log_in(&w, "ann", GOOD).await.expect("logs in");
    let admin = w.admin_actor().await;
    w.services.set_user_password(&admin, ann, PasswordChange::SendReset).await.expect("mails a link");
    w.services.set_user_password(&admin, ann, PasswordChange::SendReset).await.expect("mails another");

    let tokens = reset_tokens(&w, "ann").await;
    assert_eq!(tokens.len(), 2);
    assert!(is_live(&w, &session.token).await, "sending a link ends no session");
    let stored = w.store.snapshot().await.password_resets;
    assert_eq!(stored.len(), 1, "one live link per member");
    assert!(stored.contains_key(&hash_token(&tokens[1])), "only the token's hash is stored");
    let err = failure(w.services.confirm_password_reset(&tokens[0], &password(NEW)).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken, "the older link was superseded");
    w.services.confirm_password_reset(&tokens[1], &password(NEW)).await.expect("the newest works");
    log_in(&w, "ann", NEW).await.expect("the new password works");
    let event = w.events_named("user.password_reset_requested").await.pop().expect("audited");
    assert_eq!(event.actor_id, Some(w.admin));
}

#[tokio::test]
async fn forgot_password_answers_alike_for_unknown_addresses_and_mails_only_members_who_can_log_in() {
    let w = World::inviting().await;
    let admin = w.admin_actor().await;
    with_password(&w, "ann", &["standard"]).await;
    let dee = with_password(&w, "dee", &["standard"]).await;
    w.services.deactivate_user(&admin, dee, None).await.expect("deactivates");
    w.invite("ivy", &["core"]).await;
    let mails_before = w.outbox().await.len();

    for local in ["ann", "nobody", "dee", "ivy"] {
        w.services.request_password_reset(&forgot(&w, local), "10.0.0.1").await.expect("answers alike");
    }
    let elsewhere = PasswordResetRequest { org: slug("no-such-org"), email: w.email("ann") };
    w.services.request_password_reset(&elsewhere, "10.0.0.1").await.expect("an unknown organization too");

    let mails = w.outbox().await;
    assert_eq!(mails.len(), mails_before + 1, "only ann's request mailed anything");
    let MailKind::PasswordReset { expires_at, org_name, .. } = &mails[mails.len() - 1].kind else {
        panic!("a reset mail")
    };
    assert_eq!((*expires_at, org_name.as_str()), (crate::support::T0 + RESET_LIFETIME, "Acme"));
    assert_eq!(w.store.snapshot().await.password_resets.len(), 1, "one link, ann's");
    let event = w.events_named("user.password_reset_requested").await.pop().expect("audited");
    assert_eq!(event.details["source_address"], "10.0.0.1");
}

#[tokio::test]
async fn a_reset_link_works_once_and_expires_after_an_hour() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let session = log_in(&w, "ann", GOOD).await.expect("logs in");
    w.services.request_password_reset(&forgot(&w, "ann"), "10.0.0.1").await.expect("asks");
    let token = reset_tokens(&w, "ann").await.pop().expect("mailed");

    w.clock.advance(RESET_LIFETIME - Duration::seconds(1));
    w.services.confirm_password_reset(&token, &password(NEW)).await.expect("works within the hour");
    assert!(!is_live(&w, &session.token).await, "every session of the member ended");
    log_in(&w, "ann", NEW).await.expect("the new password works");
    let err = failure(w.services.confirm_password_reset(&token, &password("yet another passphrase")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken, "works once");
    let event = w.events_named("user.password_reset").await.pop().expect("audited");
    assert_eq!(event.actor_id, Some(ann), "the member reset it");
    assert!(!event.details.to_string().contains(NEW));

    w.services.request_password_reset(&forgot(&w, "ann"), "10.0.0.1").await.expect("asks again");
    let token = reset_tokens(&w, "ann").await.pop().expect("mailed");
    w.clock.advance(RESET_LIFETIME);
    let err = failure(w.services.confirm_password_reset(&token, &password("yet another passphrase")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken, "an hour later it no longer works");
    log_in(&w, "ann", NEW).await.expect("the password is unchanged");
    assert_eq!(
        failure(w.services.confirm_password_reset("forged", &password(NEW)).await).code(),
        ErrorCode::InvalidToken
    );

    w.services.purge_expired_sessions().await.expect("purges");
    assert!(w.store.snapshot().await.password_resets.is_empty(), "the expired link is purged");
}

#[tokio::test]
async fn a_password_change_ends_every_reset_link_and_a_deactivation_makes_them_useless() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let admin = w.admin_actor().await;
    w.services.request_password_reset(&forgot(&w, "ann"), "10.0.0.1").await.expect("asks");
    let token = reset_tokens(&w, "ann").await.pop().expect("mailed");
    w.services.set_user_password(&admin, ann, PasswordChange::Set(password(NEW))).await.expect("sets");
    let err = failure(w.services.confirm_password_reset(&token, &password("yet another passphrase")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken, "the admin's change ended the link");

    w.services.request_password_reset(&forgot(&w, "ann"), "10.0.0.1").await.expect("asks");
    let token = reset_tokens(&w, "ann").await.pop().expect("mailed");
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    let err = failure(w.services.confirm_password_reset(&token, &password("yet another passphrase")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken, "a deactivated member cannot reset");
}

#[tokio::test]
async fn reset_requests_are_throttled_per_address_and_per_asked_address_alike_for_unknown_ones() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let limits = *w.services.session_settings();
    let per_account = limits.reset_per_account.max_failures;
    let per_address = limits.reset_per_address.max_failures;

    for local in ["ann", "nobody"] {
        for i in 0..per_account {
            let from = format!("10.1.0.{i}");
            w.services.request_password_reset(&forgot(&w, local), &from).await.expect("within the limit");
        }
        let err = failure(w.services.request_password_reset(&forgot(&w, local), "10.9.9.9").await);
        assert!(matches!(err, ServiceError::RateLimited { .. }), "{local}: the address asked for is throttled");
    }
    assert_eq!(reset_tokens(&w, "ann").await.len(), per_account, "the refused request mailed nothing");

    for i in 0..per_address {
        w.services.request_password_reset(&forgot(&w, &format!("who{i}")), "10.2.0.1").await.expect("within");
    }
    // A fresh address asked for, from an address that asked too often.
    let err = failure(w.services.request_password_reset(&forgot(&w, "zed"), "10.2.0.1").await);
    let ServiceError::RateLimited { retry_after_seconds } = err else { panic!("rate_limited, got {err:?}") };
    assert!(retry_after_seconds > 0 && retry_after_seconds <= 3600);
    w.services.request_password_reset(&forgot(&w, "zed"), "10.2.0.2").await.expect("from another address");
    w.clock.advance(limits.reset_per_address.window);
    w.services.request_password_reset(&forgot(&w, "ann"), "10.2.0.1").await.expect("after the window");
}

#[tokio::test]
async fn a_member_changes_their_own_password_with_the_current_one_and_their_other_sessions_end() {
    let w = World::new().await;
    let ann = with_password(&w, "ann", &["standard"]).await;
    let mine = log_in(&w, "ann", GOOD).await.expect("logs in");
    let other = log_in(&w, "ann", GOOD).await.expect("logs in elsewhere");
    let actor = w.services.authenticate(&mine.token, Source::Api).await.expect("authenticates").actor;
    let change = |current: &str| OwnPasswordChange {
        current: password(current),
        password: password(NEW),
        session: Some(mine.session.token_hash.clone()),
        address: "10.0.0.7".to_owned(),
    };

    let err = failure(w.services.update_own_password(&actor, &change("not my password at all")).await);
    let ServiceError::Validation(fields) = err else { panic!("validation_failed, got {err:?}") };
    assert_eq!((fields[0].field.as_str(), fields[0].code), ("current_password", "incorrect"));
    assert!(is_live(&w, &other.token).await, "a refused change ends nothing");
    log_in(&w, "ann", GOOD).await.expect("unchanged");

    w.services.update_own_password(&actor, &change(GOOD)).await.expect("changes");
    assert!(is_live(&w, &mine.token).await, "the caller's session stays");
    assert!(!is_live(&w, &other.token).await, "the other one ended");
    log_in(&w, "ann", NEW).await.expect("the new password works");
    let event = w.events_named("user.password_changed").await.pop().expect("audited");
    assert_eq!(event.actor_id, Some(ann));
}

#[tokio::test]
async fn wrong_current_passwords_count_as_failed_logins_and_are_throttled() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let mine = log_in(&w, "ann", GOOD).await.expect("logs in");
    let actor = w.services.authenticate(&mine.token, Source::Api).await.expect("authenticates").actor;
    let wrong = OwnPasswordChange {
        current: password("a guess that is wrong"),
        password: password(NEW),
        session: Some(mine.session.token_hash.clone()),
        address: "10.0.0.1".to_owned(),
    };
    let free = w.services.session_settings().login_per_account.free;
    for _ in 0..free {
        let err = failure(w.services.update_own_password(&actor, &wrong).await);
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
    }
    let err = failure(w.services.update_own_password(&actor, &wrong).await);
    assert!(matches!(err, ServiceError::RateLimited { .. }), "then throttled: {err:?}");
    let err = failure(log_in(&w, "ann", GOOD).await);
    assert!(matches!(err, ServiceError::RateLimited { .. }), "the login throttle of the account counts them");
}

#[tokio::test]
async fn a_reset_request_leaves_nothing_when_its_transaction_fails() {
    let w = World::new().await;
    with_password(&w, "ann", &["standard"]).await;
    let before = w.store.snapshot().await;
    w.store.fail_next_commit();
    let err = failure(w.services.request_password_reset(&forgot(&w, "ann"), "10.0.0.1").await);
    assert_eq!(err.code(), ErrorCode::Internal);
    let after = w.store.snapshot().await;
    assert_eq!(after.password_resets, before.password_resets, "no link");
    assert_eq!(after.outbox, before.outbox, "no mail");
    assert_eq!(after.audit, before.audit, "no event");
}

#[tokio::test]
async fn an_admin_creates_a_member_with_an_initial_password_who_can_log_in() {
    let w = World::new().await;
    let mut new = w.new_user("ann", &["standard"], &[]);
    new.password = Some(password(GOOD));
    let details = w.services.create_user(&w.admin_actor().await, new).await.expect("creates");
    assert!(details.user.has_password);
    log_in(&w, "ann", GOOD).await.expect("logs in with the initial password");
    assert_eq!(w.events_named("user.password_set").await.len(), 1);
    assert!(!w.events().await.iter().any(|e| e.details.to_string().contains(GOOD)));
}
