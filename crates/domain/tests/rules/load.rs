//! The rules of rows loaded in bulk by the operator (`LoadBatch::check`, §11 `demo-data`): the
//! seat, lifecycle, group and stamping rules the use cases keep, checked before a batch is
//! written.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use roster_domain::catalog::Catalog;
use roster_domain::groups::{GroupTree, Membership};
use roster_domain::ids::{FlowId, GroupId, InviteId, RoleId};
use roster_domain::invites::{Invite, InvitePurpose};
use roster_domain::load::{LoadBatch, LoadRules};
use roster_domain::org::{OrgSettings, Organization};
use roster_domain::seats::LicenseAssignment;
use roster_domain::user::{InactiveReason, User};
use roster_domain::values::{Label, Password, Slug};
use time::Duration;
use uuid::Uuid;

use crate::support::{
    EAST, OLD, ORG, OTHER_ORG, ROOT, T0, builtin_roles, connection, grant, invalid_fields, key, keys, sample_tree,
    user, user_id,
};

fn org(settings: OrgSettings) -> Organization {
    Organization {
        id: ORG,
        name: Label::parse("Acme").unwrap(),
        slug: Slug::parse("acme").unwrap(),
        created_at: T0,
        trial_ends_at: None,
        root_group_id: ROOT,
        settings,
        version: 1,
    }
}

/// The organization and its facts every case is checked against.
struct Fixture {
    org: Organization,
    catalog: Catalog,
    tree: GroupTree,
    roles: BTreeSet<RoleId>,
    flows: BTreeSet<FlowId>,
    group_flows: BTreeMap<GroupId, BTreeSet<FlowId>>,
}

impl Fixture {
    fn new(settings: OrgSettings) -> Self {
        Self {
            org: org(settings),
            catalog: Catalog::default_catalog(),
            tree: sample_tree(),
            roles: builtin_roles().into_iter().map(|r| r.id).collect(),
            flows: BTreeSet::new(),
            group_flows: BTreeMap::new(),
        }
    }

    fn rules(&self) -> LoadRules<'_> {
        LoadRules {
            org: &self.org,
            catalog: &self.catalog,
            tree: &self.tree,
            roles: &self.roles,
            flows: &self.flows,
            group_flows: &self.group_flows,
            now: T0 + Duration::days(1),
        }
    }
}

fn member(n: u128) -> User {
    let mut u = user(user_id(n));
    u.roles = BTreeSet::from([grant("standard", None)]);
    u.has_password = false;
    u
}

fn license(u: &User, product: &str) -> LicenseAssignment {
    LicenseAssignment { org_id: ORG, user_id: u.id, product: key(product), assigned_at: T0 }
}

fn holder(n: u128) -> User {
    let mut u = member(n);
    u.lifecycle.ever_held_core = true;
    u
}

fn invite_of(u: &User, products: &[&str]) -> Invite {
    Invite {
        id: InviteId::from_uuid(Uuid::from_u128(0x5000 + u.id.as_uuid().as_u128())),
        org_id: ORG,
        user_id: u.id,
        purpose: InvitePurpose::Member,
        products: keys(products),
        group_ids: Default::default(),
        token_hash: "0".repeat(64),
        expires_at: T0 + Duration::days(7),
        created_by: None,
        created_at: T0,
        accepted_at: None,
    }
}

fn invited(n: u128) -> User {
    let mut u = member(n);
    u.lifecycle.invited = true;
    u
}

#[test]
fn a_consistent_batch_is_accepted_and_takes_a_seat_per_assignment_and_reservation() {
    let f = Fixture::new(OrgSettings::default());
    let (ann, bob) = (holder(1), invited(2));
    let batch = LoadBatch {
        licenses: vec![license(&ann, "core"), license(&ann, "flow")],
        memberships: vec![Membership { org_id: ORG, group_id: EAST, user_id: ann.id, joined_at: T0, left_at: None }],
        invites: vec![invite_of(&bob, &["core", "dialer"])],
        connections: vec![connection(1, ann.id, &[EAST], &[])],
        users: vec![ann, bob],
        passwords: Vec::new(),
    };
    batch.check(&f.rules()).expect("accepted");
    assert_eq!(batch.seats(), BTreeMap::from([(key("core"), 2), (key("dialer"), 1), (key("flow"), 1)]));
    assert_eq!(batch.reservations().len(), 2);
}

#[test]
fn a_license_of_a_deactivated_deleted_invited_or_released_inactive_user_is_refused_naming_the_row() {
    let f = Fixture::new(OrgSettings::default());
    let mut gone = holder(1);
    gone.lifecycle.deactivated_at = Some(T0);
    let mut deleted = holder(2);
    deleted.lifecycle.deleted_at = Some(T0);
    let waiting = invited(3);
    let mut inactive = holder(4);
    inactive.lifecycle.inactive_reasons.insert(InactiveReason::InactiveInCrm);
    let users = [gone, deleted, waiting, inactive];
    for (i, u) in users.iter().enumerate() {
        let mut batch =
            LoadBatch { licenses: vec![license(u, "core")], users: vec![u.clone()], ..LoadBatch::default() };
        if u.lifecycle.invited {
            batch.invites.push(invite_of(u, &["core"]));
        }
        let fields = invalid_fields(batch.check(&f.rules()));
        assert!(fields.contains(&("licenses[0]".to_owned(), "not_entitled")), "user {i}: {fields:?}");
    }
    // With the setting off, an inactive user keeps their seats (§4.5).
    let kept = Fixture::new(OrgSettings { release_seats_when_inactive: false, ..OrgSettings::default() });
    let batch =
        LoadBatch { licenses: vec![license(&users[3], "core")], users: vec![users[3].clone()], ..LoadBatch::default() };
    batch.check(&kept.rules()).expect("kept while the setting is off");
}

