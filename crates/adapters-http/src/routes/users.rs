//! `/api/v1/users`: the Users table, one user, creation, profile changes and licenses
//! (SPEC §3, §4.3, §10). Handlers parse, call one service, and shape the answer.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::ids::{GroupId, UserId};
use roster_domain::services::{NewUser, ProfilePatch};
use roster_domain::user::InactiveReason;
use roster_domain::users_query::{UserCursor, UserPaging};
use roster_domain::values::{AgentId, CrmId, Email, Nicknames, Password, PersonName, Phone};
use roster_domain::{FieldError, ServiceError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiQuery, IfMatch, etag};
use crate::pagination::{Paging, encode_cursor, paging};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::user_fields::{UserSettingsRequest, nicknames_schema, present};
use crate::users_filter::{FilteredQuery, SortKeys, UsersFilter, parse_sort};
use crate::wire::{LicenseChangeBody, UserBody, UserList, ok, parse, parse_keys, parse_opt};

/// Registers the users routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/users", list_users)
        .post("/api/v1/users", create_user)
        .get("/api/v1/users/{id}", get_user)
        .patch("/api/v1/users/{id}", update_user)
        .delete("/api/v1/users/{id}", delete_user)
        .post("/api/v1/users/{id}/deactivate", deactivate_user)
        .post("/api/v1/users/{id}/reactivate", reactivate_user)
        .post("/api/v1/users/{id}/restore", restore_user)
        .put("/api/v1/users/{id}/inactive-reasons", set_inactive_reasons)
        .put("/api/v1/users/{id}/licenses", set_licenses)
}

/// Sort and paging of the Users table (its filter is [`UsersFilter`]).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListUsersParams {
    /// `field,-field2` over the table's columns: `first_name`, `last_name`, `email`,
    /// `created_at`, `updated_at`, `agent_id`, `crm_id`, `phone`, `agent_ring_number`,
    /// `dialer_number`, `status`, `products`, `product:<key>`, `roles`, `teams`, `scheduled`,
    /// and the settings `mailbox_provider`, `email_throttle_max_per_day`, `flow_enabled`,
    /// `email_sync`, `calendar_sync`, `call_recording`, `homepage`, `round_robin`,
    /// `scoring_enabled`, `roaming_agent`, `voip_forward_to`; `id` breaks ties. Default
    /// `last_name,first_name`.
    #[param(value_type = Option<SortKeys>, inline, style = Form, explode = false)]
    pub sort: Option<String>,
    /// Rows per cursor page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page number from 1 (with `per_page`; answers `total`).
    #[param(minimum = 1, maximum = 4_294_967_295_u32)]
    pub page: Option<u32>,
    /// 10, 25 or 50.
    #[param(schema_with = per_page_schema)]
    pub per_page: Option<u32>,
}

/// The page sizes of the Users table.
fn per_page_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .enum_values(Some([10, 25, 50]))
        .build()
}

#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(UsersFilter, ListUsersParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "One page of the Users table", body = UserList),
        (status = 403, response = Problem),
        (status = 422, description = "An unknown role; a search (`q`) longer than 256 characters", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The Users table: filters, sort and a page (needs `manage_users`).
pub async fn list_users(
    State(state): State<AppState>,
    auth: Authenticated,
    FilteredQuery { filter, params }: FilteredQuery<ListUsersParams>,
) -> ApiResult<axum::Json<UserList>> {
    let mut query = filter.to_query(auth.actor.org_id())?;
    query.sort = parse_sort(params.sort.as_deref())?;
    let sort_key = params.sort.clone().unwrap_or_default();
    let paging: Paging<UserCursor> =
        paging(params.limit, params.cursor.as_deref(), params.page, params.per_page, &sort_key)?;
    query.paging = Some(match paging {
        Paging::Cursor { after, limit } => UserPaging::Cursor { after, limit },
        Paging::Page { page, per_page } => UserPaging::Page { page, per_page },
    });
    let page = state.services.list_users(&auth.actor, query).await?;
    Ok(axum::Json(UserList {
        items: page.items.into_iter().map(UserBody::from).collect(),
        next_cursor: page.next_cursor.map(|c| encode_cursor(&sort_key, &c)),
        total: page.total,
    }))
}

/// A user id in the path; anything else is not a user of ours (404).
fn user_id(id: &str) -> ApiResult<UserId> {
    id.parse().map_err(|_| ApiError::from(ServiceError::not_found("user")))
}

/// A user answer with its `ETag`.
fn with_etag(status: StatusCode, body: UserBody) -> Response {
    let tag = etag(body.summary.version);
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user", body = UserBody,
            headers(("ETag" = String, description = "The user's version, for If-Match"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
    )
)]
/// One user with status, products and groups.
pub async fn get_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let details = state.services.get_user(&auth.actor, user_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, UserBody::from(details)))
}

