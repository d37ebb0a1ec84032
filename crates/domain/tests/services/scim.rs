//! The SCIM use cases (§13) on the in-memory ports, called as the SCIM face calls them: the
//! request read by the pure readers (`read_user`, `read_group`, `read_patch`), the actor an
//! identity provider's API key holding `scim` resolves to at the SCIM face. Members are created
//! with the organization's `scim_products` through the seat limit, replaced as Okta's full PUT
//! does, patched as Okta and Entra ID send it, deleted softly; teams at depth 2 are created,
//! given and relieved of members and deleted; every change is audited with the source `scim`,
//! and nothing reaches another organization or is done without `scim`.

use std::collections::BTreeSet;

use roster_domain::actor::Actor;
use roster_domain::audit::{AuditEvent, Source};
use roster_domain::ids::{GroupId, UserId};
use roster_domain::org::SettingsChange;
use roster_domain::roles::Permission;
use roster_domain::scim::filter::Filter;
use roster_domain::scim::groups::read_group;
use roster_domain::scim::patch::{PATCH_SCHEMA, PatchOperation, read_patch};
use roster_domain::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use roster_domain::scim::user_input::{Omitted, UserInput, read_user};
use roster_domain::scim::users::user_filter;
use roster_domain::services::{NewApiKey, ProductRefusal, ScimUserList, ScimUserOutcome};
use roster_domain::user::{StatusKind, User};
use roster_domain::{ErrorCode, ServiceError};
use serde_json::{Value, json};

use crate::support::{World, failure, key, keys, label};

// ---- how an identity provider talks to the use cases ---------------------------------------------

/// An identity provider's authority: an API key holding `scim` only, made by the admin,
/// authenticated at the SCIM face (as `adapters-http`'s `ScimCaller` resolves it).
async fn idp(w: &World) -> Actor {
    key_actor(w, "okta", &[Permission::Scim]).await
}

/// An API key made by the admin with `permissions`, authenticated at the SCIM face.
async fn key_actor(w: &World, name: &str, permissions: &[Permission]) -> Actor {
    let new = NewApiKey { name: label(name), group_id: None, permissions: permissions.iter().copied().collect() };
    let created = w.services.create_api_key(&w.admin_actor().await, new).await.expect("the admin creates the key");
    let auth = w.services.authenticate(&created.secret, Source::Scim).await.expect("the key authenticates");
    assert_eq!(auth.actor.source(), Source::Scim);
    auth.actor
}

/// Okta's create request for `local@<org>.test` (the attributes its SCIM 2.0 app sends).
fn okta_user(w: &World, local: &str, given: &str, family: &str) -> Value {
    let email = w.email(local);
    json!({
        "schemas": [USER_SCHEMA],
        "userName": email.as_str(),
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": email.as_str(), "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u-{local}"),
        "groups": [],
        "password": "xK8#rT2!pL9vQw",
        "active": true
    })
}

/// A `POST` or `PUT` body as the face reads it.
fn user_input(body: &Value) -> UserInput {
    read_user(body, Omitted::Kept).expect("a valid SCIM User")
}

/// A PATCH body's operations as the face reads them.
fn patch(operations: Value) -> Vec<PatchOperation> {
    read_patch(&json!({"schemas": [PATCH_SCHEMA], "Operations": operations})).expect("a valid PatchOp")
}

/// A group body as the face reads it for a `POST`.
fn group_input(name: &str, members: &[UserId]) -> roster_domain::scim::groups::GroupInput {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m.to_string()})).collect();
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members});
    read_group(&body, false).expect("a valid SCIM Group")
}

async fn create(w: &World, idp: &Actor, body: &Value) -> ScimUserOutcome {
    w.services.scim_create_user(idp, user_input(body)).await.expect("the identity provider creates the member")
}

async fn patch_user(w: &World, idp: &Actor, id: UserId, operations: Value) -> ScimUserOutcome {
    w.services.scim_patch_user(idp, id, &patch(operations), None).await.expect("the patch applies")
}

/// Sets the organization's `scim_products`, as the operator.
async fn set_scim_products(w: &World, products: &[&str]) {
    let change =
        SettingsChange { scim_products: Some(products.iter().map(|p| key(p)).collect()), ..SettingsChange::default() };
    w.services.update_settings(&w.system(), change).await.expect("the operator sets scim_products");
}

// ---- reading the state -----------------------------------------------------------------------------

/// The member as stored, deleted or not.
async fn stored(w: &World, id: UserId) -> User {
    w.store.snapshot().await.users.get(&id).cloned().expect("the member is stored")
}

