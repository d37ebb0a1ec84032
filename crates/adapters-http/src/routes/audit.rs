//! `/api/v1/audit`: the audit log, newest first, with its filters and keyset cursor, and its
//! streamed CSV export (SPEC §9). Handlers parse, call one service, and shape the answer.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use roster_domain::audit::{AuditEvent, AuditQuery, TargetKind};
use roster_domain::ids::{AuditEventId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::csv_export::{self, Page};
use crate::extract::ApiQuery;
use crate::pagination::{Paging, encode_cursor, paging};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{parse_time, rfc3339};

/// Registers the audit routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.get("/api/v1/audit", list_audit).get("/api/v1/audit/export.csv", export_audit)
}

/// The sort every audit cursor belongs to (the log has one order: newest first).
const AUDIT_SORT: &str = "audit:-at,-id";

/// Rows per page of the export (each page is one short read transaction).
const EXPORT_PAGE: u32 = 500;

/// The filters of the audit log (§9): actor, target, action, time range.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditFilterParams {
    /// The member who acted (an API key's events name its creator).
    pub actor: Option<Uuid>,
    /// `organization`, `user`, `license`, `role`, `group`, `membership`, `connection`, `flow`,
    /// `api_key`, `invite`, `settings`, `session` or `webhook`.
    #[param(schema_with = target_kind_schema)]
    pub target_kind: Option<String>,
    /// The target's id as the events name it (a user id, a group id, a product key…).
    pub target_id: Option<String>,
    /// An exact action such as `user.deactivated`.
    pub action: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
}

/// `GET /audit`: the filters, and a keyset page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAuditParams {
    pub actor: Option<Uuid>,
    #[param(schema_with = target_kind_schema)]
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    #[param(format = DateTime)]
    pub from: Option<String>,
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Events per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListAuditParams {
    fn filters(&self) -> AuditFilterParams {
        AuditFilterParams {
            actor: self.actor,
            target_kind: self.target_kind.clone(),
            target_id: self.target_id.clone(),
            action: self.action.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

/// The target kinds a filter takes, as the events name them.
const TARGET_KINDS: [&str; 13] = [
    "organization",
    "user",
    "license",
    "role",
    "group",
    "membership",
    "connection",
    "flow",
    "api_key",
    "invite",
    "settings",
    "session",
    "webhook",
];

fn target_kind_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(TARGET_KINDS))
        .build()
}

impl AuditFilterParams {
    /// The domain's query, with no paging yet.
    fn try_into_domain(self) -> ApiResult<AuditQuery> {
        let target_kind = self
            .target_kind
            .as_deref()
            .map(|k| {
                serde_json::from_value::<TargetKind>(serde_json::Value::String(k.to_owned())).map_err(|_| {
                    ApiError::bad_request("target_kind", "invalid_parameter", format!("unknown target kind `{k}`"))
                })
            })
            .transpose()?;
        let from = self.from.as_deref().map(|t| parse_time("from", t)).transpose()?;
        let to = self.to.as_deref().map(|t| parse_time("to", t)).transpose()?;
        Ok(AuditQuery {
            actor_id: self.actor.map(UserId::from_uuid),
            target_kind,
            target_id: self.target_id.filter(|t| !t.is_empty()),
            action: self.action.filter(|a| !a.is_empty()),
            from,
            to,
            before: None,
            limit: 0,
        })
    }
}

/// The keyset position of an event in the newest-first order.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct AuditCursor {
    at: OffsetDateTime,
    id: Uuid,
}

impl AuditCursor {
    fn of(e: &AuditEvent) -> Self {
        Self { at: e.at, id: e.id.as_uuid() }
    }

    fn position(self) -> (OffsetDateTime, AuditEventId) {
        (self.at, AuditEventId::from_uuid(self.id))
    }
}

/// One audit event (§9), field names as the spec gives them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventBody {
    pub id: Uuid,
    /// RFC 3339.
    pub at: String,
    /// The member who acted (an API key's creator); `null` for the operator and workers.
    pub actor_id: Option<Uuid>,
    /// Set while the actor was being impersonated.
    pub impersonator_id: Option<Uuid>,
    /// `console`, `api`, `scim`, `crm_sync`, `import`, `cli` or `scheduler`.
    pub source: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    /// A readable name of the target at the time of the event.
    pub target_label: String,
    /// The before/after of each changed field, and context.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// The snake_case name a unit enum serializes to.
