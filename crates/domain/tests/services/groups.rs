//! The group tree, memberships, moves and flows (§6, §7.3).

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::connections::GroupChoice;
use roster_domain::services::{GroupPatch, MoveUser, NewApiKey};

use crate::support::{World, failure, group_name, label};

#[tokio::test]
async fn groups_are_created_at_depth_two_and_three_in_any_number() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let sales = w.services.create_group(&admin, w.root(), group_name("Sales")).await.expect("creates");
    let support = w.services.create_group(&admin, w.root(), group_name("Support")).await.expect("creates");
    let east = w.services.create_group(&admin, sales.id, group_name("East")).await.expect("creates");
    assert_eq!((sales.depth, support.depth, east.depth), (2, 2, 3));
    assert_eq!(east.parent_id, Some(sales.id));
    let event = w.events_named("group.created").await.pop().expect("audited");
    assert_eq!(event.target_label, "Acme / Sales / East");
}

#[tokio::test]
async fn a_fourth_level_is_refused_with_group_depth_exceeded() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let east = w.group("East", Some(sales)).await;
    let err = failure(w.services.create_group(&w.admin_actor().await, east, group_name("Boston")).await);
    assert_eq!(err.code(), ErrorCode::GroupDepthExceeded);
}

#[tokio::test]
async fn moving_a_group_so_that_the_tree_would_exceed_three_levels_is_refused() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    w.group("East", Some(sales)).await;
    let support = w.group("Support", None).await;
    let patch = GroupPatch { parent_id: Some(support), ..GroupPatch::default() };
    let err = failure(w.services.update_group(&w.admin_actor().await, sales, patch, None).await);
    assert_eq!(err.code(), ErrorCode::GroupDepthExceeded);
}

#[tokio::test]
async fn moving_a_group_updates_its_depth() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let patch = GroupPatch { parent_id: Some(support), ..GroupPatch::default() };
    let moved = w.services.update_group(&w.admin_actor().await, sales, patch, None).await.expect("moves");
    assert_eq!((moved.parent_id, moved.depth), (Some(support), 3));
}

