//! API keys (§7.4): a secret shown once and stored as a hash, group-bound stamping, revocation.

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::actor::Principal;
use roster_domain::audit::Source;
use roster_domain::invites::hash_token;
use roster_domain::roles::{Permission, Visibility};
use roster_domain::services::{API_KEY_PREFIX, NewApiKey, NewRole};

use crate::support::{World, failure, label};

fn new_key(name: &str, group: Option<roster_domain::ids::GroupId>, permissions: &[Permission]) -> NewApiKey {
    NewApiKey { name: label(name), group_id: group, permissions: permissions.iter().copied().collect() }
}

#[tokio::test]
async fn the_secret_is_shown_once_and_stored_only_as_a_hash() {
    let w = World::new().await;
    let created = w
        .services
        .create_api_key(&w.admin_actor().await, new_key("Zapier", None, &[Permission::InviteConnections]))
        .await
        .expect("creates");
    assert!(created.secret.starts_with(API_KEY_PREFIX));
    let stored = &w.store.snapshot().await.api_keys[&created.key.id];
    assert_eq!(stored.secret_hash, hash_token(&created.secret));
    assert_ne!(stored.secret_hash, created.secret);
    let listed = w.services.list_api_keys(&w.admin_actor().await).await.expect("lists");
    assert_eq!(listed.len(), 1);
    let event = w.events_named("api_key.created").await.pop().expect("audited");
    assert!(!event.details.to_string().contains(&created.secret), "the secret never reaches the audit log");
}

#[tokio::test]
async fn a_key_authenticates_with_its_own_permissions_and_records_its_last_use() {
    let w = World::new().await;
    let created = w
        .services
        .create_api_key(&w.admin_actor().await, new_key("Form", None, &[Permission::InviteConnections]))
        .await
        .expect("creates");
    w.clock.advance(time::Duration::hours(1));
    let actor = w.services.authenticate_api_key(&created.secret).await.expect("authenticates");
    assert_eq!(actor.source(), Source::Api);
    assert!(actor.has(Permission::InviteConnections));
    assert!(!actor.has(Permission::ManageUsers));
    assert!(matches!(actor.principal(), Principal::ApiKey { .. }));
    assert_eq!(
        w.store.snapshot().await.api_keys[&created.key.id].last_used_at,
        Some(crate::support::T0 + time::Duration::hours(1))
    );
}

