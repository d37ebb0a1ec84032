//! Plumbing shared by the use cases: time, ids, transactions, loading scoped entities and
//! writing audit events.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditTarget, Changes, TargetKind};
use crate::catalog::Catalog;
use crate::error::{ServiceError, ServiceResult};
use crate::groups::{GroupTree, current_groups};
use crate::ids::{GroupId, Identifier, OrgId, UserId};
use crate::org::Organization;
use crate::ports::Tx;
use crate::roles::{ADMIN_ROLE_KEY, Role};
use crate::user::User;
use crate::values::Key;

use super::Services;

impl Services {
    /// The time now, by the services' clock (the one every rule and timestamp uses).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn new_id<T: Identifier>(&self) -> T {
        T::from_uuid(self.ids.uuid())
    }

    pub(crate) async fn begin(&self) -> ServiceResult<Box<dyn Tx>> {
        Ok(self.store.begin().await?)
    }

    /// A transaction for a use case that only reads ([`crate::ports::Store::begin_read`]).
    pub(crate) async fn begin_read(&self) -> ServiceResult<Box<dyn Tx>> {
        Ok(self.store.begin_read().await?)
    }

    /// Appends an audit event for a change `actor` made, in the caller's transaction.
    pub(crate) async fn audit(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        action: &str,
        target: AuditTarget,
        changes: Changes,
    ) -> ServiceResult<()> {
        let event = AuditEvent::record(self.new_id(), self.now(), actor, action, target, changes);
        tx.append_audit(&event).await?;
        Ok(())
    }
}

/// The actor's organization, which must exist.
pub(crate) async fn load_org(tx: &mut dyn Tx, org: OrgId) -> ServiceResult<Organization> {
    tx.org(org).await?.ok_or(ServiceError::not_found("organization"))
}

/// A live (not deleted) user of `org`.
pub(crate) async fn load_user(tx: &mut dyn Tx, org: OrgId, id: UserId) -> ServiceResult<User> {
    tx.user(org, id).await?.filter(|u| !u.is_deleted()).ok_or(ServiceError::not_found("user"))
}

pub(crate) async fn load_tree(tx: &mut dyn Tx, org: OrgId) -> ServiceResult<GroupTree> {
    Ok(GroupTree::new(tx.groups(org).await?))
}

pub(crate) async fn load_catalog(tx: &mut dyn Tx, org: OrgId) -> ServiceResult<Catalog> {
    Ok(tx.catalog(org).await?)
}

/// The current groups of a user (live groups, open memberships).
pub(crate) async fn groups_of(
    tx: &mut dyn Tx,
    org: OrgId,
    user: UserId,
    tree: &GroupTree,
) -> ServiceResult<BTreeSet<GroupId>> {
    let memberships = tx.memberships_of(org, user).await?;
    Ok(current_groups(&memberships, tree))
}

/// The products a user holds explicitly.
pub(crate) async fn held_products(tx: &mut dyn Tx, org: OrgId, user: UserId) -> ServiceResult<BTreeSet<Key>> {
    Ok(tx.licenses_of(org, user).await?.into_iter().map(|l| l.product).collect())
}

/// The built-in `admin` role of the organization.
pub(crate) fn admin_role(roles: &[Role]) -> ServiceResult<&Role> {
    roles.iter().find(|r| r.builtin && r.key.as_str() == ADMIN_ROLE_KEY).ok_or(ServiceError::not_found("admin role"))
}

/// Refuses a change that would leave the organization without an active admin (§3.1).
/// `remaining` tells whether the user stays an active admin after the change.
pub(crate) async fn check_last_admin(tx: &mut dyn Tx, user: &User, remaining: bool) -> ServiceResult<()> {
    tx.lock_org(user.org_id).await?;
    let roles = tx.roles(user.org_id).await?;
    let admin = admin_role(&roles)?;
    if !user.is_active_admin(admin.id) || remaining {
        return Ok(());
    }
    let admins = tx.active_admins(user.org_id, admin.id).await?;
    if admins.iter().all(|id| *id == user.id) {
        return Err(ServiceError::LastAdmin);
    }
    Ok(())
}

/// Checks that every id names a live user of the organization; answers them in order.
pub(crate) async fn load_users(tx: &mut dyn Tx, org: OrgId, ids: &[UserId], field: &str) -> ServiceResult<Vec<User>> {
    let found = tx.users_by_ids(org, ids).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match found.iter().find(|u| u.id == *id && !u.is_deleted()) {
            Some(u) => out.push(u.clone()),
            None => {
                return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                    field,
                    "unknown_user",
                    format!("no user {id} in this organization"),
                )]));
            }
        }
    }
    Ok(out)
}

/// Refuses a page size outside 1..=200 (§10).
pub(crate) fn check_page_size(limit: u32) -> ServiceResult<()> {
    let max = crate::visibility::MAX_PAGE_SIZE;
    if (1..=max).contains(&limit) {
        return Ok(());
    }
    Err(ServiceError::Validation(vec![crate::error::FieldError::new(
        "limit",
        "out_of_range",
        format!("must be between 1 and {max}"),
    )]))
}

impl Services {
    /// Writes a changed user — a new version, the update, and its audit event — in the
    /// caller's transaction.
    pub(crate) async fn save_user(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user: &mut User,
        action: &str,
        changes: Changes,
    ) -> ServiceResult<()> {
        let label = user.label();
        self.save_user_labelled(tx, actor, user, label, action, changes).await
    }

    /// As [`Services::save_user`], naming the user in the audit log as `label` (a rename is
    /// logged under the name the user had before it).
    pub(crate) async fn save_user_labelled(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user: &mut User,
        label: String,
        action: &str,
        changes: Changes,
    ) -> ServiceResult<()> {
        user.touch(self.now());
        tx.update_user(user).await?;
        self.audit(tx, actor, action, AuditTarget::new(TargetKind::User, user.id, label), changes).await
    }
}

/// The part of the organization whose users `actor` may read (SPEC §5: "a scoped administrator
/// reads only the users their scope covers"): `None` for an org-wide `manage_users` holder
/// (every user), `Some(groups)` for a scoped one — the users
/// [`Coverage::covers_user`](crate::actor::Coverage::covers_user) accepts, as
/// [`UserQuery::within`](crate::users_query::UserQuery::within) says. The same rule as the writes.
///
/// # Errors
/// `forbidden` without `manage_users`.
pub(crate) fn reader_scope(actor: &Actor) -> ServiceResult<Option<BTreeSet<GroupId>>> {
    actor.require(crate::roles::Permission::ManageUsers)?;
    Ok(match actor.coverage(crate::roles::Permission::ManageUsers) {
        Some(crate::actor::Coverage::Groups(groups)) => Some(groups.clone()),
        _ => None,
    })
}
