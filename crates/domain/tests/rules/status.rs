//! The derived status of §3.1 and the user facts around it.

use std::collections::BTreeSet;

use proptest::prelude::*;
use roster_domain::error::ErrorCode;
use roster_domain::user::{InactiveReason, Status, StatusFacts, StatusKind, derive_status};

use crate::support::{T0, user, user_id};

use InactiveReason::{AccountFailure, InactiveInCrm, InactiveInMailbox, NoLicense, PackageExpired};

/// A user who holds Core and completed onboarding: `active`.
fn active() -> StatusFacts {
    StatusFacts { holds_core: true, ever_held_core: true, onboarding_complete: true, ..StatusFacts::default() }
}

fn reasons(list: &[InactiveReason]) -> BTreeSet<InactiveReason> {
    list.iter().copied().collect()
}

/// Every fact that leads somewhere other than `active`, all at once.
fn everything() -> StatusFacts {
    StatusFacts {
        deleted: false,
        deactivated: true,
        invited: true,
        reasons: reasons(&[InactiveInCrm, AccountFailure]),
        holds_core: false,
        ever_held_core: true,
        in_trial: false,
        onboarding_complete: false,
    }
}

#[test]
fn deleted_comes_before_every_other_status() {
    assert_eq!(derive_status(&StatusFacts { deleted: true, ..everything() }), Status::Deleted);
    assert_eq!(derive_status(&StatusFacts { deleted: true, ..active() }), Status::Deleted);
}

#[test]
fn deactivated_takes_precedence_over_every_other_status() {
    assert_eq!(derive_status(&everything()), Status::Deactivated);
    assert_eq!(derive_status(&StatusFacts { deactivated: true, ..active() }), Status::Deactivated);
}

#[test]
fn invited_takes_precedence_over_inactive_revoked_pending_and_active() {
    assert_eq!(derive_status(&StatusFacts { deactivated: false, ..everything() }), Status::Invited);
    assert_eq!(derive_status(&StatusFacts { invited: true, ..active() }), Status::Invited);
}

#[test]
fn a_system_reason_makes_a_core_holder_inactive() {
    let facts = StatusFacts { reasons: reasons(&[InactiveInMailbox]), ..active() };
    assert_eq!(derive_status(&facts), Status::Inactive(reasons(&[InactiveInMailbox])));
}

#[test]
fn inactive_takes_precedence_over_revoked() {
    let facts = StatusFacts { deactivated: false, invited: false, ..everything() };
    assert_eq!(derive_status(&facts), Status::Inactive(reasons(&[InactiveInCrm, AccountFailure])));
}

#[test]
fn inactive_lists_every_reason_that_holds() {
    let all = reasons(&[InactiveInCrm, InactiveInMailbox, AccountFailure, PackageExpired]);
    let facts = StatusFacts { reasons: all.clone(), ..active() };
    assert_eq!(derive_status(&facts), Status::Inactive(all));
}

#[test]
fn no_license_is_derived_when_the_trial_is_over_and_core_was_never_held() {
    let facts = StatusFacts { onboarding_complete: true, ..StatusFacts::default() };
    assert_eq!(derive_status(&facts), Status::Inactive(reasons(&[NoLicense])));
}

#[test]
fn no_license_joins_the_stored_reasons() {
    let facts = StatusFacts { reasons: reasons(&[PackageExpired]), ..StatusFacts::default() };
    assert_eq!(derive_status(&facts), Status::Inactive(reasons(&[PackageExpired, NoLicense])));
}

#[test]
fn during_the_trial_a_user_without_core_is_entitled_and_not_inactive() {
    assert_eq!(derive_status(&StatusFacts { in_trial: true, ..StatusFacts::default() }), Status::Pending);
    let onboarded = StatusFacts { in_trial: true, onboarding_complete: true, ..StatusFacts::default() };
    assert_eq!(derive_status(&onboarded), Status::Active);
}

#[test]
fn a_user_whose_core_license_was_removed_is_revoked() {
    let facts = StatusFacts { holds_core: false, ..active() };
    assert_eq!(derive_status(&facts), Status::Revoked);
}

#[test]
fn a_user_whose_core_was_removed_during_the_trial_is_still_entitled() {
    let facts = StatusFacts { holds_core: false, in_trial: true, ..active() };
    assert_eq!(derive_status(&facts), Status::Active);
}

#[test]
fn a_core_holder_who_has_not_completed_onboarding_is_pending() {
    assert_eq!(derive_status(&StatusFacts { onboarding_complete: false, ..active() }), Status::Pending);
}

#[test]
fn a_core_holder_who_completed_onboarding_is_active() {
    assert_eq!(derive_status(&active()), Status::Active);
}

#[test]
fn onboarding_is_complete_only_with_both_the_crm_and_the_mailbox_connected() {
    let mut u = user(user_id(1));
    for (crm, mailbox) in [(false, false), (true, false), (false, true), (true, true)] {
        u.lifecycle.crm_connected = crm;
        u.lifecycle.mailbox_connected = mailbox;
        assert_eq!(StatusFacts::of(&u, true, false).onboarding_complete, crm && mailbox);
    }
}

