//! The persistence port: a unit of work over every aggregate of Roster.
//!
//! A use case calls [`Store::begin`], reads and writes through the returned [`Tx`], and calls
//! [`Tx::commit`] once at the end. Nothing it wrote is visible to anyone before the commit, and
//! nothing of it survives if the `Tx` is dropped instead (an error path). The audit event and
//! any outbox message of a change are written through the same `Tx`, so they commit or vanish
//! with it.
//!
//! Every method is scoped by organization: an adapter must never return or change a row of
//! another organization, whatever ids it is given. A row of another organization is treated as
//! absent (`None`, an empty list, `false`, `0`, [`StoreError::Missing`]).
//!
//! The contract suite (`roster_testkit::contract`) turns every promise below into test cases
//! that each implementation runs through `roster_testkit::store_contract_tests!`.
//!
//! # Concurrency contract (what adapters MUST guarantee)
//! - [`LicenseRepository::take_seats`] is atomic across transactions and processes: it succeeds
//!   only if `seats_used + n <= seats_total` *at the moment it runs* (a conditional
//!   `UPDATE … WHERE seats_used + n <= seats_total`), and the increment is held by the
//!   transaction until it commits or rolls back.
//! - [`OrgRepository::lock_org`] serializes the transactions that call it for one organization
//!   until they end (a row lock on the organization). Use cases that check an org-wide
//!   invariant over several rows (the last active admin) take it first.
//!   The reads that follow `lock_org` must see what the transaction it waited for committed: on
//!   PostgreSQL that means READ COMMITTED (each statement takes a fresh snapshot); under
//!   REPEATABLE READ the waiting transaction would go on reading its older snapshot.
//! - `update_*` methods with a `version` (organizations, users, groups, webhook endpoints and
//!   deliveries) fail with [`StoreError::StaleVersion`] naming the entity (`"organization"`,
//!   `"user"`, `"group"`, `"webhook"`, `"webhook delivery"`) when the stored version is not
//!   `entity.version - 1` (optimistic concurrency: `UPDATE … WHERE id = ? AND version = ?`), and
//!   with [`StoreError::Missing`] when there is no such row in the organization (so zero rows
//!   updated needs a second look to tell the two apart). Updates replace the whole entity.
//! - Unique constraints fail with [`StoreError::Conflict`] naming the field, on insert and on
//!   update alike: `email`, `phone`, `agent_id`, `crm_id` among the organization's users that
//!   are not deleted (a deleted user holds none of them; restoring one checks them again; emails
//!   are compared as [`Email::parse`] normalizes them, agent and CRM ids exactly); `name` among
//!   the live groups with the same parent, compared by [`crate::values::GroupName::key`] (Unicode
//!   lower case, so SQL needs a key column computed by the adapter — SQLite's `NOCASE` folds
//!   ASCII only; roots are not compared, an organization has one); `key` for role keys per
//!   organization and for one seat pool per product, one license per user and product, one
//!   reservation per invite and product; `slug` among organizations. When several values clash
//!   at once, any one of them may be named. An entity never clashes with itself.
//! - A row that refers to another must find it in the same organization, or the write fails
//!   with `Missing` naming the entity not found: `"user"` (license, membership, password hash,
//!   connection inviter, API key creator, invite, scheduled change, password reset link),
//!   `"group"` (membership, group flows, a group's parent), `"invite"` (reservation), `"flow"`
//!   (group flows), `"webhook"` (delivery), `"seat pool"` (taking, returning and setting seats).
//!   Updates and deletes of a row that does not exist fail with `Missing` naming it (`"role"`,
//!   `"api key"`, `"invite"`, `"scheduled change"`, `"mail"`, …). Ids a connection merely
//!   mentions (stamp groups, cc, flow, API key) are the caller's to get right; adapters may
//!   enforce them.
//! - A write that fails with an expected error (`Conflict`, `SeatsExhausted`, `StaleVersion`,
//!   `Missing`) changes nothing and leaves the transaction usable: bulk use cases report that row
//!   and go on. On PostgreSQL, where an error aborts the transaction, the adapter runs such
//!   writes inside a savepoint.
//! - Lists come in a stated order (each method says which), so that every store answers alike;
//!   ids order as their UUIDs' bytes (PostgreSQL's `uuid` order, SQLite's `BLOB` order).
//! - Timestamps are kept to the microsecond (PostgreSQL's precision) and read back equal to what
//!   was written; the clock the application runs on hands out whole microseconds.
//! - Event positions ([`AuditLog::events_after`]) follow commit order per organization: a reader
//!   never sees position N+1 while N is uncommitted. The contract is spelled out on that method.
//! - The webhook delivery worker's claims are optimistic writes (`update_webhook`,
//!   `update_webhook_delivery` with a `version`); see [`WebhookRepository`].
//!
//! # Batch writes
//! The plural writes ([`UserRepository::insert_users`], [`LicenseRepository::insert_licenses`],
//! [`LicenseRepository::insert_reservations`], [`InviteRepository::insert_invites`],
//! [`AuditLog::append_audits`], [`Outbox::enqueue_mails`],
//! [`GroupRepository::insert_memberships`], [`ConnectionRepository::insert_connections`]) exist
//! for imports and data generation, where one statement per row costs more than the rows.
//! Each stores exactly what calling its single-row method once per element, in slice order,
//! would store, and promises what that method promises (the same unique checks, the same
//! references needed, the same error for a refused row), with three additions:
//! - **All or nothing**: if any element is refused (`Conflict`, `Missing`, or a clash between
//!   two elements of the same slice, which is a `Conflict` like a clash with a stored row), the
//!   call changes nothing and the transaction stays usable, as for a single refused write.
//!   When several elements would be refused, any one of them may be the one reported.
//! - **An empty slice** writes nothing and succeeds.
//! - **Counted as one write** by the in-memory store's failure injection.
//!
//! SQL adapters write multi-row `INSERT … VALUES (…), (…)` statements, as many rows per
//! statement as the engine's bind-parameter limit allows for the table's column count (capped),
//! all inside the caller's transaction and, when the batch needs several statements, inside a
//! savepoint so that a refusal undoes the statements already run.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditQuery};
use crate::catalog::Catalog;
use crate::connections::{ApiKey, Connection, Flow};
use crate::groups::{Group, Membership};
use crate::ids::{
    ApiKeyId, ConnectionId, FlowId, GroupId, InviteId, MailId, OrgId, RoleId, ScheduledChangeId, UserId, WebhookId,
};
use crate::invites::Invite;
use crate::mail::{DeliveryState, OutgoingMail, QueuedMail};
use crate::org::Organization;
use crate::password_resets::PasswordReset;
use crate::ports::{JobRepository, PasswordHash, Session, SessionRepository};
use crate::roles::Role;
use crate::scheduling::ScheduledChange;
use crate::seats::{LicenseAssignment, SeatPool, SeatReservation};
use crate::user::User;
use crate::users_query::{UserPage, UserPageFacts, UserQuery};
use crate::values::{AgentId, CrmId, Email, Key, Phone, Slug};
use crate::visibility::ConnectionQuery;
use crate::webhooks::{WebhookDelivery, WebhookEndpoint};