/// The members of `group` whose membership is open, sorted.
async fn open_members(w: &World, group: GroupId) -> BTreeSet<UserId> {
    w.store
        .snapshot()
        .await
        .memberships
        .into_iter()
        .filter(|m| m.group_id == group && m.left_at.is_none())
        .map(|m| m.user_id)
        .collect()
}

/// The events appended since the first `mark` of the organization's events; each one is
/// asserted to come through the SCIM face, made by an API key.
async fn scim_events_since(w: &World, mark: usize) -> Vec<AuditEvent> {
    let events: Vec<AuditEvent> = w.events().await.into_iter().skip(mark).collect();
    assert!(!events.is_empty(), "the change was audited");
    for e in &events {
        assert_eq!(e.source, Source::Scim, "{} is audited with the source scim", e.action);
        assert!(e.api_key_id.is_some(), "{} names the key that made it", e.action);
    }
    events
}

fn actions(events: &[AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

fn sorted(ids: &[UserId]) -> BTreeSet<UserId> {
    ids.iter().copied().collect()
}

// ---- create -----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_scim_create_makes_a_standard_member_holding_the_scim_products_audited_with_source_scim() {
    let w = World::new().await;
    set_scim_products(&w, &["core", "dialer"]).await;
    let idp = idp(&w).await;
    let mark = w.events().await.len();
    let mut body = okta_user(&w, "ada", "Ada", "Lovelace");
    body["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    body[ENTERPRISE_USER_SCHEMA] = json!({"department": "Engines", "manager": "b0b"});
    let outcome = create(&w, &idp, &body).await;
    assert!(outcome.refused.is_empty(), "{:?}", outcome.refused);

    let ada = stored(&w, outcome.user.id).await;
    assert_eq!(
        (ada.email.as_str(), ada.first_name.as_str(), ada.last_name.as_str()),
        ("ada@acme.test", "Ada", "Lovelace")
    );
    assert_eq!(ada.directory.external_id.as_ref().map(|v| v.as_str()), Some("00u-ada"));
    assert_eq!(ada.directory.department.as_ref().map(|v| v.as_str()), Some("Engines"));
    assert_eq!(ada.directory.manager.as_ref().map(|v| v.as_str()), Some("b0b"), "Entra ID's bare manager id");
    assert!(!ada.is_deactivated());
    assert!(!w.store.snapshot().await.password_hashes.contains_key(&ada.id), "a sent password is never kept");
    let details = w.details(ada.id).await;
    assert_eq!(details.products, keys(&["core", "dialer"]));
    assert!(details.groups.is_empty());
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (1, 1));
    let actor = w.actor(ada.id).await;
    assert!(actor.has(Permission::InviteConnections) && !actor.has(Permission::ManageUsers), "the standard role");

    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["user.created", "user.licenses_changed"]);
    assert!(events.iter().all(|e| e.target_id == ada.id.to_string()));
    assert_eq!(events[1].details["products"]["after"], json!(["core", "dialer"]));
    assert_eq!(events[1].details["reason"], json!("scim_products"));
}

#[tokio::test]
async fn a_full_pool_still_creates_the_member_without_the_product_and_audits_the_refusal_naming_it() {
    let w = World::new().await;
    w.set_seats("core", 1).await;
    set_scim_products(&w, &["core", "dialer"]).await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    assert_eq!(w.products(ada).await, keys(&["core", "dialer"]));

    let mark = w.events().await.len();
    let outcome = create(&w, &idp, &okta_user(&w, "bob", "Bob", "Babbage")).await;
    assert_eq!(
        outcome.refused,
        [
            ProductRefusal { product: key("core"), reason: "no free seat for core: 1 of 1 used".to_owned() },
            ProductRefusal {
                product: key("dialer"),
                reason: "dialer requires core, which was not assigned".to_owned()
            },
        ],
        "the outcome names the product whose pool is full, and the one that needs it"
    );
    let bob = outcome.user.id;
    assert_eq!(stored(&w, bob).await.email, w.email("bob"), "the member is created all the same");
    assert!(w.products(bob).await.is_empty());
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (1, 1), "no seat taken by the refusal");

    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["user.created", "user.licenses_refused"]);
    let refused = &events[1];
    assert_eq!(refused.target_id, bob.to_string());
    assert_eq!(refused.details["products"], json!(["core", "dialer"]));
    assert_eq!(refused.details["reasons"][0], json!("no free seat for core: 1 of 1 used"));
}

