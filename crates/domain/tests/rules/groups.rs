//! The three-level group tree (§6): depth, sibling names, move, delete, the root, memberships.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use roster_domain::error::ErrorCode;
use roster_domain::groups::{Group, GroupTree, MAX_GROUP_DEPTH, Membership, current_groups};

use crate::support::{
    EAST, OLD, ORG, ROOT, SALES, SUPPORT, T0, UNKNOWN_GROUP, WEST, code_of, deleted, group, group_id, group_name,
    invalid_fields, sample_groups, sample_tree, user_id,
};

// ---------------------------------------------------------------------------------------------
// Create and rename
// ---------------------------------------------------------------------------------------------

#[test]
fn a_group_below_the_root_is_at_depth_two_and_below_that_at_depth_three() {
    let tree = sample_tree();
    assert_eq!(tree.check_create(ROOT, &group_name("Marketing")).unwrap(), 2);
    assert_eq!(tree.check_create(SALES, &group_name("North")).unwrap(), 3);
}

#[test]
fn a_fourth_group_level_is_refused_with_group_depth_exceeded() {
    assert_eq!(MAX_GROUP_DEPTH, 3);
    let result = sample_tree().check_create(EAST, &group_name("Downtown"));
    assert_eq!(code_of(result), ErrorCode::GroupDepthExceeded);
}

#[test]
fn a_sibling_with_the_same_name_in_any_case_is_refused_with_conflict() {
    let tree = sample_tree();
    assert_eq!(code_of(tree.check_create(SALES, &group_name("East"))), ErrorCode::Conflict);
    assert_eq!(code_of(tree.check_create(SALES, &group_name("eAST"))), ErrorCode::Conflict);
}

#[test]
fn the_same_name_under_another_parent_is_allowed() {
    assert_eq!(sample_tree().check_create(SUPPORT, &group_name("East")).unwrap(), 3);
}

#[test]
fn a_deleted_sibling_frees_its_name() {
    assert_eq!(sample_tree().check_create(ROOT, &group_name("old")).unwrap(), 2);
}

#[test]
fn creating_below_a_deleted_or_unknown_group_is_not_found() {
    let tree = sample_tree();
    assert_eq!(code_of(tree.check_create(OLD, &group_name("Child"))), ErrorCode::NotFound);
    assert_eq!(code_of(tree.check_create(UNKNOWN_GROUP, &group_name("Child"))), ErrorCode::NotFound);
}

#[test]
fn renaming_to_a_live_siblings_name_is_refused_with_conflict() {
    assert_eq!(code_of(sample_tree().check_rename(EAST, &group_name("WEST"))), ErrorCode::Conflict);
}

#[test]
fn renaming_a_group_to_another_case_of_its_own_name_is_allowed() {
    assert!(sample_tree().check_rename(EAST, &group_name("EAST")).is_ok());
}

#[test]
fn the_root_is_renamed_freely() {
    assert!(sample_tree().check_rename(ROOT, &group_name("Sales")).is_ok());
}

#[test]
fn renaming_a_deleted_group_is_not_found() {
    assert_eq!(code_of(sample_tree().check_rename(OLD, &group_name("New"))), ErrorCode::NotFound);
}

// ---------------------------------------------------------------------------------------------
// Move
// ---------------------------------------------------------------------------------------------

#[test]
fn moving_a_group_gives_the_new_depth_of_its_whole_subtree() {
    // Support (depth 2, leaf) moves below Sales: depth 3.
    let depths = sample_tree().check_move(SUPPORT, SALES).unwrap();
    assert_eq!(depths, BTreeMap::from([(SUPPORT, 3)]));
    // East moves up to the root: depth 2.
    let depths = sample_tree().check_move(EAST, ROOT).unwrap();
    assert_eq!(depths, BTreeMap::from([(EAST, 2)]));
}

#[test]
fn moving_a_group_with_subgroups_one_level_down_is_refused_with_group_depth_exceeded() {
    // Sales has children at depth 3; below Support they would be at depth 4.
    assert_eq!(code_of(sample_tree().check_move(SALES, SUPPORT)), ErrorCode::GroupDepthExceeded);
}

#[test]
fn moving_a_leaf_below_a_depth_three_group_is_refused_with_group_depth_exceeded() {
    assert_eq!(code_of(sample_tree().check_move(SUPPORT, EAST)), ErrorCode::GroupDepthExceeded);
}

#[test]
fn deleted_subgroups_do_not_count_toward_the_depth_of_a_move_and_keep_their_depth() {
    let mut groups = sample_groups();
    groups.push(group(group_id(1), Some(ROOT), "Ops", 2));
    groups.push(deleted(group(group_id(2), Some(group_id(1)), "Gone", 3)));
    let depths = GroupTree::new(groups).check_move(group_id(1), SUPPORT).unwrap();
    // Shifted with Ops, Gone would be at depth 4, which no group may have (the SQL schema's
    // `groups_depth_range` refused it: found by the state machine on SQLite).
    assert_eq!(depths, BTreeMap::from([(group_id(1), 3)]));
}

