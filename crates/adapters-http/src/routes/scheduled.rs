//! Scheduled changes (SPEC §3.1): a deactivation or a license removal given a future
//! `effective_at` (a contract end). `POST /users/{id}/scheduled-changes` sets one, `DELETE
//! /scheduled-changes/{id}` cancels a pending one; the user's pending changes come with the user
//! (`scheduled` in `GET /users` and `GET /users/{id}`). The scheduler applies a change when it
//! is due, through the same rules as the change made by hand.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_domain::ids::{ScheduledChangeId, UserId};
use roster_domain::scheduling::ScheduledAction;
use roster_domain::values::Key;
use roster_domain::{FieldError, ServiceError};
use serde::Deserialize;
use utoipa::ToSchema;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{ScheduledChangeBody, ok, parse, parse_time};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/users/{id}/scheduled-changes", schedule_change)
        .delete("/api/v1/scheduled-changes/{id}", cancel_scheduled_change)
}

/// `POST /users/{id}/scheduled-changes`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(examples(
    json!({"action": "deactivate", "effective_at": "2030-01-31T17:00:00Z"}),
    json!({"action": "remove_license", "product": "core", "effective_at": "2030-01-31T17:00:00Z"}),
))]
#[serde(deny_unknown_fields)]
pub struct ScheduleChangeRequest {
    /// `deactivate` or `remove_license`.
    #[schema(pattern = "^(deactivate|remove_license)$")]
    pub action: String,
    /// The product to remove; required for `remove_license`, absent for `deactivate`.
    pub product: Option<String>,
    /// When the change takes effect (RFC 3339, in the future).
    pub effective_at: String,
}

/// The rule between `action` and `product`, in JSON Schema (added to `ScheduleChangeRequest` by
/// the OpenAPI document): a removal names its product, a deactivation none.
pub(crate) fn request_constraints() -> serde_json::Value {
    serde_json::json!([{"oneOf": [
        {"properties": {"action": {"enum": ["deactivate"]}}, "not": {"required": ["product"]}},
        {"properties": {"action": {"enum": ["remove_license"]}}, "required": ["product"]},
    ]}])
}

fn action(body: &ScheduleChangeRequest) -> ApiResult<ScheduledAction> {
    let invalid = |field: &str, code: &'static str, message: &str| {
        ApiError::from(ServiceError::Validation(vec![FieldError::new(field, code, message)]))
    };
    match (body.action.as_str(), body.product.as_deref()) {
        ("deactivate", None) => Ok(ScheduledAction::Deactivate),
        ("deactivate", Some(_)) => Err(invalid("product", "unexpected", "a deactivation names no product")),
        ("remove_license", Some(product)) => {
            Ok(ScheduledAction::RemoveLicense(ok(parse("product", product, Key::parse))?))
        }
        ("remove_license", None) => Err(invalid("product", "required", "the product to remove")),
        _ => Err(invalid("action", "invalid_format", "`deactivate` or `remove_license`")),
    }
}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/scheduled-changes", tag = "users",
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer"),
    ),
    request_body = ScheduleChangeRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The pending change", body = ScheduledChangeBody),
        (status = 400, description = "`invalid_format`: `effective_at` is not an RFC 3339 time", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs `manage_users` over the user", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 409, description = "`self_deactivation`: one's own deactivation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: an unknown action, a product missing, unknown or not held, a time not in the future", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Schedules a deactivation or a license removal for a future time (§3.1).
pub async fn schedule_change(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ScheduleChangeRequest>,
) -> ApiResult<Response> {
    let user: UserId = id.parse().map_err(|_| ApiError::from(ServiceError::not_found("user")))?;
    let action = action(&body)?;
    let effective_at = parse_time("effective_at", &body.effective_at)?;
    let change = state.services.schedule_change(&auth.actor, user, action, effective_at).await?;
    Ok((StatusCode::CREATED, Json(ScheduledChangeBody::from(&change))).into_response())
}

#[utoipa::path(
    delete, path = "/api/v1/scheduled-changes/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "The scheduled change's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Cancelled; it will not be applied"),
        (status = 403, description = "`forbidden`: needs `manage_users` over the user", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no pending change with this id (applied, cancelled and failed ones included)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Cancels a pending scheduled change.
pub async fn cancel_scheduled_change(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: ScheduledChangeId = id.parse().map_err(|_| ApiError::from(ServiceError::not_found("scheduled change")))?;
    state.services.cancel_scheduled(&auth.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
