//! Connections: stamping (§7.1), who sees them (§7.2) including the five timing rules, flows
//! (§7.3), and the access and viewers explanations.

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::actor::Actor;
use roster_domain::connections::{Connection, GroupChoice};
use roster_domain::ids::{ConnectionId, GroupId};
use roster_domain::services::MoveUser;
use roster_domain::visibility::{Access, AccessRule};

use crate::support::{World, failure, label};

/// The ids of the connections `actor` sees, optionally filtered by group.
async fn visible(w: &World, actor: &Actor, group: Option<GroupId>) -> BTreeSet<ConnectionId> {
    w.services.list_connections(actor, group, None, 200).await.expect("lists").into_iter().map(|c| c.id).collect()
}

fn ids(connections: &[&Connection]) -> BTreeSet<ConnectionId> {
    connections.iter().map(|c| c.id).collect()
}

// ---- stamping (§7.1) ---------------------------------------------------------------------------

#[tokio::test]
async fn with_no_group_picked_the_stamp_is_the_inviters_current_groups() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let east = w.group("East", Some(sales)).await;
    let ann = w.member("ann", &["standard"], &[sales, east]).await;
    let c = w.connection(&w.actor(ann).await, "carl", None).await;
    assert_eq!(c.groups, BTreeSet::from([sales, east]));
    assert_eq!(c.inviter_id, ann);
    assert_eq!(c.user_token_hash.len(), 64, "the token's SHA-256, in hex");
}

#[tokio::test]
async fn an_ungrouped_inviter_stamps_organization() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let actor = w.actor(ann).await;
    assert!(w.connection(&actor, "carl", None).await.groups.is_empty());
    assert!(w.connection(&actor, "dora", Some(GroupChoice::Organization)).await.groups.is_empty());
}

#[tokio::test]
async fn a_groups_member_may_pick_only_among_their_current_groups() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let actor = w.actor(ann).await;
    assert_eq!(w.connection(&actor, "carl", Some(GroupChoice::Group(sales))).await.groups, BTreeSet::from([sales]));
    let err = failure(
        w.services.create_connection(&actor, w.new_connection("dora", Some(GroupChoice::Group(support)))).await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let err =
        failure(w.services.create_connection(&actor, w.new_connection("dora", Some(GroupChoice::Organization))).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed, "\"Organization\" only for members without a group");
    let choices = w.services.connection_group_choices(&actor).await.expect("lists");
    assert_eq!(choices.iter().map(|c| c.group_id).collect::<Vec<_>>(), [Some(sales)]);
    assert_eq!(choices[0].label, "Acme / Sales");
}

#[tokio::test]
async fn an_own_invites_member_may_pick_only_among_their_current_groups_too() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["operations_limited"], &[sales]).await;
    let err = failure(
        w.services
            .create_connection(&w.actor(ann).await, w.new_connection("dora", Some(GroupChoice::Group(support))))
            .await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn an_all_member_may_pick_any_live_group_or_organization() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["full_member"], &[sales]).await;
    let actor = w.actor(ann).await;
    assert_eq!(w.connection(&actor, "carl", Some(GroupChoice::Group(support))).await.groups, BTreeSet::from([support]));
    assert!(w.connection(&actor, "dora", Some(GroupChoice::Organization)).await.groups.is_empty());
    let choices = w.services.connection_group_choices(&actor).await.expect("lists");
    assert_eq!(choices.iter().map(|c| c.group_id).collect::<Vec<_>>(), [None, Some(sales), Some(support)]);
    let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["Organization", "Acme / Sales", "Acme / Support"]);
    w.services.delete_group(&w.admin_actor().await, support, false).await.expect("deletes");
    let err =
        failure(w.services.create_connection(&actor, w.new_connection("eve", Some(GroupChoice::Group(support)))).await);
    assert_eq!(err.code(), ErrorCode::NotFound, "a deleted group cannot be picked");
}