pub(crate) fn wire_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl From<&AuditEvent> for AuditEventBody {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id.as_uuid(),
            at: rfc3339(e.at),
            actor_id: e.actor_id.map(|u| u.as_uuid()),
            impersonator_id: e.impersonator_id.map(|u| u.as_uuid()),
            source: wire_name(&e.source),
            action: e.action.clone(),
            target_kind: wire_name(&e.target_kind),
            target_id: e.target_id.clone(),
            target_label: e.target_label.clone(),
            details: e.details.clone(),
        }
    }
}

/// A page of the audit log; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEventBody>,
    pub next_cursor: Option<String>,
    /// Always `null`: the log is paged by cursor only.
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(ListAuditParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "One page of the audit log, newest first", body = AuditList),
        (status = 403, description = "`forbidden`: needs `view_audit` over the whole organization", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The audit log, newest first: filter by actor, target, action and time range (needs
/// `view_audit` org-wide).
pub async fn list_audit(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<ListAuditParams>,
) -> ApiResult<Json<AuditList>> {
    let mut query = params.filters().try_into_domain()?;
    let Paging::Cursor { after, limit } =
        paging::<AuditCursor>(params.limit, params.cursor.as_deref(), None, None, AUDIT_SORT)?
    else {
        return Err(ApiError::bad_request("page", "invalid_parameter", "the audit log is paged by cursor"));
    };
    query.before = after.map(AuditCursor::position);
    // One more than asked tells whether a next page exists.
    query.limit = limit + 1;
    let mut events = state.services.audit_log(&auth.actor, &query).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = if more { events.last().map(|e| encode_cursor(AUDIT_SORT, &AuditCursor::of(e))) } else { None };
    Ok(Json(AuditList { items: events.iter().map(AuditEventBody::from).collect(), next_cursor, total: None }))
}

/// The columns of the audit export.
const AUDIT_COLUMNS: [&str; 10] = [
    "id",
    "at",
    "actor_id",
    "impersonator_id",
    "source",
    "action",
    "target_kind",
    "target_id",
    "target_label",
    "details",
];

fn audit_row(e: &AuditEvent) -> Vec<String> {
    let b = AuditEventBody::from(e);
    let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    vec![
        b.id.to_string(),
        b.at,
        id(b.actor_id),
        id(b.impersonator_id),
        b.source,
        b.action,
        b.target_kind,
        b.target_id,
        b.target_label,
        b.details.to_string(),
    ]
}

/// Reads the page after `before`.
async fn audit_page(
    state: AppState,
    auth: Authenticated,
    mut query: AuditQuery,
    before: Option<(OffsetDateTime, AuditEventId)>,
) -> ApiResult<Page<(OffsetDateTime, AuditEventId)>> {
    query.before = before;
    query.limit = EXPORT_PAGE;
    let events = state.services.export_audit_page(&auth.actor, &query).await?;
    let next = (events.len() == EXPORT_PAGE as usize).then(|| events.last().map(|e| (e.at, e.id))).flatten();
    Ok((events.iter().map(audit_row).collect(), next))
}

#[utoipa::path(
    get, path = "/api/v1/audit/export.csv", tag = "audit",
    params(AuditFilterParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The matching events as CSV, newest first, streamed (one header row; `details` as JSON text; formula-like cells prefixed with `'`)",
            content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"audit.csv\""))),
        (status = 403, description = "`forbidden`: needs `view_audit` over the whole organization and `export_data`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The audit log as a CSV download, streamed page by page (needs `view_audit` org-wide and
/// `export_data`).
pub async fn export_audit(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<AuditFilterParams>,
) -> ApiResult<Response> {
    let query = params.try_into_domain()?;
    let first = audit_page(state.clone(), auth.clone(), query.clone(), None).await?;
    Ok(csv_export::stream("audit.csv", &AUDIT_COLUMNS, first, move |before| {
        audit_page(state.clone(), auth.clone(), query.clone(), Some(before))
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_target_kinds_are_the_domain_s() {
        for kind in super::TARGET_KINDS {
            let parsed: roster_domain::audit::TargetKind =
                serde_json::from_value(serde_json::Value::String(kind.to_owned())).expect("a target kind");
            assert_eq!(super::wire_name(&parsed), kind);
        }
    }
}
