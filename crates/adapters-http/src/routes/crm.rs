//! The CRM directory (SPEC §8.3, §10): `GET /crm/users?q=&page=` (the import dialog's search),
//! `POST /crm/import` (per-id outcomes) and `POST /crm/sync` (the `inactive_in_crm` flag from
//! the CRM's `active`). Which directory answers — Salesforce, a CSV file, none — is the
//! server's configuration; without one these routes answer 503 `crm_not_configured`, and a
//! directory that fails answers 502 `crm_unavailable`.

use axum::Json;
use axum::extract::State;
use roster_domain::ports::{CrmPage, CrmUser};
use roster_domain::services::{CrmImportOutcome, CrmImportRequest, CrmImportStatus};
use roster_domain::values::{CrmId, Key};
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{check, ok, parse, parse_keys};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/crm/users", search_crm_users)
        .post("/api/v1/crm/import", import_crm_users)
        .post("/api/v1/crm/sync", sync_crm)
}

/// `GET /crm/users` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CrmSearchParams {
    /// Text in the first name, last name, full name or address (case-insensitive); empty or
    /// absent lists everyone.
    pub q: Option<String>,
    /// Page number from 1 (default 1); pages hold the directory's page size (50).
    #[param(minimum = 1, maximum = 4_294_967_295_u32)]
    pub page: Option<u32>,
}

/// A user of the CRM directory.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CrmUserBody {
    /// The CRM's id (a Salesforce `005…` id).
    pub crm_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    /// The CRM's active flag.
    pub active: bool,
    pub title: Option<String>,
}

impl From<CrmUser> for CrmUserBody {
    fn from(u: CrmUser) -> Self {
        Self {
            crm_id: u.crm_id.as_str().to_owned(),
            first_name: u.first_name.as_str().to_owned(),
            last_name: u.last_name.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            phone: u.phone.map(|p| p.as_str().to_owned()),
            active: u.active,
            title: u.title,
        }
    }
}

/// One page of a directory search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CrmUserList {
    pub items: Vec<CrmUserBody>,
    /// Always `null`: this list pages by number.
    pub next_cursor: Option<String>,
    /// Always `null`: directories do not count their matches.
    pub total: Option<u64>,
    /// This page's number.
    pub page: u32,
    /// The next page's number, `null` on the last page.
    pub next_page: Option<u32>,
}

#[utoipa::path(
    get, path = "/api/v1/crm/users", tag = "crm",
    params(CrmSearchParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "One page of matching CRM users", body = CrmUserList),
        (status = 403, description = "`forbidden`: needs `manage_users` over the whole organization", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`crm_unavailable`: the directory failed (unreachable, timed out, refused the credentials, rate limited, an unreadable CSV file)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`crm_not_configured`: the server has no CRM directory (`ROSTER_SALESFORCE_*` or `ROSTER_CRM_CSV`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Searches the CRM directory by name or email.
pub async fn search_crm_users(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<CrmSearchParams>,
) -> ApiResult<Json<CrmUserList>> {
    let page = params.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::bad_request("page", "out_of_range", "pages are numbered from 1"));
    }
    let query = params.q.unwrap_or_default();
    let CrmPage { users, next_page } = state.services.search_crm(&auth.actor, query.trim(), page - 1).await?;
    Ok(Json(CrmUserList {
        items: users.into_iter().map(CrmUserBody::from).collect(),
        next_cursor: None,
        total: None,
        page,
        // The directory numbers pages from 0.
        next_page: next_page.map(|p| p.saturating_add(1)),
    }))
}