#[tokio::test]
async fn creating_connections_requires_invite_connections() {
    let w = World::new().await;
    let reader = w.member("reader", &["read_only"], &[]).await;
    let err = failure(w.services.create_connection(&w.actor(reader).await, w.new_connection("carl", None)).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_cc_must_name_members_of_the_organization() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let stranger = w.other_org("globex").await.admin;
    let mut new = w.new_connection("carl", None);
    new.cc = vec![stranger];
    let err = failure(w.services.create_connection(&w.actor(ann).await, new).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn a_flow_not_assigned_to_the_stamped_group_is_refused_with_flow_not_allowed() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let admin = w.admin_actor().await;
    let onboarding = w.services.create_flow(&admin, label("Onboarding")).await.expect("creates");
    let renewal = w.services.create_flow(&admin, label("Renewal")).await.expect("creates");
    w.services.set_group_flows(&admin, sales, BTreeSet::from([onboarding.id])).await.expect("assigns");
    let ann = w.actor(w.member("ann", &["standard"], &[sales]).await).await;
    let mut new = w.new_connection("carl", None);
    new.flow_id = Some(renewal.id);
    let err = failure(w.services.create_connection(&ann, new.clone()).await);
    assert_eq!(err.code(), ErrorCode::FlowNotAllowed);
    new.flow_id = Some(onboarding.id);
    assert_eq!(w.services.create_connection(&ann, new).await.expect("allowed").connection.flow_id, Some(onboarding.id));

    let bob = w.actor(w.member("bob", &["standard"], &[support]).await).await;
    let mut any = w.new_connection("dora", None);
    any.flow_id = Some(renewal.id);
    w.services.create_connection(&bob, any).await.expect("a group with no flows accepts any flow");
}

// ---- who sees a connection (§7.2) -------------------------------------------------------------

#[tokio::test]
async fn visibility_follows_the_viewers_role_groups_inviter_and_cc() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let inviter = w.member("inviter", &["standard"], &[sales]).await;
    let colleague = w.member("colleague", &["standard"], &[sales]).await;
    let outsider = w.member("outsider", &["standard"], &[support]).await;
    let copied = w.member("copied", &["operations_limited"], &[support]).await;
    let analyst = w.member("analyst", &["analyst"], &[support]).await;
    let ungrouped = w.member("ungrouped", &["read_only"], &[]).await;
    let own_only = w.member("own_only", &["operations_limited"], &[sales]).await;
    let mut new = w.new_connection("carl", None);
    new.cc = vec![copied];
    let c = w.services.create_connection(&w.actor(inviter).await, new).await.expect("creates").connection;

    let expect = [
        (inviter, Some(AccessRule::Inviter)),
        (colleague, Some(AccessRule::Group)),
        (outsider, None),
        (copied, Some(AccessRule::Cc)),
        (analyst, Some(AccessRule::All)),
        (ungrouped, Some(AccessRule::Ungrouped)),
        (own_only, None),
    ];
    let admin = w.admin_actor().await;
    for (viewer, rule) in expect {
        let access = w.services.explain_access(&admin, c.id, viewer).await.expect("explains");
        assert_eq!(access.rule, rule, "viewer {viewer}");
        assert_eq!(access.visible, rule.is_some());
        let sees = visible(&w, &w.actor(viewer).await, None).await.contains(&c.id);
        assert_eq!(sees, rule.is_some(), "the list agrees with the explanation for {viewer}");
        let got = w.services.get_connection(&w.actor(viewer).await, c.id).await;
        assert_eq!(got.is_ok(), rule.is_some());
    }
    let group = w.services.explain_access(&admin, c.id, colleague).await.expect("explains");
    assert_eq!(group, Access { visible: true, rule: Some(AccessRule::Group), group_id: Some(sales) });
}

#[tokio::test]
async fn an_organization_stamped_connection_is_visible_to_all_members_ungrouped_groups_members_its_inviter_and_cc() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let inviter = w.member("inviter", &["standard"], &[]).await;
    let copied = w.member("copied", &["identified_only"], &[]).await;
    let grouped = w.member("grouped", &["standard"], &[sales]).await;
    let lonely = w.member("lonely", &["standard"], &[]).await;
    let own = w.member("own", &["identified_only"], &[]).await;
    let mut new = w.new_connection("carl", Some(GroupChoice::Organization));
    new.cc = vec![copied];
    let c = w.services.create_connection(&w.actor(inviter).await, new).await.expect("creates").connection;
    assert!(c.groups.is_empty());
    let viewers: BTreeSet<_> = w
        .services
        .connection_viewers(&w.admin_actor().await, c.id)
        .await
        .expect("lists")
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    assert_eq!(viewers, BTreeSet::from([w.admin, inviter, copied, lonely]));
    assert!(!viewers.contains(&grouped) && !viewers.contains(&own));
}

