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
use super::support::{held_products, load_catalog};

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

    /// Applies every due change (the worker's tick). Each change runs in its own transaction
    /// through the ordinary use case; one that the rules refuse (the last admin, say) is marked
    /// failed with the code instead of being retried forever.
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all)]
    pub async fn apply_due_changes(&self, limit: u32) -> ServiceResult<Vec<ScheduledChange>> {
        let due = {
            let mut tx = self.begin().await?;
            tx.due_scheduled(self.now(), limit).await?
        };
        let mut out = Vec::with_capacity(due.len());
        for mut change in due {
            let actor = Actor::system(change.org_id, Source::Scheduler);
            let result = match &change.action {
                ScheduledAction::Deactivate => self.deactivate_user(&actor, change.user_id, None).await.map(|_| ()),
                ScheduledAction::RemoveLicense(product) => {
                    let held = self.get_user(&actor, change.user_id).await.map(|d| d.products);
                    match held {
                        Ok(held) => {
                            let target: BTreeSet<_> = held.into_iter().filter(|p| p != product).collect();
                            self.set_licenses(&actor, change.user_id, target).await.map(|_| ())
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            let at = self.now();
            change.state = match result {
                Ok(()) => ScheduleState::Applied { at },
                Err(e) if e.code() == crate::ErrorCode::Internal => return Err(e),
                Err(e) => ScheduleState::Failed { at, code: e.code().as_str().to_owned() },
            };
            let mut tx = self.begin().await?;
            tx.update_scheduled(&change).await?;
            tx.commit().await?;
            out.push(change);
        }
        Ok(out)
    }
}
