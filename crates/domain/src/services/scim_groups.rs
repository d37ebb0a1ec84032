//! The SCIM face's use cases over Groups (§13): a SCIM Group is a live team at depth 2, right
//! below the organization's root (`scim::groups`). Created, renamed, deleted and given members
//! through the rules of the groups use cases (`create_group_in`, `join_in`, `leave_in`,
//! `delete_group`): sibling names unique, members live users of the organization, each join and
//! leave audited (with the source `scim`) and the visibility timing rules of §7.2 applied. A
//! group at depth 3, or the root, is no SCIM Group: the provider neither sees nor changes it.
//! Every use case needs `scim` over the whole organization; what a write may do beyond that is
//! the provisioning authority (`manage_groups`).

use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::error::{ServiceError, ServiceResult};
use crate::groups::{Group, GroupTree};
use crate::ids::{GroupId, UserId};
use crate::ports::Tx;
use crate::roles::Permission;
use crate::scim::eval;
use crate::scim::filter::Filter;
use crate::scim::groups::{GroupInput, group_resource, read_group};
use crate::scim::patch::{PatchOperation, WriteError, apply};
use crate::scim::schema::GROUPS;
use crate::values::GroupName;

use super::Services;
use super::support::{load_org, load_tree, load_users};

/// A SCIM Group: the team and its current members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    /// The team, at depth 2.
    pub group: Group,
    /// Its current members.
    pub members: Vec<UserId>,
}

/// The groups a SCIM list answers, and how many match in all.
#[derive(Debug, Clone)]
pub struct ScimGroupPage {
    /// The groups from the offset, at most the limit, in creation order.
    pub items: Vec<ScimGroup>,
    /// Every group the filter matches.
    pub total: u64,
}

/// Whether `group` is a SCIM Group: live, at depth 2.
fn is_scim_group(group: &Group) -> bool {
    group.is_live() && group.depth == 2
}

fn scim_group_of(tree: &GroupTree, id: GroupId) -> ServiceResult<Group> {
    tree.get(id).filter(|g| is_scim_group(g)).cloned().ok_or(ServiceError::not_found("group"))
}