#[tokio::test]
async fn a_member_with_no_group_joining_g_restamps_their_organization_connections() {
    let w = World::new().await;
    let g = w.group("Sales", None).await;
    let x = w.member("x", &["standard"], &[]).await;
    let peer = w.member("peer", &["standard"], &[g]).await;
    let earlier = w.connection(&w.actor(x).await, "carl", None).await;
    assert!(earlier.groups.is_empty());
    assert!(!visible(&w, &w.actor(peer).await, None).await.contains(&earlier.id));

    w.services.add_members(&w.admin_actor().await, g, &[x]).await.expect("joins");
    assert_eq!(w.store.snapshot().await.connections[&earlier.id].groups, BTreeSet::from([g]), "restamped at once");
    assert!(visible(&w, &w.actor(peer).await, None).await.contains(&earlier.id), "G's members see X's earlier invites");
    let future = w.connection(&w.actor(x).await, "dora", None).await;
    assert_eq!(future.groups, BTreeSet::from([g]), "future invites are stamped with X's groups");
    let event = w.events_named("membership.joined").await.pop().expect("audited");
    assert_eq!(event.details["restamped_connections"], 1);
}

#[tokio::test]
async fn a_member_leaving_g_restamps_nothing_and_g_keeps_seeing_their_earlier_invites() {
    let w = World::new().await;
    let g = w.group("Sales", None).await;
    let h = w.group("Support", None).await;
    let x = w.member("x", &["standard"], &[g, h]).await;
    let peer = w.member("peer", &["standard"], &[g]).await;
    let earlier = w.connection(&w.actor(x).await, "carl", None).await;
    w.services.remove_member(&w.admin_actor().await, g, x).await.expect("leaves");
    assert_eq!(w.store.snapshot().await.connections[&earlier.id].groups, BTreeSet::from([g, h]), "nothing restamped");
    assert!(visible(&w, &w.actor(peer).await, None).await.contains(&earlier.id));
    let future = w.connection(&w.actor(x).await, "dora", None).await;
    assert_eq!(future.groups, BTreeSet::from([h]), "future invites are not stamped G");
    assert!(!visible(&w, &w.actor(peer).await, None).await.contains(&future.id));
}

#[tokio::test]
async fn a_member_already_in_a_group_joining_h_restamps_nothing_and_h_sees_only_future_invites() {
    let w = World::new().await;
    let g = w.group("Sales", None).await;
    let h = w.group("Support", None).await;
    let x = w.member("x", &["standard"], &[g]).await;
    let h_peer = w.member("h_peer", &["standard"], &[h]).await;
    let earlier = w.connection(&w.actor(x).await, "carl", None).await;
    w.services.add_members(&w.admin_actor().await, h, &[x]).await.expect("joins");
    assert_eq!(w.store.snapshot().await.connections[&earlier.id].groups, BTreeSet::from([g]), "nothing restamped");
    let future = w.connection(&w.actor(x).await, "dora", None).await;
    let seen = visible(&w, &w.actor(h_peer).await, None).await;
    assert!(!seen.contains(&earlier.id), "H's members do not see X's earlier invites");
    assert!(seen.contains(&future.id), "they see the future ones");
}

