//! Service endpoints outside `/api/v1`: liveness, readiness and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::RouteTable;
use crate::state::AppState;

/// Registers the service routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.get("/healthz", healthz).get("/readyz", readyz).get("/openapi.json", openapi_json).get("/metrics", metrics)
}

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or what is wrong.
    pub status: String,
}

#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The process is up", body = Health)))]
/// Liveness: the process answers.
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".to_owned() })
}

#[utoipa::path(get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    ))]
/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.readiness.check().await {
        Ok(()) => Json(Health { status: "ok".to_owned() }).into_response(),
        Err(why) => {
            tracing::warn!(why = %why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: why })).into_response()
        }
    }
}

#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
/// The OpenAPI 3.1 document of this API, generated from the handlers.
pub async fn openapi_json() -> Response {
    Json(crate::openapi::document()).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text: request counts and latencies by route template, method and status; database pool gauges", content_type = "text/plain")))]
/// Prometheus metrics of this process.
pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::metrics::render(&state).await
}
