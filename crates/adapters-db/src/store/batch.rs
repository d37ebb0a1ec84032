//! Multi-row `INSERT` statements for the port's batch writes (`ports/store.rs`, "Batch
//! writes"): one statement carries as many rows as the engine's bind-parameter limit allows for
//! the table's column count, capped at [`MAX_ROWS`], and a batch that needs several statements
//! runs them inside one savepoint, so a refused row undoes the whole batch and the transaction
//! goes on.

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use super::SeaOrmTx;
use crate::Engine;

/// The most rows one statement carries, whatever the parameter limit allows: larger
/// statements gain nothing measurable (PERFORMANCE-NOTES: 1,000-row statements reach the raw
/// insert rate) and cost memory in each connection's prepared-statement cache.
pub(crate) const MAX_ROWS: usize = 1000;

/// The most bind parameters one statement may carry on the engine (SQLite's
/// `SQLITE_MAX_VARIABLE_NUMBER` since 3.32, PostgreSQL's 16-bit parameter count).
pub(crate) fn parameter_limit(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => 32_766,
        Engine::Postgres => 65_535,
    }
}

/// Rows of `width` values per statement on the engine (at least one).
pub(crate) fn rows_per_statement(engine: Engine, width: usize) -> usize {
    (parameter_limit(engine) / width.max(1)).clamp(1, MAX_ROWS)
}

/// The statements of one batch, built table by table and run together by [`SeaOrmTx::run_batch`].
#[derive(Default)]
pub(crate) struct Batch {
    statements: Vec<Statement>,
}

impl SeaOrmTx {
    /// Adds `INSERT INTO {table} ({columns}) VALUES {row}, {row}, …` statements to `batch` for
    /// `values`, the rows' values one row after the other; `row` is the row's template with one
    /// `?` per value (it may hold constants too).
    pub(crate) fn push_rows(&self, batch: &mut Batch, table: &str, columns: &str, row: &str, values: Vec<Value>) {
        let width = row.matches('?').count();
        if values.is_empty() || width == 0 {
            return;
        }
        debug_assert_eq!(values.len() % width, 0, "{table}: whole rows only");
        let per_statement = rows_per_statement(self.engine, width);
        let mut values = values.into_iter().peekable();
        while values.peek().is_some() {
            let chunk: Vec<Value> = values.by_ref().take(per_statement * width).collect();
            let rows = vec![row; chunk.len() / width].join(", ");
            let sql = format!("INSERT INTO {table} ({columns}) VALUES {rows}");
            batch.statements.push(self.statement(&sql, chunk));
        }
    }

    /// Runs every statement of `batch`, all or nothing: one statement alone as
    /// [`SeaOrmTx::exec_guarded`] does; several inside one savepoint (on both engines: SQLite
    /// undoes only the failed statement by itself), rolled back on the first failure.
    pub(crate) async fn run_batch(&self, batch: Batch) -> Result<(), DbErr> {
        let mut statements = batch.statements;
        for statement in &statements {
            self.refuse_write(&statement.sql).map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        if statements.len() <= 1 && self.engine == Engine::Sqlite {
            if let Some(statement) = statements.pop() {
                self.tx.execute_raw(statement).await?;
            }
            return Ok(());
        }
        if statements.is_empty() {
            return Ok(());
        }
        // sea-orm's nested transaction is a SAVEPOINT on the same connection.
        let savepoint = self.tx.begin().await?;
        for statement in statements {
            if let Err(e) = savepoint.execute_raw(statement).await {
                savepoint.rollback().await?;
                return Err(e);
            }
        }
        savepoint.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_stay_under_each_engines_parameter_limit() {
        assert_eq!(rows_per_statement(Engine::Sqlite, 39), 840, "39 user columns: 32766 / 39");
        assert_eq!(rows_per_statement(Engine::Postgres, 39), MAX_ROWS, "capped");
        assert_eq!(rows_per_statement(Engine::Sqlite, 4), MAX_ROWS);
        assert_eq!(rows_per_statement(Engine::Sqlite, 40_000), 1, "never zero rows");
        for engine in [Engine::Sqlite, Engine::Postgres] {
            for width in 1..200 {
                assert!(rows_per_statement(engine, width) * width <= parameter_limit(engine).max(width));
            }
        }
    }
}