#[test]
fn the_root_cannot_be_moved() {
    assert_eq!(invalid_fields(sample_tree().check_move(ROOT, SALES)), vec![("parent_id".to_owned(), "root_group")]);
}

#[test]
fn a_group_cannot_be_moved_below_itself_or_its_descendants() {
    let tree = sample_tree();
    assert_eq!(invalid_fields(tree.check_move(SALES, SALES)), vec![("parent_id".to_owned(), "cycle")]);
    assert_eq!(invalid_fields(tree.check_move(SALES, EAST)), vec![("parent_id".to_owned(), "cycle")]);
}

#[test]
fn moving_next_to_a_sibling_with_the_same_name_is_refused_with_conflict() {
    let mut groups = sample_groups();
    groups.push(group(group_id(1), Some(SUPPORT), "east", 3));
    assert_eq!(code_of(GroupTree::new(groups).check_move(group_id(1), SALES)), ErrorCode::Conflict);
}

#[test]
fn moving_a_deleted_group_or_below_a_deleted_group_is_not_found() {
    let tree = sample_tree();
    assert_eq!(code_of(tree.check_move(OLD, SALES)), ErrorCode::NotFound);
    assert_eq!(code_of(tree.check_move(SUPPORT, OLD)), ErrorCode::NotFound);
}

// ---------------------------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------------------------

#[test]
fn the_root_group_cannot_be_deleted() {
    assert_eq!(invalid_fields(sample_tree().check_delete(ROOT, true)), vec![("id".to_owned(), "root_group")]);
}

#[test]
fn deleting_a_group_with_live_subgroups_without_cascade_is_refused_with_group_has_subgroups() {
    assert_eq!(code_of(sample_tree().check_delete(SALES, false)), ErrorCode::GroupHasSubgroups);
}

#[test]
fn deleting_with_cascade_deletes_the_group_and_its_live_subgroups() {
    let mut groups = sample_groups();
    groups.push(deleted(group(group_id(1), Some(SALES), "Gone", 3)));
    let doomed: BTreeSet<_> = GroupTree::new(groups).check_delete(SALES, true).unwrap().into_iter().collect();
    assert_eq!(doomed, BTreeSet::from([SALES, EAST, WEST]));
}

#[test]
fn a_leaf_group_is_deleted_without_cascade() {
    assert_eq!(sample_tree().check_delete(EAST, false).unwrap(), vec![EAST]);
}

#[test]
fn a_group_whose_subgroups_are_all_deleted_is_deleted_without_cascade() {
    let mut groups = sample_groups();
    groups.push(deleted(group(group_id(1), Some(SUPPORT), "Gone", 3)));
    assert_eq!(GroupTree::new(groups).check_delete(SUPPORT, false).unwrap(), vec![SUPPORT]);
}

#[test]
fn deleting_a_deleted_group_is_not_found() {
    assert_eq!(code_of(sample_tree().check_delete(OLD, true)), ErrorCode::NotFound);
}

// ---------------------------------------------------------------------------------------------
// Membership and reading the tree
// ---------------------------------------------------------------------------------------------

#[test]
fn the_root_group_has_no_members() {
    assert_eq!(invalid_fields(sample_tree().check_joinable(ROOT)), vec![("group_id".to_owned(), "root_group")]);
}

#[test]
fn a_user_can_join_a_live_group_below_the_root_but_not_a_deleted_one() {
    let tree = sample_tree();
    assert_eq!(tree.check_joinable(EAST).unwrap().id, EAST);
    assert_eq!(code_of(tree.check_joinable(OLD)), ErrorCode::NotFound);
}

#[test]
fn current_groups_are_open_memberships_in_live_groups() {
    let m = |group_id, left: bool| Membership {
        org_id: ORG,
        group_id,
        user_id: user_id(1),
        joined_at: T0,
        left_at: left.then_some(T0),
    };
    let memberships = [m(EAST, false), m(WEST, true), m(OLD, false), m(SUPPORT, false)];
    assert_eq!(current_groups(&memberships, &sample_tree()), BTreeSet::from([EAST, SUPPORT]));
}

#[test]
fn a_subtree_holds_the_group_and_everything_below_it() {
    let tree = sample_tree();
    assert_eq!(tree.subtree(SALES), BTreeSet::from([SALES, EAST, WEST]));
    assert_eq!(tree.subtree(ROOT).len(), 6);
    assert!(tree.is_within(EAST, SALES) && tree.is_within(EAST, ROOT) && tree.is_within(EAST, EAST));
    assert!(!tree.is_within(SALES, EAST) && !tree.is_within(SUPPORT, SALES));
}

#[test]
fn a_groups_path_reads_from_the_root_down() {
    assert_eq!(sample_tree().path(EAST), "Acme / Sales / East");
    assert_eq!(sample_tree().root().map(|g| g.id), Some(ROOT));
}

#[test]
fn the_tree_order_puts_each_parent_before_its_children_and_siblings_by_name() {
    let tree = sample_tree();
    let order: Vec<_> = tree.in_tree_order().into_iter().map(|g| g.id).collect();
    assert_eq!(order, [ROOT, OLD, SALES, EAST, WEST, SUPPORT]);
}

