//! `/api/v1/events` and `/api/v1/webhooks` (SPEC §9.1, decisions 0008 and 0039): the integration
//! event feed in commit order, and webhook endpoints — registered, changed, paused, deleted, their
//! secret rotated, their delivery log read, replayed from a point, sent a test event. Handlers
//! parse, call one service, and shape the answer; the secret is in the answers of creation and
//! rotation only.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::events::FeedEvent;
use roster_domain::ids::WebhookId;
use roster_domain::services::{CreatedWebhook, ReplayFrom, WebhookChanges};
use roster_domain::webhooks::{
    DisabledReason, EventPattern, WebhookDelivery, WebhookDeliveryState, WebhookEndpoint, WebhookUrl,
};
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use super::audit::wire_name;
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::ShownOnce;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{check, ok, parse, parse_time, rfc3339};

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/events", list_events)
        .get("/api/v1/webhooks", list_webhooks)
        .post("/api/v1/webhooks", create_webhook)
        .get("/api/v1/webhooks/{id}", get_webhook)
        .patch("/api/v1/webhooks/{id}", update_webhook)
        .delete("/api/v1/webhooks/{id}", delete_webhook)
        .post("/api/v1/webhooks/{id}/rotate-secret", rotate_webhook_secret)
        .get("/api/v1/webhooks/{id}/deliveries", list_deliveries)
        .post("/api/v1/webhooks/{id}/replay", replay_webhook)
        .post("/api/v1/webhooks/{id}/test", test_webhook)
}

/// Events per page when the caller does not say.
const DEFAULT_LIMIT: u32 = 100;

/// A page size of 1–200, [`DEFAULT_LIMIT`] when absent.
fn page_size(limit: Option<u32>) -> ApiResult<u32> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=200 => Ok(n),
        _ => Err(ApiError::bad_request("limit", "out_of_range", "`limit` is between 1 and 200")),
    }
}

fn webhook_id(id: &str) -> ApiResult<WebhookId> {
    id.parse().map_err(|_| ApiError::from(ServiceError::not_found("webhook")))
}

/// What an event is about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventTargetBody {
    /// The kind of thing that changed, as the audit log names it (`user`, `group`, `license`…).
    pub kind: String,
    /// Its id (a UUID for most kinds, a product key for a seat pool).
    pub id: String,
    /// A readable name of it at the time of the event.
    pub label: String,
}

/// One integration event: an item of `GET /events` and the body of a webhook delivery (the
/// catalog of actions and their `details` is in `docs/EVENTS.md`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventBody {
    /// The event's id; webhook deliveries send it as `webhook-id`, the same on every retry.
    pub id: Uuid,
    /// The event's place in its organization's feed: from 1, without gaps, in commit order.
    pub position: u64,
    /// A dotted verb such as `user.deactivated`.
    #[schema(example = "user.deactivated")]
    pub action: String,
    /// The door the change came through: `console`, `api`, `scim`, `crm_sync`, `import`, `cli`
    /// or `scheduler` — an integration skips the echoes of its own writes by it.
    pub source: String,
    /// When the change happened (RFC 3339); not necessarily in position order.
    pub at: String,
    /// The member who acted (an API key's creator); `null` for the operator and workers.
    pub actor_id: Option<Uuid>,
    /// Set while the actor was being impersonated.
    pub impersonator_id: Option<Uuid>,
    /// The API key that made the change through the API: an integration skips the events of
    /// its own key.
    pub api_key_id: Option<Uuid>,
    pub target: EventTargetBody,
    /// The before/after of each changed field (`{"field": {"before": …, "after": …}}`) and
    /// context.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&FeedEvent> for EventBody {
    fn from(e: &FeedEvent) -> Self {
        Self {
            id: e.id.as_uuid(),
            position: e.position,
            action: e.action.clone(),
            source: wire_name(&e.source),
            at: rfc3339(e.at),
            actor_id: e.actor_id.map(|u| u.as_uuid()),
            impersonator_id: e.impersonator_id.map(|u| u.as_uuid()),
            api_key_id: e.api_key_id.map(|k| k.as_uuid()),
            target: EventTargetBody {
                kind: wire_name(&e.target.kind),
                id: e.target.id.clone(),
                label: e.target.label.clone(),
            },
            details: e.details.clone(),
        }
    }
}

