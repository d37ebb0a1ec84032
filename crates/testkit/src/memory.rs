//! The in-memory [`Store`]: the reference implementation of the persistence contract.
//!
//! Services run on it in unit and property tests, so every method does exactly what the port
//! documents (`ports/store.rs`), no more and no less; the contract suite
//! ([`crate::contract`]) holds it, SQLite and PostgreSQL to the same cases. The choices
//! below are the ones a schema with the natural constraints makes, and the port documents them.
//!
//! # Transactions
//! [`Store::begin`] takes one lock for the whole life of the transaction, so transactions run one
//! at a time, like SQLite's single writer. That makes [`LicenseRepository::take_seats`] atomic
//! and [`OrgRepository::lock_org`] a no-op. The transaction works on a copy of the state;
//! [`Tx::commit`] writes the copy back and dropping the transaction throws it away. A test must
//! therefore not open a second transaction (or call [`InMemoryStore::snapshot`]) while it holds
//! one on the same task: that waits forever, as a second writer would.
//!
//! [`Store::begin_read`] takes no lock: it works on a copy of the last committed state (kept
//! beside the writers' one and replaced at each commit), so it neither waits for a writer nor
//! holds one up, like a WAL reader. Its writes fail with `Unavailable`.
//!
//! # Integrity, as the schema's constraints enforce it
//! - Every read and write is scoped by organization: a row of another organization is treated
//!   as absent (`None`, `false`, [`StoreError::Missing`]).
//! - Unique constraints fail with [`StoreError::Conflict`] on insert and update alike: email,
//!   phone, agent id and CRM id among the non-deleted users of an organization; org slugs; role
//!   keys per organization; live sibling group names, case-insensitively; one seat pool, license
//!   or reservation per product (`Key`).
//! - A row that hangs off another entity (a membership, license, reservation, invite, scheduled
//!   change, connection, API key, password hash, password reset link, group flows, a group's
//!   parent) must find that entity in the same organization, or the write fails with `Missing`
//!   naming it. Rows owned directly by an organization are not checked against the
//!   organization row, so that creating an organization may insert its rows in any order (the
//!   org and its root group refer to each other).
//! - Deleting a user or an invite also deletes the rows that mean nothing without it (like
//!   `ON DELETE CASCADE`); seat counts are never touched implicitly: returning seats is the
//!   caller's business.
//! - A write that fails changes nothing (statement atomicity), and the transaction stays usable.
//! - Inserting an id that already exists is a bug of the caller (ids come from the
//!   `IdGenerator`); it fails with `Unavailable`, as an unexpected primary-key violation would.
//!
//! # Failure injection
//! [`InMemoryStore::fail_after_writes`] and [`InMemoryStore::fail_next_commit`] make a write or a
//! commit fail with `Unavailable`, so a test can prove that a use case failing halfway leaves
//! no partial change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use async_lock::{Mutex, MutexGuardArc};
use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;

use roster_domain::audit::{AuditEvent, AuditQuery};
use roster_domain::catalog::Catalog;
use roster_domain::connections::{ApiKey, Connection, Flow};
use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{
    ApiKeyId, ConnectionId, FlowId, GroupId, InviteId, JobId, MailId, OrgId, RoleId, ScheduledChangeId, UserId,
    WebhookDeliveryId, WebhookId,
};
use roster_domain::invites::Invite;
use roster_domain::jobs::{Job, JobOutcome};
use roster_domain::mail::{DeliveryState, OutgoingMail, QueuedMail};
use roster_domain::org::Organization;
use roster_domain::password_resets::PasswordReset;
use roster_domain::ports::{
    Attempt, AttemptKind, AuditLog, ConnectionRepository, GroupRepository, InviteRepository, JobRepository,
    LicenseRepository, OrgRepository, Outbox, PasswordHash, PasswordResetRepository, RoleRepository,
    ScheduleRepository, Session, SessionRepository, Store, StoreError, Tx, UniqueField, UserLookup, UserRepository,
    WebhookRepository,
};
use roster_domain::roles::Role;
use roster_domain::scheduling::{ScheduleState, ScheduledChange};
use roster_domain::seats::{LicenseAssignment, SeatPool, SeatReservation};
use roster_domain::user::User;
use roster_domain::users_query::{SortFacts, UserPage, UserPageFacts, UserQuery, in_group_filter};
use roster_domain::values::{CrmId, Email, Key, Phone, Slug};
use roster_domain::visibility::ConnectionQuery;
use roster_domain::webhooks::{WebhookDelivery, WebhookEndpoint};

type R<T> = Result<T, StoreError>;

/// Every table of the store. Fields are public so that tests can seed a state
/// ([`InMemoryStore::from_state`]) and inspect one ([`InMemoryStore::snapshot`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryState {
    pub orgs: BTreeMap<OrgId, Organization>,
    pub catalogs: BTreeMap<OrgId, Catalog>,
    pub seat_pools: BTreeMap<(OrgId, Key), SeatPool>,
    pub licenses: BTreeMap<(UserId, Key), LicenseAssignment>,
    pub reservations: BTreeMap<(InviteId, Key), SeatReservation>,
    pub users: BTreeMap<UserId, User>,
    pub password_hashes: BTreeMap<UserId, PasswordHash>,
    pub roles: BTreeMap<RoleId, Role>,
    pub groups: BTreeMap<GroupId, Group>,
    /// [`GroupRepository::groups_version`]: writes to each organization's groups so far.
    pub groups_versions: BTreeMap<OrgId, u64>,
    /// [`RoleRepository::roles_version`]: writes to each organization's roles so far.
    pub roles_versions: BTreeMap<OrgId, u64>,
    /// Membership history, in insertion order.
    pub memberships: Vec<Membership>,
    /// Flows assigned to a group; a group without flows has no entry.
    pub group_flows: BTreeMap<GroupId, BTreeSet<FlowId>>,
    pub connections: BTreeMap<ConnectionId, Connection>,
    pub flows: BTreeMap<FlowId, Flow>,
    pub api_keys: BTreeMap<ApiKeyId, ApiKey>,
    pub invites: BTreeMap<InviteId, Invite>,
    pub scheduled: BTreeMap<ScheduledChangeId, ScheduledChange>,
    /// The audit log, in append order. Transactions run one at a time, so append order is
    /// commit order: an event's position (§9.1) is its 1-based index among its organization's
    /// events here.
    pub audit: Vec<AuditEvent>,
    /// Queued mail, in enqueue order.
    pub outbox: Vec<OutgoingMail>,
    /// The delivery state of each queued message.
    pub deliveries: BTreeMap<MailId, DeliveryState>,
    pub webhooks: BTreeMap<WebhookId, WebhookEndpoint>,
    /// The webhook delivery log.
    pub webhook_deliveries: BTreeMap<WebhookDeliveryId, WebhookDelivery>,
    /// Sessions by token hash.
    pub sessions: BTreeMap<String, Session>,
    /// Throttled attempts, in the order they were recorded.
    pub attempts: Vec<Attempt>,
    pub jobs: BTreeMap<JobId, Job>,
    /// Each job's input, as given.
    pub job_inputs: BTreeMap<JobId, String>,
    /// Each job's outcomes, by `(job, seq)`.
    pub job_outcomes: BTreeMap<(JobId, u64), JobOutcome>,
    /// Password reset links by token hash.
    pub password_resets: BTreeMap<String, PasswordReset>,
}

/// The failures a test has asked for, shared by the store and its transactions.
#[derive(Debug)]
struct Faults {
    /// Writes still allowed before one fails; `usize::MAX` means no failure is armed.
    writes_left: AtomicUsize,
    fail_commit: AtomicBool,
}

const DISARMED: usize = usize::MAX;

