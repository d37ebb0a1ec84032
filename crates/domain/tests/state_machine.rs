//! The state-machine property test of SPEC §14 on the in-memory store: 256 random sequences
//! of 50 to 80 operations, every invariant checked on the store's raw snapshot after every
//! step. The machinery (operations, reference model, invariants, runner) lives in
//! `roster_testkit::state_machine`, where SQL adapters run it on their stores too.
//!
//! The ordinary tests below prove that each invariant check fires on its own when the state is
//! corrupted, that random runs apply every operation (not only refuse it), and replay the
//! sequences with which this test found bugs in the services.

use std::collections::{BTreeMap, BTreeSet};

use futures::executor::block_on;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use roster_domain::ErrorCode;
use roster_domain::actor::Authority;
use roster_domain::connections::Connection;
use roster_domain::seats::SeatPool;
use roster_domain::visibility::{Viewer, can_see};
use roster_testkit::MemoryState;
use roster_testkit::state_machine::invariants::{
    self, Invariant, broken, check, check_dominance, check_listing, check_viewers, expected_listing,
};
use roster_testkit::state_machine::ops::{EmailPick, GroupPick, Op, Products, Who, Whom, sequence};
use roster_testkit::state_machine::reference;
use roster_testkit::state_machine::world::{Failure, Outcome, World, tally};

/// Runs the steps on a fresh world over the in-memory store.
fn run(steps: &[Op]) -> Result<Vec<Outcome>, Failure> {
    block_on(async { World::in_memory().await.run(steps).await })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 4096, ..ProptestConfig::default() })]

    #[test]
    fn every_invariant_holds_after_every_step_of_a_random_sequence(steps in sequence()) {
        if let Err(failure) = run(&steps) {
            return Err(TestCaseError::fail(failure));
        }
    }
}

/// Sequences in the coverage sample: enough for every kind of operation to succeed at least once.
const SAMPLE_RUNS: usize = 32;

#[test]
fn random_sequences_apply_every_operation_and_not_only_refuse_them() {
    let mut runner = TestRunner::deterministic();
    let strategy = sequence();
    let mut counts: BTreeMap<&'static str, (u32, u32)> = BTreeMap::new();
    for _ in 0..SAMPLE_RUNS {
        let ops = strategy.new_tree(&mut runner).expect("a sequence").current();
        let outcomes = run(&ops).unwrap_or_else(|failure| panic!("{failure}"));
        tally(&ops, &outcomes, &mut counts);
    }
    let never_applied: Vec<_> = counts.iter().filter(|(_, (done, _))| *done == 0).map(|(k, _)| *k).collect();
    assert!(never_applied.is_empty(), "never applied: {never_applied:?} (counts {counts:?})");
    let kinds: BTreeSet<&str> = counts.keys().copied().collect();
    assert_eq!(kinds, Op::KINDS.into_iter().collect(), "every operation kind is generated");
}

// ---------------------------------------------------------------------------------------------
// Sequences that found bugs in the services (minimal, as proptest shrank them). The runner
// checks every invariant after each step and that a pending invite's token is accepted exactly
// when its user may sign in.
// ---------------------------------------------------------------------------------------------

/// Invites a ninth user (index 8: setup creates eight) with a Core seat reserved.
fn invite_with_core() -> Op {
    Op::Invite { by: Who::Admin(0), email: EmailPick::Fresh, role: 1, products: Products(0b0001) }
}

fn assert_outcomes(steps: &[Op], expected: &[Outcome]) {
    let outcomes = run(steps).unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(outcomes, expected);
}

#[test]
fn an_invite_of_a_user_deactivated_meanwhile_cannot_be_accepted() {
    // Accepting turned the reserved seats into licenses of a deactivated user.
    let steps =
        [invite_with_core(), Op::Deactivate { by: Who::Admin(0), user: Whom::Any(8) }, Op::AcceptInvite { invite: 0 }];
    assert_outcomes(&steps, &[Outcome::Done, Outcome::Done, Outcome::Refused(ErrorCode::InvalidToken)]);
}

#[test]
fn licenses_cannot_be_assigned_to_an_invitee_before_they_accept() {
    // Assigning Core to an invitee whose invite already reserved Core counted them twice; then
    // accepting failed with a conflict forever, and revoking kept the seat counted. Assigning to
    // an invitee is now refused, and accepting and revoking work as usual.
    let assign = Op::SetLicenses { by: Who::Admin(0), user: Whom::Any(8), products: Products(0b0001) };
    let refused = Outcome::Refused(ErrorCode::UserNotActive);
    assert_outcomes(
        &[invite_with_core(), assign.clone(), Op::AcceptInvite { invite: 0 }],
        &[Outcome::Done, refused, Outcome::Done],
    );
    assert_outcomes(
        &[invite_with_core(), assign, Op::RevokeInvite { by: Who::Admin(0), invite: 0 }],
        &[Outcome::Done, refused, Outcome::Done],
    );
}

