//! Roster's HTTP face: the axum router of the REST API (`/api/v1`), its OpenAPI document, the
//! authentication extractor, and (re-exported from `roster-password`) the Argon2id hasher.
//!
//! Handlers only translate HTTP ⇄ domain: parse the request into the domain's types, call one
//! service of [`roster_domain::Services`], and shape the answer. No rule, permission check or
//! tenancy decision is made here: the organization comes only from the credentials, and what a
//! caller may do is the `Actor`'s to say. Every error is answered by [`problem::ApiError`] as
//! `application/problem+json` with the domain's stable code. It depends on `roster-domain` (and
//! `roster-password`), and nothing depends on it but `roster-app`.
//!
//! - [`router`]: every route, the request-id, tracing, body-limit and security-header layers,
//!   and a problem for unknown routes.
//! - [`routes`]: one module per resource, registered in a [`routes::RouteTable`]; a new face
//!   (another API, the console) is a new module there, calling the same services.
//! - [`auth`]: credentials → `Actor`; [`extract`]: JSON, query, `If-Match`, client address
//!   ([`client_address`]: the TCP peer, or the client behind a trusted proxy);
//!   [`pagination`]: cursor and page paging; [`wire`]: the JSON shapes; [`users_filter`]: the
//!   one wire form of the Users-table filter, shared by every route that filters users;
//!   [`user_fields`]: a member's fields of SPEC §3 (settings, enums, the rule of each field in
//!   the document), shared by every route that reads or writes them.
//! - [`scim`]: the SCIM 2.0 face at `/scim/v2` (§13), outside `/api/v1` and its document.
//! - [`problem`]: errors as problems; [`openapi`]: the OpenAPI document, checked against the
//!   routes; [`csv_export`]: streamed CSV answers; [`idempotency`]: `Idempotency-Key`;
//!   [`metrics`]: `GET /metrics`; [`state`]: what every handler shares.
//!
//! Conventions and their reasons: `docs/decisions/0013-http-api-conventions.md`.

pub mod auth;
pub mod client_address;
pub mod csv_export;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod routes;
pub mod scim;
pub mod state;
pub mod user_fields;
pub mod users_filter;
pub mod wire;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The password hasher, from `roster-password` (kept here for the callers that name it so).
pub use roster_password::Argon2Hasher;
pub use state::{AppState, HttpConfig, PoolGauges, Readiness};

/// The header carrying a request's id: taken from the client when sent, generated otherwise,
/// echoed in the answer and recorded in every log line of the request.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application: the REST API alone.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The whole HTTP application with the routes of other faces (the console) beside the REST
/// API's, under the same layers: request id, tracing, metrics, body limit, security headers.
/// A path no face routes answers a `404` problem.
pub fn router_with(state: AppState, faces: Router<AppState>) -> Router {
    let body_limit = state.config.body_limit;
    routes::table()
        .into_router()
        .nest(scim::BASE, scim::router())
        .merge(faces)
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
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// The headers that keep answers where they belong, on every answer (problems, unknown routes
/// and refused bodies included):
/// - `X-Content-Type-Options: nosniff`, so a browser never runs a CSV export, a JSON value or
///   a problem as a script or a page because its bytes look like one;
/// - `Cache-Control: no-store` on every answer that may hold private data or a credential: the
///   answer to a request with credentials (a bearer token, an API key or the session cookie),
///   to any request that is not a `GET` or `HEAD` (a login, a sign-up confirmation, an invite
///   acceptance answer with tokens and accounts before any credential exists), and any answer
///   that sets a cookie. Anonymous reads (the OpenAPI document, health checks) stay cacheable.
///   A `Cache-Control` the handler chose is kept.
async fn security_headers(request: Request, next: Next) -> Response {
    let private =
        !matches!(*request.method(), Method::GET | Method::HEAD) || auth::carries_credentials(request.headers());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if private || headers.contains_key(header::SET_COOKIE) {
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    }
    response
}