#[tokio::test]
async fn a_member_created_inactive_is_deactivated_and_given_no_product() {
    let w = World::new().await;
    set_scim_products(&w, &["core"]).await;
    let idp = idp(&w).await;
    let mark = w.events().await.len();
    let mut body = okta_user(&w, "ada", "Ada", "Lovelace");
    // Entra ID's string boolean.
    body["active"] = json!("False");
    let outcome = create(&w, &idp, &body).await;
    assert!(outcome.refused.is_empty());
    assert_eq!(w.status(outcome.user.id).await, StatusKind::Deactivated);
    assert!(w.products(outcome.user.id).await.is_empty());
    assert_eq!(w.seats_used("core").await, 0);
    assert_eq!(actions(&scim_events_since(&w, mark).await), ["user.created", "user.deactivated"]);
}

// ---- replace ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_replace_ignores_read_only_attributes_and_keeps_what_it_leaves_out_active_included() {
    let w = World::new().await;
    set_scim_products(&w, &["core"]).await;
    let sales = w.group("Sales", None).await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    let before = stored(&w, ada).await;

    // Okta's profile push: the whole user without `active`, with the read-only attributes it
    // echoes back — and values for them that are not the member's.
    let mut put = okta_user(&w, "ada", "Augusta", "Lovelace");
    let object = put.as_object_mut().expect("an object");
    object.remove("active");
    object.remove("externalId");
    put["id"] = json!(uuid::Uuid::from_u128(7).to_string());
    put["meta"] =
        json!({"created": "2000-01-01T00:00:00Z", "lastModified": "2000-01-01T00:00:00Z", "version": "W/\"99\""});
    put["groups"] = json!([{"value": sales.to_string()}]);
    put["title"] = json!("Countess");
    let mark = w.events().await.len();
    let outcome =
        w.services.scim_replace_user(&idp, ada, user_input(&put), Some(before.version)).await.expect("replaces");

    let after = stored(&w, ada).await;
    assert_eq!(outcome.user, after);
    assert_eq!((after.id, after.created_at), (before.id, before.created_at), "`id` and `meta` are read-only");
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.first_name.as_str(), "Augusta");
    assert_eq!(after.directory.title.as_ref().map(|v| v.as_str()), Some("Countess"));
    assert_eq!(after.directory.external_id, before.directory.external_id, "left out, kept");
    assert!(!after.is_deactivated(), "a PUT without `active` leaves the member active");
    let details = w.details(ada).await;
    assert_eq!(details.products, keys(&["core"]));
    assert!(details.groups.is_empty(), "`groups` is read-only: no membership from it");
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["user.updated"]);
    assert_eq!(events[0].details["first_name"], json!({"before": "Ada", "after": "Augusta"}));
    assert_eq!(events[0].details["title"]["after"], json!("Countess"));

    // The same body again changes nothing.
    let mark = w.events().await.len();
    w.services.scim_replace_user(&idp, ada, user_input(&put), None).await.expect("replaces");
    assert_eq!(stored(&w, ada).await, after);
    assert_eq!(w.events().await.len(), mark, "nothing to audit");

    // Nor does it reactivate a deactivated member.
    patch_user(&w, &idp, ada, json!([{"op": "replace", "value": {"active": false}}])).await;
    let mark = w.events().await.len();
    put["title"] = json!(null);
    let outcome = w.services.scim_replace_user(&idp, ada, user_input(&put), None).await.expect("replaces");
    assert!(outcome.user.is_deactivated());
    assert_eq!(w.status(ada).await, StatusKind::Deactivated);
    assert!(w.products(ada).await.is_empty());
    assert_eq!(stored(&w, ada).await.directory.title, None, "`null` clears");
    assert_eq!(actions(&scim_events_since(&w, mark).await), ["user.updated"]);
}

// ---- patch ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_patch_of_active_false_deactivates_and_releases_licenses_as_an_admins_deactivation_does() {
    let w = World::new().await;
    set_scim_products(&w, &["core", "dialer"]).await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    let bob = create(&w, &idp, &okta_user(&w, "bob", "Bob", "Babbage")).await.user.id;
    let mark = w.events().await.len();
    w.services.deactivate_user(&w.admin_actor().await, bob, None).await.expect("the admin deactivates");
    let by_admin: Vec<AuditEvent> = w.events().await.into_iter().skip(mark).collect();

    let mark = w.events().await.len();
    // Okta's deactivation: a PATCH without a path.
    let outcome = patch_user(&w, &idp, ada, json!([{"op": "replace", "value": {"active": false}}])).await;
    assert!(outcome.user.is_deactivated() && outcome.refused.is_empty());
    assert_eq!(w.status(ada).await, StatusKind::Deactivated);
    assert!(w.products(ada).await.is_empty());
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (0, 0));
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["user.licenses_changed", "user.deactivated"]);
    assert_eq!(events[1].details["released"], json!(["core", "dialer"]));

    // The same change as an admin's, event for event; only the door differs.
    assert_eq!(actions(&by_admin), actions(&events));
    for (scim, admin) in events.iter().zip(&by_admin) {
        assert_eq!(admin.source, Source::Console);
        assert_eq!(scim.details, admin.details, "{}", scim.action);
    }

    // Deactivating again changes nothing.
    let version = stored(&w, ada).await.version;
    let mark = w.events().await.len();
    patch_user(&w, &idp, ada, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert_eq!(stored(&w, ada).await.version, version);
    assert_eq!(w.events().await.len(), mark);
}

