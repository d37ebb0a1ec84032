//! An in-memory CRM directory, for tests of import, search and CRM sync.
//!
//! It answers like a real directory (case-insensitive search by page, `get` omitting unknown
//! ids, changes since a time) and lets a test change the CRM under the service's feet
//! ([`InMemoryCrmDirectory::set_active`]) or make the next call fail.
//!
//! Lookups by CRM id go through an index, so `get` of `n` ids costs O(n) whatever the
//! directory's size: the import benchmark (`cargo xtask bench db`) asks for 100,000 at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use roster_domain::ports::{CrmDirectory, CrmError, CrmPage, CrmUser};
use roster_domain::values::CrmId;

/// How many users one search page holds (the size Salesforce's adapter uses too).
pub const CRM_PAGE_SIZE: usize = 50;

#[derive(Debug, Default)]
struct Directory {
    /// Users in insertion order, each with the time it was last modified.
    users: Vec<(CrmUser, OffsetDateTime)>,
    /// The position in `users` of each CRM id.
    index: HashMap<CrmId, usize>,
    /// A failure the next call answers with instead of looking anything up.
    fail_next: Option<CrmError>,
}

/// A [`CrmDirectory`] over a list of users. Clones share the list.
#[derive(Debug, Clone, Default)]
pub struct InMemoryCrmDirectory {
    inner: Arc<Mutex<Directory>>,
}

impl InMemoryCrmDirectory {
    /// A directory holding `users`, each with its modification time.
    pub fn new(users: impl IntoIterator<Item = (CrmUser, OffsetDateTime)>) -> Self {
        let dir = Self::default();
        for (user, modified_at) in users {
            dir.upsert(user, modified_at);
        }
        dir
    }

    /// Adds `user`, or replaces the user with the same CRM id.
    pub fn upsert(&self, user: CrmUser, modified_at: OffsetDateTime) {
        let mut dir = self.lock();
        match dir.index.get(&user.crm_id).copied() {
            Some(at) => dir.users[at] = (user, modified_at),
            None => {
                let at = dir.users.len();
                dir.index.insert(user.crm_id.clone(), at);
                dir.users.push((user, modified_at));
            }
        }
    }

    /// Activates or deactivates a user in the CRM at `at`; answers whether the user exists.
    pub fn set_active(&self, crm_id: &CrmId, active: bool, at: OffsetDateTime) -> bool {
        let mut dir = self.lock();
        let Some(position) = dir.index.get(crm_id).copied() else { return false };
        match dir.users.get_mut(position) {
            Some((user, modified_at)) => {
                user.active = active;
                *modified_at = at;
                true
            }
            None => false,
        }
    }

    /// Makes the next call (of any method) fail with `error`; later calls work again.
    pub fn fail_next(&self, error: CrmError) {
        self.lock().fail_next = Some(error);
    }

    /// Makes the next call fail with [`CrmError::Timeout`].
    pub fn fail_next_with_timeout(&self) {
        self.fail_next(CrmError::Timeout);
    }

    fn lock(&self) -> MutexGuard<'_, Directory> {
        // Every critical section here leaves the list whole, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the lock, failing first if a failure was injected.
    fn answer(&self) -> Result<MutexGuard<'_, Directory>, CrmError> {
        let mut dir = self.lock();
        match dir.fail_next.take() {
            Some(error) => Err(error),
            None => Ok(dir),
        }
    }
}

#[async_trait]
impl CrmDirectory for InMemoryCrmDirectory {
    async fn search(&self, query: &str, page: u32) -> Result<CrmPage, CrmError> {
        let dir = self.answer()?;
        let needle = query.trim().to_lowercase();
        let hits: Vec<&CrmUser> = dir.users.iter().map(|(u, _)| u).filter(|u| u.matches_search(&needle)).collect();
        let start = usize::try_from(page).unwrap_or(usize::MAX).saturating_mul(CRM_PAGE_SIZE);
        let users: Vec<CrmUser> = hits.iter().skip(start).take(CRM_PAGE_SIZE).map(|u| (*u).clone()).collect();
        let more = hits.len() > start.saturating_add(CRM_PAGE_SIZE);
        Ok(CrmPage { users, next_page: more.then(|| page + 1) })
    }

    async fn get(&self, ids: &[CrmId]) -> Result<Vec<CrmUser>, CrmError> {
        let dir = self.answer()?;
        let mut out: Vec<CrmUser> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // In the order asked for, each user once, unknown ids left out.
        for id in ids {
            if !seen.insert(id) {
                continue;
            }
            if let Some((user, _)) = dir.index.get(id).and_then(|at| dir.users.get(*at)) {
                out.push(user.clone());
            }
        }
        Ok(out)
    }

    async fn list_changed_since(&self, since: OffsetDateTime) -> Result<Vec<CrmUser>, CrmError> {
        let dir = self.answer()?;
        Ok(dir.users.iter().filter(|(_, at)| *at >= since).map(|(u, _)| u.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use roster_domain::values::{Email, PersonName};

    const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

    fn crm_user(id: &str, first: &str, last: &str, email: &str) -> CrmUser {
        CrmUser {
            crm_id: CrmId::parse(id).expect("valid id"),
            first_name: PersonName::parse(first).expect("valid name"),
            last_name: PersonName::parse(last).expect("valid name"),
            email: Email::parse(email).expect("valid email"),
            phone: None,
            active: true,
            title: None,
        }
    }

    #[tokio::test]
    async fn search_is_case_insensitive_over_names_and_email_and_pages_by_fifty() {
        let users =
            (0..120).map(|i| (crm_user(&format!("id{i}"), "Ada", &format!("Doe{i}"), &format!("u{i}@x.io")), T0));
        let dir = InMemoryCrmDirectory::new(users);
        let first = dir.search("ADA DOE", 0).await.expect("answers");
        assert_eq!((first.users.len(), first.next_page), (50, Some(1)));
        let last = dir.search("ada", 2).await.expect("answers");
        assert_eq!((last.users.len(), last.next_page), (20, None));
        let by_email = dir.search("U7@X", 0).await.expect("answers");
        assert_eq!(by_email.users.len(), 1);
    }

    #[tokio::test]
    async fn get_omits_unknown_ids() {
        let dir = InMemoryCrmDirectory::new([(crm_user("a1", "Ada", "Lovelace", "ada@x.io"), T0)]);
        let ids = [CrmId::parse("zz").expect("valid"), CrmId::parse("a1").expect("valid")];
        let found = dir.get(&ids).await.expect("answers");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].crm_id.as_str(), "a1");
    }

    #[tokio::test]
    async fn changes_since_include_the_boundary_and_follow_set_active() {
        let dir = InMemoryCrmDirectory::new([
            (crm_user("a1", "Ada", "Lovelace", "ada@x.io"), T0),
            (crm_user("b2", "Bob", "Builder", "bob@x.io"), T0),
        ]);
        let later = datetime!(2024-02-01 0:00 UTC);
        assert!(dir.set_active(&CrmId::parse("b2").expect("valid"), false, later));
        let changed = dir.list_changed_since(later).await.expect("answers");
        assert_eq!(changed.len(), 1);
        assert!(!changed[0].active);
    }

    #[tokio::test]
    async fn an_injected_timeout_fails_only_the_next_call() {
        let dir = InMemoryCrmDirectory::default();
        dir.fail_next_with_timeout();
        assert!(matches!(dir.search("x", 0).await, Err(CrmError::Timeout)));
        assert!(dir.search("x", 0).await.is_ok());
    }
}