/// `POST /crm/import` (SPEC §10).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmImportBody {
    /// The CRM ids to import, each once (a repeated id is reported once).
    pub crm_ids: Vec<String>,
    /// Product keys whose seats each created user reserves (with their prerequisites).
    #[serde(default)]
    pub products: Vec<String>,
    /// Role keys each created user gets; `["standard"]` when absent or empty.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Email each created user the invitation to set a password. Without it they stay
    /// `invited` until an admin resends their invite (`POST /invites/{id}/resend`).
    #[serde(default)]
    pub send_welcome_email: bool,
    /// Report the outcomes, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl CrmImportBody {
    fn try_into_domain(self) -> Result<CrmImportRequest, ServiceError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let mut crm_ids = Vec::with_capacity(self.crm_ids.len());
        for (i, id) in self.crm_ids.iter().enumerate() {
            match parse(&format!("crm_ids[{i}]"), id, CrmId::parse) {
                Ok(id) => crm_ids.push(id),
                Err(e) => errors.push(e),
            }
        }
        let products = parse_keys("products", &self.products);
        let roles = parse_keys("roles", &self.roles);
        check(errors.iter().map(Some).chain([products.as_ref().err(), roles.as_ref().err()]))?;
        let roles: Vec<Key> = ok(roles)?.into_iter().collect();
        Ok(CrmImportRequest {
            crm_ids,
            products: ok(products)?,
            roles,
            send_welcome_email: self.send_welcome_email,
            dry_run: self.dry_run,
        })
    }
}

/// The outcome of one CRM id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CrmImportResultBody {
    pub crm_id: String,
    /// `created` (an invited user holding reserved seats), `already_member` (a member has this
    /// CRM id or address — or its phone, said in `message`), `not_found` (not in the
    /// directory), `seat_refused` (no free seat of a product), `invalid` (a product without a
    /// seat pool).
    pub status: String,
    /// The created user, or the member already there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<CrmImportOutcome> for CrmImportResultBody {
    fn from(o: CrmImportOutcome) -> Self {
        let status = match o.status {
            CrmImportStatus::Created => "created",
            CrmImportStatus::AlreadyMember => "already_member",
            CrmImportStatus::NotFound => "not_found",
            CrmImportStatus::SeatRefused => "seat_refused",
            CrmImportStatus::Invalid => "invalid",
        };
        Self {
            crm_id: o.crm_id.as_str().to_owned(),
            status: status.to_owned(),
            user_id: o.user_id.map(|u| u.as_uuid()),
            message: o.message,
        }
    }
}

/// `POST /crm/import` answer (SPEC §10).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CrmImportResponse {
    /// One per distinct id, in the order sent.
    pub results: Vec<CrmImportResultBody>,
    /// False for a dry run.
    pub applied: bool,
}

#[utoipa::path(
    post, path = "/api/v1/crm/import", tag = "crm",
    request_body = CrmImportBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (decision 0017); importing the same ids again is safe anyway (`already_member`)")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "One result per CRM id", body = CrmImportResponse),
        (status = 403, description = "`forbidden`: needs `manage_users` (and `manage_licenses` for products) over the whole organization, and every permission of the roles granted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a malformed CRM id, role or product key, an unknown role or product; nothing is written", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`crm_unavailable`: the directory failed; nothing is written", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`crm_not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Imports users from the CRM directory as invited members.
pub async fn import_crm_users(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CrmImportBody>,
) -> ApiResult<Json<CrmImportResponse>> {
    let request = body.try_into_domain()?;
    let applied = !request.dry_run;
    let outcomes = state.services.import_from_crm(&auth.actor, request).await?;
    Ok(Json(CrmImportResponse { results: outcomes.into_iter().map(CrmImportResultBody::from).collect(), applied }))
}

/// `POST /crm/sync` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CrmSyncResponse {
    /// Members whose `inactive_in_crm` reason was set or cleared (with their seats released
    /// when the organization releases inactive users' seats).
    pub changed_user_ids: Vec<Uuid>,
}

#[utoipa::path(
    post, path = "/api/v1/crm/sync", tag = "crm",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (decision 0017)")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The members whose CRM state changed", body = CrmSyncResponse),
        (status = 403, description = "`forbidden`: needs `manage_users` over the whole organization", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`crm_unavailable`: the directory failed; nothing is changed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`crm_not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Marks members `inactive_in_crm`, or clears it, from the CRM's active flag (takes no body).
pub async fn sync_crm(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<CrmSyncResponse>> {
    let changed = state.services.sync_from_crm(&auth.actor).await?;
    Ok(Json(CrmSyncResponse { changed_user_ids: changed.into_iter().map(|u| u.as_uuid()).collect() }))
}
