//! [`RoleRepository`]: an organization's roles, and whether any user holds one.
//!
//! A role's permissions are a JSON array of permission names (read back whole with the role);
//! its visibility is the text the schema's `CHECK` lists.

use async_trait::async_trait;
use roster_domain::ids::{OrgId, RoleId};
use roster_domain::ports::{RoleRepository, StoreError};
use roster_domain::roles::{Role, Visibility};
use sea_orm::{QueryResult, Value};

use super::SeaOrmTx;
use super::convert::{corrupt, get, get_id, get_json, get_parsed, get_unsigned, id, json, text};
use super::errors;

type R<T> = Result<T, StoreError>;

const ROLE_COLUMNS: &str = "org_id, id, key, name, permissions, visibility, assignable, builtin";

fn visibility_text(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::OwnInvites => "own_invites",
        Visibility::Groups => "groups",
        Visibility::All => "all",
    }
}

fn visibility_of(row: &QueryResult) -> R<Visibility> {
    match get::<String>(row, "visibility")?.as_str() {
        "own_invites" => Ok(Visibility::OwnInvites),
        "groups" => Ok(Visibility::Groups),
        "all" => Ok(Visibility::All),
        other => Err(corrupt("visibility", format!("unknown visibility `{other}`"))),
    }
}

impl SeaOrmTx {
    fn role_from_row(&self, row: &QueryResult) -> R<Role> {
        Ok(Role {
            id: get_id(row, "id", RoleId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            key: get_parsed(row, "key")?,
            name: get_parsed(row, "name")?,
            permissions: get_json(self.engine, row, "permissions")?,
            visibility: visibility_of(row)?,
            assignable: get(row, "assignable")?,
            builtin: get(row, "builtin")?,
        })
    }

    /// The columns every write of a role sets, in [`ROLE_COLUMNS`] order after `org_id, id`.
    fn role_values(&self, role: &Role) -> R<Vec<Value>> {
        Ok(vec![
            text(&role.key),
            text(&role.name),
            json(self.engine, &role.permissions)?,
            visibility_text(role.visibility).into(),
            role.assignable.into(),
            role.builtin.into(),
        ])
    }
}

#[async_trait]
impl RoleRepository for SeaOrmTx {
    async fn roles(&mut self, org: OrgId) -> R<Vec<Role>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = ? ORDER BY id");
        self.query_all(&sql, vec![id(org.as_uuid())]).await?.iter().map(|row| self.role_from_row(row)).collect()
    }

    async fn roles_version(&mut self, org: OrgId) -> R<u64> {
        // Kept by the triggers on `roles` (migration `m20261206_000009_roles_version`).
        let row =
            self.query_one("SELECT roles_version FROM organizations WHERE id = ?", vec![id(org.as_uuid())]).await?;
        row.map_or(Ok(0), |row| get_unsigned(&row, "roles_version"))
    }

    async fn insert_role(&mut self, role: &Role) -> R<()> {
        let mut values = vec![id(role.org_id.as_uuid()), id(role.id.as_uuid())];
        values.extend(self.role_values(role)?);
        let sql = format!("INSERT INTO roles ({ROLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        // A role refers to no other row: only the key's unique index can refuse it.
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "role"))?;
        Ok(())
    }

    async fn update_role(&mut self, role: &Role) -> R<()> {
        let mut values = self.role_values(role)?;
        values.extend([id(role.org_id.as_uuid()), id(role.id.as_uuid())]);
        let sql = "UPDATE roles SET key = ?, name = ?, permissions = ?, visibility = ?, assignable = ?, builtin = ? \
                   WHERE org_id = ? AND id = ?";
        let done = self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "role"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Missing { kind: "role" });
        }
        Ok(())
    }

    async fn delete_role(&mut self, org: OrgId, role: RoleId) -> R<()> {
        // Grants are not foreign keys to roles (the services refuse to delete a role in use).
        let done =
            self.exec("DELETE FROM roles WHERE org_id = ? AND id = ?", vec![id(org.as_uuid()), id(role.as_uuid())]);
        if done.await?.rows_affected() == 0 {
            return Err(StoreError::Missing { kind: "role" });
        }
        Ok(())
    }

    async fn role_in_use(&mut self, org: OrgId, role: RoleId) -> R<bool> {
        // Deleted users hold nothing; deactivated and invited ones still do.
        let sql = "SELECT 1 AS one FROM user_roles g \
                   JOIN users u ON u.org_id = g.org_id AND u.id = g.user_id \
                   WHERE g.org_id = ? AND g.role_id = ? AND u.deleted_at IS NULL LIMIT 1";
        Ok(self.query_one(sql, vec![id(org.as_uuid()), id(role.as_uuid())]).await?.is_some())
    }
}
