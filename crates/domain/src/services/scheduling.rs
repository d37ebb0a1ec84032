//! Scheduled changes (§3.1): deactivation or license removal at a future `effective_at`,
//! applied by a worker through the same rules as an admin's change.

use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, Source, TargetKind};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::ids::{ScheduledChangeId, UserId};
use crate::roles::Permission;
use crate::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};

use super::Services;
use super::licenses::BulkOp;
use super::support::{held_products, load_catalog};
use crate::ports::Tx;

impl Services {
    /// Schedules a deactivation or a license removal.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `validation_failed` (a time not in the future, a product the
    /// user does not hold).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn schedule_change(
        &self,
        actor: &Actor,
        user_id: UserId,
        action: ScheduledAction,
        effective_at: time::OffsetDateTime,
    ) -> ServiceResult<ScheduledChange> {
        let now = self.now();
        // Kept to the microsecond, as every stored time is (PostgreSQL's precision), so that the
        // answer and every later read show the same instant.
        let effective_at =
            effective_at.replace_nanosecond(effective_at.nanosecond() / 1_000 * 1_000).unwrap_or(effective_at);
        if effective_at <= now {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "effective_at",
                "not_in_future",
                "must be in the future",
            )]));
        }
        let mut tx = self.begin().await?;
        let user = self.managed_user(&mut *tx, actor, user_id).await?;
        // Scheduling one's own deactivation would get round the rule.
        if action == ScheduledAction::Deactivate {
            user.ensure_removable_by(actor.member())?;
        }
        if let ScheduledAction::RemoveLicense(product) = &action {
            load_catalog(&mut *tx, user.org_id).await?.check_known("product", [product])?;
            if !held_products(&mut *tx, user.org_id, user.id).await?.contains(product) {
                return Err(ServiceError::Validation(vec![FieldError::new(
                    "product",
                    "not_held",
                    "the user does not hold this product",
                )]));
            }
        }
        let change = ScheduledChange {
            id: self.new_id(),
            org_id: user.org_id,
            user_id,
            action,
            effective_at,
            created_by: actor.user_id(),
            created_at: now,
            state: ScheduleState::Pending,
        };
        tx.insert_scheduled(&change).await?;
        self.audit(
            &mut *tx,
            actor,
            "schedule.created",
            AuditTarget::new(TargetKind::User, user.id, user.label()),
            Changes::new().note("action", &change.action).note("effective_at", &change.effective_at),
        )
        .await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Cancels a pending scheduled change.
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn cancel_scheduled(&self, actor: &Actor, id: ScheduledChangeId) -> ServiceResult<()> {
        actor.require(Permission::ManageUsers)?;
        let mut tx = self.begin().await?;
        let mut change = tx
            .scheduled(actor.org_id(), id)
            .await?
            .filter(ScheduledChange::is_pending)
            .ok_or(ServiceError::not_found("scheduled change"))?;
        let user = self.managed_user(&mut *tx, actor, change.user_id).await?;
        change.state = ScheduleState::Cancelled { at: self.now() };
        tx.update_scheduled(&change).await?;
        self.audit(
            &mut *tx,
            actor,
            "schedule.cancelled",
            AuditTarget::new(TargetKind::User, user.id, user.label()),
            Changes::new().note("action", &change.action),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies every due change (the scheduler's tick), each exactly once however many servers
    /// run the scheduler: in one transaction the change is claimed (settled as applied only if
    /// it is still pending, [`crate::ports::ScheduleRepository::settle_scheduled`]) and applied
    /// through the same rules as an admin's change, audited with the `scheduler` source. A change
    /// the rules refuse (the last admin, say) is marked failed with the refusal's code instead of
    /// being retried forever; a storage failure leaves it pending for the next tick.
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all)]
    pub async fn apply_due_changes(&self, limit: u32) -> ServiceResult<Vec<ScheduledChange>> {
        let due = {
            let mut tx = self.begin_read().await?;
            tx.due_scheduled(self.now(), limit).await?
        };
        let mut out = Vec::with_capacity(due.len());
        for mut change in due {
            let actor = Actor::system(change.org_id, Source::Scheduler);
            let at = self.now();
            let mut tx = self.begin().await?;
            let applied = ScheduleState::Applied { at };
            if !tx.settle_scheduled(change.org_id, change.id, &applied).await? {
                // Another server applied it, or an admin cancelled it, since it was read.
                continue;
            }
            change.state = match self.apply_scheduled_in(&mut *tx, &actor, &change).await {
                Ok(()) => {
                    tx.commit().await?;
                    applied
                }
                Err(e) if e.code() == crate::ErrorCode::Internal => return Err(e),
                Err(e) => {
                    drop(tx);
                    let failed = ScheduleState::Failed { at, code: e.code().as_str().to_owned() };
                    let mut tx = self.begin().await?;
                    if !tx.settle_scheduled(change.org_id, change.id, &failed).await? {
                        continue;
                    }
                    tx.commit().await?;
                    tracing::info!(change = %change.id, code = e.code().as_str(), "a scheduled change was refused: {e}");
                    failed
                }
            };
            out.push(change);
        }
        Ok(out)
    }

    /// Applies one scheduled change in `tx`, as `actor`.
    async fn apply_scheduled_in(&self, tx: &mut dyn Tx, actor: &Actor, change: &ScheduledChange) -> ServiceResult<()> {
        match &change.action {
            ScheduledAction::Deactivate => {
                let user = self.managed_user(tx, actor, change.user_id).await?;
                self.deactivate_in(tx, actor, user).await?;
            }
            ScheduledAction::RemoveLicense(product) => {
                let products: BTreeSet<_> = [product.clone()].into();
                self.license_step(tx, actor, change.user_id, BulkOp::Unassign, &products).await?;
            }
        }
        Ok(())
    }
}
