//! Every error the API answers, as RFC 9457 `application/problem+json` (SPEC §10,
//! `docs/ERRORS.md`): one [`ApiError`] type that every handler and extractor returns, mapped from
//! the domain's [`ServiceError`] by its stable [`ErrorCode`], never invented here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::{ErrorCode, FieldError, ServiceError};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema, ToResponse)]
#[response(description = "A problem (RFC 9457); switch on `code`", content_type = "application/problem+json")]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:roster:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// The stable machine code (`docs/ERRORS.md`).
    pub code: String,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// The invalid fields, for `validation_failed`; empty otherwise.
    pub errors: Vec<ProblemField>,
    /// Extra facts some codes carry (`seat_limit_reached`: `product`, `seats_total`,
    /// `seats_used`; `rate_limited`: `retry_after_seconds`; `precondition_failed`: `version`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field as the client sent it (`email`, `products[1]`, `cursor`).
    pub field: String,
    /// A stable code: `invalid_format`, `required`, `unknown_field`, `invalid_type`, …
    pub code: String,
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(e: FieldError) -> Self {
        Self { field: e.field, code: e.code.to_owned(), message: e.message }
    }
}

/// An error answer: a status, a code and what to tell the client. Internal failures keep their
/// cause for the log only. Boxed, so that results stay small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<Details>);

#[derive(Debug)]
struct Details {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<ProblemField>,
    extra: serde_json::Map<String, serde_json::Value>,
    retry_after: Option<u64>,
    /// Logged, never sent.
    internal: Option<String>,
}

/// The HTTP status of each domain code (the table of `docs/ERRORS.md`).
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Unauthenticated | ErrorCode::ApiKeySuspended => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::ValidationFailed | ErrorCode::FlowNotAllowed | ErrorCode::ConfirmationRequired => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::InvalidToken => StatusCode::BAD_REQUEST,
        ErrorCode::Conflict
        | ErrorCode::SelfDeactivation
        | ErrorCode::LastAdmin
        | ErrorCode::MissingPrerequisite
        | ErrorCode::SeatLimitReached
        | ErrorCode::UserNotActive
        | ErrorCode::GroupDepthExceeded
        | ErrorCode::GroupHasSubgroups
        | ErrorCode::AutoSignupEnabled
        | ErrorCode::RestoreExpired
        | ErrorCode::ImpersonationNotAllowed => StatusCode::CONFLICT,
        ErrorCode::CrmNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::CrmUnavailable => StatusCode::BAD_GATEWAY,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The codes the HTTP adapter answers itself, beside the domain's [`ErrorCode`]s, with their
/// statuses (`docs/ERRORS.md`, "What the HTTP adapter adds"): `validation_failed` is also the
/// 400 of a request that cannot be read.
pub const ADAPTER_CODES: [(&str, StatusCode); 7] = [
    ("validation_failed", StatusCode::BAD_REQUEST),
    ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
    ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
    ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ("idempotency_key_in_use", StatusCode::CONFLICT),
    ("idempotency_replay_unavailable", StatusCode::CONFLICT),
    ("idempotency_key_reused", StatusCode::UNPROCESSABLE_ENTITY),
];

