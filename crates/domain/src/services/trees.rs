//! What a process keeps between requests: each organization's group tree and roles.
//!
//! Resolving a member's authority and listing the Users table both need the organization's
//! whole group tree; reading it (a thousand groups in the benchmark's organization) cost more
//! than everything else a Users page does together (`docs/PERFORMANCE.md`, "bench http").
//! The tree changes rarely — an admin editing groups — so each process keeps the last tree it
//! read per organization with the store's [`GroupRepository::groups_version`] at that time, and a
//! read checks that one number before using it. A write anywhere, by any process, moves the
//! number, so a kept tree is never used after a change is committed. The roles, which every
//! request's authority needs too, are kept the same way under
//! [`RoleRepository::roles_version`]; [`Store::authority`] answers both numbers with the member's
//! own facts, so a request whose organization is kept reads nothing else to resolve its actor.
//!
//! Only reads use the caches ([`Services::read_tree`], [`Services::kept_authority`]): a write
//! transaction may have changed the groups or roles itself, and what holds uncommitted changes
//! must never be kept — if the transaction rolled back, the version would go back with it and
//! could later name something else.
//!
//! [`GroupRepository::groups_version`]: crate::ports::GroupRepository::groups_version
//! [`RoleRepository::roles_version`]: crate::ports::RoleRepository::roles_version
//! [`Store::authority`]: crate::ports::Store::authority

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{ServiceError, ServiceResult};
use crate::groups::GroupTree;
use crate::ids::OrgId;
use crate::org::Organization;
use crate::ports::Tx;
use crate::roles::Role;

use super::Services;
use super::support::load_tree;

/// How many organizations' trees (and, apart, roles) a process keeps; the least recently used
/// goes first.
pub const TREE_CACHE_CAPACITY: usize = 256;

/// Values kept per organization with the version they were read at.
#[derive(Debug)]
pub(crate) struct VersionCache<T> {
    capacity: usize,
    state: Mutex<CacheState<T>>,
}

/// The kept group trees.
pub(crate) type TreeCache = VersionCache<GroupTree>;
/// The kept roles, in id order.
pub(crate) type RolesCache = VersionCache<Vec<Role>>;

#[derive(Debug)]
struct CacheState<T> {
    /// Counts uses, to find the least recently used entry.
    clock: u64,
    entries: HashMap<OrgId, Entry<T>>,
}

#[derive(Debug)]
struct Entry<T> {
    version: u64,
    value: Arc<T>,
    used: u64,
}

impl<T> VersionCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), state: Mutex::new(CacheState { clock: 0, entries: HashMap::new() }) }
    }

    /// The value kept for `org` at exactly `version`.
    pub(crate) fn get(&self, org: OrgId, version: u64) -> Option<Arc<T>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.clock += 1;
        let now = state.clock;
        let entry = state.entries.get_mut(&org).filter(|e| e.version == version)?;
        entry.used = now;
        Some(Arc::clone(&entry.value))
    }

    /// Keeps `value` as `org`'s at `version`, unless a value of a later version is kept
    /// already (two requests may race; the later version wins whatever the order).
    pub(crate) fn put(&self, org: OrgId, version: u64, value: Arc<T>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.clock += 1;
        let used = state.clock;
        if let Some(entry) = state.entries.get_mut(&org) {
            if entry.version <= version {
                *entry = Entry { version, value, used };
            }
            return;
        }
        if state.entries.len() >= self.capacity {
            let oldest = state.entries.iter().min_by_key(|(_, e)| e.used).map(|(org, _)| *org);
            if let Some(oldest) = oldest {
                state.entries.remove(&oldest);
            }
        }
        state.entries.insert(org, Entry { version, value, used });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).entries.len()
    }
}

impl<T> Default for VersionCache<T> {
    fn default() -> Self {
        Self::new(TREE_CACHE_CAPACITY)
    }
}

impl Services {
    /// The organization's group tree, for a transaction opened with `begin_read` only (module
    /// docs): the kept one when the store's groups version has not moved, else read and kept.
    ///
    /// The version is read before the groups, so a kept tree is never older than its version:
    /// a write committed between the two reads gives a newer tree under the older number, which
    /// the next read replaces.
    pub(crate) async fn read_tree(&self, tx: &mut dyn Tx, org: OrgId) -> ServiceResult<Arc<GroupTree>> {
        let version = tx.groups_version(org).await?;
        self.tree_at(tx, org, version).await
    }

    /// The tree kept at `version` (read from `tx` just before), else read and kept under it.
    async fn tree_at(&self, tx: &mut dyn Tx, org: OrgId, version: u64) -> ServiceResult<Arc<GroupTree>> {
        if let Some(tree) = self.trees.get(org, version) {
            return Ok(tree);
        }
        let tree = Arc::new(load_tree(tx, org).await?);
        self.trees.put(org, version, Arc::clone(&tree));
        Ok(tree)
    }

