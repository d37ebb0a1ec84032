//! Roster's HTTP face: the axum router of the REST API (`/api/v1`), its OpenAPI document, the
//! authentication extractor, and (re-exported from `roster-password`) the Argon2id hasher.
//! (SCIM `/scim/v2` and the web console will be further route modules.)
//!
//! Handlers only translate HTTP ⇄ domain: parse the request into the domain's types, call one
//! service of [`roster_domain::Services`], and shape the answer. Every error is answered by
//! [`problem::ApiError`] as `application/problem+json` with the domain's stable code. It
//! depends on `roster-domain` and nothing depends on it but `roster-app`.
//!
//! - [`router`]: every route, the request-id, tracing and body-limit layers, and a problem
//!   for unknown routes.
//! - [`routes`]: one module per resource, registered in a [`routes::RouteTable`].
//! - [`auth`]: credentials → `Actor`; [`extract`]: JSON, query, `If-Match`, client address;
//!   [`pagination`]: cursor and page paging; [`wire`]: the JSON shapes.

pub mod auth;
pub mod csv_export;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod routes;
pub mod state;
pub mod wire;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The password hasher, from `roster-password` (kept here for the callers that name it so).
pub use roster_password::Argon2Hasher;
pub use state::{AppState, HttpConfig, PoolGauges, Readiness};

/// The header carrying a request's id: taken from the client when sent, generated otherwise,
/// echoed in the answer and recorded in every log line of the request.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    routes::table()
        .into_router()
        .fallback(|| async { problem::ApiError::no_route(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async { problem::ApiError::no_route(StatusCode::METHOD_NOT_ALLOWED) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                // One line per answered request, with its status and latency, inside the span.
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}