#[test]
fn holding_core_now_counts_as_having_held_it() {
    let u = user(user_id(1));
    assert!(!u.lifecycle.ever_held_core);
    assert!(StatusFacts::of(&u, true, false).ever_held_core);
    assert!(!StatusFacts::of(&u, false, false).ever_held_core);
}

#[test]
fn the_facts_of_a_user_carry_their_lifecycle() {
    let mut u = user(user_id(1));
    u.lifecycle.deactivated_at = Some(T0);
    u.lifecycle.invited = true;
    u.lifecycle.inactive_reasons = reasons(&[AccountFailure]);
    let facts = StatusFacts::of(&u, false, true);
    assert!(facts.deactivated && facts.invited && facts.in_trial && !facts.deleted);
    assert_eq!(facts.reasons, reasons(&[AccountFailure]));
    assert_eq!(derive_status(&facts), Status::Deactivated);
}

#[test]
fn the_kind_of_a_status_drops_its_reasons() {
    let pairs = [
        (Status::Deleted, StatusKind::Deleted),
        (Status::Deactivated, StatusKind::Deactivated),
        (Status::Invited, StatusKind::Invited),
        (Status::Inactive(reasons(&[NoLicense])), StatusKind::Inactive),
        (Status::Revoked, StatusKind::Revoked),
        (Status::Pending, StatusKind::Pending),
        (Status::Active, StatusKind::Active),
    ];
    for (status, kind) in pairs {
        assert_eq!(status.kind(), kind);
    }
}

#[test]
fn the_status_serializes_with_its_reasons_in_snake_case() {
    let inactive = Status::Inactive(reasons(&[InactiveInCrm, NoLicense]));
    assert_eq!(
        serde_json::to_value(&inactive).unwrap(),
        serde_json::json!({"status": "inactive", "reasons": ["inactive_in_crm", "no_license"]})
    );
    assert_eq!(serde_json::to_value(Status::Active).unwrap(), serde_json::json!({"status": "active"}));
}

#[test]
fn deactivated_deleted_and_invited_users_are_not_billable() {
    let mut u = user(user_id(1));
    assert!(u.is_billable() && u.can_hold_licenses());
    u.lifecycle.invited = true;
    assert!(!u.is_billable() && u.can_hold_licenses());
    u.lifecycle.invited = false;
    u.lifecycle.deactivated_at = Some(T0);
    assert!(!u.is_billable() && !u.can_hold_licenses() && u.is_deactivated());
    u.lifecycle.deactivated_at = None;
    u.lifecycle.deleted_at = Some(T0);
    assert!(!u.is_billable() && !u.can_hold_licenses() && u.is_deleted());
}

#[test]
fn a_stale_version_is_refused_with_precondition_failed() {
    let u = user(user_id(1));
    assert!(u.check_version(None).is_ok());
    assert!(u.check_version(Some(u.version)).is_ok());
    assert_eq!(u.check_version(Some(u.version + 1)).unwrap_err().code(), ErrorCode::PreconditionFailed);
}

#[test]
fn touching_a_user_bumps_the_version_and_the_update_time() {
    let mut u = user(user_id(1));
    let later = T0 + time::Duration::hours(1);
    u.touch(later);
    assert_eq!((u.version, u.updated_at), (2, later));
}

// ---------------------------------------------------------------------------------------------
// The precedence table as a property
// ---------------------------------------------------------------------------------------------

/// The §3.1 table written as data: rows in precedence order, the first row whose condition holds
/// gives the status. `no_license` is derived (trial over and Core never held); being entitled
/// means holding Core or being in the trial.
fn reference_status(f: &StatusFacts) -> Status {
    let entitled = f.holds_core || f.in_trial;
    let mut reasons = f.reasons.clone();
    if !entitled && !f.ever_held_core {
        reasons.insert(NoLicense);
    }
    let table = [
        (f.deleted, Status::Deleted),
        (f.deactivated, Status::Deactivated),
        (f.invited, Status::Invited),
        (!reasons.is_empty(), Status::Inactive(reasons.clone())),
        (f.ever_held_core && !entitled, Status::Revoked),
        (entitled && !f.onboarding_complete, Status::Pending),
        (entitled && f.onboarding_complete, Status::Active),
    ];
    table.into_iter().find(|(when, _)| *when).map(|(_, status)| status).expect("the table covers every case")
}

fn facts() -> impl Strategy<Value = StatusFacts> {
    let reason =
        prop::sample::select(vec![InactiveInCrm, InactiveInMailbox, AccountFailure, PackageExpired, NoLicense]);
    // The first three facts short-circuit everything below them; keeping them rarer lets most
    // cases reach the lower rows of the table.
    let rare = || prop::bool::weighted(0.2);
    (rare(), rare(), rare(), any::<[bool; 4]>(), prop::collection::btree_set(reason, 0..=3)).prop_map(
        |(deleted, deactivated, invited, b, reasons)| StatusFacts {
            deleted,
            deactivated,
            invited,
            reasons,
            holds_core: b[0],
            ever_held_core: b[1],
            in_trial: b[2],
            onboarding_complete: b[3],
        },
    )
}

proptest! {
    #[test]
    fn derive_status_follows_the_precedence_table(f in facts()) {
        prop_assert_eq!(derive_status(&f), reference_status(&f));
    }
}
