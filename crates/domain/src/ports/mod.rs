//! The ports: what the domain needs from the outside world, as traits. Adapters implement
//! them (sea-orm, SMTP, Salesforce, argon2); the `roster-testkit` crate implements all of them in
//! memory.
//!
//! Persistence is a unit of work: [`Store::begin`] opens a transaction ([`Tx`]) through which a
//! use case reads and writes everything it touches — including its audit events and outbox
//! messages — and which it commits once. Dropping a `Tx` without committing rolls it back.

mod crm;
mod idempotency;
mod jobs;
mod saved_views;
mod sessions;
mod store;
mod system;
mod webhooks;

pub use crm::{CrmDirectory, CrmError, CrmPage, CrmUser};
pub use idempotency::{IdempotencyRecord, IdempotencyRepository, IdempotencyScope, StoredResponse};
pub use jobs::JobRepository;
pub use saved_views::SavedViewRepository;
pub use sessions::{Attempt, AttemptKind, Session, SessionRepository};
pub use store::{
    AuditLog, AuthorityFacts, ConnectionRepository, GroupRepository, InviteRepository, LicenseRepository,
    OrgRepository, Outbox, PasswordResetRepository, RoleRepository, ScheduleRepository, SeatsExhausted, Store,
    StoreError, Tx, UniqueField, UserLookup, UserRepository, WebhookRepository,
};
pub use system::{Clock, HasherError, IdGenerator, MailError, Mailer, PasswordHash, PasswordHasher};
pub use webhooks::{ANSWER_EXCERPT_MAX, WebhookAnswer, WebhookError, WebhookSender, answer_excerpt};

#[cfg(any(test, feature = "mocks"))]
pub use crm::MockCrmDirectory;
#[cfg(any(test, feature = "mocks"))]
pub use idempotency::MockIdempotencyRepository;
#[cfg(any(test, feature = "mocks"))]
pub use jobs::MockJobRepository;
#[cfg(any(test, feature = "mocks"))]
pub use saved_views::MockSavedViewRepository;
#[cfg(any(test, feature = "mocks"))]
pub use sessions::MockSessionRepository;
#[cfg(any(test, feature = "mocks"))]
pub use store::{
    MockAuditLog, MockConnectionRepository, MockGroupRepository, MockInviteRepository, MockLicenseRepository,
    MockOrgRepository, MockOutbox, MockPasswordResetRepository, MockRoleRepository, MockScheduleRepository,
    MockUserRepository, MockWebhookRepository,
};
#[cfg(any(test, feature = "mocks"))]
pub use system::{MockClock, MockIdGenerator, MockMailer, MockPasswordHasher};
#[cfg(any(test, feature = "mocks"))]
pub use webhooks::MockWebhookSender;