#[test]
fn products_must_be_known_and_closed_under_their_prerequisites_and_core_marks_ever_held_core() {
    let f = Fixture::new(OrgSettings::default());
    let ann = holder(1);
    let batch = LoadBatch {
        licenses: vec![license(&ann, "core"), license(&ann, "sms")],
        users: vec![ann],
        ..LoadBatch::default()
    };
    assert_eq!(invalid_fields(batch.check(&f.rules())), [("users[0].licenses".to_owned(), "invalid_products")]);
    let never = member(2);
    let batch = LoadBatch { licenses: vec![license(&never, "core")], users: vec![never], ..LoadBatch::default() };
    assert_eq!(invalid_fields(batch.check(&f.rules())), [("users[0].lifecycle".to_owned(), "inconsistent")]);
}

#[test]
fn memberships_join_live_groups_below_the_root_and_invited_users_come_with_their_invite() {
    let f = Fixture::new(OrgSettings::default());
    let ann = member(1);
    let join = |group| Membership { org_id: ORG, group_id: group, user_id: ann.id, joined_at: T0, left_at: None };
    let batch =
        LoadBatch { memberships: vec![join(ROOT), join(OLD)], users: vec![ann.clone()], ..LoadBatch::default() };
    assert_eq!(
        invalid_fields(batch.check(&f.rules())),
        [("memberships[0]".to_owned(), "unknown_group"), ("memberships[1]".to_owned(), "unknown_group")]
    );
    let bob = invited(2);
    let batch = LoadBatch { users: vec![bob], ..LoadBatch::default() };
    assert_eq!(invalid_fields(batch.check(&f.rules())), [("users[0]".to_owned(), "missing_invite")]);
}

#[test]
fn rows_of_another_organization_a_password_claim_without_a_password_and_unknown_roles_are_refused() {
    let f = Fixture::new(OrgSettings::default());
    let mut stranger = member(1);
    stranger.org_id = OTHER_ORG;
    let mut claims = member(2);
    claims.has_password = true;
    let mut odd = member(3);
    odd.roles.insert(roster_domain::roles::RoleGrant { role_id: RoleId::from_uuid(Uuid::from_u128(9)), scope: None });
    let batch = LoadBatch { users: vec![stranger, claims, odd], ..LoadBatch::default() };
    assert_eq!(
        invalid_fields(batch.check(&f.rules())),
        [
            ("users[0]".to_owned(), "wrong_organization"),
            ("users[2].roles".to_owned(), "unknown_role"),
            ("users[1].has_password".to_owned(), "inconsistent"),
        ]
    );
    let mut ok = member(4);
    ok.has_password = true;
    let password = Password::parse("a long enough password").unwrap();
    let batch = LoadBatch { passwords: vec![(ok.id, password)], users: vec![ok], ..LoadBatch::default() };
    batch.check(&f.rules()).expect("a password for a member of the batch");
}

/// A user of a generated batch: lifecycle facts and the products they are given.
#[derive(Debug, Clone)]
struct Row {
    deactivated: bool,
    deleted: bool,
    invited: bool,
    inactive: bool,
    ever_held_core: bool,
    products: BTreeSet<usize>,
}

fn row() -> impl Strategy<Value = Row> {
    (any::<[bool; 5]>(), proptest::collection::btree_set(0usize..4, 0..=4)).prop_map(|(b, products)| Row {
        deactivated: b[0],
        deleted: b[1],
        invited: b[2],
        inactive: b[3],
        ever_held_core: b[4],
        products,
    })
}

const PRODUCTS: [&str; 4] = ["core", "dialer", "flow", "sms"];

proptest! {
    #[test]
    fn an_accepted_batch_never_gives_a_license_to_someone_who_may_not_hold_one(
        rows in proptest::collection::vec(row(), 1..8),
        release in any::<bool>(),
    ) {
        let f = Fixture::new(OrgSettings { release_seats_when_inactive: release, ..OrgSettings::default() });
        let mut batch = LoadBatch::default();
        for (n, r) in rows.iter().enumerate() {
            let mut u = member(n as u128);
            u.lifecycle.deactivated_at = r.deactivated.then_some(T0);
            u.lifecycle.deleted_at = r.deleted.then_some(T0);
            u.lifecycle.invited = r.invited;
            u.lifecycle.ever_held_core = r.ever_held_core;
            if r.inactive {
                u.lifecycle.inactive_reasons.insert(InactiveReason::AccountFailure);
            }
            if r.invited {
                batch.invites.push(invite_of(&u, &["core"]));
            }
            batch.licenses.extend(r.products.iter().map(|p| license(&u, PRODUCTS[*p])));
            batch.users.push(u);
        }
        let accepted = batch.check(&f.rules()).is_ok();
        let catalog = Catalog::default_catalog();
        // An invite only for an invited user who can still accept it (not deactivated or deleted).
        let reference = rows.iter().all(|r| !(r.invited && (r.deactivated || r.deleted))) && rows.iter().all(|r| {
            let held: BTreeSet<_> = r.products.iter().map(|p| key(PRODUCTS[*p])).collect();
            let may_hold = !(r.deactivated || r.deleted || r.invited || (r.inactive && release));
            let closed = catalog.plan(&BTreeSet::new(), &held).is_ok();
            held.is_empty() || (may_hold && closed && (!held.contains(&key("core")) || r.ever_held_core))
        });
        prop_assert_eq!(accepted, reference);
        if accepted {
            let licenses = batch.licenses.len() as u32;
            let reserved = batch.invites.len() as u32;
            prop_assert_eq!(batch.seats().values().sum::<u32>(), licenses + reserved);
        }
    }
}