#[tokio::test]
async fn a_group_cannot_be_moved_below_itself_and_the_root_cannot_move() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let east = w.group("East", Some(sales)).await;
    let admin = w.admin_actor().await;
    let err = failure(
        w.services
            .update_group(&admin, sales, GroupPatch { parent_id: Some(east), ..GroupPatch::default() }, None)
            .await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let err = failure(
        w.services
            .update_group(&admin, w.root(), GroupPatch { parent_id: Some(sales), ..GroupPatch::default() }, None)
            .await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn names_are_unique_among_live_siblings_case_insensitively() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let admin = w.admin_actor().await;
    let err = failure(w.services.create_group(&admin, w.root(), group_name("SALES")).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
    w.services.create_group(&admin, sales, group_name("Sales")).await.expect("not a sibling");
    w.services.delete_group(&admin, sales, true).await.expect("deletes");
    w.services.create_group(&admin, w.root(), group_name("Sales")).await.expect("a deleted group's name is free");
}

#[tokio::test]
async fn renaming_checks_sibling_names_and_the_version() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    w.group("Support", None).await;
    let admin = w.admin_actor().await;
    let rename = |n: &str| GroupPatch { name: Some(group_name(n)), ..GroupPatch::default() };
    let err = failure(w.services.update_group(&admin, sales, rename("support"), None).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
    let renamed = w.services.update_group(&admin, sales, rename("Revenue"), Some(1)).await.expect("renames");
    assert_eq!((renamed.name.as_str(), renamed.version), ("Revenue", 2));
    let err = failure(w.services.update_group(&admin, sales, rename("Income"), Some(1)).await);
    assert_eq!(err.code(), ErrorCode::PreconditionFailed);
    let event = w.events_named("group.updated").await.pop().expect("audited");
    assert_eq!(event.details["name"]["before"], "Sales");
    assert_eq!(event.details["name"]["after"], "Revenue");
    assert_eq!(event.target_label, "Acme / Sales", "the label names the group as it was");
}

#[tokio::test]
async fn only_members_with_manage_groups_change_groups_and_memberships() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err = failure(w.services.create_group(&lead, w.root(), group_name("Mine")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.add_members(&lead, sales, &[ann]).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.delete_group(&lead, sales, false).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let patch = GroupPatch { name: Some(group_name("Mine")), ..GroupPatch::default() };
    let err = failure(w.services.update_group(&lead, sales, patch, None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_scoped_admin_manages_only_their_groups_subtree() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.scope_admin(boss, sales).await;
    let boss = w.actor(boss).await;
    w.services.create_group(&boss, sales, group_name("East")).await.expect("inside the subtree");
    let err = failure(w.services.create_group(&boss, support, group_name("West")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.create_group(&boss, w.root(), group_name("Other")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn the_root_group_cannot_be_deleted() {
    let w = World::new().await;
    let err = failure(w.services.delete_group(&w.admin_actor().await, w.root(), true).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn deleting_a_group_with_live_subgroups_requires_cascade() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    w.group("East", Some(sales)).await;
    let before = w.store.snapshot().await;
    let err = failure(w.services.delete_group(&w.admin_actor().await, sales, false).await);
    assert_eq!(err.code(), ErrorCode::GroupHasSubgroups);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn deleting_with_cascade_ends_memberships_revokes_api_keys_and_keeps_record_stamps() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let east = w.group("East", Some(sales)).await;
    let ann = w.member("ann", &["standard"], &[east]).await;
    let connection = w.connection(&w.actor(ann).await, "carl", None).await;
    let admin = w.admin_actor().await;
    let new_key = NewApiKey { name: label("East form"), group_id: Some(east), permissions: BTreeSet::new() };
    let api_key = w.services.create_api_key(&admin, new_key).await.expect("creates");
    w.services.delete_group(&admin, sales, true).await.expect("deletes");

    let groups = w.services.list_groups(&admin).await.expect("lists");
    let deleted: Vec<_> = groups.iter().filter(|g| g.deleted_at.is_some()).map(|g| g.id).collect();
    assert_eq!(deleted.len(), 2, "a deleted group still appears, marked deleted");
    assert!(deleted.contains(&sales) && deleted.contains(&east));
    assert!(w.details(ann).await.groups.is_empty(), "memberships end");
    let state = w.store.snapshot().await;
    assert!(state.api_keys[&api_key.key.id].revoked_at.is_some());
    assert_eq!(state.connections[&connection.id].groups, BTreeSet::from([east]), "records keep their stamp");
    assert_eq!(w.events_named("group.deleted").await.len(), 2);
    assert_eq!(w.events_named("api_key.revoked").await.len(), 1);
}

#[tokio::test]
async fn the_root_group_has_no_members() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.add_members(&w.admin_actor().await, w.root(), &[ann]).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn adding_members_makes_the_group_one_of_their_teams_and_adding_twice_changes_nothing() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.add_members(&admin, sales, &[ann]).await.expect("adds");
    assert_eq!(w.details(ann).await.groups, BTreeSet::from([sales]));
    let before = w.store.snapshot().await;
    w.services.add_members(&admin, sales, &[ann]).await.expect("adds again");
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn adding_an_unknown_user_fails_validation_and_adds_nobody() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let stranger = w.other_org("globex").await.admin;
    let err = failure(w.services.add_members(&w.admin_actor().await, sales, &[ann, stranger]).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    assert!(w.details(ann).await.groups.is_empty());
}

#[tokio::test]
async fn removing_a_member_keeps_the_membership_history() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let admin = w.admin_actor().await;
    w.clock.advance(time::Duration::days(1));
    w.services.remove_member(&admin, sales, ann).await.expect("removes");
    assert!(w.details(ann).await.groups.is_empty());
    let history: Vec<_> = w.store.snapshot().await.memberships.into_iter().filter(|m| m.user_id == ann).collect();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].left_at, Some(crate::support::T0 + time::Duration::days(1)));
    let err = failure(w.services.remove_member(&admin, sales, ann).await);
    assert_eq!(err.code(), ErrorCode::NotFound, "no current membership");
}

#[tokio::test]
async fn moving_a_user_ends_the_old_membership_and_starts_the_new_one() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let request = MoveUser { from_group_id: sales, to_group_id: support, transfer_records: false };
    w.services.move_user(&w.admin_actor().await, ann, request).await.expect("moves");
    assert_eq!(w.details(ann).await.groups, BTreeSet::from([support]));
    let history: Vec<_> = w.store.snapshot().await.memberships.into_iter().filter(|m| m.user_id == ann).collect();
    assert_eq!(history.len(), 2);
    assert!(history.iter().any(|m| m.group_id == sales && m.left_at.is_some()));
    assert!(history.iter().any(|m| m.group_id == support && m.left_at.is_none()));
}

#[tokio::test]
async fn moving_with_transfer_records_restamps_the_users_records_from_the_old_group_to_the_new() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let bob = w.member("bob", &["standard"], &[sales]).await;
    let anns = w.connection(&w.actor(ann).await, "carl", None).await;
    let bobs = w.connection(&w.actor(bob).await, "dora", None).await;
    let request = MoveUser { from_group_id: sales, to_group_id: support, transfer_records: true };
    w.services.move_user(&w.admin_actor().await, ann, request).await.expect("moves");
    let state = w.store.snapshot().await;
    assert_eq!(state.connections[&anns.id].groups, BTreeSet::from([support]));
    assert_eq!(state.connections[&bobs.id].groups, BTreeSet::from([sales]), "only the moved user's records");
    let event = w.events_named("membership.moved").await.pop().expect("audited");
    assert_eq!(event.details["transferred_connections"], 1);
}

#[tokio::test]
async fn moving_without_transfer_keeps_the_records_stamps() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let anns = w.connection(&w.actor(ann).await, "carl", Some(GroupChoice::Group(sales))).await;
    let request = MoveUser { from_group_id: sales, to_group_id: support, transfer_records: false };
    w.services.move_user(&w.admin_actor().await, ann, request).await.expect("moves");
    assert_eq!(w.store.snapshot().await.connections[&anns.id].groups, BTreeSet::from([sales]));
}

#[tokio::test]
async fn moving_from_a_group_the_user_is_not_in_is_not_found_and_to_the_same_group_is_invalid() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let err = failure(
        w.services
            .move_user(&admin, ann, MoveUser { from_group_id: sales, to_group_id: support, transfer_records: true })
            .await,
    );
    assert_eq!(err.code(), ErrorCode::NotFound);
    let err = failure(
        w.services
            .move_user(&admin, ann, MoveUser { from_group_id: sales, to_group_id: sales, transfer_records: false })
            .await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn assigning_flows_replaces_the_groups_flow_set() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let admin = w.admin_actor().await;
    let a = w.services.create_flow(&admin, label("Onboarding")).await.expect("creates");
    let b = w.services.create_flow(&admin, label("Renewal")).await.expect("creates");
    w.services.set_group_flows(&admin, sales, BTreeSet::from([a.id, b.id])).await.expect("assigns");
    w.services.set_group_flows(&admin, sales, BTreeSet::from([b.id])).await.expect("replaces");
    assert_eq!(w.store.snapshot().await.group_flows[&sales], BTreeSet::from([b.id]));
    assert_eq!(w.services.list_flows(&admin).await.expect("lists").len(), 2);
    let event = w.events_named("group.flows_changed").await.pop().expect("audited");
    assert_eq!(event.details["flows"]["after"], serde_json::json!([b.id]));
}

#[tokio::test]
async fn assigning_an_unknown_flow_fails_validation() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let other = w.other_org("globex").await;
    let foreign = other.services.create_flow(&other.admin_actor().await, label("Theirs")).await.expect("creates");
    let err = failure(w.services.set_group_flows(&w.admin_actor().await, sales, BTreeSet::from([foreign.id])).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn a_users_teams_are_their_current_groups_below_the_root() {
    let w = World::new().await;
    let (_sales, east, support) = w.sales_east_support().await;
    let ann = w.member("ann", &["standard"], &[east, support]).await;
    assert_eq!(w.details(ann).await.groups, BTreeSet::from([east, support]));
    w.services.delete_group(&w.admin_actor().await, support, false).await.expect("deletes");
    assert_eq!(w.details(ann).await.groups, BTreeSet::from([east]), "deleted groups are no team");
}

#[tokio::test]
async fn the_users_table_filters_by_a_deleted_group_with_the_members_it_had_when_deleted() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let bob = w.member("bob", &["standard"], &[sales]).await;
    let admin = w.admin_actor().await;
    w.services.remove_member(&admin, sales, bob).await.expect("bob left before");
    w.clock.advance(time::Duration::hours(1));
    w.services.delete_group(&admin, sales, false).await.expect("deletes");
    let mut query = roster_domain::users_query::UserQuery::new(w.org.id);
    query.group = Some(sales);
    let page = w.services.list_users(&admin, query).await.expect("lists");
    assert_eq!(page.items.iter().map(|u| u.user.id).collect::<Vec<_>>(), [ann]);
}

#[tokio::test]
async fn a_move_answers_the_user_in_the_new_group() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let request = MoveUser { from_group_id: sales, to_group_id: support, transfer_records: false };
    let details = w.services.move_user(&w.admin_actor().await, ann, request).await.expect("moves");
    assert_eq!(details.user.id, ann);
    assert_eq!(details.groups, BTreeSet::from([support]));
}

#[tokio::test]
async fn one_group_shows_its_path_members_and_flows_and_the_export_needs_export_data() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let east = w.group("East", Some(sales)).await;
    let ann = w.member("ann", &["standard"], &[east]).await;
    let admin = w.admin_actor().await;
    let flow = w.services.create_flow(&admin, label("Onboarding")).await.expect("creates");
    w.services.set_group_flows(&admin, east, BTreeSet::from([flow.id])).await.expect("assigns");

    let details = w.services.get_group(&w.actor(ann).await, east).await.expect("any member reads a group");
    assert_eq!(details.path, "Acme / Sales / East");
    assert_eq!(details.members, [ann]);
    assert_eq!(details.flows, BTreeSet::from([flow.id]));

    let err = failure(w.services.export_groups(&w.actor(ann).await).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "standard members hold no export_data");
    let rows = w.services.export_groups(&admin).await.expect("exports");
    let ids: Vec<_> = rows.iter().map(|r| r.group.id).collect();
    assert_eq!(ids, [w.root(), sales, east]);

    w.services.delete_group(&admin, east, false).await.expect("deletes");
    let gone = w.services.get_group(&admin, east).await.expect("a deleted group is still shown");
    assert!(gone.group.deleted_at.is_some() && gone.members.is_empty());
}
