//! The operations of the state machine and their proptest strategies.
//!
//! An operation names the entities it touches by small indices (`user: 3`, `group: 1`) that the
//! runner resolves modulo the current population (users sorted by id, live groups, pending
//! invites…). Every generated sequence is therefore valid whatever came before, and shrinking —
//! which removes operations and lowers indices — keeps producing meaningful sequences: this is
//! the precondition-free form of proptest-state-machine's `preconditions`.

use std::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::{NewTree, ValueTree};
use proptest::test_runner::TestRunner;

/// Who performs an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// One of the members holding the admin role (org-wide or scoped) who can act.
    Admin(usize),
    /// Any member who can act (not deactivated, deleted or invited).
    Anyone(usize),
}

/// Whose account an operation changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whom {
    /// One of the users holding the admin role (any scope, any state): the last-admin rule.
    Admin(usize),
    /// Any user of the organization, deleted, deactivated and invited ones included.
    Any(usize),
}

/// The email of a new user or invitee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPick {
    Fresh,
    /// The email of an existing user (live or deleted): a conflict unless that user is deleted.
    SameAs(usize),
}

/// The group dropdown of a new connection (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPick {
    /// Nothing picked: stamped with the inviter's current groups.
    Default,
    Organization,
    /// A group among all groups, deleted ones and the root included.
    Group(usize),
}

/// A set of products of the default catalog, as a bit mask (core, flow, dialer, sms).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Products(pub u8);

pub const PRODUCT_KEYS: [&str; 4] = ["core", "flow", "dialer", "sms"];

impl Products {
    pub fn keys(self) -> impl Iterator<Item = &'static str> {
        PRODUCT_KEYS.iter().enumerate().filter(move |(i, _)| self.0 & (1 << i) != 0).map(|(_, k)| *k)
    }
}

impl fmt::Debug for Products {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.keys()).finish()
    }
}

/// Role keys an operation may grant, by index; `scorer` is not assignable (only the operator
/// grants it), so picking it exercises that refusal.
pub const ROLE_KEYS: [&str; 10] = [
    "admin",
    "standard",
    "operations",
    "operations_limited",
    "read_only",
    "full_member",
    "team_lead",
    "analyst",
    "identified_only",
    "scorer",
];

/// One step of the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateUser {
        by: Who,
        email: EmailPick,
        role: usize,
        group: Option<usize>,
        products: Products,
    },
    Invite {
        by: Who,
        email: EmailPick,
        role: usize,
        products: Products,
    },
    AcceptInvite {
        invite: usize,
    },
    RevokeInvite {
        by: Who,
        invite: usize,
    },
    SetLicenses {
        by: Who,
        user: Whom,
        products: Products,
    },
    BulkLicenses {
        by: Who,
        users: Vec<usize>,
        products: Products,
        assign: bool,
        atomic: bool,
    },
    Deactivate {
        by: Who,
        user: Whom,
    },
    /// `user` indexes the deactivated users (all users when there are none).
    Reactivate {
        by: Who,
        user: usize,
        products: Products,
    },
    Delete {
        by: Who,
        user: Whom,
    },
    /// `user` indexes the deleted users (all users when there are none).
    Restore {
        by: Who,
        user: usize,
    },
    /// `parent` indexes the live groups, root included, so depth-3 parents hit the limit.
    CreateGroup {
        by: Who,
        parent: usize,
    },
    MoveGroup {
        by: Who,
        group: usize,
        parent: usize,
    },
    DeleteGroup {
        by: Who,
        group: usize,
        cascade: bool,
    },
    Join {
        by: Who,
        group: usize,
        users: Vec<usize>,
    },
    /// `group` indexes the user's current groups (the live groups when they have none).
    Leave {
        by: Who,
        user: usize,
        group: usize,
    },
    MoveUser {
        by: Who,
        user: usize,
        from: usize,
        to: usize,
        transfer: bool,
    },
    CreateConnection {
        by: Who,
        group: GroupPick,
        cc: Vec<usize>,
    },
    /// The operator sets a pool's total (`set_seats`), possibly below what is in use.
    SetSeats {
        product: usize,
        total: u32,
    },
    /// `scope: Some(g)` limits the grant to a live group's subtree.
    SetRoles {
        by: Who,
        user: Whom,
        roles: Vec<(usize, Option<usize>)>,
    },
    /// Extra group access (roaming agents) and the per-user `view_reporting` grant.
    SetGrants {
        by: Who,
        user: usize,
        groups: Vec<usize>,
        reporting: bool,
    },
    /// The system (CRM sync, mailbox checks) sets or clears an inactivity reason.
    SetInactiveReason {
        user: usize,
        reason: usize,
        on: bool,
    },
    /// A deactivation at a future time (a contract end), applied by the worker (§3.1).
    ScheduleDeactivation {
        by: Who,
        user: Whom,
        in_hours: u32,
    },
    /// A license removal at a future time, applied by the worker.
    ScheduleLicenseRemoval {
        by: Who,
        user: usize,
        product: usize,
        in_hours: u32,
    },
    /// Time passes, and the worker applies the scheduled changes that fell due.
    Tick {
        hours: u32,
    },
    /// Time jumps past the end of the trial.
    EndTrial,
}

