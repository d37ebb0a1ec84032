//! Member invites (SPEC §8.1, §10): `GET|POST /invites`, `POST /invites/bulk` (a pasted list),
//! `POST /invites/{id}/resend`, `DELETE /invites/{id}` (revoke) and `POST /invites/accept`, the
//! one of them that needs no session — the invited person holds only the emailed token.
//! The rules (seats, auto sign-up, tokens) are the domain's `Services::invite_members` and
//! its neighbours; decision 0018 records the wire choices.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_domain::ids::{GroupId, InviteId};
use roster_domain::services::{
    AcceptedInvite, BulkPasteOutcome, InviteOutcome, InviteRow, InvitesResult, PasteResult, PasteStatus, PendingInvite,
};
use roster_domain::values::{Email, Key, Password, PersonName};
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use super::common::{path_id, total_of};
use super::users_bulk::SeatCountBody;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{check, ok, parse, parse_keys, rfc3339};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/invites", list_invites)
        .post("/api/v1/invites", create_invites)
        .post("/api/v1/invites/bulk", paste_invites)
        .post("/api/v1/invites/accept", accept_invite)
        .post("/api/v1/invites/{id}/resend", resend_invite)
        .delete("/api/v1/invites/{id}", revoke_invite)
}

/// A pending member invite.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InviteBody {
    pub id: Uuid,
    /// The invited user (status `invited` until the invite is accepted).
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// The products whose seats the invite holds.
    pub products: Vec<String>,
    /// The groups the invite was made for; the invited user joined them with the invite.
    pub group_ids: Vec<Uuid>,
    /// RFC 3339; after it the token no longer works (resend for a new one).
    pub expires_at: String,
    /// The member who invited; `null` for the operator.
    pub created_by: Option<Uuid>,
    pub created_at: String,
}

impl From<PendingInvite> for InviteBody {
    fn from(p: PendingInvite) -> Self {
        Self {
            id: p.invite.id.as_uuid(),
            user_id: p.invite.user_id.as_uuid(),
            email: p.email.as_str().to_owned(),
            first_name: p.first_name.as_str().to_owned(),
            last_name: p.last_name.as_str().to_owned(),
            products: names(&p.invite.products),
            group_ids: p.invite.group_ids.iter().map(|g| g.as_uuid()).collect(),
            expires_at: rfc3339(p.invite.expires_at),
            created_by: p.invite.created_by.map(|u| u.as_uuid()),
            created_at: rfc3339(p.invite.created_at),
        }
    }
}

fn names(keys: &BTreeSet<Key>) -> Vec<String> {
    keys.iter().map(|k| k.as_str().to_owned()).collect()
}

/// The pending invites, whole (each holds at least one seat, so there are never more than the
/// organization's seats).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InviteList {
    pub items: Vec<InviteBody>,
    /// Always `null`: the list is whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/invites", tag = "invites",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The pending member invites, oldest first", body = InviteList),
        (status = 403, description = "`forbidden`: needs `manage_users` over the whole organization", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The pending member invites.
pub async fn list_invites(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<InviteList>> {
    let items: Vec<InviteBody> =
        state.services.list_invites(&auth.actor).await?.into_iter().map(InviteBody::from).collect();
    let total = total_of(&items);
    Ok(Json(InviteList { items, next_cursor: None, total }))
}

/// One row of `POST /invites`. Every field but `group_ids` is mandatory; a row missing some is
/// answered with all of them named at once (`invites[2].email`), so the fields are optional
/// here.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRowRequest {
    /// The person's full name (`Ada Lovelace`): the last word is the last name.
    #[schema(required)]
    pub name: Option<String>,
    #[schema(required)]
    pub email: Option<String>,
    /// Role keys (`standard`); at least one.
    #[schema(required, min_items = 1)]
    pub roles: Option<Vec<String>>,
    /// Product keys whose seats the invite reserves; at least one.
    #[schema(required, min_items = 1)]
    pub products: Option<Vec<String>>,
    /// Groups (depth 2 or 3) the invitee joins at once, each one you manage
    /// (`manage_groups`; 403 otherwise). An unknown, deleted or root group answers 422 naming
    /// `invites[i].group_ids[j]` (`unknown_group`, `root_group`); either refuses the whole
    /// request and nothing is created. Absent or empty: the invitee joins no group.
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
}

/// `POST /invites`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitesRequest {
    pub invites: Vec<InviteRowRequest>,
    /// Report the outcomes and seats, write nothing (answers 200 instead of 201).
    #[serde(default)]
    pub dry_run: bool,
}

