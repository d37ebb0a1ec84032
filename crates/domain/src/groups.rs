//! The three-level group tree and memberships with history (§6).
//!
//! [`GroupTree`] is a snapshot of an organization's groups (live and deleted) on which the tree
//! rules are checked: depth ≤ 3, names unique among live siblings, the root never deleted, a
//! group never moved below itself.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{ServiceError, ServiceResult};
use crate::ids::{GroupId, OrgId, UserId};
use crate::values::GroupName;

/// The deepest level a group may sit at; the root is level 1.
pub const MAX_GROUP_DEPTH: u8 = 3;

/// A group of an organization's three-level tree (§6): the root stands for the whole
/// organization, groups at depth 2 and 3 are its teams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Unique; never changes.
    pub id: GroupId,
    /// The organization the group belongs to.
    pub org_id: OrgId,
    /// `None` only for the root group.
    pub parent_id: Option<GroupId>,
    /// Unique among live siblings, compared case-insensitively ([`GroupName::key`]).
    pub name: GroupName,
    /// 1 for the root, 2 or 3 below it.
    pub depth: u8,
    /// When the group was soft-deleted; `None` while live. Deleted groups keep their stamps on
    /// records and stay in filter choices (§6).
    pub deleted_at: Option<OffsetDateTime>,
    /// When the group was created (the root: with its organization).
    pub created_at: OffsetDateTime,
    /// Optimistic concurrency: bumped by every rename, move, delete and restore.
    pub version: u64,
}

impl Group {
    /// Whether the group is not deleted.
    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }

    /// Whether this is the organization's root group (no parent).
    pub fn is_root(&self) -> bool {
        self.parent_id.is_none()
    }
}

/// One period of a user's membership in a group. The current groups of a user are the
/// memberships with no `left_at` in live groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization of the group and the user.
    pub org_id: OrgId,
    /// The group joined.
    pub group_id: GroupId,
    /// The member who joined.
    pub user_id: UserId,
    /// When the member joined the group.
    pub joined_at: OffsetDateTime,
    /// When the member left (or the group was deleted); `None` while the membership is open.
    pub left_at: Option<OffsetDateTime>,
}

impl Membership {
    /// Whether the membership is open (no `left_at`); the group may still be deleted, so the
    /// current groups also need [`Group::is_live`].
    pub fn is_current(&self) -> bool {
        self.left_at.is_none()
    }
}

/// All groups of one organization, indexed for the tree rules.
#[derive(Debug, Clone, Default)]
pub struct GroupTree {
    groups: BTreeMap<GroupId, Group>,
}

impl GroupTree {
    /// A tree of these groups, which must be of one organization.
    pub fn new(groups: impl IntoIterator<Item = Group>) -> Self {
        Self { groups: groups.into_iter().map(|g| (g.id, g)).collect() }
    }

    /// The group with this id, live or deleted; `None` for an unknown one.
    pub fn get(&self, id: GroupId) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// A live group, or `not_found`.
    ///
    /// # Errors
    /// `not_found` when the group does not exist or is deleted.
    pub fn live(&self, id: GroupId) -> ServiceResult<&Group> {
        self.groups.get(&id).filter(|g| g.is_live()).ok_or(ServiceError::not_found("group"))
    }

    /// Every group, live and deleted, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// The root group; `None` only for an empty tree.
    pub fn root(&self) -> Option<&Group> {
        self.groups.values().find(|g| g.is_root())
    }

    /// The groups whose parent is `id`, live and deleted, in id order.
    pub fn children(&self, id: GroupId) -> impl Iterator<Item = &Group> {
        self.groups.values().filter(move |g| g.parent_id == Some(id))
    }