impl Op {
    /// The member performing the operation, if a member performs it (not the operator, the
    /// worker or an invitee's token).
    pub fn by(&self) -> Option<Who> {
        match self {
            Op::CreateUser { by, .. }
            | Op::Invite { by, .. }
            | Op::RevokeInvite { by, .. }
            | Op::SetLicenses { by, .. }
            | Op::BulkLicenses { by, .. }
            | Op::Deactivate { by, .. }
            | Op::Reactivate { by, .. }
            | Op::Delete { by, .. }
            | Op::Restore { by, .. }
            | Op::CreateGroup { by, .. }
            | Op::MoveGroup { by, .. }
            | Op::DeleteGroup { by, .. }
            | Op::Join { by, .. }
            | Op::Leave { by, .. }
            | Op::MoveUser { by, .. }
            | Op::CreateConnection { by, .. }
            | Op::SetRoles { by, .. }
            | Op::SetGrants { by, .. }
            | Op::ScheduleDeactivation { by, .. }
            | Op::ScheduleLicenseRemoval { by, .. } => Some(*by),
            Op::AcceptInvite { .. }
            | Op::SetSeats { .. }
            | Op::SetInactiveReason { .. }
            | Op::Tick { .. }
            | Op::EndTrial => None,
        }
    }

    /// The kinds of operation, as [`Op::kind`] names them.
    pub const KINDS: [&'static str; 25] = [
        "create_user",
        "invite",
        "accept_invite",
        "revoke_invite",
        "set_licenses",
        "bulk_licenses",
        "deactivate",
        "reactivate",
        "delete",
        "restore",
        "create_group",
        "move_group",
        "delete_group",
        "join",
        "leave",
        "move_user",
        "create_connection",
        "set_seats",
        "set_roles",
        "set_grants",
        "set_inactive_reason",
        "schedule_deactivation",
        "schedule_license_removal",
        "tick",
        "end_trial",
    ];

    /// A short name, for the coverage count.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::CreateUser { .. } => "create_user",
            Op::Invite { .. } => "invite",
            Op::AcceptInvite { .. } => "accept_invite",
            Op::RevokeInvite { .. } => "revoke_invite",
            Op::SetLicenses { .. } => "set_licenses",
            Op::BulkLicenses { .. } => "bulk_licenses",
            Op::Deactivate { .. } => "deactivate",
            Op::Reactivate { .. } => "reactivate",
            Op::Delete { .. } => "delete",
            Op::Restore { .. } => "restore",
            Op::CreateGroup { .. } => "create_group",
            Op::MoveGroup { .. } => "move_group",
            Op::DeleteGroup { .. } => "delete_group",
            Op::Join { .. } => "join",
            Op::Leave { .. } => "leave",
            Op::MoveUser { .. } => "move_user",
            Op::CreateConnection { .. } => "create_connection",
            Op::SetSeats { .. } => "set_seats",
            Op::SetRoles { .. } => "set_roles",
            Op::SetGrants { .. } => "set_grants",
            Op::SetInactiveReason { .. } => "set_inactive_reason",
            Op::ScheduleDeactivation { .. } => "schedule_deactivation",
            Op::ScheduleLicenseRemoval { .. } => "schedule_license_removal",
            Op::Tick { .. } => "tick",
            Op::EndTrial => "end_trial",
        }
    }
}

const IDX: std::ops::Range<usize> = 0..24;

fn idx() -> impl Strategy<Value = usize> {
    IDX
}