impl CreateInvitesRequest {
    /// The domain's rows, or every missing and invalid field of every row at once.
    fn try_into_domain(self) -> Result<Vec<InviteRow>, ServiceError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let mut rows = Vec::with_capacity(self.invites.len());
        for (i, row) in self.invites.into_iter().enumerate() {
            let field = |name: &str| format!("invites[{i}].{name}");
            let name = required(row.name, &field("name")).and_then(|n| parse(&field("name"), &n, PersonName::parse));
            let email = required(row.email, &field("email")).and_then(|e| parse(&field("email"), &e, Email::parse));
            let roles = required(row.roles, &field("roles")).and_then(|r| parse_keys(&field("roles"), &r));
            let products = required(row.products, &field("products")).and_then(|p| parse_keys(&field("products"), &p));
            errors.extend(
                [name.as_ref().err(), email.as_ref().err(), roles.as_ref().err(), products.as_ref().err()]
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            if let (Ok(name), Ok(email), Ok(roles), Ok(products)) = (name, email, roles, products) {
                let group_ids = row.group_ids.into_iter().map(GroupId::from_uuid).collect();
                rows.push(InviteRow { name, email, roles: roles.into_iter().collect(), products, group_ids });
            }
        }
        if errors.is_empty() { Ok(rows) } else { Err(ServiceError::Validation(errors)) }
    }
}

/// A mandatory field's value, or its `required` error.
fn required<T>(value: Option<T>, field: &str) -> Result<T, FieldError> {
    value.ok_or_else(|| FieldError::required(field))
}

/// The outcome of one row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InviteResultBody {
    pub email: String,
    /// `created`, or the code that refused the row: `seat_limit_reached`, `conflict` (the
    /// address is a member's or listed twice), `validation_failed` (an unknown role or product),
    /// `forbidden` (a role with permissions you lack), `missing_prerequisite`.
    pub status: String,
    /// For a created row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<Uuid>,
    /// Why, for a refused row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<InviteOutcome> for InviteResultBody {
    fn from(o: InviteOutcome) -> Self {
        Self {
            email: o.email.as_str().to_owned(),
            status: o.status.as_str().to_owned(),
            invite_id: o.invite_id.map(|i| i.as_uuid()),
            message: o.message,
        }
    }
}

/// Seats per product before the request and after it (as they would be, for a dry run).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InviteSeatsBody {
    pub before: Vec<SeatCountBody>,
    pub after: Vec<SeatCountBody>,
}

/// `POST /invites` answer (SPEC §10).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitesResponse {
    /// One per row, in the order sent.
    pub results: Vec<InviteResultBody>,
    pub seats: InviteSeatsBody,
    /// False for a dry run.
    pub applied: bool,
}

impl From<InvitesResult> for InvitesResponse {
    fn from(r: InvitesResult) -> Self {
        Self {
            results: r.results.into_iter().map(InviteResultBody::from).collect(),
            seats: seats_body(r.seats_before, r.seats_after),
            applied: r.applied,
        }
    }
}

fn seats_body(
    before: Vec<roster_domain::seats::SeatCount>,
    after: Vec<roster_domain::seats::SeatCount>,
) -> InviteSeatsBody {
    InviteSeatsBody {
        before: before.into_iter().map(SeatCountBody::from).collect(),
        after: after.into_iter().map(SeatCountBody::from).collect(),
    }
}

/// 201 when something was written, 200 for a dry run.
fn created_or_reported(applied: bool, body: impl Serialize) -> Response {
    let status = if applied { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(body)).into_response()
}

