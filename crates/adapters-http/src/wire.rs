//! The JSON shapes of the API (SPEC §10 "Wire shapes"): response bodies built from domain
//! values, and the helpers that turn request fields into value types with per-field errors.
//! snake_case field names; times in RFC 3339; ids as UUID strings.

use std::collections::BTreeSet;

use roster_domain::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};
use roster_domain::services::{LicenseChange, UserDetails};
use roster_domain::user::{Status, User};
use roster_domain::values::{Key, ValueError};
use roster_domain::{FieldError, ServiceError};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::{ApiError, ApiResult};
use crate::user_fields::UserSettingsBody;

/// A time as RFC 3339 text.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// A role a user holds, possibly limited to a group subtree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleGrantBody {
    pub role_id: Uuid,
    /// `null`: the whole organization.
    pub scope: Option<Uuid>,
}

/// A row of the Users table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// `+` and 8–15 digits; unique among the organization's members.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    pub nicknames: Vec<String>,
    /// Unique among the organization's members.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub crm_id: Option<String>,
    /// Unique among the organization's members.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub agent_id: Option<String>,
    pub roles: Vec<RoleGrantBody>,
    pub deactivated: bool,
    pub invited: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<&User> for UserSummary {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.as_uuid(),
            email: u.email.as_str().to_owned(),
            first_name: u.first_name.as_str().to_owned(),
            last_name: u.last_name.as_str().to_owned(),
            phone: u.phone.as_ref().map(|p| p.as_str().to_owned()),
            nicknames: u.nicknames.iter().map(|n| n.as_str().to_owned()).collect(),
            crm_id: u.crm_id.as_ref().map(|c| c.as_str().to_owned()),
            agent_id: u.agent_id.as_ref().map(|a| a.as_str().to_owned()),
            roles: u
                .roles
                .iter()
                .map(|g| RoleGrantBody { role_id: g.role_id.as_uuid(), scope: g.scope.map(|s| s.as_uuid()) })
                .collect(),
            deactivated: u.is_deactivated(),
            invited: u.lifecycle.invited,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
            version: u.version,
        }
    }
}

/// A user with the derived status (§3.1), products held and current groups.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserBody {
    #[serde(flatten)]
    pub summary: UserSummary,
    /// The number the dialer rings to reach the agent: `+` and 8–15 digits.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub agent_ring_number: Option<String>,
    /// The outbound number provisioned for the dialer: `+` and 8–15 digits.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub dialer_number: Option<String>,
    /// `active`, `pending`, `invited`, `inactive`, `revoked`, `deactivated` or `deleted`.
    pub status: String,
    /// Why the user is `inactive`; empty otherwise.
    pub inactive_reasons: Vec<String>,
    pub products: Vec<String>,
    pub group_ids: Vec<Uuid>,
    /// The user's settings (§3).
    pub settings: UserSettingsBody,
    /// Permissions granted to the user outside any role (`view_reporting`, `audio_scoring`).
    pub extra_permissions: Vec<String>,
    /// Groups whose records the user may see besides their memberships (§5).
    pub group_access: Vec<Uuid>,
    /// Deactivations and license removals waiting for their time (§3.1), soonest first.
    pub scheduled: Vec<ScheduledChangeBody>,
}

/// A deactivation or license removal set for a future time (§3.1 "Scheduled changes").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduledChangeBody {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `deactivate` or `remove_license`.
    pub action: String,
    /// The product removed, for `remove_license`.
    pub product: Option<String>,
    pub effective_at: String,
    /// `pending`, `applied`, `cancelled` or `failed`.
    pub state: String,
    pub created_by: Option<Uuid>,
    pub created_at: String,
}

impl From<&ScheduledChange> for ScheduledChangeBody {
    fn from(c: &ScheduledChange) -> Self {
        let (action, product) = match &c.action {
            ScheduledAction::Deactivate => ("deactivate", None),
            ScheduledAction::RemoveLicense(p) => ("remove_license", Some(p.as_str().to_owned())),
        };
        let state = match &c.state {
            ScheduleState::Pending => "pending",
            ScheduleState::Applied { .. } => "applied",
            ScheduleState::Cancelled { .. } => "cancelled",
            ScheduleState::Failed { .. } => "failed",
        };
        Self {
            id: c.id.as_uuid(),
            user_id: c.user_id.as_uuid(),
            action: action.to_owned(),
            product,
            effective_at: rfc3339(c.effective_at),
            state: state.to_owned(),
            created_by: c.created_by.map(|u| u.as_uuid()),
            created_at: rfc3339(c.created_at),
        }
    }
}