/// Which unique field a conflict is about (see the module docs for what is unique).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    /// A member's email, among the organization's users that are not deleted.
    Email,
    /// A member's phone, among the organization's users that are not deleted.
    Phone,
    /// A member's agent id, among the organization's users that are not deleted.
    AgentId,
    /// A member's CRM id, among the organization's users that are not deleted.
    CrmId,
    /// An organization's slug, among all organizations.
    Slug,
    /// A group's name among its live siblings.
    Name,
    /// A role key; the product of a seat pool, license or reservation.
    Key,
}

impl UniqueField {
    /// The field's name as the API's `conflict` problem names it (`email`, `agent_id`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::AgentId => "agent_id",
            Self::CrmId => "crm_id",
            Self::Slug => "slug",
            Self::Name => "name",
            Self::Key => "key",
        }
    }
}

pub use crate::seats::SeatsExhausted;

/// What the persistence port fails with.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique value is taken by another row (see the module docs for what is unique).
    #[error("{} is already taken", .field.as_str())]
    Conflict {
        /// Which value clashed; when several did, any one of them.
        field: UniqueField,
    },
    /// An optimistic update found a stored version other than `version - 1`: someone else wrote
    /// first.
    #[error("the {kind} was changed concurrently")]
    StaleVersion {
        /// The entity (`organization`, `user`, `group`, `webhook`, `webhook delivery`).
        kind: &'static str,
    },
    /// Taking seats would exceed the pool, or a pool would be set below its seats in use.
    #[error("no free seat for {}", .0.product)]
    SeatsExhausted(SeatsExhausted),
    /// The row, or a row it refers to, does not exist in the organization.
    #[error("the {kind} does not exist")]
    Missing {
        /// The entity not found (`user`, `group`, `seat pool`, `role`, …).
        kind: &'static str,
    },
    /// The database failed or could not be reached: the one infrastructure failure, with its
    /// source for the log.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps any infrastructure error.
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

type R<T> = Result<T, StoreError>;

/// Opens units of work.
#[async_trait]
pub trait Store: Send + Sync {
    /// Opens a read-write transaction.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn begin(&self) -> R<Box<dyn Tx>>;

    /// Opens a transaction for a use case that only reads. It sees what was committed before
    /// each statement, like [`Store::begin`]'s, but it takes no write lock, so it neither waits
    /// for writers nor makes them wait (on SQLite a read-write transaction holds the database's
    /// single write lock from its first statement). Every write method called through it fails
    /// with `Unavailable` and changes nothing; committing it just ends it.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn begin_read(&self) -> R<Box<dyn Tx>>;

    /// Opens a unit of work for a use case that reads with **one** statement (a connections
    /// page, say): a SQL store sends that statement outside any transaction, where it is its
    /// own snapshot, and saves the `BEGIN` and its end. Several reads through it each see their
    /// own moment, so a use case that reads twice opens [`Store::begin_read`] instead. Writes
    /// fail as in a read transaction. The default is [`Store::begin_read`].
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn single_read(&self) -> R<Box<dyn Tx>> {
        self.begin_read().await
    }

