//! `/api/v1/api-keys` (SPEC §7.4, §10): list, create (the secret shown once), revoke.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::connections::{ApiKey, ListedApiKey, Suspension};
use roster_domain::ids::{ApiKeyId, GroupId};
use roster_domain::roles::Permission;
use roster_domain::services::NewApiKey;
use roster_domain::values::Label;
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::idempotency::ShownOnce;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{check, ok, parse, rfc3339};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/api-keys", list_api_keys)
        .post("/api/v1/api-keys", create_api_key)
        .delete("/api/v1/api-keys/{id}", revoke_api_key)
}

/// An API key, never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: Uuid,
    pub name: String,
    /// Connections created with the key are stamped with this group.
    pub group_id: Option<Uuid>,
    pub permissions: Vec<String>,
    /// The member who created it (the inviter of what it creates).
    pub created_by: Uuid,
    pub created_at: String,
    /// When the key last authenticated a request, to the minute (a key used many times a minute
    /// records its first use of that minute); absent when never used.
    pub last_used_at: Option<String>,
    /// Set once revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<String>,
    /// Set while the key is not revoked but cannot act because its creator cannot:
    /// `creator_deactivated` or `creator_deleted`. Such a key answers 401 `api_key_suspended`.
    pub suspended: Option<SuspensionBody>,
}

/// Why a key that is not revoked cannot act.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionBody {
    /// The creator is deactivated; reactivating them revives the key.
    CreatorDeactivated,
    /// The creator was deleted.
    CreatorDeleted,
}

impl From<Suspension> for SuspensionBody {
    fn from(s: Suspension) -> Self {
        match s {
            Suspension::CreatorDeactivated => Self::CreatorDeactivated,
            Suspension::CreatorDeleted => Self::CreatorDeleted,
        }
    }
}

impl From<&ApiKey> for ApiKeyBody {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.as_uuid(),
            name: k.name.as_str().to_owned(),
            group_id: k.group_id.map(|g| g.as_uuid()),
            permissions: k.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            created_by: k.created_by.as_uuid(),
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
            suspended: None,
        }
    }
}

impl From<&ListedApiKey> for ApiKeyBody {
    fn from(k: &ListedApiKey) -> Self {
        Self { suspended: k.suspended.map(SuspensionBody::from), ..Self::from(&k.key) }
    }
}

/// The organization's keys.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyBody>,
    /// Always `null`: the list is whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/api-keys", tag = "api-keys",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Every key of the organization (revoked ones too), without secrets", body = ApiKeyList),
        (status = 403, description = "`forbidden`: needs `manage_api_keys`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The organization's API keys.
pub async fn list_api_keys(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<ApiKeyList>> {
    let keys = state.services.list_api_keys(&auth.actor).await?;
    let items: Vec<ApiKeyBody> = keys.iter().map(ApiKeyBody::from).collect();
    let total = Some(items.len() as u64);
    Ok(Json(ApiKeyList { items, next_cursor: None, total }))
}

/// `POST /api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// A group whose stamp the key's connections carry.
    pub group_id: Option<Uuid>,
    /// Permission names (`invite_connections`, `manage_users`…); none you do not have.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A new key with its secret, which is never shown again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKeyBody {
    #[serde(flatten)]
    pub key: ApiKeyBody,
    /// `rk_…`: send as `Authorization: Bearer rk_…`. Shown once.
    pub secret: String,
}

impl CreateApiKeyRequest {
    fn try_into_domain(self) -> Result<NewApiKey, ServiceError> {
        let name = parse("name", &self.name, Label::parse);
        let mut permissions = BTreeSet::new();
        let mut errors: Vec<FieldError> = Vec::new();
        for (i, p) in self.permissions.iter().enumerate() {
            match serde_json::from_value::<Permission>(serde_json::Value::String(p.clone())) {
                Ok(p) => {
                    permissions.insert(p);
                }
                Err(_) => errors.push(FieldError::new(
                    format!("permissions[{i}]"),
                    "unknown_permission",
                    format!("no permission `{p}`"),
                )),
            }
        }
        check(name.as_ref().err().into_iter().chain(errors.iter()).map(Some))?;
        Ok(NewApiKey { name: ok(name)?, group_id: self.group_id.map(GroupId::from_uuid), permissions })
    }
}

#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "api-keys",
    request_body = CreateApiKeyRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry answers 409 `idempotency_replay_unavailable`: the secret is shown once")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The key and its secret (shown once)", body = CreatedApiKeyBody,
            headers(("Location" = String, description = "The keys' list"))),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the group", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_replay_unavailable`: a retry with the `Idempotency-Key` of a key already created (its secret is shown once; list the keys instead)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad name, an unknown permission, one you do not have (`not_grantable`), a group that cannot hold keys", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Creates an API key; its secret is in this answer only.
pub async fn create_api_key(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<Response> {
    let new = body.try_into_domain()?;
    let created = state.services.create_api_key(&auth.actor, new).await?;
    let body = CreatedApiKeyBody { key: ApiKeyBody::from(&created.key), secret: created.secret };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/api/v1/api-keys"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(ShownOnce);
    Ok(response)
}

#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "The key's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Revoked (revoking a revoked key changes nothing)"),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
    )
)]
/// Revokes an API key.
pub async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: ApiKeyId = id.parse().map_err(|_| ApiError::from(ServiceError::not_found("api key")))?;
    state.services.revoke_api_key(&auth.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