/// `POST /users`: every field of SPEC §3. Each bad value answers 422 `validation_failed`
/// naming the field (all of them at once), and nothing is created.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The login address (trimmed, lower-cased; `local@domain.tld` without quoted parts or IP
    /// literals): free among the organization's members.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 1–100 characters after trimming (inner spaces collapsed), no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: String,
    /// 1–100 characters after trimming (inner spaces collapsed), no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: String,
    /// `+` and 8–15 digits, the first not 0 (spaces, `-`, `.`, parentheses and a leading `00`
    /// are removed first); free among the organization's members.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(schema_with = nicknames_schema)]
    pub nicknames: Vec<String>,
    /// 1–64 of letters, digits, `.`, `_`, `-`; free among the organization's members.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub agent_id: Option<String>,
    /// The CRM's user id: 1–64 of letters, digits, `_`, `-`; free among the organization's
    /// members.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub crm_id: Option<String>,
    /// The number the dialer rings to reach the agent: a phone number as `phone`.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub agent_ring_number: Option<String>,
    /// The outbound number provisioned for the dialer: a phone number as `phone`.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub dialer_number: Option<String>,
    /// The settings; each one left out takes its default.
    pub settings: Option<UserSettingsRequest>,
    /// Role keys; `["standard"]` when absent. A role only the operator grants (`scorer`)
    /// answers 403.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Groups (depth 2 or 3) the user joins, each one you manage (`manage_groups`); an unknown,
    /// deleted or root group answers 422 naming `group_ids[i]` (`unknown_group`, `root_group`).
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
    /// Product keys to assign at once.
    #[serde(default)]
    pub products: Vec<String>,
    /// An initial password, at least 12 characters; without one the member has none until an
    /// admin sets it or they use a reset link.
    #[schema(min_length = 12)]
    pub password: Option<String>,
}

