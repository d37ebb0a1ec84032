//! The in-memory [`Store`]: the reference implementation of the persistence contract.
//!
//! Services run on it in unit and property tests, and the SQL adapters' contract tests compare
//! their answers with it, so every method does exactly what the port documents, no more and no
//! less. Where the port leaves room, the choices below are the ones a schema with the natural
//! constraints makes, and the SQL adapters must make them too.
//!
//! # Transactions
//! [`Store::begin`] takes one lock for the whole life of the transaction, so transactions run one
//! at a time, like SQLite's single writer. That makes [`LicenseRepository::take_seats`] atomic
//! and [`OrgRepository::lock_org`] a no-op. The transaction works on a copy of the state;
//! [`Tx::commit`] writes the copy back and dropping the transaction throws it away. A test must
//! therefore not open a second transaction (or call [`InMemoryStore::snapshot`]) while it holds
//! one on the same task: that waits forever, as a second writer would.
//!
//! # Integrity, as the schema's constraints enforce it
//! - Every read and write is scoped by organization: a row of another organization is treated
//!   as absent (`None`, `false`, [`StoreError::Missing`]).
//! - Unique constraints fail with [`StoreError::Conflict`] on insert and update alike: email,
//!   phone, agent id and CRM id among the non-deleted users of an organization; org slugs; role
//!   keys per organization; live sibling group names, case-insensitively; one seat pool, license
//!   or reservation per product (`Key`).
//! - A row that hangs off another entity (a membership, license, reservation, invite, scheduled
//!   change, connection, API key, password hash, group flows, a group's parent) must find that
//!   entity in the same organization, or the write fails with `Missing` naming it. Rows owned
//!   directly by an organization are not checked against the organization row, so that creating
//!   an organization may insert its rows in any order (the org and its root group refer to each
//!   other).
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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_lock::{Mutex, MutexGuardArc};
use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditQuery};
use crate::catalog::Catalog;
use crate::connections::{ApiKey, Connection, Flow};
use crate::groups::{Group, Membership};
use crate::ids::{
    ApiKeyId, ConnectionId, FlowId, GroupId, InviteId, MailId, OrgId, RoleId, ScheduledChangeId, UserId,
    WebhookDeliveryId, WebhookId,
};
use crate::invites::Invite;
use crate::mail::{DeliveryState, OutgoingMail, QueuedMail};
use crate::org::Organization;
use crate::ports::{
    AuditLog, ConnectionRepository, GroupRepository, InviteRepository, LicenseRepository, OrgRepository, Outbox,
    PasswordHash, RoleRepository, ScheduleRepository, SeatsExhausted, Store, StoreError, Tx, UniqueField, UserLookup,
    UserRepository, WebhookRepository,
};
use crate::roles::Role;
use crate::scheduling::ScheduledChange;
use crate::seats::{LicenseAssignment, SeatPool, SeatReservation};
use crate::user::{StatusFacts, User, derive_status};
use crate::users_query::{UserCursor, UserPage, UserPaging, UserQuery};
use crate::values::{Key, Slug};
use crate::visibility::ConnectionQuery;
use crate::webhooks::{WebhookDelivery, WebhookEndpoint};

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
        let guard = self.state.lock_arc().await;
        let work = guard.clone();
        Ok(Box::new(MemoryTx { guard, work, faults: Arc::clone(&self.faults) }))
    }
}

/// An open transaction: the store's lock, and the working copy its writes go to.
#[derive(Debug)]
struct MemoryTx {
    guard: MutexGuardArc<MemoryState>,
    work: MemoryState,
    faults: Arc<Faults>,
}

