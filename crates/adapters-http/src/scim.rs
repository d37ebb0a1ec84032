//! SCIM 2.0 (`/scim/v2`, §13; RFC 7643, RFC 7644): a face of its own beside the REST API, not
//! part of `/api/v1`'s OpenAPI document. It authenticates an API key holding the `scim`
//! permission (the actor's source is `scim`), reads SCIM requests into the domain's types
//! (`roster_domain::scim`: the filter grammar, the schemas, the mapping of members), calls
//! `Services`, and answers `application/scim+json`, errors as SCIM error bodies (`status` as a
//! string, `scimType`).
//!
//! Served: `ServiceProviderConfig`, `ResourceTypes`, `Schemas` (list responses; other methods
//! 405) and the reads of `Users`: `GET /Users` with `filter`, `startIndex`, `count`, `sortBy`,
//! `sortOrder`, `attributes`, `excludedAttributes`, the same asked in a body by
//! `POST /Users/.search`, and `GET /Users/{id}` with `ETag`; the writes of `Users` — `POST`
//! (201 with `Location`), `PUT`, `PATCH` (200 with the resource), `DELETE` (204) — with
//! `If-Match` (412 on another version), each one request in one transaction of one use case
//! (decision 0041); `Groups` — the teams at depth 2 — read (`filter` such as
//! `displayName eq`, paging), created, replaced, patched (members added and removed, also by a
//! value list) and deleted; `/Bulk` with `bulkId` references and `failOnErrors`; and the root
//! `POST /.search` over Users and Groups.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ids::{GroupId, UserId};
use roster_domain::scim::filter::{AttrPath, Filter};
use roster_domain::scim::groups::{group_resource, read_group};
use roster_domain::scim::patch::{ScimType, WriteError, read_patch};
use roster_domain::scim::project::Projection;
use roster_domain::scim::schema::GROUPS;
use roster_domain::scim::schema::{AttrDef, ENTERPRISE_USER, GROUP, ResourceSchema, SchemaDef, USER, USERS};
use roster_domain::scim::user_input::{Omitted, read_user};
use roster_domain::scim::users::{etag, user_filter, user_resource, user_sort};
use roster_domain::services::{ScimGroup, ScimUserList, ScimUserOutcome};
use roster_domain::user::User;
use roster_domain::users_query::UserSort;
use roster_domain::{ErrorCode, ServiceError};
use serde_json::{Value, json};

use crate::problem::status_of;
use crate::state::AppState;

/// Where the SCIM face is mounted.
pub const BASE: &str = "/scim/v2";
/// SCIM's media type, of every answer.
pub const SCIM_JSON: &str = "application/scim+json";
/// The schema of an error body.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The schema of a list response.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The most resources one list answers (`filter.maxResults`); a larger `count` is cut to it.
pub const MAX_RESULTS: u32 = 200;
/// The page an identity provider gets when it sends no `count`.
pub const DEFAULT_COUNT: u32 = 100;

/// A SCIM error (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    /// A 400 with a `scimType`.
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, scim_type: Some(scim_type), detail: detail.into() }
    }

    fn status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, scim_type: None, detail: detail.into() }
    }
}

impl From<ServiceError> for ScimError {
    fn from(error: ServiceError) -> Self {
        let code = error.code();
        if code == ErrorCode::Internal {
            tracing::error!(cause = %error, "a SCIM request failed");
            return Self::status(StatusCode::INTERNAL_SERVER_ERROR, "the server failed; the request id is in the log");
        }
        let detail = match &error {
            ServiceError::Validation(fields) => fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "),
            other => other.to_string(),
        };
        let scim_type = match &error {
            ServiceError::Conflict { .. } => Some(ScimType::Uniqueness.as_str()),
            // A refused SCIM write names its `scimType` in its field error's code.
            ServiceError::Validation(fields) => Some(
                fields.first().and_then(|f| ScimType::from_code(f.code)).unwrap_or(ScimType::InvalidValue).as_str(),
            ),
            _ => None,
        };
        // SCIM answers a refused value 400 with its `scimType` (RFC 7644 §3.12), where the REST
        // API answers 422.
        let status = if code == ErrorCode::ValidationFailed { StatusCode::BAD_REQUEST } else { status_of(code) };
        Self { status, scim_type, detail }
    }
}

impl From<WriteError> for ScimError {
    fn from(error: WriteError) -> Self {
        Self::bad_request(error.kind.as_str(), error.detail)
    }
}

