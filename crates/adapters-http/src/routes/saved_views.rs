//! `/api/v1/saved-views` (SPEC §10): an admin's named views of the Users table — filter, sort,
//! columns and page size. "Reset to default" is the absence of a view. The filter's values are
//! those of `GET /users` and are checked the same way when a view is saved.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_domain::ServiceError;
use roster_domain::ids::SavedViewId;
use roster_domain::saved_views::{SavedView, ViewDefinition};
use roster_domain::values::Label;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::users_filter::{UsersFilter, parse_sort};
use crate::wire::{ok, parse, rfc3339};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/saved-views", list_saved_views)
        .post("/api/v1/saved-views", create_saved_view)
        .delete("/api/v1/saved-views/{id}", delete_saved_view)
}

/// `POST /saved-views`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSavedViewRequest {
    pub name: String,
    /// The filter of `GET /users`.
    #[serde(default)]
    pub filter: UsersFilter,
    /// `field,-field` as `GET /users` takes it; absent: the default order.
    #[serde(default)]
    pub sort: String,
    /// Columns in display order, each once: `email`, `first_name`, `last_name`, `phone`,
    /// `nicknames`, `status`, `roles`, `teams`, `products`, `agent_id`, `crm_id`,
    /// `agent_ring_number`, `dialer_number`, `mailbox_provider`, `email_throttle_max_per_day`,
    /// `flow_enabled`, `email_sync`, `calendar_sync`, `call_recording`, `created_at`,
    /// `updated_at`, `scheduled`, or a product's yes/no column `product:<key>`. Any other answers
    /// 422 `unknown_column`; one listed twice, `duplicate`.
    #[serde(default)]
    pub columns: Vec<String>,
    /// 10, 25 or 50.
    pub per_page: u32,
}

/// A saved view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SavedViewBody {
    pub id: Uuid,
    pub name: String,
    pub filter: UsersFilter,
    pub sort: String,
    pub columns: Vec<String>,
    pub per_page: u32,
    pub created_at: String,
}

impl From<&SavedView> for SavedViewBody {
    fn from(v: &SavedView) -> Self {
        Self {
            id: v.id.as_uuid(),
            name: v.name.as_str().to_owned(),
            filter: UsersFilter::from_map(&v.definition.filter),
            sort: v.definition.sort.clone(),
            columns: v.definition.columns.clone(),
            per_page: v.definition.per_page,
            created_at: rfc3339(v.created_at),
        }
    }
}

/// The caller's views.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SavedViewList {
    pub items: Vec<SavedViewBody>,
    /// Always `null`: the list is whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/saved-views", tag = "users",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The caller's saved views, by name", body = SavedViewList),
        (status = 403, description = "`forbidden`: needs `manage_users`; API keys have no views", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The caller's saved views of the Users table.
pub async fn list_saved_views(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<SavedViewList>> {
    let views = state.services.saved_views(&auth.actor).await?;
    let items: Vec<SavedViewBody> = views.iter().map(SavedViewBody::from).collect();
    let total = Some(items.len() as u64);
    Ok(Json(SavedViewList { items, next_cursor: None, total }))
}

#[utoipa::path(
    post, path = "/api/v1/saved-views", tag = "users",
    request_body = CreateSavedViewRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The saved view", body = SavedViewBody),
        (status = 403, description = "`forbidden`: needs `manage_users`; API keys have no views", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the caller has a view of that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad name, unknown role or column, a search (`q`) longer than 256 characters, a page size other than 10, 25 or 50, too many views", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Saves a view of the Users table under a new name.
pub async fn create_saved_view(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateSavedViewRequest>,
) -> ApiResult<Response> {
    let name = ok(parse("name", &body.name, Label::parse))?;
    let filter = body.filter.to_query(auth.actor.org_id())?;
    parse_sort(Some(&body.sort))?;
    let definition = ViewDefinition {
        filter: body.filter.to_map(),
        sort: body.sort,
        columns: body.columns,
        per_page: body.per_page,
    };
    let view = state.services.create_saved_view(&auth.actor, name, definition, &filter).await?;
    Ok((StatusCode::CREATED, Json(SavedViewBody::from(&view))).into_response())
}

#[utoipa::path(
    delete, path = "/api/v1/saved-views/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "The view's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`: needs `manage_users`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no view of the caller's with this id", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Deletes one of the caller's saved views.
pub async fn delete_saved_view(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: SavedViewId = id.parse().map_err(|_| ApiError::from(ServiceError::not_found("saved view")))?;
    state.services.delete_saved_view(&auth.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
