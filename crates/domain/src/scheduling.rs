//! Changes with a future `effective_at` (§3.1): a contract end deactivates a user or removes a
//! license on a date. A worker applies due changes through the same use cases as an admin.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{OrgId, ScheduledChangeId, UserId};
use crate::values::Key;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "product", rename_all = "snake_case")]
pub enum ScheduledAction {
    Deactivate,
    RemoveLicense(Key),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledChange {
    pub id: ScheduledChangeId,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub action: ScheduledAction,
    pub effective_at: OffsetDateTime,
    pub created_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub state: ScheduleState,
}

/// Where a scheduled change stands. A change that could not be applied keeps the reason, so the
/// Users table can show it instead of silently dropping it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScheduleState {
    Pending,
    Applied { at: OffsetDateTime },
    Cancelled { at: OffsetDateTime },
    Failed { at: OffsetDateTime, code: String },
}

impl ScheduledChange {
    pub fn is_pending(&self) -> bool {
        self.state == ScheduleState::Pending
    }
}