/// The error behind an injected `Unavailable`.
#[derive(Debug, Error)]
#[error("injected failure: {0}")]
struct InjectedFailure(&'static str);

/// The error behind a duplicate primary key (a bug of the caller, not a user conflict).
#[derive(Debug, Error)]
#[error("a {0} with this id already exists")]
struct DuplicateId(&'static str);

/// The in-memory [`Store`]. Clones share the same data and the same failure switches.
#[derive(Debug, Clone)]
pub struct InMemoryStore {
    state: Arc<Mutex<MemoryState>>,
    /// A copy of the committed state for read transactions, replaced by each commit.
    committed: Arc<StdMutex<Arc<MemoryState>>>,
    faults: Arc<Faults>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::from_state(MemoryState::default())
    }

    /// A store holding `state` as if it had been committed (to seed a test quickly).
    pub fn from_state(state: MemoryState) -> Self {
        Self {
            committed: Arc::new(StdMutex::new(Arc::new(state.clone()))),
            state: Arc::new(Mutex::new(state)),
            faults: Arc::new(Faults { writes_left: AtomicUsize::new(DISARMED), fail_commit: AtomicBool::new(false) }),
        }
    }

    /// A copy of the committed state. Waits while a transaction is open.
    pub async fn snapshot(&self) -> MemoryState {
        self.state.lock().await.clone()
    }

    /// Lets the next `n` write calls succeed and makes the one after fail with `Unavailable`;
    /// later writes succeed again. Writes are counted across transactions: every repository
    /// method that inserts, updates, deletes, takes or returns seats, sets, appends or enqueues.
    pub fn fail_after_writes(&self, n: usize) {
        // `usize::MAX` is the "off" marker, so the largest armable count is one less.
        self.faults.writes_left.store(n.min(DISARMED - 1), Ordering::SeqCst);
    }

    /// Makes the next [`Tx::commit`] fail with `Unavailable`, writing nothing.
    pub fn fail_next_commit(&self) {
        self.faults.fail_commit.store(true, Ordering::SeqCst);
    }

    /// Disarms every injected failure that has not fired yet.
    pub fn clear_failures(&self) {
        self.faults.writes_left.store(DISARMED, Ordering::SeqCst);
        self.faults.fail_commit.store(false, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for InMemoryStore {
    async fn begin(&self) -> R<Box<dyn Tx>> {
        self.open(false).await
    }

    async fn begin_read(&self) -> R<Box<dyn Tx>> {
        self.open(true).await
    }
}

impl InMemoryStore {
    async fn open(&self, read_only: bool) -> R<Box<dyn Tx>> {
        let (guard, work) = if read_only {
            let committed = Arc::clone(&self.committed.lock().unwrap_or_else(PoisonError::into_inner));
            (None, MemoryState::clone(&committed))
        } else {
            let guard = self.state.lock_arc().await;
            let work = guard.clone();
            (Some(guard), work)
        };
        let committed = Arc::clone(&self.committed);
        Ok(Box::new(MemoryTx { guard, committed, work, faults: Arc::clone(&self.faults) }))
    }
}

/// An open transaction: the store's lock (none for a read transaction, whose writes all fail),
/// and the working copy its writes go to.
#[derive(Debug)]
struct MemoryTx {
    guard: Option<MutexGuardArc<MemoryState>>,
    committed: Arc<StdMutex<Arc<MemoryState>>>,
    work: MemoryState,
    faults: Arc<Faults>,
}

/// A write through a transaction opened by `Store::begin_read`.
#[derive(Debug, Error)]
#[error("a read transaction cannot write")]
struct WriteInReadTransaction;

#[async_trait]
impl Tx for MemoryTx {
    async fn commit(self: Box<Self>) -> R<()> {
        let MemoryTx { guard, committed, work, faults } = *self;
        let Some(mut guard) = guard else { return Ok(()) };
        if faults.fail_commit.swap(false, Ordering::SeqCst) {
            return Err(StoreError::unavailable(InjectedFailure("commit")));
        }
        *committed.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(work.clone());
        *guard = work;
        Ok(())
    }
}

fn missing(kind: &'static str) -> StoreError {
    StoreError::Missing { kind }
}

fn conflict(field: UniqueField) -> StoreError {
    StoreError::Conflict { field }
}

fn duplicate(kind: &'static str) -> StoreError {
    StoreError::unavailable(DuplicateId(kind))
}

/// The optimistic check of every versioned update.
fn check_version(kind: &'static str, stored: u64, new: u64) -> R<()> {
    if stored.checked_add(1) == Some(new) { Ok(()) } else { Err(StoreError::StaleVersion { kind }) }
}

/// Converts a count to the `u64` the port answers with (lossless on every supported target).
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn limit(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl MemoryTx {
    /// The organization's events with their positions: 1-based, in append (= commit) order.
    fn positioned(&self, org: OrgId) -> impl Iterator<Item = (u64, &AuditEvent)> {
        (1..).zip(self.work.audit.iter().filter(move |e| e.org_id == org))
    }

    /// Counts one write against an armed failure, failing the write it designates.
    fn write(&self) -> R<()> {
        if self.guard.is_none() {
            return Err(StoreError::unavailable(WriteInReadTransaction));
        }
        let armed = self.faults.writes_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
            DISARMED => None,
            // This write fails, and the switch turns off so the test can go on afterwards.
            0 => Some(DISARMED),
            left => Some(left - 1),
        });
        match armed {
            Ok(0) => Err(StoreError::unavailable(InjectedFailure("write"))),
            _ => Ok(()),
        }
    }

    fn user_in(&self, org: OrgId, id: UserId) -> Option<&User> {
        self.work.users.get(&id).filter(|u| u.org_id == org)
    }

    fn require_user(&self, org: OrgId, id: UserId) -> R<&User> {
        self.user_in(org, id).ok_or(missing("user"))
    }

    fn group_in(&self, org: OrgId, id: GroupId) -> Option<&Group> {
        self.work.groups.get(&id).filter(|g| g.org_id == org)
    }

    fn require_group(&self, org: OrgId, id: GroupId) -> R<&Group> {
        self.group_in(org, id).ok_or(missing("group"))
    }

    fn require_invite(&self, org: OrgId, id: InviteId) -> R<&Invite> {
        self.work.invites.get(&id).filter(|i| i.org_id == org).ok_or(missing("invite"))
    }

    fn holds(&self, user: &User, product: &Key) -> bool {
        self.work.licenses.get(&(user.id, product.clone())).is_some_and(|l| l.org_id == user.org_id)
    }

    /// The unique fields of a non-deleted user, checked against the other non-deleted users of
    /// the organization. A deleted user occupies no unique value.
    fn check_user_unique(&self, user: &User) -> R<()> {
        if user.is_deleted() {
            return Ok(());
        }
        let others: Vec<&User> = self
            .work
            .users
            .values()
            .filter(|o| o.org_id == user.org_id && o.id != user.id && !o.is_deleted())
            .collect();
        let clash = |same: &dyn Fn(&User) -> bool| others.iter().any(|o| same(o));
        if clash(&|o| o.email == user.email) {
            return Err(conflict(UniqueField::Email));
        }
        if user.phone.is_some() && clash(&|o| o.phone == user.phone) {
            return Err(conflict(UniqueField::Phone));
        }
        if user.agent_id.is_some() && clash(&|o| o.agent_id == user.agent_id) {
            return Err(conflict(UniqueField::AgentId));
        }
        if user.crm_id.is_some() && clash(&|o| o.crm_id == user.crm_id) {
            return Err(conflict(UniqueField::CrmId));
        }
        Ok(())
    }

    fn check_slug_unique(&self, id: OrgId, slug: &Slug) -> R<()> {
        if self.work.orgs.values().any(|o| o.id != id && &o.slug == slug) {
            return Err(conflict(UniqueField::Slug));
        }
        Ok(())
    }

    fn check_role_key_unique(&self, role: &Role) -> R<()> {
        if self.work.roles.values().any(|r| r.org_id == role.org_id && r.id != role.id && r.key == role.key) {
            return Err(conflict(UniqueField::Key));
        }
        Ok(())
    }

    /// A live group needs its parent in the same organization and a name no live sibling has,
    /// compared by [`roster_domain::values::GroupName::key`]. A root has no siblings (an organization
    /// has one), as a unique index over a nullable parent column treats it.
    fn check_group(&self, group: &Group) -> R<()> {
        if let Some(parent) = group.parent_id {
            self.require_group(group.org_id, parent)?;
        }
        if group.is_live() && group.parent_id.is_some() {
            let key = group.name.key();
            let taken = self.work.groups.values().any(|g| {
                g.org_id == group.org_id
                    && g.id != group.id
                    && g.is_live()
                    && g.parent_id == group.parent_id
                    && g.name.key() == key
            });
            if taken {
                return Err(conflict(UniqueField::Name));
            }
        }
        Ok(())
    }

    fn pool_mut(&mut self, org: OrgId, product: &Key) -> R<&mut SeatPool> {
        self.work.seat_pools.get_mut(&(org, product.clone())).ok_or(missing("seat pool"))
    }

    /// A batch write (`ports/store.rs`, "Batch writes"): `put` for each item, counted as one
    /// write; on the first refusal the working copy is put back as it was, so the batch changes
    /// nothing. The copy makes a batch cost the size of the state, which the reference store
    /// accepts for simplicity.
    fn put_all<T>(&mut self, items: &[T], put: fn(&mut Self, &T) -> R<()>) -> R<()> {
        self.write()?;
        if items.is_empty() {
            return Ok(());
        }
        let before = self.work.clone();
        for item in items {
            if let Err(e) = put(self, item) {
                self.work = before;
                return Err(e);
            }
        }
        Ok(())
    }

    /// What `insert_user` stores, without counting a write.
    fn put_user(&mut self, user: &User) -> R<()> {
        if self.work.users.contains_key(&user.id) {
            return Err(duplicate("user"));
        }
        self.check_user_unique(user)?;
        self.work.users.insert(user.id, user.clone());
        Ok(())
    }

    /// What `insert_license` stores, without counting a write.
    fn put_license(&mut self, assignment: &LicenseAssignment) -> R<()> {
        self.require_user(assignment.org_id, assignment.user_id)?;
        let key = (assignment.user_id, assignment.product.clone());
        if self.work.licenses.contains_key(&key) {
            return Err(conflict(UniqueField::Key));
        }
        self.work.licenses.insert(key, assignment.clone());
        Ok(())
    }

    /// What `insert_reservation` stores, without counting a write.
    fn put_reservation(&mut self, reservation: &SeatReservation) -> R<()> {
        self.require_invite(reservation.org_id, reservation.invite_id)?;
        let key = (reservation.invite_id, reservation.product.clone());
        if self.work.reservations.contains_key(&key) {
            return Err(conflict(UniqueField::Key));
        }
        self.work.reservations.insert(key, reservation.clone());
        Ok(())
    }

    /// What `insert_membership` stores, without counting a write.
    fn put_membership(&mut self, membership: &Membership) -> R<()> {
        self.require_group(membership.org_id, membership.group_id)?;
        self.require_user(membership.org_id, membership.user_id)?;
        self.work.memberships.push(membership.clone());
        Ok(())
    }

    /// What `insert_connection` stores, without counting a write.
    fn put_connection(&mut self, connection: &Connection) -> R<()> {
        if self.work.connections.contains_key(&connection.id) {
            return Err(duplicate("connection"));
        }
        self.require_user(connection.org_id, connection.inviter_id)?;
        self.work.connections.insert(connection.id, connection.clone());
        Ok(())
    }

    /// What `insert_invite` stores, without counting a write.
    fn put_invite(&mut self, invite: &Invite) -> R<()> {
        if self.work.invites.contains_key(&invite.id) {
            return Err(duplicate("invite"));
        }
        self.require_user(invite.org_id, invite.user_id)?;
        self.work.invites.insert(invite.id, invite.clone());
        Ok(())
    }

    /// What `append_audit` stores, without counting a write.
    fn put_audit(&mut self, event: &AuditEvent) -> R<()> {
        if self.work.audit.iter().any(|e| e.id == event.id) {
            return Err(duplicate("audit event"));
        }
        self.work.audit.push(event.clone());
        Ok(())
    }

    /// What `enqueue_mail` stores, without counting a write.
    fn put_mail(&mut self, mail: &OutgoingMail) -> R<()> {
        if self.work.outbox.iter().any(|m| m.id == mail.id) {
            return Err(duplicate("mail"));
        }
        self.work.outbox.push(mail.clone());
        self.work.deliveries.insert(
            mail.id,
            DeliveryState::Pending { attempts: 0, next_attempt_at: mail.created_at, last_error: None },
        );
        Ok(())
    }

    /// The groups of the user's open memberships.
    fn open_groups(&self, user: &User) -> BTreeSet<GroupId> {
        self.work
            .memberships
            .iter()
            .filter(|m| m.org_id == user.org_id && m.user_id == user.id && m.left_at.is_none())
            .map(|m| m.group_id)
            .collect()
    }

    fn query_users(&self, query: &UserQuery) -> UserPage {
        let group = query.group.and_then(|g| self.group_in(query.org_id, g));
        let in_group = |u: &User| {
            group.is_some_and(|g| self.work.memberships.iter().any(|m| m.user_id == u.id && in_group_filter(g, m)))
        };
        let matching: Vec<User> = self
            .work
            .users
            .values()
            .filter(|u| query.matches(u, |key| self.holds(u, key), || in_group(u), || self.open_groups(u)))
            .cloned()
            .collect();
        query.paginate(matching, |u| self.sort_facts(u))
    }

    /// What a user's row sorts by beside their own fields: products held, the keys of the
    /// roles they hold (a role the organization lacks counts for nothing), the lower-case
    /// names of their open memberships' groups, their soonest pending scheduled change.
    fn sort_facts(&self, user: &User) -> SortFacts {
        let w = &self.work;
        SortFacts {
            products: w
                .licenses
                .values()
                .filter(|l| l.org_id == user.org_id && l.user_id == user.id)
                .map(|l| l.product.clone())
                .collect(),
            roles: user
                .roles
                .iter()
                .filter_map(|g| w.roles.get(&g.role_id).filter(|r| r.org_id == user.org_id))
                .map(|r| r.key.clone())
                .collect(),
            teams: self
                .open_groups(user)
                .into_iter()
                .filter_map(|g| self.group_in(user.org_id, g))
                .map(|g| g.name.key())
                .collect(),
            next_scheduled: w
                .scheduled
                .values()
                .filter(|c| c.org_id == user.org_id && c.user_id == user.id && c.is_pending())
                .map(|c| c.effective_at)
                .min(),
        }
    }
}

#[async_trait]
impl OrgRepository for MemoryTx {
    async fn insert_org(&mut self, org: &Organization) -> R<()> {
        self.write()?;
        if self.work.orgs.contains_key(&org.id) {
            return Err(duplicate("organization"));
        }
        self.check_slug_unique(org.id, &org.slug)?;
        self.work.orgs.insert(org.id, org.clone());
        Ok(())
    }

    async fn org(&mut self, id: OrgId) -> R<Option<Organization>> {
        Ok(self.work.orgs.get(&id).cloned())
    }

    async fn org_by_slug(&mut self, slug: &Slug) -> R<Option<Organization>> {
        Ok(self.work.orgs.values().find(|o| &o.slug == slug).cloned())
    }

    async fn orgs(&mut self) -> R<Vec<Organization>> {
        Ok(self.work.orgs.values().cloned().collect())
    }

    async fn update_org(&mut self, org: &Organization) -> R<()> {
        self.write()?;
        let stored = self.work.orgs.get(&org.id).ok_or(missing("organization"))?;
        check_version("organization", stored.version, org.version)?;
        self.check_slug_unique(org.id, &org.slug)?;
        self.work.orgs.insert(org.id, org.clone());
        Ok(())
    }

    async fn lock_org(&mut self, _id: OrgId) -> R<()> {
        // Transactions already run one at a time (see the module docs), so holding the store's
        // lock is holding every organization's lock.
        Ok(())
    }

    async fn catalog(&mut self, org: OrgId) -> R<Catalog> {
        // An organization gets its catalog saved when it is created; none saved is a missing row,
        // not an empty catalog, so a use case that forgot to save one fails loudly.
        self.work.catalogs.get(&org).cloned().ok_or(missing("catalog"))
    }

    async fn save_catalog(&mut self, org: OrgId, catalog: &Catalog) -> R<()> {
        self.write()?;
        self.work.catalogs.insert(org, catalog.clone());
        Ok(())
    }
}

#[async_trait]
impl UserRepository for MemoryTx {
    async fn insert_user(&mut self, user: &User) -> R<()> {
        self.write()?;
        self.put_user(user)
    }

    async fn insert_users(&mut self, users: &[User]) -> R<()> {
        self.put_all(users, Self::put_user)
    }

    async fn user(&mut self, org: OrgId, id: UserId) -> R<Option<User>> {
        Ok(self.user_in(org, id).cloned())
    }

    async fn users_by_ids(&mut self, org: OrgId, ids: &[UserId]) -> R<Vec<User>> {
        // Ordered by id and without repeats, like `WHERE id IN (…) ORDER BY id`.
        let wanted: BTreeSet<UserId> = ids.iter().copied().collect();
        Ok(wanted.into_iter().filter_map(|id| self.user_in(org, id).cloned()).collect())
    }

    async fn find_user<'a>(&mut self, org: OrgId, lookup: UserLookup<'a>) -> R<Option<User>> {
        let hit = |u: &User| match lookup {
            UserLookup::Email(e) => &u.email == e,
            UserLookup::Phone(p) => u.phone.as_ref() == Some(p),
            UserLookup::AgentId(a) => u.agent_id.as_ref() == Some(a),
            UserLookup::CrmId(c) => u.crm_id.as_ref() == Some(c),
        };
        Ok(self.work.users.values().find(|u| u.org_id == org && !u.is_deleted() && hit(u)).cloned())
    }

    async fn users_matching(
        &mut self,
        org: OrgId,
        emails: &[Email],
        phones: &[Phone],
        crm_ids: &[CrmId],
    ) -> R<Vec<User>> {
        let emails: BTreeSet<&Email> = emails.iter().collect();
        let phones: BTreeSet<&Phone> = phones.iter().collect();
        let crm_ids: BTreeSet<&CrmId> = crm_ids.iter().collect();
        let hit = |u: &User| {
            emails.contains(&u.email)
                || u.phone.as_ref().is_some_and(|p| phones.contains(p))
                || u.crm_id.as_ref().is_some_and(|c| crm_ids.contains(c))
        };
        // `users` is keyed by id, so the matches come in id order, each once.
        Ok(self.work.users.values().filter(|u| u.org_id == org && !u.is_deleted() && hit(u)).cloned().collect())
    }

    async fn update_user(&mut self, user: &User) -> R<()> {
        self.write()?;
        let stored = self.require_user(user.org_id, user.id)?;
        check_version("user", stored.version, user.version)?;
        self.check_user_unique(user)?;
        self.work.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn purge_user(&mut self, org: OrgId, id: UserId) -> R<()> {
        self.write()?;
        self.require_user(org, id)?;
        let w = &mut self.work;
        w.users.remove(&id);
        w.password_hashes.remove(&id);
        w.password_resets.retain(|_, r| r.user_id != id);
        end_sessions(&mut w.sessions, |s| s.user_id == id);
        w.licenses.retain(|(user, _), _| *user != id);
        w.memberships.retain(|m| m.user_id != id);
        w.scheduled.retain(|_, s| s.user_id != id);
        let invites: BTreeSet<InviteId> = w.invites.values().filter(|i| i.user_id == id).map(|i| i.id).collect();
        w.invites.retain(|i, _| !invites.contains(i));
        w.reservations.retain(|(invite, _), _| !invites.contains(invite));
        Ok(())
    }

    async fn active_admins(&mut self, org: OrgId, admin_role: RoleId) -> R<Vec<UserId>> {
        Ok(self
            .work
            .users
            .values()
            .filter(|u| u.org_id == org && u.is_billable())
            .filter(|u| u.roles.iter().any(|g| g.role_id == admin_role && g.scope.is_none()))
            .map(|u| u.id)
            .collect())
    }

    async fn count_billable(&mut self, org: OrgId) -> R<u64> {
        Ok(count(self.work.users.values().filter(|u| u.org_id == org && u.is_billable()).count()))
    }

    async fn list_users(&mut self, query: &UserQuery) -> R<UserPage> {
        Ok(self.query_users(query))
    }

    async fn count_users(&mut self, query: &UserQuery) -> R<u64> {
        let unpaged = UserQuery { paging: None, ..query.clone() };
        Ok(count(self.query_users(&unpaged).items.len()))
    }

    async fn page_facts(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<UserPageFacts>> {
        let wanted: BTreeSet<UserId> = users.iter().copied().collect();
        let state = &self.work;
        Ok(wanted
            .into_iter()
            .filter(|id| state.users.get(id).is_some_and(|u| u.org_id == org))
            .map(|user_id| UserPageFacts {
                user_id,
                products: state.licenses.values().filter(|l| l.user_id == user_id).map(|l| l.product.clone()).collect(),
                open_groups: state
                    .memberships
                    .iter()
                    .filter(|m| m.user_id == user_id && m.is_current())
                    .map(|m| m.group_id)
                    .collect(),
                pending_scheduled: state.scheduled.values().any(|c| c.user_id == user_id && c.is_pending()),
            })
            .collect())
    }

    async fn set_password_hash(&mut self, org: OrgId, id: UserId, hash: &PasswordHash) -> R<()> {
        self.write()?;
        self.require_user(org, id)?;
        self.work.password_hashes.insert(id, hash.clone());
        Ok(())
    }

    async fn password_hash(&mut self, org: OrgId, id: UserId) -> R<Option<PasswordHash>> {
        Ok(self.user_in(org, id).and_then(|_| self.work.password_hashes.get(&id)).cloned())
    }
}

/// Removes the sessions `ends` picks and the sessions they started (`parent_hash`, as the SQL
/// stores' `ON DELETE CASCADE`); answers how many `ends` picked.
fn end_sessions(sessions: &mut BTreeMap<String, Session>, ends: impl Fn(&Session) -> bool) -> u64 {
    let ended: BTreeSet<String> = sessions.values().filter(|s| ends(s)).map(|s| s.token_hash.clone()).collect();
    sessions.retain(|hash, s| !ended.contains(hash) && !s.parent_hash.as_ref().is_some_and(|p| ended.contains(p)));
    count(ended.len())
}

#[async_trait]
impl SessionRepository for MemoryTx {
    async fn insert_session(&mut self, session: &Session) -> R<()> {
        self.write()?;
        self.require_user(session.org_id, session.user_id)?;
        if session.parent_hash.as_ref().is_some_and(|p| !self.work.sessions.contains_key(p)) {
            return Err(missing("session"));
        }
        if self.work.sessions.contains_key(&session.token_hash) {
            return Err(duplicate("session"));
        }
        self.work.sessions.insert(session.token_hash.clone(), session.clone());
        Ok(())
    }

    async fn session(&mut self, token_hash: &str) -> R<Option<Session>> {
        Ok(self.work.sessions.get(token_hash).cloned())
    }

    async fn extend_session(
        &mut self,
        token_hash: &str,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> R<()> {
        self.write()?;
        if let Some(s) = self.work.sessions.get_mut(token_hash) {
            s.last_seen_at = last_seen_at;
            s.expires_at = expires_at;
        }
        Ok(())
    }

    async fn delete_session(&mut self, token_hash: &str) -> R<bool> {
        self.write()?;
        Ok(end_sessions(&mut self.work.sessions, |s| s.token_hash == token_hash) > 0)
    }

    async fn delete_user_sessions<'a>(&mut self, org: OrgId, user: UserId, keep: Option<&'a str>) -> R<u64> {
        self.write()?;
        let ends = |s: &Session| s.org_id == org && s.user_id == user && Some(s.token_hash.as_str()) != keep;
        Ok(end_sessions(&mut self.work.sessions, ends))
    }

    async fn purge_expired_sessions(&mut self, now: OffsetDateTime) -> R<u64> {
        self.write()?;
        Ok(end_sessions(&mut self.work.sessions, |s| !s.is_live(now)))
    }

    async fn record_attempt(&mut self, attempt: &Attempt) -> R<()> {
        self.write()?;
        self.work.attempts.push(attempt.clone());
        Ok(())
    }

    async fn attempts_since<'a>(
        &mut self,
        kind: AttemptKind,
        address: &str,
        account: Option<&'a str>,
        since: OffsetDateTime,
    ) -> R<Vec<OffsetDateTime>> {
        let mut times: Vec<OffsetDateTime> = self
            .work
            .attempts
            .iter()
            .filter(|a| a.kind == kind && a.address == address && a.at >= since)
            .filter(|a| account.is_none_or(|acc| a.account.as_deref() == Some(acc)))
            .map(|a| a.at)
            .collect();
        times.sort();
        Ok(times)
    }

    async fn clear_attempts(&mut self, kind: AttemptKind, address: &str, account: &str) -> R<()> {
        self.write()?;
        self.work
            .attempts
            .retain(|a| !(a.kind == kind && a.address == address && a.account.as_deref() == Some(account)));
        Ok(())
    }

    async fn purge_attempts(&mut self, before: OffsetDateTime) -> R<u64> {
        self.write()?;
        let n = self.work.attempts.len();
        self.work.attempts.retain(|a| a.at >= before);
        Ok(count(n - self.work.attempts.len()))
    }

    async fn account_attempts_since(
        &mut self,
        kind: AttemptKind,
        account: &str,
        since: OffsetDateTime,
    ) -> R<Vec<OffsetDateTime>> {
        let mut times: Vec<OffsetDateTime> = self
            .work
            .attempts
            .iter()
            .filter(|a| a.kind == kind && a.account.as_deref() == Some(account) && a.at >= since)
            .map(|a| a.at)
            .collect();
        times.sort();
        Ok(times)
    }
}

#[async_trait]
impl PasswordResetRepository for MemoryTx {
    async fn insert_password_reset(&mut self, reset: &PasswordReset) -> R<()> {
        self.write()?;
        self.require_user(reset.org_id, reset.user_id)?;
        if self.work.password_resets.contains_key(&reset.token_hash) {
            return Err(duplicate("password reset"));
        }
        self.work.password_resets.insert(reset.token_hash.clone(), reset.clone());
        Ok(())
    }

    async fn take_password_reset(&mut self, token_hash: &str) -> R<Option<PasswordReset>> {
        self.write()?;
        Ok(self.work.password_resets.remove(token_hash))
    }

    async fn delete_password_resets(&mut self, org: OrgId, user: UserId) -> R<u64> {
        self.write()?;
        let n = self.work.password_resets.len();
        self.work.password_resets.retain(|_, r| !(r.org_id == org && r.user_id == user));
        Ok(count(n - self.work.password_resets.len()))
    }

    async fn purge_expired_password_resets(&mut self, now: OffsetDateTime) -> R<u64> {
        self.write()?;
        let n = self.work.password_resets.len();
        self.work.password_resets.retain(|_, r| r.is_live(now));
        Ok(count(n - self.work.password_resets.len()))
    }
}

#[async_trait]
impl LicenseRepository for MemoryTx {
    async fn insert_seat_pool(&mut self, pool: &SeatPool) -> R<()> {
        self.write()?;
        let key = (pool.org_id(), pool.product().clone());
        if self.work.seat_pools.contains_key(&key) {
            return Err(conflict(UniqueField::Key));
        }
        // The schema's CHECK (seats_used <= seats_total), reported like any refused seat.
        if !pool.is_within_total() {
            return Err(StoreError::SeatsExhausted(pool.exhausted()));
        }
        self.work.seat_pools.insert(key, pool.clone());
        Ok(())
    }

    async fn seat_pools(&mut self, org: OrgId) -> R<Vec<SeatPool>> {
        Ok(self.work.seat_pools.values().filter(|p| p.org_id() == org).cloned().collect())
    }

    async fn set_seats_total(&mut self, org: OrgId, product: &Key, total: u32) -> R<SeatPool> {
        self.write()?;
        let pool = self.pool_mut(org, product)?;
        pool.set_total(total).map_err(StoreError::SeatsExhausted)?;
        Ok(pool.clone())
    }

    async fn take_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        self.write()?;
        let pool = self.pool_mut(org, product)?;
        pool.take(n).map_err(StoreError::SeatsExhausted)?;
        Ok(pool.clone())
    }

    async fn return_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        self.write()?;
        let pool = self.pool_mut(org, product)?;
        pool.give_back(n);
        Ok(pool.clone())
    }

    async fn licenses_of(&mut self, org: OrgId, user: UserId) -> R<Vec<LicenseAssignment>> {
        Ok(self.work.licenses.values().filter(|l| l.org_id == org && l.user_id == user).cloned().collect())
    }

    async fn all_licenses(&mut self, org: OrgId) -> R<Vec<LicenseAssignment>> {
        Ok(self.work.licenses.values().filter(|l| l.org_id == org).cloned().collect())
    }

    async fn insert_license(&mut self, assignment: &LicenseAssignment) -> R<()> {
        self.write()?;
        self.put_license(assignment)
    }

    async fn insert_licenses(&mut self, assignments: &[LicenseAssignment]) -> R<()> {
        self.put_all(assignments, Self::put_license)
    }

    async fn delete_license(&mut self, org: OrgId, user: UserId, product: &Key) -> R<bool> {
        self.write()?;
        let key = (user, product.clone());
        if self.work.licenses.get(&key).is_some_and(|l| l.org_id == org) {
            self.work.licenses.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn reservations_of(&mut self, org: OrgId, invite: InviteId) -> R<Vec<SeatReservation>> {
        Ok(self.work.reservations.values().filter(|r| r.org_id == org && r.invite_id == invite).cloned().collect())
    }

    async fn insert_reservation(&mut self, reservation: &SeatReservation) -> R<()> {
        self.write()?;
        self.put_reservation(reservation)
    }

    async fn insert_reservations(&mut self, reservations: &[SeatReservation]) -> R<()> {
        self.put_all(reservations, Self::put_reservation)
    }

    async fn delete_reservations(&mut self, org: OrgId, invite: InviteId) -> R<()> {
        self.write()?;
        self.work.reservations.retain(|_, r| !(r.org_id == org && r.invite_id == invite));
        Ok(())
    }
}

#[async_trait]
impl RoleRepository for MemoryTx {
    async fn roles(&mut self, org: OrgId) -> R<Vec<Role>> {
        Ok(self.work.roles.values().filter(|r| r.org_id == org).cloned().collect())
    }

    async fn roles_version(&mut self, org: OrgId) -> R<u64> {
        Ok(self.work.roles_versions.get(&org).copied().unwrap_or(0))
    }

    async fn insert_role(&mut self, role: &Role) -> R<()> {
        self.write()?;
        if self.work.roles.contains_key(&role.id) {
            return Err(duplicate("role"));
        }
        self.check_role_key_unique(role)?;
        self.work.roles.insert(role.id, role.clone());
        *self.work.roles_versions.entry(role.org_id).or_default() += 1;
        Ok(())
    }

    async fn update_role(&mut self, role: &Role) -> R<()> {
        self.write()?;
        self.work.roles.get(&role.id).filter(|r| r.org_id == role.org_id).ok_or(missing("role"))?;
        self.check_role_key_unique(role)?;
        self.work.roles.insert(role.id, role.clone());
        *self.work.roles_versions.entry(role.org_id).or_default() += 1;
        Ok(())
    }

    async fn delete_role(&mut self, org: OrgId, id: RoleId) -> R<()> {
        self.write()?;
        self.work.roles.get(&id).filter(|r| r.org_id == org).ok_or(missing("role"))?;
        self.work.roles.remove(&id);
        *self.work.roles_versions.entry(org).or_default() += 1;
        Ok(())
    }

    async fn role_in_use(&mut self, org: OrgId, id: RoleId) -> R<bool> {
        Ok(self
            .work
            .users
            .values()
            .any(|u| u.org_id == org && !u.is_deleted() && u.roles.iter().any(|g| g.role_id == id)))
    }
}

#[async_trait]
impl GroupRepository for MemoryTx {
    async fn groups(&mut self, org: OrgId) -> R<Vec<Group>> {
        Ok(self.work.groups.values().filter(|g| g.org_id == org).cloned().collect())
    }

    async fn groups_version(&mut self, org: OrgId) -> R<u64> {
        Ok(self.work.groups_versions.get(&org).copied().unwrap_or(0))
    }

    async fn insert_group(&mut self, group: &Group) -> R<()> {
        self.write()?;
        if self.work.groups.contains_key(&group.id) {
            return Err(duplicate("group"));
        }
        self.check_group(group)?;
        self.work.groups.insert(group.id, group.clone());
        *self.work.groups_versions.entry(group.org_id).or_default() += 1;
        Ok(())
    }

    async fn update_group(&mut self, group: &Group) -> R<()> {
        self.write()?;
        let stored = self.require_group(group.org_id, group.id)?;
        check_version("group", stored.version, group.version)?;
        self.check_group(group)?;
        self.work.groups.insert(group.id, group.clone());
        *self.work.groups_versions.entry(group.org_id).or_default() += 1;
        Ok(())
    }

    async fn memberships_of(&mut self, org: OrgId, user: UserId) -> R<Vec<Membership>> {
        Ok(self.work.memberships.iter().filter(|m| m.org_id == org && m.user_id == user).cloned().collect())
    }

    async fn current_members(&mut self, org: OrgId, group: GroupId) -> R<Vec<UserId>> {
        let members: BTreeSet<UserId> = self
            .work
            .memberships
            .iter()
            .filter(|m| m.org_id == org && m.group_id == group && m.is_current())
            .map(|m| m.user_id)
            .collect();
        Ok(members.into_iter().collect())
    }

    async fn insert_membership(&mut self, membership: &Membership) -> R<()> {
        self.write()?;
        self.put_membership(membership)
    }

    async fn insert_memberships(&mut self, memberships: &[Membership]) -> R<()> {
        self.put_all(memberships, Self::put_membership)
    }

    async fn end_membership(&mut self, org: OrgId, group: GroupId, user: UserId, at: OffsetDateTime) -> R<bool> {
        self.write()?;
        let mut ended = false;
        for m in self.work.memberships.iter_mut() {
            if m.org_id == org && m.group_id == group && m.user_id == user && m.is_current() {
                m.left_at = Some(at);
                ended = true;
            }
        }
        Ok(ended)
    }

    async fn group_flows(&mut self, org: OrgId) -> R<BTreeMap<GroupId, BTreeSet<FlowId>>> {
        Ok(self
            .work
            .group_flows
            .iter()
            .filter(|(g, _)| self.group_in(org, **g).is_some())
            .map(|(g, flows)| (*g, flows.clone()))
            .collect())
    }

    async fn set_group_flows(&mut self, org: OrgId, group: GroupId, flows: &BTreeSet<FlowId>) -> R<()> {
        self.write()?;
        self.require_group(org, group)?;
        if flows.iter().any(|f| self.work.flows.get(f).is_none_or(|f| f.org_id != org)) {
            return Err(missing("flow"));
        }
        // One row per (group, flow): an empty set leaves no row, hence no entry.
        if flows.is_empty() {
            self.work.group_flows.remove(&group);
        } else {
            self.work.group_flows.insert(group, flows.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl ConnectionRepository for MemoryTx {
    async fn insert_connection(&mut self, connection: &Connection) -> R<()> {
        self.write()?;
        self.put_connection(connection)
    }

    async fn insert_connections(&mut self, connections: &[Connection]) -> R<()> {
        self.put_all(connections, Self::put_connection)
    }

    async fn connection(&mut self, org: OrgId, id: ConnectionId) -> R<Option<Connection>> {
        Ok(self.work.connections.get(&id).filter(|c| c.org_id == org).cloned())
    }

    async fn list_connections(&mut self, query: &ConnectionQuery) -> R<Vec<Connection>> {
        let mut rows: Vec<&Connection> = self.work.connections.values().filter(|c| query.matches(c)).collect();
        rows.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        Ok(rows.into_iter().take(limit(query.limit)).cloned().collect())
    }

    async fn restamp_unstamped(&mut self, org: OrgId, inviter: UserId, group: GroupId) -> R<u64> {
        self.write()?;
        let mut changed = 0;
        for c in self.work.connections.values_mut() {
            if c.org_id == org && c.inviter_id == inviter && c.groups.is_empty() {
                c.groups.insert(group);
                changed += 1;
            }
        }
        Ok(changed)
    }

    async fn transfer_stamp(&mut self, org: OrgId, inviter: UserId, from: GroupId, to: GroupId) -> R<u64> {
        self.write()?;
        let mut changed = 0;
        for c in self.work.connections.values_mut() {
            if c.org_id == org && c.inviter_id == inviter && c.groups.remove(&from) {
                c.groups.insert(to);
                changed += 1;
            }
        }
        Ok(changed)
    }

    async fn flows(&mut self, org: OrgId) -> R<Vec<Flow>> {
        Ok(self.work.flows.values().filter(|f| f.org_id == org).cloned().collect())
    }

    async fn insert_flow(&mut self, flow: &Flow) -> R<()> {
        self.write()?;
        if self.work.flows.contains_key(&flow.id) {
            return Err(duplicate("flow"));
        }
        self.work.flows.insert(flow.id, flow.clone());
        Ok(())
    }

    async fn api_keys(&mut self, org: OrgId) -> R<Vec<ApiKey>> {
        Ok(self.work.api_keys.values().filter(|k| k.org_id == org).cloned().collect())
    }

    async fn api_key(&mut self, org: OrgId, id: ApiKeyId) -> R<Option<ApiKey>> {
        Ok(self.work.api_keys.get(&id).filter(|k| k.org_id == org).cloned())
    }

    async fn api_key_by_secret_hash(&mut self, hash: &str) -> R<Option<ApiKey>> {
        // Revoked keys are returned too: telling "revoked" from "unknown" is the service's call.
        Ok(self.work.api_keys.values().find(|k| k.secret_hash == hash).cloned())
    }

    async fn insert_api_key(&mut self, key: &ApiKey) -> R<()> {
        self.write()?;
        if self.work.api_keys.contains_key(&key.id) {
            return Err(duplicate("api key"));
        }
        self.require_user(key.org_id, key.created_by)?;
        self.work.api_keys.insert(key.id, key.clone());
        Ok(())
    }

    async fn touch_api_key(&mut self, org: OrgId, id: ApiKeyId, at: OffsetDateTime) -> R<()> {
        self.write()?;
        if let Some(key) = self.work.api_keys.get_mut(&id).filter(|k| k.org_id == org) {
            key.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn update_api_key(&mut self, key: &ApiKey) -> R<()> {
        self.write()?;
        self.work.api_keys.get(&key.id).filter(|k| k.org_id == key.org_id).ok_or(missing("api key"))?;
        self.work.api_keys.insert(key.id, key.clone());
        Ok(())
    }
}

#[async_trait]
impl InviteRepository for MemoryTx {
    async fn insert_invite(&mut self, invite: &Invite) -> R<()> {
        self.write()?;
        self.put_invite(invite)
    }

    async fn insert_invites(&mut self, invites: &[Invite]) -> R<()> {
        self.put_all(invites, Self::put_invite)
    }

    async fn invite(&mut self, org: OrgId, id: InviteId) -> R<Option<Invite>> {
        Ok(self.work.invites.get(&id).filter(|i| i.org_id == org).cloned())
    }

    async fn invite_by_token_hash(&mut self, hash: &str) -> R<Option<Invite>> {
        // Accepted invites are returned too: the service tells "already used" from "unknown".
        Ok(self.work.invites.values().find(|i| i.token_hash == hash).cloned())
    }

    async fn pending_invites(&mut self, org: OrgId) -> R<Vec<Invite>> {
        Ok(self.work.invites.values().filter(|i| i.org_id == org && i.is_pending()).cloned().collect())
    }

    async fn update_invite(&mut self, invite: &Invite) -> R<()> {
        self.write()?;
        self.require_invite(invite.org_id, invite.id)?;
        self.work.invites.insert(invite.id, invite.clone());
        Ok(())
    }

    async fn delete_invite(&mut self, org: OrgId, id: InviteId) -> R<()> {
        self.write()?;
        self.require_invite(org, id)?;
        self.work.invites.remove(&id);
        self.work.reservations.retain(|(invite, _), _| *invite != id);
        Ok(())
    }
}

#[async_trait]
impl ScheduleRepository for MemoryTx {
    async fn insert_scheduled(&mut self, change: &ScheduledChange) -> R<()> {
        self.write()?;
        if self.work.scheduled.contains_key(&change.id) {
            return Err(duplicate("scheduled change"));
        }
        self.require_user(change.org_id, change.user_id)?;
        self.work.scheduled.insert(change.id, change.clone());
        Ok(())
    }

    async fn scheduled_for_user(&mut self, org: OrgId, user: UserId) -> R<Vec<ScheduledChange>> {
        let mut rows: Vec<ScheduledChange> =
            self.work.scheduled.values().filter(|s| s.org_id == org && s.user_id == user).cloned().collect();
        rows.sort_by_key(|s| (s.effective_at, s.id));
        Ok(rows)
    }

    async fn pending_scheduled_for_users(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<ScheduledChange>> {
        let wanted: BTreeSet<UserId> = users.iter().copied().collect();
        let mut rows: Vec<ScheduledChange> = self
            .work
            .scheduled
            .values()
            .filter(|s| s.org_id == org && wanted.contains(&s.user_id) && s.is_pending())
            .cloned()
            .collect();
        rows.sort_by_key(|s| (s.user_id, s.effective_at, s.id));
        Ok(rows)
    }

    async fn due_scheduled(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<ScheduledChange>> {
        let mut rows: Vec<&ScheduledChange> =
            self.work.scheduled.values().filter(|s| s.is_pending() && s.effective_at <= now).collect();
        rows.sort_by_key(|s| (s.effective_at, s.id));
        Ok(rows.into_iter().take(self::limit(limit)).cloned().collect())
    }

    async fn update_scheduled(&mut self, change: &ScheduledChange) -> R<()> {
        self.write()?;
        self.work.scheduled.get(&change.id).filter(|s| s.org_id == change.org_id).ok_or(missing("scheduled change"))?;
        self.work.scheduled.insert(change.id, change.clone());
        Ok(())
    }

    async fn scheduled(&mut self, org: OrgId, id: ScheduledChangeId) -> R<Option<ScheduledChange>> {
        Ok(self.work.scheduled.get(&id).filter(|s| s.org_id == org).cloned())
    }

    async fn settle_scheduled(&mut self, org: OrgId, id: ScheduledChangeId, state: &ScheduleState) -> R<bool> {
        self.write()?;
        match self.work.scheduled.get_mut(&id).filter(|s| s.org_id == org && s.is_pending()) {
            Some(change) => {
                change.state = state.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl JobRepository for MemoryTx {
    async fn insert_job(&mut self, job: &Job, input: &str) -> R<()> {
        self.write()?;
        if self.work.jobs.contains_key(&job.id) {
            return Err(duplicate("job"));
        }
        self.work.jobs.insert(job.id, job.clone());
        self.work.job_inputs.insert(job.id, input.to_owned());
        Ok(())
    }

    async fn job(&mut self, org: OrgId, id: JobId) -> R<Option<Job>> {
        Ok(self.work.jobs.get(&id).filter(|j| j.org_id == org).cloned())
    }

    async fn job_input(&mut self, org: OrgId, id: JobId) -> R<Option<String>> {
        let known = self.work.jobs.get(&id).is_some_and(|j| j.org_id == org);
        Ok(if known { self.work.job_inputs.get(&id).cloned() } else { None })
    }

    async fn update_job(&mut self, job: &Job) -> R<()> {
        self.write()?;
        let stored = self.work.jobs.get(&job.id).filter(|j| j.org_id == job.org_id).ok_or(missing("job"))?;
        check_version("job", stored.version, job.version)?;
        self.work.jobs.insert(job.id, job.clone());
        Ok(())
    }

    async fn claimable_jobs(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<Job>> {
        let mut rows: Vec<&Job> = self.work.jobs.values().filter(|j| j.is_claimable(now)).collect();
        rows.sort_by_key(|j| (j.created_at, j.id));
        Ok(rows.into_iter().take(self::limit(limit)).cloned().collect())
    }

    async fn insert_job_outcomes(&mut self, org: OrgId, job: JobId, outcomes: &[JobOutcome]) -> R<()> {
        self.write()?;
        self.work.jobs.get(&job).filter(|j| j.org_id == org).ok_or(missing("job"))?;
        if outcomes.iter().any(|o| self.work.job_outcomes.contains_key(&(job, o.seq))) {
            return Err(duplicate("job outcome"));
        }
        for outcome in outcomes {
            self.work.job_outcomes.insert((job, outcome.seq), outcome.clone());
        }
        Ok(())
    }

    async fn job_outcomes(&mut self, org: OrgId, job: JobId, after: u64, limit: u32) -> R<Vec<JobOutcome>> {
        if self.work.jobs.get(&job).is_none_or(|j| j.org_id != org) {
            return Ok(Vec::new());
        }
        let rows = self.work.job_outcomes.range((job, after.saturating_add(1))..=(job, u64::MAX));
        Ok(rows.map(|(_, o)| o.clone()).take(self::limit(limit)).collect())
    }

    async fn purge_jobs(&mut self, finished_before: OffsetDateTime) -> R<u64> {
        self.write()?;
        let gone: Vec<JobId> = self
            .work
            .jobs
            .values()
            .filter(|j| j.finished_at.is_some_and(|at| at < finished_before))
            .map(|j| j.id)
            .collect();
        for id in &gone {
            self.work.jobs.remove(id);
            self.work.job_inputs.remove(id);
        }
        self.work.job_outcomes.retain(|(job, _), _| !gone.contains(job));
        Ok(gone.len() as u64)
    }
}

#[async_trait]
impl AuditLog for MemoryTx {
    async fn append_audit(&mut self, event: &AuditEvent) -> R<()> {
        self.write()?;
        self.put_audit(event)
    }

    async fn append_audits(&mut self, events: &[AuditEvent]) -> R<()> {
        self.put_all(events, Self::put_audit)
    }

    async fn audit(&mut self, org: OrgId, query: &AuditQuery) -> R<Vec<AuditEvent>> {
        let mut rows: Vec<&AuditEvent> =
            self.work.audit.iter().filter(|e| e.org_id == org && query.matches(e)).collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        // A limit of 0 means no limit (the service caps what clients ask for).
        let n = if query.limit == 0 { usize::MAX } else { limit(query.limit) };
        Ok(rows.into_iter().take(n).cloned().collect())
    }

    async fn events_after(&mut self, org: OrgId, after: Option<u64>, limit: u32) -> R<Vec<(u64, AuditEvent)>> {
        let after = after.unwrap_or(0);
        Ok(self
            .positioned(org)
            .skip_while(|(p, _)| *p <= after)
            .take(self::limit(limit))
            .map(|(p, e)| (p, e.clone()))
            .collect())
    }

    async fn last_event_position(&mut self, org: OrgId) -> R<u64> {
        Ok(self.positioned(org).last().map_or(0, |(p, _)| p))
    }

    async fn first_event_position_after(&mut self, org: OrgId, at: OffsetDateTime) -> R<Option<u64>> {
        Ok(self.positioned(org).find(|(_, e)| e.at > at).map(|(p, _)| p))
    }
}

#[async_trait]
impl Outbox for MemoryTx {
    async fn enqueue_mail(&mut self, mail: &OutgoingMail) -> R<()> {
        self.write()?;
        self.put_mail(mail)
    }

    async fn enqueue_mails(&mut self, mails: &[OutgoingMail]) -> R<()> {
        self.put_all(mails, Self::put_mail)
    }

    async fn due_mail(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<QueuedMail>> {
        let mut due: Vec<QueuedMail> = self
            .work
            .outbox
            .iter()
            .filter_map(|m| match self.work.deliveries.get(&m.id) {
                Some(d @ DeliveryState::Pending { next_attempt_at, .. }) if *next_attempt_at <= now => {
                    Some(QueuedMail { mail: m.clone(), delivery: d.clone() })
                }
                _ => None,
            })
            .collect();
        // Oldest first by creation time, not by enqueue order (which a SQL table does not keep).
        due.sort_by_key(|q| (q.mail.created_at, q.mail.id));
        due.truncate(self::limit(limit));
        Ok(due)
    }

    async fn set_delivery(&mut self, id: MailId, state: &DeliveryState) -> R<()> {
        self.write()?;
        match self.work.deliveries.get_mut(&id) {
            Some(d) => {
                *d = state.clone();
                if state.is_settled()
                    && let Some(m) = self.work.outbox.iter_mut().find(|m| m.id == id)
                {
                    m.kind = m.kind.without_secrets();
                }
                Ok(())
            }
            None => Err(StoreError::Missing { kind: "mail" }),
        }
    }

    async fn mail(&mut self, id: MailId) -> R<Option<QueuedMail>> {
        let Some(mail) = self.work.outbox.iter().find(|m| m.id == id) else { return Ok(None) };
        let delivery = self.work.deliveries.get(&id).cloned().ok_or(StoreError::Missing { kind: "mail" })?;
        Ok(Some(QueuedMail { mail: mail.clone(), delivery }))
    }
}

#[async_trait]
impl WebhookRepository for MemoryTx {
    async fn insert_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()> {
        self.write()?;
        if self.work.webhooks.contains_key(&endpoint.id) {
            return Err(duplicate("webhook"));
        }
        self.work.webhooks.insert(endpoint.id, endpoint.clone());
        Ok(())
    }

    async fn webhooks(&mut self, org: OrgId) -> R<Vec<WebhookEndpoint>> {
        let mut rows: Vec<&WebhookEndpoint> = self.work.webhooks.values().filter(|w| w.org_id == org).collect();
        rows.sort_by_key(|w| (w.created_at, w.id));
        Ok(rows.into_iter().cloned().collect())
    }

    async fn webhook(&mut self, org: OrgId, id: WebhookId) -> R<Option<WebhookEndpoint>> {
        Ok(self.work.webhooks.get(&id).filter(|w| w.org_id == org).cloned())
    }

    async fn update_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()> {
        self.write()?;
        let stored = self.work.webhooks.get(&endpoint.id).filter(|w| w.org_id == endpoint.org_id);
        let stored = stored.ok_or(missing("webhook"))?;
        check_version("webhook", stored.version, endpoint.version)?;
        self.work.webhooks.insert(endpoint.id, endpoint.clone());
        Ok(())
    }

    async fn webhooks_behind(&mut self, limit: u32) -> R<Vec<WebhookEndpoint>> {
        let busy: BTreeSet<WebhookId> =
            self.work.webhook_deliveries.values().filter(|d| d.is_pending()).map(|d| d.endpoint_id).collect();
        let mut behind: Vec<(OffsetDateTime, &WebhookEndpoint)> = self
            .work
            .webhooks
            .values()
            .filter(|w| w.is_active() && !busy.contains(&w.id))
            .filter_map(|w| {
                // The endpoint's next event, if there is one: its time orders the queue.
                let next = self.positioned(w.org_id).find(|(p, _)| *p > w.position)?;
                Some((next.1.at, w))
            })
            .collect();
        behind.sort_by_key(|(at, w)| (*at, w.id));
        Ok(behind.into_iter().take(self::limit(limit)).map(|(_, w)| w.clone()).collect())
    }

    async fn insert_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()> {
        self.write()?;
        self.work
            .webhooks
            .get(&delivery.endpoint_id)
            .filter(|w| w.org_id == delivery.org_id)
            .ok_or(missing("webhook"))?;
        if self.work.webhook_deliveries.contains_key(&delivery.id) {
            return Err(duplicate("webhook delivery"));
        }
        let busy = |d: &WebhookDelivery| d.endpoint_id == delivery.endpoint_id && d.is_pending();
        if delivery.is_pending() && self.work.webhook_deliveries.values().any(busy) {
            return Err(StoreError::StaleVersion { kind: "webhook" });
        }
        self.work.webhook_deliveries.insert(delivery.id, delivery.clone());
        Ok(())
    }

    async fn update_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()> {
        self.write()?;
        let stored = self.work.webhook_deliveries.get(&delivery.id).filter(|d| d.org_id == delivery.org_id);
        let stored = stored.ok_or(missing("webhook delivery"))?;
        check_version("webhook delivery", stored.version, delivery.version)?;
        let busy = |d: &WebhookDelivery| d.id != delivery.id && d.endpoint_id == delivery.endpoint_id && d.is_pending();
        if delivery.is_pending() && self.work.webhook_deliveries.values().any(busy) {
            return Err(StoreError::StaleVersion { kind: "webhook" });
        }
        self.work.webhook_deliveries.insert(delivery.id, delivery.clone());
        Ok(())
    }

    async fn pending_webhook_delivery(&mut self, org: OrgId, endpoint: WebhookId) -> R<Option<WebhookDelivery>> {
        let pending = self
            .work
            .webhook_deliveries
            .values()
            .find(|d| d.org_id == org && d.endpoint_id == endpoint && d.is_pending());
        Ok(pending.cloned())
    }

    async fn webhook_deliveries(&mut self, org: OrgId, endpoint: WebhookId, limit: u32) -> R<Vec<WebhookDelivery>> {
        let mut rows: Vec<&WebhookDelivery> =
            self.work.webhook_deliveries.values().filter(|d| d.org_id == org && d.endpoint_id == endpoint).collect();
        rows.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id)));
        Ok(rows.into_iter().take(self::limit(limit)).cloned().collect())
    }

    async fn due_webhook_deliveries(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<WebhookDelivery>> {
        let mut due: Vec<&WebhookDelivery> = self
            .work
            .webhook_deliveries
            .values()
            .filter(|d| d.is_pending() && d.next_attempt_at.is_some_and(|t| t <= now))
            .collect();
        due.sort_by_key(|d| (d.next_attempt_at, d.id));
        Ok(due.into_iter().take(self::limit(limit)).cloned().collect())
    }

    async fn purge_webhook_deliveries(&mut self, created_before: OffsetDateTime, limit: u32) -> R<u64> {
        self.write()?;
        let mut old: Vec<(OffsetDateTime, WebhookDeliveryId)> = self
            .work
            .webhook_deliveries
            .values()
            .filter(|d| !d.is_pending() && d.created_at < created_before)
            .map(|d| (d.created_at, d.id))
            .collect();
        old.sort();
        old.truncate(self::limit(limit));
        for (_, id) in &old {
            self.work.webhook_deliveries.remove(id);
        }
        Ok(old.len() as u64)
    }
}

/// What only the in-memory store has: failure injection and its one-at-a-time transactions. The
/// persistence contract itself is checked by the contract suite (`tests/store_contract.rs`).
#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use time::macros::datetime;

    use super::*;
    use roster_domain::ids::GroupId;
    use roster_domain::org::OrgSettings;
    use roster_domain::values::{Email, Label, PersonName};

    const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

    fn user(org: OrgId, n: u128, email: &str) -> User {
        User::new(
            UserId::from_uuid(uuid::Uuid::from_u128(n)),
            org,
            Email::parse(email).expect("valid"),
            PersonName::parse("Ada").expect("valid"),
            PersonName::parse("Lovelace").expect("valid"),
            BTreeSet::new(),
            T0,
        )
    }

    /// A store holding one organization.
    async fn one_org() -> (InMemoryStore, OrgId) {
        let store = InMemoryStore::new();
        let org = Organization {
            id: OrgId::from_uuid(uuid::Uuid::from_u128(1)),
            name: Label::parse("Acme").expect("valid"),
            slug: Slug::parse("acme").expect("valid"),
            created_at: T0,
            trial_ends_at: None,
            root_group_id: GroupId::from_uuid(uuid::Uuid::from_u128(2)),
            settings: OrgSettings::default(),
            version: 1,
        };
        let mut tx = store.begin().await.expect("begins");
        tx.insert_org(&org).await.expect("inserts");
        tx.commit().await.expect("commits");
        (store, org.id)
    }

    #[tokio::test]
    async fn a_failed_commit_writes_nothing() {
        let (store, a) = one_org().await;
        let before = store.snapshot().await;
        store.fail_next_commit();
        let mut tx = store.begin().await.expect("begins");
        tx.insert_user(&user(a, 100, "ada@example.com")).await.expect("inserts");
        assert!(matches!(tx.commit().await, Err(StoreError::Unavailable(_))));
        assert_eq!(store.snapshot().await, before);
        let mut tx = store.begin().await.expect("the switch fires once");
        tx.insert_user(&user(a, 100, "ada@example.com")).await.expect("inserts");
        tx.commit().await.expect("commits");
    }

    #[tokio::test]
    async fn fail_after_one_write_fails_the_second_write_once() {
        let (store, a) = one_org().await;
        let before = store.snapshot().await;
        store.fail_after_writes(1);
        let mut tx = store.begin().await.expect("begins");
        assert!(tx.user(a, UserId::from_uuid(uuid::Uuid::from_u128(100))).await.is_ok(), "reads are not counted");
        tx.insert_user(&user(a, 100, "ada@example.com")).await.expect("the first write succeeds");
        let second = tx.insert_user(&user(a, 101, "bob@example.com")).await;
        assert!(matches!(second, Err(StoreError::Unavailable(_))));
        let absent = tx.user(a, UserId::from_uuid(uuid::Uuid::from_u128(101))).await.expect("reads");
        assert_eq!(absent, None, "nothing half-written");
        tx.insert_user(&user(a, 102, "cy@example.com")).await.expect("the switch fires once");
        drop(tx);
        assert_eq!(store.snapshot().await, before);
    }

    #[tokio::test]
    async fn clearing_failures_disarms_them() {
        let (store, a) = one_org().await;
        store.fail_after_writes(0);
        store.fail_next_commit();
        store.clear_failures();
        let mut tx = store.begin().await.expect("begins");
        tx.insert_user(&user(a, 100, "ada@example.com")).await.expect("no write fails");
        tx.commit().await.expect("no commit fails");
    }

    #[tokio::test]
    async fn transactions_run_one_at_a_time() {
        let (store, _) = one_org().await;
        let first = store.begin().await.expect("begins");
        assert!(store.begin().now_or_never().is_none(), "a second writer waits");
        drop(first);
        assert!(store.begin().now_or_never().is_some(), "and proceeds once the first ends");
    }
}
