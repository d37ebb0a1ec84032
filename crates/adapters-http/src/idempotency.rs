//! `Idempotency-Key` on POST (SPEC §10; decision 0017): a retried request with the same key
//! gets the first request's answer and changes nothing twice.
//!
//! A middleware around every route. For an authenticated `POST` carrying the header it
//! fingerprints the request (SHA-256 of method, path, query and body), claims the key in the
//! `IdempotencyRepository` (scoped to the caller's organization and principal: the member, or
//! the API key), runs the request, and records the answer — its status, a few headers
//! (`Content-Type`, `Location`, `ETag`) and its body. Then:
//! - the same key with the same request answers the recorded answer, marked
//!   `Idempotent-Replayed: true`;
//! - the same key with another request is `422 idempotency_key_reused`;
//! - the same key while the first request still runs is `409 idempotency_key_in_use`;
//! - a 5xx answer is not recorded (the key is released), so a retry runs again;
//! - an answer that carries a secret shown once (a new API key, an impersonation token) is
//!   recorded without its body, because the secret is never stored in clear: a retry is
//!   `409 idempotency_replay_unavailable` (and changes nothing);
//! - keys live 24 hours ([`RETENTION`]); a claim whose request died with its process is taken
//!   over after [`ABANDONED_AFTER`].
//!
//! Requests without credentials (login) and other methods pass through untouched: a key needs a
//! principal to be scoped to.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use roster_domain::actor::Principal;
use roster_domain::ports::{IdempotencyRecord, IdempotencyScope, StoredResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Duration;

use crate::auth::Authenticated;
use crate::problem::ApiError;
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// How long a key is remembered.
pub const RETENTION: Duration = Duration::hours(24);
/// How long a claim may stay without an answer before a retry may take it over.
pub const ABANDONED_AFTER: Duration = Duration::minutes(10);
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// The largest answer recorded; a larger one is released (the retry runs again).
const MAX_RECORDED: usize = 8 * 1024 * 1024;

/// A response extension a handler adds when its body holds a secret shown once: the body is
/// then never recorded.
#[derive(Debug, Clone, Copy)]
pub struct ShownOnce;

/// What is stored as a recorded answer's body.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    headers: Vec<(String, String)>,
    /// Base64 of the body; absent when the body held a secret.
    body: Option<String>,
}

/// The headers worth replaying.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// The middleware (see the module docs).
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    let key = match key_of(request.headers()) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    let principal = match Authenticated::from_request_parts(&mut parts, &state).await {
        Ok(auth) => principal_of(&auth),
        Err(_) => None,
    };
    let Some((org_id, principal_id)) = principal else {
        // The handler answers the missing or bad credentials itself.
        return next.run(Request::from_parts(parts, body)).await;
    };
    let limit = state.config.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::payload_too_large(limit).into_response();
    };
    let scope = IdempotencyScope { org_id, principal_id, key };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), parts.uri.query(), &bytes);
    match claim(&state, &scope, &fingerprint).await {
        Ok(None) => {}
        Ok(Some(answer)) => return answer,
        Err(e) => return e.into_response(),
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    record(&state, &scope, response).await
}

/// The key text: 1–255 visible ASCII characters.
fn key_of(headers: &HeaderMap) -> Result<String, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "Idempotency-Key",
            "invalid_parameter",
            format!("the Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )
    };
    let value = headers.get(&IDEMPOTENCY_KEY).ok_or_else(bad)?.to_str().map_err(|_| bad())?.trim();
    let valid = !value.is_empty() && value.len() <= MAX_KEY_LEN && value.bytes().all(|b| b.is_ascii_graphic());
    if valid { Ok(value.to_owned()) } else { Err(bad()) }
}

fn principal_of(auth: &Authenticated) -> Option<(roster_domain::ids::OrgId, uuid::Uuid)> {
    let id = match auth.actor.principal() {
        Principal::User(id) => id.as_uuid(),
        Principal::ApiKey { id, .. } => id.as_uuid(),
        Principal::System => return None,
    };
    Some((auth.actor.org_id(), id))
}