#[tokio::test]
async fn entras_string_booleans_deactivate_and_reactivate_giving_the_scim_products_again_as_seats_allow() {
    let w = World::new().await;
    w.set_seats("core", 1).await;
    set_scim_products(&w, &["core"]).await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    let off = json!([{"op": "Replace", "path": "active", "value": "False"}]);
    let on = json!([{"op": "Replace", "path": "active", "value": "True"}]);

    let outcome = patch_user(&w, &idp, ada, off.clone()).await;
    assert!(outcome.user.is_deactivated());
    assert_eq!(w.seats_used("core").await, 0);

    // Meanwhile an admin gives the one seat to someone else.
    let cy = w.member("cy", &["standard"], &[]).await;
    w.assign(cy, &["core"]).await;
    let mark = w.events().await.len();
    let outcome = patch_user(&w, &idp, ada, on.clone()).await;
    assert!(!outcome.user.is_deactivated(), "reactivated all the same");
    assert_eq!(
        outcome.refused,
        [ProductRefusal { product: key("core"), reason: "no free seat for core: 1 of 1 used".to_owned() }]
    );
    assert!(w.products(ada).await.is_empty());
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["user.reactivated", "user.licenses_refused"]);
    assert_eq!(events[1].details["products"], json!(["core"]));

    // Once the seat is free again, the next reactivation gives it.
    w.assign(cy, &[]).await;
    patch_user(&w, &idp, ada, off).await;
    let mark = w.events().await.len();
    let outcome = patch_user(&w, &idp, ada, on).await;
    assert!(outcome.refused.is_empty());
    assert_eq!(w.products(ada).await, keys(&["core"]));
    assert_eq!(w.seats_used("core").await, 1);
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["user.reactivated", "user.licenses_changed"]);
    assert_eq!(events[1].details["reason"], json!("scim_products"));
}

#[tokio::test]
async fn a_patch_applies_filtered_and_extension_paths_and_a_remove_clears_the_attribute() {
    let w = World::new().await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    let mark = w.events().await.len();
    patch_user(
        &w,
        &idp,
        ada,
        json!([
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+14155550100"},
            {"op": "Replace", "path": format!("{ENTERPRISE_USER_SCHEMA}:department"), "value": "Analytical Engines"},
            {"op": "Replace", "path": "name.familyName", "value": "King"},
            {"op": "Add", "path": "title", "value": "Analyst"},
        ]),
    )
    .await;
    let after = stored(&w, ada).await;
    assert_eq!(after.phone.as_ref().map(|p| p.as_str()), Some("+14155550100"));
    assert_eq!(after.directory.department.as_ref().map(|v| v.as_str()), Some("Analytical Engines"));
    assert_eq!((after.first_name.as_str(), after.last_name.as_str()), ("Ada", "King"));
    assert_eq!(after.directory.title.as_ref().map(|v| v.as_str()), Some("Analyst"));
    assert_eq!(actions(&scim_events_since(&w, mark).await), ["user.updated"], "one event for one request");

    patch_user(&w, &idp, ada, json!([{"op": "remove", "path": "phoneNumbers"}, {"op": "Remove", "path": "title"}]))
        .await;
    let after = stored(&w, ada).await;
    assert_eq!((after.phone, after.directory.title), (None, None));
    assert_eq!(after.directory.department.as_ref().map(|v| v.as_str()), Some("Analytical Engines"), "untouched");
}

