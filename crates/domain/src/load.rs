//! Rows built outside the use cases and loaded in bulk by the operator (§11 `roster demo-data`;
//! also what a migration from another system would use): the rules a batch must keep so that
//! what the store's batch writes store is what the use cases could have made — the seat rules of
//! §4.2–§4.5, the lifecycle facts of §3.1, the group rules of §6 and the stamping references of
//! §7 — checked as pure code before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::catalog::Catalog;
use crate::connections::{Connection, check_flow};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::groups::{GroupTree, Membership};
use crate::ids::{FlowId, GroupId, RoleId, UserId};
use crate::invites::Invite;
use crate::org::Organization;
use crate::seats::{LicenseAssignment, SeatReservation};
use crate::user::{InactiveReason, User};
use crate::values::{Key, Password};

/// One batch of rows of one organization. Users come with their role grants; invites are the
/// pending invites of invited users of the batch, each reserving a seat of each of its products.
#[derive(Debug, Clone, Default)]
pub struct LoadBatch {
    /// The users, each with their role grants, group access and lifecycle facts.
    pub users: Vec<User>,
    /// License assignments of users of the batch; each takes a seat of its product.
    pub licenses: Vec<LicenseAssignment>,
    /// Memberships of users of the batch in live groups below the root, current or ended.
    pub memberships: Vec<Membership>,
    /// Pending member invites of invited users of the batch.
    pub invites: Vec<Invite>,
    /// Connections invited by users of the batch, with their stamps and cc.
    pub connections: Vec<Connection>,
    /// Passwords of users of the batch (hashed by the use case before its transaction opens).
    pub passwords: Vec<(UserId, Password)>,
}

/// What a batch is checked against: the organization as it is when the batch is written.
#[derive(Debug, Clone, Copy)]
pub struct LoadRules<'a> {
    /// The organization the batch belongs to (trial and inactive-seat rules).
    pub org: &'a Organization,
    /// The organization's catalog: every product named must be in it, prerequisites held.
    pub catalog: &'a Catalog,
    /// The organization's group tree: memberships, stamps and role scopes must name its groups.
    pub tree: &'a GroupTree,
    /// The ids of the organization's roles: every grant must name one.
    pub roles: &'a BTreeSet<RoleId>,
    /// The ids of the organization's flows: a connection's flow must be one.
    pub flows: &'a BTreeSet<FlowId>,
    /// The flows assigned to each group (§7.3), to check connections' flows against their stamps.
    pub group_flows: &'a BTreeMap<GroupId, BTreeSet<FlowId>>,
    /// The time of the load: no row may be created, assigned or joined after it.
    pub now: OffsetDateTime,
}

/// At most this many refused rows are reported (the first ones); a generator with a bug would
/// otherwise answer with one error per row.
pub const MAX_REPORTED: usize = 20;

impl LoadBatch {
    /// The seats the batch takes per product: its assignments plus its invites' reservations.
    pub fn seats(&self) -> BTreeMap<Key, u32> {
        let mut out: BTreeMap<Key, u32> = BTreeMap::new();
        let products = self.licenses.iter().map(|l| &l.product).chain(self.invites.iter().flat_map(|i| &i.products));
        for product in products {
            *out.entry(product.clone()).or_default() += 1;
        }
        out
    }

    /// The reservations of the batch's invites.
    pub fn reservations(&self) -> Vec<SeatReservation> {
        self.invites
            .iter()
            .flat_map(|i| {
                i.products.iter().map(|p| SeatReservation { org_id: i.org_id, invite_id: i.id, product: p.clone() })
            })
            .collect()
    }

