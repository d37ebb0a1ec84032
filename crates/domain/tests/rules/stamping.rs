//! Stamping a new connection (§7.1): the group dropdown, the stamp, and the flows a stamped
//! group accepts (§7.3).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use roster_domain::connections::{GroupChoice, Inviter, check_flow, group_choices, stamp};
use roster_domain::error::ErrorCode;
use roster_domain::ids::{FlowId, GroupId};
use roster_domain::roles::Visibility;
use uuid::Uuid;

use crate::support::{EAST, OLD, ROOT, SALES, SUPPORT, UNKNOWN_GROUP, WEST, code_of, invalid_fields, sample_tree};

fn inviter(visibility: Visibility, groups: &BTreeSet<GroupId>) -> Inviter<'_> {
    Inviter { visibility, groups, api_key_group: None }
}

fn groups(list: &[GroupId]) -> BTreeSet<GroupId> {
    list.iter().copied().collect()
}

fn not_allowed() -> Vec<(String, &'static str)> {
    vec![("group".to_owned(), "group_not_allowed")]
}

// ---------------------------------------------------------------------------------------------
// The dropdown
// ---------------------------------------------------------------------------------------------

#[test]
fn an_all_member_may_pick_organization_or_any_live_group_below_the_root() {
    let mine = groups(&[EAST]);
    let choices = group_choices(&inviter(Visibility::All, &mine), &sample_tree());
    assert_eq!(choices, vec![None, Some(SALES), Some(EAST), Some(WEST), Some(SUPPORT)]);
}

#[test]
fn a_grouped_member_may_pick_only_among_their_current_groups() {
    let mine = groups(&[EAST, SUPPORT]);
    for visibility in [Visibility::Groups, Visibility::OwnInvites] {
        assert_eq!(group_choices(&inviter(visibility, &mine), &sample_tree()), vec![Some(EAST), Some(SUPPORT)]);
    }
}

#[test]
fn an_ungrouped_member_may_pick_only_organization() {
    let none = groups(&[]);
    for visibility in [Visibility::Groups, Visibility::OwnInvites] {
        assert_eq!(group_choices(&inviter(visibility, &none), &sample_tree()), vec![None]);
    }
}

// ---------------------------------------------------------------------------------------------
// The stamp
// ---------------------------------------------------------------------------------------------

#[test]
fn with_no_pick_the_stamp_is_the_inviters_current_groups() {
    let mine = groups(&[EAST, SUPPORT]);
    assert_eq!(stamp(&inviter(Visibility::Groups, &mine), None, &sample_tree()).unwrap(), mine);
}

#[test]
fn with_no_pick_an_ungrouped_inviters_connection_is_stamped_organization() {
    let none = groups(&[]);
    assert!(stamp(&inviter(Visibility::All, &none), None, &sample_tree()).unwrap().is_empty());
}

#[test]
fn a_connection_made_with_a_group_bound_api_key_is_stamped_with_that_group() {
    let mine = groups(&[EAST]);
    let via_key = Inviter { api_key_group: Some(SUPPORT), ..inviter(Visibility::Groups, &mine) };
    for choice in [None, Some(GroupChoice::Organization), Some(GroupChoice::Group(EAST))] {
        assert_eq!(stamp(&via_key, choice, &sample_tree()).unwrap(), groups(&[SUPPORT]));
    }
}

#[test]
fn a_grouped_member_may_pick_one_of_their_groups() {
    let mine = groups(&[EAST, SUPPORT]);
    let s = stamp(&inviter(Visibility::Groups, &mine), Some(GroupChoice::Group(SUPPORT)), &sample_tree()).unwrap();
    assert_eq!(s, groups(&[SUPPORT]));
}

#[test]
fn a_grouped_member_picking_another_group_is_refused() {
    let mine = groups(&[EAST]);
    let result = stamp(&inviter(Visibility::Groups, &mine), Some(GroupChoice::Group(WEST)), &sample_tree());
    assert_eq!(invalid_fields(result), not_allowed());
}

#[test]
fn a_grouped_member_picking_organization_is_refused() {
    let mine = groups(&[EAST]);
    let result = stamp(&inviter(Visibility::OwnInvites, &mine), Some(GroupChoice::Organization), &sample_tree());
    assert_eq!(invalid_fields(result), not_allowed());
}

#[test]
fn an_ungrouped_member_picking_organization_stamps_organization() {
    let none = groups(&[]);
    let s = stamp(&inviter(Visibility::Groups, &none), Some(GroupChoice::Organization), &sample_tree()).unwrap();
    assert!(s.is_empty());
}

