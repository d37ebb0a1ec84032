//! The domain's `SessionRepository` on SQL: the `sessions` and `login_failures` tables of
//! migration 7. Each call is one autocommitted statement on the pool, outside any unit of work.

use async_trait::async_trait;
use roster_domain::ids::{OrgId, UserId};
use roster_domain::ports::{Session, SessionRepository, StoreError};
use sea_orm::{ConnectionTrait, QueryResult, Statement, Value};
use time::OffsetDateTime;

use crate::Db;
use crate::store::convert::{self, get, get_id, get_time};
use crate::store::errors;

/// Sessions and failed logins in the database, shared by every `roster` process on it.
#[derive(Debug, Clone)]
pub struct SeaOrmSessions {
    db: Db,
}

impl SeaOrmSessions {
    /// Sessions on an open, migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        let engine = self.db.engine();
        Statement::from_sql_and_values(engine.backend(), convert::number_parameters(engine, sql), values)
    }

    async fn execute(&self, sql: &str, values: Vec<Value>) -> Result<u64, StoreError> {
        let result = self.db.connection().execute_raw(self.statement(sql, values)).await;
        result.map(|r| r.rows_affected()).map_err(|e| errors::write_error(e, "user"))
    }

    async fn query_one(&self, sql: &str, values: Vec<Value>) -> Result<Option<QueryResult>, StoreError> {
        self.db.connection().query_one_raw(self.statement(sql, values)).await.map_err(errors::unavailable)
    }

    fn time(&self, at: OffsetDateTime) -> Result<Value, StoreError> {
        convert::time(self.db.engine(), at)
    }

    fn session_of(&self, row: &QueryResult) -> Result<Session, StoreError> {
        let engine = self.db.engine();
        Ok(Session {
            token_hash: get(row, "token_hash")?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            user_id: get_id(row, "user_id", UserId::from_uuid)?,
            impersonator_id: get::<Option<uuid::Uuid>>(row, "impersonator_id")?.map(UserId::from_uuid),
            created_at: get_time(engine, row, "created_at")?,
            last_seen_at: get_time(engine, row, "last_seen_at")?,
            expires_at: get_time(engine, row, "expires_at")?,
        })
    }
}

#[async_trait]
impl SessionRepository for SeaOrmSessions {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let values = vec![
            s.token_hash.clone().into(),
            convert::id(s.org_id.as_uuid()),
            convert::id(s.user_id.as_uuid()),
            s.impersonator_id.map(|u| u.as_uuid()).into(),
            self.time(s.created_at)?,
            self.time(s.last_seen_at)?,
            self.time(s.expires_at)?,
        ];
        self.execute(
            "INSERT INTO sessions (token_hash, org_id, user_id, impersonator_id, created_at, last_seen_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        .await
        .map(drop)
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = self
            .query_one(
                "SELECT token_hash, org_id, user_id, impersonator_id, created_at, last_seen_at, expires_at \
                 FROM sessions WHERE token_hash = ?",
                vec![token_hash.to_owned().into()],
            )
            .await?;
        row.as_ref().map(|r| self.session_of(r)).transpose()
    }

    async fn extend_session(
        &self,
        token_hash: &str,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let values = vec![self.time(last_seen_at)?, self.time(expires_at)?, token_hash.to_owned().into()];
        self.execute("UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?", values)
            .await
            .map(drop)
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM sessions WHERE token_hash = ?", vec![token_hash.to_owned().into()]).await.map(drop)
    }

    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> Result<u64, StoreError> {
        let values = vec![convert::id(org.as_uuid()), convert::id(user.as_uuid())];
        self.execute("DELETE FROM sessions WHERE org_id = ? AND user_id = ?", values).await
    }

    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.execute("DELETE FROM sessions WHERE expires_at <= ?", vec![self.time(now)?]).await
    }

    async fn record_login_failure(&self, address: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let values = vec![address.to_owned().into(), self.time(at)?];
        self.execute("INSERT INTO login_failures (source_address, at) VALUES (?, ?)", values).await.map(drop)
    }

    async fn login_failures_since(
        &self,
        address: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>, StoreError> {
        let rows = self
            .db
            .connection()
            .query_all_raw(self.statement(
                "SELECT at FROM login_failures WHERE source_address = ? AND at >= ? ORDER BY at",
                vec![address.to_owned().into(), self.time(since)?],
            ))
            .await
            .map_err(errors::unavailable)?;
        rows.iter().map(|r| get_time(self.db.engine(), r, "at")).collect()
    }
}
