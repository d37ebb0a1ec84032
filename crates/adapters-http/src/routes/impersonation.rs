//! `/api/v1/impersonation` (SPEC §10): start acting as another member of the organization for
//! at most an hour, with a written reason kept in the audit log, and "log back in as myself".
//! The rules (permission, not nested, not oneself, not a deactivated user, same organization)
//! and the impersonating session — written with its audit event, ended with the session that
//! started it — are the domain's (`Services::impersonate`, `Services::end_impersonation`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::ids::UserId;
use roster_domain::values::Reason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::idempotency::ShownOnce;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{ok, parse, rfc3339};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.post("/api/v1/impersonation", start_impersonation).delete("/api/v1/impersonation", stop_impersonation)
}

/// `POST /impersonation`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartImpersonationRequest {
    /// The member to act as (find them with `GET /users?q=`).
    pub user_id: Uuid,
    /// Why; kept in the audit log.
    pub reason: String,
}

/// A session acting as the member.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImpersonationBody {
    /// Send as `Authorization: Bearer <token>`; shown once.
    pub token: String,
    /// At most one hour from now; the session does not slide, and it ends earlier with the
    /// session that started it or with the caller's authority over the member.
    pub expires_at: String,
}

#[utoipa::path(
    post, path = "/api/v1/impersonation", tag = "session",
    request_body = StartImpersonationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry answers 409 `idempotency_replay_unavailable`: the token is shown once")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A session acting as the member, with the caller as impersonator", body = ImpersonationBody),
        (status = 403, description = "`forbidden`: needs `impersonate` over the member; an API key cannot impersonate", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such member in the organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`impersonation_not_allowed`: oneself, a deactivated or invited member, or while impersonating; `idempotency_replay_unavailable`: a retry with the `Idempotency-Key` of an impersonation already started (its token is shown once)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: an empty or too long reason", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Starts an impersonation: a new session acting as the member for at most an hour.
pub async fn start_impersonation(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<StartImpersonationRequest>,
) -> ApiResult<Response> {
    let reason = ok(parse("reason", &body.reason, Reason::parse))?;
    let parent = auth.session.as_ref().map(|s| s.token_hash.as_str());
    let started = state.services.impersonate(&auth.actor, parent, UserId::from_uuid(body.user_id), reason).await?;
    let answer = ImpersonationBody { token: started.token, expires_at: rfc3339(started.expires_at) };
    let mut response = (StatusCode::OK, Json(answer)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(ShownOnce);
    Ok(response)
}

#[utoipa::path(
    delete, path = "/api/v1/impersonation", tag = "session",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "The impersonating session is ended; the impersonator's own session is untouched"),
        (status = 409, description = "`impersonation_not_allowed`: this session is not impersonating", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Ends the impersonation this session is ("log back in as myself").
pub async fn stop_impersonation(State(state): State<AppState>, auth: Authenticated) -> ApiResult<StatusCode> {
    let session = auth.session.as_ref().map(|s| s.token_hash.as_str());
    state.services.end_impersonation(&auth.actor, session).await?;
    Ok(StatusCode::NO_CONTENT)
}