#[tokio::test]
async fn a_revoked_or_unknown_key_is_unauthenticated() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let created = w.services.create_api_key(&admin, new_key("Form", None, &[])).await.expect("creates");
    w.services.revoke_api_key(&admin, created.key.id).await.expect("revokes");
    let err = failure(w.services.authenticate_api_key(&created.secret).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    let err = failure(w.services.authenticate_api_key("rk_not-a-real-key").await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    let err = failure(w.services.authenticate_api_key("Bearer something-else").await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn revoking_a_revoked_key_changes_nothing() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let created = w.services.create_api_key(&admin, new_key("Form", None, &[])).await.expect("creates");
    w.services.revoke_api_key(&admin, created.key.id).await.expect("revokes");
    let before = w.store.snapshot().await;
    w.services.revoke_api_key(&admin, created.key.id).await.expect("idempotent");
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn connections_created_through_a_group_bound_key_are_stamped_with_its_group_and_get_a_user_token() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let created = w
        .services
        .create_api_key(&w.admin_actor().await, new_key("Sales form", Some(sales), &[Permission::InviteConnections]))
        .await
        .expect("creates");
    let actor = w.services.authenticate_api_key(&created.secret).await.expect("authenticates");
    let created_connection = w
        .services
        .create_connection(
            &actor,
            w.new_connection("carl", Some(roster_domain::connections::GroupChoice::Group(support))),
        )
        .await
        .expect("creates");
    let c = &created_connection.connection;
    assert_eq!(c.groups, BTreeSet::from([sales]), "the key's group wins");
    assert_eq!(c.via_api_key, Some(created.key.id));
    assert_eq!(c.inviter_id, w.admin, "the key's creator owns what it creates");
    assert!(!created_connection.user_token.is_empty());
    assert_eq!(w.events_named("connection.created").await.pop().expect("audited").source, Source::Api);
}

#[tokio::test]
async fn deleting_the_group_revokes_its_keys_and_their_connections_keep_the_group() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let admin = w.admin_actor().await;
    let created = w
        .services
        .create_api_key(&admin, new_key("Sales form", Some(sales), &[Permission::InviteConnections]))
        .await
        .expect("creates");
    let actor = w.services.authenticate_api_key(&created.secret).await.expect("authenticates");
    let c = w.services.create_connection(&actor, w.new_connection("carl", None)).await.expect("creates").connection;
    w.services.delete_group(&admin, sales, false).await.expect("deletes");
    let err = failure(w.services.authenticate_api_key(&created.secret).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    assert_eq!(w.store.snapshot().await.connections[&c.id].groups, BTreeSet::from([sales]));
}

#[tokio::test]
async fn creating_keys_requires_manage_api_keys() {
    let w = World::new().await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err = failure(w.services.create_api_key(&lead, new_key("Mine", None, &[])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.list_api_keys(&lead).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_key_cannot_carry_a_permission_its_creator_lacks() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let keys_only = roster_domain::services::NewRole {
        key: crate::support::key("integrator"),
        name: label("Integrator"),
        permissions: [Permission::ManageApiKeys].into(),
        visibility: roster_domain::roles::Visibility::Groups,
    };
    w.services.create_role(&admin, keys_only).await.expect("creates");
    let integrator = w.member("integrator", &["integrator"], &[]).await;
    let err = failure(
        w.services
            .create_api_key(&w.actor(integrator).await, new_key("Too much", None, &[Permission::ManageUsers]))
            .await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn a_key_is_bound_to_a_live_group_below_the_root() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let err = failure(w.services.create_api_key(&admin, new_key("Root", Some(w.root()), &[])).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let sales = w.group("Sales", None).await;
    w.services.delete_group(&admin, sales, false).await.expect("deletes");
    let err = failure(w.services.create_api_key(&admin, new_key("Gone", Some(sales), &[])).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}

/// A key reads as its creator would (§7.4: its authority is the creator's intersected with its
/// own): a member who sees only the connections they invited cannot read the others through a
/// key; an admin's key reads them all.
#[tokio::test]
async fn a_key_reads_connections_only_as_its_creator_would() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let integrator = NewRole {
        key: crate::support::key("integrator"),
        name: label("Integrator"),
        permissions: BTreeSet::from([Permission::ManageApiKeys, Permission::InviteConnections]),
        visibility: Visibility::OwnInvites,
    };
    w.services.create_role(&admin, integrator).await.expect("creates the role");
    let ivy = w.actor(w.member("ivy", &["integrator"], &[]).await).await;
    let hers = w.connection(&ivy, "carl", None).await;
    let others = w.connection(&admin, "dora", None).await;

    let narrow = new_key("Ivy's sync", None, &[Permission::InviteConnections]);
    let narrow = w.services.create_api_key(&ivy, narrow).await.expect("creates");
    let key = w.services.authenticate_api_key(&narrow.secret).await.expect("authenticates");
    let listed = w.services.list_connections(&key, None, None, 200).await.expect("lists");
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![hers.id], "only what Ivy sees");
    assert_eq!(failure(w.services.get_connection(&key, others.id).await).code(), ErrorCode::NotFound);
    assert_eq!(w.services.get_connection(&key, hers.id).await.expect("reads").id, hers.id);

    let wide = new_key("Admin's sync", None, &[Permission::InviteConnections]);
    let wide = w.services.create_api_key(&admin, wide).await.expect("creates");
    let key = w.services.authenticate_api_key(&wide.secret).await.expect("authenticates");
    let listed = w.services.list_connections(&key, None, None, 200).await.expect("lists");
    assert_eq!(listed.len(), 2, "an admin's key reads every connection");
}

/// A key used many times a minute records its last use once a minute: authenticating does not
/// write on every request.
#[tokio::test]
async fn a_keys_last_use_is_kept_to_the_minute() {
    let w = World::new().await;
    let created = w
        .services
        .create_api_key(&w.admin_actor().await, new_key("Sync", None, &[Permission::InviteConnections]))
        .await
        .expect("creates");
    let id = created.key.id;
    w.services.authenticate_api_key(&created.secret).await.expect("authenticates");
    assert_eq!(w.store.snapshot().await.api_keys[&id].last_used_at, Some(crate::support::T0));
    w.clock.advance(time::Duration::seconds(59));
    w.services.authenticate_api_key(&created.secret).await.expect("authenticates");
    let kept = w.store.snapshot().await.api_keys[&id].last_used_at;
    assert_eq!(kept, Some(crate::support::T0), "within the minute: not written again");
    w.clock.advance(time::Duration::seconds(1));
    w.services.authenticate_api_key(&created.secret).await.expect("authenticates");
    let next = w.store.snapshot().await.api_keys[&id].last_used_at;
    assert_eq!(next, Some(crate::support::T0 + time::Duration::minutes(1)));
}