    /// What decides a member's authority (`Services::resolve_actor`), read as of one moment:
    /// the user with their grants and group access, the groups of their open memberships, and
    /// the organization's [`GroupRepository::groups_version`] and
    /// [`RoleRepository::roles_version`], which name the tree and roles it is to be read with.
    /// `None` for an unknown user or another organization's.
    ///
    /// Every request resolves its actor, so a store should answer in one statement outside any
    /// transaction (a statement is its own snapshot); the default reads the same facts in a
    /// read transaction, statement by statement.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn authority(&self, org: OrgId, user: UserId) -> R<Option<AuthorityFacts>> {
        let mut tx = self.begin_read().await?;
        let Some(user) = tx.user(org, user).await? else {
            return Ok(None);
        };
        let open_groups =
            tx.memberships_of(org, user.id).await?.into_iter().filter(Membership::is_current).map(|m| m.group_id);
        let open_groups = open_groups.collect();
        let groups_version = tx.groups_version(org).await?;
        let roles_version = tx.roles_version(org).await?;
        Ok(Some(AuthorityFacts { user, open_groups, groups_version, roles_version }))
    }

    /// The session with this token hash, live or expired, read outside any transaction: every
    /// request authenticates, so a store should answer in one statement. The default reads it
    /// in a read transaction.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn session(&self, token_hash: &str) -> R<Option<Session>> {
        let mut tx = self.begin_read().await?;
        tx.session(token_hash).await
    }

    /// Records use of a session and moves its expiry (sliding expiry), outside any unit of work:
    /// one statement of its own on a SQL store. An unknown session is not an error. The default
    /// writes it in a transaction of its own.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn touch_session(&self, token_hash: &str, last_seen_at: OffsetDateTime, expires_at: OffsetDateTime) -> R<()> {
        let mut tx = self.begin().await?;
        tx.extend_session(token_hash, last_seen_at, expires_at).await?;
        tx.commit().await
    }
}

/// What [`Store::authority`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityFacts {
    /// The user, whatever their lifecycle (deleted ones too: the caller decides).
    pub user: User,
    /// The groups of the user's open memberships, deleted groups included (the caller keeps the
    /// live ones with the tree).
    pub open_groups: BTreeSet<GroupId>,
    /// The organization's groups version at the same moment.
    pub groups_version: u64,
    /// The organization's roles version at the same moment.
    pub roles_version: u64,
}

/// One transaction over every repository. Dropping it without [`Tx::commit`] rolls back.
#[async_trait]
pub trait Tx:
    OrgRepository
    + UserRepository
    + LicenseRepository
    + RoleRepository
    + GroupRepository
    + ConnectionRepository
    + InviteRepository
    + ScheduleRepository
    + AuditLog
    + Outbox
    + WebhookRepository
    + SessionRepository
    + JobRepository
    + PasswordResetRepository
    + Send
{
    /// Makes every write of the transaction durable and visible at once.
    ///
    /// # Errors
    /// `Unavailable` (then nothing was written).
    async fn commit(self: Box<Self>) -> R<()>;

    /// The organization and its [`GroupRepository::groups_version`], read together: a read of
    /// a page that needs both (the Users table) saves a statement on the SQL stores, which
    /// answer in one. `None` for an unknown organization.
    async fn org_and_groups_version(&mut self, id: OrgId) -> R<Option<(Organization, u64)>> {
        let Some(org) = self.org(id).await? else {
            return Ok(None);
        };
        let version = self.groups_version(id).await?;
        Ok(Some((org, version)))
    }
}

/// Organizations, their settings and catalogs (§2, §4.1).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrgRepository: Send {
    /// `Conflict { field: Slug }` for a taken slug.
    async fn insert_org(&mut self, org: &Organization) -> R<()>;
    /// An organization by id; `None` for an unknown one.
    async fn org(&mut self, id: OrgId) -> R<Option<Organization>>;
    /// An organization by its unique slug; `None` for an unknown one.
    async fn org_by_slug(&mut self, slug: &Slug) -> R<Option<Organization>>;
    /// Every organization, in id order.
    async fn orgs(&mut self) -> R<Vec<Organization>>;
    /// Optimistic: the stored version must be `org.version - 1`. `Conflict { field: Slug }` for
    /// a taken slug.
    async fn update_org(&mut self, org: &Organization) -> R<()>;
    /// Serializes this transaction with every other one that locks the same organization, and
    /// later reads see what those committed (see the module docs).
    async fn lock_org(&mut self, id: OrgId) -> R<()>;
    /// The organization's catalog; `Missing { kind: "catalog" }` until one was saved.
    async fn catalog(&mut self, org: OrgId) -> R<Catalog>;
    /// Replaces the organization's catalog (products, names, prerequisites).
    async fn save_catalog(&mut self, org: OrgId, catalog: &Catalog) -> R<()>;
}