/// Every `code` a problem can carry, with its status: the domain's and the adapter's.
pub fn every_code() -> impl Iterator<Item = (&'static str, StatusCode)> {
    ErrorCode::ALL.into_iter().map(|c| (c.as_str(), status_of(c))).chain(ADAPTER_CODES)
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Details {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extra: serde_json::Map::new(),
            retry_after: None,
            internal: None,
        }))
    }

    /// The request could not be read: malformed JSON, a wrong type, an unknown field, a bad
    /// query parameter or cursor (400, `validation_failed`, naming the field).
    pub fn bad_request(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed.as_str(), message.clone());
        e.0.errors.push(ProblemField { field: field.into(), code: code.to_owned(), message });
        e
    }

    /// The request could not be read for several reasons at once (400, `validation_failed`),
    /// each naming its field.
    pub fn bad_request_all(detail: impl Into<String>, errors: Vec<ProblemField>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed.as_str(), detail);
        e.0.errors = errors;
        e
    }

    /// The body is not JSON (415).
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON: send Content-Type: application/json",
        )
    }

    /// The body is not of the one media type the route reads (415), named in the detail.
    pub fn unsupported_media_type_expecting(media_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the body must be sent as Content-Type: {media_type}"),
        )
    }

    /// The body is larger than the limit (413).
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body exceeds {limit} bytes"))
    }

    /// No credentials, or credentials that do not resolve to an active member or key (401).
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated.as_str(), detail)
    }

    /// A cookie-authenticated write without the anti-CSRF header (403).
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden.as_str(), detail)
    }

    /// No route at this path (404) or no such method on it (405).
    pub fn no_route(status: StatusCode) -> Self {
        let code = if status == StatusCode::METHOD_NOT_ALLOWED { "method_not_allowed" } else { "not_found" };
        Self::new(status, code, "no such route")
    }

    /// A failure of ours: logged with `cause`, answered generically (500).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal.as_str(), "internal error");
        e.0.internal = Some(cause.to_string());
        e
    }

    /// A refused `Idempotency-Key` (`idempotency_key_reused`, `idempotency_key_in_use`,
    /// `idempotency_replay_unavailable`; decision 0017).
    pub fn idempotency(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(status, code, detail)
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// What went wrong, for a person (the problem's `detail`).
    pub fn detail(&self) -> &str {
        &self.0.detail
    }
}

/// The whole chain of an error, for the log.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let code = error.code();
        if code == ErrorCode::Internal {
            return Self::internal(chain(&error));
        }
        if code == ErrorCode::CrmUnavailable {
            // Not ours to fix, but the operator's to know: the whole chain goes to the log; the
            // answer carries the directory's own sentence (the adapters never print a secret),
            // which tells an admin whether to wait, fix the CSV file or renew credentials.
            tracing::warn!(cause = %chain(&error), "the CRM directory failed");
        }
        let mut e = Self::new(status_of(code), code.as_str(), error.to_string());
        let d = &mut e.0;
        match error {
            ServiceError::Validation(fields) => d.errors = fields.into_iter().map(ProblemField::from).collect(),
            ServiceError::Conflict { field, .. } => {
                d.errors.push(ProblemField {
                    field: field.to_owned(),
                    code: "taken".into(),
                    message: d.detail.clone(),
                });
            }
            ServiceError::SeatLimitReached { product, seats_total, seats_used } => {
                d.extra.insert("product".into(), product.as_str().into());
                d.extra.insert("seats_total".into(), seats_total.into());
                d.extra.insert("seats_used".into(), seats_used.into());
            }
            ServiceError::MissingPrerequisite { product, missing } => {
                d.extra.insert("product".into(), product.as_str().into());
                let missing: Vec<&str> = missing.iter().map(|k| k.as_str()).collect();
                d.extra.insert("missing".into(), missing.into());
            }
            ServiceError::PreconditionFailed { current, .. } if current > 0 => {
                d.extra.insert("version".into(), current.into());
            }
            ServiceError::RateLimited { retry_after_seconds } => {
                d.retry_after = Some(retry_after_seconds);
                d.extra.insert("retry_after_seconds".into(), retry_after_seconds.into());
            }
            _ => {}
        }
        e
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        if let Some(cause) = &this.internal {
            tracing::error!(code = this.code, cause = %cause, "request failed");
        } else {
            tracing::debug!(code = this.code, status = this.status.as_u16(), detail = %this.detail, "request refused");
        }
        let title = this.status.canonical_reason().unwrap_or("Error").to_owned();
        let body = Problem {
            kind: format!("urn:roster:problem:{}", this.code),
            title,
            status: this.status.as_u16(),
            code: this.code.to_owned(),
            detail: this.detail,
            errors: this.errors,
            extra: this.extra,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"code\":\"internal\"}".to_vec());
        let mut response = (this.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = this.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if this.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"roster\""));
        }
        response
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_code_has_the_status_of_the_errors_table() {
        let table = include_str!("../../../docs/ERRORS.md");
        for code in ErrorCode::ALL {
            let row = format!("| `{}` | {} |", code.as_str(), status_of(code).as_u16());
            assert!(table.contains(&row), "docs/ERRORS.md lacks the row {row}");
        }
    }

    #[test]
    fn internal_failures_hide_their_cause() {
        let e = ApiError::internal("the disk is on fire");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = e.into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
