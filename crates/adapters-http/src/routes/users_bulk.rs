//! `POST /api/v1/users/bulk`: a bulk action of the Users table's Actions menu on a selection —
//! ids or the Users-table filter — with one outcome per user, `atomic` and `dry_run` (SPEC §10;
//! the rules are the domain's `Services::bulk_update`, ADR 0005).
//!
//! The body is flat: `action` names the action and the one field it needs (`group_ids`,
//! `roles`, `products` or a setting) is a sibling; a field the action does not use is refused,
//! so that a typo never silently does less than asked. "Export CSV" is not a bulk action here:
//! it is `GET /users/export.csv?ids=…`, which streams.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use roster_domain::ids::GroupId;
use roster_domain::roles::RoleRef;
use roster_domain::seats::SeatCount;
use roster_domain::services::{
    BulkAction, BulkOutcome, BulkRequest, BulkResult, BulkSelection, BulkSubmission, RoleAssignment, SettingsPatch,
};
use roster_domain::user::CallRecording;
use roster_domain::values::Key;
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::user_fields::CallRecordingName;
use crate::users_filter::UsersFilter;
use crate::wire::{LicenseChangeBody, parse_keys};

/// Registers the bulk route.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.post("/api/v1/users/bulk", bulk_users)
}

/// The bulk actions (§10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkActionName {
    /// Joins `group_ids` (teams).
    AddTeams,
    /// Leaves `group_ids`.
    RemoveTeams,
    /// Makes `group_ids` the user's teams exactly.
    SetTeams,
    /// Replaces the user's roles with `roles`.
    SetRoles,
    /// Assigns `products` (with the seats they take).
    AssignLicenses,
    /// Unassigns `products` and what requires them.
    UnassignLicenses,
    /// Sets `flow_enabled`.
    SetFlowEnabled,
    /// Sets `email_throttle_max_per_day`.
    SetEmailThrottle,
    /// Sets `call_recording`.
    SetCallRecording,
    /// Sets `email_sync`.
    SetEmailSync,
    /// Sets `calendar_sync`.
    SetCalendarSync,
    /// Clears each user's dialer number.
    DeprovisionDialerNumbers,
    /// Asks the CRM whether each user's CRM identity is active (`crm_active`); changes nothing.
    CheckConnectionStatus,
}

/// A role to grant, optionally limited to a group subtree.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRoleBody {
    /// The role: its key (`standard`) or its id, as `PUT /users/{id}/roles` takes it.
    pub key: String,
    /// A group id; absent: the whole organization.
    pub scope: Option<Uuid>,
}