impl CreateUserRequest {
    /// The domain's request, or every invalid field at once.
    fn try_into_domain(self) -> Result<NewUser, ServiceError> {
        let email = parse("email", &self.email, Email::parse);
        let first_name = parse("first_name", &self.first_name, PersonName::parse);
        let last_name = parse("last_name", &self.last_name, PersonName::parse);
        let phone = parse_opt("phone", self.phone.as_deref(), Phone::parse);
        let nicknames = Nicknames::parse(self.nicknames.iter()).map_err(|e| FieldError::invalid("nicknames", &e));
        let agent_id = parse_opt("agent_id", self.agent_id.as_deref(), AgentId::parse);
        let crm_id = parse_opt("crm_id", self.crm_id.as_deref(), CrmId::parse);
        let agent_ring_number = parse_opt("agent_ring_number", self.agent_ring_number.as_deref(), Phone::parse);
        let dialer_number = parse_opt("dialer_number", self.dialer_number.as_deref(), Phone::parse);
        let settings = self.settings.unwrap_or_default().try_into_domain();
        let roles = parse_keys("roles", &self.roles);
        let products = parse_keys("products", &self.products);
        let password = parse_opt("password", self.password.as_deref(), Password::parse);
        let mut errors: Vec<FieldError> = [
            email.as_ref().err(),
            first_name.as_ref().err(),
            last_name.as_ref().err(),
            phone.as_ref().err(),
            nicknames.as_ref().err(),
            agent_id.as_ref().err(),
            crm_id.as_ref().err(),
            agent_ring_number.as_ref().err(),
            dialer_number.as_ref().err(),
            roles.as_ref().err(),
            products.as_ref().err(),
            password.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        errors.extend(settings.as_ref().err().into_iter().flatten().cloned());
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        Ok(NewUser {
            email: ok(email)?,
            first_name: ok(first_name)?,
            last_name: ok(last_name)?,
            phone: ok(phone)?,
            nicknames: ok(nicknames)?,
            agent_id: ok(agent_id)?,
            crm_id: ok(crm_id)?,
            agent_ring_number: ok(agent_ring_number)?,
            dialer_number: ok(dialer_number)?,
            settings: settings.map_err(ServiceError::Validation)?,
            roles: ok(roles)?.into_iter().collect(),
            group_ids: self.group_ids.into_iter().map(GroupId::from_uuid).collect(),
            products: ok(products)?,
            password: ok(password)?,
        })
    }
}

#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    request_body = CreateUserRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The new user", body = UserBody, headers(
            ("Location" = String, description = "The user's URL"),
            ("ETag" = String, description = "The user's version"))),
        (status = 403, description = "`forbidden`: needs `manage_users` (and `manage_licenses` for products, `manage_groups` over each group); a role you may not give, such as the operator's `scorer`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict` (a unique field is taken), `missing_prerequisite`, `seat_limit_reached`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: every invalid field at once (`phone`, `settings.call_recording`, …; a throttle above the provider's cap is `out_of_range`; a `password` under 12 characters is `too_short`), an unknown role or product, a group that is no live group below the root (`group_ids[i]`); nothing is created", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Creates a member directly, with roles, groups, licenses and an initial password (needs
/// `manage_users`, and `manage_licenses` for products; an impersonating session sets no
/// password).
pub async fn create_user(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> ApiResult<Response> {
    let new = body.try_into_domain()?;
    let details = state.services.create_user(&auth.actor, new).await?;
    let location = format!("/api/v1/users/{}", details.user.id);
    let mut response = with_etag(StatusCode::CREATED, UserBody::from(details));
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `PATCH /users/{id}`: only the fields present change; `null` clears an optional one. The
/// fields and their rules are those of `POST /users`; each bad value answers 422
/// `validation_failed` naming the field (all of them at once), and nothing changes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// The new address, as in `POST /users`. An invitee's address is fixed until they accept
    /// (422, field `email`, code `invite_pending`): revoke the invite and invite the new address
    /// instead.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// 1–100 characters after trimming (inner spaces collapsed), no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    /// 1–100 characters after trimming (inner spaces collapsed), no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// `+` and 8–15 digits, the first not 0 (formatting removed first); `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: Option<Option<String>>,
    /// The whole new list, replacing the old.
    #[schema(schema_with = nicknames_schema)]
    pub nicknames: Option<Vec<String>>,
    /// 1–64 of letters, digits, `.`, `_`, `-`; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub agent_id: Option<Option<String>>,
    /// 1–64 of letters, digits, `_`, `-`; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub crm_id: Option<Option<String>>,
    /// A phone number as `phone`; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub agent_ring_number: Option<Option<String>>,
    /// A phone number as `phone`; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub dialer_number: Option<Option<String>>,
    /// The settings to change; those left out stay as they are.
    pub settings: Option<UserSettingsRequest>,
}

impl UpdateUserRequest {
    /// The domain's patch, or every invalid field at once.
    fn try_into_domain(self) -> Result<ProfilePatch, ServiceError> {
        let email = self.email.map(|v| parse("email", &v, Email::parse)).transpose();
        let first_name = self.first_name.map(|v| parse("first_name", &v, PersonName::parse)).transpose();
        let last_name = self.last_name.map(|v| parse("last_name", &v, PersonName::parse)).transpose();
        let phone = self.phone.map(|v| parse_opt("phone", v.as_deref(), Phone::parse)).transpose();
        let nicknames = self
            .nicknames
            .map(|n| Nicknames::parse(n.iter()).map_err(|e| FieldError::invalid("nicknames", &e)))
            .transpose();
        let agent_id = self.agent_id.map(|v| parse_opt("agent_id", v.as_deref(), AgentId::parse)).transpose();
        let crm_id = self.crm_id.map(|v| parse_opt("crm_id", v.as_deref(), CrmId::parse)).transpose();
        let agent_ring_number =
            self.agent_ring_number.map(|v| parse_opt("agent_ring_number", v.as_deref(), Phone::parse)).transpose();
        let dialer_number =
            self.dialer_number.map(|v| parse_opt("dialer_number", v.as_deref(), Phone::parse)).transpose();
        let settings = self.settings.unwrap_or_default().try_into_domain();
        let mut errors: Vec<FieldError> = [
            email.as_ref().err(),
            first_name.as_ref().err(),
            last_name.as_ref().err(),
            phone.as_ref().err(),
            nicknames.as_ref().err(),
            agent_id.as_ref().err(),
            crm_id.as_ref().err(),
            agent_ring_number.as_ref().err(),
            dialer_number.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        errors.extend(settings.as_ref().err().into_iter().flatten().cloned());
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        Ok(ProfilePatch {
            email: ok(email)?,
            first_name: ok(first_name)?,
            last_name: ok(last_name)?,
            phone: ok(phone)?,
            nicknames: ok(nicknames)?,
            agent_id: ok(agent_id)?,
            crm_id: ok(crm_id)?,
            agent_ring_number: ok(agent_ring_number)?,
            dialer_number: ok(dialer_number)?,
            settings: settings.map_err(ServiceError::Validation)?,
        })
    }
}

#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read; a stale one answers 412"),
    ),
    request_body = UpdateUserRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The changed user", body = UserBody,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, description = "`conflict`: a unique field is taken", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the ETag is stale, or `If-Match` names no version (it can never match)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: every invalid field at once (`dialer_number`, `settings.homepage`, …; a throttle above the provider's cap is `out_of_range`), or an invitee's `email` is changed (field code `invite_pending`); nothing changes", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Changes profile fields and settings: every field of SPEC §3.
pub async fn update_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> ApiResult<Response> {
    let id = user_id(&id)?;
    let patch = body.try_into_domain()?;
    let version = if_match.version()?;
    let details = state.services.update_user(&auth.actor, id, patch, version).await?;
    Ok(with_etag(StatusCode::OK, UserBody::from(details)))
}

/// `PUT /users/{id}/licenses`: the full set of products the user should hold.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLicensesRequest {
    pub products: Vec<String>,
}

#[utoipa::path(
    put, path = "/api/v1/users/{id}/licenses", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = SetLicensesRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "What changed", body = LicenseChangeBody),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, description = "`seat_limit_reached` (names the product, seats total and used), `missing_prerequisite`, `user_not_active`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown product", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Sets the products a user holds; seats are taken atomically (needs `manage_licenses`).
pub async fn set_licenses(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetLicensesRequest>,
) -> ApiResult<axum::Json<LicenseChangeBody>> {
    let id = user_id(&id)?;
    let products = ok(parse_keys("products", &body.products))?;
    let change = state.services.set_licenses(&auth.actor, id, products).await?;
    Ok(axum::Json(LicenseChangeBody::from(change)))
}

/// `POST /users/{id}/deactivate`: no fields (`{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateRequest {}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/deactivate", tag = "users",
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read; a stale one answers 412"),
    ),
    request_body = DeactivateRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user, `status: deactivated`, licenses released", body = UserBody,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, description = "`self_deactivation`, `last_admin`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the ETag is stale, or `If-Match` names no version (it can never match)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Deactivates a user: every license released in the same transaction, data kept (§3.1).