/// `GET /events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsParams {
    /// The position of the last event processed (the previous page's `next_cursor`); from the
    /// first event when absent.
    #[param(pattern = "^[0-9]{1,19}$")]
    pub after: Option<String>,
    /// Comma-separated actions (`user.deactivated`), prefixes (`user.*`) or `*`; every action
    /// when absent.
    #[param(
        example = "user.*,license.assigned",
        pattern = r"^ *((\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.([A-Za-z0-9_]+|\*)))?( *, *((\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.([A-Za-z0-9_]+|\*)))?)* *$"
    )]
    pub types: Option<String>,
    /// Events per page, 1–200 (default 100).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A page of the feed, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventBody>,
    /// Always set: the `after` of the next read — the last event read, matching `types` or not.
    /// An empty page whose cursor did not move means the consumer is up to date.
    pub next_cursor: Option<String>,
    /// Always `null`: the feed is paged by cursor only.
    pub total: Option<u64>,
}

fn parse_types(types: Option<&str>) -> ApiResult<BTreeSet<EventPattern>> {
    let mut patterns = BTreeSet::new();
    for item in types.unwrap_or_default().split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = EventPattern::parse(item).map_err(|e| {
            ApiError::bad_request("types", "invalid_parameter", format!("`{item}` is not an event type: {e}"))
        })?;
        patterns.insert(pattern);
    }
    Ok(patterns)
}