/// `POST /users/bulk`. Exactly one of `user_ids` and `filter`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(examples(
    json!({"user_ids": ["0190f3c4-5b6a-7c8d-9e0f-1a2b3c4d5e6f"], "action": "assign_licenses", "products": ["core"]}),
    json!({"filter": {"status": ["active"]}, "action": "set_flow_enabled", "flow_enabled": false, "dry_run": true}),
    json!({"user_ids": ["0190f3c4-5b6a-7c8d-9e0f-1a2b3c4d5e6f"], "action": "deprovision_dialer_numbers", "atomic": true}),
))]
#[serde(deny_unknown_fields)]
pub struct BulkUsersRequest {
    /// The selected users, at least one (each handled once; unknown ids answer `not_found`
    /// outcomes).
    #[schema(min_items = 1)]
    pub user_ids: Option<Vec<Uuid>>,
    /// Every user the filter of `GET /users` matches.
    pub filter: Option<UsersFilter>,
    pub action: BulkActionName,
    pub group_ids: Option<Vec<Uuid>>,
    #[schema(min_items = 1)]
    pub roles: Option<Vec<BulkRoleBody>>,
    #[schema(min_items = 1)]
    pub products: Option<Vec<String>>,
    pub flow_enabled: Option<bool>,
    /// 1 up to the mailbox provider's daily cap.
    pub email_throttle_max_per_day: Option<u32>,
    pub call_recording: Option<CallRecordingName>,
    pub email_sync: Option<bool>,
    pub calendar_sync: Option<bool>,
    /// All or nothing: one refused user and nothing is written (every outcome is still
    /// reported). Default false: each user's change stands on its own.
    #[serde(default)]
    pub atomic: bool,
    /// Report the outcomes and seat changes, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The fields that carry an action's argument.
const ARGUMENTS: [&str; 8] = [
    "group_ids",
    "roles",
    "products",
    "flow_enabled",
    "email_throttle_max_per_day",
    "call_recording",
    "email_sync",
    "calendar_sync",
];

/// The rules of `POST /users/bulk` a struct's schema cannot say, in JSON Schema (added to
/// `BulkUsersRequest` by the OpenAPI document): exactly one of `user_ids` and `filter`, and
/// each action with its own argument and no other (joining and leaving teams name at least
/// one).
pub(crate) fn request_constraints() -> serde_json::Value {
    use serde_json::json;
    let selection = json!({"oneOf": [{"required": ["user_ids"]}, {"required": ["filter"]}]});
    // The actions by (argument field, names at least one team), in the order of `ALL`.
    type Alike = (Option<&'static str>, bool);
    let mut by_argument: Vec<(Alike, Vec<String>)> = Vec::new();
    for action in BulkActionName::ALL {
        let name = action.name().to_owned();
        let key = (action.argument(), action.names_teams());
        match by_argument.iter_mut().find(|(a, _)| *a == key) {
            Some((_, names)) => names.push(name),
            None => by_argument.push((key, vec![name])),
        }
    }
    let actions: Vec<serde_json::Value> = by_argument
        .into_iter()
        .map(|((argument, names_teams), names)| {
            let others: Vec<serde_json::Value> =
                ARGUMENTS.iter().filter(|a| Some(**a) != argument).map(|a| json!({"required": [a]})).collect();
            let mut alternative = json!({
                "properties": {"action": {"enum": names}},
                "not": {"anyOf": others},
            });
            if let Some(argument) = argument {
                alternative["required"] = json!([argument]);
            }
            if names_teams {
                alternative["properties"]["group_ids"] = json!({"minItems": 1});
            }
            alternative
        })
        .collect();
    json!([selection, {"oneOf": actions}])
}

/// The fields naming an action's argument, and whether each was sent.
fn arguments(b: &BulkUsersRequest) -> [(&'static str, bool); 8] {
    let sent = [
        b.group_ids.is_some(),
        b.roles.is_some(),
        b.products.is_some(),
        b.flow_enabled.is_some(),
        b.email_throttle_max_per_day.is_some(),
        b.call_recording.is_some(),
        b.email_sync.is_some(),
        b.calendar_sync.is_some(),
    ];
    std::array::from_fn(|i| (ARGUMENTS[i], sent[i]))
}

impl BulkActionName {
    /// Every action.
    pub const ALL: [Self; 13] = [
        Self::AddTeams,
        Self::RemoveTeams,
        Self::SetTeams,
        Self::SetRoles,
        Self::AssignLicenses,
        Self::UnassignLicenses,
        Self::SetFlowEnabled,
        Self::SetEmailThrottle,
        Self::SetCallRecording,
        Self::SetEmailSync,
        Self::SetCalendarSync,
        Self::DeprovisionDialerNumbers,
        Self::CheckConnectionStatus,
    ];

    /// The action's name on the wire (`add_teams`).
    pub fn name(self) -> &'static str {
        match self {
            Self::AddTeams => "add_teams",
            Self::RemoveTeams => "remove_teams",
            Self::SetTeams => "set_teams",
            Self::SetRoles => "set_roles",
            Self::AssignLicenses => "assign_licenses",
            Self::UnassignLicenses => "unassign_licenses",
            Self::SetFlowEnabled => "set_flow_enabled",
            Self::SetEmailThrottle => "set_email_throttle",
            Self::SetCallRecording => "set_call_recording",
            Self::SetEmailSync => "set_email_sync",
            Self::SetCalendarSync => "set_calendar_sync",
            Self::DeprovisionDialerNumbers => "deprovision_dialer_numbers",
            Self::CheckConnectionStatus => "check_connection_status",
        }
    }

    /// The action named `name` on the wire.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether the action joins or leaves teams, and so names at least one
    /// ([`BulkAction::check`](roster_domain::services::BulkAction::check)).
    fn names_teams(self) -> bool {
        matches!(self, Self::AddTeams | Self::RemoveTeams)
    }

    /// The argument field the action needs, if any.
    pub fn argument(self) -> Option<&'static str> {
        match self {
            Self::AddTeams | Self::RemoveTeams | Self::SetTeams => Some("group_ids"),
            Self::SetRoles => Some("roles"),
            Self::AssignLicenses | Self::UnassignLicenses => Some("products"),
            Self::SetFlowEnabled => Some("flow_enabled"),
            Self::SetEmailThrottle => Some("email_throttle_max_per_day"),
            Self::SetCallRecording => Some("call_recording"),
            Self::SetEmailSync => Some("email_sync"),
            Self::SetCalendarSync => Some("calendar_sync"),
            Self::DeprovisionDialerNumbers | Self::CheckConnectionStatus => None,
        }
    }
}

impl BulkUsersRequest {
    /// A request for `action` with no selection and no argument yet (a face that reads a form
    /// fills the fields it was sent).
    pub fn for_action(action: BulkActionName) -> Self {
        Self {
            user_ids: None,
            filter: None,
            action,
            group_ids: None,
            roles: None,
            products: None,
            flow_enabled: None,
            email_throttle_max_per_day: None,
            call_recording: None,
            email_sync: None,
            calendar_sync: None,
            atomic: false,
            dry_run: false,
        }
    }