pub async fn deactivate_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    ApiJson(DeactivateRequest {}): ApiJson<DeactivateRequest>,
) -> ApiResult<Response> {
    let version = if_match.version()?;
    let details = state.services.deactivate_user(&auth.actor, user_id(&id)?, version).await?;
    Ok(with_etag(StatusCode::OK, UserBody::from(details)))
}

/// `POST /users/{id}/reactivate`: optionally products to assign at once, all or nothing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactivateRequest {
    #[serde(default)]
    pub products: Vec<String>,
}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/reactivate", tag = "users",
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read; a stale one answers 412"),
    ),
    request_body = ReactivateRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The reactivated user", body = UserBody,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, description = "`seat_limit_reached`, `missing_prerequisite` (then the user stays deactivated)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the ETag is stale, or `If-Match` names no version (it can never match)", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Problem),
    )
)]
/// Reactivates a user, optionally assigning products in the same operation.
pub async fn reactivate_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ReactivateRequest>,
) -> ApiResult<Response> {
    let id = user_id(&id)?;
    let products = ok(parse_keys("products", &body.products))?;
    let version = if_match.version()?;
    let details = state.services.reactivate_user(&auth.actor, id, products, version).await?;
    Ok(with_etag(StatusCode::OK, UserBody::from(details)))
}