#[async_trait]
impl Tx for MemoryTx {
    async fn commit(self: Box<Self>) -> R<()> {
        let MemoryTx { mut guard, work, faults } = *self;
        if faults.fail_commit.swap(false, Ordering::SeqCst) {
            return Err(StoreError::unavailable(InjectedFailure("commit")));
        }
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
    /// compared by [`crate::values::GroupName::key`].
    fn check_group(&self, group: &Group) -> R<()> {
        if let Some(parent) = group.parent_id {
            self.require_group(group.org_id, parent)?;
        }
        if group.is_live() {
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

    /// The users a group filter of the Users table keeps: current members of a live group, or,
    /// for a deleted group, the members it had when it was deleted (their membership ended at
    /// that very moment).
    fn group_filter(&self, org: OrgId, group: GroupId) -> BTreeSet<UserId> {
        let Some(group) = self.group_in(org, group) else {
            return BTreeSet::new();
        };
        self.work
            .memberships
            .iter()
            .filter(|m| m.org_id == org && m.group_id == group.id && m.left_at == group.deleted_at)
            .map(|m| m.user_id)
            .collect()
    }

    fn query_users(&self, query: &UserQuery) -> UserPage {
        let core = Catalog::core_key();
        let members = query.group.map(|g| self.group_filter(query.org_id, g));
        let mut rows: Vec<&User> = self
            .work
            .users
            .values()
            .filter(|u| query.matches_fields(u))
            .filter(|u| {
                query.statuses.is_empty() || {
                    let facts = StatusFacts::of(u, self.holds(u, &core), query.in_trial);
                    query.statuses.contains(&derive_status(&facts).kind())
                }
            })
            .filter(|u| members.as_ref().is_none_or(|m| m.contains(&u.id)))
            .filter(|u| query.product.as_ref().is_none_or(|(key, held)| self.holds(u, key) == *held))
            .collect();
        rows.sort_by(|a, b| query.compare(a, b));
        let cursor_of = |u: &User| UserCursor { values: query.sort_key(u), id: u.id };
        match &query.paging {
            None => UserPage { items: rows.into_iter().cloned().collect(), next_cursor: None, total: None },
            Some(UserPaging::Cursor { after, limit: size }) => {
                let after_cursor: Vec<&User> = match after {
                    None => rows,
                    Some(c) => rows
                        .into_iter()
                        .filter(|u| {
                            query.compare_keys(&query.sort_key(u), u.id, &c.values, c.id) == std::cmp::Ordering::Greater
                        })
                        .collect(),
                };
                let size = limit(*size);
                let more = after_cursor.len() > size;
                let items: Vec<User> = after_cursor.into_iter().take(size).cloned().collect();
                let next_cursor = if more { items.last().map(cursor_of) } else { None };
                UserPage { items, next_cursor, total: None }
            }
            Some(UserPaging::Page { page, per_page }) => {
                let per_page = limit(*per_page);
                let offset = limit(page.saturating_sub(1)).saturating_mul(per_page);
                let total = count(rows.len());
                let items = rows.into_iter().skip(offset).take(per_page).cloned().collect();
                UserPage { items, next_cursor: None, total: Some(total) }
            }
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
        if self.work.users.contains_key(&user.id) {
            return Err(duplicate("user"));
        }
        self.check_user_unique(user)?;
        self.work.users.insert(user.id, user.clone());
        Ok(())
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

#[async_trait]
impl LicenseRepository for MemoryTx {
    async fn insert_seat_pool(&mut self, pool: &SeatPool) -> R<()> {
        self.write()?;
        let key = (pool.org_id, pool.product.clone());
        if self.work.seat_pools.contains_key(&key) {
            return Err(conflict(UniqueField::Key));
        }
        // The schema's CHECK (seats_used <= seats_total), reported like any refused seat.
        if pool.seats_used > pool.seats_total {
            return Err(StoreError::SeatsExhausted(SeatsExhausted {
                product: pool.product.clone(),
                seats_total: pool.seats_total,
                seats_used: pool.seats_used,
            }));
        }
        self.work.seat_pools.insert(key, pool.clone());
        Ok(())
    }

    async fn seat_pools(&mut self, org: OrgId) -> R<Vec<SeatPool>> {
        Ok(self.work.seat_pools.values().filter(|p| p.org_id == org).cloned().collect())
    }

    async fn set_seats_total(&mut self, org: OrgId, product: &Key, total: u32) -> R<SeatPool> {
        self.write()?;
        let pool = self.pool_mut(org, product)?;
        // A total below the seats in use is refused with `SeatsExhausted` and the pool's current
        // figures: it is the same invariant as `take_seats` guards, and the figures are what the
        // operator needs to see ("5 in use, cannot go to 3").
        if total < pool.seats_used {
            return Err(StoreError::SeatsExhausted(SeatsExhausted {
                product: product.clone(),
                seats_total: pool.seats_total,
                seats_used: pool.seats_used,
            }));
        }
        pool.seats_total = total;
        Ok(pool.clone())
    }

    async fn take_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        self.write()?;
        let pool = self.pool_mut(org, product)?;
        // Compared in u64 so that a huge `n` cannot wrap around and slip under the total.
        if u64::from(pool.seats_used) + u64::from(n) > u64::from(pool.seats_total) {
            return Err(StoreError::SeatsExhausted(SeatsExhausted {
                product: product.clone(),
                seats_total: pool.seats_total,
                seats_used: pool.seats_used,
            }));
        }
        pool.seats_used += n;
        Ok(pool.clone())
    }

    async fn return_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        self.write()?;
        let pool = self.pool_mut(org, product)?;
        pool.seats_used = pool.seats_used.saturating_sub(n);
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
        self.require_user(assignment.org_id, assignment.user_id)?;
        let key = (assignment.user_id, assignment.product.clone());
        if self.work.licenses.contains_key(&key) {
            return Err(conflict(UniqueField::Key));
        }
        self.work.licenses.insert(key, assignment.clone());
        Ok(())
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
        self.require_invite(reservation.org_id, reservation.invite_id)?;
        let key = (reservation.invite_id, reservation.product.clone());
        if self.work.reservations.contains_key(&key) {
            return Err(conflict(UniqueField::Key));
        }
        self.work.reservations.insert(key, reservation.clone());
        Ok(())
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

    async fn insert_role(&mut self, role: &Role) -> R<()> {
        self.write()?;
        if self.work.roles.contains_key(&role.id) {
            return Err(duplicate("role"));
        }
        self.check_role_key_unique(role)?;
        self.work.roles.insert(role.id, role.clone());
        Ok(())
    }

    async fn update_role(&mut self, role: &Role) -> R<()> {
        self.write()?;
        self.work.roles.get(&role.id).filter(|r| r.org_id == role.org_id).ok_or(missing("role"))?;
        self.check_role_key_unique(role)?;
        self.work.roles.insert(role.id, role.clone());
        Ok(())
    }

    async fn delete_role(&mut self, org: OrgId, id: RoleId) -> R<()> {
        self.write()?;
        self.work.roles.get(&id).filter(|r| r.org_id == org).ok_or(missing("role"))?;
        self.work.roles.remove(&id);
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

    async fn insert_group(&mut self, group: &Group) -> R<()> {
        self.write()?;
        if self.work.groups.contains_key(&group.id) {
            return Err(duplicate("group"));
        }
        self.check_group(group)?;
        self.work.groups.insert(group.id, group.clone());
        Ok(())
    }

    async fn update_group(&mut self, group: &Group) -> R<()> {
        self.write()?;
        let stored = self.require_group(group.org_id, group.id)?;
        check_version("group", stored.version, group.version)?;
        self.check_group(group)?;
        self.work.groups.insert(group.id, group.clone());
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
        self.require_group(membership.org_id, membership.group_id)?;
        self.require_user(membership.org_id, membership.user_id)?;
        self.work.memberships.push(membership.clone());
        Ok(())
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
        if self.work.connections.contains_key(&connection.id) {
            return Err(duplicate("connection"));
        }
        self.require_user(connection.org_id, connection.inviter_id)?;
        self.work.connections.insert(connection.id, connection.clone());
        Ok(())
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
        if self.work.invites.contains_key(&invite.id) {
            return Err(duplicate("invite"));
        }
        self.require_user(invite.org_id, invite.user_id)?;
        self.work.invites.insert(invite.id, invite.clone());
        Ok(())
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
}

#[async_trait]
impl AuditLog for MemoryTx {
    async fn append_audit(&mut self, event: &AuditEvent) -> R<()> {
        self.write()?;
        if self.work.audit.iter().any(|e| e.id == event.id) {
            return Err(duplicate("audit event"));
        }
        self.work.audit.push(event.clone());
        Ok(())
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
}

#[async_trait]
impl Outbox for MemoryTx {
    async fn enqueue_mail(&mut self, mail: &OutgoingMail) -> R<()> {
        self.write()?;
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

    async fn due_mail(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<QueuedMail>> {
        let due = self.work.outbox.iter().filter_map(|m| match self.work.deliveries.get(&m.id) {
            Some(d @ DeliveryState::Pending { next_attempt_at, .. }) if *next_attempt_at <= now => {
                Some(QueuedMail { mail: m.clone(), delivery: d.clone() })
            }
            _ => None,
        });
        // Enqueue order is creation order: oldest first.
        Ok(due.take(usize::try_from(limit).unwrap_or(usize::MAX)).collect())
    }

    async fn set_delivery(&mut self, id: MailId, state: &DeliveryState) -> R<()> {
        self.write()?;
        match self.work.deliveries.get_mut(&id) {
            Some(d) => {
                *d = state.clone();
                Ok(())
            }
            None => Err(StoreError::Missing { kind: "mail" }),
        }
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
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use serde_json::Value;
    use time::Duration;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::audit::{Source, TargetKind};
    use crate::org::OrgSettings;
    use crate::roles::{RoleGrant, Visibility};
    use crate::scheduling::{ScheduleState, ScheduledAction};
    use crate::user::{Lifecycle, StatusKind, UserSettings};
    use crate::users_query::{UserSort, UserSortField};
    use crate::values::{AgentId, CrmId, Email, GroupName, Label, Nicknames, PersonName, Phone};
    use crate::visibility::{ConnectionCursor, ConnectionScope};

    const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

    fn uuid(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn key(s: &str) -> Key {
        Key::parse(s).expect("valid key")
    }

    fn org(n: u128, slug: &str) -> Organization {
        Organization {
            id: OrgId::from_uuid(uuid(n)),
            name: Label::parse("Acme").expect("valid"),
            slug: Slug::parse(slug).expect("valid"),
            created_at: T0,
            trial_ends_at: None,
            root_group_id: GroupId::from_uuid(uuid(n + 1_000)),
            settings: OrgSettings::default(),
            version: 1,
        }
    }

    fn user(org: OrgId, n: u128, email: &str) -> User {
        User {
            id: UserId::from_uuid(uuid(n)),
            org_id: org,
            email: Email::parse(email).expect("valid"),
            first_name: PersonName::parse("Ada").expect("valid"),
            last_name: PersonName::parse("Lovelace").expect("valid"),
            phone: None,
            nicknames: Nicknames::empty(),
            crm_id: None,
            agent_id: None,
            agent_ring_number: None,
            dialer_number: None,
            roles: BTreeSet::new(),
            extra_permissions: BTreeSet::new(),
            group_access: BTreeSet::new(),
            settings: UserSettings::default(),
            lifecycle: Lifecycle::default(),
            has_password: false,
            created_at: T0,
            updated_at: T0,
            version: 1,
        }
    }

    fn named(mut u: User, first: &str, last: &str) -> User {
        u.first_name = PersonName::parse(first).expect("valid");
        u.last_name = PersonName::parse(last).expect("valid");
        u
    }

    fn group(org: OrgId, n: u128, parent: Option<GroupId>, name: &str) -> Group {
        Group {
            id: GroupId::from_uuid(uuid(n)),
            org_id: org,
            parent_id: parent,
            name: GroupName::parse(name).expect("valid"),
            depth: if parent.is_some() { 2 } else { 1 },
            deleted_at: None,
            created_at: T0,
            version: 1,
        }
    }

    fn connection(org: OrgId, n: u128, inviter: UserId, at: OffsetDateTime, groups: &[GroupId]) -> Connection {
        Connection {
            id: ConnectionId::from_uuid(uuid(n)),
            org_id: org,
            email: Email::parse(&format!("c{n}@example.com")).expect("valid"),
            name: PersonName::parse("Carl").expect("valid"),
            flow_id: None,
            inviter_id: inviter,
            groups: groups.iter().copied().collect(),
            cc: BTreeSet::new(),
            via_api_key: None,
            user_token: format!("token-{n}"),
            created_at: at,
        }
    }

    fn event(org: OrgId, n: u128, at: OffsetDateTime) -> AuditEvent {
        AuditEvent {
            id: crate::ids::AuditEventId::from_uuid(uuid(n)),
            org_id: org,
            at,
            actor_id: None,
            impersonator_id: None,
            source: Source::Cli,
            action: "user.updated".to_owned(),
            target_kind: TargetKind::User,
            target_id: String::new(),
            target_label: String::new(),
            details: Value::Null,
        }
    }

    fn scheduled(org: OrgId, n: u128, user: UserId, at: OffsetDateTime) -> ScheduledChange {
        ScheduledChange {
            id: ScheduledChangeId::from_uuid(uuid(n)),
            org_id: org,
            user_id: user,
            action: ScheduledAction::Deactivate,
            effective_at: at,
            created_by: None,
            created_at: T0,
            state: ScheduleState::Pending,
        }
    }

    fn role(org: OrgId, n: u128, k: &str) -> Role {
        Role {
            id: RoleId::from_uuid(uuid(n)),
            org_id: org,
            key: key(k),
            name: Label::parse("Some role").expect("valid"),
            permissions: BTreeSet::new(),
            visibility: Visibility::All,
            assignable: true,
            builtin: false,
        }
    }

    fn pool(org: OrgId, product: &str, total: u32) -> SeatPool {
        SeatPool { org_id: org, product: key(product), seats_total: total, seats_used: 0 }
    }

    fn license(u: &User, product: &str) -> LicenseAssignment {
        LicenseAssignment { org_id: u.org_id, user_id: u.id, product: key(product), assigned_at: T0 }
    }

    /// A store holding two organizations, A and B.
    async fn two_orgs() -> (InMemoryStore, OrgId, OrgId) {
        let store = InMemoryStore::new();
        let (a, b) = (org(1, "alpha"), org(2, "beta"));
        let mut tx = store.begin().await.expect("begins");
        tx.insert_org(&a).await.expect("inserts");
        tx.insert_org(&b).await.expect("inserts");
        tx.commit().await.expect("commits");
        (store, a.id, b.id)
    }

    fn is_conflict(r: R<()>, expected: UniqueField) -> bool {
        matches!(r, Err(StoreError::Conflict { field }) if field == expected)
    }

    fn is_missing<T>(r: &R<T>) -> bool {
        matches!(r, Err(StoreError::Missing { .. }))
    }

    #[tokio::test]
    async fn another_orgs_rows_are_neither_returned_nor_changed() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let ada = user(a, 100, "ada@example.com");
        let sales = group(a, 200, None, "Acme");
        tx.insert_user(&ada).await.expect("inserts");
        tx.insert_group(&sales).await.expect("inserts");
        tx.insert_license(&license(&ada, "core")).await.expect("inserts");
        tx.insert_seat_pool(&pool(a, "core", 3)).await.expect("inserts");
        tx.set_password_hash(a, ada.id, &PasswordHash::new("h".to_owned())).await.expect("sets");
        tx.insert_connection(&connection(a, 300, ada.id, T0, &[])).await.expect("inserts");
        tx.commit().await.expect("commits");
        let before = store.snapshot().await;

        let mut tx = store.begin().await.expect("begins");
        assert_eq!(tx.user(b, ada.id).await.expect("reads"), None);
        assert!(tx.users_by_ids(b, &[ada.id]).await.expect("reads").is_empty());
        assert_eq!(tx.find_user(b, UserLookup::Email(&ada.email)).await.expect("reads"), None);
        assert_eq!(tx.password_hash(b, ada.id).await.expect("reads"), None);
        assert!(tx.licenses_of(b, ada.id).await.expect("reads").is_empty());
        assert!(tx.groups(b).await.expect("reads").is_empty());
        assert_eq!(tx.connection(b, ConnectionId::from_uuid(uuid(300))).await.expect("reads"), None);
        assert!(is_missing(&tx.take_seats(b, &key("core"), 1).await));

        let mut moved = ada.clone();
        moved.org_id = b;
        moved.version = 2;
        assert!(is_missing(&tx.update_user(&moved).await));
        assert!(is_missing(&tx.purge_user(b, ada.id).await));
        assert!(is_missing(&tx.set_password_hash(b, ada.id, &PasswordHash::new("x".to_owned())).await));
        assert!(!tx.delete_license(b, ada.id, &key("core")).await.expect("answers"));
        assert_eq!(tx.restamp_unstamped(b, ada.id, sales.id).await.expect("answers"), 0);
        let foreign = Membership { org_id: b, group_id: sales.id, user_id: ada.id, joined_at: T0, left_at: None };
        assert!(is_missing(&tx.insert_membership(&foreign).await));
        tx.commit().await.expect("commits");

        assert_eq!(store.snapshot().await, before);
    }

    #[tokio::test]
    async fn a_taken_email_phone_agent_id_or_crm_id_conflicts_on_insert_and_on_update() {
        let (store, a, _) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let mut ada = user(a, 100, "ada@example.com");
        ada.phone = Some(Phone::parse("+14155550100").expect("valid"));
        ada.agent_id = Some(AgentId::parse("agent-1").expect("valid"));
        ada.crm_id = Some(CrmId::parse("005A").expect("valid"));
        tx.insert_user(&ada).await.expect("inserts");

        let bob = user(a, 101, "bob@example.com");
        assert!(is_conflict(tx.insert_user(&user(a, 101, "ADA@example.com")).await, UniqueField::Email));
        let with_phone = User { phone: ada.phone.clone(), ..bob.clone() };
        assert!(is_conflict(tx.insert_user(&with_phone).await, UniqueField::Phone));
        let with_agent = User { agent_id: ada.agent_id.clone(), ..bob.clone() };
        assert!(is_conflict(tx.insert_user(&with_agent).await, UniqueField::AgentId));
        let with_crm = User { crm_id: ada.crm_id.clone(), ..bob.clone() };
        assert!(is_conflict(tx.insert_user(&with_crm).await, UniqueField::CrmId));

        tx.insert_user(&bob).await.expect("absent optional fields never clash");
        let mut renamed = User { email: ada.email.clone(), version: 2, ..bob.clone() };
        assert!(is_conflict(tx.update_user(&renamed).await, UniqueField::Email));
        renamed.email = bob.email.clone();
        renamed.crm_id = ada.crm_id.clone();
        assert!(is_conflict(tx.update_user(&renamed).await, UniqueField::CrmId));
        let mut own = ada.clone();
        own.version = 2;
        tx.update_user(&own).await.expect("a user never clashes with itself");
    }

    #[tokio::test]
    async fn an_email_is_free_in_another_org_and_once_its_holder_is_deleted() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let mut ada = user(a, 100, "ada@example.com");
        tx.insert_user(&ada).await.expect("inserts");
        tx.insert_user(&user(b, 101, "ada@example.com")).await.expect("other org");
        ada.lifecycle.deleted_at = Some(T0);
        ada.version = 2;
        tx.update_user(&ada).await.expect("deletes");
        let again = user(a, 102, "ada@example.com");
        tx.insert_user(&again).await.expect("a deleted user holds no email");
        assert_eq!(
            tx.find_user(a, UserLookup::Email(&again.email)).await.expect("reads").map(|u| u.id),
            Some(again.id)
        );
        // Restoring the deleted user would now duplicate the address.
        ada.lifecycle.deleted_at = None;
        ada.version = 3;
        assert!(is_conflict(tx.update_user(&ada).await, UniqueField::Email));
    }

    #[tokio::test]
    async fn org_slugs_and_role_keys_per_org_are_unique() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        assert!(is_conflict(tx.insert_org(&org(3, "alpha")).await, UniqueField::Slug));
        let mut beta = tx.org(b).await.expect("reads").expect("exists");
        beta.slug = Slug::parse("alpha").expect("valid");
        beta.version = 2;
        assert!(is_conflict(tx.update_org(&beta).await, UniqueField::Slug));

        tx.insert_role(&role(a, 400, "admin")).await.expect("inserts");
        tx.insert_role(&role(b, 401, "admin")).await.expect("another org may use the key");
        assert!(is_conflict(tx.insert_role(&role(a, 402, "admin")).await, UniqueField::Key));
        tx.insert_role(&role(a, 403, "auditor")).await.expect("inserts");
        assert!(is_conflict(tx.update_role(&role(a, 403, "admin")).await, UniqueField::Key));
    }

    #[tokio::test]
    async fn live_sibling_group_names_conflict_case_insensitively() {
        let (store, a, _) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let root = group(a, 200, None, "Acme");
        let mut sales = group(a, 201, Some(root.id), "Sales");
        let east = group(a, 202, Some(root.id), "East");
        for g in [&root, &sales, &east] {
            tx.insert_group(g).await.expect("inserts");
        }
        assert!(is_conflict(tx.insert_group(&group(a, 203, Some(root.id), "sales")).await, UniqueField::Name));
        tx.insert_group(&group(a, 204, Some(east.id), "SALES")).await.expect("not a sibling");
        let renamed = Group { name: GroupName::parse("SaLeS").expect("valid"), version: 2, ..east.clone() };
        assert!(is_conflict(tx.update_group(&renamed).await, UniqueField::Name));

        sales.deleted_at = Some(T0);
        sales.version = 2;
        tx.update_group(&sales).await.expect("deletes");
        tx.insert_group(&group(a, 205, Some(root.id), "sales")).await.expect("a deleted sibling frees its name");
        sales.deleted_at = None;
        sales.version = 3;
        assert!(is_conflict(tx.update_group(&sales).await, UniqueField::Name));
    }

    #[tokio::test]
    async fn an_update_with_a_stale_version_is_refused() {
        let (store, a, _) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let mut ada = user(a, 100, "ada@example.com");
        tx.insert_user(&ada).await.expect("inserts");
        for stale in [1, 3] {
            ada.version = stale;
            assert!(matches!(tx.update_user(&ada).await, Err(StoreError::StaleVersion { kind: "user" })));
        }
        ada.version = 2;
        tx.update_user(&ada).await.expect("the next version is accepted");
        assert!(matches!(tx.update_user(&ada).await, Err(StoreError::StaleVersion { .. })));

        let mut alpha = tx.org(a).await.expect("reads").expect("exists");
        assert!(matches!(tx.update_org(&alpha).await, Err(StoreError::StaleVersion { kind: "organization" })));
        alpha.version = 2;
        tx.update_org(&alpha).await.expect("updates");

        let root = group(a, 200, None, "Acme");
        tx.insert_group(&root).await.expect("inserts");
        assert!(matches!(tx.update_group(&root).await, Err(StoreError::StaleVersion { kind: "group" })));
        let ghost = User { version: 2, ..user(a, 999, "ghost@example.com") };
        assert!(is_missing(&tx.update_user(&ghost).await));
    }

    #[tokio::test]
    async fn take_seats_refuses_past_the_total_with_the_current_figures() {
        let (store, a, _) = two_orgs().await;
        let core = key("core");
        let mut tx = store.begin().await.expect("begins");
        tx.insert_seat_pool(&pool(a, "core", 3)).await.expect("inserts");
        assert_eq!(tx.take_seats(a, &core, 2).await.expect("fits").seats_used, 2);
        match tx.take_seats(a, &core, 2).await {
            Err(StoreError::SeatsExhausted(e)) => {
                assert_eq!(e, SeatsExhausted { product: core.clone(), seats_total: 3, seats_used: 2 });
            }
            other => panic!("expected SeatsExhausted, got {other:?}"),
        }
        assert_eq!(tx.take_seats(a, &core, 1).await.expect("the last seat").seats_used, 3);
        assert!(matches!(tx.take_seats(a, &core, u32::MAX).await, Err(StoreError::SeatsExhausted(_))));
        assert!(matches!(tx.set_seats_total(a, &core, 2).await, Err(StoreError::SeatsExhausted(_))));
        assert_eq!(tx.set_seats_total(a, &core, 3).await.expect("equal is fine").seats_total, 3);
        assert_eq!(tx.return_seats(a, &core, 5).await.expect("returns").seats_used, 0);
        assert!(is_missing(&tx.take_seats(a, &key("sms"), 1).await));
    }

    #[tokio::test]
    async fn dropping_a_transaction_rolls_every_write_back() {
        let (store, a, _) = two_orgs().await;
        let before = store.snapshot().await;
        let mut tx = store.begin().await.expect("begins");
        tx.insert_user(&user(a, 100, "ada@example.com")).await.expect("inserts");
        tx.append_audit(&event(a, 500, T0)).await.expect("appends");
        assert!(tx.user(a, UserId::from_uuid(uuid(100))).await.expect("reads").is_some(), "reads see own writes");
        drop(tx);
        assert_eq!(store.snapshot().await, before);
    }

    #[tokio::test]
    async fn a_commit_makes_every_write_visible_to_later_transactions() {
        let (store, a, _) = two_orgs().await;
        let ada = user(a, 100, "ada@example.com");
        let mut tx = store.begin().await.expect("begins");
        tx.insert_user(&ada).await.expect("inserts");
        tx.append_audit(&event(a, 500, T0)).await.expect("appends");
        tx.commit().await.expect("commits");
        let mut next = store.begin().await.expect("begins");
        assert_eq!(next.user(a, ada.id).await.expect("reads"), Some(ada));
        assert_eq!(next.audit(a, &AuditQuery::default()).await.expect("reads").len(), 1);
    }

    #[tokio::test]
    async fn a_failed_commit_writes_nothing() {
        let (store, a, _) = two_orgs().await;
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
        let (store, a, _) = two_orgs().await;
        let before = store.snapshot().await;
        store.fail_after_writes(1);
        let mut tx = store.begin().await.expect("begins");
        assert!(tx.user(a, UserId::from_uuid(uuid(100))).await.is_ok(), "reads are not counted");
        tx.insert_user(&user(a, 100, "ada@example.com")).await.expect("the first write succeeds");
        let second = tx.insert_user(&user(a, 101, "bob@example.com")).await;
        assert!(matches!(second, Err(StoreError::Unavailable(_))));
        assert_eq!(tx.user(a, UserId::from_uuid(uuid(101))).await.expect("reads"), None, "nothing half-written");
        tx.insert_user(&user(a, 102, "cy@example.com")).await.expect("the switch fires once");
        drop(tx);
        assert_eq!(store.snapshot().await, before);
    }

    #[tokio::test]
    async fn transactions_run_one_at_a_time() {
        let (store, _, _) = two_orgs().await;
        let first = store.begin().await.expect("begins");
        assert!(store.begin().now_or_never().is_none(), "a second writer waits");
        drop(first);
        assert!(store.begin().now_or_never().is_some(), "and proceeds once the first ends");
    }

    #[tokio::test]
    async fn list_connections_is_newest_first_filtered_and_limited() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let (ada, bob) = (user(a, 100, "ada@example.com"), user(a, 101, "bob@example.com"));
        let carl = user(b, 102, "carl@example.com");
        for u in [&ada, &bob, &carl] {
            tx.insert_user(u).await.expect("inserts");
        }
        let g = GroupId::from_uuid(uuid(200));
        let t = |h: i64| T0 + Duration::hours(h);
        // 301 and 302 share a time: the larger id comes first.
        let rows = [
            connection(a, 300, ada.id, t(0), &[]),
            connection(a, 301, bob.id, t(1), &[g]),
            connection(a, 302, ada.id, t(1), &[]),
            connection(a, 303, bob.id, t(2), &[]),
            connection(b, 304, carl.id, t(3), &[]),
        ];
        for c in &rows {
            tx.insert_connection(c).await.expect("inserts");
        }
        let ids = |cs: Vec<Connection>| cs.into_iter().map(|c| c.id.as_uuid().as_u128()).collect::<Vec<_>>();
        let all = ConnectionQuery { org_id: a, scope: ConnectionScope::All, group: None, after: None, limit: 10 };
        assert_eq!(ids(tx.list_connections(&all).await.expect("lists")), [303, 302, 301, 300]);
        let two = ConnectionQuery { limit: 2, ..all.clone() };
        assert_eq!(ids(tx.list_connections(&two).await.expect("lists")), [303, 302]);
        let after = ConnectionQuery {
            after: Some(ConnectionCursor { created_at: t(1), id: ConnectionId::from_uuid(uuid(302)) }),
            ..all.clone()
        };
        assert_eq!(ids(tx.list_connections(&after).await.expect("lists")), [301, 300]);
        let own = ConnectionQuery { scope: ConnectionScope::Own { viewer: ada.id }, ..all.clone() };
        assert_eq!(ids(tx.list_connections(&own).await.expect("lists")), [302, 300]);
        let in_group = ConnectionQuery { group: Some(g), ..all.clone() };
        assert_eq!(ids(tx.list_connections(&in_group).await.expect("lists")), [301]);
        let scoped = ConnectionQuery { scope: ConnectionScope::Groups { viewer: ada.id, groups: [g].into() }, ..all };
        assert_eq!(ids(tx.list_connections(&scoped).await.expect("lists")), [302, 301, 300]);
    }

    #[tokio::test]
    async fn restamping_and_transferring_change_only_that_inviters_matching_connections() {
        let (store, a, _) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let (ada, bob) = (user(a, 100, "ada@example.com"), user(a, 101, "bob@example.com"));
        tx.insert_user(&ada).await.expect("inserts");
        tx.insert_user(&bob).await.expect("inserts");
        let (g1, g2, g3) =
            (GroupId::from_uuid(uuid(201)), GroupId::from_uuid(uuid(202)), GroupId::from_uuid(uuid(203)));
        tx.insert_connection(&connection(a, 300, ada.id, T0, &[])).await.expect("inserts");
        tx.insert_connection(&connection(a, 301, ada.id, T0, &[g2])).await.expect("inserts");
        tx.insert_connection(&connection(a, 302, ada.id, T0, &[g2, g3])).await.expect("inserts");
        tx.insert_connection(&connection(a, 303, bob.id, T0, &[])).await.expect("inserts");
        assert_eq!(tx.restamp_unstamped(a, ada.id, g1).await.expect("restamps"), 1);
        assert_eq!(tx.transfer_stamp(a, ada.id, g2, g1).await.expect("transfers"), 2);
        let mut stamps = Vec::new();
        for n in [300, 301, 302, 303] {
            let id = ConnectionId::from_uuid(uuid(n));
            stamps.push(tx.connection(a, id).await.expect("reads").expect("exists").groups);
        }
        assert_eq!(stamps, [BTreeSet::from([g1]), BTreeSet::from([g1]), BTreeSet::from([g1, g3]), BTreeSet::new()]);
    }

    /// Users named so that last names repeat, making the id tie-breaker matter.
    async fn many_users(store: &InMemoryStore, org: OrgId, n: u128) {
        let mut tx = store.begin().await.expect("begins");
        for i in 0..n {
            let last = ["Zed", "Abel", "Moss"][usize::try_from(i % 3).expect("small")];
            let u = named(user(org, 100 + i, &format!("u{i}@example.com")), "Ada", last);
            tx.insert_user(&u).await.expect("inserts");
        }
        tx.commit().await.expect("commits");
    }

    #[tokio::test]
    async fn cursor_paging_walks_every_user_exactly_once_in_order() {
        let (store, a, b) = two_orgs().await;
        many_users(&store, a, 23).await;
        let mut tx = store.begin().await.expect("begins");
        tx.insert_user(&user(b, 999, "other@example.com")).await.expect("another org's user");
        let mut query = UserQuery::new(a);
        query.sort = vec![UserSort { field: UserSortField::LastName, descending: true }];
        let everyone = tx.list_users(&query).await.expect("lists").items;
        assert_eq!(everyone.len(), 23);
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            query.paging = Some(UserPaging::Cursor { after: after.clone(), limit: 5 });
            let page = tx.list_users(&query).await.expect("lists");
            assert!(page.total.is_none());
            walked.extend(page.items);
            match page.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(walked, everyone);
        assert!(walked.windows(2).all(|w| query.compare(&w[0], &w[1]).is_lt()));
    }

    #[tokio::test]
    async fn page_paging_gives_the_page_and_the_total() {
        let (store, a, _) = two_orgs().await;
        many_users(&store, a, 23).await;
        let mut tx = store.begin().await.expect("begins");
        let mut query = UserQuery::new(a);
        let everyone = tx.list_users(&query).await.expect("lists").items;
        query.paging = Some(UserPaging::Page { page: 3, per_page: 10 });
        let page = tx.list_users(&query).await.expect("lists");
        assert_eq!(page.total, Some(23));
        assert_eq!(page.next_cursor, None);
        assert_eq!(page.items, everyone[20..]);
        query.paging = Some(UserPaging::Page { page: 4, per_page: 10 });
        assert!(tx.list_users(&query).await.expect("lists").items.is_empty());
    }

    #[tokio::test]
    async fn list_users_filters_by_status_group_membership_and_product() {
        let (store, a, _) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let mut active = user(a, 100, "active@example.com");
        active.lifecycle.crm_connected = true;
        active.lifecycle.mailbox_connected = true;
        let unlicensed = user(a, 101, "unlicensed@example.com");
        let mut deactivated = user(a, 102, "deactivated@example.com");
        deactivated.lifecycle.deactivated_at = Some(T0);
        for u in [&active, &unlicensed, &deactivated] {
            tx.insert_user(u).await.expect("inserts");
        }
        tx.insert_license(&license(&active, "core")).await.expect("inserts");
        let root = group(a, 200, None, "Acme");
        let live = group(a, 201, Some(root.id), "Live");
        let mut gone = group(a, 202, Some(root.id), "Gone");
        for g in [&root, &live, &gone] {
            tx.insert_group(g).await.expect("inserts");
        }
        let deleted_at = T0 + Duration::days(2);
        let member = |g: &Group, u: &User, left_at| Membership {
            org_id: a,
            group_id: g.id,
            user_id: u.id,
            joined_at: T0,
            left_at,
        };
        tx.insert_membership(&member(&live, &active, None)).await.expect("inserts");
        tx.insert_membership(&member(&live, &unlicensed, Some(T0 + Duration::days(1)))).await.expect("inserts");
        tx.insert_membership(&member(&gone, &unlicensed, Some(deleted_at))).await.expect("inserts");
        tx.insert_membership(&member(&gone, &deactivated, Some(T0 + Duration::days(1)))).await.expect("inserts");
        gone.deleted_at = Some(deleted_at);
        gone.version = 2;
        tx.update_group(&gone).await.expect("deletes");

        let ids = |page: UserPage| page.items.into_iter().map(|u| u.id).collect::<Vec<_>>();
        let mut q = UserQuery::new(a);
        q.statuses = [StatusKind::Active].into();
        assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [active.id]);
        q.statuses = [StatusKind::Inactive, StatusKind::Deactivated].into();
        assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [unlicensed.id, deactivated.id]);
        q.in_trial = true;
        q.statuses = [StatusKind::Pending].into();
        assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [unlicensed.id], "the trial entitles to core");

        let mut q = UserQuery::new(a);
        q.group = Some(live.id);
        assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [active.id], "current members only");
        q.group = Some(gone.id);
        assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [unlicensed.id], "members when it was deleted");

        let mut q = UserQuery::new(a);
        q.product = Some((key("core"), true));
        assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [active.id]);
        q.product = Some((key("core"), false));
        assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [unlicensed.id, deactivated.id]);
    }

    #[tokio::test]
    async fn active_admins_and_billable_users_leave_out_invited_deactivated_deleted_and_scoped() {
        let (store, a, _) = two_orgs().await;
        let admin = RoleId::from_uuid(uuid(400));
        let mut tx = store.begin().await.expect("begins");
        let grant = |mut u: User, scope: Option<GroupId>| {
            u.roles.insert(RoleGrant { role_id: admin, scope });
            u
        };
        let full = grant(user(a, 100, "full@example.com"), None);
        let scoped = grant(user(a, 101, "scoped@example.com"), Some(GroupId::from_uuid(uuid(200))));
        let mut invited = grant(user(a, 102, "invited@example.com"), None);
        invited.lifecycle.invited = true;
        let mut off = grant(user(a, 103, "off@example.com"), None);
        off.lifecycle.deactivated_at = Some(T0);
        let mut deleted = grant(user(a, 104, "deleted@example.com"), None);
        deleted.lifecycle.deleted_at = Some(T0);
        for u in [&full, &scoped, &invited, &off, &deleted] {
            tx.insert_user(u).await.expect("inserts");
        }
        assert_eq!(tx.active_admins(a, admin).await.expect("reads"), [full.id]);
        assert_eq!(tx.count_billable(a).await.expect("counts"), 2);
        assert!(tx.role_in_use(a, admin).await.expect("reads"));
    }

    #[tokio::test]
    async fn the_audit_log_is_newest_first_and_a_zero_limit_means_no_limit() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        for (n, h) in [(500, 0), (501, 2), (502, 1), (503, 2)] {
            tx.append_audit(&event(a, n, T0 + Duration::hours(h))).await.expect("appends");
        }
        tx.append_audit(&event(b, 504, T0)).await.expect("appends");
        let ids = |es: Vec<AuditEvent>| es.into_iter().map(|e| e.id.as_uuid().as_u128()).collect::<Vec<_>>();
        assert_eq!(ids(tx.audit(a, &AuditQuery::default()).await.expect("reads")), [503, 501, 502, 500]);
        let two = AuditQuery { limit: 2, ..AuditQuery::default() };
        assert_eq!(ids(tx.audit(a, &two).await.expect("reads")), [503, 501]);
    }