// ---------------------------------------------------------------------------------------------
// Property: random edits never break the tree
// ---------------------------------------------------------------------------------------------

const NAMES: [&str; 6] = ["Sales", "sales", "SALES", "East", "EAST", "West"];

#[derive(Debug, Clone)]
enum Edit {
    Create { parent: Index, name: usize },
    Rename { group: Index, name: usize },
    Move { group: Index, parent: Index },
    Delete { group: Index, cascade: bool },
}

fn edit() -> impl Strategy<Value = Edit> {
    let name = 0..NAMES.len();
    prop_oneof![
        3 => (any::<Index>(), name.clone()).prop_map(|(parent, name)| Edit::Create { parent, name }),
        1 => (any::<Index>(), name).prop_map(|(group, name)| Edit::Rename { group, name }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(group, parent)| Edit::Move { group, parent }),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(group, cascade)| Edit::Delete { group, cascade }),
    ]
}

/// Applies `edit` to `groups` if the tree accepts it; a refusal must carry one of the codes the
/// rule documents.
fn apply(groups: &mut Vec<Group>, edit: &Edit, next_id: &mut u128) -> Result<(), TestCaseError> {
    use ErrorCode::{Conflict, GroupDepthExceeded, GroupHasSubgroups, NotFound, ValidationFailed};
    let tree = GroupTree::new(groups.clone());
    let pick = |i: &Index| groups[i.index(groups.len())].id;
    let at = |groups: &[Group], id| groups.iter().position(|g| g.id == id).expect("a known group");
    match edit {
        Edit::Create { parent, name } => {
            let parent = pick(parent);
            match tree.check_create(parent, &group_name(NAMES[*name])) {
                Ok(depth) => {
                    *next_id += 1;
                    groups.push(group(group_id(*next_id), Some(parent), NAMES[*name], depth));
                    Ok(())
                }
                Err(e) => refused_with(e.code(), &[NotFound, GroupDepthExceeded, Conflict]),
            }
        }
        Edit::Rename { group, name } => {
            let id = pick(group);
            match tree.check_rename(id, &group_name(NAMES[*name])) {
                Ok(()) => {
                    let i = at(groups, id);
                    groups[i].name = group_name(NAMES[*name]);
                    Ok(())
                }
                Err(e) => refused_with(e.code(), &[NotFound, Conflict]),
            }
        }
        Edit::Move { group, parent } => {
            let (id, parent) = (pick(group), pick(parent));
            match tree.check_move(id, parent) {
                Ok(depths) => {
                    let i = at(groups, id);
                    groups[i].parent_id = Some(parent);
                    for (g, depth) in depths {
                        let i = at(groups, g);
                        groups[i].depth = depth;
                    }
                    Ok(())
                }
                Err(e) => refused_with(e.code(), &[NotFound, ValidationFailed, GroupDepthExceeded, Conflict]),
            }
        }
        Edit::Delete { group, cascade } => match tree.check_delete(pick(group), *cascade) {
            Ok(doomed) => {
                for g in doomed {
                    let i = at(groups, g);
                    groups[i].deleted_at = Some(T0);
                }
                Ok(())
            }
            Err(e) => refused_with(e.code(), &[NotFound, ValidationFailed, GroupHasSubgroups]),
        },
    }
}

fn refused_with(code: ErrorCode, allowed: &[ErrorCode]) -> Result<(), TestCaseError> {
    prop_assert!(allowed.contains(&code), "unexpected refusal {:?}", code);
    Ok(())
}

/// The tree invariants of §6 over the live groups.
fn check_tree(groups: &[Group]) -> Result<(), TestCaseError> {
    let tree = GroupTree::new(groups.to_vec());
    let live: Vec<&Group> = groups.iter().filter(|g| g.is_live()).collect();
    prop_assert_eq!(live.iter().filter(|g| g.is_root()).count(), 1, "exactly one live root");
    let mut sibling_names = BTreeSet::new();
    for g in &live {
        // Depth is the length of the chain up to the root, and never more than 3.
        let mut chain = 1u8;
        let mut parent = g.parent_id;
        while let Some(p) = parent {
            let p = tree.get(p).expect("a known parent");
            prop_assert!(p.is_live(), "live group {} has a deleted parent", g.name);
            chain += 1;
            parent = p.parent_id;
        }
        prop_assert_eq!(g.depth, chain, "stored depth of {}", g.name);
        prop_assert!(g.depth <= MAX_GROUP_DEPTH, "{} is at depth {}", g.name, g.depth);
        prop_assert!(sibling_names.insert((g.parent_id, g.name.key())), "two live siblings named {}", g.name);
    }
    Ok(())
}

proptest! {
    #[test]
    fn random_edits_never_make_a_group_too_deep_or_two_siblings_share_a_name(
        edits in prop::collection::vec(edit(), 1..40)
    ) {
        let mut groups = vec![group(ROOT, None, "Acme", 1)];
        let mut next_id = 0;
        for e in &edits {
            apply(&mut groups, e, &mut next_id)?;
            check_tree(&groups)?;
        }
    }
}