/// How to find one live (non-deleted) user by a unique field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserLookup<'a> {
    /// By normalized email.
    Email(&'a Email),
    /// By normalized phone.
    Phone(&'a Phone),
    /// By agent id, compared exactly.
    AgentId(&'a AgentId),
    /// By the CRM's user id, compared exactly.
    CrmId(&'a CrmId),
}

/// Members of organizations (§3): their rows with roles, grants and group access, and their
/// password hashes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send {
    /// `Conflict` on a unique value (see the module docs).
    async fn insert_user(&mut self, user: &User) -> R<()>;
    /// A user by id, deleted ones included.
    async fn user(&mut self, org: OrgId, id: UserId) -> R<Option<User>>;
    /// The organization's users among `ids`, deleted ones included, each once, in id order;
    /// unknown ids are skipped.
    async fn users_by_ids(&mut self, org: OrgId, ids: &[UserId]) -> R<Vec<User>>;
    /// A live (not deleted) user by a unique field.
    async fn find_user<'a>(&mut self, org: OrgId, lookup: UserLookup<'a>) -> R<Option<User>>;
    /// Inserts every user as [`UserRepository::insert_user`] would, with their role grants and
    /// group access (see "Batch writes" in the module docs): all or nothing.
    async fn insert_users(&mut self, users: &[User]) -> R<()>;
    /// The organization's live (not deleted) users whose email is among `emails`, whose phone
    /// is among `phones` or whose CRM id is among `crm_ids` — what [`UserRepository::find_user`]
    /// would find for each value, in one go —, each once, in id order. Emails compare as
    /// [`Email::parse`] normalizes them, phones and CRM ids exactly. Empty lists match nothing.
    async fn users_matching(
        &mut self,
        org: OrgId,
        emails: &[Email],
        phones: &[Phone],
        crm_ids: &[CrmId],
    ) -> R<Vec<User>>;
    /// Optimistic: the stored version must be `user.version - 1`. `Conflict` on a unique value.
    async fn update_user(&mut self, user: &User) -> R<()>;
    /// Removes a user row entirely (a revoked invite's user, who never existed for anyone), with
    /// their password hash, licenses, memberships, scheduled changes, invites and those invites'
    /// reservations. Seat counts are left alone (returning seats is the caller's business) and
    /// audit events stay. Callers purge only users no connection, API key or webhook names.
    async fn purge_user(&mut self, org: OrgId, id: UserId) -> R<()>;
    /// Users not deleted, not deactivated, not invited, holding `admin_role` org-wide (a scoped
    /// grant does not count), in id order.
    async fn active_admins(&mut self, org: OrgId, admin_role: RoleId) -> R<Vec<UserId>>;
    /// Users not deleted, not deactivated and not invited (§4.4).
    async fn count_billable(&mut self, org: OrgId) -> R<u64>;
    /// The Users table query (§10), exactly as the reference semantics define it:
    /// [`UserQuery::matches`] over the user row, their licenses and their memberships
    /// ([`in_group_filter`](crate::users_query::in_group_filter)), then [`UserQuery::paginate`] (sort, keyset cursor or page with
    /// total). See `users_query.rs` for what SQL must take care of.
    async fn list_users(&mut self, query: &UserQuery) -> R<UserPage>;
    /// How many users the query's filters match, as [`UserRepository::list_users`] without
    /// paging would list them; the sort and the paging are ignored.
    async fn count_users(&mut self, query: &UserQuery) -> R<u64>;
    /// The facts a page of the Users table shows beside each user's row, read for the whole page
    /// at once: one entry per user of the organization among `users` (deleted ones included), in
    /// id order; unknown ids, another organization's and repeats add nothing.
    async fn page_facts(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<UserPageFacts>>;
    /// [`UserRepository::list_users`] and the [`UserRepository::page_facts`] of its users, read
    /// together (the Users page needs both; the SQL stores answer in one statement). The facts
    /// are in the page's order.
    async fn list_users_with_facts(&mut self, query: &UserQuery) -> R<(UserPage, Vec<UserPageFacts>)> {
        let page = self.list_users(query).await?;
        let ids: Vec<UserId> = page.items.iter().map(|u| u.id).collect();
        let mut facts: BTreeMap<UserId, UserPageFacts> =
            self.page_facts(query.org_id, &ids).await?.into_iter().map(|f| (f.user_id, f)).collect();
        let facts = ids.iter().filter_map(|id| facts.remove(id)).collect();
        Ok((page, facts))
    }
    /// Sets or replaces the user's password hash.
    async fn set_password_hash(&mut self, org: OrgId, id: UserId, hash: &PasswordHash) -> R<()>;
    /// The user's password hash; `None` for a user without a password (invited, imported) or an
    /// unknown one.
    async fn password_hash(&mut self, org: OrgId, id: UserId) -> R<Option<PasswordHash>>;
}

/// Seat pools, license assignments and the seats reserved by pending invites (§4).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LicenseRepository: Send {
    /// `Conflict { field: Key }` when the organization has a pool of the product;
    /// `SeatsExhausted` (with the pool's figures) when `seats_used > seats_total`, as the
    /// schema's `CHECK` refuses it.
    async fn insert_seat_pool(&mut self, pool: &SeatPool) -> R<()>;
    /// The organization's pools, by product.
    async fn seat_pools(&mut self, org: OrgId) -> R<Vec<SeatPool>>;
    /// Sets the total; refuses a total below the seats in use with `SeatsExhausted` (the current
    /// figures).
    async fn set_seats_total(&mut self, org: OrgId, product: &Key, total: u32) -> R<SeatPool>;
    /// Atomically takes `n` seats and answers the pool, or fails with `SeatsExhausted` (the
    /// figures at that moment) when `seats_used + n > seats_total`, computed without overflow
    /// (see the module docs).
    async fn take_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool>;
    /// Gives `n` seats back (never below zero) and answers the pool.
    async fn return_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool>;
    /// The user's assignments, by product.
    async fn licenses_of(&mut self, org: OrgId, user: UserId) -> R<Vec<LicenseAssignment>>;
    /// Every assignment of the organization (reconciliation and billing reports), by user, then
    /// product.
    async fn all_licenses(&mut self, org: OrgId) -> R<Vec<LicenseAssignment>>;
    /// [`LicenseRepository::all_licenses`] a page at a time: the assignments after `after` (a
    /// `(user, product)` position, exclusive; from the first when `None`), in the same order, at
    /// most `limit` (0 answers none). Reconciliation of a large organization holds one page
    /// (SQL adapters: `WHERE org_id = ? AND (user_id, product) > (?, ?) ORDER BY user_id,
    /// product LIMIT ?`, a range of the primary key). The default slices `all_licenses`.
    async fn licenses_after(
        &mut self,
        org: OrgId,
        after: Option<(UserId, Key)>,
        limit: u32,
    ) -> R<Vec<LicenseAssignment>> {
        let all = self.all_licenses(org).await?;
        let start = match &after {
            None => 0,
            Some((user, product)) => all.partition_point(|l| (l.user_id, &l.product) <= (*user, product)),
        };
        Ok(all.into_iter().skip(start).take(limit as usize).collect())
    }
    /// Needs the user; one assignment per user and product (`Conflict { field: Key }`).
    async fn insert_license(&mut self, assignment: &LicenseAssignment) -> R<()>;
    /// [`LicenseRepository::insert_license`] for each assignment, all or nothing (module docs,
    /// "Batch writes"). Seat counts are the caller's, as for one assignment.
    async fn insert_licenses(&mut self, assignments: &[LicenseAssignment]) -> R<()>;
    /// Removes an assignment; answers whether there was one.
    async fn delete_license(&mut self, org: OrgId, user: UserId, product: &Key) -> R<bool>;
    /// The invite's reservations, by product.
    async fn reservations_of(&mut self, org: OrgId, invite: InviteId) -> R<Vec<SeatReservation>>;
    /// Needs the invite; one reservation per invite and product (`Conflict { field: Key }`).
    async fn insert_reservation(&mut self, reservation: &SeatReservation) -> R<()>;
    /// [`LicenseRepository::insert_reservation`] for each reservation, all or nothing (module
    /// docs, "Batch writes").
    async fn insert_reservations(&mut self, reservations: &[SeatReservation]) -> R<()>;
    /// Removes the invite's reservations, if any.
    async fn delete_reservations(&mut self, org: OrgId, invite: InviteId) -> R<()>;
}

/// Roles, built-in and custom (§5).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RoleRepository: Send {
    /// The organization's roles, in id order.
    async fn roles(&mut self, org: OrgId) -> R<Vec<Role>>;
    /// A number that grows with every write to the organization's roles (insert, update,
    /// delete — by anyone, committed or in this transaction) and never goes back, like
    /// [`GroupRepository::groups_version`]: it lets a process keep the roles between requests.
    async fn roles_version(&mut self, org: OrgId) -> R<u64>;
    /// `Conflict { field: Key }` for a key the organization uses.
    async fn insert_role(&mut self, role: &Role) -> R<()>;
    /// Replaces a role (not versioned); `Conflict { field: Key }` for a key another role uses.
    async fn update_role(&mut self, role: &Role) -> R<()>;
    /// Deletes a role; `Missing { kind: "role" }` when there is none. The caller first checks
    /// [`RoleRepository::role_in_use`].
    async fn delete_role(&mut self, org: OrgId, id: RoleId) -> R<()>;
    /// Whether any user (deleted ones excepted; deactivated and invited ones included) holds the
    /// role, with any scope.
    async fn role_in_use(&mut self, org: OrgId, id: RoleId) -> R<bool>;
}