    #[tokio::test]
    async fn event_positions_count_each_orgs_events_in_append_order() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        assert_eq!(tx.last_event_position(a).await.expect("reads"), 0);
        // Times are deliberately out of order: positions follow appends, not clocks.
        for (org, n, h) in [(a, 500, 2), (b, 501, 0), (a, 502, 1), (a, 503, 3), (b, 504, 1)] {
            tx.append_audit(&event(org, n, T0 + Duration::hours(h))).await.expect("appends");
        }
        let feed =
            |es: Vec<(u64, AuditEvent)>| es.into_iter().map(|(p, e)| (p, e.id.as_uuid().as_u128())).collect::<Vec<_>>();
        assert_eq!(feed(tx.events_after(a, None, 10).await.expect("reads")), [(1, 500), (2, 502), (3, 503)]);
        assert_eq!(feed(tx.events_after(a, Some(1), 1).await.expect("reads")), [(2, 502)]);
        assert_eq!(feed(tx.events_after(a, Some(3), 10).await.expect("reads")), []);
        assert_eq!(feed(tx.events_after(b, Some(0), 10).await.expect("reads")), [(1, 501), (2, 504)]);
        assert_eq!(tx.last_event_position(a).await.expect("reads"), 3);
    }

    fn webhook(org: OrgId, n: u128) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookId::from_uuid(uuid(n)),
            org_id: org,
            url: crate::webhooks::WebhookUrl::parse("https://example.com/hook").expect("valid"),
            event_types: BTreeSet::new(),
            secret: crate::webhooks::WebhookSecret::new("whsec_x".to_owned()),
            created_at: T0,
            disabled_at: None,
            position: 0,
            created_by: UserId::from_uuid(uuid(100)),
            version: 1,
        }
    }

    fn delivery(endpoint: &WebhookEndpoint, n: u128, position: u64) -> WebhookDelivery {
        let event = crate::ids::AuditEventId::from_uuid(uuid(n + 1000));
        WebhookDelivery::claimed(WebhookDeliveryId::from_uuid(uuid(n)), endpoint, position, event, T0, T0)
    }

    #[tokio::test]
    async fn an_endpoint_has_at_most_one_pending_delivery_and_updates_are_optimistic() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let w = webhook(a, 800);
        tx.insert_webhook(&w).await.expect("inserts");
        let first = delivery(&w, 900, 1);
        tx.insert_webhook_delivery(&first).await.expect("inserts");
        let second = tx.insert_webhook_delivery(&delivery(&w, 901, 2)).await;
        assert!(matches!(second, Err(StoreError::StaleVersion { kind: "webhook" })), "{second:?}");
        let stale = tx.update_webhook_delivery(&first.clone()).await;
        assert!(matches!(stale, Err(StoreError::StaleVersion { .. })), "the version must grow by one");
        tx.update_webhook_delivery(&first.abandoned("test")).await.expect("updates");
        tx.insert_webhook_delivery(&delivery(&w, 901, 2)).await.expect("no other pending delivery now");
        let unknown = webhook(b, 801);
        assert!(is_missing(&tx.insert_webhook_delivery(&delivery(&unknown, 902, 1)).await));
        assert!(matches!(tx.update_webhook(&w).await, Err(StoreError::StaleVersion { .. })));
        assert_eq!(tx.webhook(b, w.id).await.expect("reads"), None, "scoped by organization");
        let log = tx.webhook_deliveries(a, w.id, 10).await.expect("reads");
        assert_eq!(log.iter().map(|d| d.id.as_uuid().as_u128()).collect::<Vec<_>>(), [901, 900], "newest first");
    }

    #[tokio::test]
    async fn endpoints_behind_their_feed_come_oldest_waiting_event_first() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        tx.append_audit(&event(a, 500, T0 + Duration::hours(2))).await.expect("appends");
        tx.append_audit(&event(b, 501, T0 + Duration::hours(1))).await.expect("appends");
        let (up_to_date, waiting_a, waiting_b, busy) =
            (WebhookEndpoint { position: 1, ..webhook(a, 800) }, webhook(a, 801), webhook(b, 802), webhook(b, 803));
        let disabled = WebhookEndpoint { disabled_at: Some(T0), ..webhook(a, 804) };
        for w in [&up_to_date, &waiting_a, &waiting_b, &busy, &disabled] {
            tx.insert_webhook(w).await.expect("inserts");
        }
        tx.insert_webhook_delivery(&delivery(&busy, 900, 1)).await.expect("inserts");
        let ids = |ws: Vec<WebhookEndpoint>| ws.into_iter().map(|w| w.id.as_uuid().as_u128()).collect::<Vec<_>>();
        assert_eq!(ids(tx.webhooks_behind(10).await.expect("reads")), [802, 801]);
        assert_eq!(ids(tx.webhooks_behind(1).await.expect("reads")), [802]);
        let due = tx.due_webhook_deliveries(T0, 10).await.expect("reads");
        assert_eq!(due.len(), 1, "a pending delivery is due when its next attempt has come");
        assert!(tx.due_webhook_deliveries(T0 - Duration::SECOND, 10).await.expect("reads").is_empty());
    }

    #[tokio::test]
    async fn due_scheduled_changes_come_oldest_first_from_every_org() {
        let (store, a, b) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let (ada, bea) = (user(a, 100, "ada@example.com"), user(b, 101, "bea@example.com"));
        tx.insert_user(&ada).await.expect("inserts");
        tx.insert_user(&bea).await.expect("inserts");
        let now = T0 + Duration::days(10);
        tx.insert_scheduled(&scheduled(a, 600, ada.id, now)).await.expect("inserts");
        tx.insert_scheduled(&scheduled(b, 601, bea.id, T0)).await.expect("inserts");
        tx.insert_scheduled(&scheduled(a, 602, ada.id, now + Duration::seconds(1))).await.expect("not yet due");
        let mut done = scheduled(a, 603, ada.id, T0);
        done.state = ScheduleState::Applied { at: T0 };
        tx.insert_scheduled(&done).await.expect("inserts");
        let ids = |cs: Vec<ScheduledChange>| cs.into_iter().map(|c| c.id.as_uuid().as_u128()).collect::<Vec<_>>();
        assert_eq!(ids(tx.due_scheduled(now, 10).await.expect("reads")), [601, 600]);
        assert_eq!(ids(tx.due_scheduled(now, 1).await.expect("reads")), [601]);
    }

    #[tokio::test]
    async fn purging_a_user_removes_the_rows_that_hang_off_them() {
        let (store, a, _) = two_orgs().await;
        let mut tx = store.begin().await.expect("begins");
        let ada = user(a, 100, "ada@example.com");
        tx.insert_user(&ada).await.expect("inserts");
        let invite = Invite {
            id: InviteId::from_uuid(uuid(700)),
            org_id: a,
            user_id: ada.id,
            purpose: crate::invites::InvitePurpose::Member,
            products: [key("core")].into(),
            token_hash: "abc".to_owned(),
            expires_at: T0 + Duration::days(7),
            created_by: None,
            created_at: T0,
            accepted_at: None,
        };
        tx.insert_invite(&invite).await.expect("inserts");
        tx.insert_reservation(&SeatReservation { org_id: a, invite_id: invite.id, product: key("core") })
            .await
            .expect("inserts");
        assert_eq!(tx.invite_by_token_hash("abc").await.expect("reads"), Some(invite.clone()));
        tx.purge_user(a, ada.id).await.expect("purges");
        tx.commit().await.expect("commits");
        let state = store.snapshot().await;
        assert!(state.users.is_empty() && state.invites.is_empty() && state.reservations.is_empty());
    }
}
