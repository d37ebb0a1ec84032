//! [`ConnectionRepository`]: connections with their group stamp and cc, the visible-connections
//! page (§7.2 in the database), the restamping rules, flows and API keys.
//!
//! A connection's stamp and cc live in `connection_groups` and `connection_cc`, each row with a
//! copy of the connection's (immutable) `created_at`, so that a group's, a cc'd member's and an
//! inviter's connections are each one index range in page order (`docs/decisions/0009-schema.md`,
//! "Visibility: stamp and cc tables"; PERFORMANCE-NOTES consequence 7).
//!
//! # The page query
//! [`ConnectionQuery`] becomes one statement: the union of a few *branches*, each an index range
//! read newest first from the keyset cursor and cut at the page size, joined to `connections` and
//! cut again. `UNION` (not `UNION ALL`) deduplicates a connection found by several branches (its
//! `(connection_id, created_at)` is the same in each). The branches:
//!
//! | scope | no group filter | group filter `g` |
//! | --- | --- | --- |
//! | `All` | `connections_newest` | `g`'s stamp range |
//! | `Groups { viewer, G }` | one stamp range per group of `G`, the inviter range, the cc range | `g ∈ G`: `g`'s stamp range alone; otherwise the branches of the left, each restricted to `g`'s stamp |
//! | `Own { viewer }` | the inviter range, the cc range | the same, each restricted to `g`'s stamp |
//!
//! An empty `G` just has no group branches (never an `IN ()`). Each branch answers at most `n`
//! rows, so the page reads at most `(k + 2)·n` index entries, however large the organization.
//! The stamp and cc sets of the page's rows are then read by a second statement (by primary key).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use roster_domain::connections::{ApiKey, Connection, Flow};
use roster_domain::ids::{ApiKeyId, ConnectionId, FlowId, GroupId, OrgId, UserId};
use roster_domain::ports::{ConnectionRepository, StoreError};
use roster_domain::visibility::{ConnectionQuery, ConnectionScope};
use sea_orm::{QueryResult, Value};
use uuid::Uuid;

use super::SeaOrmTx;
use super::batch::Batch;
use super::convert::{
    corrupt, count, get, get_id, get_json, get_opt_time, get_parsed, get_time, get_unsigned, id, json, opt_time, text,
    time,
};
use super::errors;

type R<T> = Result<T, StoreError>;

const CONNECTION_COLUMNS: &str =
    "org_id, id, email, name, flow_id, inviter_id, via_api_key, user_token_hash, created_at";

const API_KEY_COLUMNS: &str =
    "org_id, id, name, group_id, permissions, created_by, secret_hash, created_at, last_used_at, revoked_at";

const FLOW_COLUMNS: &str = "org_id, id, name, created_at";

const MISSING_API_KEY: StoreError = StoreError::Missing { kind: "api key" };

/// Ids per statement when a list of ids or rows is bound as parameters (well below SQLite's
/// 32,766 and PostgreSQL's 65,535 parameters).
const CHUNK: usize = 500;

/// An optional id parameter (`NULL` typed as a `uuid`).
fn opt_id(uuid: Option<Uuid>) -> Value {
    uuid.into()
}

/// One index range of the page query.
#[derive(Debug, Clone, Copy)]
enum Branch {
    /// Every connection of the organization (`connections_newest`).
    Newest,
    /// The connections stamped with a group (`connection_groups_newest`).
    Group(GroupId),
    /// The connections a member invited (`connections_by_inviter`).
    Inviter(UserId),
    /// The connections a member is cc'd on (`connection_cc_newest`).
    Cc(UserId),
}

/// The branches of a query, and the group filter each must still apply (`None` when the
/// branches already are the filter's range).
fn branches(query: &ConnectionQuery) -> (Vec<Branch>, Option<GroupId>) {
    match (&query.scope, query.group) {
        (ConnectionScope::All, None) => (vec![Branch::Newest], None),
        (ConnectionScope::All, Some(g)) => (vec![Branch::Group(g)], None),
        // Every connection stamped with `g` is visible: the filter's range is the page.
        (ConnectionScope::Groups { groups, .. }, Some(g)) if groups.contains(&g) => (vec![Branch::Group(g)], None),
        (ConnectionScope::Groups { viewer, groups }, filter) => {
            let mut out: Vec<Branch> = groups.iter().map(|g| Branch::Group(*g)).collect();
            out.extend([Branch::Inviter(*viewer), Branch::Cc(*viewer)]);
            (out, filter)
        }
        (ConnectionScope::Own { viewer }, filter) => (vec![Branch::Inviter(*viewer), Branch::Cc(*viewer)], filter),
    }
}