#[utoipa::path(
    post, path = "/api/v1/invites", tag = "invites",
    request_body = CreateInvitesRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (decision 0017)")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "One result per row (refused rows are results, not errors) and the seats before and after", body = InvitesResponse),
        (status = 200, description = "A dry run: the same answer, nothing written", body = InvitesResponse),
        (status = 403, description = "`forbidden`: needs `manage_users` and `manage_licenses` over the whole organization, and `manage_groups` over every group of every row; nothing is written", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`auto_signup_enabled`: invites are refused while auto sign-up is on", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: every missing or invalid field of every row (`invites[1].email`), empty `roles` or `products`, no rows, a group that is no live group below the root (`invites[0].group_ids[1]`: `unknown_group`, `root_group`); nothing is written", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Invites members: each row creates an `invited` user who joins the row's groups, reserves a
/// seat of each product and queues the invitation email, or is refused on its own.
pub async fn create_invites(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateInvitesRequest>,
) -> ApiResult<Response> {
    let dry_run = body.dry_run;
    let rows = body.try_into_domain()?;
    let result = state.services.invite_members(&auth.actor, rows, dry_run).await?;
    Ok(created_or_reported(result.applied, InvitesResponse::from(result)))
}

/// `POST /invites/bulk`: a pasted list and the roles and products every entry gets.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasteInvitesRequest {
    /// Entries separated by commas or new lines, each `email`, `Name <email>` or a CSV line
    /// `name,email`.
    pub text: String,
    /// Role keys every entry gets; at least one.
    #[schema(min_items = 1)]
    pub roles: Vec<String>,
    /// Product keys every entry reserves; at least one.
    #[schema(min_items = 1)]
    pub products: Vec<String>,
    /// Groups (depth 2 or 3) every entry joins, each one you manage (`manage_groups`; 403
    /// otherwise); an unknown, deleted or root group answers 422 naming `group_ids[j]`, and
    /// nothing is created.
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
    /// Report the outcomes and seats, write nothing (answers 200 instead of 201).
    #[serde(default)]
    pub dry_run: bool,
}

/// The outcome of one pasted entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PasteResultBody {
    /// The entry as pasted (trimmed).
    pub entry: String,
    /// `created`, `duplicate` (listed twice, or already a member's address), `invalid` (not
    /// an address or a name), `refused` (see `code`).
    pub status: String,
    /// For `refused` and a member's `duplicate`: the refusing code (`seat_limit_reached`,
    /// `conflict`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<BulkPasteOutcome> for PasteResultBody {
    fn from(o: BulkPasteOutcome) -> Self {
        Self {
            entry: o.entry,
            status: status_name(o.status).to_owned(),
            code: o.code.map(|c| c.as_str().to_owned()),
            invite_id: o.invite_id.map(|i| i.as_uuid()),
            message: o.message,
        }
    }
}

fn status_name(status: PasteStatus) -> &'static str {
    match status {
        PasteStatus::Created => "created",
        PasteStatus::Duplicate => "duplicate",
        PasteStatus::Invalid => "invalid",
        PasteStatus::Refused => "refused",
    }
}

/// How many entries ended in each status.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PasteCounts {
    pub created: u64,
    pub duplicate: u64,
    pub invalid: u64,
    pub refused: u64,
}

/// `POST /invites/bulk` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PasteResponse {
    /// One per non-blank entry, in the order pasted.
    pub results: Vec<PasteResultBody>,
    pub counts: PasteCounts,
    pub seats: InviteSeatsBody,
    /// False for a dry run.
    pub applied: bool,
}

impl From<PasteResult> for PasteResponse {
    fn from(r: PasteResult) -> Self {
        let mut counts = PasteCounts::default();
        for o in &r.results {
            let slot = match o.status {
                PasteStatus::Created => &mut counts.created,
                PasteStatus::Duplicate => &mut counts.duplicate,
                PasteStatus::Invalid => &mut counts.invalid,
                PasteStatus::Refused => &mut counts.refused,
            };
            *slot += 1;
        }
        Self {
            results: r.results.into_iter().map(PasteResultBody::from).collect(),
            counts,
            seats: seats_body(r.seats_before, r.seats_after),
            applied: r.applied,
        }
    }
}

