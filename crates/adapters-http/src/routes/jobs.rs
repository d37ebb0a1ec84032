//! Jobs (SPEC §10): long work answers `202 Accepted` with `Location: /api/v1/jobs/{id}`;
//! `GET /jobs/{id}` reports its state and progress, `GET /jobs/{id}/outcomes` its outcomes page by
//! page and `GET /jobs/{id}/result` what the finished job produced. A job is read by its
//! requester, or by a member managing users across the organization.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::ServiceError;
use roster_domain::ids::JobId;
use roster_domain::jobs::{Job, JobState};
use roster_domain::services::{JOB_OUTCOMES_PAGE, JobOutcomes, JobResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use super::users_bulk::{BulkOutcomeBody, SeatCountBody};
use super::users_import::ImportRowBody;
use crate::auth::Authenticated;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::rfc3339;

/// Registers the routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/jobs/{id}", get_job)
        .get("/api/v1/jobs/{id}/outcomes", job_outcomes)
        .get("/api/v1/jobs/{id}/result", job_result)
}

/// A job's state (`GET /jobs/{id}`, and the body of a `202`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobBody {
    pub id: Uuid,
    /// `bulk` (`POST /users/bulk`) or `import` (`POST /users/import`).
    #[schema(example = "bulk")]
    pub kind: &'static str,
    /// `queued`, `running`, `done` or `failed`.
    #[schema(example = "running")]
    pub state: &'static str,
    /// Users (or rows) with their outcome so far.
    pub done: u64,
    /// Users (or rows) the job covers.
    pub total: u64,
    /// Where the outcomes are read, page by page.
    pub outcomes_url: String,
    /// Where the result of a finished job is read; absent until the job is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_url: Option<String>,
    /// Why a failed job stopped (an error code: `unauthenticated`, `forbidden`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    /// The reason in words, for a failed job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When it was requested (RFC 3339).
    pub created_at: String,
    /// When it ended (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl From<&Job> for JobBody {
    fn from(job: &Job) -> Self {
        let url = job_url(job.id);
        let (failure_code, failure) = match &job.state {
            JobState::Failed { code, message } => (Some(code.clone()), Some(message.clone())),
            _ => (None, None),
        };
        Self {
            id: job.id.as_uuid(),
            kind: job.kind.as_str(),
            state: job.state.name(),
            done: job.done,
            total: job.total,
            outcomes_url: format!("{url}/outcomes"),
            result_url: (job.state == JobState::Done).then(|| format!("{url}/result")),
            failure_code,
            failure,
            created_at: rfc3339(job.created_at),
            finished_at: job.finished_at.map(rfc3339),
        }
    }
}

/// The path of a job.
pub(crate) fn job_url(id: JobId) -> String {
    format!("/api/v1/jobs/{id}")
}

/// `202 Accepted` for a queued job, with its `Location`.
pub(crate) fn accepted(job: &Job) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(JobBody::from(job))).into_response();
    if let Ok(v) = job_url(job.id).parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn job_id(id: &str) -> ApiResult<JobId> {
    id.parse().map_err(|_| ApiError::from(ServiceError::not_found("job")))
}

#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The job's state and progress", body = JobBody),
        (status = 404, description = "`not_found`: no such job, one the caller did not request and may not read (reading others' jobs needs `manage_users` over the whole organization), or one that ended more than 30 days ago (finished jobs are kept 30 days)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// A job's state and progress.
pub async fn get_job(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<JobBody>> {
    let job = state.services.job(&auth.actor, job_id(&id)?).await?;
    Ok(Json(JobBody::from(&job)))
}

/// `GET /jobs/{id}/outcomes`: a page after a position.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutcomesParams {
    /// The position after which to read (0, the default, for the first outcome); the previous
    /// page's `next_after`.
    pub after: Option<u64>,
    /// Outcomes per page, 1–1000 (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One outcome of a bulk job (one per user) with its position in the job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkJobOutcomeBody {
    /// The position in the job's input, from 1.
    pub seq: u64,
    #[serde(flatten)]
    pub outcome: BulkOutcomeBody,
}

/// One outcome of an import job (one per data row) with its position in the job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJobOutcomeBody {
    /// The position in the job's input, from 1 (the same as `row`).
    pub seq: u64,
    #[serde(flatten)]
    pub outcome: ImportRowBody,
}

/// One outcome, in the words of the job's kind.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum JobOutcomeBody {
    Bulk(BulkJobOutcomeBody),
    Import(ImportJobOutcomeBody),
}

