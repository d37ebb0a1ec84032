//! `/api/v1/flows` (SPEC §7.3): the organization's flows. Which flows a group accepts is
//! `PUT /groups/{id}/flows` (`routes::groups`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_domain::connections::Flow;
use roster_domain::values::Label;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use super::common::total_of;
use crate::auth::Authenticated;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{ok, parse, rfc3339};

/// Registers the flow routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.get("/api/v1/flows", list_flows).post("/api/v1/flows", create_flow)
}

/// A flow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowBody {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
}

impl From<&Flow> for FlowBody {
    fn from(f: &Flow) -> Self {
        Self { id: f.id.as_uuid(), name: f.name.as_str().to_owned(), created_at: rfc3339(f.created_at) }
    }
}

/// The organization's flows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowList {
    pub items: Vec<FlowBody>,
    /// Always `null`: the flows are answered whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/flows", tag = "flows",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "Every flow of the organization", body = FlowList))
)]
/// The organization's flows (any member: a new connection picks one).
pub async fn list_flows(State(state): State<AppState>, auth: Authenticated) -> ApiResult<axum::Json<FlowList>> {
    let flows = state.services.list_flows(&auth.actor).await?;
    let items: Vec<FlowBody> = flows.iter().map(FlowBody::from).collect();
    let total = total_of(&items);
    Ok(axum::Json(FlowList { items, next_cursor: None, total }))
}

/// `POST /flows`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFlowRequest {
    pub name: String,
}

#[utoipa::path(
    post, path = "/api/v1/flows", tag = "flows",
    request_body = CreateFlowRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The new flow", body = FlowBody),
        (status = 403, response = Problem),
        (status = 422, description = "An invalid name", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Creates a flow (needs `manage_groups`).
pub async fn create_flow(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateFlowRequest>,
) -> ApiResult<Response> {
    let name = ok(parse("name", &body.name, Label::parse))?;
    let flow = state.services.create_flow(&auth.actor, name).await?;
    Ok((StatusCode::CREATED, axum::Json(FlowBody::from(&flow))).into_response())
}
