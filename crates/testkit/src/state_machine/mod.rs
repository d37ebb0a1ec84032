//! The state-machine property test of SPEC §14, reusable on any [`Store`]: random sequences of
//! operations, by several actors, against the real services, with every invariant checked on
//! the committed rows after every step. The domain runs it on the in-memory store
//! (`crates/domain/tests/state_machine.rs`, 256 cases); SQL adapters run it on their store with
//! fewer cases.
//!
//! - [`ops`]: the operations (create user, invite, accept, revoke, set licenses, bulk assign and
//!   unassign, deactivate, reactivate, delete, restore, create/move/delete group, join, leave,
//!   move user, create connection, set seats, roles, grants, inactivity, scheduled changes,
//!   time passing with the scheduler's tick, the trial ending). An operation names users,
//!   groups and invites by small indices resolved modulo the current population, so every
//!   sequence is valid and shrinking stays meaningful without preconditions. Refusals (any
//!   error but `internal`) are ordinary outcomes.
//! - [`world`]: one organization set up with two admins, a scoped admin and members of every
//!   visibility in a three-level tree; the runner applies each operation through `Services`
//!   as the member the operation names (resolved like a console request) and checks.
//! - [`invariants`]: seats within totals and their book-keeping, no license for a deactivated
//!   or deleted user, an active admin, group depths, and visibility by three paths — the
//!   domain's `can_see`, what `Services::list_connections` returns (the query specification SQL
//!   adapters implement) and `Services::connection_viewers` — each compared with…
//! - [`reference`]: a deliberately simple model of §7.2 written from the spec text, reading
//!   only raw rows.
//!
//! The checks read a [`MemoryState`]: the in-memory store's own snapshot, or — for any other
//! store — one assembled by [`PortReader`] through the [`Store`] port's read methods.

pub mod invariants;
pub mod ops;
pub mod reference;
pub mod world;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::{InMemoryStore, MemoryState};
use roster_domain::ids::{OrgId, UserId};
use roster_domain::ports::{Store, StoreError, Tx};
use roster_domain::users_query::UserQuery;
use roster_domain::visibility::{ConnectionCursor, ConnectionQuery, ConnectionScope, MAX_PAGE_SIZE};

/// Reads the committed state of one organization as the checks want it.
#[async_trait]
pub trait StateReader: Send + Sync {
    /// The organization's committed rows.
    ///
    /// # Errors
    /// The store's failure.
    async fn read_state(&self, org: OrgId) -> Result<MemoryState, StoreError>;
}

/// The in-memory store answers with its raw snapshot: every row, whatever the port can list.
#[async_trait]
impl StateReader for InMemoryStore {
    async fn read_state(&self, _org: OrgId) -> Result<MemoryState, StoreError> {
        Ok(self.snapshot().await)
    }
}

/// Assembles the state of an organization through the [`Store`] port's read methods, in one
/// transaction, for stores whose rows a test cannot reach directly (SQL adapters).
///
/// What the state machine reads comes out as the in-memory snapshot has it: the organization
/// and its catalog, seat pools, licenses, roles, groups, users with their memberships, pending
/// invites with their reservations, connections and queued mail. The port lists no deleted
/// users (the Users-table query leaves them out), so the reader remembers every user it has
/// seen and reads them back by id: a user is live when first seen (created or invited), so a
/// reader called after every step, as the runner does, misses none. Accepted invites and
/// their (by then deleted) reservations are not listed; the runner only uses pending ones.
pub struct PortReader {
    store: Arc<dyn Store>,
    known_users: Mutex<BTreeSet<UserId>>,
}

impl std::fmt::Debug for PortReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortReader").field("known_users", &self.known_users).finish_non_exhaustive()
    }
}

impl PortReader {
    /// A reader over `store` that has seen no user yet.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, known_users: Mutex::new(BTreeSet::new()) }
    }

    fn remember(&self, ids: impl IntoIterator<Item = UserId>) -> Vec<UserId> {
        let mut known = self.known_users.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        known.extend(ids);
        known.iter().copied().collect()
    }
}

#[async_trait]
impl StateReader for PortReader {
    async fn read_state(&self, org: OrgId) -> Result<MemoryState, StoreError> {
        let mut tx = self.store.begin().await?;
        let mut s = MemoryState::default();
        if let Some(o) = tx.org(org).await? {
            s.orgs.insert(o.id, o);
        }
        match tx.catalog(org).await {
            Ok(c) => {
                s.catalogs.insert(org, c);
            }
            Err(StoreError::Missing { .. }) => {}
            Err(e) => return Err(e),
        }
        for p in tx.seat_pools(org).await? {
            s.seat_pools.insert((org, p.product().clone()), p);
        }
        for l in tx.all_licenses(org).await? {
            s.licenses.insert((l.user_id, l.product.clone()), l);
        }
        for r in tx.roles(org).await? {
            s.roles.insert(r.id, r);
        }
        for g in tx.groups(org).await? {
            s.groups.insert(g.id, g);
        }
        let live = tx.list_users(&UserQuery::new(org)).await?.items;
        let ids = self.remember(live.iter().map(|u| u.id));
        for u in tx.users_by_ids(org, &ids).await? {
            s.memberships.extend(tx.memberships_of(org, u.id).await?);
            s.users.insert(u.id, u);
        }
        for i in tx.pending_invites(org).await? {
            for r in tx.reservations_of(org, i.id).await? {
                s.reservations.insert((i.id, r.product.clone()), r);
            }
            s.invites.insert(i.id, i);
        }
        read_connections(&mut *tx, org, &mut s).await?;
        // Nothing delivers mail in these runs: every queued message is pending, and due by then.
        let far = OffsetDateTime::UNIX_EPOCH + Duration::days(365 * 400);
        for q in tx.due_mail(far, 100_000).await? {
            s.deliveries.insert(q.mail.id, q.delivery);
            s.outbox.push(q.mail);
        }
        // Committed, not dropped: a dropped transaction may release its locks after the next one
        // starts (PostgreSQL rolls back when the pool gets the connection back), and `due_mail`
        // skips locked rows, so the next read could miss mail this one locked.
        tx.commit().await?;
        Ok(s)
    }
}

/// Every connection of the organization, page by page.
async fn read_connections(tx: &mut dyn Tx, org: OrgId, s: &mut MemoryState) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let query =
            ConnectionQuery { org_id: org, scope: ConnectionScope::All, group: None, after, limit: MAX_PAGE_SIZE };
        let page = tx.list_connections(&query).await?;
        let full = page.len() == MAX_PAGE_SIZE as usize;
        after = page.last().map(|c| ConnectionCursor { created_at: c.created_at, id: c.id });
        for c in page {
            s.connections.insert(c.id, c);
        }
        if !full {
            return Ok(());
        }
    }
}