impl SeaOrmTx {
    /// A connection row, with empty stamp and cc (filled by [`SeaOrmTx::with_sets`]).
    fn connection_from_row(&self, row: &QueryResult) -> R<Connection> {
        Ok(Connection {
            id: get_id(row, "id", ConnectionId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            email: get_parsed(row, "email")?,
            name: get_parsed(row, "name")?,
            flow_id: get::<Option<Uuid>>(row, "flow_id")?.map(FlowId::from_uuid),
            inviter_id: get_id(row, "inviter_id", UserId::from_uuid)?,
            groups: BTreeSet::new(),
            cc: BTreeSet::new(),
            via_api_key: get::<Option<Uuid>>(row, "via_api_key")?.map(ApiKeyId::from_uuid),
            user_token_hash: get(row, "user_token_hash")?,
            created_at: get_time(self.engine, row, "created_at")?,
        })
    }

    /// Fills the stamp and cc of `connections` (all of organization `org`), in one statement per
    /// [`CHUNK`] connections.
    async fn with_sets(&self, org: OrgId, mut connections: Vec<Connection>) -> R<Vec<Connection>> {
        let mut groups: BTreeMap<ConnectionId, BTreeSet<GroupId>> = BTreeMap::new();
        let mut cc: BTreeMap<ConnectionId, BTreeSet<UserId>> = BTreeMap::new();
        for chunk in connections.chunks(CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT connection_id, group_id AS member, 0 AS kind FROM connection_groups \
                 WHERE org_id = ? AND connection_id IN ({marks}) \
                 UNION ALL SELECT connection_id, user_id AS member, 1 AS kind FROM connection_cc \
                 WHERE org_id = ? AND connection_id IN ({marks})"
            );
            let ids = chunk.iter().map(|c| id(c.id.as_uuid()));
            let mut values = vec![id(org.as_uuid())];
            values.extend(ids.clone());
            values.push(id(org.as_uuid()));
            values.extend(ids);
            for row in &self.query_all(&sql, values).await? {
                let connection = get_id(row, "connection_id", ConnectionId::from_uuid)?;
                let member = get::<Uuid>(row, "member")?;
                match get::<i32>(row, "kind")? {
                    0 => groups.entry(connection).or_default().insert(GroupId::from_uuid(member)),
                    1 => cc.entry(connection).or_default().insert(UserId::from_uuid(member)),
                    other => return Err(corrupt("kind", format!("unknown set kind {other}"))),
                };
            }
        }
        for c in &mut connections {
            c.groups = groups.remove(&c.id).unwrap_or_default();
            c.cc = cc.remove(&c.id).unwrap_or_default();
        }
        Ok(connections)
    }

