//! The domain's `PasswordResetRepository` on [`SeaOrmTx`]: the `password_resets` table
//! (migration 12), written in the caller's transaction. A link is used by one `DELETE …
//! RETURNING`, so of two transactions using the same link only one gets it: on PostgreSQL the
//! second waits for the first's row lock and then deletes nothing; on SQLite write
//! transactions run one at a time.

use async_trait::async_trait;
use roster_domain::ids::{OrgId, UserId};
use roster_domain::password_resets::PasswordReset;
use roster_domain::ports::{PasswordResetRepository, StoreError};
use sea_orm::QueryResult;
use time::OffsetDateTime;

use super::SeaOrmTx;
use super::convert::{get, get_id, get_time, id, time};
use super::errors;

type R<T> = Result<T, StoreError>;

const COLUMNS: &str = "token_hash, org_id, user_id, created_at, expires_at";

impl SeaOrmTx {
    fn password_reset_of(&self, row: &QueryResult) -> R<PasswordReset> {
        let engine = self.engine();
        Ok(PasswordReset {
            token_hash: get(row, "token_hash")?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            user_id: get_id(row, "user_id", UserId::from_uuid)?,
            created_at: get_time(engine, row, "created_at")?,
            expires_at: get_time(engine, row, "expires_at")?,
        })
    }
}

#[async_trait]
impl PasswordResetRepository for SeaOrmTx {
    async fn insert_password_reset(&mut self, r: &PasswordReset) -> R<()> {
        let engine = self.engine();
        let values = vec![
            r.token_hash.clone().into(),
            id(r.org_id.as_uuid()),
            id(r.user_id.as_uuid()),
            time(engine, r.created_at)?,
            time(engine, r.expires_at)?,
        ];
        let sql = format!("INSERT INTO password_resets ({COLUMNS}) VALUES (?, ?, ?, ?, ?)");
        self.exec_guarded(&sql, values).await.map(drop).map_err(|e| errors::write_error(e, "user"))
    }

    async fn take_password_reset(&mut self, token_hash: &str) -> R<Option<PasswordReset>> {
        let sql = format!("DELETE FROM password_resets WHERE token_hash = ? RETURNING {COLUMNS}");
        let row = self.query_one(&sql, vec![token_hash.to_owned().into()]).await?;
        row.as_ref().map(|r| self.password_reset_of(r)).transpose()
    }

    async fn delete_password_resets(&mut self, org: OrgId, user: UserId) -> R<u64> {
        let values = vec![id(org.as_uuid()), id(user.as_uuid())];
        let done = self.exec("DELETE FROM password_resets WHERE org_id = ? AND user_id = ?", values).await?;
        Ok(done.rows_affected())
    }

    async fn purge_expired_password_resets(&mut self, now: OffsetDateTime) -> R<u64> {
        let at = time(self.engine(), now)?;
        let done = self.exec("DELETE FROM password_resets WHERE expires_at <= ?", vec![at]).await?;
        Ok(done.rows_affected())
    }
}
