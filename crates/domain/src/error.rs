//! The errors use cases return, and the stable machine codes clients rely on (SPEC §10).
//!
//! Every expected failure is a variant of [`ServiceError`] with exactly one [`ErrorCode`]; the
//! HTTP adapter maps codes to statuses and never invents its own. Infrastructure failures are the
//! single opaque variant [`ServiceError::Store`] (and the hasher's), which keep their source chain
//! for the log. A CRM failure keeps its chain too, but has codes of its own
//! (`crm_not_configured`, `crm_unavailable`): the CRM is another system, and an admin can act on
//! knowing that it, not Roster, failed.

use serde::Serialize;
use thiserror::Error;

use crate::ports::{CrmError, HasherError, StoreError};
use crate::values::{Key, ValueError};

/// The stable, machine-readable error codes of the API (§10 and the rules that name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The entity does not exist in the caller's organization, or the caller may not know it does.
    NotFound,
    /// No valid session or API key: missing, unknown, expired or ended credentials, or a failed
    /// login.
    Unauthenticated,
    /// The caller is authenticated but lacks the permission, scope or dominance (§5) the action
    /// needs.
    Forbidden,
    /// One or more fields of the request are invalid; the problem lists them per field.
    ValidationFailed,
    /// A unique value (email, phone, agent id, CRM id, slug, name among siblings, …) is already
    /// taken, or the target's state refuses the change.
    Conflict,
    /// The `If-Match` version is stale: someone else changed the user, group or role first (HTTP
    /// 412).
    PreconditionFailed,
    /// Too many failed logins from one account or source address; retry later (§10).
    RateLimited,
    /// An admin tried to deactivate or delete themself (§3.1).
    SelfDeactivation,
    /// The change would leave the organization without an active admin (§3.1).
    LastAdmin,
    /// A product was assigned without the products it requires (§4.3).
    MissingPrerequisite,
    /// A product's seat pool has no free seat for the assignment or invite (§4.3, HTTP 409).
    SeatLimitReached,
    /// A license was assigned to a deactivated or deleted user (§4.3).
    UserNotActive,
    /// A group would be created or moved below the third level (§6).
    GroupDepthExceeded,
    /// A group with live subgroups was deleted without `cascade` (§6).
    GroupHasSubgroups,
    /// A connection names a flow its group does not accept (§7.3).
    FlowNotAllowed,
    /// Member invites are refused while the organization's auto sign-up is on (§8.1).
    AutoSignupEnabled,
    /// A destructive or risky change (turning auto sign-up off, deleting a user) was sent without
    /// `confirm: true`.
    ConfirmationRequired,
    /// An invite or sign-up verification token is unknown, already used or expired (§8).
    InvalidToken,
    /// A deleted user can no longer be restored: 30 days have passed (§3.1).
    RestoreExpired,
    /// Impersonation was refused: nested, of oneself, of a deactivated user, or ending one that was
    /// never started (§10).
    ImpersonationNotAllowed,
    /// An API key that still exists but cannot act: its creator was deactivated or deleted.
    ApiKeySuspended,
    /// The installation has no CRM directory (neither Salesforce nor a CSV file configured).
    CrmNotConfigured,
    /// The CRM directory failed: unreachable, timed out, refused the credentials, rate limited,
    /// or answered something unreadable (a CSV file that no longer parses).
    CrmUnavailable,
    /// An infrastructure failure (storage, hasher); the details go to the log, never to the client.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 24] = [
        Self::NotFound,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::ValidationFailed,
        Self::Conflict,
        Self::PreconditionFailed,
        Self::RateLimited,
        Self::SelfDeactivation,
        Self::LastAdmin,
        Self::MissingPrerequisite,
        Self::SeatLimitReached,
        Self::UserNotActive,
        Self::GroupDepthExceeded,
        Self::GroupHasSubgroups,
        Self::FlowNotAllowed,
        Self::AutoSignupEnabled,
        Self::ConfirmationRequired,
        Self::InvalidToken,
        Self::RestoreExpired,
        Self::ImpersonationNotAllowed,
        Self::ApiKeySuspended,
        Self::CrmNotConfigured,
        Self::CrmUnavailable,
        Self::Internal,
    ];

    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::ValidationFailed => "validation_failed",
            Self::Conflict => "conflict",
            Self::PreconditionFailed => "precondition_failed",
            Self::RateLimited => "rate_limited",
            Self::SelfDeactivation => "self_deactivation",
            Self::LastAdmin => "last_admin",
            Self::MissingPrerequisite => "missing_prerequisite",
            Self::SeatLimitReached => "seat_limit_reached",
            Self::UserNotActive => "user_not_active",
            Self::GroupDepthExceeded => "group_depth_exceeded",
            Self::GroupHasSubgroups => "group_has_subgroups",
            Self::FlowNotAllowed => "flow_not_allowed",
            Self::AutoSignupEnabled => "auto_signup_enabled",
            Self::ConfirmationRequired => "confirmation_required",
            Self::InvalidToken => "invalid_token",
            Self::RestoreExpired => "restore_expired",
            Self::ImpersonationNotAllowed => "impersonation_not_allowed",
            Self::ApiKeySuspended => "api_key_suspended",
            Self::CrmNotConfigured => "crm_not_configured",
            Self::CrmUnavailable => "crm_unavailable",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invalid field of a request: which field, why, in words and as a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as the client sent it (`email`, `invites[2].email`).
    pub field: String,
    /// A stable code for the failure (`invalid_format`, `too_long`, `required`, …).
    pub code: &'static str,
    /// A sentence a person can read.
    pub message: String,
}

