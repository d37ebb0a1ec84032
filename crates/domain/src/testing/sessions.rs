//! An in-memory [`SessionRepository`], for tests of the HTTP adapter and of the SQL one.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::ids::{OrgId, UserId};
use crate::ports::{Session, SessionRepository, StoreError};

/// Sessions and failed logins in memory (one process only).
#[derive(Debug, Default)]
pub struct InMemorySessions {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: BTreeMap<String, Session>,
    failures: Vec<(String, OffsetDateTime)>,
}

impl InMemorySessions {
    pub fn new() -> Self {
        Self::default()
    }

    /// The lock is never held across an await, and no code panics while holding it, so a
    /// poisoned lock still holds consistent data.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionRepository for InMemorySessions {
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        self.state().sessions.insert(session.token_hash.clone(), session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        Ok(self.state().sessions.get(token_hash).cloned())
    }

    async fn extend_session(
        &self,
        token_hash: &str,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if let Some(s) = self.state().sessions.get_mut(token_hash) {
            s.last_seen_at = last_seen_at;
            s.expires_at = expires_at;
        }
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.state().sessions.remove(token_hash);
        Ok(())
    }

    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> Result<u64, StoreError> {
        let mut state = self.state();
        let before = state.sessions.len();
        state.sessions.retain(|_, s| !(s.org_id == org && s.user_id == user));
        Ok(u64::try_from(before - state.sessions.len()).unwrap_or(u64::MAX))
    }

    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut state = self.state();
        let before = state.sessions.len();
        state.sessions.retain(|_, s| s.is_live(now));
        Ok(u64::try_from(before - state.sessions.len()).unwrap_or(u64::MAX))
    }

    async fn record_login_failure(&self, address: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        self.state().failures.push((address.to_owned(), at));
        Ok(())
    }

    async fn login_failures_since(
        &self,
        address: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>, StoreError> {
        Ok(self.state().failures.iter().filter(|(a, at)| a == address && *at >= since).map(|(_, at)| *at).collect())
    }
}