#[tokio::test]
async fn a_stale_version_is_a_failed_precondition_and_a_refused_patch_changes_nothing() {
    let w = World::new().await;
    set_scim_products(&w, &["core"]).await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    let version = stored(&w, ada).await.version;
    let rename = patch(json!([{"op": "replace", "path": "name.givenName", "value": "Augusta"}]));
    w.services.scim_patch_user(&idp, ada, &rename, Some(version)).await.expect("the version matches");
    assert_eq!(stored(&w, ada).await.version, version + 1);

    let before = w.store.snapshot().await;
    let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
    let err = failure(w.services.scim_patch_user(&idp, ada, &off, Some(version)).await);
    assert_eq!(err.code(), ErrorCode::PreconditionFailed);
    assert!(matches!(err, ServiceError::PreconditionFailed { current, .. } if current == version + 1), "{err:?}");
    let put = user_input(&okta_user(&w, "ada", "Ada", "Again"));
    let err = failure(w.services.scim_replace_user(&idp, ada, put, Some(version)).await);
    assert_eq!(err.code(), ErrorCode::PreconditionFailed);
    assert_eq!(w.store.snapshot().await, before, "nothing changed: still active, still holding core");

    // All of a patch or nothing: a valid first operation is not kept when a later one fails.
    let title_then = |then: Value| json!([{"op": "replace", "path": "title", "value": "Kept?"}, then]);
    for (operations, code) in [
        (title_then(json!({"op": "replace", "path": "userName", "value": "nope"})), "invalid_value"),
        (json!([{"op": "replace", "value": {"active": false}}, {"op": "remove", "path": "userName"}]), "invalid_value"),
        (title_then(json!({"op": "replace", "path": "id", "value": "mine"})), "mutability"),
        (title_then(json!({"op": "replace", "path": "shoeSize", "value": 4})), "invalid_path"),
    ] {
        let err = failure(w.services.scim_patch_user(&idp, ada, &patch(operations.clone()), None).await);
        match err {
            ServiceError::Validation(fields) => assert_eq!(fields[0].code, code, "{operations}"),
            other => panic!("{operations}: unexpected {other:?}"),
        }
    }
    // Taking another member's address is a conflict.
    let bob = w.member("bob", &["standard"], &[]).await;
    let take = patch(json!([{"op": "replace", "path": "userName", "value": w.email("bob").as_str()}]));
    let err = failure(w.services.scim_patch_user(&idp, ada, &take, None).await);
    assert!(matches!(err, ServiceError::Conflict { field: "email", .. }), "{err:?}");
    assert_eq!(stored(&w, ada).await, before.users[&ada]);
    assert_ne!(stored(&w, bob).await.email, stored(&w, ada).await.email);
}

#[tokio::test]
async fn an_identity_provider_cannot_deactivate_a_member_holding_more_than_provisioning() {
    let w = World::new().await;
    let idp = idp(&w).await;
    let before = w.store.snapshot().await;
    let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
    let err = failure(w.services.scim_patch_user(&idp, w.admin, &off, None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.scim_delete_user(&idp, w.admin).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert_eq!(w.store.snapshot().await, before);
}

// ---- delete -----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_scim_delete_is_the_soft_delete_releasing_licenses_ending_memberships_and_freeing_the_address() {
    let w = World::new().await;
    set_scim_products(&w, &["core"]).await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    let team = w.services.scim_create_group(&idp, group_input("Sales", &[ada])).await.expect("creates").group.id;
    assert_eq!(open_members(&w, team).await, sorted(&[ada]));

    let mark = w.events().await.len();
    w.services.scim_delete_user(&idp, ada).await.expect("deletes");
    let gone = stored(&w, ada).await;
    assert_eq!(gone.lifecycle.deleted_at, Some(crate::support::T0), "kept, marked deleted");
    assert!(!w.store.snapshot().await.licenses.keys().any(|(user, _)| *user == ada));
    assert_eq!(w.seats_used("core").await, 0);
    assert!(open_members(&w, team).await.is_empty());
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["user.licenses_changed", "user.deleted"]);
    assert_eq!(events[0].details["products"], json!({"before": ["core"], "after": []}));
    assert_eq!(events[1].details["released"], json!(["core"]));

    for err in [
        failure(w.services.scim_user(&idp, ada).await),
        failure(w.services.scim_delete_user(&idp, ada).await),
        failure(
            w.services
                .scim_patch_user(&idp, ada, &patch(json!([{"op": "replace", "value": {"active": true}}])), None)
                .await,
        ),
    ] {
        assert_eq!(err.code(), ErrorCode::NotFound);
    }
    let all = ScimUserList { filter: None, offset: 0, limit: 100, sort: None };
    let page = w.services.scim_list_users(&idp, all).await.expect("lists");
    assert!(page.items.iter().all(|u| u.id != ada) && page.total == 1, "only the admin is left");

    let again = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user;
    assert_ne!(again.id, ada, "the address is free for a new member");
}

