//! Assigning and unassigning licenses, one user or many (§4.3).
//!
//! Seats are taken through `LicenseRepository::take_seats`, which the store makes atomic; the
//! use case never compares counts itself, so two processes cannot both take the last seat.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::catalog::{Catalog, LicensePlan};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::UserId;
use crate::ports::Tx;
use crate::roles::Permission;
use crate::seats::LicenseAssignment;
use crate::user::User;
use crate::values::Key;

use super::Services;
use super::support::{groups_of, held_products, load_catalog, load_tree, load_user};

/// The result of a license change for one user (`PUT /users/{id}/licenses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LicenseChange {
    /// The member whose licenses changed.
    pub user_id: UserId,
    /// Products newly assigned, in key order.
    pub assigned: Vec<Key>,
    /// Products removed because they were asked to be removed.
    pub unassigned: Vec<Key>,
    /// Products removed because something they require was removed (§4.3).
    pub cascaded: Vec<Key>,
}

impl LicenseChange {
    pub(crate) fn of(user_id: UserId, plan: &LicensePlan) -> Self {
        Self {
            user_id,
            assigned: plan.assign.iter().cloned().collect(),
            unassigned: plan.unassign.iter().cloned().collect(),
            cascaded: plan.cascaded.iter().cloned().collect(),
        }
    }
}

/// Which way a bulk license action goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkOp {
    /// Assign the products, with their prerequisites held or assigned in the same step.
    Assign,
    /// Remove the products, with everything that requires them.
    Unassign,
}

impl Services {
    /// Sets the full set of products a user holds (`PUT /users/{id}/licenses`).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `user_not_active`, `missing_prerequisite`,
    /// `seat_limit_reached`, `validation_failed` (unknown product).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_licenses(
        &self,
        actor: &Actor,
        user_id: UserId,
        products: BTreeSet<Key>,
    ) -> ServiceResult<LicenseChange> {
        let mut tx = self.begin().await?;
        let (mut user, catalog) = self.license_target(&mut *tx, actor, user_id).await?;
        let held = held_products(&mut *tx, user.org_id, user.id).await?;
        let plan = catalog.plan(&held, &products)?;
        self.apply_plan(&mut *tx, actor, &mut user, &held, &plan, None).await?;
        tx.commit().await?;
        Ok(LicenseChange::of(user_id, &plan))
    }

    /// Loads a user whose licenses `actor` may manage, and the catalog.
    async fn license_target(&self, tx: &mut dyn Tx, actor: &Actor, user_id: UserId) -> ServiceResult<(User, Catalog)> {
        let user = load_user(tx, actor.org_id(), user_id).await?;
        let tree = load_tree(tx, actor.org_id()).await?;
        let groups = groups_of(tx, actor.org_id(), user.id, &tree).await?;
        actor.require_over_user(Permission::ManageLicenses, &groups)?;
        let catalog = load_catalog(tx, actor.org_id()).await?;
        Ok((user, catalog))
    }

    /// Writes a license plan for `user`: takes a seat for each new product (giving back the ones
    /// taken if a later one is refused, so the user's change is all-or-nothing even inside a
    /// longer transaction), records the assignments, releases removed ones, and audits.
    pub(crate) async fn apply_plan(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user: &mut User,
        held: &BTreeSet<Key>,
        plan: &LicensePlan,
        reason: Option<&str>,
    ) -> ServiceResult<()> {
        if plan.is_noop() {
            return Ok(());
        }
        // An invitee's products are the seats reserved by their invite; assigning more before
        // they accept would count the same person twice. Change the invite instead.
        if !plan.assign.is_empty() && (!user.can_hold_licenses() || user.lifecycle.invited) {
            return Err(ServiceError::UserNotActive);
        }
        let org = user.org_id;
        let mut taken: Vec<&Key> = Vec::new();
        for product in &plan.assign {
            match tx.take_seats(org, product, 1).await {
                Ok(_) => taken.push(product),
                Err(e) => {
                    for t in taken {
                        tx.return_seats(org, t, 1).await?;
                    }
                    return Err(e.into());
                }
            }
        }
        let now = self.now();
        for product in &plan.assign {
            tx.insert_license(&LicenseAssignment {
                org_id: org,
                user_id: user.id,
                product: product.clone(),
                assigned_at: now,
            })
            .await?;
        }
        for product in plan.all_removed() {
            if tx.delete_license(org, user.id, &product).await? {
                tx.return_seats(org, &product, 1).await?;
            }
        }
        if plan.assign.contains(&Catalog::core_key()) && !user.lifecycle.ever_held_core {
            user.lifecycle.ever_held_core = true;
            user.touch(now);
            tx.update_user(user).await?;
        }
        let mut changes = Changes::new().field("products", held, &plan.result);
        if !plan.cascaded.is_empty() {
            changes = changes.note("cascaded", &plan.cascaded);
        }
        if let Some(reason) = reason {
            changes = changes.note("reason", &reason);
        }
        self.audit(
            tx,
            actor,
            "user.licenses_changed",
            AuditTarget::new(TargetKind::User, user.id, user.label()),
            changes,
        )
        .await
    }

    /// Releases every license `user` holds (deactivation, deletion, system inactivity).
    pub(crate) async fn release_all(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user: &mut User,
        reason: &str,
    ) -> ServiceResult<BTreeSet<Key>> {
        let held = held_products(tx, user.org_id, user.id).await?;
        if held.is_empty() {
            return Ok(held);
        }
        let plan = LicensePlan { unassign: held.clone(), result: BTreeSet::new(), ..LicensePlan::default() };
        self.apply_plan(tx, actor, user, &held, &plan, Some(reason)).await?;
        Ok(held)
    }
}