#[utoipa::path(
    post, path = "/api/v1/invites/bulk", tag = "invites",
    request_body = PasteInvitesRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (decision 0017)")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "One result per entry; valid entries are invited even when others are not", body = PasteResponse),
        (status = 200, description = "A dry run: the same answer, nothing written", body = PasteResponse),
        (status = 403, description = "`forbidden`: needs `manage_users` and `manage_licenses` over the whole organization, and `manage_groups` over every group of `group_ids`; nothing is written", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`auto_signup_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the paste is larger than the body limit (`ROSTER_MAX_BODY_BYTES`, 1 MiB by default: some 40,000 addresses); nothing is written", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: no entry in `text`, empty `roles` or `products`, an invalid role or product key, a group that is no live group below the root (`group_ids[0]`: `unknown_group`, `root_group`); nothing is written", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Invites every entry of a pasted list with the same roles and products.
pub async fn paste_invites(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<PasteInvitesRequest>,
) -> ApiResult<Response> {
    let roles = parse_keys("roles", &body.roles);
    let products = parse_keys("products", &body.products);
    check([roles.as_ref().err(), products.as_ref().err()])?;
    let roles: Vec<Key> = ok(roles)?.into_iter().collect();
    let groups = body.group_ids.iter().copied().map(GroupId::from_uuid).collect();
    let result =
        state.services.invite_pasted(&auth.actor, &body.text, roles, ok(products)?, groups, body.dry_run).await?;
    Ok(created_or_reported(result.applied, PasteResponse::from(result)))
}

#[utoipa::path(
    post, path = "/api/v1/invites/{id}/resend", tag = "invites",
    params(
        ("id" = Uuid, Path, description = "The invite's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer instead of sending another email (decision 0017)"),
    ),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The invite with its new expiry; a new email is queued and the old token no longer works", body = InviteBody),
        (status = 403, description = "`forbidden`: needs `manage_users` over the whole organization", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no pending invite with this id in your organization (accepted, revoked, or another organization's)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Sends an invite again with a new token (takes no body).
pub async fn resend_invite(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<InviteBody>> {
    let id: InviteId = path_id(&id, "invite")?;
    Ok(Json(InviteBody::from(state.services.resend_invite(&auth.actor, id).await?)))
}

#[utoipa::path(
    delete, path = "/api/v1/invites/{id}", tag = "invites",
    params(("id" = Uuid, Path, description = "The invite's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Revoked: the seats are released, the invited user removed, the token dead"),
        (status = 403, description = "`forbidden`: needs `manage_users` over the whole organization", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no pending invite with this id in your organization", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Revokes a pending invite.
pub async fn revoke_invite(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: InviteId = path_id(&id, "invite")?;
    state.services.revoke_invite(&auth.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /invites/accept` (SPEC §10): the emailed token and the password to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    /// The `token` of the link `<public URL>/accept-invite?token=…`.
    pub token: String,
    /// At least 12 characters.
    pub password: String,
}

/// The account an accepted invite activated.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AcceptedInviteBody {
    pub user_id: Uuid,
    /// The licenses the reserved seats became.
    pub products: Vec<String>,
}

impl From<AcceptedInvite> for AcceptedInviteBody {
    fn from(a: AcceptedInvite) -> Self {
        Self { user_id: a.user_id.as_uuid(), products: names(&a.products) }
    }
}

#[utoipa::path(
    post, path = "/api/v1/invites/accept", tag = "invites",
    request_body = AcceptInviteRequest,
    responses(
        (status = 200, description = "Accepted: the password is set, the user leaves `invited`, the reserved seats are now licenses; the token is dead. Log in with POST /session", body = AcceptedInviteBody),
        (status = 400, description = "`invalid_token`: unknown, forged, already used, expired, revoked, or a sign-up token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a password shorter than 12 characters", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Accepts an invite with the emailed token (no session: the token is the credential).
pub async fn accept_invite(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AcceptInviteRequest>,
) -> ApiResult<Json<AcceptedInviteBody>> {
    let password: Password = ok(parse("password", &body.password, Password::parse))?;
    let accepted = state.services.accept_invite(&body.token, &password).await?;
    Ok(Json(AcceptedInviteBody::from(accepted)))
}