    /// The action with its argument, or every misplaced field at once.
    ///
    /// # Errors
    /// `validation_failed`: `unexpected` for an argument the action does not take, `required`
    /// for the one it needs, and what the argument's own parsing refuses.
    pub fn action(&self) -> Result<BulkAction, ServiceError> {
        let needed = self.action.argument();
        let mut errors = Vec::new();
        for (field, sent) in arguments(self) {
            if sent && Some(field) != needed {
                errors.push(FieldError::new(field, "unexpected", format!("`{field}` is not used by this action")));
            }
            if !sent && Some(field) == needed {
                errors.push(FieldError::required(field));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let groups =
            || -> BTreeSet<GroupId> { self.group_ids.iter().flatten().map(|g| GroupId::from_uuid(*g)).collect() };
        let products = || -> Result<BTreeSet<Key>, ServiceError> {
            parse_keys("products", self.products.as_deref().unwrap_or(&[]))
                .map_err(|e| ServiceError::Validation(vec![e]))
        };
        let settings = BulkAction::Settings;
        Ok(match self.action {
            BulkActionName::AddTeams => BulkAction::AddTeams(groups()),
            BulkActionName::RemoveTeams => BulkAction::RemoveTeams(groups()),
            BulkActionName::SetTeams => BulkAction::SetTeams(groups()),
            BulkActionName::SetRoles => {
                let mut roles = Vec::new();
                let mut errors = Vec::new();
                for (i, r) in self.roles.iter().flatten().enumerate() {
                    match RoleRef::parse(&r.key) {
                        Ok(role) => roles.push(RoleAssignment { role, scope: r.scope.map(GroupId::from_uuid) }),
                        Err(e) => errors.push(FieldError::invalid(format!("roles[{i}].key"), &e)),
                    }
                }
                if !errors.is_empty() {
                    return Err(ServiceError::Validation(errors));
                }
                BulkAction::SetRoles(roles)
            }
            BulkActionName::AssignLicenses => BulkAction::AssignLicenses(products()?),
            BulkActionName::UnassignLicenses => BulkAction::UnassignLicenses(products()?),
            BulkActionName::SetFlowEnabled => {
                settings(SettingsPatch { flow_enabled: self.flow_enabled, ..SettingsPatch::default() })
            }
            BulkActionName::SetEmailThrottle => settings(SettingsPatch {
                email_throttle_max_per_day: self.email_throttle_max_per_day,
                ..SettingsPatch::default()
            }),
            BulkActionName::SetCallRecording => {
                let call_recording = self.call_recording.map(CallRecording::from);
                settings(SettingsPatch { call_recording, ..SettingsPatch::default() })
            }
            BulkActionName::SetEmailSync => {
                settings(SettingsPatch { email_sync: self.email_sync, ..SettingsPatch::default() })
            }
            BulkActionName::SetCalendarSync => {
                settings(SettingsPatch { calendar_sync: self.calendar_sync, ..SettingsPatch::default() })
            }
            BulkActionName::DeprovisionDialerNumbers => BulkAction::DeprovisionDialerNumbers,
            BulkActionName::CheckConnectionStatus => BulkAction::CheckConnectionStatus,
        })
    }
}

/// The outcome for one user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkOutcomeBody {
    pub user_id: Uuid,
    /// `ok`, or the error code that refused this user (`seat_limit_reached`, `not_found`, …).
    pub status: String,
    /// Why, for a refused user.
    pub message: Option<String>,
    /// For license actions: what changed (or would change) for this user.
    pub licenses: Option<LicenseChangeBody>,
    /// For `check_connection_status`: the CRM's answer; `null` when not linked or not found.
    pub crm_active: Option<bool>,
}

impl From<BulkOutcome> for BulkOutcomeBody {
    fn from(o: BulkOutcome) -> Self {
        Self {
            user_id: o.user_id.as_uuid(),
            status: o.status,
            message: o.message,
            licenses: o.licenses.map(LicenseChangeBody::from),
            crm_active: o.crm_active,
        }
    }
}

/// Seats of one product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeatCountBody {
    pub product: String,
    pub seats_total: u32,
    pub seats_used: u32,
    pub seats_available: u32,
}

impl From<SeatCount> for SeatCountBody {
    fn from(c: SeatCount) -> Self {
        Self {
            product: c.product.as_str().to_owned(),
            seats_total: c.seats_total,
            seats_used: c.seats_used,
            seats_available: c.seats_available,
        }
    }
}

/// `POST /users/bulk` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkUsersResponse {
    /// Whether the changes were written: false for a dry run, and for an atomic request with a
    /// refused user.
    pub applied: bool,
    pub outcomes: Vec<BulkOutcomeBody>,
    /// Seats per product before the request, and after it (as they would be, for a dry run or
    /// a refused atomic request).
    pub seats_before: Vec<SeatCountBody>,
    pub seats_after: Vec<SeatCountBody>,
}

