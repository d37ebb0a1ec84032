//! The application layer: one method per user-facing operation of SPEC §3–§9.1.
//!
//! Every use case follows the same shape: open one transaction, load what it needs, check the
//! actor's permission and organization, apply the pure rules of the entity modules, write the
//! changes together with their audit events (and outbox messages), commit. An error anywhere
//! drops the transaction, so nothing of a failed use case is ever written.
//!
//! A use case that only reads opens a read transaction (`Store::begin_read`: one snapshot, no
//! write lock), or none when it reads with exactly one statement (`Store::single_read`). It
//! narrows its query to what the actor may read before any store sees it (`reader_scope` in
//! `support.rs`), and resolves names a face received (a role key) to ids in its own transaction.
//!
//! One file per area (`users`, `licenses`, `groups`, `invites`, …). Every face — the REST API,
//! the operator's commands — calls these same methods, so a rule, a check or a query shape that
//! two faces need lives here, never in each face.

mod admins;
mod api_keys;
mod auth;
mod bulk;
mod connections;
mod events;
mod exports;
mod groups;
mod invites;
mod jobs;
mod licenses;
mod load;
mod mail;
mod orgs;
mod passwords;
mod roles;
mod saved_views;
mod scheduling;
mod scim;
mod scim_groups;
mod sessions;
mod support;
mod trees;
mod user_import;
mod users;
mod users_screen;
mod webhook_delivery;
mod webhooks;

use std::sync::Arc;

use crate::ports::{Clock, CrmDirectory, IdGenerator, PasswordHasher, SavedViewRepository, Store, WebhookSender};

pub use admins::NewAdmin;
pub use api_keys::API_KEY_PREFIX;
pub use api_keys::{CreatedApiKey, NewApiKey};
pub use auth::IMPERSONATION_LIMIT;
pub use auth::Impersonation;
pub use bulk::{BulkAction, BulkLicenses, BulkOutcome, BulkRequest, BulkResult, BulkSelection};
pub use connections::{CreatedConnection, GroupChoiceItem, NewConnection};
pub use events::EventsPage;
pub use exports::EXPORT_IDS_PAGE;
pub use groups::{GroupDetails, GroupPatch, MoveUser};
pub use invites::{
    AcceptedInvite, BulkPasteOutcome, CRM_IMPORT_CHUNK, CrmImportOutcome, CrmImportRequest, CrmImportStatus,
    InviteOutcome, InviteRow, InviteStatus, InvitesResult, PasteResult, PasteStatus, PendingInvite, SignupRequest,
};
pub use jobs::{
    BulkJobResult, BulkSubmission, ClaimedJob, JOB_OUTCOMES_PAGE, JobOutcomes, JobPace, JobResult, StepResult,
};
pub use licenses::{BulkOp, LicenseChange};
pub use load::LoadSummary;
pub use mail::DeliveryReport;
pub use orgs::{AddedProduct, NewOrganization, ReconcileFinding, ReconcileReport, SeatFinding};
pub use passwords::{OwnPasswordChange, PasswordChange, PasswordResetRequest};
pub use roles::{NewRole, RolePatch};
pub use scim::{ProductRefusal, ScimUserList, ScimUserOutcome, ScimUserPage};
pub use scim_groups::{ScimGroup, ScimGroupPage};
pub use sessions::{Authentication, LoggedIn, LoginAttempt, SessionSettings};
pub use trees::TREE_CACHE_CAPACITY;
pub use user_import::{
    ImportJobResult, ImportRowOutcome, ImportRowStatus, UserImportRequest, UserImportResult, UserImportSubmission,
};
pub use users::{
    DeletedUser, GrantedRole, NewUser, OnboardingFacts, ProfilePatch, RoleAssignment, SettingsPatch, UserDetails,
    UserDetailsPage,
};
pub use users_screen::{TOTAL_KEPT_FOR, UsersScreen};
pub use webhook_delivery::{WebhookLane, WebhookReport};
pub use webhooks::{CreatedWebhook, ReplayFrom, WebhookChanges};

/// The use cases of Roster over a set of ports. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Services {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    hasher: Arc<dyn PasswordHasher>,
    crm: Option<Arc<dyn CrmDirectory>>,
    saved_views: Option<Arc<dyn SavedViewRepository>>,
    /// Checks webhook URLs when endpoints are registered (`webhooks`); without it only the
    /// URL's shape is checked.
    webhook_sender: Option<Arc<dyn WebhookSender>>,
    /// Session lifetime and the login, sign-up and password-reset throttles (`sessions`).
    sessions: sessions::SessionSettings,
    /// The hash unknown accounts are verified against, shared by the clones (`sessions`).
    dummy_hash: sessions::DummyHash,
    /// Group trees kept between requests, shared by the clones (`trees`).
    trees: Arc<trees::TreeCache>,
    /// Roles kept between requests, shared by the clones (`trees`).
    roles: Arc<trees::RolesCache>,
    /// The Users page's totals kept between requests, shared by the clones (`users_screen`).
    totals: Arc<users_screen::TotalsCache>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("crm", &self.crm.is_some()).finish_non_exhaustive()
    }
}

impl Services {
    /// The services over their four required ports: storage, time, ids and password hashing. The
    /// CRM directory and saved views are optional and off until set; sessions use their defaults.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        hasher: Arc<dyn PasswordHasher>,
    ) -> Self {
        Self {
            store,
            clock,
            ids,
            hasher,
            crm: None,
            saved_views: None,
            webhook_sender: None,
            sessions: sessions::SessionSettings::default(),
            dummy_hash: Arc::default(),
            trees: Arc::default(),
            roles: Arc::default(),
            totals: Arc::default(),
        }
    }

    /// Replaces the default session lifetime and throttles ([`SessionSettings::default`]).
    #[must_use]
    pub fn with_session_settings(mut self, settings: SessionSettings) -> Self {
        self.sessions = settings;
        self
    }

    /// The session lifetime and throttles in use.
    pub fn session_settings(&self) -> &SessionSettings {
        &self.sessions
    }

    /// Adds the store of the Users table's saved views.
    #[must_use]
    pub fn with_saved_views(mut self, views: Arc<dyn SavedViewRepository>) -> Self {
        self.saved_views = Some(views);
        self
    }

    /// Adds the webhook sender whose rules check endpoint URLs at registration.
    #[must_use]
    pub fn with_webhook_sender(mut self, sender: Arc<dyn WebhookSender>) -> Self {
        self.webhook_sender = Some(sender);
        self
    }

    /// Adds the CRM directory used by import and sync.
    #[must_use]
    pub fn with_crm(mut self, crm: Arc<dyn CrmDirectory>) -> Self {
        self.crm = Some(crm);
        self
    }
}
