//! Who is acting: authorization resolved once per request (STYLE habit 9).
//!
//! An [`Actor`] says which organization, which permissions over which part of the group tree,
//! which visibility, through which source and whether someone is impersonating. Services take
//! `&Actor` and ask it; nothing else decides permissions.

use std::collections::{BTreeMap, BTreeSet};

use crate::audit::Source;
use crate::error::{ServiceError, ServiceResult};
use crate::groups::GroupTree;
use crate::ids::{ApiKeyId, GroupId, OrgId, UserId};
use crate::roles::{Permission, Role, Visibility};
use crate::user::User;

/// Where a permission applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// The whole organization.
    Org,
    /// These groups (the union of the subtrees of scoped role grants).
    Groups(BTreeSet<GroupId>),
}

impl Coverage {
    fn merge(&mut self, other: Coverage) {
        match (&mut *self, other) {
            (Coverage::Org, _) => {}
            (_, Coverage::Org) => *self = Coverage::Org,
            (Coverage::Groups(a), Coverage::Groups(b)) => a.extend(b),
        }
    }

    /// Whether a user whose current groups are `groups` lies within this coverage. A scoped
    /// admin manages only users whose current groups *all* lie in the subtree; ungrouped users
    /// belong to the organization level, so only org-wide holders manage them.
    pub fn covers_user(&self, groups: &BTreeSet<GroupId>) -> bool {
        match self {
            Coverage::Org => true,
            Coverage::Groups(set) => !groups.is_empty() && groups.is_subset(set),
        }
    }

    pub fn covers_group(&self, group: GroupId) -> bool {
        match self {
            Coverage::Org => true,
            Coverage::Groups(set) => set.contains(&group),
        }
    }
}

/// The kind of principal behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A member, logged in (or impersonated).
    User(UserId),
    /// An API key; `created_by` is the member who created it and owns what it creates.
    ApiKey { id: ApiKeyId, created_by: UserId, group_id: Option<GroupId> },
    /// Whoever runs the binary (CLI) or a background worker: every permission, org-wide.
    System,
}

/// The resolved authority of one request.
#[derive(Debug, Clone)]
pub struct Actor {
    org_id: OrgId,
    principal: Principal,
    impersonator_id: Option<UserId>,
    source: Source,
    permissions: BTreeMap<Permission, Coverage>,
    visibility: Visibility,
    /// Current memberships ∪ extra group access (live groups): the viewer's groups of §7.2.
    view_groups: BTreeSet<GroupId>,
    /// Current memberships only: what the member may stamp records with.
    member_groups: BTreeSet<GroupId>,
    /// The person the audit trail names when the system acts on their behalf (accepting an
    /// invite, verifying a sign-up).
    on_behalf_of: Option<UserId>,
}

impl Actor {
    /// Resolves the authority of `user` from their role grants.
    pub fn for_user(
        user: &User,
        roles: &[Role],
        member_groups: BTreeSet<GroupId>,
        tree: &GroupTree,
        source: Source,
        impersonator_id: Option<UserId>,
    ) -> Self {
        let mut permissions: BTreeMap<Permission, Coverage> = BTreeMap::new();
        let mut visibility = Visibility::OwnInvites;
        for grant in &user.roles {
            let Some(role) = roles.iter().find(|r| r.id == grant.role_id) else { continue };
            visibility = visibility.max(role.visibility);
            let coverage = match grant.scope {
                None => Coverage::Org,
                Some(g) => Coverage::Groups(tree.subtree(g)),
            };
            for p in &role.permissions {
                permissions.entry(*p).and_modify(|c| c.merge(coverage.clone())).or_insert_with(|| coverage.clone());
            }
        }
        for p in &user.extra_permissions {
            permissions.insert(*p, Coverage::Org);
        }
        let live_access = user.group_access.iter().copied().filter(|g| tree.get(*g).is_some_and(|g| g.is_live()));
        let view_groups = member_groups.iter().copied().chain(live_access).collect();
        Self {
            org_id: user.org_id,
            principal: Principal::User(user.id),
            impersonator_id,
            source,
            permissions,
            visibility,
            view_groups,
            member_groups,
            on_behalf_of: None,
        }
    }

