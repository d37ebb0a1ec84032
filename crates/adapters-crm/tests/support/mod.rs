//! A stand-in for Salesforce on 127.0.0.1: an axum app with the OAuth2 token endpoint and the
//! REST query endpoints, answering with the shapes Salesforce documents (token answers and
//! `{"error", "error_description"}` refusals; query results with `totalSize`, `done`,
//! `nextRecordsUrl` and `records` carrying `attributes`; error arrays
//! `[{"message", "errorCode"}]`). A test scripts the next answers and reads back every request.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_adapters_crm::{Grant, RetryPolicy, SalesforceConfig, SalesforceDirectory, Secret};
use serde_json::{Value, json};

/// The API version the stub serves.
pub const VERSION: &str = "v62.0";

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Json(u16, Value),
    /// Never answers (the connection stays open).
    Hang,
}

/// A query request as the stub received it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub path: String,
    /// The decoded `q` parameter, for `/query`.
    pub soql: Option<String>,
    pub bearer: Option<String>,
}

#[derive(Debug, Default)]
pub struct StubState {
    /// Scripted token answers; when none is left, a fresh token `token-N` is issued.
    pub token_replies: VecDeque<Reply>,
    /// Scripted query answers; when none is left, `Id IN (…)` queries are answered from `users`.
    pub api_replies: VecDeque<Reply>,
    /// Users (as `User` records) answering `Id IN (…)` queries.
    pub users: Vec<Value>,
    /// Access tokens the stub treats as expired: a query carrying one answers `401`
    /// `INVALID_SESSION_ID` before any scripted answer.
    pub expired_tokens: Vec<String>,
    pub token_requests: Vec<HashMap<String, String>>,
    pub api_requests: Vec<ApiRequest>,
    tokens_issued: usize,
}

/// A running stub.
#[derive(Debug, Clone)]
pub struct Stub {
    pub base: String,
    state: Arc<Mutex<StubState>>,
}

impl Stub {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(StubState::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("has an address"));
        let app = Router::new()
            .route("/services/oauth2/token", post(token))
            .route("/services/data/{version}/query", get(query))
            .route("/services/data/{version}/query/{locator}", get(more))
            .with_state((Arc::clone(&state), base.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
        Self { base, state }
    }

    pub fn state(&self) -> MutexGuard<'_, StubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn reply_token(&self, reply: Reply) {
        self.state().token_replies.push_back(reply);
    }

    pub fn reply_api(&self, reply: Reply) {
        self.state().api_replies.push_back(reply);
    }

    pub fn api_requests(&self) -> Vec<ApiRequest> {
        self.state().api_requests.clone()
    }

    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.state().token_requests.clone()
    }

    /// A configuration logging in at the stub with fast retries and a short timeout.
    pub fn config(&self, grant: Grant) -> SalesforceConfig {
        SalesforceConfig::new(&self.base, "3MVG9-client-id", Secret::new("client-secret-value"), grant)
            .expect("valid configuration")
            .with_timeout(Duration::from_millis(500))
            .with_retry(RetryPolicy {
                max_retries: 3,
                first_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(100),
            })
    }

    pub fn directory(&self) -> SalesforceDirectory {
        SalesforceDirectory::new(self.config(Grant::ClientCredentials)).expect("builds")
    }
}

type Shared = (Arc<Mutex<StubState>>, String);

fn lock(state: &Arc<Mutex<StubState>>) -> MutexGuard<'_, StubState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn answer(reply: Reply) -> Response {
    match reply {
        Reply::Json(status, body) => (StatusCode::from_u16(status).expect("a status"), Json(body)).into_response(),
        Reply::Hang => {
            std::future::pending::<()>().await;
            StatusCode::REQUEST_TIMEOUT.into_response()
        }
    }
}

async fn token(State((state, base)): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let reply = {
        let mut s = lock(&state);
        s.token_requests.push(form);
        s.token_replies.pop_front().unwrap_or_else(|| {
            s.tokens_issued += 1;
            Reply::Json(
                200,
                json!({
                    "access_token": format!("token-{}", s.tokens_issued),
                    "instance_url": base,
                    "id": format!("{base}/id/00Dxx0000001gPLEAY/005xx000001SvQwAAK"),
                    "token_type": "Bearer",
                    "issued_at": "1706693415000",
                    "signature": "d/SxeYBxH0GSVko0HMgcUxuZy0PA2cDDz1u7g7JtDHw="
                }),
            )
        })
    };
    answer(reply).await
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

fn not_found() -> Reply {
    Reply::Json(404, json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]))
}

async fn query(
    State((state, _)): State<Shared>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let soql = params.get("q").cloned();
    let reply = {
        let mut s = lock(&state);
        s.api_requests.push(ApiRequest {
            path: format!("/services/data/{version}/query"),
            soql: soql.clone(),
            bearer: bearer(&headers),
        });
        if version != VERSION {
            not_found()
        } else if bearer(&headers).is_some_and(|b| s.expired_tokens.contains(&b)) {
            Reply::Json(401, json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]))
        } else if let Some(reply) = s.api_replies.pop_front() {
            reply
        } else {
            by_ids(&s.users, soql.as_deref().unwrap_or_default())
        }
    };
    answer(reply).await
}

async fn more(
    State((state, _)): State<Shared>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let reply = {
        let mut s = lock(&state);
        s.api_requests.push(ApiRequest {
            path: format!("/services/data/{version}/query/{locator}"),
            soql: None,
            bearer: bearer(&headers),
        });
        s.api_replies.pop_front().unwrap_or_else(not_found)
    };
    answer(reply).await
}

/// Answers `… WHERE Id IN ('a', 'b')` from `users`, as Salesforce would (any order; a
/// 15-character id matches its 18-character form).
fn by_ids(users: &[Value], soql: &str) -> Reply {
    let Some((_, list)) = soql.split_once("WHERE Id IN (") else {
        return Reply::Json(
            400,
            json!([{"errorCode": "MALFORMED_QUERY", "message": "the stub has no answer scripted"}]),
        );
    };
    let ids: Vec<&str> = list.trim_end_matches(')').split(", ").map(|s| s.trim_matches('\'')).collect();
    let records: Vec<Value> = users
        .iter()
        .filter(|u| {
            let id = u["Id"].as_str().unwrap_or_default();
            ids.iter().any(|want| *want == id || (want.len() == 15 && id.starts_with(want)))
        })
        .rev()
        .cloned()
        .collect();
    Reply::Json(200, page(records, None))
}

/// A `User` record as Salesforce answers it.
pub fn user(id: &str, first: Option<&str>, last: &str, email: &str, active: bool, modstamp: &str) -> Value {
    json!({
        "attributes": {"type": "User", "url": format!("/services/data/{VERSION}/sobjects/User/{id}")},
        "Id": id,
        "FirstName": first,
        "LastName": last,
        "Name": match first { Some(f) => format!("{f} {last}"), None => last.to_owned() },
        "Email": email,
        "Phone": null,
        "MobilePhone": "+1 415 555 0100",
        "IsActive": active,
        "Title": null,
        "SystemModstamp": modstamp
    })
}

/// A query result page; `next` makes it not done.
pub fn page(records: Vec<Value>, next: Option<&str>) -> Value {
    let mut body = json!({"totalSize": records.len(), "done": next.is_none(), "records": records});
    if let Some(next) = next {
        body["nextRecordsUrl"] = json!(next);
    }
    body
}

/// An 18-character Salesforce user id ending in `n`.
pub fn sf_id(n: usize) -> String {
    format!("005xx{n:010}AAA")
}