/// The items of an outcomes page: a bulk job's or an import job's outcomes. `anyOf`, not
/// `oneOf`: an import's outcome may carry every field a bulk one requires.
fn outcome_items() -> utoipa::openapi::schema::Array {
    use utoipa::PartialSchema as _;
    use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder};
    ArrayBuilder::new()
        .items(AnyOfBuilder::new().item(BulkJobOutcomeBody::schema()).item(ImportJobOutcomeBody::schema()))
        .build()
}

/// A page of a job's outcomes, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobOutcomesPage {
    /// The outcomes: per user for a bulk job, per row for an import.
    #[schema(schema_with = outcome_items)]
    pub items: Vec<JobOutcomeBody>,
    /// The `after` of the next page; absent when this page reached the outcomes recorded so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/outcomes", tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id"), OutcomesParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The outcomes recorded so far after `after`, in order", body = JobOutcomesPage),
        (status = 404, description = "`not_found`: as `GET /jobs/{id}`", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "`validation_failed`: `limit` outside 1–1000 (`out_of_range`), a parameter that is not a number or not known (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// A job's outcomes, one per user (or row), page by page.
pub async fn job_outcomes(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<OutcomesParams>,
) -> ApiResult<Json<JobOutcomesPage>> {
    let limit = params.limit.unwrap_or(JOB_OUTCOMES_PAGE);
    if !(1..=JOB_OUTCOMES_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("limit", "out_of_range", "limit must be between 1 and 1000"));
    }
    let page = state.services.job_outcome_page(&auth.actor, job_id(&id)?, params.after.unwrap_or(0), limit).await?;
    let items: Vec<JobOutcomeBody> = match page {
        JobOutcomes::Bulk(rows) => rows
            .into_iter()
            .map(|(seq, o)| JobOutcomeBody::Bulk(BulkJobOutcomeBody { seq, outcome: BulkOutcomeBody::from(o) }))
            .collect(),
        JobOutcomes::Import(rows) => rows
            .into_iter()
            .map(|(seq, o)| JobOutcomeBody::Import(ImportJobOutcomeBody { seq, outcome: ImportRowBody::from(o) }))
            .collect(),
    };
    let last = items.last().map(|item| match item {
        JobOutcomeBody::Bulk(b) => b.seq,
        JobOutcomeBody::Import(i) => i.seq,
    });
    let next_after = last.filter(|_| items.len() == limit as usize);
    Ok(Json(JobOutcomesPage { items, next_after }))
}

/// What a finished job produced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobResultBody {
    /// Whether the changes were written: false for a dry run, and for an atomic bulk job with a
    /// refused user.
    pub applied: bool,
    /// A bulk job: the users whose step succeeded (or would, in a dry run); an import: the rows
    /// that created a member (or would).
    pub succeeded: u64,
    /// A bulk job: the users whose step was refused; an import: the rows that created no member.
    pub refused: u64,
    /// Seats per product before the job, and after it (as they would be, when not applied).
    pub seats_before: Vec<SeatCountBody>,
    pub seats_after: Vec<SeatCountBody>,
    /// For an import: the file's columns it did not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored_columns: Option<Vec<String>>,
}

#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/result", tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "What the finished job produced", body = JobResultBody),
        (status = 404, description = "`not_found`: as `GET /jobs/{id}`, or the job is not done (yet, or it failed)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// What a finished job produced (the seat figures; an import's ignored columns).
pub async fn job_result(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<JobResultBody>> {
    let result = state.services.job_result(&auth.actor, job_id(&id)?).await?;
    let result = result.ok_or_else(|| ApiError::from(ServiceError::not_found("job result")))?;
    let seats = |s: Vec<roster_domain::seats::SeatCount>| s.into_iter().map(SeatCountBody::from).collect();
    Ok(Json(match result {
        JobResult::Bulk(r) => JobResultBody {
            applied: r.applied,
            succeeded: r.succeeded,
            refused: r.refused,
            seats_before: seats(r.seats_before),
            seats_after: seats(r.seats_after),
            ignored_columns: None,
        },
        JobResult::Import(r) => JobResultBody {
            applied: r.applied,
            succeeded: r.succeeded,
            refused: r.refused,
            seats_before: seats(r.seats_before),
            seats_after: seats(r.seats_after),
            ignored_columns: Some(r.ignored_columns),
        },
    }))
}
