//! Self sign-up (SPEC §8.2): `POST /signup` creates an account waiting for its address to be
//! verified and emails a token; `POST /signup/verify` with that token makes it a member with
//! the `standard` role and no license. Neither needs a session. Whether sign-up is open (auto
//! sign-up on, the address's domain allowed) is the domain's to decide
//! (`Services::request_sign_up`), and the answer is the same either way: 202, or 429 for an
//! address that asks too often.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use roster_domain::ServiceError;
use roster_domain::services::SignupRequest;
use roster_domain::values::{Email, Password, PersonName, Slug};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use crate::extract::{ApiJson, ClientAddress};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{check, ok, parse};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.post("/api/v1/signup", sign_up).post("/api/v1/signup/verify", verify_sign_up)
}

/// `POST /signup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    /// The organization's slug.
    pub org: String,
    /// An address in one of the organization's allowed sign-up domains.
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// At least 12 characters.
    pub password: String,
}

impl SignupBody {
    fn try_into_domain(self) -> Result<SignupRequest, ServiceError> {
        let org = parse("org", &self.org, Slug::parse);
        let email = parse("email", &self.email, Email::parse);
        let first_name = parse("first_name", &self.first_name, PersonName::parse);
        let last_name = parse("last_name", &self.last_name, PersonName::parse);
        let password = parse("password", &self.password, Password::parse);
        check([
            org.as_ref().err(),
            email.as_ref().err(),
            first_name.as_ref().err(),
            last_name.as_ref().err(),
            password.as_ref().err(),
        ])?;
        Ok(SignupRequest {
            org: ok(org)?,
            email: ok(email)?,
            first_name: ok(first_name)?,
            last_name: ok(last_name)?,
            password: ok(password)?,
        })
    }
}

/// The answer to every well-formed sign-up request: it says nothing about whether the
/// organization exists, sign-up is open to the address, or the address already has an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignUpAcceptedBody {
    pub email: String,
    /// Always `true`: if sign-up is open to the address and it has no account yet, an account
    /// waiting for verification now exists and a verification email is on its way.
    pub verification_required: bool,
}

#[utoipa::path(
    post, path = "/api/v1/signup", tag = "signup",
    request_body = SignupBody,
    responses(
        (status = 202, description = "Accepted, alike for every well-formed request: when the organization allows sign-up for the address's domain and the address has no account, the account exists (status `invited`, not billable) and a verification email with a token is queued; otherwise nothing happened", body = SignUpAcceptedBody),
        (status = 422, description = "`validation_failed`: every invalid field (slug, address, names, a password under 12 characters)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many sign-up requests from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next request"))),
    )
)]
/// Signs up to an organization that allows it (no session). The answer is the same whether or
/// not an account was created; the verification email is what tells.
pub async fn sign_up(
    State(state): State<AppState>,
    address: ClientAddress,
    ApiJson(body): ApiJson<SignupBody>,
) -> ApiResult<(StatusCode, Json<SignUpAcceptedBody>)> {
    let request = body.try_into_domain()?;
    let email = request.email.as_str().to_owned();
    state.services.request_sign_up(request, &address.0).await?;
    Ok((StatusCode::ACCEPTED, Json(SignUpAcceptedBody { email, verification_required: true })))
}

/// `POST /signup/verify`: the token of the link `<public URL>/verify-email?token=…`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub token: String,
}

/// A verified account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifiedBody {
    pub user_id: Uuid,
}

#[utoipa::path(
    post, path = "/api/v1/signup/verify", tag = "signup",
    request_body = VerifyBody,
    responses(
        (status = 200, description = "Verified: the account is a member (role `standard`, no license) and can log in with POST /session", body = VerifiedBody),
        (status = 400, description = "`invalid_token`: unknown, forged, used, expired, or an invite's token", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Verifies a sign-up's address with the emailed token (no session).
pub async fn verify_sign_up(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> ApiResult<Json<VerifiedBody>> {
    let user_id = state.services.verify_sign_up(&body.token).await?;
    Ok(Json(VerifiedBody { user_id: user_id.as_uuid() }))
}