    /// The authority of an API key: its own permissions, org-wide, and visibility `All` for
    /// what it reads (a key acts for an integration, not a person).
    pub fn for_api_key(key: &crate::connections::ApiKey) -> Self {
        Self {
            org_id: key.org_id,
            principal: Principal::ApiKey { id: key.id, created_by: key.created_by, group_id: key.group_id },
            impersonator_id: None,
            source: Source::Api,
            permissions: key.permissions.iter().map(|p| (*p, Coverage::Org)).collect(),
            visibility: Visibility::All,
            view_groups: BTreeSet::new(),
            member_groups: BTreeSet::new(),
            on_behalf_of: None,
        }
    }

    /// The operator or a background worker acting on `org_id`.
    pub fn system(org_id: OrgId, source: Source) -> Self {
        Self {
            org_id,
            principal: Principal::System,
            impersonator_id: None,
            source,
            permissions: Permission::ALL.iter().map(|p| (*p, Coverage::Org)).collect(),
            visibility: Visibility::All,
            view_groups: BTreeSet::new(),
            member_groups: BTreeSet::new(),
            on_behalf_of: None,
        }
    }

    /// The same authority entering through another door (an import, a scheduled change).
    #[must_use]
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// The system acting on behalf of `user`, who is named in the audit trail.
    #[must_use]
    pub fn acting_as(mut self, user: UserId) -> Self {
        self.on_behalf_of = Some(user);
        self
    }

    /// The member the audit trail names as the actor.
    pub fn audit_actor_id(&self) -> Option<UserId> {
        self.on_behalf_of.or_else(|| self.user_id())
    }

    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The member acting, if a member is acting (API keys act for their creator).
    pub fn user_id(&self) -> Option<UserId> {
        match self.principal {
            Principal::User(id) => Some(id),
            Principal::ApiKey { created_by, .. } => Some(created_by),
            Principal::System => None,
        }
    }

    pub fn impersonator_id(&self) -> Option<UserId> {
        self.impersonator_id
    }

    pub fn source(&self) -> Source {
        self.source
    }

    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    pub fn view_groups(&self) -> &BTreeSet<GroupId> {
        &self.view_groups
    }

    pub fn member_groups(&self) -> &BTreeSet<GroupId> {
        &self.member_groups
    }

    pub fn is_system(&self) -> bool {
        self.principal == Principal::System
    }

    pub fn coverage(&self, permission: Permission) -> Option<&Coverage> {
        self.permissions.get(&permission)
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains_key(&permission)
    }

    /// Requires `permission` somewhere.
    ///
    /// # Errors
    /// `forbidden`.
    pub fn require(&self, permission: Permission) -> ServiceResult<()> {
        if self.has(permission) { Ok(()) } else { Err(missing(permission)) }
    }

    /// Requires `permission` org-wide (settings, roles, seat-affecting org actions).
    ///
    /// # Errors
    /// `forbidden`.
    pub fn require_org_wide(&self, permission: Permission) -> ServiceResult<()> {
        match self.coverage(permission) {
            Some(Coverage::Org) => Ok(()),
            _ => Err(ServiceError::forbidden(format!("requires {} over the whole organization", permission.as_str()))),
        }
    }

    /// Requires `permission` over a user whose current groups are `groups`.
    ///
    /// # Errors
    /// `forbidden`.
    pub fn require_over_user(&self, permission: Permission, groups: &BTreeSet<GroupId>) -> ServiceResult<()> {
        match self.coverage(permission) {
            Some(c) if c.covers_user(groups) => Ok(()),
            Some(_) => {
                Err(ServiceError::forbidden(format!("the user is outside your groups for {}", permission.as_str())))
            }
            None => Err(missing(permission)),
        }
    }

    /// Requires `permission` over a group.
    ///
    /// # Errors
    /// `forbidden`.
    pub fn require_over_group(&self, permission: Permission, group: GroupId) -> ServiceResult<()> {
        match self.coverage(permission) {
            Some(c) if c.covers_group(group) => Ok(()),
            Some(_) => {
                Err(ServiceError::forbidden(format!("the group is outside your scope for {}", permission.as_str())))
            }
            None => Err(missing(permission)),
        }
    }

    /// Refuses what an impersonating session may not do (§10: passwords, roles, API keys).
    ///
    /// # Errors
    /// `forbidden` while impersonating.
    pub fn require_not_impersonating(&self, what: &str) -> ServiceResult<()> {
        if self.impersonator_id.is_some() {
            return Err(ServiceError::forbidden(format!("an impersonating session cannot change {what}")));
        }
        Ok(())
    }
}

fn missing(permission: Permission) -> ServiceError {
    ServiceError::forbidden(format!("requires the {} permission", permission.as_str()))
}
