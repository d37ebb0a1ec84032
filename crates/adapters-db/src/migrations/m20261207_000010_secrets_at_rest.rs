//! Secrets at rest (ADR 0027): `connections.user_token` becomes `user_token_hash`, the SHA-256
//! (lower-case hex) of the token, which is answered once by the connection's creation and never
//! read back; and the messages of the outbox whose delivery is settled (sent or given up) lose
//! the token they carried (`MailKind::without_secrets`: the `token` field left empty).
//!
//! Existing rows are converted in place. PostgreSQL hashes in SQL (`sha256`, PostgreSQL 11+).
//! SQLite has no SHA-256 function, so the tokens are read and written back by this migration,
//! a page of rows at a time. `down` renames the column back but cannot restore a token from its
//! hash, nor a removed token: those stay as they are.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use sea_orm_migration::prelude::*;
use sha2::{Digest, Sha256};

use super::ddl::per_engine;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const RENAME: &str = "ALTER TABLE connections RENAME COLUMN user_token TO user_token_hash";
const RENAME_BACK: &str = "ALTER TABLE connections RENAME COLUMN user_token_hash TO user_token";

const SQLITE_UP: &[&str] = &["UPDATE outbox SET message = json_set(message, '$.token', '') \
     WHERE state <> 'pending' AND json_extract(message, '$.token') <> ''"];

const POSTGRES_UP: &[&str] = &[
    "UPDATE connections SET user_token_hash = encode(sha256(convert_to(user_token_hash, 'UTF8')), 'hex')",
    "UPDATE outbox SET message = jsonb_set(message, '{token}', '\"\"') \
     WHERE state <> 'pending' AND message ->> 'token' <> ''",
];

/// Rows per read of the SQLite conversion.
const PAGE: u32 = 1_000;

/// The SHA-256 of `token` in lower-case hex: how the domain hashes tokens it checks
/// (`roster_domain::invites::hash_token`), written out here so the migration keeps its meaning.
fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// SQLite: every connection's token replaced by its hash, in pages by primary key.
async fn hash_tokens_in_rust(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let mut after: Option<(Value, Value)> = None;
    loop {
        let (sql, values) = match &after {
            None => (
                format!("SELECT org_id, id, user_token_hash FROM connections ORDER BY org_id, id LIMIT {PAGE}"),
                vec![],
            ),
            Some((org, id)) => (
                format!(
                    "SELECT org_id, id, user_token_hash FROM connections WHERE (org_id, id) > (?, ?) \
                     ORDER BY org_id, id LIMIT {PAGE}"
                ),
                vec![org.clone(), id.clone()],
            ),
        };
        let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
        let Some(last) = rows.last() else { return Ok(()) };
        for row in &rows {
            let org: Vec<u8> = row.try_get("", "org_id")?;
            let id: Vec<u8> = row.try_get("", "id")?;
            let token: String = row.try_get("", "user_token_hash")?;
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "UPDATE connections SET user_token_hash = ? WHERE org_id = ? AND id = ?",
                vec![sha256_hex(&token).into(), org.into(), id.into()],
            ))
            .await?;
        }
        let org: Vec<u8> = last.try_get("", "org_id")?;
        let id: Vec<u8> = last.try_get("", "id")?;
        after = Some((org.into(), id.into()));
    }
}

// The trait spells the argument `&SchemaManager`; `async_trait` needs the impl to spell it the
// same way (see `ddl::migration!`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        connection.execute_unprepared(RENAME).await?;
        if manager.get_database_backend() == DbBackend::Sqlite {
            hash_tokens_in_rust(manager).await?;
        }
        for statement in per_engine(manager.get_database_backend(), SQLITE_UP, POSTGRES_UP)? {
            connection.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(RENAME_BACK).await?;
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hash_is_the_lower_case_hex_sha256_of_the_token() {
        assert_eq!(super::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
