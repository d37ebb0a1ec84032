//! The domain's `SavedViewRepository` on SQL: the `saved_views` table of migration 7. One
//! autocommitted statement per call; a name taken by the same admin is refused by the unique
//! index `saved_views_name_uq`, through `ON CONFLICT DO NOTHING`.

use async_trait::async_trait;
use roster_domain::ids::{OrgId, SavedViewId, UserId};
use roster_domain::ports::{SavedViewRepository, StoreError};
use roster_domain::saved_views::SavedView;
use roster_domain::values::Label;
use sea_orm::{ConnectionTrait, Statement, Value};

use crate::Db;
use crate::store::convert::{self, get, get_id, get_json, get_time};
use crate::store::errors;

/// Saved views in the database.
#[derive(Debug, Clone)]
pub struct SeaOrmSavedViews {
    db: Db,
}

impl SeaOrmSavedViews {
    /// Saved views on an open, migrated database.
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
}

#[async_trait]
impl SavedViewRepository for SeaOrmSavedViews {
    async fn views(&self, org: OrgId, user: UserId) -> Result<Vec<SavedView>, StoreError> {
        let rows = self
            .db
            .connection()
            .query_all_raw(self.statement(
                "SELECT org_id, id, user_id, name, definition, created_at FROM saved_views \
                 WHERE org_id = ? AND user_id = ? ORDER BY name, id",
                vec![convert::id(org.as_uuid()), convert::id(user.as_uuid())],
            ))
            .await
            .map_err(errors::unavailable)?;
        let engine = self.db.engine();
        rows.iter()
            .map(|row| {
                let name: String = get(row, "name")?;
                Ok(SavedView {
                    id: get_id(row, "id", SavedViewId::from_uuid)?,
                    org_id: get_id(row, "org_id", OrgId::from_uuid)?,
                    user_id: get_id(row, "user_id", UserId::from_uuid)?,
                    name: Label::parse(&name).map_err(|e| convert::corrupt("name", e))?,
                    definition: get_json(engine, row, "definition")?,
                    created_at: get_time(engine, row, "created_at")?,
                })
            })
            .collect()
    }

    async fn insert_view(&self, view: &SavedView) -> Result<bool, StoreError> {
        let engine = self.db.engine();
        let values = vec![
            convert::id(view.org_id.as_uuid()),
            convert::id(view.id.as_uuid()),
            convert::id(view.user_id.as_uuid()),
            view.name.as_str().to_owned().into(),
            convert::json(engine, &view.definition)?,
            convert::time(engine, view.created_at)?,
            convert::time(engine, view.created_at)?,
        ];
        let inserted = self
            .execute(
                "INSERT INTO saved_views (org_id, id, user_id, name, definition, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, name) DO NOTHING",
                values,
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn delete_view(&self, org: OrgId, user: UserId, id: SavedViewId) -> Result<bool, StoreError> {
        let values = vec![convert::id(org.as_uuid()), convert::id(user.as_uuid()), convert::id(id.as_uuid())];
        let deleted =
            self.execute("DELETE FROM saved_views WHERE org_id = ? AND user_id = ? AND id = ?", values).await?;
        Ok(deleted == 1)
    }
}