#[utoipa::path(
    get, path = "/api/v1/events", tag = "events",
    params(ListEventsParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Events after the cursor, in commit order, each with its organization's position", body = EventList),
        (status = 403, description = "`forbidden`: needs `view_audit` over the whole organization", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The integration event feed: every change of the organization, in commit order (needs
/// `view_audit` org-wide; kept as long as the audit log).
pub async fn list_events(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<ListEventsParams>,
) -> ApiResult<Json<EventList>> {
    let after = params
        .after
        .as_deref()
        .map(|a| {
            a.parse::<u64>().map_err(|_| {
                ApiError::bad_request("after", "invalid_parameter", "`after` is the position of an event: a number")
            })
        })
        .transpose()?;
    let types = parse_types(params.types.as_deref())?;
    let limit = page_size(params.limit)?;
    let page = state.services.events(&auth.actor, after, &types, limit).await?;
    Ok(Json(EventList {
        items: page.events.iter().map(EventBody::from).collect(),
        next_cursor: Some(page.cursor.to_string()),
        total: None,
    }))
}

/// Why an endpoint receives nothing.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReasonBody {
    /// Set `enabled: false`; `enabled: true` resumes it.
    Paused,
    /// It answered `410 Gone`.
    Gone,
    /// Every delivery failed for 5 days; the admins were mailed.
    Failing,
}

/// A webhook endpoint, never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookBody {
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    /// The actions it receives (`user.deactivated`, `user.*`, `*`); empty: every action.
    pub event_types: Vec<String>,
    /// Whether it receives events.
    pub enabled: bool,
    /// Why it does not, when it does not.
    pub disabled_reason: Option<DisabledReasonBody>,
    /// When it stopped receiving.
    pub disabled_at: Option<String>,
    /// The position of the last event handed off (delivered, given up or not subscribed to).
    pub position: u64,
    /// When its deliveries started failing (every one given up since); `null` while they
    /// succeed.
    pub failing_since: Option<String>,
    /// Until when the secret replaced by the last rotation still signs beside the current one.
    pub previous_secret_expires_at: Option<String>,
    /// The member who registered it.
    pub created_by: Uuid,
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookBody {
    fn from(e: &WebhookEndpoint) -> Self {
        let disabled_reason = match e.disabled_reason {
            Some(DisabledReason::Paused) => Some(DisabledReasonBody::Paused),
            Some(DisabledReason::Gone) => Some(DisabledReasonBody::Gone),
            Some(DisabledReason::Failing) => Some(DisabledReasonBody::Failing),
            Some(DisabledReason::Deleted) | None => None,
        };
        Self {
            id: e.id.as_uuid(),
            url: e.url.to_string(),
            event_types: e.event_types.iter().map(ToString::to_string).collect(),
            enabled: e.is_active(),
            disabled_reason,
            disabled_at: e.disabled_at.map(rfc3339),
            position: e.position,
            failing_since: e.failing_since.map(rfc3339),
            previous_secret_expires_at: e.previous_secret.as_ref().map(|p| rfc3339(p.until)),
            created_by: e.created_by.as_uuid(),
            created_at: rfc3339(e.created_at),
        }
    }
}

/// An endpoint with its signing secret, which is never shown again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedWebhookBody {
    #[serde(flatten)]
    pub webhook: WebhookBody,
    /// `whsec_` and the base64 of 32 random bytes: the key of the Standard Webhooks signature
    /// (`webhook-signature`), as its libraries take it. Shown once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// The organization's endpoints.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookBody>,
    /// Always `null`: the list is whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Every endpoint of the organization (paused and disabled ones too), without secrets, oldest first", body = WebhookList),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The organization's webhook endpoints.
pub async fn list_webhooks(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Json<WebhookList>> {
    let endpoints = state.services.list_webhooks(&auth.actor).await?;
    let items: Vec<WebhookBody> = endpoints.iter().map(WebhookBody::from).collect();
    let total = Some(items.len() as u64);
    Ok(Json(WebhookList { items, next_cursor: None, total }))
}

/// `POST /webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// An `https` URL whose host is public (not loopback, private or link-local, by literal or
    /// by what the name resolves to); at most 2,048 characters, no credentials, no fragment.
    #[schema(
        example = "https://billing.example.com/hooks/roster",
        max_length = 2048,
        pattern = r#"^[Hh][Tt][Tt][Pp][Ss]://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?][!"$-~]*)?$"#
    )]
    pub url: String,
    /// Actions (`user.deactivated`), prefixes (`user.*`) or `*`, at most 50; none: every action.
    #[serde(default)]
    pub event_types: Vec<String>,
}

fn parse_event_types(items: &[String]) -> Result<BTreeSet<EventPattern>, FieldError> {
    items.iter().enumerate().map(|(i, t)| parse(&format!("event_types[{i}]"), t, EventPattern::parse)).collect()
}

#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhookRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry answers 409 `idempotency_replay_unavailable`: the secret is shown once")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The endpoint and its secret (shown once); it receives the events committed from now on", body = CreatedWebhookBody,
            headers(("Location" = String, description = "The endpoint"))),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_replay_unavailable`: a retry with the `Idempotency-Key` of an endpoint already created (its secret is shown once; list the endpoints instead)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a URL that is not `https`, too long, with credentials or a fragment, or whose host is or resolves to a loopback, private or link-local address (`refused_address`; a name that does not resolve now is accepted and checked at each connection); a bad event type; more than 50", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Registers a webhook endpoint; its signing secret is in this answer only.
pub async fn create_webhook(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> ApiResult<Response> {
    let url = parse("url", &body.url, WebhookUrl::parse);
    let event_types = parse_event_types(&body.event_types);
    check([url.as_ref().err(), event_types.as_ref().err()])?;
    let created = state.services.create_webhook(&auth.actor, ok(url)?, ok(event_types)?).await?;
    let location = format!("/api/v1/webhooks/{}", created.endpoint.id);
    let mut response = (StatusCode::CREATED, Json(created_body(created))).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(ShownOnce);
    Ok(response)
}

fn created_body(created: CreatedWebhook) -> CreatedWebhookBody {
    CreatedWebhookBody { webhook: WebhookBody::from(&created.endpoint), secret: created.secret }
}

#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The endpoint, without its secret", body = WebhookBody),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
    )
)]
/// One webhook endpoint.
pub async fn get_webhook(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookBody>> {
    let endpoint = state.services.webhook(&auth.actor, webhook_id(&id)?).await?;
    Ok(Json(WebhookBody::from(&endpoint)))
}

/// `PATCH /webhooks/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// A new URL, held to the rules of creation.
    #[schema(
        max_length = 2048,
        pattern = r#"^[Hh][Tt][Tt][Pp][Ss]://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?][!"$-~]*)?$"#
    )]
    pub url: Option<String>,
    /// A new subscription (an empty list: every action).
    pub event_types: Option<Vec<String>>,
    /// `false` pauses the endpoint; `true` resumes it from its cursor — also after `410 Gone` or
    /// 5 days of failures —, so the events it missed arrive, in order.
    pub enabled: Option<bool>,
}