    /// The organization and its group tree, for a transaction opened with `begin_read` only,
    /// like [`Services::read_tree`]: the version comes with the organization's row
    /// ([`Tx::org_and_groups_version`]), before the groups.
    ///
    /// # Errors
    /// `not_found` for an unknown organization.
    pub(crate) async fn read_org_and_tree(
        &self,
        tx: &mut dyn Tx,
        org: OrgId,
    ) -> ServiceResult<(Organization, Arc<GroupTree>)> {
        let (org, version) = tx.org_and_groups_version(org).await?.ok_or(ServiceError::not_found("organization"))?;
        let tree = self.tree_at(tx, org.id, version).await?;
        Ok((org, tree))
    }

    /// The organization's roles, for a transaction opened with `begin_read` only, like
    /// [`Services::read_tree`].
    pub(crate) async fn read_roles(&self, tx: &mut dyn Tx, org: OrgId) -> ServiceResult<Arc<Vec<Role>>> {
        let version = tx.roles_version(org).await?;
        if let Some(roles) = self.roles.get(org, version) {
            return Ok(roles);
        }
        let roles = Arc::new(tx.roles(org).await?);
        self.roles.put(org, version, Arc::clone(&roles));
        Ok(roles)
    }

    /// The tree and roles kept at exactly these versions, when both are: what
    /// [`Store::authority`](crate::ports::Store::authority) answered lets a request resolve its
    /// actor without another read.
    pub(crate) fn kept_authority(
        &self,
        org: OrgId,
        groups_version: u64,
        roles_version: u64,
    ) -> Option<(Arc<GroupTree>, Arc<Vec<Role>>)> {
        Some((self.trees.get(org, groups_version)?, self.roles.get(org, roles_version)?))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::{RolesCache, TreeCache};
    use crate::groups::GroupTree;
    use crate::ids::OrgId;

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_tree_is_found_at_its_version_only() {
        let cache = TreeCache::new(4);
        let tree = Arc::new(GroupTree::default());
        cache.put(org(1), 7, Arc::clone(&tree));
        assert!(cache.get(org(1), 7).is_some_and(|t| Arc::ptr_eq(&t, &tree)));
        assert!(cache.get(org(1), 8).is_none(), "a later version is a miss");
        assert!(cache.get(org(1), 6).is_none(), "an earlier version is a miss");
        assert!(cache.get(org(2), 7).is_none(), "another organization is a miss");
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let cache = TreeCache::new(4);
        cache.put(org(1), 9, Arc::new(GroupTree::default()));
        cache.put(org(1), 8, Arc::new(GroupTree::default()));
        assert!(cache.get(org(1), 9).is_some());
        assert!(cache.get(org(1), 8).is_none());
    }

    #[test]
    fn the_least_recently_used_organization_goes_first() {
        let cache = TreeCache::new(2);
        cache.put(org(1), 1, Arc::new(GroupTree::default()));
        cache.put(org(2), 1, Arc::new(GroupTree::default()));
        assert!(cache.get(org(1), 1).is_some(), "org 1 is now the most recently used");
        cache.put(org(3), 1, Arc::new(GroupTree::default()));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(org(1), 1).is_some());
        assert!(cache.get(org(2), 1).is_none(), "org 2 was the least recently used");
        assert!(cache.get(org(3), 1).is_some());
    }

    #[test]
    fn roles_are_kept_apart_from_trees_by_their_own_version() {
        let roles = RolesCache::new(4);
        roles.put(org(1), 3, Arc::new(Vec::new()));
        assert!(roles.get(org(1), 3).is_some());
        assert!(roles.get(org(1), 4).is_none());
    }

    proptest! {
        /// Whatever the order of puts and gets (and evictions), a get at a version answers the
        /// tree put last for that organization at that very version, or nothing — never a tree
        /// read at another version — and the cache never holds more organizations than its
        /// capacity.
        #[test]
        fn a_get_answers_only_a_tree_put_at_that_version(
            ops in proptest::collection::vec((0u128..5, 0u64..6, any::<bool>()), 1..200),
            capacity in 1usize..4,
        ) {
            let cache = TreeCache::new(capacity);
            let mut last_put: HashMap<(u128, u64), Arc<GroupTree>> = HashMap::new();
            for (o, version, is_put) in ops {
                if is_put {
                    let tree = Arc::new(GroupTree::default());
                    cache.put(org(o), version, Arc::clone(&tree));
                    last_put.insert((o, version), tree);
                } else if let Some(found) = cache.get(org(o), version) {
                    let put = last_put.get(&(o, version));
                    prop_assert!(put.is_some_and(|t| Arc::ptr_eq(&found, t)));
                }
                prop_assert!(cache.len() <= capacity);
            }
        }
    }
}