impl From<UserDetails> for UserBody {
    fn from(d: UserDetails) -> Self {
        let inactive_reasons = match &d.status {
            Status::Inactive(reasons) => reasons.iter().map(wire_name).collect(),
            _ => Vec::new(),
        };
        Self {
            summary: UserSummary::from(&d.user),
            agent_ring_number: d.user.agent_ring_number.as_ref().map(|p| p.as_str().to_owned()),
            dialer_number: d.user.dialer_number.as_ref().map(|p| p.as_str().to_owned()),
            status: wire_name(&d.status.kind()),
            inactive_reasons,
            products: d.products.iter().map(|k| k.as_str().to_owned()).collect(),
            group_ids: d.groups.iter().map(|g| g.as_uuid()).collect(),
            settings: UserSettingsBody::from(&d.user.settings),
            extra_permissions: d.user.extra_permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            group_access: d.user.group_access.iter().map(|g| g.as_uuid()).collect(),
            scheduled: d.scheduled.iter().map(ScheduledChangeBody::from).collect(),
        }
    }
}

/// The snake_case name a domain enum serializes to.
fn wire_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A page of users: `next_cursor` for cursor paging (absent on the last page), `total` for
/// page-number paging.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserList {
    /// The rows, each with its derived status, products, current groups and pending changes.
    pub items: Vec<UserBody>,
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

/// `PUT /users/{id}/licenses` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenseChangeBody {
    pub user_id: Uuid,
    pub assigned: Vec<String>,
    pub unassigned: Vec<String>,
    /// Products removed because a product they require was removed.
    pub cascaded: Vec<String>,
}

impl From<LicenseChange> for LicenseChangeBody {
    fn from(c: LicenseChange) -> Self {
        let names = |keys: Vec<Key>| keys.iter().map(|k| k.as_str().to_owned()).collect();
        Self {
            user_id: c.user_id.as_uuid(),
            assigned: names(c.assigned),
            unassigned: names(c.unassigned),
            cascaded: names(c.cascaded),
        }
    }
}

/// A time field in RFC 3339.
///
/// # Errors
/// 400 `validation_failed` naming `field` (`invalid_format`).
pub fn parse_time(field: &str, text: &str) -> ApiResult<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| ApiError::bad_request(field, "invalid_format", format!("not an RFC 3339 time: {e}")))
}

/// A required text field parsed into its value type.
pub fn parse<T>(field: &str, text: &str, f: fn(&str) -> Result<T, ValueError>) -> Result<T, FieldError> {
    f(text).map_err(|e| FieldError::invalid(field, &e))
}

/// An optional text field parsed into its value type.
pub fn parse_opt<T>(
    field: &str,
    text: Option<&str>,
    f: fn(&str) -> Result<T, ValueError>,
) -> Result<Option<T>, FieldError> {
    text.map(|t| parse(field, t, f)).transpose()
}

/// A list of keys (roles, products); the first bad one is named with its index.
pub fn parse_keys(field: &str, items: &[String]) -> Result<BTreeSet<Key>, FieldError> {
    items.iter().enumerate().map(|(i, k)| parse(&format!("{field}[{i}]"), k, Key::parse)).collect()
}

/// `validation_failed` listing every field error present, or nothing.
///
/// # Errors
/// The validation error.
pub fn check<'a>(errors: impl IntoIterator<Item = Option<&'a FieldError>>) -> Result<(), ServiceError> {
    let errors: Vec<FieldError> = errors.into_iter().flatten().cloned().collect();
    if errors.is_empty() { Ok(()) } else { Err(ServiceError::Validation(errors)) }
}

/// One parsed field as a service result (after [`check`], never an error).
///
/// # Errors
/// The field's error as `validation_failed`.
pub fn ok<T>(r: Result<T, FieldError>) -> Result<T, ServiceError> {
    r.map_err(|e| ServiceError::Validation(vec![e]))
}
