//! Impersonation (§10): who may, of whom, for how long, and what an impersonating session may
//! not do.

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::roles::{Permission, Visibility};
use roster_domain::services::{IMPERSONATION_LIMIT, NewApiKey, NewRole, ProfilePatch, RoleAssignment};
use roster_domain::values::Reason;

use crate::support::{T0, World, failure, key, label, password, person, reason};

#[tokio::test]
async fn an_admin_impersonates_with_a_written_reason_kept_in_the_audit_log_for_an_hour() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let started = w
        .services
        .start_impersonation(&w.admin_actor().await, ann, reason("ticket #42: cannot see leads"))
        .await
        .expect("starts");
    assert_eq!((started.user_id, started.impersonator_id), (ann, w.admin));
    assert_eq!(started.expires_at, T0 + IMPERSONATION_LIMIT);
    assert_eq!(IMPERSONATION_LIMIT, time::Duration::hours(1));
    let event = w.events_named("impersonation.started").await.pop().expect("audited");
    assert_eq!(event.actor_id, Some(w.admin));
    assert_eq!(event.details["reason"], "ticket #42: cannot see leads");
    assert_eq!(event.target_label, "Ann Tester <ann@acme.test>");
}

#[test]
fn a_blank_reason_cannot_even_be_written() {
    assert!(Reason::parse("   ").is_err(), "the reason is mandatory by type: an empty one does not exist");
}

#[tokio::test]
async fn impersonation_requires_the_impersonate_permission() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err = failure(w.services.start_impersonation(&lead, ann, reason("curious")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_deactivated_user_cannot_be_impersonated() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    let err = failure(w.services.start_impersonation(&admin, ann, reason("check")).await);
    assert_eq!(err.code(), ErrorCode::ImpersonationNotAllowed);
}

#[tokio::test]
async fn an_invited_user_who_has_not_joined_cannot_be_impersonated() {
    let w = World::inviting().await;
    let (_, ann) = w.invite("ann", &["core"]).await;
    let err = failure(w.services.start_impersonation(&w.admin_actor().await, ann, reason("check")).await);
    assert_eq!(err.code(), ErrorCode::ImpersonationNotAllowed);
}

#[tokio::test]
async fn impersonation_cannot_be_nested() {
    let w = World::new().await;
    let ann = w.member("ann", &["admin"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let as_ann = w.impersonating(w.admin, ann).await;
    let err = failure(w.services.start_impersonation(&as_ann, bob, reason("deeper")).await);
    assert_eq!(err.code(), ErrorCode::ImpersonationNotAllowed);
}

#[tokio::test]
async fn nobody_impersonates_themself() {
    let w = World::new().await;
    let err = failure(w.services.start_impersonation(&w.admin_actor().await, w.admin, reason("me")).await);
    assert_eq!(err.code(), ErrorCode::ImpersonationNotAllowed);
}

#[tokio::test]
async fn another_organizations_user_cannot_be_impersonated() {
    let w = World::new().await;
    let other = w.other_org("globex").await;
    let stranger = other.member("stranger", &["standard"], &[]).await;
    let err = failure(w.services.start_impersonation(&w.admin_actor().await, stranger, reason("across")).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn audit_events_made_while_impersonating_carry_the_impersonator() {
    let w = World::new().await;
    let ann = w.member("ann", &["full_member"], &[]).await;
    let as_ann = w.impersonating(w.admin, ann).await;
    w.connection(&as_ann, "carl", None).await;
    let event = w.events_named("connection.created").await.pop().expect("audited");
    assert_eq!((event.actor_id, event.impersonator_id), (Some(ann), Some(w.admin)));
    w.services.stop_impersonation(&as_ann).await.expect("stops");
    let stopped = w.events_named("impersonation.stopped").await.pop().expect("audited");
    assert_eq!(stopped.impersonator_id, Some(w.admin));
    let plain = w.connection(&w.actor(ann).await, "dora", None).await;
    let event = w.events().await.into_iter().rfind(|e| e.target_id == plain.id.to_string()).expect("audited");
    assert_eq!(event.impersonator_id, None);
}

#[tokio::test]
async fn stopping_is_only_for_an_impersonating_session() {
    let w = World::new().await;
    let err = failure(w.services.stop_impersonation(&w.admin_actor().await).await);
    assert_eq!(err.code(), ErrorCode::ImpersonationNotAllowed);
}

#[tokio::test]
async fn an_impersonating_session_cannot_change_roles() {
    let w = World::new().await;
    let ann = w.member("ann", &["admin"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let as_ann = w.impersonating(w.admin, ann).await;
    let err = failure(w.services.set_roles(&as_ann, bob, vec![RoleAssignment::org_wide(key("analyst"))], None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(
        w.services.set_grants(&as_ann, bob, BTreeSet::from([Permission::ViewReporting]), BTreeSet::new()).await,
    );
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let role =
        NewRole { key: key("mine"), name: label("Mine"), permissions: BTreeSet::new(), visibility: Visibility::Groups };
    let err = failure(w.services.create_role(&as_ann, role).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn an_impersonating_session_cannot_change_api_keys() {
    let w = World::new().await;
    let ann = w.member("ann", &["admin"], &[]).await;
    let admin = w.admin_actor().await;
    let existing = w
        .services
        .create_api_key(&admin, NewApiKey { name: label("Form"), group_id: None, permissions: BTreeSet::new() })
        .await
        .expect("creates");
    let as_ann = w.impersonating(w.admin, ann).await;
    let err = failure(
        w.services
            .create_api_key(&as_ann, NewApiKey { name: label("Sneaky"), group_id: None, permissions: BTreeSet::new() })
            .await,
    );
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.revoke_api_key(&as_ann, existing.key.id).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn an_impersonating_session_cannot_change_passwords() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let as_ann = w.impersonating(w.admin, ann).await;
    let err = failure(w.services.change_password(&as_ann, &password("a new long password")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    w.services.change_password(&w.actor(ann).await, &password("a new long password")).await.expect("ann may");
}

#[tokio::test]
async fn an_impersonating_session_may_do_what_the_user_may_do_otherwise() {
    let w = World::new().await;
    let ann = w.member("ann", &["admin"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let as_ann = w.impersonating(w.admin, ann).await;
    let patch = ProfilePatch { first_name: Some(person("Robert")), ..ProfilePatch::default() };
    w.services.update_user(&as_ann, bob, patch, None).await.expect("updates");
    let event = w.events_named("user.updated").await.pop().expect("audited");
    assert_eq!(event.impersonator_id, Some(w.admin));
}