// ---- list -------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_scim_list_answers_the_members_its_filter_selects_in_creation_order_a_window_at_a_time() {
    let w = World::new().await;
    let idp = idp(&w).await;
    let ada = create(&w, &idp, &okta_user(&w, "ada", "Ada", "Lovelace")).await.user.id;
    let alan = create(&w, &idp, &okta_user(&w, "alan", "Alan", "Turing")).await.user.id;
    let grace = create(&w, &idp, &okta_user(&w, "grace", "Grace", "Hopper")).await.user.id;
    patch_user(&w, &idp, grace, json!([{"op": "replace", "path": "active", "value": false}])).await;
    let other = w.other_org("globex").await;
    other.member("ada", &["standard"], &[]).await;

    let list = |filter: &str, offset: u64, limit: u32| {
        let parsed = Filter::parse(filter).expect("a filter");
        ScimUserList { filter: Some(user_filter(&parsed).expect("filterable")), offset, limit, sort: None }
    };
    for (filter, offset, limit, want, total) in [
        (r#"userName eq "ADA@acme.test""#, 0, 100, vec![ada], 1),
        ("active eq false", 0, 100, vec![grace], 1),
        (r#"name.givenName sw "a" and not (name.givenName eq "admin")"#, 0, 100, vec![ada, alan], 2),
        (r#"emails[type eq "work" and value ew "@acme.test"]"#, 1, 2, vec![ada, alan], 4),
        (r#"emails[type eq "work" and value ew "@acme.test"]"#, 3, 2, vec![grace], 4),
        (r#"externalId eq "00u-alan""#, 0, 100, vec![alan], 1),
        (r#"externalId eq "00U-ALAN""#, 0, 100, vec![], 0),
        (r#"userName eq "ada@globex.test""#, 0, 100, vec![], 0),
    ] {
        let page = w.services.scim_list_users(&idp, list(filter, offset, limit)).await.expect("lists");
        let got: Vec<UserId> = page.items.iter().map(|u| u.id).collect();
        assert_eq!((got, page.total), (want, total), "{filter} from {offset}");
    }
}

// ---- groups -----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_scim_group_is_a_team_right_below_the_root_with_its_members_joined_audited_with_source_scim() {
    let w = World::new().await;
    let ada = w.member("ada", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let cy = w.member("cy", &["standard"], &[]).await;
    let idp = idp(&w).await;
    let mark = w.events().await.len();
    let created = w.services.scim_create_group(&idp, group_input("Sales", &[ada, bob])).await.expect("creates");

    let group = w.store.snapshot().await.groups[&created.group.id].clone();
    assert_eq!((group.parent_id, group.depth, group.name.as_str()), (Some(w.root()), 2, "Sales"));
    assert!(group.is_live());
    assert_eq!(sorted(&created.members), sorted(&[ada, bob]));
    assert_eq!(open_members(&w, group.id).await, sorted(&[ada, bob]));
    assert_eq!(w.details(ada).await.groups, BTreeSet::from([group.id]));
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["group.created", "membership.joined", "membership.joined"]);
    assert_eq!(w.services.scim_group(&idp, group.id).await.expect("reads"), created);

    // Entra ID adds members by PATCH: the one already there is not added twice.
    let mark = w.events().await.len();
    let add = patch(
        json!([{"op": "Add", "path": "members", "value": [{"value": cy.to_string()}, {"value": ada.to_string()}]}]),
    );
    let patched = w.services.scim_patch_group(&idp, group.id, &add, None).await.expect("adds");
    assert_eq!(sorted(&patched.members), sorted(&[ada, bob, cy]));
    assert_eq!(open_members(&w, group.id).await, sorted(&[ada, bob, cy]));
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["membership.joined"]);
    assert_eq!(events[0].target_id, cy.to_string());

    // A rename keeps the members; a sibling's name is taken.
    w.group("Support", None).await;
    let rename = patch(json!([{"op": "replace", "value": {"displayName": "Field sales"}}]));
    let renamed = w.services.scim_patch_group(&idp, group.id, &rename, Some(group.version)).await.expect("renames");
    assert_eq!((renamed.group.name.as_str(), renamed.members.len()), ("Field sales", 3));
    let clash = patch(json!([{"op": "replace", "path": "displayName", "value": "Support"}]));
    let err = failure(w.services.scim_patch_group(&idp, group.id, &clash, None).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
    let err = failure(w.services.scim_patch_group(&idp, group.id, &rename, Some(group.version)).await);
    assert_eq!(err.code(), ErrorCode::PreconditionFailed);
}

#[tokio::test]
async fn removing_members_by_a_value_list_removes_only_those_listed() {
    let w = World::new().await;
    let ada = w.member("ada", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let cy = w.member("cy", &["standard"], &[]).await;
    let idp = idp(&w).await;
    let group = w.services.scim_create_group(&idp, group_input("Sales", &[ada, bob, cy])).await.expect("creates");
    let id = group.group.id;

    let mark = w.events().await.len();
    let remove = patch(
        json!([{"op": "Remove", "path": "members", "value": [{"value": ada.to_string()}, {"value": cy.to_string()}]}]),
    );
    let patched = w.services.scim_patch_group(&idp, id, &remove, None).await.expect("removes");
    assert_eq!(patched.members, [bob]);
    assert_eq!(open_members(&w, id).await, sorted(&[bob]));
    let events = scim_events_since(&w, mark).await;
    assert_eq!(actions(&events), ["membership.left", "membership.left"]);
    let left: BTreeSet<String> = events.iter().map(|e| e.target_id.clone()).collect();
    assert_eq!(left, BTreeSet::from([ada.to_string(), cy.to_string()]));
    assert!(w.details(ada).await.groups.is_empty() && w.details(bob).await.groups == BTreeSet::from([id]));

    // Okta's removal by a filtered path; the PUT of a group without `members` keeps them.
    let readd = patch(json!([{"op": "add", "path": "members", "value": [{"value": cy.to_string()}]}]));
    w.services.scim_patch_group(&idp, id, &readd, None).await.expect("adds");
    let okta = patch(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]));
    let patched = w.services.scim_patch_group(&idp, id, &okta, None).await.expect("removes");
    assert_eq!(patched.members, [cy]);
    let put = read_group(&json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales"}), false).expect("a Group");
    let replaced = w.services.scim_replace_group(&idp, id, put, None).await.expect("replaces");
    assert_eq!(replaced.members, [cy]);
}

#[tokio::test]
async fn a_scim_group_delete_ends_its_memberships_and_the_group_is_gone() {
    let w = World::new().await;
    let ada = w.member("ada", &["standard"], &[]).await;
    let idp = idp(&w).await;
    let id = w.services.scim_create_group(&idp, group_input("Sales", &[ada])).await.expect("creates").group.id;
    let mark = w.events().await.len();
    w.services.scim_delete_group(&idp, id).await.expect("deletes");
    let group = w.store.snapshot().await.groups[&id].clone();
    assert_eq!(group.deleted_at, Some(crate::support::T0), "kept, marked deleted");
    assert!(open_members(&w, id).await.is_empty());
    assert!(w.details(ada).await.groups.is_empty());
    assert_eq!(actions(&scim_events_since(&w, mark).await), ["group.deleted"]);
    assert_eq!(failure(w.services.scim_group(&idp, id).await).code(), ErrorCode::NotFound);
    assert_eq!(failure(w.services.scim_delete_group(&idp, id).await).code(), ErrorCode::NotFound);
    let page = w.services.scim_list_groups(&idp, None, 0, 100).await.expect("lists");
    assert_eq!(page.total, 0);
}

#[tokio::test]
async fn only_a_live_team_right_below_the_root_is_a_scim_group() {
    let w = World::new().await;
    let (sales, east, support) = w.sales_east_support().await;
    let idp = idp(&w).await;
    let page = w.services.scim_list_groups(&idp, None, 0, 100).await.expect("lists");
    let listed: Vec<GroupId> = page.items.iter().map(|g| g.group.id).collect();
    assert_eq!((listed, page.total), (vec![sales, support], 2));
    let by_name = Filter::parse(r#"displayName eq "SUPPORT""#).expect("a filter");
    let page = w.services.scim_list_groups(&idp, Some(&by_name), 0, 100).await.expect("lists");
    assert_eq!(page.items.iter().map(|g| g.group.id).collect::<Vec<_>>(), [support]);

    let before = w.store.snapshot().await;
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "West"}]));
    for group in [east, w.root()] {
        assert_eq!(failure(w.services.scim_group(&idp, group).await).code(), ErrorCode::NotFound);
        assert_eq!(failure(w.services.scim_patch_group(&idp, group, &rename, None).await).code(), ErrorCode::NotFound);
        assert_eq!(failure(w.services.scim_delete_group(&idp, group).await).code(), ErrorCode::NotFound);
    }
    // A team with subgroups an admin made is not the provider's to delete.
    let err = failure(w.services.scim_delete_group(&idp, sales).await);
    assert_eq!(err.code(), ErrorCode::GroupHasSubgroups);
    assert_eq!(w.store.snapshot().await, before);
}

// ---- who may, and where ---------------------------------------------------------------------------

#[tokio::test]
async fn an_actor_without_scim_is_refused_every_scim_use_case_and_nothing_changes() {
    let w = World::new().await;
    let ada = w.member("ada", &["standard"], &[]).await;
    let lead = w.member("lead", &["team_lead"], &[]).await;
    let sales = w.group("Sales", None).await;
    let without_scim = key_actor(
        &w,
        "sync",
        &[Permission::ManageUsers, Permission::ManageGroups, Permission::ManageLicenses, Permission::InviteConnections],
    )
    .await;
    let lead = w.actor(lead).await;
    let before = w.store.snapshot().await;
    for actor in [&without_scim, &lead] {
        let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
        let all = ScimUserList { filter: None, offset: 0, limit: 100, sort: None };
        let put = user_input(&okta_user(&w, "ada", "Ada", "Again"));
        let add = patch(json!([{"op": "add", "path": "members", "value": [ada.to_string()]}]));
        let refusals = [
            failure(w.services.scim_list_users(actor, all).await.map(|_| ())),
            failure(w.services.scim_user(actor, ada).await.map(|_| ())),
            failure(
                w.services.scim_create_user(actor, user_input(&okta_user(&w, "bob", "Bob", "B"))).await.map(|_| ()),
            ),
            failure(w.services.scim_replace_user(actor, ada, put, None).await.map(|_| ())),
            failure(w.services.scim_patch_user(actor, ada, &off, None).await.map(|_| ())),
            failure(w.services.scim_delete_user(actor, ada).await),
            failure(w.services.scim_list_groups(actor, None, 0, 100).await.map(|_| ())),
            failure(w.services.scim_group(actor, sales).await.map(|_| ())),
            failure(w.services.scim_create_group(actor, group_input("Ops", &[ada])).await.map(|_| ())),
            failure(w.services.scim_replace_group(actor, sales, group_input("Ops", &[]), None).await.map(|_| ())),
            failure(w.services.scim_patch_group(actor, sales, &add, None).await.map(|_| ())),
            failure(w.services.scim_delete_group(actor, sales).await),
        ];
        for (i, err) in refusals.iter().enumerate() {
            assert_eq!(err.code(), ErrorCode::Forbidden, "use case {i}: {err:?}");
        }
    }
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn a_scim_request_never_reaches_another_organizations_member_or_group() {
    let w = World::new().await;
    let other = w.other_org("globex").await;
    let their_team = other.group("Sales", None).await;
    let theirs = other.member("ada", &["standard"], &[their_team]).await;
    let ours = w.member("bob", &["standard"], &[]).await;
    let our_team = w.group("Sales", None).await;
    let idp = idp(&w).await;
    let before = w.store.snapshot().await;

    let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
    let put = user_input(&okta_user(&other, "ada", "Ada", "Mine"));
    let empty = patch(json!([{"op": "remove", "path": "members"}]));
    for err in [
        failure(w.services.scim_user(&idp, theirs).await.map(|_| ())),
        failure(w.services.scim_replace_user(&idp, theirs, put, None).await.map(|_| ())),
        failure(w.services.scim_patch_user(&idp, theirs, &off, None).await.map(|_| ())),
        failure(w.services.scim_delete_user(&idp, theirs).await),
        failure(w.services.scim_group(&idp, their_team).await.map(|_| ())),
        failure(w.services.scim_replace_group(&idp, their_team, group_input("Mine", &[]), None).await.map(|_| ())),
        failure(w.services.scim_patch_group(&idp, their_team, &empty, None).await.map(|_| ())),
        failure(w.services.scim_delete_group(&idp, their_team).await),
    ] {
        assert_eq!(err.code(), ErrorCode::NotFound, "{err:?}");
    }
    // Their member cannot be made a member of ours, at creation or by a patch.
    let add_theirs = patch(json!([{"op": "add", "path": "members", "value": [theirs.to_string()]}]));
    for err in [
        failure(w.services.scim_create_group(&idp, group_input("Ops", &[ours, theirs])).await.map(|_| ())),
        failure(w.services.scim_patch_group(&idp, our_team, &add_theirs, None).await.map(|_| ())),
    ] {
        match err {
            ServiceError::Validation(fields) => assert_eq!(fields[0].code, "unknown_user"),
            other => panic!("unexpected {other:?}"),
        }
    }
    let by_email = Filter::parse(r#"userName eq "ada@globex.test""#).expect("a filter");
    let list =
        ScimUserList { filter: Some(user_filter(&by_email).expect("filterable")), offset: 0, limit: 10, sort: None };
    assert_eq!(w.services.scim_list_users(&idp, list).await.expect("lists").total, 0);
    let groups = w.services.scim_list_groups(&idp, None, 0, 100).await.expect("lists");
    assert_eq!(groups.items.iter().map(|g| g.group.id).collect::<Vec<_>>(), [our_team]);
    assert_eq!(w.store.snapshot().await, before, "nothing changed in either organization");
}
