//! Changes with a future `effective_at` (§3.1): a contract end deactivates a user or removes a
//! license on a date. A worker applies due changes through the same use cases as an admin.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{OrgId, ScheduledChangeId, UserId};
use crate::values::Key;

/// What a scheduled change does when it comes due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "product", rename_all = "snake_case")]
pub enum ScheduledAction {
    /// Deactivates the user, as an admin would (§3.1).
    Deactivate,
    /// Removes the user's license of this product, with its cascade (§4.3).
    RemoveLicense(Key),
}

/// A lifecycle change an admin scheduled for a later date (§3.1), applied by a worker when due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledChange {
    /// Unique; the path id under which it is cancelled.
    pub id: ScheduledChangeId,
    /// The organization of the user.
    pub org_id: OrgId,
    /// The member the change applies to.
    pub user_id: UserId,
    /// What happens when it is due.
    pub action: ScheduledAction,
    /// When the change is due; the worker applies it at or after this time.
    pub effective_at: OffsetDateTime,
    /// The member who scheduled it (an API key's creator); `None` for the operator.
    pub created_by: Option<UserId>,
    /// When it was scheduled.
    pub created_at: OffsetDateTime,
    /// Pending until applied, cancelled or failed; never pending again after that.
    pub state: ScheduleState,
}

/// Where a scheduled change stands. A change that could not be applied keeps the reason, so the
/// Users table can show it instead of silently dropping it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScheduleState {
    /// Waiting for `effective_at`.
    Pending,
    /// Applied by the worker.
    Applied {
        /// When the worker applied it.
        at: OffsetDateTime,
    },
    /// Cancelled by an admin before it was due.
    Cancelled {
        /// When it was cancelled.
        at: OffsetDateTime,
    },
    /// The worker tried and the use case refused it (`last_admin`, `not_found`, …); it is not
    /// tried again.
    Failed {
        /// When the worker tried.
        at: OffsetDateTime,
        /// The refusal's [`ErrorCode`](crate::ErrorCode) as on the wire (`last_admin`).
        code: String,
    },
}

impl ScheduledChange {
    /// Whether the change still waits to be applied.
    pub fn is_pending(&self) -> bool {
        self.state == ScheduleState::Pending
    }
}
