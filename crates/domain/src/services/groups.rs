//! The group tree and memberships (§6), with the restamping of records the timing rules of
//! §7.2 require, and flows per group (§7.3).

use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::connections::Flow;
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::groups::{Group, GroupTree, Membership};
use crate::ids::{FlowId, GroupId, OrgId, UserId};
use crate::ports::Tx;
use crate::roles::Permission;
use crate::values::{GroupName, Label};

use super::Services;
use super::support::{groups_of, load_tree, load_user, load_users};
use super::users::{UserDetails, details_of};

/// `PATCH /groups/{id}`: rename and/or move below another parent.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    /// The new name; `None` keeps it.
    pub name: Option<GroupName>,
    /// The new parent, moving the group with its subtree; `None` leaves it where it is.
    pub parent_id: Option<GroupId>,
}

/// One group as `GET /groups/{id}` shows it: the group, its readable path, its current
/// members and the flows assigned to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDetails {
    /// The group as stored.
    pub group: Group,
    /// "Acme / Sales / East".
    pub path: String,
    /// Users with a current membership, in id order (none once the group is deleted).
    pub members: Vec<UserId>,
    /// The flows assigned to the group (§7.3); empty when it accepts any flow.
    pub flows: BTreeSet<FlowId>,
}

/// `POST /users/{id}/move`.
#[derive(Debug, Clone, Copy)]
pub struct MoveUser {
    /// The group the user leaves; they must be a current member.
    pub from_group_id: GroupId,
    /// The group the user joins.
    pub to_group_id: GroupId,
    /// Restamp the user's records stamped with `from` to `to`.
    pub transfer_records: bool,
}

impl Services {
    /// Every group of the organization, deleted ones included (they stay filter choices).
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_groups(&self, actor: &Actor) -> ServiceResult<Vec<Group>> {
        let mut tx = self.begin_read().await?;
        Ok(tx.groups(actor.org_id()).await?)
    }

