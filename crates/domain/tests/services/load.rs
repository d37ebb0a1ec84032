//! The operator's bulk load (`Services::load_rows`, behind `roster demo-data`): checked rows,
//! seats taken like any assignment, all or nothing, one audit event.

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::audit::Source;
use roster_domain::groups::Membership;
use roster_domain::ids::{InviteId, UserId};
use roster_domain::invites::{Invite, InvitePurpose};
use roster_domain::load::LoadBatch;
use roster_domain::ports::IdGenerator as _;
use roster_domain::roles::RoleGrant;
use roster_domain::seats::LicenseAssignment;
use roster_domain::user::{StatusKind, User};
use roster_domain::values::Password;
use time::Duration;

use crate::credentials::log_in;
use crate::support::{T0, World, email, failure, key, keys, person};

/// A member of `w`'s organization with the `standard` role, as a generator would build them.
async fn row(w: &World, local: &str) -> User {
    let roles = w.services.list_roles(&w.system()).await.expect("lists");
    let standard = roles.iter().find(|r| r.key.as_str() == "standard").expect("built in").id;
    let mut u = User::new(
        UserId::from_uuid(w.ids.uuid()),
        w.org.id,
        w.email(local),
        person("Loaded"),
        person(local),
        BTreeSet::from([RoleGrant { role_id: standard, scope: None }]),
        T0 - Duration::days(1),
    );
    u.lifecycle.crm_connected = true;
    u.lifecycle.mailbox_connected = true;
    u
}

fn license(u: &User, product: &str) -> LicenseAssignment {
    LicenseAssignment { org_id: u.org_id, user_id: u.id, product: key(product), assigned_at: u.created_at }
}

#[tokio::test]
async fn loaded_rows_take_their_seats_and_are_written_with_one_audit_event() {
    let w = World::new().await;
    let team = w.group("East", None).await;
    let mut ann = row(&w, "ann").await;
    ann.lifecycle.ever_held_core = true;
    ann.has_password = true;
    let mut bob = row(&w, "bob").await;
    bob.lifecycle.invited = true;
    let invite = Invite {
        id: InviteId::from_uuid(w.ids.uuid()),
        org_id: w.org.id,
        user_id: bob.id,
        purpose: InvitePurpose::Member,
        products: keys(&["core"]),
        group_ids: Default::default(),
        token_hash: "0".repeat(64),
        expires_at: T0 + Duration::days(6),
        created_by: None,
        created_at: bob.created_at,
        accepted_at: None,
    };
    let batch = LoadBatch {
        licenses: vec![license(&ann, "core"), license(&ann, "flow")],
        memberships: vec![Membership {
            org_id: w.org.id,
            group_id: team,
            user_id: ann.id,
            joined_at: ann.created_at,
            left_at: None,
        }],
        invites: vec![invite],
        passwords: vec![(ann.id, Password::parse("a long enough password").expect("valid"))],
        users: vec![ann.clone(), bob.clone()],
        connections: Vec::new(),
    };
    let summary = w.services.load_rows(&w.system(), batch).await.expect("loads");
    assert_eq!((summary.users, summary.licenses, summary.memberships, summary.invites), (2, 2, 1, 1));
    assert_eq!((w.seats_used("core").await, w.seats_used("flow").await), (2, 1), "an assignment and a reservation");
    assert_eq!(w.status(ann.id).await, StatusKind::Active);
    assert_eq!(w.status(bob.id).await, StatusKind::Invited);
    assert_eq!(w.products(ann.id).await, keys(&["core", "flow"]));
    assert_eq!(w.events_named("organization.rows_loaded").await.len(), 1);
    let password = Password::parse("a long enough password").expect("valid");
    let session = log_in(&w.services, &w.org.slug, &email("ann@acme.test"), &password, Source::Console).await;
    assert!(session.is_ok(), "the loaded password works: {session:?}");
    assert!(w.services.reconcile(&w.system(), false).await.expect("reports").is_clean());
}

#[tokio::test]
async fn a_batch_that_does_not_fit_the_seats_is_refused_whole() {
    let w = World::new().await;
    let mut batch = LoadBatch::default();
    for local in ["a1", "a2", "a3", "a4"] {
        let mut u = row(&w, local).await;
        u.lifecycle.ever_held_core = true;
        batch.licenses.push(license(&u, "core"));
        batch.users.push(u);
    }
    let ids: Vec<UserId> = batch.users.iter().map(|u| u.id).collect();
    let err = failure(w.services.load_rows(&w.system(), batch).await);
    assert_eq!(err.code(), ErrorCode::SeatLimitReached, "3 seats, 4 holders");
    assert_eq!(w.seats_used("core").await, 0);
    for id in ids {
        assert_eq!(failure(w.services.get_user(&w.system(), id).await).code(), ErrorCode::NotFound);
    }
    assert!(w.events_named("organization.rows_loaded").await.is_empty());
}

#[tokio::test]
async fn a_refused_row_is_named_and_nothing_is_written() {
    let w = World::new().await;
    let mut gone = row(&w, "gone").await;
    gone.lifecycle.deactivated_at = Some(T0 - Duration::hours(1));
    gone.lifecycle.ever_held_core = true;
    let batch = LoadBatch { licenses: vec![license(&gone, "core")], users: vec![gone.clone()], ..LoadBatch::default() };
    let err = failure(w.services.load_rows(&w.system(), batch).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    assert!(err.to_string().contains("invalid"), "{err}");
    assert_eq!(failure(w.services.get_user(&w.system(), gone.id).await).code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn loading_rows_is_an_operator_command() {
    let w = World::new().await;
    let u = row(&w, "ann").await;
    let batch = LoadBatch { users: vec![u], ..LoadBatch::default() };
    let err = failure(w.services.load_rows(&w.admin_actor().await, batch).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}