#[tokio::test]
async fn deleting_a_group_restamps_nothing_and_filtering_by_the_deleted_group_still_works() {
    let w = World::new().await;
    let g = w.group("Sales", None).await;
    let x = w.member("x", &["standard"], &[g]).await;
    let stamped = w.connection(&w.actor(x).await, "carl", None).await;
    let admin = w.admin_actor().await;
    w.services.delete_group(&admin, g, false).await.expect("deletes");
    assert_eq!(w.store.snapshot().await.connections[&stamped.id].groups, BTreeSet::from([g]));
    assert_eq!(visible(&w, &admin, Some(g)).await, ids(&[&stamped]));
    assert!(
        w.services.list_groups(&admin).await.expect("lists").iter().any(|gr| gr.id == g && gr.deleted_at.is_some())
    );
}

#[tokio::test]
async fn all_members_filter_by_any_group_and_groups_members_only_by_their_own() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let seller = w.member("seller", &["standard"], &[sales]).await;
    let helper = w.member("helper", &["standard"], &[support]).await;
    let in_sales = w.connection(&w.actor(seller).await, "carl", None).await;
    let in_support = w.connection(&w.actor(helper).await, "dora", None).await;
    let analyst = w.actor(w.member("analyst", &["analyst"], &[]).await).await;
    assert_eq!(visible(&w, &analyst, Some(support)).await, ids(&[&in_support]));
    assert_eq!(visible(&w, &analyst, Some(sales)).await, ids(&[&in_sales]));
    let seller = w.actor(seller).await;
    assert_eq!(visible(&w, &seller, Some(sales)).await, ids(&[&in_sales]));
    let err = failure(w.services.list_connections(&seller, Some(support), None, 50).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    w.services.delete_group(&w.admin_actor().await, support, false).await.expect("deletes");
    assert_eq!(visible(&w, &analyst, Some(support)).await, ids(&[&in_support]), "deleted groups included");
}

#[tokio::test]
async fn extra_group_access_lets_a_roaming_member_see_that_groups_connections() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let seller = w.member("seller", &["standard"], &[sales]).await;
    let roamer = w.member("roamer", &["standard"], &[support]).await;
    let c = w.connection(&w.actor(seller).await, "carl", None).await;
    assert!(!visible(&w, &w.actor(roamer).await, None).await.contains(&c.id));
    w.services
        .set_grants(&w.admin_actor().await, roamer, BTreeSet::new(), BTreeSet::from([sales]))
        .await
        .expect("grants");
    let roamer_actor = w.actor(roamer).await;
    assert!(visible(&w, &roamer_actor, None).await.contains(&c.id));
    let access = w.services.explain_access(&roamer_actor, c.id, roamer).await.expect("asks about themself");
    assert_eq!(access.group_id, Some(sales));
    // Access lets one see, not stamp: a new invite carries the member's own groups only.
    assert_eq!(w.connection(&roamer_actor, "dora", None).await.groups, BTreeSet::from([support]));
}