#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = UpdateWebhookRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The endpoint as changed", body = WebhookBody),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 422, description = "`validation_failed`: a refused URL (as at creation: `refused_address`), a bad event type, more than 50", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Changes an endpoint's URL, event types or enabled state.
pub async fn update_webhook(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> ApiResult<Json<WebhookBody>> {
    let id = webhook_id(&id)?;
    let url = body.url.as_deref().map(|u| parse("url", u, WebhookUrl::parse)).transpose();
    let event_types = body.event_types.as_deref().map(parse_event_types).transpose();
    check([url.as_ref().err(), event_types.as_ref().err()])?;
    let changes = WebhookChanges { url: ok(url)?, event_types: ok(event_types)?, enabled: body.enabled };
    let endpoint = state.services.update_webhook(&auth.actor, id, changes).await?;
    Ok(Json(WebhookBody::from(&endpoint)))
}

#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted: it receives nothing more, and a delivery in progress is closed"),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
    )
)]
/// Deletes a webhook endpoint.
pub async fn delete_webhook(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_webhook(&auth.actor, webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry answers 409 `idempotency_replay_unavailable`: the secret is shown once"),
    ),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The endpoint and its new secret (shown once); the old one keeps signing beside it for 24 hours", body = CreatedWebhookBody),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 409, description = "`idempotency_replay_unavailable`: a retry with the `Idempotency-Key` of a rotation already made (its secret is shown once; rotate again)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Gives an endpoint a new signing secret.
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let rotated = state.services.rotate_webhook_secret(&auth.actor, webhook_id(&id)?).await?;
    let mut response = Json(created_body(rotated)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(ShownOnce);
    Ok(response)
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStateBody {
    /// Waiting for its next attempt (or being sent).
    Pending,
    /// The endpoint answered 2xx.
    Sent,
    /// Given up: a refusal, the retries ran out, `410 Gone`, or closed unsent (a replay, a pause,
    /// a deletion).
    Failed,
}

/// One event handed to the endpoint: a row of the delivery log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryBody {
    pub id: Uuid,
    /// The event sent (its `webhook-id`).
    pub event_id: Uuid,
    /// The event's position in the feed.
    pub event_position: u64,
    pub state: DeliveryStateBody,
    /// Attempts made so far.
    pub attempts: u32,
    /// The HTTP status of the last answer, when there was one.
    pub response_status: Option<u16>,
    /// The first bytes (at most 256) of the last answer's body.
    pub response_excerpt: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Why the last attempt did not deliver (`HTTP 503`, a timeout, a refused address).
    pub last_error: Option<String>,
    /// While pending: when the next attempt is due.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
}

impl From<&WebhookDelivery> for DeliveryBody {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            id: d.id.as_uuid(),
            event_id: d.event_id.as_uuid(),
            event_position: d.event_position,
            state: match d.state {
                WebhookDeliveryState::Pending => DeliveryStateBody::Pending,
                WebhookDeliveryState::Sent => DeliveryStateBody::Sent,
                WebhookDeliveryState::Failed => DeliveryStateBody::Failed,
            },
            attempts: d.attempts,
            response_status: d.response_status,
            response_excerpt: d.response_excerpt.clone(),
            duration_ms: d.duration_ms,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at.map(rfc3339),
            created_at: rfc3339(d.created_at),
            last_attempt_at: d.last_attempt_at.map(rfc3339),
        }
    }
}

