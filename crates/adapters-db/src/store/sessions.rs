//! The domain's `SessionRepository` on [`SeaOrmTx`]: the `sessions` table (migration 7, with
//! `parent_hash` from migration 11) and the throttled attempts in `login_failures` (indexed by
//! account since migration 12), written in the caller's transaction. Looking a session up and
//! sliding its expiry, which every request does, are single statements outside any transaction
//! (`Store::session`, `Store::touch_session` on [`SeaOrmStore`](super::SeaOrmStore)).

use async_trait::async_trait;
use roster_domain::ids::{OrgId, UserId};
use roster_domain::ports::{Attempt, AttemptKind, Session, SessionRepository, StoreError};
use sea_orm::QueryResult;
use time::OffsetDateTime;

use super::SeaOrmTx;
use super::convert::{get, get_id, get_time, id, time};
use super::errors;

type R<T> = Result<T, StoreError>;

const SESSION_COLUMNS: &str =
    "token_hash, org_id, user_id, impersonator_id, parent_hash, created_at, last_seen_at, expires_at";

impl SeaOrmTx {
    fn session_of(&self, row: &QueryResult) -> R<Session> {
        let engine = self.engine();
        Ok(Session {
            token_hash: get(row, "token_hash")?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            user_id: get_id(row, "user_id", UserId::from_uuid)?,
            impersonator_id: get::<Option<uuid::Uuid>>(row, "impersonator_id")?.map(UserId::from_uuid),
            parent_hash: get(row, "parent_hash")?,
            created_at: get_time(engine, row, "created_at")?,
            last_seen_at: get_time(engine, row, "last_seen_at")?,
            expires_at: get_time(engine, row, "expires_at")?,
        })
    }

    /// `Store::session`: one statement.
    pub(crate) async fn session_by_hash(&self, token_hash: &str) -> R<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?");
        let row = self.query_one(&sql, vec![token_hash.to_owned().into()]).await?;
        row.as_ref().map(|r| self.session_of(r)).transpose()
    }

    /// `Store::touch_session` and `extend_session`: one statement.
    pub(crate) async fn slide_session(
        &self,
        token_hash: &str,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> R<()> {
        let values =
            vec![time(self.engine(), last_seen_at)?, time(self.engine(), expires_at)?, token_hash.to_owned().into()];
        self.exec("UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?", values).await.map(drop)
    }

    /// Deletes the sessions started by the sessions `condition` picks (an impersonation's
    /// `parent_hash`); the foreign key's cascade does it too, this keeps the count exact and
    /// does not depend on it.
    async fn delete_children(&self, condition: &str, values: Vec<sea_orm::Value>) -> R<()> {
        let sql =
            format!("DELETE FROM sessions WHERE parent_hash IN (SELECT token_hash FROM sessions WHERE {condition})");
        self.exec(&sql, values).await.map(drop)
    }
}

#[async_trait]
impl SessionRepository for SeaOrmTx {
    async fn insert_session(&mut self, s: &Session) -> R<()> {
        let engine = self.engine();
        let values = vec![
            s.token_hash.clone().into(),
            id(s.org_id.as_uuid()),
            id(s.user_id.as_uuid()),
            s.impersonator_id.map(|u| u.as_uuid()).into(),
            s.parent_hash.clone().into(),
            time(engine, s.created_at)?,
            time(engine, s.last_seen_at)?,
            time(engine, s.expires_at)?,
        ];
        let sql = format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        let missing = if s.parent_hash.is_some() { "session" } else { "user" };
        self.exec_guarded(&sql, values).await.map(drop).map_err(|e| errors::write_error(e, missing))
    }

    async fn session(&mut self, token_hash: &str) -> R<Option<Session>> {
        self.session_by_hash(token_hash).await
    }

    async fn extend_session(
        &mut self,
        token_hash: &str,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> R<()> {
        self.slide_session(token_hash, last_seen_at, expires_at).await
    }

    async fn delete_session(&mut self, token_hash: &str) -> R<bool> {
        self.delete_children("token_hash = ?", vec![token_hash.to_owned().into()]).await?;
        let done = self.exec("DELETE FROM sessions WHERE token_hash = ?", vec![token_hash.to_owned().into()]).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_sessions<'a>(&mut self, org: OrgId, user: UserId, keep: Option<&'a str>) -> R<u64> {
        let keys = || vec![id(org.as_uuid()), id(user.as_uuid()), keep.unwrap_or("").to_owned().into()];
        let condition = "org_id = ? AND user_id = ? AND token_hash <> ?";
        self.delete_children(condition, keys()).await?;
        let done = self.exec(&format!("DELETE FROM sessions WHERE {condition}"), keys()).await?;
        Ok(done.rows_affected())
    }

    async fn purge_expired_sessions(&mut self, now: OffsetDateTime) -> R<u64> {
        let at = time(self.engine(), now)?;
        self.delete_children("expires_at <= ?", vec![at.clone()]).await?;
        let done = self.exec("DELETE FROM sessions WHERE expires_at <= ?", vec![at]).await?;
        Ok(done.rows_affected())
    }

    async fn record_attempt(&mut self, a: &Attempt) -> R<()> {
        let values = vec![
            a.kind.as_str().into(),
            a.address.clone().into(),
            a.account.clone().into(),
            time(self.engine(), a.at)?,
        ];
        self.exec("INSERT INTO login_failures (kind, source_address, account, at) VALUES (?, ?, ?, ?)", values)
            .await
            .map(drop)
    }

    async fn attempts_since<'a>(
        &mut self,
        kind: AttemptKind,
        address: &str,
        account: Option<&'a str>,
        since: OffsetDateTime,
    ) -> R<Vec<OffsetDateTime>> {
        let mut values = vec![kind.as_str().into(), address.to_owned().into(), time(self.engine(), since)?];
        let mut sql = "SELECT at FROM login_failures WHERE kind = ? AND source_address = ? AND at >= ?".to_owned();
        if let Some(account) = account {
            sql.push_str(" AND account = ?");
            values.push(account.to_owned().into());
        }
        sql.push_str(" ORDER BY at");
        let rows = self.query_all(&sql, values).await?;
        rows.iter().map(|r| get_time(self.engine(), r, "at")).collect()
    }

    async fn clear_attempts(&mut self, kind: AttemptKind, address: &str, account: &str) -> R<()> {
        let values = vec![kind.as_str().into(), address.to_owned().into(), account.to_owned().into()];
        self.exec("DELETE FROM login_failures WHERE kind = ? AND source_address = ? AND account = ?", values)
            .await
            .map(drop)
    }

    async fn account_attempts_since(
        &mut self,
        kind: AttemptKind,
        account: &str,
        since: OffsetDateTime,
    ) -> R<Vec<OffsetDateTime>> {
        let values = vec![kind.as_str().into(), account.to_owned().into(), time(self.engine(), since)?];
        let sql = "SELECT at FROM login_failures WHERE kind = ? AND account = ? AND at >= ? ORDER BY at";
        let rows = self.query_all(sql, values).await?;
        rows.iter().map(|r| get_time(self.engine(), r, "at")).collect()
    }

    async fn purge_attempts(&mut self, before: OffsetDateTime) -> R<u64> {
        let done = self.exec("DELETE FROM login_failures WHERE at < ?", vec![time(self.engine(), before)?]).await?;
        Ok(done.rows_affected())
    }
}
