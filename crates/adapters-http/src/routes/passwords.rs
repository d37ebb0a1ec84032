//! Passwords (SPEC §3): an admin sets a member's password or mails them a reset link
//! (`PUT /users/{id}/password`), a member changes their own (`PUT /me/password`), anyone asks
//! for a reset link (`POST /password-reset`) and sets a new password with it (`POST
//! /password-reset/confirm`). The last two need no session.
//!
//! Handlers translate only: who may change whose password, the throttles, the link's one use
//! and hour, the sessions that end and the mail are the domain's (`Services::set_user_password`,
//! `update_own_password`, `request_password_reset`, `confirm_password_reset`). Decisions:
//! `docs/decisions/0032-password-reset.md`.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::services::{OwnPasswordChange, PasswordChange, PasswordResetRequest};
use roster_domain::values::{Email, Password, Slug};
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::AdditionalProperties};
use utoipa::{PartialSchema, ToSchema};

use super::RouteTable;
use super::common::{path_id, tagged};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ClientAddress};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{UserBody, check, ok, parse};

/// Registers the password routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .put("/api/v1/users/{id}/password", set_user_password)
        .put("/api/v1/me/password", change_own_password)
        .post("/api/v1/password-reset", request_password_reset)
        .post("/api/v1/password-reset/confirm", confirm_password_reset)
}

/// `PUT /users/{id}/password`: exactly one of `password` (set it) and `send_reset: true` (mail
/// the member a reset link). Read as two optional fields and checked by the handler, so that
/// every wrong combination gets a clear problem; the document states the two shapes
/// ([`PartialSchema`] below).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The new password, at least 12 characters.
    pub password: Option<String>,
    /// `true`: mail the member a one-use link, valid for an hour, to choose a password.
    pub send_reset: Option<bool>,
}

impl PartialSchema for SetPasswordRequest {
    fn schema() -> RefOr<Schema> {
        let set = ObjectBuilder::new()
            .title(Some("Set the password"))
            .property(
                "password",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(Password::MIN_CHARS))
                    .description(Some("The member's new password, at least 12 characters")),
            )
            .required("password")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let send = ObjectBuilder::new()
            .title(Some("Mail a reset link"))
            .property(
                "send_reset",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([true]))
                    .description(Some("Mails the member a one-use link to choose a password, valid for one hour")),
            )
            .required("send_reset")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        Schema::OneOf(
            OneOfBuilder::new()
                .item(set)
                .item(send)
                .description(Some("Exactly one of `password` and `send_reset: true`"))
                .examples([json!({"password": "a long new passphrase"}), json!({"send_reset": true})])
                .build(),
        )
        .into()
    }
}

impl ToSchema for SetPasswordRequest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SetPasswordRequest")
    }
}

impl SetPasswordRequest {
    /// The domain's change, or a problem naming the field at fault.
    fn try_into_domain(self) -> ApiResult<PasswordChange> {
        match (self.password, self.send_reset) {
            (None, None) => Err(ApiError::bad_request(
                "password",
                "required",
                "send `password` to set it, or `send_reset: true` to mail a reset link",
            )),
            (Some(_), Some(_)) => Err(ServiceError::Validation(vec![FieldError::new(
                "send_reset",
                "conflicting",
                "send either `password` or `send_reset`, not both",
            )])
            .into()),
            (Some(password), None) => Ok(PasswordChange::Set(ok(parse("password", &password, Password::parse))?)),
            (None, Some(true)) => Ok(PasswordChange::SendReset),
            (None, Some(false)) => Err(ServiceError::Validation(vec![FieldError::new(
                "send_reset",
                "invalid_format",
                "must be true; to set a password, send `password`",
            )])
            .into()),
        }
    }
}

#[utoipa::path(
    put, path = "/api/v1/users/{id}/password", tag = "users",
    params(("id" = Uuid, Path, description = "The member's id")),
    request_body = SetPasswordRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The member as they now are. With `password`: the password is set, every session of the member has ended and so has every reset link (`user.password_set` in the audit log, without the password). With `send_reset`: a one-use link valid for one hour is mailed, superseding the member's older links (`user.password_reset_requested`)", body = UserBody,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 400, description = "`validation_failed`: neither field sent (field code `required` on `password`); `unknown_field`, `invalid_type`, `malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: an impersonating session; no `manage_users` over the member; the member holds more than the caller (dominance, §5); or the caller's own account (use PUT /me/password)", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 409, description = "`user_not_active`: the member is deactivated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a password shorter than 12 characters (`too_short` on `password`); both fields sent (`conflicting` on `send_reset`); `send_reset: false` (`invalid_format`); an invitee, who chooses a password by accepting the invite (`invite_pending`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Sets a member's password, or mails them a reset link (needs `manage_users` over them).
pub async fn set_user_password(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetPasswordRequest>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let change = body.try_into_domain()?;
    let details = state.services.set_user_password(&auth.actor, id, change).await?;
    let body = UserBody::from(details);
    Ok(tagged(StatusCode::OK, body.summary.version, None, body))
}

/// `PUT /me/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeOwnPasswordRequest {
    /// The password the account has now.
    #[schema(min_length = 12)]
    pub current_password: String,
    /// The new password, at least 12 characters.
    #[schema(min_length = 12)]
    pub password: String,
}