/// The group tree, memberships with their history, and the flows assigned to groups (§6, §7.3).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GroupRepository: Send {
    /// Every group of the organization, deleted ones included, in id order.
    async fn groups(&mut self, org: OrgId) -> R<Vec<Group>>;
    /// A number that grows with every write to the organization's groups (insert, rename, move,
    /// delete, restore — by anyone, committed or in this transaction) and never goes back: two
    /// reads of [`GroupRepository::groups`] with the same number in between answer the same.
    /// Other writes leave it alone. It lets a process keep the tree between requests.
    async fn groups_version(&mut self, org: OrgId) -> R<u64>;
    /// Needs the parent; `Conflict { field: Name }` beside a live namesake (module docs).
    async fn insert_group(&mut self, group: &Group) -> R<()>;
    /// Optimistic: the stored version must be `group.version - 1`. Renames, moves (a new
    /// parent, which must exist), deletes and restores are checked like an insert.
    async fn update_group(&mut self, group: &Group) -> R<()>;
    /// The whole membership history of a user, in no particular order.
    async fn memberships_of(&mut self, org: OrgId, user: UserId) -> R<Vec<Membership>>;
    /// Users with a current (open) membership in the group, in id order.
    async fn current_members(&mut self, org: OrgId, group: GroupId) -> R<Vec<UserId>>;
    /// Needs the group and the user. The caller keeps at most one open membership per group and
    /// user.
    async fn insert_membership(&mut self, membership: &Membership) -> R<()>;
    /// [`GroupRepository::insert_membership`] for each membership, all or nothing (module docs,
    /// "Batch writes"); a missing group is named before a missing user.
    async fn insert_memberships(&mut self, memberships: &[Membership]) -> R<()>;
    /// Ends the current membership at `at`, if any; answers whether there was one.
    async fn end_membership(&mut self, org: OrgId, group: GroupId, user: UserId, at: OffsetDateTime) -> R<bool>;
    /// The flows assigned to each group that has some (a group without flows has no entry).
    async fn group_flows(&mut self, org: OrgId) -> R<BTreeMap<GroupId, BTreeSet<FlowId>>>;
    /// Replaces the group's flows (an empty set removes them all); needs the group and every
    /// flow in the organization.
    async fn set_group_flows(&mut self, org: OrgId, group: GroupId, flows: &BTreeSet<FlowId>) -> R<()>;
}