/// Mostly admins (most operations need a permission), sometimes anyone, so refusals for
/// missing permissions are exercised too.
fn who() -> impl Strategy<Value = Who> {
    prop_oneof![3 => idx().prop_map(Who::Admin), 1 => idx().prop_map(Who::Anyone)]
}

/// Members of every role invite connections, so "anyone" is as likely as an admin here.
fn inviter() -> impl Strategy<Value = Who> {
    prop_oneof![1 => idx().prop_map(Who::Admin), 2 => idx().prop_map(Who::Anyone)]
}

/// An admin in one case out of three, so that the last-admin rule is tested.
fn whom() -> impl Strategy<Value = Whom> {
    prop_oneof![1 => idx().prop_map(Whom::Admin), 2 => idx().prop_map(Whom::Any)]
}

fn email() -> impl Strategy<Value = EmailPick> {
    prop_oneof![6 => Just(EmailPick::Fresh), 1 => idx().prop_map(EmailPick::SameAs)]
}

/// Mostly the combinations an admin picks (core alone, core with one or two add-ons, nothing),
/// sometimes any subset, so that missing prerequisites come up too.
fn products() -> impl Strategy<Value = Products> {
    prop_oneof![
        3 => Just(Products(0b0001)),
        2 => Just(Products(0b0011)),
        2 => Just(Products(0b0101)),
        1 => Just(Products(0b1101)),
        1 => Just(Products(0)),
        2 => (0u8..16).prop_map(Products),
    ]
}

fn role() -> impl Strategy<Value = usize> {
    0..ROLE_KEYS.len()
}

fn group_pick() -> impl Strategy<Value = GroupPick> {
    prop_oneof![
        2 => Just(GroupPick::Default),
        1 => Just(GroupPick::Organization),
        2 => idx().prop_map(GroupPick::Group),
    ]
}

fn users() -> impl Strategy<Value = Vec<usize>> {
    vec(idx(), 1..4)
}

/// One operation, weighted so that the lifecycle, licensing, group and connection operations
/// each come up several times in a 50–80 step run.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (who(), email(), role(), proptest::option::of(idx()), products())
            .prop_map(|(by, email, role, group, products)| Op::CreateUser { by, email, role, group, products }),
        3 => (who(), email(), role(), products()).prop_map(|(by, email, role, products)| Op::Invite { by, email, role, products }),
        3 => idx().prop_map(|invite| Op::AcceptInvite { invite }),
        1 => (who(), idx()).prop_map(|(by, invite)| Op::RevokeInvite { by, invite }),
        4 => (who(), whom(), products()).prop_map(|(by, user, products)| Op::SetLicenses { by, user, products }),
        2 => (who(), users(), products(), any::<bool>(), any::<bool>())
            .prop_map(|(by, users, products, assign, atomic)| Op::BulkLicenses { by, users, products, assign, atomic }),
        3 => (who(), whom()).prop_map(|(by, user)| Op::Deactivate { by, user }),
        2 => (who(), idx(), products()).prop_map(|(by, user, products)| Op::Reactivate { by, user, products }),
        2 => (who(), whom()).prop_map(|(by, user)| Op::Delete { by, user }),
        1 => (who(), idx()).prop_map(|(by, user)| Op::Restore { by, user }),
        3 => (who(), idx()).prop_map(|(by, parent)| Op::CreateGroup { by, parent }),
        2 => (who(), idx(), idx()).prop_map(|(by, group, parent)| Op::MoveGroup { by, group, parent }),
        1 => (who(), idx(), any::<bool>()).prop_map(|(by, group, cascade)| Op::DeleteGroup { by, group, cascade }),
        4 => (who(), idx(), users()).prop_map(|(by, group, users)| Op::Join { by, group, users }),
        2 => (who(), idx(), idx()).prop_map(|(by, user, group)| Op::Leave { by, user, group }),
        2 => (who(), idx(), idx(), idx(), any::<bool>())
            .prop_map(|(by, user, from, to, transfer)| Op::MoveUser { by, user, from, to, transfer }),
        6 => (inviter(), group_pick(), vec(idx(), 0..3)).prop_map(|(by, group, cc)| Op::CreateConnection { by, group, cc }),
        2 => (0..PRODUCT_KEYS.len(), 0u32..9).prop_map(|(product, total)| Op::SetSeats { product, total }),
        3 => (who(), whom(), vec((role(), proptest::option::weighted(0.3, idx())), 1..3))
            .prop_map(|(by, user, roles)| Op::SetRoles { by, user, roles }),
        2 => (who(), idx(), vec(idx(), 0..3), any::<bool>())
            .prop_map(|(by, user, groups, reporting)| Op::SetGrants { by, user, groups, reporting }),
        1 => (idx(), 0..5usize, any::<bool>()).prop_map(|(user, reason, on)| Op::SetInactiveReason { user, reason, on }),
        2 => (who(), whom(), 1u32..72).prop_map(|(by, user, in_hours)| Op::ScheduleDeactivation { by, user, in_hours }),
        1 => (who(), idx(), 0..PRODUCT_KEYS.len(), 1u32..72)
            .prop_map(|(by, user, product, in_hours)| Op::ScheduleLicenseRemoval { by, user, product, in_hours }),
        2 => (1u32..48).prop_map(|hours| Op::Tick { hours }),
        1 => Just(Op::EndTrial),
    ]
}