impl ScimError {
    /// The error body (RFC 7644 §3.12).
    fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        body
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        scim_json(self.status, &self.body(), HeaderMap::new())
    }
}

fn scim_json(status: StatusCode, body: &Value, mut headers: HeaderMap) -> Response {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    (status, headers, Json(body)).into_response()
}

/// The caller, from an API key (or a session) holding `scim`; what it may do is the services'
/// to decide.
#[derive(Debug)]
pub struct ScimCaller(pub Actor);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
            .map(|(_, token)| token.trim().to_owned())
            .ok_or_else(|| ScimError::status(StatusCode::UNAUTHORIZED, "send the API key as a bearer token"))?;
        let auth = state.services.authenticate(&token, Source::Scim).await?;
        Ok(Self(auth.actor))
    }
}

/// The SCIM routes, to be nested at [`BASE`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{name}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route("/Users/{id}", get(get_user).put(replace_user).patch(patch_user).delete(delete_user))
        .route("/Bulk", post(bulk))
        .route("/.search", post(search_all))
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/{id}", get(get_group).put(replace_group).patch(patch_group).delete(delete_group))
        .fallback(|| async { ScimError::status(StatusCode::NOT_FOUND, "no such SCIM endpoint") })
        .method_not_allowed_fallback(|| async {
            ScimError::status(StatusCode::METHOD_NOT_ALLOWED, "this SCIM endpoint does not take that method")
        })
}

/// The base URL of the SCIM face as the client reached it, for `meta.location`.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = match headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}{BASE}")
}

fn list(resources: Vec<Value>, total: u64, start: u64) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

async fn service_provider_config(
    ScimCaller(_): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&headers);
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/roster/roster#scim",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": state.config.body_limit},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key",
            "description": "A Roster API key holding the `scim` permission, as `Authorization: Bearer rk_…`.",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    });
    scim_json(StatusCode::OK, &body, HeaderMap::new())
}

fn resource_type_body(base: &str, name: &str) -> Option<Value> {
    let (endpoint, schema, extensions): (&str, &SchemaDef, &[SchemaDef]) = match name {
        "User" => ("/Users", &USER, &[ENTERPRISE_USER]),
        "Group" => ("/Groups", &GROUP, &[]),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": schema.description,
        "schema": schema.id,
        "schemaExtensions": extensions.iter().map(|e| json!({"schema": e.id, "required": false})).collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
    }))
}

async fn resource_types(ScimCaller(_): ScimCaller, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let items: Vec<Value> = ["User", "Group"].iter().filter_map(|n| resource_type_body(&base, n)).collect();
    let total = items.len() as u64;
    scim_json(StatusCode::OK, &list(items, total, 1), HeaderMap::new())
}

async fn resource_type(ScimCaller(_): ScimCaller, headers: HeaderMap, Path(name): Path<String>) -> Response {
    match resource_type_body(&base_url(&headers), &name) {
        Some(body) => scim_json(StatusCode::OK, &body, HeaderMap::new()),
        None => ScimError::status(StatusCode::NOT_FOUND, format!("no resource type `{name}`")).into_response(),
    }
}

fn attribute_body(a: &AttrDef) -> Value {
    let mut body = json!({
        "name": a.name,
        "type": a.kind.as_str(),
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": a.mutability.as_str(),
        "returned": if a.name == "id" { "always" } else { "default" },
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if !a.sub.is_empty() {
        body["subAttributes"] = Value::Array(a.sub.iter().map(attribute_body).collect());
    }
    body
}

fn schema_body(base: &str, s: &SchemaDef) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        // The common attributes (`id`, `externalId`, `meta`, `schemas`) are not the schema's own.
        "attributes": s.attributes.iter().filter(|a| !matches!(a.name, "id" | "meta" | "schemas")).map(attribute_body).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id)},
    })
}

const SCHEMAS: [SchemaDef; 3] = [USER, ENTERPRISE_USER, GROUP];

async fn schemas(ScimCaller(_): ScimCaller, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let items: Vec<Value> = SCHEMAS.iter().map(|s| schema_body(&base, s)).collect();
    let total = items.len() as u64;
    scim_json(StatusCode::OK, &list(items, total, 1), HeaderMap::new())
}

async fn schema(ScimCaller(_): ScimCaller, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match SCHEMAS.iter().find(|s| s.id.eq_ignore_ascii_case(&id)) {
        Some(s) => scim_json(StatusCode::OK, &schema_body(&base_url(&headers), s), HeaderMap::new()),
        None => ScimError::status(StatusCode::NOT_FOUND, format!("no schema `{id}`")).into_response(),
    }
}

