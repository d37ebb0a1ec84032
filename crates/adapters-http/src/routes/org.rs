//! The organization's overviews and settings (SPEC §2, §4.4, §10): `GET /licenses` (the seat
//! counts the invite screen shows), `GET /billing`, `GET|PATCH /org/settings`.

use axum::Json;
use axum::extract::State;
use roster_domain::org::{OrgSettings, SettingsChange};
use roster_domain::seats::BillingSummary;
use roster_domain::values::{EmailDomain, Key};
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::RouteTable;
use super::users_bulk::SeatCountBody;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{parse, rfc3339};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/licenses", licenses)
        .get("/api/v1/billing", billing)
        .get("/api/v1/org/settings", settings)
        .patch("/api/v1/org/settings", update_settings)
}

/// Seats per product, as a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenseList {
    pub items: Vec<SeatCountBody>,
    /// Always `null`: the list is whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/licenses", tag = "licenses",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Seats total, used and available per product", body = LicenseList),
        (status = 403, description = "`forbidden`: needs `manage_users` or `manage_licenses`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Seats per product: what the invite screen shows.
pub async fn licenses(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<LicenseList>> {
    let counts = state.services.license_counts(&auth.actor).await?;
    let items: Vec<SeatCountBody> = counts.into_iter().map(SeatCountBody::from).collect();
    let total = Some(items.len() as u64);
    Ok(Json(LicenseList { items, next_cursor: None, total }))
}

/// `GET /billing` (§4.4).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BillingBody {
    /// Users who are not deactivated, not deleted and not invited.
    pub billable_users: u64,
    pub seats: Vec<SeatCountBody>,
    /// RFC 3339; `null` without a trial.
    pub trial_ends_at: Option<String>,
    pub in_trial: bool,
}

impl From<BillingSummary> for BillingBody {
    fn from(b: BillingSummary) -> Self {
        Self {
            billable_users: b.billable_users,
            seats: b.seats.into_iter().map(SeatCountBody::from).collect(),
            trial_ends_at: b.trial_ends_at.map(rfc3339),
            in_trial: b.in_trial,
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/billing", tag = "licenses",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Billable users, seats per product, the trial", body = BillingBody),
        (status = 403, description = "`forbidden`: needs `manage_licenses` or `view_reporting`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Billable users, seats per product and the trial.
pub async fn billing(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<BillingBody>> {
    Ok(Json(BillingBody::from(state.services.billing(&auth.actor).await?)))
}

/// The organization's settings (§2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingsBody {
    pub auto_signup: bool,
    pub allowed_signup_domains: Vec<String>,
    pub release_seats_when_inactive: bool,
    /// Seats a new product gets; set by the operator only.
    pub default_seat_limit: u32,
    /// Product keys a member provisioned through SCIM (`/scim/v2`) gets when created or
    /// reactivated, as seats allow; empty by default.
    pub scim_products: Vec<String>,
}

impl From<OrgSettings> for SettingsBody {
    fn from(s: OrgSettings) -> Self {
        Self {
            auto_signup: s.auto_signup,
            allowed_signup_domains: s.allowed_signup_domains.iter().map(|d| d.as_str().to_owned()).collect(),
            release_seats_when_inactive: s.release_seats_when_inactive,
            default_seat_limit: s.default_seat_limit,
            scim_products: s.scim_products.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/org/settings", tag = "settings",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "The settings", body = SettingsBody))
)]
/// The organization's settings (any member may read them).
pub async fn settings(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<SettingsBody>> {
    Ok(Json(SettingsBody::from(state.services.settings(&auth.actor).await?)))
}

/// `PATCH /org/settings`: only the fields present change. Turning `auto_signup` off needs
/// `confirm: true` (the console's confirmation dialog).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatchRequest {
    pub auto_signup: Option<bool>,
    /// Email domains whose owners may sign up (`example.com`).
    pub allowed_signup_domains: Option<Vec<String>>,
    pub release_seats_when_inactive: Option<bool>,
    /// Product keys a member provisioned through SCIM gets (replacing the list); each must be
    /// in the organization's catalog.
    pub scim_products: Option<Vec<String>>,
    #[serde(default)]
    pub confirm: bool,
}

impl SettingsPatchRequest {
    fn try_into_domain(self) -> Result<SettingsChange, ServiceError> {
        let domains = self
            .allowed_signup_domains
            .map(|ds| {
                let parsed: Vec<Result<EmailDomain, FieldError>> = ds
                    .iter()
                    .enumerate()
                    .map(|(i, d)| parse(&format!("allowed_signup_domains[{i}]"), d, EmailDomain::parse))
                    .collect();
                let errors: Vec<FieldError> = parsed.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
                if errors.is_empty() {
                    Ok(parsed.into_iter().filter_map(Result::ok).collect())
                } else {
                    Err(ServiceError::Validation(errors))
                }
            })
            .transpose()?;
        let scim_products = self
            .scim_products
            .map(|ps| {
                let parsed: Vec<Result<Key, FieldError>> =
                    ps.iter().enumerate().map(|(i, p)| parse(&format!("scim_products[{i}]"), p, Key::parse)).collect();
                let errors: Vec<FieldError> = parsed.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
                if errors.is_empty() {
                    Ok(parsed.into_iter().filter_map(Result::ok).collect())
                } else {
                    Err(ServiceError::Validation(errors))
                }
            })
            .transpose()?;
        Ok(SettingsChange {
            auto_signup: self.auto_signup,
            allowed_signup_domains: domains,
            release_seats_when_inactive: self.release_seats_when_inactive,
            scim_products,
            confirm: self.confirm,
        })
    }
}

#[utoipa::path(
    patch, path = "/api/v1/org/settings", tag = "settings",
    request_body = SettingsPatchRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The settings after the change", body = SettingsBody),
        (status = 403, description = "`forbidden`: needs `manage_settings` over the whole organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`confirmation_required` (auto sign-up off without `confirm: true`), `validation_failed` (a bad domain, an unknown product in `scim_products`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Changes settings; turning auto sign-up off needs `confirm: true`.
pub async fn update_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<SettingsPatchRequest>,
) -> ApiResult<Json<SettingsBody>> {
    let change = body.try_into_domain()?;
    Ok(Json(SettingsBody::from(state.services.update_settings(&auth.actor, change).await?)))
}
