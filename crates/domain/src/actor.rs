//! Who is acting: authorization resolved once per request.
//!
//! An [`Actor`] says which organization, which permissions over which part of the group tree,
//! which visibility, through which source and whether someone is impersonating. Services take
//! `&Actor` and ask it; nothing else decides permissions.
//!
//! - A permission holds over a [`Coverage`]: the organization, or the subtrees of scoped grants.
//!   A scoped grant covers a user only if all the user's current groups lie inside it
//!   ([`Coverage::covers_user`]; `docs/decisions/0003-scoped-administration.md`).
//! - Acting on a member needs an authority that covers theirs ([`Actor::require_dominates`]),
//!   and nobody hands out a role, permission or scope their authority does not cover
//!   ([`Actor::require_may_give`]; `docs/decisions/0025-dominance.md`). An API key carries only
//!   permissions its creator holds.
//! - Reads follow the writes: a scoped administrator lists, counts, exports and selects only the
//!   users they manage (`docs/decisions/0028-scoped-reads.md`).
//!
//! How a request's actor is built (the member's facts read fresh, the tree and roles kept
//! between requests): `Services::resolve_actor` and `crates/domain/src/services/trees.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{ServiceError, ServiceResult};
use crate::groups::GroupTree;
use crate::ids::{ApiKeyId, GroupId, OrgId, UserId};
use crate::roles::{Permission, Role, RoleGrant, Visibility};
use crate::user::User;

/// Through which door a change came in: recorded on every audit event the actor causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The web console.
    Console,
    /// The REST API, with a session or an API key.
    Api,
    /// The SCIM provisioning API (§13).
    Scim,
    /// The CRM sync (§8.3): flags and clears `inactive_in_crm`.
    CrmSync,
    /// An import of users from the CRM directory (§8.3).
    Import,
    /// The `roster` binary's commands (§11).
    Cli,
    /// The worker that applies scheduled changes (§3.1).
    Scheduler,
}

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

    /// Whether `group` lies within this coverage (a scoped coverage already holds whole subtrees).
    pub fn covers_group(&self, group: GroupId) -> bool {
        match self {
            Coverage::Org => true,
            Coverage::Groups(set) => set.contains(&group),
        }
    }

    /// Whether everything `other` covers lies within this coverage: the organization contains
    /// every set of groups, and a set of groups contains its subsets but never the
    /// organization.
    pub fn contains(&self, other: &Coverage) -> bool {
        match (self, other) {
            (Coverage::Org, _) => true,
            (Coverage::Groups(_), Coverage::Org) => false,
            (Coverage::Groups(mine), Coverage::Groups(theirs)) => theirs.is_subset(mine),
        }
    }

    /// What both coverages cover; `None` when that is nothing.
    pub fn intersect(&self, other: &Coverage) -> Option<Coverage> {
        let both = match (self, other) {
            (Coverage::Org, c) | (c, Coverage::Org) => c.clone(),
            (Coverage::Groups(a), Coverage::Groups(b)) => Coverage::Groups(a.intersection(b).copied().collect()),
        };
        match &both {
            Coverage::Groups(set) if set.is_empty() => None,
            _ => Some(both),
        }
    }
}

/// What a member may do and where (§5): each effective permission with the part of the group
/// tree it covers, and the widest visibility of their roles. It is what the rule of dominance
/// compares: an actor acts on a member, or hands out a role, permission or scope, only when
/// the actor's authority covers the member's and everything given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    permissions: BTreeMap<Permission, Coverage>,
    visibility: Visibility,
}

/// Something an authority holds that another does not cover: why dominance fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// A permission the actor lacks.
    Permission(Permission),
    /// An administrative permission held over more of the organization than the actor's.
    Scope(Permission),
    /// A visibility wider than the actor's.
    Visibility(Visibility),
}