    /// One branch of the page query: at most `n` `(connection_id, created_at)` newest first
    /// after the cursor, restricted to the connections stamped with `filter` when given. Pushes
    /// its parameters onto `values`, in the order of its parameter markers.
    fn branch_sql(
        &self,
        branch: Branch,
        query: &ConnectionQuery,
        filter: Option<GroupId>,
        values: &mut Vec<Value>,
    ) -> R<String> {
        let (select, table, idc, extra) = match branch {
            Branch::Newest => ("id AS connection_id, created_at", "connections", "id", None),
            Branch::Group(g) => {
                ("connection_id, created_at", "connection_groups", "connection_id", Some(("group_id", g.as_uuid())))
            }
            Branch::Inviter(v) => {
                ("id AS connection_id, created_at", "connections", "id", Some(("inviter_id", v.as_uuid())))
            }
            Branch::Cc(v) => {
                ("connection_id, created_at", "connection_cc", "connection_id", Some(("user_id", v.as_uuid())))
            }
        };
        let mut sql = format!("SELECT {select} FROM {table} WHERE org_id = ?");
        values.push(id(query.org_id.as_uuid()));
        if let Some((column, value)) = extra {
            sql.push_str(&format!(" AND {column} = ?"));
            values.push(id(value));
        }
        if let Some(after) = query.after {
            sql.push_str(&format!(" AND (created_at, {idc}) < (?, ?)"));
            values.push(time(self.engine, after.created_at)?);
            values.push(id(after.id.as_uuid()));
        }
        if let Some(g) = filter {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM connection_groups f \
                 WHERE f.org_id = ? AND f.group_id = ? AND f.connection_id = {table}.{idc})"
            ));
            values.push(id(query.org_id.as_uuid()));
            values.push(id(g.as_uuid()));
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, {idc} DESC LIMIT ?"));
        values.push(count(query.limit)?);
        Ok(sql)
    }

    async fn select_api_keys(&self, filter: &str, values: Vec<Value>) -> R<Vec<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys {filter}");
        self.query_all(&sql, values).await?.iter().map(|row| self.api_key_from_row(row)).collect()
    }

    fn api_key_from_row(&self, row: &QueryResult) -> R<ApiKey> {
        Ok(ApiKey {
            id: get_id(row, "id", ApiKeyId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            name: get_parsed(row, "name")?,
            group_id: get::<Option<Uuid>>(row, "group_id")?.map(GroupId::from_uuid),
            permissions: get_json(self.engine, row, "permissions")?,
            created_by: get_id(row, "created_by", UserId::from_uuid)?,
            secret_hash: get(row, "secret_hash")?,
            created_at: get_time(self.engine, row, "created_at")?,
            last_used_at: get_opt_time(self.engine, row, "last_used_at")?,
            revoked_at: get_opt_time(self.engine, row, "revoked_at")?,
        })
    }

    /// The columns every write of a key sets, in [`API_KEY_COLUMNS`] order after `org_id, id`.
    fn api_key_values(&self, key: &ApiKey) -> R<Vec<Value>> {
        Ok(vec![
            text(&key.name),
            opt_id(key.group_id.as_ref().map(GroupId::as_uuid)),
            json(self.engine, &key.permissions)?,
            id(key.created_by.as_uuid()),
            key.secret_hash.clone().into(),
            time(self.engine, key.created_at)?,
            opt_time(self.engine, key.last_used_at)?,
            opt_time(self.engine, key.revoked_at)?,
        ])
    }

    /// Inserts `(org_id, member, connection_id, created_at)` rows into `table`, [`CHUNK`] rows per
    /// statement.
    async fn insert_set_rows(&self, table: &str, member: &str, connection: &Connection, members: &[Uuid]) -> R<()> {
        let created_at = time(self.engine, connection.created_at)?;
        for chunk in members.chunks(CHUNK) {
            let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!("INSERT INTO {table} (org_id, {member}, connection_id, created_at) VALUES {rows}");
            let values = chunk
                .iter()
                .flat_map(|m| {
                    [id(connection.org_id.as_uuid()), id(*m), id(connection.id.as_uuid()), created_at.clone()]
                })
                .collect();
            self.exec(&sql, values).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ConnectionRepository for SeaOrmTx {
    async fn insert_connection(&mut self, connection: &Connection) -> R<()> {
        let values = vec![
            id(connection.org_id.as_uuid()),
            id(connection.id.as_uuid()),
            text(&connection.email),
            text(&connection.name),
            opt_id(connection.flow_id.as_ref().map(FlowId::as_uuid)),
            id(connection.inviter_id.as_uuid()),
            opt_id(connection.via_api_key.as_ref().map(ApiKeyId::as_uuid)),
            connection.user_token_hash.clone().into(),
            time(self.engine, connection.created_at)?,
        ];
        let sql = format!("INSERT INTO connections ({CONNECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        // The one foreign key is the inviter, in the same organization; a refused row leaves no
        // stamp or cc behind (they are written after it, and cannot fail).
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        let groups: Vec<Uuid> = connection.groups.iter().map(GroupId::as_uuid).collect();
        self.insert_set_rows("connection_groups", "group_id", connection, &groups).await?;
        let cc: Vec<Uuid> = connection.cc.iter().map(UserId::as_uuid).collect();
        self.insert_set_rows("connection_cc", "user_id", connection, &cc).await?;
        Ok(())
    }

    async fn insert_connections(&mut self, connections: &[Connection]) -> R<()> {
        let mut rows = Vec::with_capacity(connections.len() * 9);
        let (mut stamps, mut cc) = (Vec::new(), Vec::new());
        for c in connections {
            let (org_id, connection_id) = (id(c.org_id.as_uuid()), id(c.id.as_uuid()));
            let created_at = time(self.engine, c.created_at)?;
            rows.extend([
                org_id.clone(),
                connection_id.clone(),
                text(&c.email),
                text(&c.name),
                opt_id(c.flow_id.as_ref().map(FlowId::as_uuid)),
                id(c.inviter_id.as_uuid()),
                opt_id(c.via_api_key.as_ref().map(ApiKeyId::as_uuid)),
                c.user_token_hash.clone().into(),
                created_at.clone(),
            ]);
            for g in &c.groups {
                stamps.extend([org_id.clone(), id(g.as_uuid()), connection_id.clone(), created_at.clone()]);
            }
            for u in &c.cc {
                cc.extend([org_id.clone(), id(u.as_uuid()), connection_id.clone(), created_at.clone()]);
            }
        }
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "connections", CONNECTION_COLUMNS, "(?, ?, ?, ?, ?, ?, ?, ?, ?)", rows);
        let set_columns = |member: &str| format!("org_id, {member}, connection_id, created_at");
        self.push_rows(&mut batch, "connection_groups", &set_columns("group_id"), "(?, ?, ?, ?)", stamps);
        self.push_rows(&mut batch, "connection_cc", &set_columns("user_id"), "(?, ?, ?, ?)", cc);
        // The one foreign key that can fail is an inviter's, in the same organization.
        self.run_batch(batch).await.map_err(|e| errors::write_error(e, "user"))
    }

    async fn connection(&mut self, org: OrgId, connection: ConnectionId) -> R<Option<Connection>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE org_id = ? AND id = ?");
        let Some(row) = self.query_one(&sql, vec![id(org.as_uuid()), id(connection.as_uuid())]).await? else {
            return Ok(None);
        };
        let found = self.connection_from_row(&row)?;
        Ok(self.with_sets(org, vec![found]).await?.pop())
    }

    async fn list_connections(&mut self, query: &ConnectionQuery) -> R<Vec<Connection>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let (branches, filter) = branches(query);
        let mut values = Vec::new();
        let mut parts = Vec::with_capacity(branches.len());
        for (k, branch) in branches.into_iter().enumerate() {
            let inner = self.branch_sql(branch, query, filter, &mut values)?;
            parts.push(format!("SELECT connection_id, created_at FROM ({inner}) AS b{k}"));
        }
        let union = parts.join(" UNION ");
        let columns = CONNECTION_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {columns} FROM ({union}) AS page \
             JOIN connections c ON c.org_id = ? AND c.id = page.connection_id \
             ORDER BY page.created_at DESC, page.connection_id DESC LIMIT ?"
        );
        values.push(id(query.org_id.as_uuid()));
        values.push(count(query.limit)?);
        let rows = self.query_all(&sql, values).await?;
        let page = rows.iter().map(|row| self.connection_from_row(row)).collect::<R<Vec<_>>>()?;
        if page.is_empty() {
            return Ok(page);
        }
        self.with_sets(query.org_id, page).await
    }

    async fn restamp_unstamped(&mut self, org: OrgId, inviter: UserId, group: GroupId) -> R<u64> {
        let sql = "INSERT INTO connection_groups (org_id, group_id, connection_id, created_at) \
                   SELECT c.org_id, ?, c.id, c.created_at FROM connections c \
                   WHERE c.org_id = ? AND c.inviter_id = ? AND NOT EXISTS (SELECT 1 FROM connection_groups s \
                   WHERE s.org_id = c.org_id AND s.connection_id = c.id)";
        let values = vec![id(group.as_uuid()), id(org.as_uuid()), id(inviter.as_uuid())];
        Ok(self.exec(sql, values).await?.rows_affected())
    }

    async fn transfer_stamp(&mut self, org: OrgId, inviter: UserId, from: GroupId, to: GroupId) -> R<u64> {
        let (org_id, inviter_id, from_id) = (id(org.as_uuid()), id(inviter.as_uuid()), id(from.as_uuid()));
        if from == to {
            // The stamp stays as it is; every connection holding it counts as changed, as in the
            // reference store.
            let sql = "SELECT COUNT(*) AS n FROM connection_groups s JOIN connections c \
                       ON c.org_id = s.org_id AND c.id = s.connection_id \
                       WHERE s.org_id = ? AND s.group_id = ? AND c.inviter_id = ?";
            let row = self
                .query_one(sql, vec![org_id, from_id, inviter_id])
                .await?
                .ok_or_else(|| corrupt("n", "COUNT(*) answered no row"))?;
            return get_unsigned(&row, "n");
        }
        // The new stamp first (a connection holding both keeps its `to` row), then the old one
        // goes: the rows deleted are the connections changed.
        let insert = "INSERT INTO connection_groups (org_id, group_id, connection_id, created_at) \
                      SELECT s.org_id, ?, s.connection_id, s.created_at FROM connection_groups s \
                      JOIN connections c ON c.org_id = s.org_id AND c.id = s.connection_id \
                      WHERE s.org_id = ? AND s.group_id = ? AND c.inviter_id = ? ON CONFLICT DO NOTHING";
        self.exec(insert, vec![id(to.as_uuid()), org_id.clone(), from_id.clone(), inviter_id.clone()]).await?;
        let delete = "DELETE FROM connection_groups WHERE org_id = ? AND group_id = ? AND connection_id IN \
                      (SELECT id FROM connections WHERE org_id = ? AND inviter_id = ?)";
        Ok(self.exec(delete, vec![org_id.clone(), from_id, org_id, inviter_id]).await?.rows_affected())
    }

    async fn flows(&mut self, org: OrgId) -> R<Vec<Flow>> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM flows WHERE org_id = ? ORDER BY id");
        let rows = self.query_all(&sql, vec![id(org.as_uuid())]).await?;
        rows.iter()
            .map(|row| {
                Ok(Flow {
                    id: get_id(row, "id", FlowId::from_uuid)?,
                    org_id: get_id(row, "org_id", OrgId::from_uuid)?,
                    name: get_parsed(row, "name")?,
                    created_at: get_time(self.engine, row, "created_at")?,
                })
            })
            .collect()
    }

    async fn insert_flow(&mut self, flow: &Flow) -> R<()> {
        let values = vec![
            id(flow.org_id.as_uuid()),
            id(flow.id.as_uuid()),
            text(&flow.name),
            time(self.engine, flow.created_at)?,
        ];
        let sql = format!("INSERT INTO flows ({FLOW_COLUMNS}) VALUES (?, ?, ?, ?)");
        // No foreign key: only a duplicate id can be refused (`Unavailable`, as in the reference).
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "flow"))?;
        Ok(())
    }

    async fn api_keys(&mut self, org: OrgId) -> R<Vec<ApiKey>> {
        self.select_api_keys("WHERE org_id = ? ORDER BY id", vec![id(org.as_uuid())]).await
    }

    async fn api_key(&mut self, org: OrgId, key: ApiKeyId) -> R<Option<ApiKey>> {
        Ok(self.select_api_keys("WHERE org_id = ? AND id = ?", vec![id(org.as_uuid()), id(key.as_uuid())]).await?.pop())
    }

    async fn api_key_by_secret_hash(&mut self, hash: &str) -> R<Option<ApiKey>> {
        // Any organization, revoked keys included (secret hashes are unique).
        Ok(self.select_api_keys("WHERE secret_hash = ?", vec![hash.to_owned().into()]).await?.pop())
    }

    async fn insert_api_key(&mut self, key: &ApiKey) -> R<()> {
        let mut values = vec![id(key.org_id.as_uuid()), id(key.id.as_uuid())];
        values.extend(self.api_key_values(key)?);
        let sql = format!("INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        // The one foreign key is the creator, in the same organization.
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        Ok(())
    }

    async fn touch_api_key(&mut self, org: OrgId, id: ApiKeyId, at: ::time::OffsetDateTime) -> R<()> {
        let sql = "UPDATE api_keys SET last_used_at = ? WHERE org_id = ? AND id = ?";
        let values = vec![time(self.engine, at)?, super::convert::id(org.as_uuid()), super::convert::id(id.as_uuid())];
        self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "api key"))?;
        Ok(())
    }

    async fn update_api_key(&mut self, key: &ApiKey) -> R<()> {
        let mut values = self.api_key_values(key)?;
        values.extend([id(key.org_id.as_uuid()), id(key.id.as_uuid())]);
        let sql = "UPDATE api_keys SET name = ?, group_id = ?, permissions = ?, created_by = ?, secret_hash = ?, \
                   created_at = ?, last_used_at = ?, revoked_at = ? WHERE org_id = ? AND id = ?";
        let done = self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        if done.rows_affected() == 0 {
            return Err(MISSING_API_KEY);
        }
        Ok(())
    }
}