#[tokio::test]
async fn a_connection_the_viewer_may_not_see_is_not_found() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let seller = w.member("seller", &["standard"], &[sales]).await;
    let helper = w.member("helper", &["standard"], &[support]).await;
    let c = w.connection(&w.actor(seller).await, "carl", None).await;
    let err = failure(w.services.get_connection(&w.actor(helper).await, c.id).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn members_ask_about_their_own_access_and_asking_about_others_needs_manage_users() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let c = w.connection(&w.actor(ann).await, "carl", None).await;
    let bob_actor = w.actor(bob).await;
    let mine = w.services.explain_access(&bob_actor, c.id, bob).await.expect("about themself");
    assert_eq!(mine.rule, Some(AccessRule::Ungrouped));
    let err = failure(w.services.explain_access(&bob_actor, c.id, ann).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.connection_viewers(&bob_actor, c.id).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn the_viewers_list_names_each_member_who_sees_a_connection_with_the_rule() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let inviter = w.member("inviter", &["standard"], &[sales]).await;
    let colleague = w.member("colleague", &["standard"], &[sales]).await;
    let stranger = w.member("stranger", &["standard"], &[w.group("Support", None).await]).await;
    let c = w.connection(&w.actor(inviter).await, "carl", None).await;
    let viewers = w.services.connection_viewers(&w.admin_actor().await, c.id).await.expect("lists");
    let rule_of = |u| viewers.iter().find(|(v, _)| *v == u).map(|(_, a)| a.rule);
    assert_eq!(rule_of(w.admin), Some(Some(AccessRule::All)));
    assert_eq!(rule_of(inviter), Some(Some(AccessRule::Inviter)));
    assert_eq!(rule_of(colleague), Some(Some(AccessRule::Group)));
    assert_eq!(rule_of(stranger), None);
}

#[tokio::test]
async fn the_viewers_list_leaves_out_deactivated_and_invited_members() {
    let w = World::inviting().await;
    let inviter = w.member("inviter", &["standard"], &[]).await;
    let gone = w.member("gone", &["analyst"], &[]).await;
    w.services.deactivate_user(&w.system(), gone, None).await.expect("deactivates");
    let (_, invited) = w.invite("newbie", &["core"]).await;
    let c = w.connection(&w.actor(inviter).await, "carl", None).await;
    let viewers: BTreeSet<_> = w
        .services
        .connection_viewers(&w.admin_actor().await, c.id)
        .await
        .expect("lists")
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    assert_eq!(viewers, BTreeSet::from([w.admin, inviter]));
    assert!(!viewers.contains(&invited), "an invited member has not joined yet");
}

#[tokio::test]
async fn moving_with_transfer_makes_the_new_groups_members_see_the_moved_records() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let x = w.member("x", &["standard"], &[sales]).await;
    let helper = w.member("helper", &["standard"], &[support]).await;
    let c = w.connection(&w.actor(x).await, "carl", None).await;
    let request = MoveUser { from_group_id: sales, to_group_id: support, transfer_records: true };
    w.services.move_user(&w.admin_actor().await, x, request).await.expect("moves");
    assert!(visible(&w, &w.actor(helper).await, None).await.contains(&c.id));
}

#[tokio::test]
async fn listing_pages_newest_first_with_a_cursor_and_a_bounded_limit() {
    let w = World::new().await;
    let ann = w.actor(w.member("ann", &["standard"], &[]).await).await;
    let mut made = Vec::new();
    for name in ["c1", "c2", "c3"] {
        made.push(w.connection(&ann, name, None).await);
        w.clock.advance(time::Duration::minutes(1));
    }
    let first = w.services.list_connections(&ann, None, None, 2).await.expect("lists");
    assert_eq!(first.iter().map(|c| c.id).collect::<Vec<_>>(), [made[2].id, made[1].id]);
    let cursor = roster_domain::visibility::ConnectionCursor { created_at: first[1].created_at, id: first[1].id };
    let rest = w.services.list_connections(&ann, None, Some(cursor), 2).await.expect("lists");
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), [made[0].id]);
    for limit in [0, 201] {
        let err = failure(w.services.list_connections(&ann, None, None, limit).await);
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
    }
}

#[tokio::test]
async fn the_user_token_is_answered_by_the_creation_and_only_its_hash_is_stored() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let created =
        w.services.create_connection(&w.actor(ann).await, w.new_connection("carl", None)).await.expect("creates");
    assert!(created.user_token.len() >= 32, "a long random token");
    assert_eq!(created.connection.user_token_hash, roster_domain::invites::hash_token(&created.user_token));
    let state = w.store.snapshot().await;
    assert_eq!(state.connections[&created.connection.id], created.connection);
    assert!(!format!("{state:?}").contains(&created.user_token), "the token is kept nowhere, audit included");
}