/// A sequence of 50 to 80 operations.
pub fn sequence() -> Sequence<impl Strategy<Value = Op>> {
    sequence_of(50..=80)
}

/// A sequence of operations of a length in `len` (shorter runs for slower stores).
pub fn sequence_of(len: std::ops::RangeInclusive<usize>) -> Sequence<impl Strategy<Value = Op>> {
    Sequence { step: op(), len }
}

/// Sequences of steps that shrink below their generated length.
///
/// `proptest::collection::vec` never shrinks below its minimum length and deletes each element
/// once, front to back; in a state machine, deleting an early step that only shifts later
/// indices often fails while later steps are still there, so the minimal sequence kept steps
/// that do not matter. This tree deletes steps pass after pass (any step, down to none) until a
/// whole pass deletes nothing, and only then simplifies the remaining steps one by one.
#[derive(Debug)]
pub struct Sequence<S> {
    step: S,
    len: std::ops::RangeInclusive<usize>,
}

impl<S: Strategy> Strategy for Sequence<S> {
    type Tree = SequenceTree<S::Tree>;
    type Value = Vec<S::Value>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let len = self.len.clone().new_tree(runner)?.current();
        let steps = (0..len).map(|_| self.step.new_tree(runner)).collect::<Result<Vec<_>, _>>()?;
        let included = vec![true; steps.len()];
        Ok(SequenceTree { steps, included, next: Shrink::Delete(0), last: None, deleted_in_pass: false })
    }
}

#[derive(Debug, Clone, Copy)]
enum Shrink {
    Delete(usize),
    Simplify(usize),
}

#[derive(Debug)]
pub struct SequenceTree<T> {
    steps: Vec<T>,
    included: Vec<bool>,
    next: Shrink,
    /// The last change, to undo it in `complicate`, with whether the pass had deleted before.
    last: Option<(Shrink, bool)>,
    deleted_in_pass: bool,
}

impl<T: ValueTree> ValueTree for SequenceTree<T> {
    type Value = Vec<T::Value>;

    fn current(&self) -> Self::Value {
        self.steps.iter().zip(&self.included).filter(|(_, kept)| **kept).map(|(s, _)| s.current()).collect()
    }

    fn simplify(&mut self) -> bool {
        while let Shrink::Delete(ix) = self.next {
            if ix >= self.steps.len() {
                // A pass that deleted something may have made earlier steps deletable.
                self.next = if self.deleted_in_pass { Shrink::Delete(0) } else { Shrink::Simplify(0) };
                self.deleted_in_pass = false;
                continue;
            }
            self.next = Shrink::Delete(ix + 1);
            if self.included[ix] {
                self.included[ix] = false;
                self.last = Some((Shrink::Delete(ix), self.deleted_in_pass));
                self.deleted_in_pass = true;
                return true;
            }
        }
        while let Shrink::Simplify(ix) = self.next {
            if ix >= self.steps.len() {
                return false;
            }
            if self.included[ix] && self.steps[ix].simplify() {
                self.last = Some((Shrink::Simplify(ix), false));
                return true;
            }
            self.next = Shrink::Simplify(ix + 1);
        }
        false
    }

    fn complicate(&mut self) -> bool {
        match self.last {
            None => false,
            Some((Shrink::Delete(ix), deleted_before)) => {
                self.included[ix] = true;
                self.deleted_in_pass = deleted_before;
                self.last = None;
                true
            }
            Some((Shrink::Simplify(ix), _)) => {
                if self.steps[ix].complicate() {
                    true
                } else {
                    self.last = None;
                    false
                }
            }
        }
    }
}