    /// One group of the organization (deleted ones too) with its members and flows. Any member
    /// may read it, as any member reads the tree (it is the connection dropdown and the Users
    /// filter).
    ///
    /// # Errors
    /// `not_found` (also for another organization's group).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn get_group(&self, actor: &Actor, id: GroupId) -> ServiceResult<GroupDetails> {
        let mut tx = self.begin_read().await?;
        let org = actor.org_id();
        let tree = self.read_tree(&mut *tx, org).await?;
        let group = tree.get(id).cloned().ok_or(ServiceError::not_found("group"))?;
        details_in(&mut *tx, &tree, group).await
    }

    /// Every group with its members and flows, in tree order (a parent before its children,
    /// siblings by name), for `GET /groups/export.csv`.
    ///
    /// # Errors
    /// `forbidden` without `export_data`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn export_groups(&self, actor: &Actor) -> ServiceResult<Vec<GroupDetails>> {
        actor.require(Permission::ExportData)?;
        let mut tx = self.begin_read().await?;
        let tree = self.read_tree(&mut *tx, actor.org_id()).await?;
        let mut out = Vec::new();
        for group in tree.in_tree_order() {
            out.push(details_in(&mut *tx, &tree, group.clone()).await?);
        }
        Ok(out)
    }

    /// Creates a group at depth 2 or 3 (§6).
    ///
    /// # Errors
    /// `forbidden`, `not_found` (parent), `group_depth_exceeded`, `conflict` on `name`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_group(&self, actor: &Actor, parent_id: GroupId, name: GroupName) -> ServiceResult<Group> {
        let mut tx = self.begin().await?;
        let group = self.create_group_in(&mut *tx, actor, parent_id, name).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// [`Services::create_group`] inside the caller's transaction.
    pub(crate) async fn create_group_in(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        parent_id: GroupId,
        name: GroupName,
    ) -> ServiceResult<Group> {
        actor.require_over_group(Permission::ManageGroups, parent_id)?;
        let tree = load_tree(tx, actor.org_id()).await?;
        let depth = tree.check_create(parent_id, &name)?;
        let now = self.now();
        let group = Group {
            id: self.new_id(),
            org_id: actor.org_id(),
            parent_id: Some(parent_id),
            name,
            depth,
            deleted_at: None,
            created_at: now,
            version: 1,
        };
        tx.insert_group(&group).await?;
        let label = format!("{} / {}", tree.path(parent_id), group.name);
        self.audit(
            tx,
            actor,
            "group.created",
            AuditTarget::new(TargetKind::Group, group.id, label),
            Changes::new().note("parent_id", &parent_id).note("depth", &depth),
        )
        .await?;
        Ok(group)
    }

    /// Renames and/or moves a group, with `If-Match`.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `precondition_failed`, `group_depth_exceeded`, `conflict`,
    /// `validation_failed` (moving the root or below itself).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn update_group(
        &self,
        actor: &Actor,
        id: GroupId,
        patch: GroupPatch,
        expected_version: Option<u64>,
    ) -> ServiceResult<Group> {
        actor.require_over_group(Permission::ManageGroups, id)?;
        let mut tx = self.begin().await?;
        let tree = load_tree(&mut *tx, actor.org_id()).await?;
        let mut group = tree.live(id)?.clone();
        if let Some(v) = expected_version
            && v != group.version
        {
            return Err(ServiceError::PreconditionFailed { kind: "group", current: group.version });
        }
        let before = group.clone();
        let before_path = tree.path(id);
        if let Some(name) = patch.name {
            tree.check_rename(id, &name)?;
            group.name = name;
        }
        if let Some(parent) = patch.parent_id.filter(|p| Some(*p) != group.parent_id) {
            actor.require_over_group(Permission::ManageGroups, parent)?;
            // Check the move with the new name in place, so sibling uniqueness sees it.
            let renamed = GroupTree::new(tree.iter().map(|g| if g.id == id { group.clone() } else { g.clone() }));
            let depths = renamed.check_move(id, parent)?;
            group.parent_id = Some(parent);
            for (gid, depth) in depths {
                if gid == id {
                    group.depth = depth;
                } else if let Some(g) = tree.get(gid)
                    && g.depth != depth
                {
                    let mut g = g.clone();
                    g.depth = depth;
                    g.version += 1;
                    tx.update_group(&g).await?;
                }
            }
        }
        let changes = Changes::new()
            .field("name", &before.name, &group.name)
            .field("parent_id", &before.parent_id, &group.parent_id)
            .field("depth", &before.depth, &group.depth);
        if changes.is_empty() {
            return Ok(group);
        }
        group.version += 1;
        tx.update_group(&group).await?;
        self.audit(&mut *tx, actor, "group.updated", AuditTarget::new(TargetKind::Group, id, before_path), changes)
            .await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Soft-deletes a group (and with `cascade` its live subgroups): memberships end, API keys
    /// bound to it are revoked, records keep their stamp (§6, §7.2 rule 4).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `group_has_subgroups`, `validation_failed` (the root).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn delete_group(&self, actor: &Actor, id: GroupId, cascade: bool) -> ServiceResult<()> {
        actor.require_over_group(Permission::ManageGroups, id)?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let tree = load_tree(&mut *tx, org).await?;
        let doomed = tree.check_delete(id, cascade)?;
        let now = self.now();
        let keys = tx.api_keys(org).await?;
        for gid in doomed {
            let mut g = tree.get(gid).cloned().ok_or(ServiceError::not_found("group"))?;
            let path = tree.path(gid);
            for user in tx.current_members(org, gid).await? {
                tx.end_membership(org, gid, user, now).await?;
            }
            for key in keys.iter().filter(|k| k.group_id == Some(gid) && k.is_active()) {
                self.revoke_key_in(&mut *tx, actor, key.clone(), Some("group deleted")).await?;
            }
            g.deleted_at = Some(now);
            g.version += 1;
            tx.update_group(&g).await?;
            self.audit(
                &mut *tx,
                actor,
                "group.deleted",
                AuditTarget::new(TargetKind::Group, gid, path),
                Changes::new().note("cascade", &cascade),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds members to a group. A member who had no group before has their "Organization"-
    /// stamped connections restamped with this group (§7.2 timing rule 1); adding someone who
    /// is already a member changes nothing.
    ///
    /// Answers the group as it is after the change.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `validation_failed` (the root group, unknown users).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn add_members(
        &self,
        actor: &Actor,
        group_id: GroupId,
        user_ids: &[UserId],
    ) -> ServiceResult<GroupDetails> {
        actor.require_over_group(Permission::ManageGroups, group_id)?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let tree = load_tree(&mut *tx, org).await?;
        tree.check_joinable(group_id)?;
        let users = load_users(&mut *tx, org, user_ids, "user_ids").await?;
        for user in users {
            self.join_in(&mut *tx, actor, &tree, user.id, group_id).await?;
        }
        let group = tree.live(group_id)?.clone();
        let details = details_in(&mut *tx, &tree, group).await?;
        tx.commit().await?;
        Ok(details)
    }

    pub(crate) async fn join_in(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        tree: &GroupTree,
        user: UserId,
        group_id: GroupId,
    ) -> ServiceResult<bool> {
        let org = actor.org_id();
        let before = groups_of(tx, org, user, tree).await?;
        if before.contains(&group_id) {
            return Ok(false);
        }
        let now = self.now();
        tx.insert_membership(&Membership { org_id: org, group_id, user_id: user, joined_at: now, left_at: None })
            .await?;
        let restamped = if before.is_empty() { tx.restamp_unstamped(org, user, group_id).await? } else { 0 };
        let label = format!("{} in {}", user_label(tx, org, user).await?, tree.path(group_id));
        self.audit(
            tx,
            actor,
            "membership.joined",
            AuditTarget::new(TargetKind::Membership, user, label),
            Changes::new().note("group_id", &group_id).note("restamped_connections", &restamped),
        )
        .await?;
        Ok(true)
    }

    /// Ends a user's membership in a group. Nothing is restamped (§7.2 timing rule 2).
    ///
    /// # Errors
    /// `forbidden`, `not_found` (group, user, or no current membership).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn remove_member(&self, actor: &Actor, group_id: GroupId, user_id: UserId) -> ServiceResult<()> {
        actor.require_over_group(Permission::ManageGroups, group_id)?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let tree = load_tree(&mut *tx, org).await?;
        tree.live(group_id)?;
        load_user(&mut *tx, org, user_id).await?;
        if !self.leave_in(&mut *tx, actor, &tree, user_id, group_id).await? {
            return Err(ServiceError::not_found("membership"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends a current membership, with its audit event; answers whether there was one.
    pub(crate) async fn leave_in(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        tree: &GroupTree,
        user_id: UserId,
        group_id: GroupId,
    ) -> ServiceResult<bool> {
        if !tx.end_membership(actor.org_id(), group_id, user_id, self.now()).await? {
            return Ok(false);
        }
        let label = format!("{} in {}", user_label(tx, actor.org_id(), user_id).await?, tree.path(group_id));
        self.audit(
            tx,
            actor,
            "membership.left",
            AuditTarget::new(TargetKind::Membership, user_id, label),
            Changes::new().note("group_id", &group_id),
        )
        .await?;
        Ok(true)
    }

    /// Moves a user from one group to another; with `transfer_records` the user's records
    /// stamped with the old group are restamped with the new one (§6).
    ///
    /// Answers the user as they are after the move.
    ///
    /// # Errors
    /// `forbidden`, `not_found` (no current membership in `from`), `validation_failed`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn move_user(&self, actor: &Actor, user_id: UserId, request: MoveUser) -> ServiceResult<UserDetails> {
        actor.require_over_group(Permission::ManageGroups, request.from_group_id)?;
        actor.require_over_group(Permission::ManageGroups, request.to_group_id)?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let tree = load_tree(&mut *tx, org).await?;
        tree.check_joinable(request.to_group_id)?;
        load_user(&mut *tx, org, user_id).await?;
        if request.from_group_id == request.to_group_id {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "to_group_id",
                "same_group",
                "the user is already in this group",
            )]));
        }
        let now = self.now();
        if !tx.end_membership(org, request.from_group_id, user_id, now).await? {
            return Err(ServiceError::not_found("membership"));
        }
        let current = groups_of(&mut *tx, org, user_id, &tree).await?;
        if !current.contains(&request.to_group_id) {
            tx.insert_membership(&Membership {
                org_id: org,
                group_id: request.to_group_id,
                user_id,
                joined_at: now,
                left_at: None,
            })
            .await?;
        }
        let who = user_label(&mut *tx, org, user_id).await?;
        let transferred = if request.transfer_records {
            tx.transfer_stamp(org, user_id, request.from_group_id, request.to_group_id).await?
        } else {
            0
        };
        self.audit(
            &mut *tx,
            actor,
            "membership.moved",
            AuditTarget::new(
                TargetKind::Membership,
                user_id,
                format!("{who}: {} → {}", tree.path(request.from_group_id), tree.path(request.to_group_id)),
            ),
            Changes::new()
                .field("group_id", &request.from_group_id, &request.to_group_id)
                .note("transferred_connections", &transferred),
        )
        .await?;
        let user = load_user(&mut *tx, org, user_id).await?;
        let details = details_of(&mut *tx, user, now).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Creates a flow (§7.3).
    ///
    /// # Errors
    /// `forbidden` without `manage_groups`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_flow(&self, actor: &Actor, name: Label) -> ServiceResult<Flow> {
        actor.require(Permission::ManageGroups)?;
        let mut tx = self.begin().await?;
        let flow = Flow { id: self.new_id(), org_id: actor.org_id(), name, created_at: self.now() };
        tx.insert_flow(&flow).await?;
        self.audit(
            &mut *tx,
            actor,
            "flow.created",
            AuditTarget::new(TargetKind::Flow, flow.id, flow.name.as_str()),
            Changes::new(),
        )
        .await?;
        tx.commit().await?;
        Ok(flow)
    }

    /// The organization's flows.
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_flows(&self, actor: &Actor) -> ServiceResult<Vec<Flow>> {
        let mut tx = self.begin_read().await?;
        Ok(tx.flows(actor.org_id()).await?)
    }

    /// Replaces the set of flows assigned to a group (§7.3).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `validation_failed` (unknown flow).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_group_flows(
        &self,
        actor: &Actor,
        group_id: GroupId,
        flows: BTreeSet<FlowId>,
    ) -> ServiceResult<()> {
        actor.require_over_group(Permission::ManageGroups, group_id)?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let tree = load_tree(&mut *tx, org).await?;
        tree.live(group_id)?;
        let known: BTreeSet<FlowId> = tx.flows(org).await?.into_iter().map(|f| f.id).collect();
        if let Some(f) = flows.iter().find(|f| !known.contains(f)) {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "flow_ids",
                "unknown_flow",
                format!("no flow {f}"),
            )]));
        }
        let before = tx.group_flows(org).await?.remove(&group_id).unwrap_or_default();
        if before == flows {
            return Ok(());
        }
        tx.set_group_flows(org, group_id, &flows).await?;
        self.audit(
            &mut *tx,
            actor,
            "group.flows_changed",
            AuditTarget::new(TargetKind::Group, group_id, tree.path(group_id)),
            Changes::new().field("flows", &before, &flows),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A member as the audit log names them ("Ada Lovelace <ada@example.com>"), so that membership
/// events stay readable after the user is renamed or deleted (§9 `target_label`).
async fn user_label(tx: &mut dyn Tx, org: OrgId, user: UserId) -> ServiceResult<String> {
    Ok(tx.user(org, user).await?.map_or_else(|| user.to_string(), |u| u.label()))
}

/// A group with its path, current members and flows.
async fn details_in(tx: &mut dyn Tx, tree: &GroupTree, group: Group) -> ServiceResult<GroupDetails> {
    let org = group.org_id;
    let members = if group.is_live() { tx.current_members(org, group.id).await? } else { Vec::new() };
    let flows = tx.group_flows(org).await?.remove(&group.id).unwrap_or_default();
    Ok(GroupDetails { path: tree.path(group.id), group, members, flows })
}