/// Connections, flows and API keys (§7).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ConnectionRepository: Send {
    /// Needs the inviter among the organization's users.
    async fn insert_connection(&mut self, connection: &Connection) -> R<()>;
    /// [`ConnectionRepository::insert_connection`] for each connection, with its stamp and cc,
    /// all or nothing (module docs, "Batch writes").
    async fn insert_connections(&mut self, connections: &[Connection]) -> R<()>;
    /// A connection by id, with its stamp and cc; `None` for an unknown one.
    async fn connection(&mut self, org: OrgId, id: ConnectionId) -> R<Option<Connection>>;
    /// One page of the connections matching the query (§7.2 in the database): exactly the
    /// organization's rows for which [`ConnectionQuery::matches`] holds, newest first by
    /// `(created_at, id)` descending, at most `query.limit`. The scope's group set may be
    /// empty (then only inviter and cc grant), and its viewer and groups may be unknown.
    async fn list_connections(&mut self, query: &ConnectionQuery) -> R<Vec<Connection>>;
    /// Timing rule 1: `inviter`'s "Organization"-stamped (empty stamp) connections become
    /// stamped `{group}`; answers how many changed.
    async fn restamp_unstamped(&mut self, org: OrgId, inviter: UserId, group: GroupId) -> R<u64>;
    /// Move with record transfer: in `inviter`'s connections stamped with `from`, `from` is
    /// replaced by `to` (a stamp is a set: one holding both keeps `to` once, which a
    /// `(connection, group)` primary key must not trip over); answers how many changed.
    async fn transfer_stamp(&mut self, org: OrgId, inviter: UserId, from: GroupId, to: GroupId) -> R<u64>;
    /// The organization's flows, in id order.
    async fn flows(&mut self, org: OrgId) -> R<Vec<Flow>>;
    /// Needs nothing but the organization; flows are never changed or deleted.
    async fn insert_flow(&mut self, flow: &Flow) -> R<()>;
    /// The organization's API keys, revoked ones included, in id order.
    async fn api_keys(&mut self, org: OrgId) -> R<Vec<ApiKey>>;
    /// A key by id, revoked ones included; `None` for an unknown one.
    async fn api_key(&mut self, org: OrgId, id: ApiKeyId) -> R<Option<ApiKey>>;
    /// A key by the hash of its secret, in any organization, revoked ones included
    /// (authentication tells "revoked" from "unknown").
    async fn api_key_by_secret_hash(&mut self, hash: &str) -> R<Option<ApiKey>>;
    /// Needs the creator among the organization's users.
    async fn insert_api_key(&mut self, key: &ApiKey) -> R<()>;
    /// Replaces a key (not versioned).
    async fn update_api_key(&mut self, key: &ApiKey) -> R<()>;
    /// Records that the key was used at `at`, changing nothing else (so it cannot undo a
    /// concurrent revocation). An unknown key is not an error.
    async fn touch_api_key(&mut self, org: OrgId, id: ApiKeyId, at: OffsetDateTime) -> R<()>;
}

/// Pending and accepted member invites (§8.1).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InviteRepository: Send {
    /// Needs the invited user.
    async fn insert_invite(&mut self, invite: &Invite) -> R<()>;
    /// [`InviteRepository::insert_invite`] for each invite, all or nothing (module docs, "Batch
    /// writes").
    async fn insert_invites(&mut self, invites: &[Invite]) -> R<()>;
    /// An invite by id, accepted ones included; `None` for an unknown one.
    async fn invite(&mut self, org: OrgId, id: InviteId) -> R<Option<Invite>>;
    /// An invite by the hash of its current token, in any organization, accepted ones included
    /// (the service tells "already used" from "unknown").
    async fn invite_by_token_hash(&mut self, hash: &str) -> R<Option<Invite>>;
    /// The pending (not accepted) invites of the organization, in id order.
    async fn pending_invites(&mut self, org: OrgId) -> R<Vec<Invite>>;
    /// Replaces an invite (not versioned): a resend changes its token hash.
    async fn update_invite(&mut self, invite: &Invite) -> R<()>;
    /// Deletes an invite and its reservations (seat counts are the caller's to return).
    async fn delete_invite(&mut self, org: OrgId, id: InviteId) -> R<()>;
}