    /// Checks the batch against `rules`:
    /// - every row belongs to the organization, and nothing is dated after `now`;
    /// - a user's role grants name roles of the organization, scoped (if at all) to a live group;
    /// - licenses belong to users of the batch who may hold them — not deleted, deactivated or
    ///   invited, and not inactive for a system reason while `release_seats_when_inactive` is on
    ///   (§4.5: those hold none) —, once per product, as a prerequisite-closed set of known
    ///   products (§4.1); a user holding Core has `ever_held_core`;
    /// - memberships join users of the batch to live groups below the root (§6), once each;
    /// - every invited user of the batch has exactly one pending invite in it, and every invite
    ///   is one of those, for known, prerequisite-closed products;
    /// - connections are stamped with groups of the tree and use a flow of the organization that
    ///   the stamp allows (§7.3);
    /// - passwords are for users of the batch who are not invited, and a user claims
    ///   `has_password` exactly when the batch gives one.
    ///
    /// # Errors
    /// `validation_failed` naming each refused row (`users[3].roles`, `licenses[7]`, …; at most
    /// [`MAX_REPORTED`]).
    pub fn check(&self, rules: &LoadRules<'_>) -> ServiceResult<()> {
        let mut errors = Errors::default();
        let org = rules.org.id;
        let users: BTreeMap<UserId, (usize, &User)> =
            self.users.iter().enumerate().map(|(i, u)| (u.id, (i, u))).collect();
        if users.len() != self.users.len() {
            errors.push("users", "duplicate", "a user id appears twice");
        }
        for (i, user) in self.users.iter().enumerate() {
            let at = format!("users[{i}]");
            if user.org_id != org {
                errors.push(&at, "wrong_organization", "belongs to another organization");
            }
            if user.created_at > rules.now {
                errors.push(&at, "in_the_future", "created after now");
            }
            for grant in &user.roles {
                let scope_ok = grant.scope.is_none_or(|g| rules.tree.live(g).is_ok());
                if !rules.roles.contains(&grant.role_id) || !scope_ok {
                    errors.push(format!("{at}.roles"), "unknown_role", "not a role (or scope) of the organization");
                }
            }
        }
        let mut held: BTreeMap<UserId, BTreeSet<Key>> = BTreeMap::new();
        for (i, license) in self.licenses.iter().enumerate() {
            let at = format!("licenses[{i}]");
            let Some((_, user)) = users.get(&license.user_id).filter(|_| license.org_id == org) else {
                errors.push(&at, "unknown_user", "not a user of this batch");
                continue;
            };
            if !may_hold(user, rules.org) {
                errors.push(&at, "not_entitled", "the user may hold no license (§4.5)");
            }
            if license.assigned_at > rules.now {
                errors.push(&at, "in_the_future", "assigned after now");
            }
            if !held.entry(user.id).or_default().insert(license.product.clone()) {
                errors.push(&at, "duplicate", "the user holds this product twice");
            }
        }
        for (user_id, products) in &held {
            let (i, user) = users[user_id];
            if let Err(e) = rules.catalog.plan(&BTreeSet::new(), products) {
                errors.push(format!("users[{i}].licenses"), "invalid_products", e.to_string());
            }
            if products.contains(&Catalog::core_key()) && !user.lifecycle.ever_held_core {
                errors.push(format!("users[{i}].lifecycle"), "inconsistent", "holds Core without ever_held_core");
            }
        }
        let mut joined = BTreeSet::new();
        for (i, m) in self.memberships.iter().enumerate() {
            let at = format!("memberships[{i}]");
            if m.org_id != org || !users.contains_key(&m.user_id) {
                errors.push(&at, "unknown_user", "not a user of this batch");
            }
            if rules.tree.check_joinable(m.group_id).is_err() {
                errors.push(&at, "unknown_group", "not a live group below the root");
            }
            if m.joined_at > rules.now || m.left_at.is_some_and(|left| left < m.joined_at || left > rules.now) {
                errors.push(&at, "bad_dates", "joined after now or left before joining");
            }
            if m.is_current() && !joined.insert((m.group_id, m.user_id)) {
                errors.push(&at, "duplicate", "two current memberships of one user in one group");
            }
        }
        let mut invited: BTreeSet<UserId> = BTreeSet::new();
        for (i, invite) in self.invites.iter().enumerate() {
            let at = format!("invites[{i}]");
            let user = users.get(&invite.user_id).filter(|_| invite.org_id == org).map(|(_, u)| *u);
            if !user.is_some_and(|u| u.lifecycle.invited && u.can_hold_licenses()) {
                errors.push(&at, "unknown_user", "not an invited user of this batch");
            }
            if !invite.is_pending() || invite.created_at > rules.now {
                errors.push(&at, "not_pending", "only pending invites, created before now, are loaded");
            }
            if !invited.insert(invite.user_id) {
                errors.push(&at, "duplicate", "a second invite for one user");
            }
            if let Err(e) = rules.catalog.plan(&BTreeSet::new(), &invite.products) {
                errors.push(format!("{at}.products"), "invalid_products", e.to_string());
            }
        }
        for (i, user) in self.users.iter().enumerate() {
            if user.lifecycle.invited && !invited.contains(&user.id) {
                errors.push(format!("users[{i}]"), "missing_invite", "an invited user needs their pending invite");
            }
        }
        for (i, c) in self.connections.iter().enumerate() {
            let at = format!("connections[{i}]");
            if c.org_id != org || c.created_at > rules.now {
                errors.push(&at, "wrong_organization", "another organization's, or created after now");
            }
            if c.groups.iter().any(|g| rules.tree.get(*g).is_none()) {
                errors.push(format!("{at}.groups"), "unknown_group", "stamped with a group not in the tree");
            }
            let flow_known = c.flow_id.is_none_or(|f| rules.flows.contains(&f));
            if !flow_known || check_flow(&c.groups, c.flow_id, rules.group_flows).is_err() {
                errors.push(format!("{at}.flow_id"), "flow_not_allowed", "not a flow the stamp allows");
            }
        }
        let with_password: BTreeSet<UserId> = self.passwords.iter().map(|(id, _)| *id).collect();
        for (i, (id, _)) in self.passwords.iter().enumerate() {
            if users.get(id).is_none_or(|(_, u)| u.lifecycle.invited) {
                errors.push(format!("passwords[{i}]"), "unknown_user", "not a user of this batch who set a password");
            }
        }
        for (i, user) in self.users.iter().enumerate() {
            if user.has_password != with_password.contains(&user.id) {
                errors.push(format!("users[{i}].has_password"), "inconsistent", "has_password without a password");
            }
        }
        errors.into_result()
    }
}

/// Whether `user` may hold licenses when loaded into `org` (§3.1, §4.5).
fn may_hold(user: &User, org: &Organization) -> bool {
    let inactive = user.lifecycle.inactive_reasons.iter().any(|r| *r != InactiveReason::NoLicense);
    user.can_hold_licenses() && !user.lifecycle.invited && !(inactive && org.settings.release_seats_when_inactive)
}

/// The refused rows, capped.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        if self.0.len() < MAX_REPORTED {
            self.0.push(FieldError::new(field, code, message));
        }
    }

    fn into_result(self) -> ServiceResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(ServiceError::Validation(self.0)) }
    }
}