impl Shortfall {
    /// The refusal, in words, for someone acting on (`what` = "the user") or handing out
    /// (`what` = "the admin role") something beyond their authority.
    pub fn refusal(self, what: &str) -> ServiceError {
        ServiceError::forbidden(match self {
            Shortfall::Permission(p) => format!("{what} carries {}, which you do not hold", p.as_str()),
            Shortfall::Scope(p) => {
                format!("{what} carries {} over more of the organization than you hold it", p.as_str())
            }
            Shortfall::Visibility(v) => format!("{what} sees {} records, more than you see", visibility_words(v)),
        })
    }
}

fn visibility_words(v: Visibility) -> &'static str {
    match v {
        Visibility::All => "all",
        Visibility::Groups => "their groups'",
        Visibility::OwnInvites => "only their own",
    }
}

impl Authority {
    /// No permission, the narrowest visibility.
    pub fn none() -> Self {
        Self { permissions: BTreeMap::new(), visibility: Visibility::OwnInvites }
    }

    /// Every permission over the whole organization (the operator, a background worker).
    pub fn everything() -> Self {
        Self { permissions: Permission::ALL.iter().map(|p| (*p, Coverage::Org)).collect(), visibility: Visibility::All }
    }

    /// The authority of holding `grants` and the per-user `extra` permissions: a scoped
    /// grant covers its group's subtree in `tree`, an unscoped one the organization; grants of
    /// roles not in `roles` count for nothing.
    pub fn of_grants(
        grants: &BTreeSet<RoleGrant>,
        extra: &BTreeSet<Permission>,
        roles: &[Role],
        tree: &GroupTree,
    ) -> Self {
        let mut authority = Self::none();
        for grant in grants {
            let Some(role) = roles.iter().find(|r| r.id == grant.role_id) else { continue };
            let coverage = match grant.scope {
                None => Coverage::Org,
                Some(g) => Coverage::Groups(tree.subtree(g)),
            };
            authority.add(&role.permissions, role.visibility, &coverage);
        }
        for p in extra {
            authority.permissions.insert(*p, Coverage::Org);
        }
        authority
    }

    /// The authority of a member: their role grants and per-user permissions.
    pub fn of_user(user: &User, roles: &[Role], tree: &GroupTree) -> Self {
        Self::of_grants(&user.roles, &user.extra_permissions, roles, tree)
    }

    /// The authority a role gives when granted with `coverage`.
    pub fn of_role(role: &Role, coverage: &Coverage) -> Self {
        let mut authority = Self::none();
        authority.add(&role.permissions, role.visibility, coverage);
        authority
    }

    /// `permissions` over the whole organization with `visibility` (an API key's own list,
    /// before it is held to its creator's authority).
    pub fn of_permissions(permissions: &BTreeSet<Permission>, visibility: Visibility) -> Self {
        Self { permissions: permissions.iter().map(|p| (*p, Coverage::Org)).collect(), visibility }
    }

    fn add(&mut self, permissions: &BTreeSet<Permission>, visibility: Visibility, coverage: &Coverage) {
        self.visibility = self.visibility.max(visibility);
        for p in permissions {
            self.permissions.entry(*p).and_modify(|c| c.merge(coverage.clone())).or_insert_with(|| coverage.clone());
        }
    }

    /// What both authorities allow: the permissions both hold, each over what both cover, and
    /// the narrower visibility.
    #[must_use]
    pub fn intersect(&self, other: &Authority) -> Authority {
        let permissions = self
            .permissions
            .iter()
            .filter_map(|(p, mine)| {
                let theirs = other.permissions.get(p)?;
                mine.intersect(theirs).map(|c| (*p, c))
            })
            .collect();
        Authority { permissions, visibility: self.visibility.min(other.visibility) }
    }

    /// The permissions held, with where each applies.
    pub fn permissions(&self) -> impl Iterator<Item = (Permission, &Coverage)> {
        self.permissions.iter().map(|(p, c)| (*p, c))
    }

    /// Where `permission` applies, if it is held.
    pub fn coverage(&self, permission: Permission) -> Option<&Coverage> {
        self.permissions.get(&permission)
    }