// ---------------------------------------------------------------------------------------------
// The checker can fail: each invariant, broken on its own in a real state.
// ---------------------------------------------------------------------------------------------

/// A world after setup and a few connections: one stamped with a group, one "Organization",
/// one by the `operations_limited` member (stamped Support) cc'ing a `standard` member of Sales.
fn populated() -> (World, MemoryState) {
    let mut world = block_on(World::in_memory());
    let steps = [
        Op::CreateConnection { by: Who::Anyone(3), group: GroupPick::Default, cc: vec![] },
        Op::CreateConnection { by: Who::Anyone(0), group: GroupPick::Organization, cc: vec![] },
        Op::CreateConnection { by: Who::Anyone(4), group: GroupPick::Default, cc: vec![6] },
    ];
    for step in &steps {
        assert_eq!(block_on(world.apply(step)).expect("no failure"), Outcome::Done, "{step:?}");
    }
    let state = block_on(world.snapshot()).expect("a snapshot");
    assert!(block_on(world.violations()).expect("no failure").is_empty(), "the populated world is sound");
    assert_eq!(state.connections.len(), 3);
    (world, state)
}

fn user_id(state: &MemoryState, email: &str) -> roster_domain::ids::UserId {
    state.users.values().find(|u| u.email.as_str() == email).map(|u| u.id).expect("a setup member")
}

fn assert_only(world: &World, state: &MemoryState, expected: Invariant) {
    let violations = check(state, world.org, can_see);
    assert_eq!(broken(&violations), BTreeSet::from([expected]), "{violations:?}");
}

#[test]
fn a_pool_with_more_seats_used_than_total_is_reported() {
    let (world, mut state) = populated();
    let core = state.seat_pools.values_mut().find(|p| p.product().as_str() == "core").expect("core pool");
    assert!(core.seats_used() > 0, "setup assigns core");
    // A drifted row, as a store could hold it.
    *core = SeatPool::restore(core.org_id(), core.product().clone(), core.seats_used() - 1, core.seats_used());
    assert_only(&world, &state, Invariant::SeatsWithinTotal);
}

#[test]
fn seats_used_that_do_not_match_assignments_and_reservations_are_reported() {
    let (world, mut state) = populated();
    let dialer = state.seat_pools.values_mut().find(|p| p.product().as_str() == "dialer").expect("dialer pool");
    dialer.give_back(1);
    assert_only(&world, &state, Invariant::SeatBookkeeping);
}

#[test]
fn a_deactivated_user_holding_a_license_is_reported() {
    let (world, mut state) = populated();
    let olga = user_id(&state, "olga@acme.test");
    assert!(state.licenses.keys().any(|(u, _)| *u == olga));
    state.users.get_mut(&olga).expect("olga").lifecycle.deactivated_at =
        Some(time::macros::datetime!(2024-03-04 10:00 UTC));
    assert_only(&world, &state, Invariant::NoLicenseWithoutAccess);
}

#[test]
fn a_deleted_user_holding_a_license_is_reported() {
    let (world, mut state) = populated();
    let stan = user_id(&state, "stan@acme.test");
    state.users.get_mut(&stan).expect("stan").lifecycle.deleted_at =
        Some(time::macros::datetime!(2024-03-04 10:00 UTC));
    assert_only(&world, &state, Invariant::NoLicenseWithoutAccess);
}

#[test]
fn an_organization_whose_admins_lost_the_admin_role_is_reported() {
    let (world, mut state) = populated();
    let admin = state.roles.values().find(|r| r.key.as_str() == "admin").expect("admin role").id;
    let full_member = state.roles.values().find(|r| r.key.as_str() == "full_member").expect("full_member role").id;
    for user in state.users.values_mut() {
        if user.roles.iter().any(|g| g.role_id == admin && g.scope.is_none()) {
            user.roles = BTreeSet::from([roster_domain::roles::RoleGrant::org_wide(full_member)]);
        }
    }
    assert_only(&world, &state, Invariant::ActiveAdmin);
}

