//! Sessions (SPEC §10): `POST /session` (password login), `DELETE /session` (logout), `GET
//! /me`. `POST /auth/login` and `POST /auth/logout` are the same operations under the names the
//! console's first draft used.
//!
//! Handlers translate only: the domain's `Services::log_in` throttles (per account and source
//! address, and per address), verifies, issues the session and audits; `Services::log_out`
//! ends it. The source address is the TCP peer ([`ClientAddress`]).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::ServiceError;
use roster_domain::audit::Source;
use roster_domain::roles::Permission;
use roster_domain::services::{LoggedIn, LoginAttempt};
use roster_domain::values::{Email, Password, Slug};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use crate::auth::{Authenticated, cleared_cookie, session_cookie};
use crate::extract::{ApiJson, ClientAddress};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{UserBody, check, ok, parse, rfc3339};

/// Registers the session routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/session", login)
        .delete("/api/v1/session", logout)
        .post("/api/v1/auth/login", login_alias)
        .post("/api/v1/auth/logout", logout_alias)
        .get("/api/v1/me", me)
}

/// `POST /session`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The organization's slug.
    pub org: String,
    pub email: String,
    pub password: String,
}

/// A new session. The token is also set as the `roster_session` cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
    pub user: UserBody,
}

#[utoipa::path(
    post, path = "/api/v1/session", tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse,
            headers(("Set-Cookie" = String, description = "roster_session, HttpOnly, SameSite=Strict"))),
        (status = 401, description = "Unknown organization, email or wrong password (alike)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field that cannot be an org slug, email or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many recent failures of the account from this address, or from this address across accounts; each further failure doubles the wait (1 s, 2 s, 4 s, … up to 15 min)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    )
)]
/// Logs in with a password.
pub async fn login(
    State(state): State<AppState>,
    address: ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let org = parse("org", &body.org, Slug::parse);
    let email = parse("email", &body.email, Email::parse);
    let password = parse("password", &body.password, Password::parse);
    check([org.as_ref().err(), email.as_ref().err(), password.as_ref().err()])?;
    let attempt = LoginAttempt {
        org: ok(org)?,
        email: ok(email)?,
        password: ok(password)?,
        address: address.0,
        source: Source::Api,
    };
    let logged_in = match state.services.log_in(&attempt).await {
        Ok(logged_in) => logged_in,
        Err(ServiceError::Unauthenticated) => {
            return Err(ApiError::unauthenticated("unknown organization, email or password"));
        }
        Err(other) => return Err(other.into()),
    };
    let LoggedIn { token, session, user } = logged_in;
    let actor = state.services.resolve_actor(user.org_id, user.id, Source::Api, None).await?;
    let details = state.services.get_user(&actor, user.id).await?;
    let cookie = session_cookie(&state, &token);
    let body = LoginResponse { token, expires_at: rfc3339(session.expires_at), user: UserBody::from(details) };
    let mut response = axum::Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in (same as POST /session)", body = LoginResponse),
        (status = 401, response = Problem),
        (status = 422, response = Problem),
        (status = 429, description = "`rate_limited` (same as POST /session)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    )
)]
/// The same as `POST /session`.
pub async fn login_alias(
    state: State<AppState>,
    address: ClientAddress,
    body: ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    login(state, address, body).await
}

#[utoipa::path(
    delete, path = "/api/v1/session", tag = "session",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 204, description = "Logged out; the cookie is cleared"))
)]
/// Ends the calling session (an API key has none: nothing changes).
pub async fn logout(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    if let Some(session) = &auth.session {
        state.services.log_out(&session.token_hash).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&cleared_cookie(&state)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "session",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 204, description = "Logged out (same as DELETE /session)"))
)]
/// The same as `DELETE /session`.
pub async fn logout_alias(state: State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    logout(state, auth).await
}

/// The caller: the member (an API key's creator), their permissions, and who impersonates.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserBody,
    pub org_id: Uuid,
    /// Effective permissions (§5), snake_case.
    pub permissions: Vec<String>,
    /// Set while an admin impersonates this member.
    pub impersonator_id: Option<Uuid>,
    /// `session` or `api_key`.
    pub authenticated_by: String,
}

#[utoipa::path(
    get, path = "/api/v1/me", tag = "session",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 404, description = "The key's creator no longer exists", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Who is calling.
pub async fn me(State(state): State<AppState>, auth: Authenticated) -> ApiResult<axum::Json<MeResponse>> {
    let actor = &auth.actor;
    let user_id = actor.user_id().ok_or_else(|| ApiError::from(ServiceError::not_found("user")))?;
    // Every member may read themself; an API key acts for (and reads) its creator.
    let details = state.services.get_user(actor, user_id).await?;
    let permissions = Permission::ALL
        .iter()
        .filter(|p| actor.has(**p))
        .map(|p| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    Ok(axum::Json(MeResponse {
        user: UserBody::from(details),
        org_id: actor.org_id().as_uuid(),
        permissions,
        impersonator_id: actor.impersonator_id().map(|i| i.as_uuid()),
        authenticated_by: if auth.session.is_some() { "session" } else { "api_key" }.to_owned(),
    }))
}
