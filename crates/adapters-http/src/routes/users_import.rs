//! `POST /api/v1/users/import`: an admin uploads a CSV file of users (SPEC §10), one outcome per
//! data row; over 1,000 rows the import runs as a job (`202`, `Location: /api/v1/jobs/{id}`).
//!
//! The body is the file itself (`text/csv`, UTF-8 with or without a byte-order mark, RFC 4180
//! quoting), read by the domain's `user_csv` — the reader and header matching the CSV CRM
//! directory uses too, so Roster's export and Salesforce's name their columns alike. What every
//! created member gets is in the query: `products`, `roles`, `send_welcome_email`, and
//! `dry_run` reports without creating (decision 0036).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use roster_domain::services::{
    ImportRowOutcome, ImportRowStatus, UserImportRequest, UserImportResult, UserImportSubmission,
};
use roster_domain::user_csv::{HeaderProblem, UploadError, parse_upload};
use roster_domain::values::Key;
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use super::users_bulk::SeatCountBody;
use crate::auth::Authenticated;
use crate::extract::{ApiQuery, CsvBody};
use crate::problem::{ApiError, ApiResult, Problem, ProblemField};
use crate::state::AppState;
use crate::wire::{check, ok, parse_keys};

/// Registers the route.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.post("/api/v1/users/import", import_users)
}

/// `POST /users/import` parameters: what every created member gets.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Report every row's outcome and the seats as a real import would, create nothing.
    pub dry_run: Option<bool>,
    /// Product keys, comma-separated (`core,dialer`), whose seats each created member reserves;
    /// a product's prerequisites must be listed too. None when absent.
    #[param(example = "core")]
    pub products: Option<String>,
    /// Role keys, comma-separated, each created member gets across the organization;
    /// `standard` when absent.
    #[param(example = "standard")]
    pub roles: Option<String>,
    /// Email each created member the invitation to set a password (default true); without it
    /// they stay `invited` until an admin resends their invite.
    pub send_welcome_email: Option<bool>,
}

/// A comma-separated list of keys, blanks dropped.
fn keys(field: &str, text: Option<&str>) -> Result<std::collections::BTreeSet<Key>, FieldError> {
    let items: Vec<String> =
        text.unwrap_or("").split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
    parse_keys(field, &items)
}

/// What became of one row.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportRowStatusName {
    /// A member was created (or would be, in a dry run): `invited` until they accept.
    Created,
    /// A member already has the row's CRM id or email (`user_id`).
    AlreadyMember,
    /// An earlier valid row has the same email or CRM id (`duplicate_of`).
    Duplicate,
    /// A value breaks a rule (`errors`), or another member has the phone.
    Invalid,
    /// No free seat was left for a product (`message` has the figures).
    SeatRefused,
}

impl From<ImportRowStatus> for ImportRowStatusName {
    fn from(s: ImportRowStatus) -> Self {
        match s {
            ImportRowStatus::Created => Self::Created,
            ImportRowStatus::AlreadyMember => Self::AlreadyMember,
            ImportRowStatus::Duplicate => Self::Duplicate,
            ImportRowStatus::Invalid => Self::Invalid,
            ImportRowStatus::SeatRefused => Self::SeatRefused,
        }
    }
}

/// The outcome of one data row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRowBody {
    /// The row's position among the data rows, from 1.
    pub row: u64,
    /// The line of the file the row starts on (the header is line 1 in most files).
    pub line: u64,
    /// The row's email, normalized when valid.
    pub email: String,
    pub status: ImportRowStatusName,
    /// The member created, or the member who already has the CRM id or email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// For a duplicate: the earlier row it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
    /// Every value at fault (empty unless `invalid`).
    /// The values of the row at fault: `field` is `email`, `first_name`, `last_name`, `phone`,
    /// `mobile_phone`, `crm_id`, or `row` for the row as a whole; `code` is `required`,
    /// `invalid_format`, `too_long`, `too_short`, `empty`, `field_count` (another number of
    /// fields than the header) or `taken` (another member's phone).
    pub errors: Vec<ProblemField>,
    /// Why the row was not created, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<ImportRowOutcome> for ImportRowBody {
    fn from(o: ImportRowOutcome) -> Self {
        Self {
            row: o.row,
            line: o.line,
            email: o.email,
            status: o.status.into(),
            user_id: o.user_id.map(|u| u.as_uuid()),
            duplicate_of: o.duplicate_of,
            errors: o
                .errors
                .into_iter()
                .map(|e| ProblemField { field: e.field, code: e.code, message: e.message })
                .collect(),
            message: o.message,
        }
    }
}

/// How many rows ended in each status.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportCountsBody {
    pub created: u64,
    pub already_member: u64,
    pub duplicate: u64,
    pub invalid: u64,
    pub seat_refused: u64,
}

/// `POST /users/import` answer (up to 1,000 rows).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserImportResponse {
    /// Whether the members were created: false for a dry run.
    pub applied: bool,
    /// One outcome per data row, in file order.
    pub outcomes: Vec<ImportRowBody>,
    pub counts: ImportCountsBody,
    /// The file's columns the import does not read (Roster's own `id`, `status`, `roles`, …;
    /// Salesforce's `Title`, `IsActive`, …), as they were named.
    pub ignored_columns: Vec<String>,
    /// Seats per product before the import, and after it (as they would be, for a dry run).
    pub seats_before: Vec<SeatCountBody>,
    pub seats_after: Vec<SeatCountBody>,
}