/// `GET /webhooks/{id}/deliveries`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesParams {
    /// Rows, 1–200 (default 100), newest first.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The newest rows of an endpoint's delivery log. A delivery that was sent or given up is kept
/// 30 days after it was created, then purged; a pending one is kept until it settles.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryBody>,
    /// Always `null`: the log is read newest first up to `limit`.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id"), ListDeliveriesParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The delivery log, newest first: settled deliveries are kept 30 days after they were created, pending ones until they settle", body = DeliveryList),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
    )
)]
/// An endpoint's delivery log: each event handed to it, with its last answer (settled rows are
/// kept 30 days: `roster_domain::webhooks::DELIVERY_LOG_RETENTION`).
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ListDeliveriesParams>,
) -> ApiResult<Json<DeliveryList>> {
    let id = webhook_id(&id)?;
    let limit = page_size(params.limit)?;
    let deliveries = state.services.webhook_deliveries(&auth.actor, id, limit).await?;
    Ok(Json(DeliveryList {
        items: deliveries.iter().map(DeliveryBody::from).collect(),
        next_cursor: None,
        total: None,
    }))
}

/// The rule between the fields of [`ReplayRequest`], for the OpenAPI document.
pub(crate) fn replay_constraints() -> serde_json::Value {
    serde_json::json!([{"oneOf": [
        {"required": ["since"], "not": {"required": ["from_position"]}},
        {"required": ["from_position"], "not": {"required": ["since"]}},
    ]}])
}

/// `POST /webhooks/{id}/replay`: exactly one of `since` and `from_position`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Re-send the events made after this time (RFC 3339).
    #[schema(format = DateTime)]
    pub since: Option<String>,
    /// Re-send from the event at this position on (1 to the next position).
    #[schema(minimum = 1)]
    pub from_position: Option<u64>,
}

#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/replay", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = ReplayRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The endpoint, its cursor moved to just before the first event to send again; the events follow in order", body = WebhookBody),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 409, description = "`conflict`: the endpoint is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: neither or both of `since` and `from_position`, a time that is not RFC 3339, a position out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Delivers an endpoint's events again from a point on.
pub async fn replay_webhook(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplayRequest>,
) -> ApiResult<Json<WebhookBody>> {
    let id = webhook_id(&id)?;
    let from = match (body.since.as_deref(), body.from_position) {
        (Some(since), None) => ReplayFrom::Since(parse_time("since", since).map_err(|_| {
            ServiceError::Validation(vec![FieldError::new("since", "invalid_format", "not an RFC 3339 time")])
        })?),
        (None, Some(position)) => ReplayFrom::Position(position),
        (Some(_), Some(_)) => {
            let why = "give `since` or `from_position`, not both";
            return Err(ServiceError::Validation(vec![FieldError::new("from_position", "conflicting", why)]).into());
        }
        (None, None) => {
            let why = "give `since` (a time) or `from_position` (a position)";
            return Err(ServiceError::Validation(vec![FieldError::new("since", "required", why)]).into());
        }
    };
    let endpoint = state.services.replay_webhook(&auth.actor, id, from).await?;
    Ok(Json(WebhookBody::from(&endpoint)))
}

#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 202, description = "A `webhook.test` event, queued for this endpoint only, in order after the events before it; its delivery shows in the log", body = EventBody),
        (status = 403, description = "`forbidden`: needs `manage_api_keys` org-wide; not while impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 409, description = "`conflict`: the endpoint is disabled", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Sends an endpoint a `webhook.test` event.
pub async fn test_webhook(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<EventBody>)> {
    let event = state.services.test_webhook(&auth.actor, webhook_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(EventBody::from(&event))))
}