/// Lifecycle changes scheduled for later (§3.1).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ScheduleRepository: Send {
    /// Needs the user.
    async fn insert_scheduled(&mut self, change: &ScheduledChange) -> R<()>;
    /// The user's changes in every state, by `effective_at`, then id.
    async fn scheduled_for_user(&mut self, org: OrgId, user: UserId) -> R<Vec<ScheduledChange>>;
    /// The pending changes of each of `users` (a page of the Users table), by user, then
    /// `effective_at`, then id.
    async fn pending_scheduled_for_users(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<ScheduledChange>>;
    /// Pending changes of every organization whose time has come (`effective_at <= now`),
    /// oldest first (by `effective_at`, then id), at most `limit`.
    async fn due_scheduled(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<ScheduledChange>>;
    /// Replaces a change (not versioned).
    async fn update_scheduled(&mut self, change: &ScheduledChange) -> R<()>;
    /// Moves a change that is still pending to `state`, and answers whether it was pending: the
    /// scheduler's claim. `UPDATE … SET state = ? WHERE org_id = ? AND id = ? AND state =
    /// 'pending'`: on PostgreSQL a second transaction settling the same change waits for the
    /// first to end and then finds it settled (`false`), so a change is applied once however
    /// many servers run the scheduler. `false` as well for an unknown change.
    async fn settle_scheduled(
        &mut self,
        org: OrgId,
        id: ScheduledChangeId,
        state: &crate::scheduling::ScheduleState,
    ) -> R<bool>;
    /// A scheduled change by id, in any state; `None` for an unknown one.
    async fn scheduled(&mut self, org: OrgId, id: ScheduledChangeId) -> R<Option<ScheduledChange>>;
}

/// The append-only audit log, which is also the integration event feed (§9, §9.1).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send {
    /// Appends an event; there is no update or delete.
    async fn append_audit(&mut self, event: &AuditEvent) -> R<()>;
    /// Appends the events in slice order, all or nothing (module docs, "Batch writes"): each
    /// gets the position [`AuditLog::append_audit`] would give it, one after the other, so an
    /// organization's events of the batch take consecutive positions. SQL adapters bump each
    /// organization's `event_counters` row once per batch (by the number of its events) and
    /// number the rows from there; the positions' promises (see [`AuditLog::events_after`])
    /// hold as for single appends.
    async fn append_audits(&mut self, events: &[AuditEvent]) -> R<()>;
    /// The organization's events for which [`AuditQuery::matches`] holds, newest first (by
    /// `(at, id)` descending), at most `query.limit` — a limit of 0 means no limit (the
    /// service caps what clients ask for).
    async fn audit(&mut self, org: OrgId, query: &AuditQuery) -> R<Vec<AuditEvent>>;
    /// The organization's events after position `after` (from the first when `None`, as with
    /// `Some(0)`), in position order, at most `limit` (0 answers none), each with its position:
    /// the integration event feed (§9.1) and what webhook endpoints follow. Positions follow
    /// append order, not the events' `at`.
    ///
    /// # Positions: what adapters MUST guarantee
    /// Every event gets, when it is appended, the position `p` = 1 + the position of the
    /// organization's previous event (1 for its first), and keeps it forever. Readers rely on
    /// two promises:
    /// 1. **No gaps, no reuse**: the committed positions of an organization are exactly
    ///    1..=last. A rolled-back transaction gives its positions back (the next commit takes
    ///    them), so a consumer never waits on a hole, and no number ever names two events.
    /// 2. **Commit order**: a transaction that can see position N+1 can see every position up to
    ///    N. A consumer that read up to N+1 and stored it as its cursor has therefore missed
    ///    nothing and never will.
    ///
    /// A database sequence or an identity column keeps neither promise (numbers are taken at
    /// insert time, not commit time, and are lost on rollback: the transaction that took 7 may
    /// commit after the one that took 8, and a reader who saw 8 skips 7 forever). SQL adapters
    /// instead keep a counter row per organization (`event_counters(org_id PK, last_position)`)
    /// and, in `append_audit`, inside the appending transaction, run
    /// `UPDATE event_counters SET last_position = last_position + 1 WHERE org_id = ? RETURNING
    /// last_position` (creating the row with 0 on the organization's first event) and store the
    /// result in `audit_events.position`, with `UNIQUE (org_id, position)` as a guard. The
    /// updated row stays locked until the transaction ends, so a second transaction appending to
    /// the same organization waits for the first to commit (then takes N+1) or roll back (then
    /// takes N again): appends are **serialized per organization**, from the first event a
    /// transaction appends until it ends; other organizations are not affected. On SQLite, write
    /// transactions are serialized anyway and the same statement works. Readers then select
    /// `WHERE org_id = ? AND position > ? ORDER BY position LIMIT ?` on committed data (any
    /// isolation level from READ COMMITTED up).
    async fn events_after(&mut self, org: OrgId, after: Option<u64>, limit: u32) -> R<Vec<(u64, AuditEvent)>>;
    /// The position of the organization's latest event, 0 when it has none.
    async fn last_event_position(&mut self, org: OrgId) -> R<u64>;
    /// The lowest position among the organization's events whose `at` is after `at` (strictly),
    /// `None` when there is none: where a replay "since a time" starts.
    async fn first_event_position_after(&mut self, org: OrgId, at: OffsetDateTime) -> R<Option<u64>>;
}

/// Mail written with the change that causes it and delivered after the commit (§8.4).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Outbox: Send {
    /// Queues a message, pending and due at once; the delivery worker sends it after the commit.
    async fn enqueue_mail(&mut self, mail: &OutgoingMail) -> R<()>;
    /// [`Outbox::enqueue_mail`] for each message, all or nothing (module docs, "Batch writes").
    async fn enqueue_mails(&mut self, mails: &[OutgoingMail]) -> R<()>;
    /// Pending messages of every organization whose `next_attempt_at` is at or before `now`,
    /// oldest first (by the message's `created_at`, then id), at most `limit`, each with its
    /// delivery state. Adapters running several workers lock the rows they return (`FOR UPDATE
    /// SKIP LOCKED`).
    async fn due_mail(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<QueuedMail>>;
    /// Records a new delivery state for a queued message; `Missing { kind: "mail" }` for a
    /// message never queued. Recording a settled state (`Sent` or `Failed`) also replaces the
    /// stored message by its [`MailKind::without_secrets`](crate::mail::MailKind::without_secrets)
    /// form, in the same write: a token is kept at rest only while the message may still be
    /// sent (a `Pending` state — a retry, a lease — keeps it whole).
    async fn set_delivery(&mut self, id: MailId, state: &DeliveryState) -> R<()>;
    /// A queued message as the outbox keeps it, with its delivery state, whatever the state;
    /// `None` for a message never queued.
    async fn mail(&mut self, id: MailId) -> R<Option<QueuedMail>>;
}