    /// The widest visibility of the member's roles (§5).
    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    /// The first thing `other` holds that this authority does not cover, if any. A permission
    /// that concerns only its holder's own work (`Permission::is_administrative` is false) is
    /// covered by holding it anywhere; an administrative one needs at least the same coverage.
    pub fn shortfall(&self, other: &Authority) -> Option<Shortfall> {
        for (p, theirs) in &other.permissions {
            match self.permissions.get(p) {
                None => return Some(Shortfall::Permission(*p)),
                Some(mine) if p.is_administrative() && !mine.contains(theirs) => return Some(Shortfall::Scope(*p)),
                Some(_) => {}
            }
        }
        (other.visibility > self.visibility).then_some(Shortfall::Visibility(other.visibility))
    }

    /// Whether this authority covers everything `other` holds (dominance, §5).
    pub fn dominates(&self, other: &Authority) -> bool {
        self.shortfall(other).is_none()
    }
}

/// The kind of principal behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A member, logged in (or impersonated).
    User(UserId),
    /// An API key; `created_by` is the member who created it and owns what it creates.
    ApiKey {
        /// The key that authenticated the request.
        id: ApiKeyId,
        /// The member who created the key.
        created_by: UserId,
        /// The group the key is bound to: connections it creates are stamped with it (§7.4).
        group_id: Option<GroupId>,
    },
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
    authority: Authority,
    /// Current memberships ∪ extra group access (live groups): the viewer's groups of §7.2.
    view_groups: BTreeSet<GroupId>,
    /// Current memberships only: what the member may stamp records with.
    member_groups: BTreeSet<GroupId>,
    /// The person the audit trail names when the system acts on their behalf (accepting an
    /// invite, verifying a sign-up).
    on_behalf_of: Option<UserId>,
    /// The authority this actor's own is held to: an API key's creator's, a member's own. What
    /// [`Actor::provisioning`] may widen a `scim` holder's authority to, never beyond.
    creator_bound: Option<Authority>,
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
        let live_access = user.group_access.iter().copied().filter(|g| tree.get(*g).is_some_and(|g| g.is_live()));
        let view_groups = member_groups.iter().copied().chain(live_access).collect();
        Self {
            org_id: user.org_id,
            principal: Principal::User(user.id),
            impersonator_id,
            source,
            authority: Authority::of_user(user, roles, tree),
            view_groups,
            member_groups,
            on_behalf_of: None,
            creator_bound: None,
        }
    }

    /// An impersonating session's authority (§5): the member's, held to what the impersonator
    /// may do — the intersection of both. (Handing out roles or permissions is refused on top
    /// of this, [`Actor::require_not_impersonating`].)
    #[must_use]
    pub fn held_to(mut self, impersonator: &Actor) -> Self {
        self.authority = self.authority.intersect(&impersonator.authority);
        self.creator_bound = None;
        self
    }

    /// The authority of an API key (§7.4): its own permissions, org-wide, intersected with its
    /// creator's current authority (`creator`, resolved for this request). It reads records as
    /// its creator would, and acts for them.
    pub fn for_api_key(key: &crate::connections::ApiKey, creator: &Actor) -> Self {
        let own = Authority::of_permissions(&key.permissions, Visibility::All);
        Self {
            org_id: key.org_id,
            principal: Principal::ApiKey { id: key.id, created_by: key.created_by, group_id: key.group_id },
            impersonator_id: None,
            source: Source::Api,
            authority: own.intersect(&creator.authority),
            view_groups: creator.view_groups.clone(),
            member_groups: creator.member_groups.clone(),
            on_behalf_of: None,
            creator_bound: Some(creator.authority.clone()),
        }
    }

    /// The same key or member at the SCIM face (§13): audited with the source `scim`, and, when
    /// it holds `scim` over the whole organization, also holding what provisioning takes —
    /// [`Permission::PROVISIONING`] — held to its creator's authority (a member's session keeps
    /// the member's own authority, which already bounds it). A key made by an administrator
    /// thus provisions members and groups; a key made by someone who may not manage users
    /// provisions nothing, and nobody provisions a member whose authority theirs does not cover.
    #[must_use]
    pub fn provisioning(mut self) -> Self {
        self.source = Source::Scim;
        if matches!(self.coverage(Permission::Scim), Some(Coverage::Org))
            && let Some(bound) = self.creator_bound.take()
        {
            let wanted: BTreeSet<Permission> =
                Permission::PROVISIONING.iter().copied().chain([Permission::Scim]).collect();
            let own = Authority::of_permissions(&wanted, Visibility::All);
            self.authority = own.intersect(&bound);
        }
        self
    }

    /// The operator or a background worker acting on `org_id`.
    pub fn system(org_id: OrgId, source: Source) -> Self {
        Self {
            org_id,
            principal: Principal::System,
            impersonator_id: None,
            source,
            authority: Authority::everything(),
            view_groups: BTreeSet::new(),
            member_groups: BTreeSet::new(),
            on_behalf_of: None,
            creator_bound: None,
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

    /// The organization the request acts in; every read and write is scoped to it.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// Who is behind the request: a member, an API key or the system.
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

    /// The member who started the impersonation, in an impersonating session; recorded on every
    /// audit event meanwhile (§10).
    pub fn impersonator_id(&self) -> Option<UserId> {
        self.impersonator_id
    }

    /// The door the request came through, recorded on its audit events.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Which connections the actor sees (§7.2): the widest of their roles' visibilities.
    pub fn visibility(&self) -> Visibility {
        self.authority.visibility
    }

    /// What the actor may do and where.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The viewer's groups of §7.2: current memberships and extra group access, live groups only.
    pub fn view_groups(&self) -> &BTreeSet<GroupId> {
        &self.view_groups
    }

    /// The actor's current memberships: the groups they may stamp connections with (§7.1).
    pub fn member_groups(&self) -> &BTreeSet<GroupId> {
        &self.member_groups
    }

    /// Whether the operator or a background worker is acting (every permission, org-wide).
    pub fn is_system(&self) -> bool {
        self.principal == Principal::System
    }

    /// Where `permission` applies; `None` when the actor lacks it.
    pub fn coverage(&self, permission: Permission) -> Option<&Coverage> {
        self.authority.coverage(permission)
    }

    /// Whether the actor holds `permission` anywhere (org-wide or over some groups).
    pub fn has(&self, permission: Permission) -> bool {
        self.authority.coverage(permission).is_some()
    }

    /// The rule of dominance for acting on a member (§5): the actor's authority must cover the
    /// member's (`target`). The operator covers everyone.
    ///
    /// # Errors
    /// `forbidden`, naming what the member holds beyond the actor.
    pub fn require_dominates(&self, target: &Authority) -> ServiceResult<()> {
        match self.authority.shortfall(target) {
            None => Ok(()),
            Some(s) => Err(s.refusal("the user")),
        }
    }

    /// The rule of dominance for handing out authority (§5): a role, permission or scope is
    /// given only by an actor whose authority covers it, and never by an impersonating session.
    /// `what` names it in the refusal ("the admin role").
    ///
    /// # Errors
    /// `forbidden`.
    pub fn require_may_give(&self, given: &Authority, what: &str) -> ServiceResult<()> {
        if self.impersonator_id.is_some() {
            return Err(ServiceError::forbidden("an impersonating session cannot hand out roles or permissions"));
        }
        match self.authority.shortfall(given) {
            None => Ok(()),
            Some(s) => Err(s.refusal(what)),
        }
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

    /// The member acting, as the rules about "oneself" see it: `None` for the operator and the
    /// workers, which are not members even when their audit events name one.
    pub fn member(&self) -> Option<UserId> {
        if self.is_system() { None } else { self.user_id() }
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