#[test]
fn an_all_member_may_pick_any_live_group_or_organization() {
    let mine = groups(&[EAST]);
    let all = inviter(Visibility::All, &mine);
    assert_eq!(stamp(&all, Some(GroupChoice::Group(WEST)), &sample_tree()).unwrap(), groups(&[WEST]));
    assert!(stamp(&all, Some(GroupChoice::Organization), &sample_tree()).unwrap().is_empty());
}

#[test]
fn picking_the_root_group_is_picking_organization() {
    let none = groups(&[]);
    let s = stamp(&inviter(Visibility::Groups, &none), Some(GroupChoice::Group(ROOT)), &sample_tree()).unwrap();
    assert!(s.is_empty());
    let mine = groups(&[EAST]);
    let result = stamp(&inviter(Visibility::Groups, &mine), Some(GroupChoice::Group(ROOT)), &sample_tree());
    assert_eq!(invalid_fields(result), not_allowed());
}

#[test]
fn picking_a_deleted_or_unknown_group_is_not_found() {
    let mine = groups(&[EAST]);
    let all = inviter(Visibility::All, &mine);
    assert_eq!(code_of(stamp(&all, Some(GroupChoice::Group(OLD)), &sample_tree())), ErrorCode::NotFound);
    assert_eq!(code_of(stamp(&all, Some(GroupChoice::Group(UNKNOWN_GROUP)), &sample_tree())), ErrorCode::NotFound);
}

proptest! {
    #[test]
    fn the_stamp_accepts_exactly_the_choices_the_dropdown_offers(
        visibility in prop::sample::select(vec![Visibility::All, Visibility::Groups, Visibility::OwnInvites]),
        mine in prop::sample::subsequence(vec![SALES, EAST, WEST, SUPPORT], 0..=4),
    ) {
        let tree = sample_tree();
        let mine: BTreeSet<GroupId> = mine.into_iter().collect();
        let who = inviter(visibility, &mine);
        let offered = group_choices(&who, &tree);
        // Every group the tree knows, the root and a deleted one included, plus "Organization".
        let picks = std::iter::once(GroupChoice::Organization).chain(tree.iter().map(|g| GroupChoice::Group(g.id)));
        for pick in picks {
            let as_offered = match pick {
                GroupChoice::Organization => None,
                GroupChoice::Group(g) if g == ROOT => None,
                GroupChoice::Group(g) => Some(g),
            };
            prop_assert_eq!(stamp(&who, Some(pick), &tree).is_ok(), offered.contains(&as_offered), "pick {:?}", pick);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------------

fn flow(n: u128) -> FlowId {
    FlowId::from_uuid(Uuid::from_u128(0x6000 + n))
}

fn flows(assigned: &[(GroupId, &[u128])]) -> BTreeMap<GroupId, BTreeSet<FlowId>> {
    assigned.iter().map(|(g, fs)| (*g, fs.iter().map(|n| flow(*n)).collect())).collect()
}

#[test]
fn a_group_with_flows_accepts_only_those_flows() {
    let assigned = flows(&[(EAST, &[1, 2])]);
    assert!(check_flow(&groups(&[EAST]), Some(flow(2)), &assigned).is_ok());
    assert_eq!(code_of(check_flow(&groups(&[EAST]), Some(flow(3)), &assigned)), ErrorCode::FlowNotAllowed);
}

#[test]
fn a_group_without_flows_accepts_any_flow() {
    let assigned = flows(&[(EAST, &[1]), (WEST, &[])]);
    assert!(check_flow(&groups(&[SUPPORT]), Some(flow(9)), &assigned).is_ok());
    assert!(check_flow(&groups(&[WEST]), Some(flow(9)), &assigned).is_ok());
}

#[test]
fn an_organization_stamp_accepts_any_flow() {
    assert!(check_flow(&groups(&[]), Some(flow(9)), &flows(&[(EAST, &[1])])).is_ok());
}

#[test]
fn a_connection_without_a_flow_passes_the_flow_check() {
    assert!(check_flow(&groups(&[EAST]), None, &flows(&[(EAST, &[1])])).is_ok());
}

#[test]
fn every_stamped_group_with_flows_must_list_the_flow() {
    let assigned = flows(&[(EAST, &[1]), (SUPPORT, &[2])]);
    assert_eq!(code_of(check_flow(&groups(&[EAST, SUPPORT]), Some(flow(1)), &assigned)), ErrorCode::FlowNotAllowed);
    let shared = flows(&[(EAST, &[1]), (SUPPORT, &[1, 2])]);
    assert!(check_flow(&groups(&[EAST, SUPPORT]), Some(flow(1)), &shared).is_ok());
}
