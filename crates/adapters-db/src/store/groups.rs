//! [`GroupRepository`]: the group tree, memberships with their history, and group flows.
//!
//! `groups.name_key` is [`GroupName::key`](roster_domain::values::GroupName::key) (the Unicode
//! lower-case name), written here with every insert and update: the unique index
//! `groups_sibling_name_uq` over live siblings compares it, since neither engine's `lower()`
//! folds beyond ASCII (`docs/decisions/0009-schema.md`).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{FlowId, GroupId, OrgId, UserId};
use roster_domain::ports::{GroupRepository, StoreError};
use sea_orm::{QueryResult, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::SeaOrmTx;
use super::batch::Batch;
use super::convert::{
    corrupt, count, get, get_id, get_opt_time, get_parsed, get_time, get_unsigned, id, opt_time, text, time,
};
use super::errors;

type R<T> = Result<T, StoreError>;

const GROUP_COLUMNS: &str = "org_id, id, parent_id, name, name_key, depth, deleted_at, created_at, version";

const MEMBERSHIP_COLUMNS: &str = "org_id, group_id, user_id, joined_at, left_at";

const MISSING_GROUP: StoreError = StoreError::Missing { kind: "group" };

/// An optional id parameter (`NULL` typed as a `uuid`).
fn opt_id(uuid: Option<Uuid>) -> Value {
    uuid.into()
}

impl SeaOrmTx {
    fn group_from_row(&self, row: &QueryResult) -> R<Group> {
        let depth = get::<i16>(row, "depth")?;
        Ok(Group {
            id: get_id(row, "id", GroupId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            parent_id: get::<Option<Uuid>>(row, "parent_id")?.map(GroupId::from_uuid),
            name: get_parsed(row, "name")?,
            depth: u8::try_from(depth).map_err(|e| corrupt("depth", e))?,
            deleted_at: get_opt_time(self.engine, row, "deleted_at")?,
            created_at: get_time(self.engine, row, "created_at")?,
            version: get_unsigned(row, "version")?,
        })
    }

    /// The columns every write of a group sets, in [`GROUP_COLUMNS`] order after `org_id, id`.
    fn group_values(&self, group: &Group) -> R<Vec<Value>> {
        Ok(vec![
            opt_id(group.parent_id.as_ref().map(GroupId::as_uuid)),
            text(&group.name),
            group.name.key().into(),
            Value::SmallInt(Some(i16::from(group.depth))),
            opt_time(self.engine, group.deleted_at)?,
            time(self.engine, group.created_at)?,
            count(group.version)?,
        ])
    }

    async fn group_exists(&self, org: OrgId, group: GroupId) -> R<bool> {
        let sql = "SELECT 1 AS one FROM groups WHERE org_id = ? AND id = ?";
        Ok(self.query_one(sql, vec![id(org.as_uuid()), id(group.as_uuid())]).await?.is_some())
    }

    fn membership_from_row(&self, row: &QueryResult) -> R<Membership> {
        Ok(Membership {
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            group_id: get_id(row, "group_id", GroupId::from_uuid)?,
            user_id: get_id(row, "user_id", UserId::from_uuid)?,
            joined_at: get_time(self.engine, row, "joined_at")?,
            left_at: get_opt_time(self.engine, row, "left_at")?,
        })
    }
}

#[async_trait]
impl GroupRepository for SeaOrmTx {
    async fn groups(&mut self, org: OrgId) -> R<Vec<Group>> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE org_id = ? ORDER BY id");
        self.query_all(&sql, vec![id(org.as_uuid())]).await?.iter().map(|row| self.group_from_row(row)).collect()
    }

    async fn groups_version(&mut self, org: OrgId) -> R<u64> {
        // Kept by the triggers on `groups` (migration `m20261206_000008_groups_version`).
        let row =
            self.query_one("SELECT groups_version FROM organizations WHERE id = ?", vec![id(org.as_uuid())]).await?;
        // An unknown organization has no groups: nothing to cache, and nothing stale either.
        row.map_or(Ok(0), |row| get_unsigned(&row, "groups_version"))
    }

    async fn insert_group(&mut self, group: &Group) -> R<()> {
        let mut values = vec![id(group.org_id.as_uuid()), id(group.id.as_uuid())];
        values.extend(self.group_values(group)?);
        let sql = format!("INSERT INTO groups ({GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        // The only foreign key is the parent, in the same organization. A missing parent has no
        // children, so a name clash and a missing parent never come together.
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "group"))?;
        Ok(())
    }

    async fn update_group(&mut self, group: &Group) -> R<()> {
        // Version 0 never matches a row (the schema keeps versions >= 1): stale, or missing.
        let previous = group.version.saturating_sub(1);
        let mut values = self.group_values(group)?;
        values.extend([id(group.org_id.as_uuid()), id(group.id.as_uuid()), count(previous)?]);
        let sql = "UPDATE groups SET parent_id = ?, name = ?, name_key = ?, depth = ?, deleted_at = ?, \
                   created_at = ?, version = ? WHERE org_id = ? AND id = ? AND version = ?";
        // A stale or missing group matches no row, so its checks come first, as in the reference
        // store; then a missing new parent (the foreign key) or a live namesake (the index).
        let done = self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "group"))?;
        if done.rows_affected() == 0 {
            return Err(if self.group_exists(group.org_id, group.id).await? {
                StoreError::StaleVersion { kind: "group" }
            } else {
                MISSING_GROUP
            });
        }
        Ok(())
    }

    async fn memberships_of(&mut self, org: OrgId, user: UserId) -> R<Vec<Membership>> {
        // "No particular order": insertion order, as the reference store answers.
        let sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE org_id = ? AND user_id = ? ORDER BY id");
        let rows = self.query_all(&sql, vec![id(org.as_uuid()), id(user.as_uuid())]).await?;
        rows.iter().map(|row| self.membership_from_row(row)).collect()
    }

    async fn current_members(&mut self, org: OrgId, group: GroupId) -> R<Vec<UserId>> {
        let sql = "SELECT DISTINCT user_id FROM memberships \
                   WHERE org_id = ? AND group_id = ? AND left_at IS NULL ORDER BY user_id";
        let rows = self.query_all(sql, vec![id(org.as_uuid()), id(group.as_uuid())]).await?;
        rows.iter().map(|row| get_id(row, "user_id", UserId::from_uuid)).collect()
    }

    async fn insert_membership(&mut self, membership: &Membership) -> R<()> {
        let values = vec![
            id(membership.org_id.as_uuid()),
            id(membership.group_id.as_uuid()),
            id(membership.user_id.as_uuid()),
            time(self.engine, membership.joined_at)?,
            opt_time(self.engine, membership.left_at)?,
        ];
        let sql = format!("INSERT INTO memberships ({MEMBERSHIP_COLUMNS}) VALUES (?, ?, ?, ?, ?)");
        match self.exec_guarded(&sql, values).await {
            Ok(_) => Ok(()),
            // Two foreign keys, and SQLite does not say which failed: the group is looked up
            // (the reference store checks it first, so it is named when both are missing).
            Err(e) if errors::is_foreign_key(&e) => {
                Err(if self.group_exists(membership.org_id, membership.group_id).await? {
                    StoreError::Missing { kind: "user" }
                } else {
                    MISSING_GROUP
                })
            }
            Err(e) => Err(errors::write_error(e, "group")),
        }
    }

    async fn insert_memberships(&mut self, memberships: &[Membership]) -> R<()> {
        let mut values = Vec::with_capacity(memberships.len() * 5);
        for m in memberships {
            values.extend([
                id(m.org_id.as_uuid()),
                id(m.group_id.as_uuid()),
                id(m.user_id.as_uuid()),
                time(self.engine, m.joined_at)?,
                opt_time(self.engine, m.left_at)?,
            ]);
        }
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "memberships", MEMBERSHIP_COLUMNS, "(?, ?, ?, ?, ?)", values);
        match self.run_batch(batch).await {
            Ok(()) => Ok(()),
            // As for one membership: a missing group is named before a missing user, each
            // distinct group looked up only after the batch was refused.
            Err(e) if errors::is_foreign_key(&e) => {
                let groups: BTreeSet<(OrgId, GroupId)> = memberships.iter().map(|m| (m.org_id, m.group_id)).collect();
                for (org, group) in groups {
                    if !self.group_exists(org, group).await? {
                        return Err(MISSING_GROUP);
                    }
                }
                Err(StoreError::Missing { kind: "user" })
            }
            Err(e) => Err(errors::write_error(e, "group")),
        }
    }

    async fn end_membership(&mut self, org: OrgId, group: GroupId, user: UserId, at: OffsetDateTime) -> R<bool> {
        let sql = "UPDATE memberships SET left_at = ? \
                   WHERE org_id = ? AND group_id = ? AND user_id = ? AND left_at IS NULL";
        let values = vec![time(self.engine, at)?, id(org.as_uuid()), id(group.as_uuid()), id(user.as_uuid())];
        Ok(self.exec(sql, values).await?.rows_affected() > 0)
    }

    async fn group_flows(&mut self, org: OrgId) -> R<BTreeMap<GroupId, BTreeSet<FlowId>>> {
        let sql = "SELECT group_id, flow_id FROM group_flows WHERE org_id = ? ORDER BY group_id, flow_id";
        let mut out: BTreeMap<GroupId, BTreeSet<FlowId>> = BTreeMap::new();
        for row in &self.query_all(sql, vec![id(org.as_uuid())]).await? {
            let group = get_id(row, "group_id", GroupId::from_uuid)?;
            out.entry(group).or_default().insert(get_id(row, "flow_id", FlowId::from_uuid)?);
        }
        Ok(out)
    }

    async fn set_group_flows(&mut self, org: OrgId, group: GroupId, flows: &BTreeSet<FlowId>) -> R<()> {
        let org_id = id(org.as_uuid());
        // Everything is checked before the first write, so a refusal changes nothing (groups and
        // flows are never deleted, so the checks cannot go stale before the writes).
        if !self.group_exists(org, group).await? {
            return Err(MISSING_GROUP);
        }
        if !flows.is_empty() {
            let marks = vec!["?"; flows.len()].join(", ");
            let sql = format!("SELECT COUNT(*) AS n FROM flows WHERE org_id = ? AND id IN ({marks})");
            let mut values = vec![org_id.clone()];
            values.extend(flows.iter().map(|f| id(f.as_uuid())));
            let row = self.query_one(&sql, values).await?.ok_or_else(|| corrupt("n", "COUNT(*) answered no row"))?;
            let found = get_unsigned::<usize>(&row, "n")?;
            if found != flows.len() {
                return Err(StoreError::Missing { kind: "flow" });
            }
        }
        let group_id = id(group.as_uuid());
        self.exec("DELETE FROM group_flows WHERE org_id = ? AND group_id = ?", vec![org_id.clone(), group_id.clone()])
            .await?;
        if !flows.is_empty() {
            let rows = vec!["(?, ?, ?)"; flows.len()].join(", ");
            let values = flows.iter().flat_map(|f| [org_id.clone(), group_id.clone(), id(f.as_uuid())]).collect();
            self.exec(&format!("INSERT INTO group_flows (org_id, group_id, flow_id) VALUES {rows}"), values).await?;
        }
        Ok(())
    }
}