/// A member as the SCIM answer shows them, `meta.location` included.
fn user_body(base: &str, user: &User) -> Value {
    let mut body = user_resource(user);
    body["meta"]["location"] = json!(format!("{base}/Users/{}", user.id));
    body
}

/// A whole number parameter: absent is `None`; anything but an integer is `invalidValue`.
fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ScimError> {
    params
        .get(name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::bad_request("invalidValue", format!("`{name}` must be an integer")))
        })
        .transpose()
}

/// What a list asks for, from the query of `GET /Users` or the body of `POST /Users/.search`
/// (RFC 7644 §3.4.2, §3.4.3).
#[derive(Debug, Default)]
struct ListRequest {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    /// Comma-separated, as the query writes them.
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListRequest {
    fn from_query(params: &HashMap<String, String>) -> Result<Self, ScimError> {
        Ok(Self {
            filter: params.get("filter").cloned(),
            start_index: number(params, "startIndex")?,
            count: number(params, "count")?,
            sort_by: params.get("sortBy").cloned(),
            sort_order: params.get("sortOrder").cloned(),
            attributes: params.get("attributes").cloned(),
            excluded_attributes: params.get("excludedAttributes").cloned(),
        })
    }
}

/// The body of `POST /.search`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SearchRequest {
    schemas: Vec<String>,
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<Vec<String>>,
    excluded_attributes: Option<Vec<String>>,
}

/// The schema a search request names.
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A SCIM request body: `application/scim+json` or `application/json`, a JSON object of the
/// shape `T`; anything else is a SCIM error.
fn body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ScimError> {
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != SCIM_JSON && essence != "application/json" {
        return Err(ScimError::status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/scim+json (or application/json)",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::bad_request("invalidSyntax", format!("the body is not the expected JSON: {e}")))
}

/// `GET /Users`: the query parameters of RFC 7644 §3.4.2.
async fn list_users(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ScimError> {
    let Query(params) = params.map_err(|e| ScimError::bad_request("invalidValue", e.body_text()))?;
    answer_list(&state, &actor, &headers, ListRequest::from_query(&params)?).await
}

/// `POST /Users/.search`: the same list, asked in a body (RFC 7644 §3.4.3), so that a filter
/// stays out of URLs and logs.
async fn search_users(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let search: SearchRequest = body(&headers, &bytes)?;
    if !search.schemas.iter().any(|s| s == SEARCH_SCHEMA) {
        return Err(ScimError::bad_request("invalidValue", format!("`schemas` must hold {SEARCH_SCHEMA}")));
    }
    let request = ListRequest {
        filter: search.filter,
        start_index: search.start_index,
        count: search.count,
        sort_by: search.sort_by,
        sort_order: search.sort_order,
        attributes: search.attributes.map(|a| a.join(",")),
        excluded_attributes: search.excluded_attributes.map(|a| a.join(",")),
    };
    answer_list(&state, &actor, &headers, request).await
}

async fn answer_list(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    request: ListRequest,
) -> Result<Response, ScimError> {
    let filter = match request.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(text) => {
            let parsed = Filter::parse(text).map_err(|e| ScimError::bad_request("invalidFilter", e.detail))?;
            Some(user_filter(&parsed).map_err(|e| ScimError::bad_request("invalidFilter", e.detail))?)
        }
    };
    // RFC 7644 §3.4.2.4: a `startIndex` below 1 is 1; a negative `count` is 0.
    let start = request.start_index.unwrap_or(1).clamp(1, i64::MAX / 2);
    let count = request.count.map_or(DEFAULT_COUNT, |c| u32::try_from(c.clamp(0, i64::from(MAX_RESULTS))).unwrap_or(0));
    let sort = match &request.sort_by {
        None => None,
        Some(by) => {
            let path = AttrPath::parse(by).map_err(|e| ScimError::bad_request("invalidValue", e.detail))?;
            let field = user_sort(&path).ok_or_else(|| {
                ScimError::bad_request("invalidValue", format!("the users cannot be sorted by `{path}`"))
            })?;
            let descending = match request.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("ascending") => false,
                Some("descending") => true,
                Some(_) => {
                    return Err(ScimError::bad_request("invalidValue", "`sortOrder` is ascending or descending"));
                }
            };
            Some(UserSort { field, descending })
        }
    };
    let projection = Projection::parse(request.attributes.as_deref(), request.excluded_attributes.as_deref(), &USERS)
        .map_err(|e| ScimError::bad_request("invalidValue", e.detail))?;
    let offset = u64::try_from(start - 1).unwrap_or(0);
    let page = state.services.scim_list_users(actor, ScimUserList { filter, offset, limit: count, sort }).await?;
    let base = base_url(headers);
    let items: Vec<Value> = page.items.iter().map(|u| projection.apply(user_body(&base, u))).collect();
    Ok(scim_json(StatusCode::OK, &list(items, page.total, offset + 1), HeaderMap::new()))
}

fn projection(params: &HashMap<String, String>, schema: &ResourceSchema) -> Result<Projection, ScimError> {
    Projection::parse(
        params.get("attributes").map(String::as_str),
        params.get("excludedAttributes").map(String::as_str),
        schema,
    )
    .map_err(|e| ScimError::bad_request("invalidValue", e.detail))
}

/// `GET /Users/{id}`, with the member's version as `ETag`.
async fn get_user(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ScimError> {
    let Query(params) = params.map_err(|e| ScimError::bad_request("invalidValue", e.body_text()))?;
    let projection = projection(&params, &USERS)?;
    let not_found = || ScimError::status(StatusCode::NOT_FOUND, format!("no user `{id}`"));
    let id = uuid::Uuid::parse_str(&id).map(UserId::from_uuid).map_err(|_| not_found())?;
    let user = state.services.scim_user(&actor, id).await.map_err(|e| match e.code() {
        ErrorCode::NotFound => not_found(),
        _ => ScimError::from(e),
    })?;
    let mut out = HeaderMap::new();
    if let Ok(tag) = HeaderValue::from_str(&etag(user.version)) {
        out.insert(header::ETAG, tag);
    }
    Ok(scim_json(StatusCode::OK, &projection.apply(user_body(&base_url(&headers), &user)), out))
}

/// The version an `If-Match` names: `None` without the header or for `*`; an ETag of another
/// shape never matches a member's (412).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ScimError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    bare.parse::<u64>().map(Some).map_err(|_| {
        ScimError::status(StatusCode::PRECONDITION_FAILED, format!("`If-Match: {text}` names no version of this user"))
    })
}