#[utoipa::path(
    put, path = "/api/v1/me/password", tag = "session",
    request_body = ChangeOwnPasswordRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Changed: every other session of the member has ended (the calling one stays), and every reset link (`user.password_changed` in the audit log, without the password)"),
        (status = 403, description = "`forbidden`: an impersonating session, or an API key (only a member's own session changes its password)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the member no longer exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `current_password` is not the account's password (`incorrect`; counted as a failed login), a password shorter than 12 characters (`too_short`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many failed logins or wrong current passwords of the account from this address, or from this address across accounts", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    )
)]
/// Changes the caller's own password, proven by the current one.
pub async fn change_own_password(
    State(state): State<AppState>,
    auth: Authenticated,
    address: ClientAddress,
    ApiJson(body): ApiJson<ChangeOwnPasswordRequest>,
) -> ApiResult<StatusCode> {
    let current = parse("current_password", &body.current_password, Password::parse);
    let password = parse("password", &body.password, Password::parse);
    check([current.as_ref().err(), password.as_ref().err()])?;
    let change = OwnPasswordChange {
        current: ok(current)?,
        password: ok(password)?,
        session: auth.session.as_ref().map(|s| s.token_hash.clone()),
        address: address.0,
    };
    state.services.update_own_password(&auth.actor, &change).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /password-reset`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetBody {
    /// The organization's slug.
    pub org: String,
    /// The member's login address.
    #[schema(format = "email")]
    pub email: String,
}

/// The answer to every well-formed reset request: it says nothing about whether the address
/// has an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PasswordResetAcceptedBody {
    /// The address asked for, as normalized.
    pub email: String,
    /// How long a mailed link works, in seconds (3600).
    pub link_valid_for_seconds: u64,
}

#[utoipa::path(
    post, path = "/api/v1/password-reset", tag = "session",
    request_body = PasswordResetBody,
    responses(
        (status = 202, description = "Accepted, alike for every well-formed request: when a member of the organization who can log in has this address, a one-use link `<public URL>/reset-password?token=…`, valid for one hour, is mailed to it and supersedes their older links; otherwise (unknown organization or address, a deactivated member, an invitee) nothing happened", body = PasswordResetAcceptedBody),
        (status = 422, description = "`validation_failed`: a field that cannot be an organization's slug or an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many reset requests from this address (20 an hour), or for this organization and address from anywhere (5 an hour)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next request"))),
    )
)]
/// Asks for a password reset link ("forgot password"; no session).
pub async fn request_password_reset(
    State(state): State<AppState>,
    address: ClientAddress,
    ApiJson(body): ApiJson<PasswordResetBody>,
) -> ApiResult<(StatusCode, Json<PasswordResetAcceptedBody>)> {
    let org = parse("org", &body.org, Slug::parse);
    let email = parse("email", &body.email, Email::parse);
    check([org.as_ref().err(), email.as_ref().err()])?;
    let request = PasswordResetRequest { org: ok(org)?, email: ok(email)? };
    state.services.request_password_reset(&request, &address.0).await?;
    let link_valid_for_seconds =
        u64::try_from(roster_domain::password_resets::RESET_LIFETIME.whole_seconds()).unwrap_or_default();
    Ok((
        StatusCode::ACCEPTED,
        Json(PasswordResetAcceptedBody { email: request.email.to_string(), link_valid_for_seconds }),
    ))
}

/// `POST /password-reset/confirm`: the token of the link `<public URL>/reset-password?token=…`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPasswordResetBody {
    pub token: String,
    /// The new password, at least 12 characters.
    #[schema(min_length = 12)]
    pub password: String,
}

#[utoipa::path(
    post, path = "/api/v1/password-reset/confirm", tag = "session",
    request_body = ConfirmPasswordResetBody,
    responses(
        (status = 204, description = "The password is set; the link is used up with every other link of the member, and every session of the member has ended (`user.password_reset` in the audit log). Log in with POST /session"),
        (status = 400, description = "`invalid_token`: unknown, forged, already used, superseded by a newer link, ended by a password change, expired (after one hour), or its member is deactivated or deleted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a password shorter than 12 characters", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Sets a new password with a reset link's token (no session: the token is the credential).
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ConfirmPasswordResetBody>,
) -> ApiResult<StatusCode> {
    let password = ok(parse("password", &body.password, Password::parse))?;
    state.services.confirm_password_reset(&body.token, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}