/// Password reset links (§3), found by the hash of their token (`crate::password_resets`).
///
/// # What adapters MUST guarantee
/// - A link needs its member in the organization (`Missing { kind: "user" }`), and goes with
///   them when the member's row is purged.
/// - [`PasswordResetRepository::take_password_reset`] is the one way to use a link, and uses it
///   once: of two transactions taking the same link, exactly one gets it (SQL: one `DELETE …
///   RETURNING`; the second waits for the first and then finds nothing, or runs after it on
///   SQLite's single writer). A link taken in a transaction that rolls back is there again.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordResetRepository: Send {
    /// Stores a new link. `Missing { kind: "user" }` when its member is not in the
    /// organization.
    async fn insert_password_reset(&mut self, reset: &PasswordReset) -> R<()>;
    /// Removes the link with this token hash and answers it, expired or not; `None` when no
    /// link has this hash (never issued, used, superseded, purged).
    async fn take_password_reset(&mut self, token_hash: &str) -> R<Option<PasswordReset>>;
    /// Removes every link of a member (a newer one supersedes them; the password changed);
    /// answers how many.
    async fn delete_password_resets(&mut self, org: OrgId, user: UserId) -> R<u64>;
    /// Removes the links of every organization that expired at or before `now`; answers how
    /// many.
    async fn purge_expired_password_resets(&mut self, now: OffsetDateTime) -> R<u64>;
}

/// Webhook endpoints and their delivery log (§9.1).
///
/// # What adapters MUST guarantee
/// - `update_webhook` and `update_webhook_delivery` are optimistic: the stored `version` must
///   be `version - 1`, else [`StoreError::StaleVersion`] (`UPDATE … WHERE id = ? AND version =
///   ?`; zero rows updated). The delivery worker claims work with these writes and treats
///   `StaleVersion` as "another worker, a replay or a delete got there first"; it is also what a
///   record of a superseded claim gets, so that it changes nothing.
/// - An endpoint has at most one pending delivery (`UNIQUE (endpoint_id) WHERE state =
///   'pending'`); inserting a second, or updating a settled one back to pending beside it,
///   fails with `StaleVersion { kind: "webhook" }`. Settled deliveries are not limited.
/// - A delivery must find its endpoint in the same organization, or the write fails with
///   `Missing { kind: "webhook" }`.
/// - `webhooks_behind` and `due_webhook_deliveries` span every organization (they feed the
///   worker); adapters running several workers lock the rows they return (`FOR UPDATE SKIP
///   LOCKED`) so that two workers rarely pick the same work — the optimistic writes make it
///   harmless when they do.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send {
    /// Stores a new endpoint (version 1, active); its secret is stored as given.
    async fn insert_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()>;
    /// Every endpoint of the organization, disabled ones included, oldest first (by
    /// `created_at`, then id).
    async fn webhooks(&mut self, org: OrgId) -> R<Vec<WebhookEndpoint>>;
    /// An endpoint by id, disabled ones included; `None` for an unknown one.
    async fn webhook(&mut self, org: OrgId, id: WebhookId) -> R<Option<WebhookEndpoint>>;
    /// Optimistic: the stored version must be `endpoint.version - 1`.
    async fn update_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()>;
    /// Active endpoints of every organization that have no pending delivery and whose
    /// `position` is below their organization's last event position, at most `limit`; ordered
    /// by the `at` of each one's next event (the event at `position + 1`), then by id, so no
    /// organization starves.
    async fn webhooks_behind(&mut self, limit: u32) -> R<Vec<WebhookEndpoint>>;
    /// Needs the endpoint (`Missing { kind: "webhook" }`); at most one pending delivery per
    /// endpoint (`StaleVersion { kind: "webhook" }` for a second).
    async fn insert_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()>;
    /// Optimistic: the stored version must be `delivery.version - 1`.
    async fn update_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()>;
    /// The endpoint's pending delivery, if it has one.
    async fn pending_webhook_delivery(&mut self, org: OrgId, endpoint: WebhookId) -> R<Option<WebhookDelivery>>;
    /// The endpoint's delivery log, newest first (by `created_at`, then id), at most `limit`.
    async fn webhook_deliveries(&mut self, org: OrgId, endpoint: WebhookId, limit: u32) -> R<Vec<WebhookDelivery>>;
    /// Pending deliveries of every organization whose `next_attempt_at` is at or before `now`
    /// (retries and expired leases), earliest first (then by id), at most `limit`.
    async fn due_webhook_deliveries(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<WebhookDelivery>>;
    /// Removes settled deliveries (sent or failed) of every organization created before
    /// `created_before`, the oldest first (by `created_at`, then id), at most `limit`; answers
    /// how many. Pending deliveries stay, however old.
    async fn purge_webhook_deliveries(&mut self, created_before: OffsetDateTime, limit: u32) -> R<u64>;
}
