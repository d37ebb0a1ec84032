//! [`ScheduleRepository`]: deactivations and license removals with a future `effective_at`.
//!
//! The action is `action` plus `product` (only for a license removal), the state is `state`,
//! `state_at` (when it settled) and `failure_code` (only when it failed), as the schema's `CHECK`s
//! pair them.

use async_trait::async_trait;
use roster_domain::ids::{OrgId, ScheduledChangeId, UserId};
use roster_domain::ports::{ScheduleRepository, StoreError};
use roster_domain::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};
use roster_domain::values::Key;
use sea_orm::{QueryResult, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::SeaOrmTx;
use super::convert::{corrupt, count, get, get_id, get_opt_time, get_time, id, opt_time, org_and_id_lists, time};
use super::errors;

type R<T> = Result<T, StoreError>;

const CHANGE_COLUMNS: &str =
    "org_id, id, user_id, action, product, effective_at, created_by, created_at, state, state_at, failure_code";

fn action_of(row: &QueryResult) -> R<ScheduledAction> {
    let action = get::<String>(row, "action")?;
    let product = get::<Option<String>>(row, "product")?;
    match (action.as_str(), product) {
        ("deactivate", None) => Ok(ScheduledAction::Deactivate),
        ("remove_license", Some(product)) => {
            Ok(ScheduledAction::RemoveLicense(Key::parse(&product).map_err(|e| corrupt("product", e))?))
        }
        (other, product) => Err(corrupt(
            "action",
            format!("unknown action `{other}` (product `{}`)", product.as_deref().unwrap_or("none")),
        )),
    }
}

/// A state's `state`, `state_at` and `failure_code` columns.
fn state_columns(state: &ScheduleState) -> (&'static str, Option<OffsetDateTime>, Option<String>) {
    match state {
        ScheduleState::Pending => ("pending", None, None),
        ScheduleState::Applied { at } => ("applied", Some(*at), None),
        ScheduleState::Cancelled { at } => ("cancelled", Some(*at), None),
        ScheduleState::Failed { at, code } => ("failed", Some(*at), Some(code.clone())),
    }
}

impl SeaOrmTx {
    fn state_of(&self, row: &QueryResult) -> R<ScheduleState> {
        let state = get::<String>(row, "state")?;
        let at = get_opt_time(self.engine, row, "state_at")?;
        let code = get::<Option<String>>(row, "failure_code")?;
        match (state.as_str(), at, code) {
            ("pending", None, None) => Ok(ScheduleState::Pending),
            ("applied", Some(at), None) => Ok(ScheduleState::Applied { at }),
            ("cancelled", Some(at), None) => Ok(ScheduleState::Cancelled { at }),
            ("failed", Some(at), Some(code)) => Ok(ScheduleState::Failed { at, code }),
            (other, at, code) => Err(corrupt(
                "state",
                format!(
                    "state `{other}` with state_at {}, code `{}`",
                    at.map_or_else(|| "none".to_owned(), |t| t.to_string()),
                    code.as_deref().unwrap_or("none")
                ),
            )),
        }
    }

    fn change_from_row(&self, row: &QueryResult) -> R<ScheduledChange> {
        Ok(ScheduledChange {
            id: get_id(row, "id", ScheduledChangeId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            user_id: get_id(row, "user_id", UserId::from_uuid)?,
            action: action_of(row)?,
            effective_at: get_time(self.engine, row, "effective_at")?,
            created_by: get::<Option<Uuid>>(row, "created_by")?.map(UserId::from_uuid),
            created_at: get_time(self.engine, row, "created_at")?,
            state: self.state_of(row)?,
        })
    }

    async fn select_changes(&self, filter: &str, values: Vec<Value>) -> R<Vec<ScheduledChange>> {
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM scheduled_changes {filter}");
        self.query_all(&sql, values).await?.iter().map(|row| self.change_from_row(row)).collect()
    }

    /// The columns every write of a change sets, in [`CHANGE_COLUMNS`] order after `org_id, id`.
    fn change_values(&self, change: &ScheduledChange) -> R<Vec<Value>> {
        let (action, product) = match &change.action {
            ScheduledAction::Deactivate => ("deactivate", None),
            ScheduledAction::RemoveLicense(product) => ("remove_license", Some(product.as_str().to_owned())),
        };
        let (state, at, code) = state_columns(&change.state);
        Ok(vec![
            id(change.user_id.as_uuid()),
            action.into(),
            product.into(),
            time(self.engine, change.effective_at)?,
            change.created_by.as_ref().map(UserId::as_uuid).into(),
            time(self.engine, change.created_at)?,
            state.into(),
            opt_time(self.engine, at)?,
            code.into(),
        ])
    }
}

#[async_trait]
impl ScheduleRepository for SeaOrmTx {
    async fn insert_scheduled(&mut self, change: &ScheduledChange) -> R<()> {
        let mut values = vec![id(change.org_id.as_uuid()), id(change.id.as_uuid())];
        values.extend(self.change_values(change)?);
        let sql = format!("INSERT INTO scheduled_changes ({CHANGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        // The one foreign key is the user, in the same organization (`created_by` is not one).
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        Ok(())
    }

    async fn scheduled_for_user(&mut self, org: OrgId, user: UserId) -> R<Vec<ScheduledChange>> {
        self.select_changes(
            "WHERE org_id = ? AND user_id = ? ORDER BY effective_at, id",
            vec![id(org.as_uuid()), id(user.as_uuid())],
        )
        .await
    }

    async fn pending_scheduled_for_users(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<ScheduledChange>> {
        let mut out = Vec::new();
        for (marks, values) in org_and_id_lists(org.as_uuid(), users.iter().map(|u| u.as_uuid())) {
            let filter = format!(
                "WHERE org_id = ? AND user_id IN ({marks}) AND state = 'pending' ORDER BY user_id, effective_at, id"
            );
            out.extend(self.select_changes(&filter, values).await?);
        }
        Ok(out)
    }

    async fn due_scheduled(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<ScheduledChange>> {
        // Every organization: the `scheduled_changes_due` index, in its order.
        self.select_changes(
            "WHERE state = 'pending' AND effective_at <= ? ORDER BY effective_at, id LIMIT ?",
            vec![time(self.engine, now)?, count(limit)?],
        )
        .await
    }

    async fn update_scheduled(&mut self, change: &ScheduledChange) -> R<()> {
        let mut values = self.change_values(change)?;
        values.extend([id(change.org_id.as_uuid()), id(change.id.as_uuid())]);
        let sql = "UPDATE scheduled_changes SET user_id = ?, action = ?, product = ?, effective_at = ?, \
                   created_by = ?, created_at = ?, state = ?, state_at = ?, failure_code = ? \
                   WHERE org_id = ? AND id = ?";
        // A missing change matches no row; an existing one moved to an unknown user breaks the
        // foreign key.
        let done = self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Missing { kind: "scheduled change" });
        }
        Ok(())
    }

    async fn settle_scheduled(&mut self, org: OrgId, change: ScheduledChangeId, state: &ScheduleState) -> R<bool> {
        let (state, at, code) = state_columns(state);
        let values =
            vec![state.into(), opt_time(self.engine, at)?, code.into(), id(org.as_uuid()), id(change.as_uuid())];
        let sql = "UPDATE scheduled_changes SET state = ?, state_at = ?, failure_code = ? \
                   WHERE org_id = ? AND id = ? AND state = 'pending'";
        Ok(self.exec(sql, values).await?.rows_affected() > 0)
    }

    async fn scheduled(&mut self, org: OrgId, change: ScheduledChangeId) -> R<Option<ScheduledChange>> {
        let values = vec![id(org.as_uuid()), id(change.as_uuid())];
        Ok(self.select_changes("WHERE org_id = ? AND id = ?", values).await?.pop())
    }
}