impl FieldError {
    /// A field that failed to parse into its value type.
    pub fn invalid(field: impl Into<String>, error: &ValueError) -> Self {
        Self { field: field.into(), code: error.code(), message: error.to_string() }
    }

    /// A field that is mandatory and was missing or empty.
    pub fn required(field: impl Into<String>) -> Self {
        Self { field: field.into(), code: "required", message: "is required".to_owned() }
    }

    /// Any other rule a single field broke.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }
}

/// What a use case can fail with. Each variant has one stable [`ErrorCode`].
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The entity does not exist in the caller's organization, or is hidden from the caller.
    #[error("{kind} not found")]
    NotFound {
        /// What was looked for, in words (`user`, `group`, `invite`, …).
        kind: &'static str,
    },
    /// The actor lacks the permission, scope or dominance (§5) the action needs.
    #[error("not allowed: {reason}")]
    Forbidden {
        /// Which rule refused, in words, for the problem's detail and the log.
        reason: String,
    },
    /// The input failed to parse; one entry per invalid field, never empty.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// A value that must be unique is taken, or the target's state refuses the change.
    #[error("conflict on {field}: {message}")]
    Conflict {
        /// The field or resource in conflict (`email`, `phone`, `slug`, `webhook`, …).
        field: &'static str,
        /// A sentence a person can read.
        message: String,
    },
    /// The caller's `If-Match` version is stale: someone else changed the entity first.
    #[error("the {kind} was changed by someone else (version {current})")]
    PreconditionFailed {
        /// What was changed (`user`, `group`, `role`).
        kind: &'static str,
        /// The entity's current version, for a fresh `ETag`; 0 when unknown (the store lost a
        /// race and did not say).
        current: u64,
    },
    /// An admin tried to deactivate or delete themself (§3.1).
    #[error("an admin cannot deactivate or delete themself")]
    SelfDeactivation,
    /// The change would leave the organization without an active admin (§3.1).
    #[error("the organization must keep at least one active admin")]
    LastAdmin,
    /// A product was assigned without the products it requires (§4.3).
    #[error("{product} requires {}", in_words(missing))]
    MissingPrerequisite {
        /// The product being assigned.
        product: Key,
        /// Its prerequisites that are neither held nor assigned in the same operation.
        missing: Vec<Key>,
    },
    /// The product's seat pool has no free seat (§4.3).
    #[error("no free seat for {product}: {seats_used} of {seats_total} used")]
    SeatLimitReached {
        /// The product whose pool is full.
        product: Key,
        /// The pool's size.
        seats_total: u32,
        /// Seats taken by assignments and pending invites when the request was refused.
        seats_used: u32,
    },
    /// A license was assigned to a deactivated or deleted user (§4.3).
    #[error("the user is deactivated or deleted")]
    UserNotActive,
    /// A group would be created or moved below the deepest level allowed (§6).
    #[error("groups can be nested at most {max} levels deep")]
    GroupDepthExceeded {
        /// The deepest level allowed, the root counting as level 1.
        max: u8,
    },
    /// A group with live subgroups was deleted without `cascade` (§6).
    #[error("the group has live subgroups; delete with cascade")]
    GroupHasSubgroups,
    /// The connection's flow is not among those assigned to its group (§7.3).
    #[error("the flow is not assigned to the connection's group")]
    FlowNotAllowed,
    /// Member invites are refused while auto sign-up is on (§8.1).
    #[error("invites are disabled while auto sign-up is on")]
    AutoSignupEnabled,
    /// The change needs `confirm: true` (turning auto sign-up off, deleting a user).
    #[error("this change needs an explicit confirmation")]
    ConfirmationRequired,
    /// An invite or sign-up verification token is unknown, used or expired (§8).
    #[error("the token is invalid, used or expired")]
    InvalidToken,
    /// The user was deleted more than 30 days ago and can no longer be restored (§3.1).
    #[error("the user was deleted more than 30 days ago")]
    RestoreExpired,
    /// Impersonation was refused, or there is none to end (§10).
    #[error("impersonation not allowed: {reason}")]
    ImpersonationNotAllowed {
        /// Why, in words (`already impersonating`, `cannot impersonate yourself`, …).
        reason: &'static str,
    },
    /// No valid session or API key, or a login that failed.
    #[error("authentication failed")]
    Unauthenticated,
    /// The API key exists but cannot act: its creator was deactivated or deleted (§7.4).
    #[error("the API key is suspended: {reason}")]
    ApiKeySuspended {
        /// Which of the two, in words.
        reason: &'static str,
    },
    /// Too many failed logins from one account or source address (§10).
    #[error("too many attempts; retry in {retry_after_seconds} s")]
    RateLimited {
        /// How long until the next attempt is allowed, for the `Retry-After` header.
        retry_after_seconds: u64,
    },
    /// Storage was unavailable or failed: the opaque infrastructure variant. Always
    /// [`StoreError::Unavailable`]: the expected store outcomes become variants of their own.
    #[error(transparent)]
    Store(StoreError),
    /// The CRM directory is not configured or failed (§8.3).
    #[error(transparent)]
    Crm(#[from] CrmError),
    /// The password hasher failed; an infrastructure failure like [`Self::Store`].
    #[error(transparent)]
    Hasher(#[from] HasherError),
}

impl ServiceError {
    /// The stable code the API answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::Forbidden { .. } => ErrorCode::Forbidden,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::Conflict { .. } => ErrorCode::Conflict,
            Self::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
            Self::SelfDeactivation => ErrorCode::SelfDeactivation,
            Self::LastAdmin => ErrorCode::LastAdmin,
            Self::MissingPrerequisite { .. } => ErrorCode::MissingPrerequisite,
            Self::SeatLimitReached { .. } => ErrorCode::SeatLimitReached,
            Self::UserNotActive => ErrorCode::UserNotActive,
            Self::GroupDepthExceeded { .. } => ErrorCode::GroupDepthExceeded,
            Self::GroupHasSubgroups => ErrorCode::GroupHasSubgroups,
            Self::FlowNotAllowed => ErrorCode::FlowNotAllowed,
            Self::AutoSignupEnabled => ErrorCode::AutoSignupEnabled,
            Self::ConfirmationRequired => ErrorCode::ConfirmationRequired,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::RestoreExpired => ErrorCode::RestoreExpired,
            Self::ImpersonationNotAllowed { .. } => ErrorCode::ImpersonationNotAllowed,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::ApiKeySuspended { .. } => ErrorCode::ApiKeySuspended,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            // The CRM is another system: its failure is neither the request's fault nor ours,
            // and the caller (an admin in the import dialog) can act on knowing which it is.
            Self::Crm(CrmError::NotConfigured(_)) => ErrorCode::CrmNotConfigured,
            Self::Crm(_) => ErrorCode::CrmUnavailable,
            Self::Store(_) | Self::Hasher(_) => ErrorCode::Internal,
        }
    }

    /// Shorthand for a missing entity.
    pub fn not_found(kind: &'static str) -> Self {
        Self::NotFound { kind }
    }

    /// Shorthand for a refused permission.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::Forbidden { reason: reason.into() }
    }

    /// Shorthand for a single invalid field.
    pub fn invalid_field(field: &str, error: &ValueError) -> Self {
        Self::Validation(vec![FieldError::invalid(field, error)])
    }
}

impl From<StoreError> for ServiceError {
    /// Expected storage outcomes become their domain errors; only infrastructure failures stay
    /// opaque.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { field } => {
                Self::Conflict { field: field.as_str(), message: format!("{} is already taken", field.as_str()) }
            }
            StoreError::StaleVersion { kind } => Self::PreconditionFailed { kind, current: 0 },
            StoreError::SeatsExhausted(s) => {
                Self::SeatLimitReached { product: s.product, seats_total: s.seats_total, seats_used: s.seats_used }
            }
            StoreError::Missing { kind } => Self::NotFound { kind },
            other @ StoreError::Unavailable(_) => Self::Store(other),
        }
    }
}

/// Items as a person lists them: `core`, `core and dialer`, `core, dialer and sms`.
pub fn in_words<T: std::fmt::Display>(items: &[T]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(ToString::to_string).collect();
            format!("{} and {last}", init.join(", "))
        }
    }
}

/// The result type of every use case.
pub type ServiceResult<T> = Result<T, ServiceError>;