impl From<UserImportResult> for UserImportResponse {
    fn from(r: UserImportResult) -> Self {
        let mut counts = ImportCountsBody::default();
        for o in &r.outcomes {
            *match o.status {
                ImportRowStatus::Created => &mut counts.created,
                ImportRowStatus::AlreadyMember => &mut counts.already_member,
                ImportRowStatus::Duplicate => &mut counts.duplicate,
                ImportRowStatus::Invalid => &mut counts.invalid,
                ImportRowStatus::SeatRefused => &mut counts.seat_refused,
            } += 1;
        }
        Self {
            applied: r.applied,
            outcomes: r.outcomes.into_iter().map(ImportRowBody::from).collect(),
            counts,
            ignored_columns: r.ignored_columns,
            seats_before: r.seats_before.into_iter().map(SeatCountBody::from).collect(),
            seats_after: r.seats_after.into_iter().map(SeatCountBody::from).collect(),
        }
    }
}

/// A file that cannot be read (400, naming each line) or whose header lacks what an import
/// needs (422, naming each column).
fn upload_error(e: UploadError) -> ApiError {
    match e {
        UploadError::NotUtf8 { line } => {
            ApiError::bad_request("body", "not_utf8", format!("line {line} is not UTF-8 text (save the file as UTF-8)"))
        }
        UploadError::Syntax(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| p.line.to_string()).collect();
            ApiError::bad_request_all(
                format!("the file's quoting is broken on line {}", lines.join(", ")),
                problems
                    .iter()
                    .map(|p| ProblemField {
                        field: "body".into(),
                        code: "malformed_csv".into(),
                        message: p.to_string(),
                    })
                    .collect(),
            )
        }
        UploadError::Empty => ServiceError::Validation(vec![FieldError::new(
            "body",
            "required",
            "the file is empty; its first line must name the columns",
        )])
        .into(),
        UploadError::Header { line, problem } => {
            let errors = match &problem {
                HeaderProblem::Missing { missing, .. } => missing
                    .iter()
                    .map(|f| FieldError::new(f.name(), "missing_column", format!("header line {line}: {problem}")))
                    .collect(),
                HeaderProblem::Duplicate { field, .. } => {
                    vec![FieldError::new(field.name(), "duplicate_column", format!("header line {line}: {problem}"))]
                }
            };
            ServiceError::Validation(errors).into()
        }
    }
}

#[utoipa::path(
    post, path = "/api/v1/users/import", tag = "users",
    params(ImportParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer (see decision 0017)")),
    request_body(content = String, content_type = "text/csv", description = "The file: UTF-8 (a byte-order mark is allowed), RFC 4180 quoting, `,` `;` or tab between fields. The first line names the columns, matched ignoring case, spaces, `_`, `-` and `.`: `email`, `first_name`, `last_name` are required; `phone` (else `mobile_phone`) and `crm_id` are read; Roster's export (`GET /users/export.csv`) and Salesforce's (`Id, FirstName, LastName, Email, Phone, MobilePhone, Title, IsActive`) work as they are. Other columns are ignored and listed in `ignored_columns`.",
        example = "email,first_name,last_name,phone\nada@example.com,Ada,Lovelace,+14155550100\n"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "One outcome per data row (up to 1,000 rows): `created`, `already_member`, `duplicate`, `invalid` (with `errors`) or `seat_refused`; `applied` is false for a dry run", body = UserImportResponse),
        (status = 202, description = "More than 1,000 rows: the import is queued as a job (`Location: /api/v1/jobs/{id}`); its outcomes (one per row) and result are read from the job", body = crate::routes::jobs::JobBody,
            headers(("Location" = String, description = "The job's URL"))),
        (status = 400, description = "`validation_failed`: a body that cannot be read — bytes that are not UTF-8 (`not_utf8`) or broken quoting (`malformed_csv`), each naming its line; a bad query parameter (`invalid_parameter`); a bad `Idempotency-Key`. Nothing was changed", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: importing needs `manage_users` over the whole organization, and `manage_licenses` with `products`; a role the caller may not hand out", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`missing_prerequisite`: a product whose prerequisite is not listed (`dialer` without `core`); `idempotency_key_in_use`, `idempotency_replay_unavailable`. Seats running out is no error: those rows are `seat_refused`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: a file over the server's body limit (`--max-body-bytes`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a body not sent as `text/csv` (with no charset or `charset=utf-8`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a header without a required column (`missing_column`, naming each) or naming one field twice (`duplicate_column`), an empty file (`required`), a header with no row (`no_rows`), an unknown product or role (`products`, `roles`); `idempotency_key_reused`. Nothing was changed", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Imports members from a CSV file: one outcome per row; over 1,000 rows it runs as a job.
pub async fn import_users(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<ImportParams>,
    CsvBody(body): CsvBody,
) -> ApiResult<Response> {
    let products = keys("products", params.products.as_deref());
    let roles = keys("roles", params.roles.as_deref());
    check([products.as_ref().err(), roles.as_ref().err()])?;
    let upload = parse_upload(&body).map_err(upload_error)?;
    let request = UserImportRequest {
        rows: upload.rows,
        ignored_columns: upload.ignored_columns,
        products: ok(products)?,
        roles: ok(roles)?.into_iter().collect(),
        send_welcome_email: params.send_welcome_email.unwrap_or(true),
        dry_run: params.dry_run.unwrap_or(false),
    };
    Ok(match state.services.import_users(&auth.actor, request).await? {
        UserImportSubmission::Done(result) => Json(UserImportResponse::from(result)).into_response(),
        UserImportSubmission::Queued(job) => crate::routes::jobs::accepted(&job),
    })
}