#[test]
fn a_member_given_authority_beyond_the_actor_is_reported() {
    let (world, before) = populated();
    let mut after = before.clone();
    let stan = user_id(&after, "stan@acme.test");
    let admin = after.roles.values().find(|r| r.key.as_str() == "admin").expect("admin role").id;
    after.users.get_mut(&stan).expect("stan").roles.insert(roster_domain::roles::RoleGrant::org_wide(admin));
    // An actor holding only `manage_users` org-wide gave it.
    let clerk = Authority::of_permissions(
        &BTreeSet::from([roster_domain::roles::Permission::ManageUsers]),
        roster_domain::roles::Visibility::All,
    );
    let violations = check_dominance(&before, &after, world.org, &clerk);
    assert_eq!(broken(&violations), BTreeSet::from([Invariant::Dominance]), "{violations:?}");
    // The same change by a full admin is sound, and so is taking authority away.
    assert!(check_dominance(&before, &after, world.org, &Authority::everything()).is_empty());
    assert!(check_dominance(&after, &before, world.org, &clerk).is_empty());
}

#[test]
fn a_group_at_a_fourth_level_is_reported() {
    let (world, mut state) = populated();
    let east = state.groups.values().find(|g| g.name.as_str() == "East").expect("East").clone();
    assert_eq!(east.depth, 3);
    let mut below = east.clone();
    below.id = roster_domain::ids::GroupId::from_uuid(uuid_of(9_999));
    below.parent_id = Some(east.id);
    below.name = roster_domain::values::GroupName::parse("Too deep").expect("valid");
    below.depth = 4;
    state.groups.insert(below.id, below);
    assert_only(&world, &state, Invariant::GroupDepth);
}

#[test]
fn a_group_whose_depth_disagrees_with_its_parent_is_reported() {
    let (world, mut state) = populated();
    let support = state.groups.values_mut().find(|g| g.name.as_str() == "Support").expect("Support");
    support.depth = 3;
    assert_only(&world, &state, Invariant::GroupDepth);
}

#[test]
fn a_visibility_rule_that_ignores_cc_disagrees_with_the_reference_model() {
    let (world, state) = populated();
    let ignores_cc = |v: &Viewer, c: &Connection| {
        let mut without_cc = c.clone();
        without_cc.cc.clear();
        can_see(v, &without_cc)
    };
    let violations = check(&state, world.org, ignores_cc);
    assert_eq!(broken(&violations), BTreeSet::from([Invariant::CanSee]), "{violations:?}");
    assert!(violations.iter().all(|v| v.detail.starts_with("stan@acme.test")), "{violations:?}");
}

#[test]
fn a_visibility_rule_that_forgets_ungrouped_members_disagrees_with_the_reference_model() {
    let (world, state) = populated();
    let forgets_ungrouped = |v: &Viewer, c: &Connection| {
        let access = roster_domain::visibility::explain(v, c);
        access.visible && access.rule != Some(roster_domain::visibility::AccessRule::Ungrouped)
    };
    let violations = check(&state, world.org, forgets_ungrouped);
    assert_eq!(broken(&violations), BTreeSet::from([Invariant::CanSee]), "{violations:?}");
}

#[test]
fn a_listing_that_misses_or_adds_a_connection_is_reported() {
    let (world, state) = populated();
    let rita = user_id(&state, "rita@acme.test");
    let expected = expected_listing(&state, world.org, rita);
    assert!(!expected.is_empty());
    assert_eq!(check_listing(&state, world.org, rita, &expected), None);
    let mut missing_one = expected.clone();
    let first = *missing_one.iter().next().expect("one");
    missing_one.remove(&first);
    let reported = check_listing(&state, world.org, rita, &missing_one).expect("reported");
    assert_eq!(reported.invariant, Invariant::Listing);
    let lim = user_id(&state, "lim@acme.test");
    let everything: BTreeSet<_> = state.connections.keys().copied().collect();
    assert!(check_listing(&state, world.org, lim, &everything).is_some(), "lim sees only their own");
}

#[test]
fn a_viewers_list_that_misses_or_adds_a_member_is_reported() {
    let (world, state) = populated();
    let by_lim = state.connections.values().find(|c| !c.cc.is_empty()).expect("lim's connection");
    let expected: BTreeSet<_> = invariants::viewers(&state, world.org)
        .filter(|u| reference::sees(&state, u.id, by_lim))
        .map(|u| u.id)
        .collect();
    assert_eq!(check_viewers(&state, world.org, by_lim, &expected), None);
    let stan = user_id(&state, "stan@acme.test");
    assert!(expected.contains(&stan), "stan is cc'd");
    let mut without_stan = expected.clone();
    without_stan.remove(&stan);
    let reported = check_viewers(&state, world.org, by_lim, &without_stan).expect("reported");
    assert_eq!(reported.invariant, Invariant::Viewers);
    let everyone: BTreeSet<_> = invariants::viewers(&state, world.org).map(|u| u.id).collect();
    assert!(check_viewers(&state, world.org, by_lim, &everyone).is_some(), "olga in East does not see it");
}

fn uuid_of(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}