/// `POST /users/{id}/restore`: no fields (`{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/restore", tag = "users",
    params(("id" = Uuid, Path, description = "The deleted user's id")),
    request_body = RestoreRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user as restored: no license, no group, roles kept", body = UserBody,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "`forbidden`: needs `manage_users` over the whole organization, and authority covering the user's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user, or the user is not deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`restore_expired` (deleted more than 30 days ago); `conflict` when another member took the email, phone, agent id or CRM id meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Restores a user deleted less than 30 days ago (§3.1), without licenses or groups.
pub async fn restore_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(RestoreRequest {}): ApiJson<RestoreRequest>,
) -> ApiResult<Response> {
    let details = state.services.restore_user(&auth.actor, user_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, UserBody::from(details)))
}

/// A reason for inactivity the vendor's product reports (§3.1). Roster sets the others itself:
/// `inactive_in_crm` from CRM sync, `no_license` by derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportedReasonName {
    /// The member's mailbox is disconnected or failing.
    InactiveInMailbox,
    /// The member's account in the product fails.
    AccountFailure,
    /// The member's package in the product expired.
    PackageExpired,
}

impl From<ReportedReasonName> for InactiveReason {
    fn from(name: ReportedReasonName) -> Self {
        match name {
            ReportedReasonName::InactiveInMailbox => Self::InactiveInMailbox,
            ReportedReasonName::AccountFailure => Self::AccountFailure,
            ReportedReasonName::PackageExpired => Self::PackageExpired,
        }
    }
}

/// `PUT /users/{id}/inactive-reasons`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InactiveReasonsRequest {
    /// Every reason the product reports now; the reported reasons not listed are cleared (an
    /// empty list clears them all).
    #[schema(max_items = 3)]
    pub reasons: Vec<ReportedReasonName>,
}

#[utoipa::path(
    put, path = "/api/v1/users/{id}/inactive-reasons", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = InactiveReasonsRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user with its status as it now derives (`inactive` with its reasons, or what the other facts give)", body = UserBody,
            headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "`validation_failed`: field code `invalid_type` on `reasons[i]` for a reason the product does not report (`inactive_in_crm`, `no_license`, or an unknown word); `unknown_field`, `required`, `malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
    )
)]
/// Sets the inactive reasons the vendor's product reports about a member (§3.1, §10): a mailbox,
/// account or package problem. When the member becomes inactive and the organization releases
/// the seats of inactive users, their licenses are released in the same transaction.
pub async fn set_inactive_reasons(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InactiveReasonsRequest>,
) -> ApiResult<Response> {
    let reasons = body.reasons.into_iter().map(InactiveReason::from).collect();
    let details = state.services.set_reported_inactive_reasons(&auth.actor, user_id(&id)?, &reasons).await?;
    Ok(with_etag(StatusCode::OK, UserBody::from(details)))
}

/// `DELETE /users/{id}?confirm=true`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteUserParams {
    /// Must be `true`: deleting releases licenses and ends memberships (§3.1).
    pub confirm: Option<bool>,
}

#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id"), DeleteUserParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted (restorable for 30 days)"),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, description = "`self_deactivation`, `last_admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`confirmation_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Soft-deletes a user (needs `confirm=true`).
pub async fn delete_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DeleteUserParams>,
) -> ApiResult<StatusCode> {
    let id = user_id(&id)?;
    state.services.delete_user(&auth.actor, id, params.confirm.unwrap_or(false)).await?;
    Ok(StatusCode::NO_CONTENT)
}