    /// `id` and every group below it, deleted ones included.
    pub fn subtree(&self, id: GroupId) -> BTreeSet<GroupId> {
        let mut out = BTreeSet::new();
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            if out.insert(next) {
                stack.extend(self.children(next).map(|g| g.id));
            }
        }
        out
    }

    /// Whether `id` lies in the subtree rooted at `ancestor` (a group is in its own subtree).
    pub fn is_within(&self, id: GroupId, ancestor: GroupId) -> bool {
        let mut current = Some(id);
        while let Some(c) = current {
            if c == ancestor {
                return true;
            }
            current = self.groups.get(&c).and_then(|g| g.parent_id);
        }
        false
    }

    /// Height of the subtree below `id` (0 for a leaf), counting live groups only.
    fn height(&self, id: GroupId) -> u8 {
        self.children(id).filter(|g| g.is_live()).map(|g| 1 + self.height(g.id)).max().unwrap_or(0)
    }

    fn check_sibling_name(&self, parent: GroupId, name: &GroupName, except: Option<GroupId>) -> ServiceResult<()> {
        let taken = self.children(parent).any(|g| g.is_live() && Some(g.id) != except && g.name.key() == name.key());
        if taken {
            return Err(ServiceError::Conflict {
                field: "name",
                message: format!("a group named {name} already exists here"),
            });
        }
        Ok(())
    }

    /// Checks that a group named `name` may be created below `parent`, and gives its depth.
    ///
    /// # Errors
    /// `not_found` (parent missing or deleted), `group_depth_exceeded`, `conflict` on `name`.
    pub fn check_create(&self, parent: GroupId, name: &GroupName) -> ServiceResult<u8> {
        let parent = self.live(parent)?;
        let depth = parent.depth + 1;
        if depth > MAX_GROUP_DEPTH {
            return Err(ServiceError::GroupDepthExceeded { max: MAX_GROUP_DEPTH });
        }
        self.check_sibling_name(parent.id, name, None)?;
        Ok(depth)
    }

    /// Checks a rename.
    ///
    /// # Errors
    /// `not_found`, `conflict` on `name` (the root is renamed freely: it has no siblings).
    pub fn check_rename(&self, id: GroupId, name: &GroupName) -> ServiceResult<()> {
        let group = self.live(id)?;
        match group.parent_id {
            Some(parent) => self.check_sibling_name(parent, name, Some(id)),
            None => Ok(()),
        }
    }

    /// Checks moving group `id` below `new_parent`; returns the new depth of every live group
    /// of the moved subtree. A deleted subgroup keeps the depth it was deleted at: it takes no
    /// part in the tree's rules (it does not count toward the move's depth either), and shifted
    /// with its ancestors it could fall below the deepest level.
    ///
    /// # Errors
    /// `not_found`, `validation_failed` (moving the root or below itself),
    /// `group_depth_exceeded`, `conflict` on `name`.
    pub fn check_move(&self, id: GroupId, new_parent: GroupId) -> ServiceResult<BTreeMap<GroupId, u8>> {
        let group = self.live(id)?;
        let parent = self.live(new_parent)?;
        if group.is_root() {
            return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                "parent_id",
                "root_group",
                "the root group cannot be moved",
            )]));
        }
        if self.is_within(new_parent, id) {
            return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                "parent_id",
                "cycle",
                "a group cannot be moved below itself",
            )]));
        }
        if parent.depth + 1 + self.height(id) > MAX_GROUP_DEPTH {
            return Err(ServiceError::GroupDepthExceeded { max: MAX_GROUP_DEPTH });
        }
        self.check_sibling_name(new_parent, &group.name, Some(id))?;
        let shift = i16::from(parent.depth + 1) - i16::from(group.depth);
        Ok(self
            .subtree(id)
            .into_iter()
            .filter_map(|g| self.get(g))
            .filter(|g| g.is_live())
            .map(|g| (g.id, u8::try_from(i16::from(g.depth) + shift).unwrap_or(MAX_GROUP_DEPTH)))
            .collect())
    }

    /// Checks deleting `id`; returns the live groups to delete (the group and, with `cascade`,
    /// its live descendants).
    ///
    /// # Errors
    /// `not_found`, `validation_failed` (the root), `group_has_subgroups` without `cascade`.
    pub fn check_delete(&self, id: GroupId, cascade: bool) -> ServiceResult<Vec<GroupId>> {
        let group = self.live(id)?;
        if group.is_root() {
            return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                "id",
                "root_group",
                "the root group cannot be deleted",
            )]));
        }
        let live: Vec<GroupId> =
            self.subtree(id).into_iter().filter(|g| self.get(*g).is_some_and(Group::is_live)).collect();
        if live.len() > 1 && !cascade {
            return Err(ServiceError::GroupHasSubgroups);
        }
        Ok(live)
    }

    /// Checks that a user may be made a member of `id`: a live group below the root.
    ///
    /// # Errors
    /// `not_found`, `validation_failed` for the root (it stands for the whole organization).
    pub fn check_joinable(&self, id: GroupId) -> ServiceResult<&Group> {
        let group = self.live(id)?;
        if group.is_root() {
            return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                "group_id",
                "root_group",
                "the root group has no members: it stands for the whole organization",
            )]));
        }
        Ok(group)
    }

    /// Checks the groups a new member is to join as they were listed in a request's `field`
    /// (`group_ids` of `POST /users`, `invites[2].group_ids` of an invite row): each a live group
    /// below the root ([`GroupTree::check_joinable`]). Every bad id is named at once, by its
    /// place in the list (`group_ids[1]`), so the whole request can be refused before anything
    /// is written. A group listed twice is joined once.
    ///
    /// # Errors
    /// `validation_failed`: code `unknown_group` for an id of no live group of the organization
    /// (unknown, deleted, or another organization's), `root_group` for the root.
    pub fn check_joining(&self, ids: &[GroupId], field: &str) -> ServiceResult<BTreeSet<GroupId>> {
        let mut errors = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let at = format!("{field}[{i}]");
            match self.groups.get(id).filter(|g| g.is_live()) {
                None => errors.push(crate::error::FieldError::new(&at, "unknown_group", format!("no live group {id}"))),
                Some(g) if g.is_root() => errors.push(crate::error::FieldError::new(
                    &at,
                    "root_group",
                    "the root group has no members: it stands for the whole organization",
                )),
                Some(_) => {}
            }
        }
        if errors.is_empty() { Ok(ids.iter().copied().collect()) } else { Err(ServiceError::Validation(errors)) }
    }

    /// Every group, a parent before its children and siblings by name (then id): the order in
    /// which the tree is listed and exported. Deleted groups are included, under their parent.
    pub fn in_tree_order(&self) -> Vec<&Group> {
        let by_name_desc = |a: &&Group, b: &&Group| (b.name.key(), b.id).cmp(&(a.name.key(), a.id));
        let mut out = Vec::with_capacity(self.groups.len());
        let mut stack: Vec<&Group> = self.groups.values().filter(|g| g.parent_id.is_none()).collect();
        stack.sort_by(by_name_desc);
        while let Some(g) = stack.pop() {
            out.push(g);
            let mut children: Vec<&Group> = self.children(g.id).collect();
            children.sort_by(by_name_desc);
            stack.extend(children);
        }
        out
    }

    /// A readable path such as "Acme / Sales / East", for audit labels.
    pub fn path(&self, id: GroupId) -> String {
        let mut names = Vec::new();
        let mut current = self.get(id);
        while let Some(g) = current {
            names.push(g.name.as_str().to_owned());
            current = g.parent_id.and_then(|p| self.get(p));
        }
        names.reverse();
        names.join(" / ")
    }
}

/// The current groups of a user from their membership history, keeping live groups only.
pub fn current_groups(memberships: &[Membership], tree: &GroupTree) -> BTreeSet<GroupId> {
    live_groups(memberships.iter().filter(|m| m.is_current()).map(|m| m.group_id), tree)
}

/// The groups among `groups` that are live in the tree.
pub fn live_groups(groups: impl IntoIterator<Item = GroupId>, tree: &GroupTree) -> BTreeSet<GroupId> {
    groups.into_iter().filter(|g| tree.get(*g).is_some_and(Group::is_live)).collect()
}