fn user_id(id: &str) -> Result<UserId, ScimError> {
    uuid::Uuid::parse_str(id)
        .map(UserId::from_uuid)
        .map_err(|_| ScimError::status(StatusCode::NOT_FOUND, format!("no user `{id}`")))
}

/// A use case's refusal, with "no user" for a member that is not (or no longer) there.
fn refused(id: &str) -> impl Fn(ServiceError) -> ScimError + '_ {
    move |e| match e.code() {
        ErrorCode::NotFound => ScimError::status(StatusCode::NOT_FOUND, format!("no user `{id}`")),
        _ => ScimError::from(e),
    }
}

/// The answer to a write: the member with `ETag` (and `Location` when created) — or, when a
/// product of `scim_products` could not be given, a 409 naming it, the change itself kept.
fn written(headers: &HeaderMap, outcome: &ScimUserOutcome, status: StatusCode) -> Response {
    let base = base_url(headers);
    let body = user_body(&base, &outcome.user);
    if !outcome.refused.is_empty() {
        let what = if status == StatusCode::CREATED { "created" } else { "changed" };
        let reasons: Vec<String> = outcome.refused.iter().map(|r| r.reason.clone()).collect();
        let products: Vec<String> = outcome.refused.iter().map(|r| r.product.to_string()).collect();
        return ScimError::status(
            StatusCode::CONFLICT,
            format!(
                "the user {} ({}) was {what} without {}: {}",
                outcome.user.email,
                body["meta"]["location"].as_str().unwrap_or_default(),
                products.join(", "),
                reasons.join("; ")
            ),
        )
        .into_response();
    }
    let mut out = HeaderMap::new();
    if let Ok(tag) = HeaderValue::from_str(&etag(outcome.user.version)) {
        out.insert(header::ETAG, tag);
    }
    if status == StatusCode::CREATED
        && let Some(location) = body["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok())
    {
        out.insert(header::LOCATION, location);
    }
    scim_json(status, &body, out)
}

/// `POST /Users`: a member created from a SCIM User (RFC 7644 §3.3).
async fn create_user(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let resource: Value = body(&headers, &bytes)?;
    let input = read_user(&resource, Omitted::Kept)?;
    let outcome = state.services.scim_create_user(&actor, input).await?;
    Ok(written(&headers, &outcome, StatusCode::CREATED))
}

/// `PUT /Users/{id}`: the member's attributes replaced (RFC 7644 §3.5.1); an attribute left out
/// keeps its value, `active` included.
async fn replace_user(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let user = user_id(&id)?;
    let expected = if_match(&headers)?;
    let resource: Value = body(&headers, &bytes)?;
    let input = read_user(&resource, Omitted::Kept)?;
    let outcome = state.services.scim_replace_user(&actor, user, input, expected).await.map_err(refused(&id))?;
    Ok(written(&headers, &outcome, StatusCode::OK))
}

/// `PATCH /Users/{id}` (RFC 7644 §3.5.2): 200 with the member.
async fn patch_user(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let user = user_id(&id)?;
    let expected = if_match(&headers)?;
    let request: Value = body(&headers, &bytes)?;
    let operations = read_patch(&request)?;
    let outcome = state.services.scim_patch_user(&actor, user, &operations, expected).await.map_err(refused(&id))?;
    Ok(written(&headers, &outcome, StatusCode::OK))
}

/// `DELETE /Users/{id}`: Roster's soft delete; 204.
async fn delete_user(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let user = user_id(&id)?;
    state.services.scim_delete_user(&actor, user).await.map_err(refused(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A group as the SCIM answer shows it: `meta.location` and each member's `$ref` included.
fn group_body(base: &str, group: &ScimGroup) -> Value {
    let mut body = group_resource(&group.group, &group.members);
    body["meta"]["location"] = json!(format!("{base}/Groups/{}", group.group.id));
    if let Some(members) = body["members"].as_array_mut() {
        for m in members {
            let id = m["value"].as_str().unwrap_or_default().to_owned();
            m["$ref"] = json!(format!("{base}/Users/{id}"));
        }
    }
    body
}

fn group_id(id: &str) -> Result<GroupId, ScimError> {
    uuid::Uuid::parse_str(id)
        .map(GroupId::from_uuid)
        .map_err(|_| ScimError::status(StatusCode::NOT_FOUND, format!("no group `{id}`")))
}

fn refused_group(id: &str) -> impl Fn(ServiceError) -> ScimError + '_ {
    move |e| match e.code() {
        ErrorCode::NotFound => ScimError::status(StatusCode::NOT_FOUND, format!("no group `{id}`")),
        _ => ScimError::from(e),
    }
}

fn group_answer(headers: &HeaderMap, group: &ScimGroup, status: StatusCode) -> Response {
    let body = group_body(&base_url(headers), group);
    let mut out = HeaderMap::new();
    if let Ok(tag) = HeaderValue::from_str(&etag(group.group.version)) {
        out.insert(header::ETAG, tag);
    }
    if status == StatusCode::CREATED
        && let Some(location) = body["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok())
    {
        out.insert(header::LOCATION, location);
    }
    scim_json(status, &body, out)
}

/// `GET /Groups`: `filter` (`displayName eq "…"`, as Okta and Entra ID look a group up),
/// `startIndex`, `count`, `attributes`, `excludedAttributes`.
async fn list_groups(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ScimError> {
    let Query(params) = params.map_err(|e| ScimError::bad_request("invalidValue", e.body_text()))?;
    let request = ListRequest::from_query(&params)?;
    let filter = match request.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(text) => Some(Filter::parse(text).map_err(|e| ScimError::bad_request("invalidFilter", e.detail))?),
    };
    if let Some(f) = &filter {
        roster_domain::scim::eval::check(f, &GROUPS).map_err(|e| ScimError::bad_request("invalidFilter", e.detail))?;
    }
    if request.sort_by.is_some() {
        return Err(ScimError::bad_request(
            "invalidValue",
            "groups are listed in creation order; `sortBy` is not served",
        ));
    }
    let projection = projection(&params, &GROUPS)?;
    let start = request.start_index.unwrap_or(1).clamp(1, i64::MAX / 2);
    let count = request.count.map_or(DEFAULT_COUNT, |c| u32::try_from(c.clamp(0, i64::from(MAX_RESULTS))).unwrap_or(0));
    let offset = u64::try_from(start - 1).unwrap_or(0);
    let page = state.services.scim_list_groups(&actor, filter.as_ref(), offset, count).await?;
    let base = base_url(&headers);
    let items: Vec<Value> = page.items.iter().map(|g| projection.apply(group_body(&base, g))).collect();
    Ok(scim_json(StatusCode::OK, &list(items, page.total, offset + 1), HeaderMap::new()))
}

/// `GET /Groups/{id}`, with the group's version as `ETag`.
async fn get_group(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ScimError> {
    let Query(params) = params.map_err(|e| ScimError::bad_request("invalidValue", e.body_text()))?;
    let projection = projection(&params, &GROUPS)?;
    let group = state.services.scim_group(&actor, group_id(&id)?).await.map_err(refused_group(&id))?;
    let mut out = HeaderMap::new();
    if let Ok(tag) = HeaderValue::from_str(&etag(group.group.version)) {
        out.insert(header::ETAG, tag);
    }
    Ok(scim_json(StatusCode::OK, &projection.apply(group_body(&base_url(&headers), &group)), out))
}

/// `POST /Groups`: a team below the root, with its members.
async fn create_group(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let resource: Value = body(&headers, &bytes)?;
    let input = read_group(&resource, false)?;
    let group = state.services.scim_create_group(&actor, input).await?;
    Ok(group_answer(&headers, &group, StatusCode::CREATED))
}

/// `PUT /Groups/{id}`: the name and members replaced; `members` left out keeps them.
async fn replace_group(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let gid = group_id(&id)?;
    let expected = if_match(&headers)?;
    let resource: Value = body(&headers, &bytes)?;
    let input = read_group(&resource, false)?;
    let group = state.services.scim_replace_group(&actor, gid, input, expected).await.map_err(refused_group(&id))?;
    Ok(group_answer(&headers, &group, StatusCode::OK))
}

/// `PATCH /Groups/{id}`: members added and removed (also Entra ID's removal by value list),
/// the name replaced; 200 with the group.
async fn patch_group(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let gid = group_id(&id)?;
    let expected = if_match(&headers)?;
    let request: Value = body(&headers, &bytes)?;
    let operations = read_patch(&request)?;
    let group =
        state.services.scim_patch_group(&actor, gid, &operations, expected).await.map_err(refused_group(&id))?;
    Ok(group_answer(&headers, &group, StatusCode::OK))
}

/// `DELETE /Groups/{id}`: the team soft-deleted, its memberships ended; 204.
async fn delete_group(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let gid = group_id(&id)?;
    state.services.scim_delete_group(&actor, gid).await.map_err(refused_group(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The most operations one `/Bulk` request carries.
pub const MAX_BULK_OPERATIONS: usize = 1000;
/// The schema of a bulk request.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The schema of a bulk answer.
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The body of `POST /Bulk` (RFC 7644 §3.7).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    schemas: Vec<String>,
    #[serde(rename = "failOnErrors")]
    fail_on_errors: Option<u32>,
    #[serde(rename = "Operations")]
    operations: Vec<BulkOperation>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkOperation {
    method: String,
    #[serde(rename = "bulkId")]
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
}

/// What one operation of a bulk request did.
struct BulkResult {
    status: StatusCode,
    location: Option<String>,
    version: Option<String>,
    error: Option<ScimError>,
}

impl BulkResult {
    fn failed(error: ScimError) -> Self {
        Self { status: error.status, location: None, version: None, error: Some(error) }
    }
}

/// `data` and `path` with every `bulkId:<id>` the request already created replaced by the
/// created resource's id (RFC 7644 §3.7.2); an unknown one is an error of the operation.
fn resolve_bulk_ids(value: &mut Value, created: &HashMap<String, String>) -> Result<(), ScimError> {
    match value {
        Value::String(text) => {
            if let Some(reference) = text.strip_prefix("bulkId:") {
                let id = created.get(reference).ok_or_else(|| {
                    ScimError::bad_request(
                        "invalidValue",
                        format!("`bulkId:{reference}` names no resource created before it"),
                    )
                })?;
                *text = id.clone();
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve_bulk_ids(v, created)),
        Value::Object(fields) => fields.values_mut().try_for_each(|v| resolve_bulk_ids(v, created)),
        _ => Ok(()),
    }
}

/// `If-Match` as a bulk operation's `version` carries it.
fn version_of(version: Option<&str>) -> Result<Option<u64>, ScimError> {
    let mut headers = HeaderMap::new();
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_MATCH, v);
    }
    if_match(&headers)
}

/// Runs one bulk operation through the same readers and use cases as its own request.
async fn bulk_operation(
    state: &AppState,
    actor: &Actor,
    base: &str,
    op: &BulkOperation,
    created: &HashMap<String, String>,
) -> Result<BulkResult, ScimError> {
    let mut data = op.data.clone().unwrap_or(Value::Null);
    resolve_bulk_ids(&mut data, created)?;
    // Each segment of the path may be a reference (`/Users/bulkId:ada`).
    let segments: Vec<String> = op
        .path
        .split('/')
        .map(|segment| {
            let mut value = Value::String(segment.to_owned());
            resolve_bulk_ids(&mut value, created)?;
            Ok(value.as_str().unwrap_or_default().to_owned())
        })
        .collect::<Result<_, ScimError>>()?;
    let path = segments.join("/").trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = op.method.to_ascii_uppercase();
    let expected = version_of(op.version.as_deref())?;
    let ok = |status: StatusCode, location: String, version: u64| BulkResult {
        status,
        location: Some(location),
        version: Some(etag(version)),
        error: None,
    };
    let user_answer = |status: StatusCode, outcome: &ScimUserOutcome| {
        let location = format!("{base}/Users/{}", outcome.user.id);
        if outcome.refused.is_empty() {
            return ok(status, location, outcome.user.version);
        }
        let reasons: Vec<String> = outcome.refused.iter().map(|r| r.reason.clone()).collect();
        let error = ScimError::status(
            StatusCode::CONFLICT,
            format!("the user {} ({location}) was kept without: {}", outcome.user.email, reasons.join("; ")),
        );
        BulkResult { location: Some(location), version: Some(etag(outcome.user.version)), ..BulkResult::failed(error) }
    };
    let group_answer = |status: StatusCode, group: &ScimGroup| {
        ok(status, format!("{base}/Groups/{}", group.group.id), group.group.version)
    };
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["Users"]) => {
            let input = read_user(&data, Omitted::Kept)?;
            Ok(user_answer(StatusCode::CREATED, &state.services.scim_create_user(actor, input).await?))
        }
        ("PUT", ["Users", id]) => {
            let input = read_user(&data, Omitted::Kept)?;
            let outcome =
                state.services.scim_replace_user(actor, user_id(id)?, input, expected).await.map_err(refused(id))?;
            Ok(user_answer(StatusCode::OK, &outcome))
        }
        ("PATCH", ["Users", id]) => {
            let ops = read_patch(&data)?;
            let outcome =
                state.services.scim_patch_user(actor, user_id(id)?, &ops, expected).await.map_err(refused(id))?;
            Ok(user_answer(StatusCode::OK, &outcome))
        }
        ("DELETE", ["Users", id]) => {
            state.services.scim_delete_user(actor, user_id(id)?).await.map_err(refused(id))?;
            Ok(BulkResult {
                status: StatusCode::NO_CONTENT,
                location: Some(format!("{base}/Users/{id}")),
                version: None,
                error: None,
            })
        }
        ("POST", ["Groups"]) => {
            let input = read_group(&data, false)?;
            Ok(group_answer(StatusCode::CREATED, &state.services.scim_create_group(actor, input).await?))
        }
        ("PUT", ["Groups", id]) => {
            let input = read_group(&data, false)?;
            let group = state
                .services
                .scim_replace_group(actor, group_id(id)?, input, expected)
                .await
                .map_err(refused_group(id))?;
            Ok(group_answer(StatusCode::OK, &group))
        }
        ("PATCH", ["Groups", id]) => {
            let ops = read_patch(&data)?;
            let group = state
                .services
                .scim_patch_group(actor, group_id(id)?, &ops, expected)
                .await
                .map_err(refused_group(id))?;
            Ok(group_answer(StatusCode::OK, &group))
        }
        ("DELETE", ["Groups", id]) => {
            state.services.scim_delete_group(actor, group_id(id)?).await.map_err(refused_group(id))?;
            Ok(BulkResult {
                status: StatusCode::NO_CONTENT,
                location: Some(format!("{base}/Groups/{id}")),
                version: None,
                error: None,
            })
        }
        _ => Err(ScimError::bad_request(
            "invalidSyntax",
            format!(
                "`{} {}` is no operation of /Bulk: POST /Users, /Groups; PUT, PATCH, DELETE /Users/{{id}}, /Groups/{{id}}",
                op.method, op.path
            ),
        )),
    }
}

/// `POST /Bulk` (RFC 7644 §3.7): the operations in order, each one request of its own (its own
/// transaction: a failed one leaves the others), `bulkId:` references resolved to the
/// resources created before, and no more operations run once `failOnErrors` errors happened.
/// 200 with one result per operation run.
async fn bulk(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let request: BulkRequest = body(&headers, &bytes)?;
    if !request.schemas.iter().any(|s| s.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA)) {
        return Err(ScimError::bad_request("invalidSyntax", format!("`schemas` must hold {BULK_REQUEST_SCHEMA}")));
    }
    if request.operations.len() > MAX_BULK_OPERATIONS {
        return Err(ScimError::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_BULK_OPERATIONS} operations per bulk request"),
        ));
    }
    let base = base_url(&headers);
    let mut created: HashMap<String, String> = HashMap::new();
    let mut errors = 0u32;
    let mut results = Vec::with_capacity(request.operations.len());
    for op in &request.operations {
        if request.fail_on_errors.is_some_and(|limit| limit > 0 && errors >= limit) {
            break;
        }
        let result = match bulk_operation(&state, &actor, &base, op, &created).await {
            Ok(r) => r,
            Err(e) => BulkResult::failed(e),
        };
        if let (Some(bulk_id), Some(location), true) =
            (&op.bulk_id, &result.location, op.method.eq_ignore_ascii_case("POST"))
            && let Some(id) = location.rsplit('/').next()
        {
            created.insert(bulk_id.clone(), id.to_owned());
        }
        let mut answer = json!({"method": op.method, "status": result.status.as_u16().to_string()});
        if let Some(bulk_id) = &op.bulk_id {
            answer["bulkId"] = json!(bulk_id);
        }
        if let Some(location) = result.location {
            answer["location"] = json!(location);
        }
        if let Some(version) = result.version {
            answer["version"] = json!(version);
        }
        if let Some(error) = result.error {
            errors += 1;
            answer["response"] = error.body();
        }
        results.push(answer);
    }
    Ok(scim_json(StatusCode::OK, &json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results}), HeaderMap::new()))
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): Users, then Groups — each resource type the
/// filter is a filter of (`displayName eq` is one of Groups only; a filter of neither is
/// `invalidFilter`) — paged together by `startIndex` and `count`. `sortBy`, `attributes` and
/// `excludedAttributes` name attributes of one resource type and are asked per type instead.
async fn search_all(
    ScimCaller(actor): ScimCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let search: SearchRequest = body(&headers, &bytes)?;
    if !search.schemas.iter().any(|s| s == SEARCH_SCHEMA) {
        return Err(ScimError::bad_request("invalidValue", format!("`schemas` must hold {SEARCH_SCHEMA}")));
    }
    if search.sort_by.is_some() || search.attributes.is_some() || search.excluded_attributes.is_some() {
        return Err(ScimError::bad_request(
            "invalidValue",
            "`sortBy`, `attributes` and `excludedAttributes` are asked of /Users/.search or /Groups, not the root",
        ));
    }
    let filter = match search.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(text) => Some(Filter::parse(text).map_err(|e| ScimError::bad_request("invalidFilter", e.detail))?),
    };
    let (users, groups) = match &filter {
        None => (Some(None), true),
        Some(f) => {
            let users = user_filter(f);
            let groups = roster_domain::scim::eval::check(f, &GROUPS);
            if let (Err(e), Err(_)) = (&users, &groups) {
                return Err(ScimError::bad_request(
                    "invalidFilter",
                    format!("{} (nor is it a filter of Groups)", e.detail),
                ));
            }
            (users.ok().map(Some), groups.is_ok())
        }
    };
    let start = search.start_index.unwrap_or(1).clamp(1, i64::MAX / 2);
    let count = search.count.map_or(DEFAULT_COUNT, |c| u32::try_from(c.clamp(0, i64::from(MAX_RESULTS))).unwrap_or(0));
    let offset = u64::try_from(start - 1).unwrap_or(0);
    let base = base_url(&headers);
    let mut items: Vec<Value> = Vec::new();
    let mut total = 0u64;
    if let Some(filter) = users {
        let page =
            state.services.scim_list_users(&actor, ScimUserList { filter, offset, limit: count, sort: None }).await?;
        items.extend(page.items.iter().map(|u| user_body(&base, u)));
        total += page.total;
    }
    if groups {
        let skipped = offset.saturating_sub(total);
        let room = count.saturating_sub(u32::try_from(items.len()).unwrap_or(u32::MAX));
        let page = state.services.scim_list_groups(&actor, filter.as_ref(), skipped, room).await?;
        items.extend(page.items.iter().map(|g| group_body(&base, g)));
        total += page.total;
    }
    Ok(scim_json(StatusCode::OK, &list(items, total, offset + 1), HeaderMap::new()))
}