impl From<BulkResult> for BulkUsersResponse {
    fn from(r: BulkResult) -> Self {
        Self {
            applied: r.applied,
            outcomes: r.outcomes.into_iter().map(BulkOutcomeBody::from).collect(),
            seats_before: r.seats_before.into_iter().map(SeatCountBody::from).collect(),
            seats_after: r.seats_after.into_iter().map(SeatCountBody::from).collect(),
        }
    }
}

/// The selection: ids, or the filter as a Users-table query.
fn selection(auth: &Authenticated, body: &BulkUsersRequest) -> ApiResult<BulkSelection> {
    match (&body.user_ids, &body.filter) {
        (Some(ids), None) if ids.is_empty() => {
            Err(ServiceError::Validation(vec![FieldError::new("user_ids", "empty", "select at least one user")]).into())
        }
        (Some(ids), None) => {
            Ok(BulkSelection::Ids(ids.iter().map(|id| roster_domain::ids::UserId::from_uuid(*id)).collect()))
        }
        (None, Some(f)) => Ok(BulkSelection::Filter(Box::new(f.to_query(auth.actor.org_id())?))),
        (Some(_), Some(_)) => Err(ServiceError::Validation(vec![FieldError::new(
            "filter",
            "conflicting",
            "select by user_ids or by filter, not both",
        )])
        .into()),
        (None, None) => Err(ServiceError::Validation(vec![FieldError::required("user_ids")]).into()),
    }
}

#[utoipa::path(
    post, path = "/api/v1/users/bulk", tag = "users",
    request_body = BulkUsersRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (see decision 0017)")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "One outcome per selected user; `applied` says whether anything was written (up to 1,000 users)", body = BulkUsersResponse),
        (status = 202, description = "More than 1,000 users: the work is queued as a job (`Location: /api/v1/jobs/{id}`); its outcomes and result are read from the job", body = crate::routes::jobs::JobBody,
            headers(("Location" = String, description = "The job's URL"))),
        (status = 403, description = "`forbidden`: a selection by filter needs `manage_users`; per-user refusals are outcomes", body = Problem, content_type = "application/problem+json"),
        (status = 409, response = Problem),
        (status = 422, description = "`validation_failed`: no selection, both selections, an empty `user_ids`, a `filter` that matches no user (`no_match`), a missing or unexpected argument, an unknown role or product, a search (`q`) longer than 256 characters, no CRM directory for `check_connection_status`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`crm_unavailable`: `check_connection_status` could not read the CRM directory; nothing was changed", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Applies a bulk action to a selection of users: one outcome per user; `atomic` makes it all
/// or nothing; `dry_run` reports without writing. Over 1,000 users it runs as a job.
pub async fn bulk_users(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<BulkUsersRequest>,
) -> ApiResult<Response> {
    let action = body.action()?;
    let selection = selection(&auth, &body)?;
    let request = BulkRequest { selection, action, atomic: body.atomic, dry_run: body.dry_run };
    Ok(match state.services.submit_bulk(&auth.actor, request).await? {
        BulkSubmission::Done(result) => Json(BulkUsersResponse::from(result)).into_response(),
        BulkSubmission::Queued(job) => crate::routes::jobs::accepted(&job),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_is_named_as_on_the_wire_and_read_back() {
        for action in BulkActionName::ALL {
            assert_eq!(serde_json::to_value(action).ok(), Some(serde_json::json!(action.name())));
            assert_eq!(BulkActionName::parse(action.name()), Some(action));
        }
        assert_eq!(BulkActionName::parse("remove_everyone"), None);
    }
}