fn fingerprint(method: &Method, path: &str, query: Option<&str>, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [method.as_str().as_bytes(), b"\n", path.as_bytes(), b"?", query.unwrap_or("").as_bytes(), b"\n"] {
        hash.update(part);
    }
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Claims the key: `None` to run the request, or the answer to give instead.
async fn claim(state: &AppState, scope: &IdempotencyScope, fingerprint: &str) -> Result<Option<Response>, ApiError> {
    let now = state.clock.now();
    let Some(record) = state.idempotency.claim(scope, fingerprint, now).await.map_err(ApiError::internal)? else {
        return Ok(None);
    };
    let stale = match &record.response {
        Some(_) => record.created_at < now - RETENTION,
        None => record.created_at < now - ABANDONED_AFTER,
    };
    if stale {
        if state.idempotency.take_over(scope, record.created_at, fingerprint, now).await.map_err(ApiError::internal)? {
            return Ok(None);
        }
        return Err(in_use());
    }
    answer_for(&record, fingerprint).map(Some)
}

fn in_use() -> ApiError {
    ApiError::idempotency(
        StatusCode::CONFLICT,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still running; retry later",
    )
}

/// The answer to a retry meeting an existing record.
fn answer_for(record: &IdempotencyRecord, fingerprint: &str) -> Result<Response, ApiError> {
    if record.fingerprint != fingerprint {
        return Err(ApiError::idempotency(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        ));
    }
    let Some(stored) = &record.response else { return Err(in_use()) };
    let recorded: Recorded = serde_json::from_str(&stored.body).map_err(ApiError::internal)?;
    let Some(body) = recorded.body else {
        return Err(ApiError::idempotency(
            StatusCode::CONFLICT,
            "idempotency_replay_unavailable",
            "the first request with this Idempotency-Key succeeded; its answer held a secret that is shown once",
        ));
    };
    let body = STANDARD.decode(body).map_err(ApiError::internal)?;
    let status = StatusCode::from_u16(stored.status).map_err(ApiError::internal)?;
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in recorded.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

/// Records the answer (or releases the key for a failure of ours) and passes it on.
async fn record(state: &AppState, scope: &IdempotencyScope, response: Response) -> Response {
    if response.status().is_server_error() {
        release(state, scope).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_RECORDED).await {
        Ok(bytes) => bytes,
        Err(e) => {
            // The answer is lost either way; the client sees an error and may retry.
            tracing::error!(error = %e, "an answer could not be read for its Idempotency-Key");
            release(state, scope).await;
            return ApiError::internal(e).into_response();
        }
    };
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|h| {
            parts.headers.get(h).and_then(|v| v.to_str().ok()).map(|v| (h.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let shown_once = parts.extensions.get::<ShownOnce>().is_some();
    let recorded = Recorded { headers, body: (!shown_once).then(|| STANDARD.encode(&bytes)) };
    let stored = serde_json::to_string(&recorded)
        .map(|body| StoredResponse { status: parts.status.as_u16(), body })
        .map_err(|e| e.to_string());
    let saved = match stored {
        Ok(stored) => state.idempotency.complete(scope, &stored).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = saved {
        // The change is made; only the record failed. A retry will meet a pending claim (409)
        // until it is abandoned, never a second change within ABANDONED_AFTER.
        tracing::error!(error = %e, "the answer of an Idempotency-Key could not be recorded");
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn release(state: &AppState, scope: &IdempotencyScope) {
    if let Err(e) = state.idempotency.release(scope).await {
        tracing::error!(error = %e, "an Idempotency-Key could not be released");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let mut h = HeaderMap::new();
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("a1-b2_c3"));
        assert_eq!(key_of(&h).expect("valid"), "a1-b2_c3");
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("has space"));
        assert!(key_of(&h).is_err());
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_str(&"k".repeat(256)).expect("a header"));
        assert!(key_of(&h).is_err());
        h.insert(IDEMPOTENCY_KEY, HeaderValue::from_static(""));
        assert!(key_of(&h).is_err());
    }

    #[test]
    fn fingerprints_differ_by_method_path_query_and_body() {
        let base = fingerprint(&Method::POST, "/a", None, b"{}");
        assert_eq!(base, fingerprint(&Method::POST, "/a", None, b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/b", None, b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/a", Some("x=1"), b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/a", None, b"{ }"));
    }

    #[test]
    fn a_record_of_another_request_or_still_running_is_refused() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let running = IdempotencyRecord { fingerprint: "a".into(), response: None, created_at: now };
        assert_eq!(answer_for(&running, "b").unwrap_err().code(), "idempotency_key_reused");
        assert_eq!(answer_for(&running, "a").unwrap_err().code(), "idempotency_key_in_use");
        let body = serde_json::to_string(&Recorded { headers: vec![], body: None }).expect("json");
        let secret = IdempotencyRecord { response: Some(StoredResponse { status: 201, body }), ..running };
        assert_eq!(answer_for(&secret, "a").unwrap_err().code(), "idempotency_replay_unavailable");
    }
}