impl Services {
    /// The SCIM Groups a filter selects (over the resources, as `scim::eval` means it: an
    /// organization has few teams, and the group tree is read whole by every group use case),
    /// a window of them by position, and their total.
    ///
    /// # Errors
    /// `forbidden` without `scim` over the whole organization; `validation_failed` (code
    /// `invalid_value`) for a filter the Group schema refuses.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_list_groups(
        &self,
        actor: &Actor,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> ServiceResult<ScimGroupPage> {
        actor.require_org_wide(Permission::Scim)?;
        if let Some(f) = filter {
            eval::check(f, &GROUPS).map_err(|e| WriteError::value(e.detail))?;
        }
        let mut tx = self.begin_read().await?;
        let org = actor.org_id();
        let tree = self.read_tree(&mut *tx, org).await?;
        let mut teams: Vec<Group> = tree.iter().filter(|g| is_scim_group(g)).cloned().collect();
        teams.sort_by_key(|g| (g.created_at, g.id));
        let mut matching = Vec::new();
        for group in teams {
            let members = tx.current_members(org, group.id).await?;
            let keep = match filter {
                None => true,
                Some(f) => eval::matches(f, &GROUPS, &group_resource(&group, &members))
                    .map_err(|e| WriteError::value(e.detail))?,
            };
            if keep {
                matching.push(ScimGroup { group, members });
            }
        }
        let total = matching.len() as u64;
        let items =
            matching.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX)).take(limit as usize).collect();
        Ok(ScimGroupPage { items, total })
    }

    /// One SCIM Group.
    ///
    /// # Errors
    /// `forbidden` without `scim`; `not_found` (also a group at another depth, or deleted).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_group(&self, actor: &Actor, id: GroupId) -> ServiceResult<ScimGroup> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin_read().await?;
        let tree = self.read_tree(&mut *tx, actor.org_id()).await?;
        let group = scim_group_of(&tree, id)?;
        let members = tx.current_members(actor.org_id(), id).await?;
        Ok(ScimGroup { group, members })
    }

    /// Creates a team below the root from a SCIM Group (`POST /Groups`), with its members.
    ///
    /// # Errors
    /// `forbidden`, `conflict` on `name` (a live sibling of that name), `validation_failed`
    /// (no `displayName`, a member who is no live user of the organization).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_create_group(&self, actor: &Actor, input: GroupInput) -> ServiceResult<ScimGroup> {
        actor.require_org_wide(Permission::Scim)?;
        let name = input.name.ok_or_else(|| WriteError::value("`displayName` is required"))?;
        let mut tx = self.begin().await?;
        let org = load_org(&mut *tx, actor.org_id()).await?;
        let group = self.create_group_in(&mut *tx, actor, org.root_group_id, name).await?;
        let members = input.members.unwrap_or_default();
        let tree = load_tree(&mut *tx, org.id).await?;
        self.set_members(&mut *tx, actor, &tree, group.id, &members).await?;
        let members = tx.current_members(org.id, group.id).await?;
        tx.commit().await?;
        Ok(ScimGroup { group, members })
    }

    /// Replaces a group's name and members (`PUT /Groups/{id}`), with `If-Match` on the
    /// group's version; `members` left out keeps them.
    ///
    /// # Errors
    /// As [`Services::scim_patch_group`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_replace_group(
        &self,
        actor: &Actor,
        id: GroupId,
        input: GroupInput,
        expected_version: Option<u64>,
    ) -> ServiceResult<ScimGroup> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin().await?;
        let out = self.scim_group_apply(&mut *tx, actor, id, input, expected_version, None).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Applies PATCH operations to a group (`PATCH /Groups/{id}`): over the group's resource,
    /// then read as a whole — so Entra ID's removal by a value list removes only those
    /// members. All of it or nothing.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `precondition_failed`, `conflict` on `name`,
    /// `validation_failed` whose code names the `scimType`, or `unknown_user` for a member who
    /// is no live user of the organization.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_patch_group(
        &self,
        actor: &Actor,
        id: GroupId,
        operations: &[PatchOperation],
        expected_version: Option<u64>,
    ) -> ServiceResult<ScimGroup> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin().await?;
        let out = self
            .scim_group_apply(&mut *tx, actor, id, GroupInput::default(), expected_version, Some(operations))
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Deletes a team (`DELETE /Groups/{id}`) as `delete_group` does (memberships end, records
    /// keep their stamp); a team with live subgroups, which an admin made, is refused
    /// (`group_has_subgroups`): they are not the provider's to delete.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `group_has_subgroups`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_delete_group(&self, actor: &Actor, id: GroupId) -> ServiceResult<()> {
        self.scim_group(actor, id).await?;
        self.delete_group(actor, id, false).await
    }

    /// A PUT (`input`) or a PATCH (`operations`) of a group, in the caller's transaction.
    async fn scim_group_apply(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        id: GroupId,
        input: GroupInput,
        expected_version: Option<u64>,
        operations: Option<&[PatchOperation]>,
    ) -> ServiceResult<ScimGroup> {
        let org = actor.org_id();
        let tree = load_tree(tx, org).await?;
        let mut group = scim_group_of(&tree, id)?;
        if let Some(v) = expected_version
            && v != group.version
        {
            return Err(ServiceError::PreconditionFailed { kind: "group", current: group.version });
        }
        let input = match operations {
            None => input,
            Some(ops) => {
                let members = tx.current_members(org, id).await?;
                let mut resource = group_resource(&group, &members);
                apply(&GROUPS, &mut resource, ops)?;
                read_group(&resource, true)?
            }
        };
        if let Some(name) = input.name.filter(|n| *n != group.name) {
            group = self.rename_team(tx, actor, &tree, group, name).await?;
        }
        if let Some(members) = &input.members {
            self.set_members(tx, actor, &tree, id, members).await?;
        }
        let members = tx.current_members(org, id).await?;
        Ok(ScimGroup { group, members })
    }

    /// Renames a team, sibling names unique (`GroupTree::check_rename`), audited
    /// `group.updated`.
    async fn rename_team(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        tree: &GroupTree,
        mut group: Group,
        name: GroupName,
    ) -> ServiceResult<Group> {
        actor.require_over_group(Permission::ManageGroups, group.id)?;
        tree.check_rename(group.id, &name)?;
        let path = tree.path(group.id);
        let changes = Changes::new().field("name", &group.name, &name);
        group.name = name;
        group.version += 1;
        tx.update_group(&group).await?;
        self.audit(tx, actor, "group.updated", AuditTarget::new(TargetKind::Group, group.id, path), changes).await?;
        Ok(group)
    }

    /// Makes `wanted` the team's current members: the missing join (`join_in`), the others
    /// leave (`leave_in`). Every wanted member must be a live user of the organization.
    async fn set_members(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        tree: &GroupTree,
        group_id: GroupId,
        wanted: &[UserId],
    ) -> ServiceResult<()> {
        actor.require_over_group(Permission::ManageGroups, group_id)?;
        let org = actor.org_id();
        load_users(tx, org, wanted, "members").await?;
        let current: BTreeSet<UserId> = tx.current_members(org, group_id).await?.into_iter().collect();
        let wanted_set: BTreeSet<UserId> = wanted.iter().copied().collect();
        for gone in current.difference(&wanted_set) {
            self.leave_in(tx, actor, tree, *gone, group_id).await?;
        }
        for user in wanted.iter().filter(|u| !current.contains(u)) {
            self.join_in(tx, actor, tree, *user, group_id).await?;
        }
        Ok(())
    }
}
