//! [`UserRepository`]: users with their role grants and group access, password hashes, and the
//! Users-table query (§10) as one SQL statement per page (plus a `COUNT(*)` for page numbers).
//!
//! The `*_sort` columns and `search_text` are written here with every insert and update, from
//! the Unicode lower-case forms (`str::to_lowercase`) the reference semantics compare
//! (`users_query.rs`; `docs/decisions/0009-schema.md`): an absent agent or CRM id sorts as `''`.
//! The status filter is the `OR` of 0009's predicates over the lifecycle facts, with the trial and
//! the core key as literals and `core` as an `EXISTS` probe into `licenses`.
//!
//! Every sort column (`UserSortField`) is one SQL expression ([`SeaOrmTx::sort_column`]): a
//! stored column where the row holds the value, a correlated subquery where another table does
//! (the status's `CASE` over the facts, an ordered aggregate for a list). A keyset page compares
//! the expressions with the cursor's values as a row value, so the column's SQL order must be
//! exactly the domain's (`docs/decisions/0035-sorting-any-column.md`); the contract suite checks
//! it for every column in both directions.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use roster_domain::catalog::Catalog;
use roster_domain::ids::{GroupId, OrgId, RoleId, UserId};
use roster_domain::ports::{AuthorityFacts, PasswordHash, StoreError, UserLookup, UserRepository};
use roster_domain::roles::RoleGrant;
use roster_domain::user::{
    CallRecording, DirectoryAttributes, Homepage, InactiveReason, Lifecycle, MailboxProvider, StatusKind, User,
    UserSettings,
};
use roster_domain::user_filter::{TextOp, TimeOp, UserFilter, UserTextField, UserTimeField};
use roster_domain::users_query::{
    LIST_ITEM_END, RoleFilter, SortFacts, SortValue, UserCursor, UserPage, UserPageFacts, UserPaging, UserQuery,
    UserSort, UserSortField, list_sort_text, status_rank,
};
use roster_domain::values::{CrmId, Email, Key, Phone};
use sea_orm::{QueryResult, Value};
use uuid::Uuid;

use super::SeaOrmTx;
use super::batch::Batch;
use super::convert::{
    corrupt, count, get, get_id, get_json, get_opt_time, get_parsed, get_time, get_unsigned, id, json, opt_time,
    org_and_id_lists, text, time,
};
use super::errors;
use crate::Engine;

type R<T> = Result<T, StoreError>;

const USER_COLUMNS: &str = "org_id, id, email, first_name, last_name, phone, nicknames, crm_id, agent_id, \
    agent_ring_number, dialer_number, extra_permissions, mailbox_provider, email_throttle_max_per_day, \
    flow_enabled, email_sync, calendar_sync, call_recording, homepage, round_robin, scoring_enabled, \
    roaming_agent, voip_forward_to, deactivated_at, deleted_at, invited, inactive_reasons, ever_held_core, \
    crm_connected, mailbox_connected, has_password, first_name_sort, last_name_sort, agent_id_sort, \
    crm_id_sort, search_text, external_id, title, employee_number, cost_center, organization, division, \
    department, manager_id, created_at, updated_at, version";

/// The same columns qualified with the alias `u`.
fn user_columns_u() -> String {
    USER_COLUMNS.split(',').map(|c| format!("u.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

const MISSING_USER: StoreError = StoreError::Missing { kind: "user" };

/// Ids per `IN (…)` list, well under every engine's parameter limit.
const CHUNK: usize = 500;

/// The items of a `,`-separated aggregate (`None`: no rows were aggregated).
fn split_list(list: Option<&str>) -> impl Iterator<Item = &str> {
    list.into_iter().flat_map(|l| l.split(',')).filter(|item| !item.is_empty())
}

/// An id written by `hex()` (SQLite) or `::text` (PostgreSQL) in an aggregate.
fn parse_uuid(column: &str, value: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(value).map_err(|_| corrupt(column, value))
}

/// A comma-separated aggregate of group ids (`open_groups`).
fn group_list(row: &QueryResult, column: &str) -> Result<BTreeSet<GroupId>, StoreError> {
    split_list(get::<Option<String>>(row, column)?.as_deref())
        .map(|g| parse_uuid(column, g).map(GroupId::from_uuid))
        .collect()
}

/// Separates the parts of `search_text`; no searchable value can contain it.
const SEARCH_SEPARATOR: char = '\u{1f}';

/// The bit of each system reason in `inactive_reasons` (fixed by the migration).
fn reason_bit(reason: InactiveReason) -> i64 {
    match reason {
        InactiveReason::InactiveInCrm => 1,
        InactiveReason::InactiveInMailbox => 2,
        InactiveReason::AccountFailure => 4,
        InactiveReason::PackageExpired => 8,
        InactiveReason::NoLicense => 16,
    }
}

const REASONS: [InactiveReason; 5] = [
    InactiveReason::InactiveInCrm,
    InactiveReason::InactiveInMailbox,
    InactiveReason::AccountFailure,
    InactiveReason::PackageExpired,
    InactiveReason::NoLicense,
];

fn mailbox_text(p: MailboxProvider) -> &'static str {
    match p {
        MailboxProvider::None => "none",
        MailboxProvider::Google => "google",
        MailboxProvider::Microsoft => "microsoft",
    }
}

fn call_recording_text(c: CallRecording) -> &'static str {
    match c {
        CallRecording::Optional => "optional",
        CallRecording::Enforced => "enforced",
        CallRecording::Disabled => "disabled",
    }
}

fn homepage_text(h: Homepage) -> &'static str {
    match h {
        Homepage::Default => "default",
        Homepage::Leads => "leads",
    }
}

fn opt_text<T: AsRef<str>>(value: Option<&T>) -> Value {
    value.map(|v| v.as_ref().to_owned()).into()
}

fn opt_parsed<T: std::str::FromStr>(row: &QueryResult, column: &str) -> R<Option<T>>
where
    T::Err: std::fmt::Display,
{
    get::<Option<String>>(row, column)?.map(|s| s.parse().map_err(|e| corrupt(column, e))).transpose()
}

/// What `search_text` holds: the lower-cased display name, email, nicknames, agent id, CRM id
/// and phone, joined by U+001F.
fn search_text(user: &User) -> String {
    let mut parts = vec![user.display_name().to_lowercase(), user.email.as_str().to_lowercase()];
    parts.extend(user.nicknames.into_iter().map(|n| n.as_str().to_lowercase()));
    parts.extend(user.agent_id.as_ref().map(|a| a.as_str().to_lowercase()));
    parts.extend(user.crm_id.as_ref().map(|c| c.as_str().to_lowercase()));
    parts.extend(user.phone.as_ref().map(|p| p.as_str().to_lowercase()));
    parts.join(&SEARCH_SEPARATOR.to_string())
}

/// `s` as a literal inside a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The end of an `EXISTS` whose subquery can match several rows of one user (a role granted with
/// several scopes, memberships in several groups of a scope): `LIMIT 1` keeps SQLite 3.51 from
/// turning it into a join. It did, and then counted a user matched twice twice in `OFFSET`: page
/// 2 of a scoped admin's Users table started two rows early (the contract suite's generated
/// queries found it; SQLite 3.40 answers right without it). PostgreSQL plans it as before.
const EXISTS_END: &str = " LIMIT 1)";

/// A statement under construction: text with `?` parameter markers and their values, in order.
#[derive(Default)]
struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn bind(&mut self, v: Value) -> &mut Self {
        self.text.push('?');
        self.values.push(v);
        self
    }
}

/// How a sort column's SQL values relate to [`SortValue`]s, for comparing them with a cursor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKind {
    /// Text that is never empty nor absent.
    Text,
    /// Text where an absent value is `''` (stored so, or by `COALESCE`): `Null` in the domain.
    TextOrAbsent,
    /// A time, never absent.
    Time,
    /// A time where an absent value is [`SeaOrmTx::time_floor`]: `Null` in the domain.
    TimeOrAbsent,
    /// A yes/no value.
    Bool,
    /// A number.
    Int,
    /// A list as [`list_sort_text`].
    List,
}

impl SortKind {
    /// The position of the variant the column's present values have in [`SortValue`]'s order.
    fn rank(self) -> u8 {
        match self {
            Self::Text | Self::TextOrAbsent => 1,
            Self::Time | Self::TimeOrAbsent => 2,
            Self::Bool => 3,
            Self::Int => 4,
            Self::List => 5,
        }
    }
}

/// The position of a value's variant in [`SortValue`]'s order.
fn value_rank(value: &SortValue) -> u8 {
    match value {
        SortValue::Null => 0,
        SortValue::Text(_) => 1,
        SortValue::Time(_) => 2,
        SortValue::Bool(_) => 3,
        SortValue::Int(_) => 4,
        SortValue::List(_) => 5,
    }
}

/// A sort column: its SQL expression over the alias `u`, and how its values compare.
struct SortColumn {
    expr: String,
    kind: SortKind,
    /// An expression (not a plain column) that an index serves: the keyset also bounds it
    /// alone (`expr >= ?`), since SQLite seeks an expression index only on a comparison of the
    /// expression itself, never inside a row value.
    seek: bool,
}

/// One component of the keyset comparison.
struct KeyPart {
    column: String,
    descending: bool,
    value: CursorValue,
}

/// A cursor's sort value as the keyset condition uses it.
enum CursorValue {
    /// The value in the column's representation.
    Bound(Value),
    /// The value as SQL text (the floor of a time column, which no bound value can be).
    Literal(String),
    /// A value of another type than the column's: every row compares to it as this
    /// (`SortValue`'s order: Null < Text < Time < Bool < Int < List).
    Const(Ordering),
    /// A value between the absent rows and the present ones (`Text("")` on a text column
    /// whose absent values are `''`, any text on a time column whose absent values are the
    /// floor): above every absent row, below every present one. Holds the absent rows' SQL.
    AboveAbsent(String),
}

impl SeaOrmTx {
    fn user_from_row(&self, row: &QueryResult) -> R<User> {
        let bits = get::<i64>(row, "inactive_reasons")?;
        let inactive_reasons = REASONS.into_iter().filter(|r| bits & reason_bit(*r) != 0).collect();
        let mailbox_provider = match get::<String>(row, "mailbox_provider")?.as_str() {
            "none" => MailboxProvider::None,
            "google" => MailboxProvider::Google,
            "microsoft" => MailboxProvider::Microsoft,
            other => return Err(corrupt("mailbox_provider", other)),
        };
        let call_recording = match get::<String>(row, "call_recording")?.as_str() {
            "optional" => CallRecording::Optional,
            "enforced" => CallRecording::Enforced,
            "disabled" => CallRecording::Disabled,
            other => return Err(corrupt("call_recording", other)),
        };
        let homepage = match get::<String>(row, "homepage")?.as_str() {
            "default" => Homepage::Default,
            "leads" => Homepage::Leads,
            other => return Err(corrupt("homepage", other)),
        };
        Ok(User {
            id: get_id(row, "id", UserId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            email: get_parsed(row, "email")?,
            first_name: get_parsed(row, "first_name")?,
            last_name: get_parsed(row, "last_name")?,
            phone: opt_parsed(row, "phone")?,
            nicknames: get_json(self.engine, row, "nicknames")?,
            crm_id: opt_parsed(row, "crm_id")?,
            agent_id: opt_parsed(row, "agent_id")?,
            agent_ring_number: opt_parsed(row, "agent_ring_number")?,
            dialer_number: opt_parsed(row, "dialer_number")?,
            roles: BTreeSet::new(),
            extra_permissions: get_json(self.engine, row, "extra_permissions")?,
            group_access: BTreeSet::new(),
            settings: UserSettings {
                mailbox_provider,
                email_throttle_max_per_day: get_unsigned(row, "email_throttle_max_per_day")?,
                flow_enabled: get(row, "flow_enabled")?,
                email_sync: get(row, "email_sync")?,
                calendar_sync: get(row, "calendar_sync")?,
                call_recording,
                homepage,
                round_robin: get(row, "round_robin")?,
                scoring_enabled: get(row, "scoring_enabled")?,
                roaming_agent: get(row, "roaming_agent")?,
                voip_forward_to: opt_parsed(row, "voip_forward_to")?,
            },
            lifecycle: Lifecycle {
                deactivated_at: get_opt_time(self.engine, row, "deactivated_at")?,
                deleted_at: get_opt_time(self.engine, row, "deleted_at")?,
                invited: get(row, "invited")?,
                inactive_reasons,
                ever_held_core: get(row, "ever_held_core")?,
                crm_connected: get(row, "crm_connected")?,
                mailbox_connected: get(row, "mailbox_connected")?,
            },
            directory: DirectoryAttributes {
                external_id: opt_parsed(row, "external_id")?,
                title: opt_parsed(row, "title")?,
                employee_number: opt_parsed(row, "employee_number")?,
                cost_center: opt_parsed(row, "cost_center")?,
                organization: opt_parsed(row, "organization")?,
                division: opt_parsed(row, "division")?,
                department: opt_parsed(row, "department")?,
                manager: opt_parsed(row, "manager_id")?,
            },
            has_password: get(row, "has_password")?,
            created_at: get_time(self.engine, row, "created_at")?,
            updated_at: get_time(self.engine, row, "updated_at")?,
            version: get_unsigned(row, "version")?,
        })
    }

    /// The columns every write of a user sets, in [`USER_COLUMNS`] order after `org_id, id`.
    fn user_values(&self, user: &User) -> R<Vec<Value>> {
        let s = &user.settings;
        let l = &user.lifecycle;
        let d = &user.directory;
        let bits: i64 = l.inactive_reasons.iter().map(|r| reason_bit(*r)).sum();
        Ok(vec![
            text(&user.email),
            text(&user.first_name),
            text(&user.last_name),
            opt_text(user.phone.as_ref()),
            json(self.engine, &user.nicknames)?,
            opt_text(user.crm_id.as_ref()),
            opt_text(user.agent_id.as_ref()),
            opt_text(user.agent_ring_number.as_ref()),
            opt_text(user.dialer_number.as_ref()),
            json(self.engine, &user.extra_permissions)?,
            mailbox_text(s.mailbox_provider).into(),
            count(s.email_throttle_max_per_day)?,
            s.flow_enabled.into(),
            s.email_sync.into(),
            s.calendar_sync.into(),
            call_recording_text(s.call_recording).into(),
            homepage_text(s.homepage).into(),
            s.round_robin.into(),
            s.scoring_enabled.into(),
            s.roaming_agent.into(),
            opt_text(s.voip_forward_to.as_ref()),
            opt_time(self.engine, l.deactivated_at)?,
            opt_time(self.engine, l.deleted_at)?,
            l.invited.into(),
            Value::BigInt(Some(bits)),
            l.ever_held_core.into(),
            l.crm_connected.into(),
            l.mailbox_connected.into(),
            user.has_password.into(),
            user.first_name.as_str().to_lowercase().into(),
            user.last_name.as_str().to_lowercase().into(),
            user.agent_id.as_ref().map_or_else(String::new, |a| a.as_str().to_lowercase()).into(),
            user.crm_id.as_ref().map_or_else(String::new, |c| c.as_str().to_lowercase()).into(),
            search_text(user).into(),
            opt_text(d.external_id.as_ref()),
            opt_text(d.title.as_ref()),
            opt_text(d.employee_number.as_ref()),
            opt_text(d.cost_center.as_ref()),
            opt_text(d.organization.as_ref()),
            opt_text(d.division.as_ref()),
            opt_text(d.department.as_ref()),
            opt_text(d.manager.as_ref()),
            time(self.engine, user.created_at)?,
            time(self.engine, user.updated_at)?,
            count(user.version)?,
        ])
    }

    async fn user_exists(&self, org: OrgId, user: UserId) -> R<bool> {
        let sql = "SELECT 1 AS one FROM users WHERE org_id = ? AND id = ?";
        Ok(self.query_one(sql, vec![id(org.as_uuid()), id(user.as_uuid())]).await?.is_some())
    }

    /// Replaces the user's role grants and group access with the user's.
    async fn write_children(&self, user: &User, replace: bool) -> R<()> {
        let org_id = id(user.org_id.as_uuid());
        let user_id = id(user.id.as_uuid());
        if replace {
            let keys = vec![org_id.clone(), user_id.clone()];
            self.exec("DELETE FROM user_roles WHERE org_id = ? AND user_id = ?", keys.clone()).await?;
            self.exec("DELETE FROM user_group_access WHERE org_id = ? AND user_id = ?", keys).await?;
        }
        if !user.roles.is_empty() {
            let rows = vec!["(?, ?, ?, ?)"; user.roles.len()].join(", ");
            let values = user
                .roles
                .iter()
                .flat_map(|g| {
                    let scope: Value = g.scope.as_ref().map(GroupId::as_uuid).into();
                    [org_id.clone(), user_id.clone(), id(g.role_id.as_uuid()), scope]
                })
                .collect();
            let sql = format!("INSERT INTO user_roles (org_id, user_id, role_id, scope_group_id) VALUES {rows}");
            self.exec(&sql, values).await?;
        }
        if !user.group_access.is_empty() {
            let rows = vec!["(?, ?, ?)"; user.group_access.len()].join(", ");
            let values =
                user.group_access.iter().flat_map(|g| [org_id.clone(), user_id.clone(), id(g.as_uuid())]).collect();
            let sql = format!("INSERT INTO user_group_access (org_id, user_id, group_id) VALUES {rows}");
            self.exec(&sql, values).await?;
        }
        Ok(())
    }

    /// The select list of a query that reads whole users (alias `u`): the user's columns and,
    /// aggregated by correlated subqueries, their role grants (`child_roles`: `role:scope`
    /// items) and extra group access (`child_access`), so that a page of users is one statement
    /// and one row per user rather than three statements (`docs/decisions/0022-…`).
    fn user_select(&self) -> String {
        let agg = self.list_agg();
        let text = |column: &str| self.id_text(column);
        format!(
            "{}, (SELECT {agg}({} || ':' || COALESCE({}, ''), ',') FROM user_roles r \
             WHERE r.org_id = u.org_id AND r.user_id = u.id) AS child_roles, \
             (SELECT {agg}({}, ',') FROM user_group_access a WHERE a.org_id = u.org_id AND a.user_id = u.id) \
             AS child_access",
            user_columns_u(),
            text("r.role_id"),
            text("r.scope_group_id"),
            text("a.group_id"),
        )
    }

    /// The engine's string aggregate (`agg(value, ',')`).
    fn list_agg(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "group_concat",
            Engine::Postgres => "string_agg",
        }
    }

    /// An id column as text that [`parse_uuid`] reads back.
    fn id_text(&self, column: &str) -> String {
        match self.engine {
            Engine::Sqlite => format!("hex({column})"),
            Engine::Postgres => format!("{column}::text"),
        }
    }

    /// Users read by a query whose select list is [`SeaOrmTx::user_select`], in the rows' order.
    async fn select_users(&self, sql: &str, values: Vec<Value>) -> R<Vec<User>> {
        let rows = self.query_all(sql, values).await?;
        rows.iter().map(|row| self.user_with_children(row)).collect()
    }

    /// A user read with [`SeaOrmTx::user_select`]'s columns.
    fn user_with_children(&self, row: &QueryResult) -> R<User> {
        let mut user = self.user_from_row(row)?;
        for item in split_list(get::<Option<String>>(row, "child_roles")?.as_deref()) {
            let (role, scope) = item.split_once(':').ok_or_else(|| corrupt("child_roles", item))?;
            let scope =
                if scope.is_empty() { None } else { Some(GroupId::from_uuid(parse_uuid("child_roles", scope)?)) };
            user.roles.insert(RoleGrant { role_id: RoleId::from_uuid(parse_uuid("child_roles", role)?), scope });
        }
        for item in split_list(get::<Option<String>>(row, "child_access")?.as_deref()) {
            user.group_access.insert(GroupId::from_uuid(parse_uuid("child_access", item)?));
        }
        Ok(user)
    }

    /// The aggregate (alias `open_groups`) of the groups of user `u`'s open memberships.
    fn open_groups_select(&self) -> String {
        format!(
            "(SELECT {}({}, ',') FROM memberships m WHERE m.org_id = u.org_id AND m.user_id = u.id \
             AND m.left_at IS NULL) AS open_groups",
            self.list_agg(),
            self.id_text("m.group_id")
        )
    }

    /// [`Store::authority`] in one statement: the user with their children, their open
    /// memberships' groups and the organization's two versions, on one row.
    ///
    /// [`Store::authority`]: roster_domain::ports::Store::authority
    pub(super) async fn authority(&self, org: OrgId, user: UserId) -> R<Option<AuthorityFacts>> {
        let sql = format!(
            "SELECT {}, {}, o.groups_version, o.roles_version \
             FROM users u JOIN organizations o ON o.id = u.org_id WHERE u.org_id = ? AND u.id = ?",
            self.user_select(),
            self.open_groups_select()
        );
        let Some(row) = self.query_one(&sql, vec![id(org.as_uuid()), id(user.as_uuid())]).await? else {
            return Ok(None);
        };
        Ok(Some(AuthorityFacts {
            user: self.user_with_children(&row)?,
            open_groups: group_list(&row, "open_groups")?,
            groups_version: get_unsigned(&row, "groups_version")?,
            roles_version: get_unsigned(&row, "roles_version")?,
        }))
    }

    /// The Users-table query; with `facts`, each row also carries its [`UserPageFacts`] (the
    /// same aggregates as `page_facts`), in the page's order.
    ///
    /// A page by number is a deferred join: the filtered, sorted ids are skipped and limited
    /// first, and only the page's rows are joined back to read their columns and aggregates.
    /// PostgreSQL computes a select list (with its correlated subqueries) for every row that
    /// `OFFSET` skips, so the one-level form read the children of half a million users at
    /// page 10,000 (ADR 0024).
    async fn select_page(&self, query: &UserQuery, facts: bool) -> R<(UserPage, Vec<UserPageFacts>)> {
        let sort = query.effective_sort();
        let columns: Vec<SortColumn> = sort.iter().map(|s| self.sort_column(&s.field, query.in_trial)).collect();
        let mut select =
            if facts { format!("{}, {}", self.user_select(), self.facts_select()) } else { self.user_select() };
        let direction = |descending: bool| if descending { " DESC, " } else { " ASC, " };
        // Walking back reads the rows before the cursor in the opposite order (every key turned,
        // the id too), nearest first, and turns the page around.
        let (keyed, back) = match &query.paging {
            Some(UserPaging::Cursor { after, limit }) => (Some((after.as_ref(), *limit)), false),
            Some(UserPaging::Before { before, limit }) => (Some((before.as_ref(), *limit)), true),
            _ => (None, false),
        };
        let mut order = String::from(" ORDER BY ");
        for (s, c) in sort.iter().zip(&columns) {
            order.push_str(&c.expr);
            order.push_str(direction(s.descending != back));
        }
        order.push_str(if back { "u.id DESC" } else { "u.id ASC" });
        let mut filtered = Sql::default();
        filtered.push(" FROM users u");
        self.user_filters(query, &mut filtered)?;
        let mut total_of = None;
        let sql = match &query.paging {
            None | Some(UserPaging::Cursor { .. } | UserPaging::Before { .. }) => {
                if keyed.is_some() {
                    // The cursors are the domain's sort keys of the page's first and last rows,
                    // from the rows and the facts they sort by.
                    select.push_str(&self.sort_facts_select(&sort));
                }
                let mut sql = Sql::default();
                sql.push("SELECT ").push(&select).push(&filtered.text);
                sql.values = filtered.values;
                if let Some((Some(cursor), _)) = keyed {
                    if let (Some(first), Some(value)) = (columns.first(), cursor.values.first())
                        && first.seek
                        && let CursorValue::Bound(v) = self.key_value(first.kind, value)?
                    {
                        let op = if sort[0].descending != back { " <= " } else { " >= " };
                        sql.push(" AND ").push(&first.expr).push(op).bind(v);
                    }
                    let mut parts = Vec::new();
                    for ((s, c), v) in sort.iter().zip(&columns).zip(&cursor.values) {
                        parts.push(KeyPart {
                            column: c.expr.clone(),
                            descending: s.descending != back,
                            value: self.key_value(c.kind, v)?,
                        });
                    }
                    parts.push(KeyPart {
                        column: "u.id".to_owned(),
                        descending: back,
                        value: CursorValue::Bound(id(cursor.id.as_uuid())),
                    });
                    Self::keyset(&mut sql, parts);
                }
                sql.push(&order);
                if let Some((_, n)) = keyed {
                    // The limit is written into the SQL, not bound: with `LIMIT $n` PostgreSQL
                    // costs a cached generic plan as if a tenth of the matching rows were wanted,
                    // judges it dearer than the custom plans and plans every execution afresh —
                    // and its custom plan for a search term it thinks rare is a parallel scan of
                    // the whole table (~160 ms at 1M users, where walking the sort's index takes
                    // ~10 ms). Measured by `cargo xtask bench db` (ADR 0024). It is a number.
                    sql.push(&format!(" LIMIT {}", u64::from(n) + 1));
                }
                sql
            }
            Some(paging @ (UserPaging::Page { .. } | UserPaging::Offset { .. })) => {
                // The inner statement also selects the sort values (`s0`, `s1`, …), so that the
                // outer one orders the page's rows by them without computing a fact column again.
                let (offset, per_page) = paging.window().unwrap_or((0, 0));
                let per_page = &per_page;
                let mut sql = Sql::default();
                sql.push("SELECT ").push(&select).push(" FROM (SELECT u.id");
                let mut outer = String::from(" ORDER BY ");
                for (k, (s, c)) in sort.iter().zip(&columns).enumerate() {
                    sql.push(&format!(", {} AS s{k}", c.expr));
                    outer.push_str(&format!("p.s{k}{}", direction(s.descending)));
                }
                outer.push_str("u.id ASC");
                sql.push(&filtered.text).push(&order);
                sql.values.clone_from(&filtered.values);
                sql.push(" LIMIT ").bind(count(u64::from(*per_page))?).push(" OFFSET ").bind(count(offset)?);
                sql.push(") p JOIN users u ON u.org_id = ")
                    .bind(id(query.org_id.as_uuid()))
                    .push(" AND u.id = p.id")
                    .push(&outer);
                total_of = Some(filtered);
                sql
            }
        };
        let rows = self.query_all(&sql.text, sql.values).await?;
        let mut items = rows.iter().map(|row| self.user_with_children(row)).collect::<R<Vec<_>>>()?;
        let mut page_facts =
            if facts { rows.iter().map(|row| self.facts_from_row(row)).collect::<R<Vec<_>>>()? } else { Vec::new() };
        let page = match keyed {
            None if query.paging.is_none() => UserPage { items, next_cursor: None, previous_cursor: None, total: None },
            Some((cursor, n)) => {
                let size = usize::try_from(n).unwrap_or(usize::MAX);
                let more = items.len() > size;
                items.truncate(size);
                page_facts.truncate(size);
                let cursor_at = |k: usize| -> R<UserCursor> {
                    let facts = self.sort_facts_from_row(&rows[k], &sort)?;
                    Ok(UserCursor { values: query.sort_key(&items[k], &facts), id: items[k].id })
                };
                // Read nearest first: the rows' last is the page's first.
                let (first, last) = match items.len() {
                    0 => (None, None),
                    len if back => (Some(cursor_at(len - 1)?), Some(cursor_at(0)?)),
                    len => (Some(cursor_at(0)?), Some(cursor_at(len - 1)?)),
                };
                if back {
                    items.reverse();
                    page_facts.reverse();
                }
                let (next_cursor, previous_cursor) = if back {
                    (last.filter(|_| cursor.is_some()), first.filter(|_| more))
                } else {
                    (last.filter(|_| more), first.filter(|_| cursor.is_some()))
                };
                UserPage { items, next_cursor, previous_cursor, total: None }
            }
            None => {
                let filtered = total_of.unwrap_or_default();
                let row = self
                    .query_one(&format!("SELECT COUNT(*) AS n{}", filtered.text), filtered.values)
                    .await?
                    .ok_or_else(|| corrupt("n", "COUNT(*) answered no row"))?;
                UserPage { items, next_cursor: None, previous_cursor: None, total: Some(get_unsigned(&row, "n")?) }
            }
        };
        Ok((page, page_facts))
    }

    /// The [`UserPageFacts`] aggregates of user `u` (aliases `products`, `open_groups`,
    /// `pending_scheduled`): one correlated subquery each on its table's `(org_id, user_id, …)` key.
    fn facts_select(&self) -> String {
        format!(
            "(SELECT {}(l.product, ',') FROM licenses l WHERE l.org_id = u.org_id AND l.user_id = u.id) \
             AS products, {}, \
             EXISTS (SELECT 1 FROM scheduled_changes c \
              WHERE c.org_id = u.org_id AND c.user_id = u.id AND c.state = 'pending') AS pending_scheduled",
            self.list_agg(),
            self.open_groups_select()
        )
    }

    /// The facts read with [`SeaOrmTx::facts_select`] beside the user's `id`.
    fn facts_from_row(&self, row: &QueryResult) -> R<UserPageFacts> {
        let products = split_list(get::<Option<String>>(row, "products")?.as_deref())
            .map(|p| Key::parse(p).map_err(|_| corrupt("products", p)))
            .collect::<R<_>>()?;
        Ok(UserPageFacts {
            user_id: get_id(row, "id", UserId::from_uuid)?,
            products,
            open_groups: group_list(row, "open_groups")?,
            pending_scheduled: get::<bool>(row, "pending_scheduled")?,
        })
    }

    /// The `WHERE` clause of the Users-table query (alias `u`), appended to `sql`.
    fn user_filters(&self, query: &UserQuery, sql: &mut Sql) -> R<()> {
        sql.push(" WHERE u.org_id = ").bind(id(query.org_id.as_uuid())).push(" AND u.deleted_at IS NULL");
        match query.role.as_ref().map(RoleFilter::id) {
            None => {}
            Some(Some(role)) => {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM user_roles r WHERE r.org_id = u.org_id AND r.user_id = u.id AND r.role_id = ",
                )
                .bind(id(role.as_uuid()))
                .push(EXISTS_END);
            }
            // The services resolve a key before the query comes here; one that did not names no
            // role id, so nothing matches (`UserQuery::matches_fields`).
            Some(None) => {
                sql.push(" AND 1 = 0");
            }
        }
        if let Some(from) = query.created_from {
            sql.push(" AND u.created_at >= ").bind(time(self.engine, from)?);
        }
        if let Some(to) = query.created_to {
            sql.push(" AND u.created_at < ").bind(time(self.engine, to)?);
        }
        if let Some(q) = &query.q {
            let q = q.trim().to_lowercase();
            if q.contains(SEARCH_SEPARATOR) {
                // No searchable value contains it, so nothing matches.
                sql.push(" AND 1 = 0");
            } else if !q.is_empty() {
                sql.push(" AND u.search_text LIKE ").bind(format!("%{}%", like_escape(&q)).into()).push(" ESCAPE '\\'");
            }
        }
        if !query.statuses.is_empty() {
            let core = Catalog::core_key();
            let member = "(u.deactivated_at IS NULL AND NOT u.invited)";
            let mut any = Vec::new();
            for status in &query.statuses {
                let mut p = Sql::default();
                // `entitled` = (trial OR holds core). The trial and the core key are written into
                // the SQL as literals, not bound: with a bound flag PostgreSQL's generic plan cannot
                // drop the `OR` and probes every Core license for every page (measured by
                // `cargo xtask bench db`: 16x the hand-written query). The key is a validated `Key`
                // (`[a-z][a-z0-9_]*`), so it cannot break out of the quotes.
                let in_trial = query.in_trial;
                let core_literal = format!("'{}'", core.as_str());
                let entitled = |p: &mut Sql| {
                    if in_trial {
                        p.push("(1 = 1)");
                    } else {
                        p.push(
                            "EXISTS (SELECT 1 FROM licenses l WHERE l.org_id = u.org_id AND l.user_id = u.id \
                             AND l.product = ",
                        )
                        .push(&core_literal)
                        .push(")");
                    }
                };
                match status {
                    StatusKind::Deleted => {
                        p.push("1 = 0");
                    }
                    StatusKind::Deactivated => {
                        p.push("u.deactivated_at IS NOT NULL");
                    }
                    StatusKind::Invited => {
                        p.push("(u.deactivated_at IS NULL AND u.invited)");
                    }
                    StatusKind::Inactive => {
                        p.push("(").push(member).push(" AND (u.inactive_reasons <> 0 OR NOT (");
                        entitled(&mut p);
                        p.push(" OR u.ever_held_core)))");
                    }
                    StatusKind::Revoked => {
                        p.push("(").push(member).push(" AND u.inactive_reasons = 0 AND NOT ");
                        entitled(&mut p);
                        p.push(" AND u.ever_held_core)");
                    }
                    StatusKind::Pending => {
                        p.push("(").push(member).push(" AND u.inactive_reasons = 0 AND ");
                        entitled(&mut p);
                        p.push(" AND NOT (u.crm_connected AND u.mailbox_connected))");
                    }
                    StatusKind::Active => {
                        p.push("(").push(member).push(" AND u.inactive_reasons = 0 AND ");
                        entitled(&mut p);
                        p.push(" AND u.crm_connected AND u.mailbox_connected)");
                    }
                }
                any.push(p);
            }
            sql.push(" AND (");
            for (i, p) in any.into_iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                sql.text.push_str(&p.text);
                sql.values.extend(p.values);
            }
            sql.push(")");
        }
        if let Some((product, held)) = &query.product {
            sql.push(if *held { " AND EXISTS" } else { " AND NOT EXISTS" })
                .push(" (SELECT 1 FROM licenses l WHERE l.org_id = u.org_id AND l.user_id = u.id AND l.product = ")
                .bind(text(product))
                .push(")");
        }
        if let Some(scope) = &query.within {
            Self::within_filter(scope, sql);
        }
        if let Some(filter) = &query.filter {
            sql.push(" AND ");
            self.user_filter_sql(filter, sql)?;
        }
        if let Some(group) = query.group {
            let same = match self.engine {
                Engine::Sqlite => "m.left_at IS g.deleted_at",
                Engine::Postgres => "m.left_at IS NOT DISTINCT FROM g.deleted_at",
            };
            sql.push(
                " AND EXISTS (SELECT 1 FROM groups g JOIN memberships m ON m.org_id = g.org_id AND m.group_id = g.id \
                 WHERE g.org_id = u.org_id AND g.id = ",
            )
            .bind(id(group.as_uuid()))
            .push(" AND m.user_id = u.id AND ")
            .push(same)
            .push(EXISTS_END);
        }
        Ok(())
    }

    /// A [`UserFilter`] as one parenthesised condition: text against the lower-case columns
    /// the reference compares (`user_filter.rs`), each comparison guarded so that an absent
    /// value is false and never `NULL` under a `NOT`.
    fn user_filter_sql(&self, filter: &UserFilter, sql: &mut Sql) -> R<()> {
        let column = |field: UserTextField| match field {
            UserTextField::Email => "u.email",
            UserTextField::FirstName => "u.first_name_sort",
            UserTextField::LastName => "u.last_name_sort",
            UserTextField::Phone => "u.phone",
        };
        match filter {
            UserFilter::Const(true) => {
                sql.push("(1 = 1)");
            }
            UserFilter::Const(false) => {
                sql.push("(1 = 0)");
            }
            UserFilter::Text { field, op, value } => {
                let col = column(*field);
                sql.push("(").push(col).push(" IS NOT NULL AND ").push(col);
                let like = |sql: &mut Sql, pattern: String| {
                    sql.push(" LIKE ").bind(pattern.into()).push(" ESCAPE '\\'");
                };
                let range = |sql: &mut Sql, op: &str| {
                    if matches!(self.engine, Engine::Postgres) {
                        sql.push(" COLLATE \"C\"");
                    }
                    sql.push(op).bind(value.clone().into());
                };
                match op {
                    TextOp::Eq => {
                        sql.push(" = ").bind(value.clone().into());
                    }
                    TextOp::Contains => like(sql, format!("%{}%", like_escape(value))),
                    TextOp::StartsWith => like(sql, format!("{}%", like_escape(value))),
                    TextOp::EndsWith => like(sql, format!("%{}", like_escape(value))),
                    TextOp::Gt => range(sql, " > "),
                    TextOp::Ge => range(sql, " >= "),
                    TextOp::Lt => range(sql, " < "),
                    TextOp::Le => range(sql, " <= "),
                }
                sql.push(")");
            }
            UserFilter::Present(field) => {
                let col = column(*field);
                sql.push("(").push(col).push(" IS NOT NULL AND ").push(col).push(" <> '')");
            }
            UserFilter::Active(active) => {
                sql.push(if *active { "(u.deactivated_at IS NULL)" } else { "(u.deactivated_at IS NOT NULL)" });
            }
            UserFilter::Id(user) => {
                sql.push("(u.id = ").bind(id(user.as_uuid())).push(")");
            }
            UserFilter::ExternalId(value) => {
                // The probe of `users_by_external_id`; a `NULL` never reaches a `NOT`.
                sql.push("(u.external_id IS NOT NULL AND u.external_id = ").bind(value.clone().into()).push(")");
            }
            UserFilter::HasExternalId => {
                sql.push("(u.external_id IS NOT NULL)");
            }
            UserFilter::Time { field, op, at } => {
                sql.push(match field {
                    UserTimeField::CreatedAt => "(u.created_at",
                    UserTimeField::UpdatedAt => "(u.updated_at",
                });
                sql.push(match op {
                    TimeOp::Eq => " = ",
                    TimeOp::Gt => " > ",
                    TimeOp::Ge => " >= ",
                    TimeOp::Lt => " < ",
                    TimeOp::Le => " <= ",
                });
                sql.bind(time(self.engine, *at)?).push(")");
            }
            UserFilter::Not(inner) => {
                sql.push("(NOT ");
                self.user_filter_sql(inner, sql)?;
                sql.push(")");
            }
            UserFilter::And(l, r) | UserFilter::Or(l, r) => {
                sql.push("(");
                self.user_filter_sql(l, sql)?;
                sql.push(if matches!(filter, UserFilter::And(..)) { " AND " } else { " OR " });
                self.user_filter_sql(r, sql)?;
                sql.push(")");
            }
        }
        Ok(())
    }

    /// A scoped reader's coverage (`UserQuery::within`), appended to `sql`: an open membership in
    /// the scope, and none outside it. Both are probes of `memberships_by_user`
    /// (`org_id, user_id, group_id, left_at`), answered from the index alone; an org-wide
    /// reader's query never gets here and is unchanged.
    fn within_filter(scope: &BTreeSet<GroupId>, sql: &mut Sql) {
        if scope.is_empty() {
            sql.push(" AND 1 = 0");
            return;
        }
        let list = |sql: &mut Sql| {
            for (i, g) in scope.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(id(g.as_uuid()));
            }
        };
        let open = "SELECT 1 FROM memberships m WHERE m.org_id = u.org_id AND m.user_id = u.id AND m.left_at IS NULL";
        sql.push(" AND EXISTS (").push(open).push(" AND m.group_id IN (");
        list(sql);
        sql.push(")").push(EXISTS_END).push(" AND NOT EXISTS (").push(open).push(" AND m.group_id NOT IN (");
        list(sql);
        sql.push("))");
    }

    /// The keyset condition "the row sorts strictly after the cursor", appended to `sql`: runs of
    /// components with the same direction compare as row values, `(a, b) > (?, ?)`.
    fn keyset(sql: &mut Sql, parts: Vec<KeyPart>) {
        // Runs of consecutive components with one direction, each a row value; a component
        // whose cursor value has another type is a run of its own with a constant outcome.
        let comparable = |v: &CursorValue| matches!(v, CursorValue::Bound(_) | CursorValue::Literal(_));
        let mut runs: Vec<Vec<KeyPart>> = Vec::new();
        for part in parts {
            let joins = runs.last().is_some_and(|run: &Vec<KeyPart>| {
                let last = &run[run.len() - 1];
                last.descending == part.descending && comparable(&last.value) && comparable(&part.value)
            });
            match runs.last_mut() {
                Some(run) if joins => run.push(part),
                _ => runs.push(vec![part]),
            }
        }
        sql.push(" AND (");
        for i in 0..runs.len() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            for run in &runs[..i] {
                Self::row_compare(sql, run, "=");
                sql.push(" AND ");
            }
            let run = &runs[i];
            Self::row_compare(sql, run, if run[0].descending { "<" } else { ">" });
            sql.push(")");
        }
        sql.push(")");
    }

    fn row_compare(sql: &mut Sql, run: &[KeyPart], op: &str) {
        let first = &run[0];
        match &first.value {
            CursorValue::Const(ordering) => {
                // The row compares to the cursor's value as `ordering` whatever the row holds.
                let after = if first.descending { *ordering == Ordering::Less } else { *ordering == Ordering::Greater };
                sql.push(if op != "=" && after { "1 = 1" } else { "1 = 0" });
            }
            CursorValue::AboveAbsent(absent) => {
                // Never equal; after it ascending: every present value; descending: every absent one.
                let fragment = match (op, first.descending) {
                    ("=", _) => "1 = 0".to_owned(),
                    (_, false) => format!("{} <> {absent}", first.column),
                    (_, true) => format!("{} = {absent}", first.column),
                };
                sql.push(&fragment);
            }
            CursorValue::Bound(_) | CursorValue::Literal(_) => {
                sql.push("(")
                    .push(&run.iter().map(|p| p.column.as_str()).collect::<Vec<_>>().join(", "))
                    .push(") ")
                    .push(op);
                sql.push(" (");
                for (i, part) in run.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    match &part.value {
                        CursorValue::Bound(v) => {
                            sql.bind(v.clone());
                        }
                        CursorValue::Literal(text) => {
                            sql.push(text);
                        }
                        CursorValue::Const(_) | CursorValue::AboveAbsent(_) => {}
                    }
                }
                sql.push(")");
            }
        }
    }

    /// The cursor's value for a column of `kind`, in the column's representation; a value of
    /// another type compares with every row by [`SortValue`]'s order of variants.
    fn key_value(&self, kind: SortKind, value: &SortValue) -> R<CursorValue> {
        Ok(match (kind, value) {
            (SortKind::TextOrAbsent, SortValue::Text(s)) if s.is_empty() => CursorValue::AboveAbsent("''".to_owned()),
            (SortKind::Text | SortKind::TextOrAbsent, SortValue::Text(s)) => CursorValue::Bound(s.clone().into()),
            // Absent values are stored as ''; on a column that is never absent (nor empty), ''
            // is below every value too.
            (SortKind::Text | SortKind::TextOrAbsent, SortValue::Null) => CursorValue::Bound(String::new().into()),
            (SortKind::Time | SortKind::TimeOrAbsent, SortValue::Time(t)) => CursorValue::Bound(time(self.engine, *t)?),
            (SortKind::TimeOrAbsent, SortValue::Null) => CursorValue::Literal(self.time_floor().to_owned()),
            (SortKind::TimeOrAbsent, SortValue::Text(_)) => CursorValue::AboveAbsent(self.time_floor().to_owned()),
            (SortKind::Bool, SortValue::Bool(b)) => CursorValue::Bound((*b).into()),
            (SortKind::Int, SortValue::Int(n)) => CursorValue::Bound(Value::BigInt(Some(*n))),
            (SortKind::List, SortValue::List(items)) => CursorValue::Bound(list_sort_text(items).into()),
            // Every row's value has the column's variant (or, absent, Null: handled above).
            (kind, other) => {
                CursorValue::Const(if value_rank(other) < kind.rank() { Ordering::Greater } else { Ordering::Less })
            }
        })
    }

    /// What a time column holds for an absent value: below every time.
    fn time_floor(&self) -> &'static str {
        match self.engine {
            // Microseconds; no time Roster stores is near it.
            Engine::Sqlite => "(-9223372036854775807)",
            Engine::Postgres => "'-infinity'::timestamptz",
        }
    }

    /// `expr` compared in code-point order (PostgreSQL's text columns outside `{ctext}` take
    /// the database's collation; SQLite's `BINARY` already is).
    fn code_points(&self, expr: &str) -> String {
        match self.engine {
            Engine::Sqlite => expr.to_owned(),
            Engine::Postgres => format!("({expr}) COLLATE \"C\""),
        }
    }

    /// The aggregate of `item` over `from` (which ends in the rows' `WHERE`) as
    /// [`list_sort_text`]: each item followed by U+0001, in code-point order, `''` for none.
    fn list_text(&self, item: &str, from: &str) -> String {
        let end = match self.engine {
            Engine::Sqlite => "char(1)",
            Engine::Postgres => "chr(1)",
        };
        self.code_points(&format!(
            "COALESCE((SELECT {}({item} || {end}, '' ORDER BY {item}) {from}), '')",
            self.list_agg()
        ))
    }

    /// The SQL expression and kind of a sort column (alias `u`); `in_trial` for the status.
    fn sort_column(&self, field: &UserSortField, in_trial: bool) -> SortColumn {
        let column = |expr: &str, kind| SortColumn { expr: expr.to_owned(), kind, seek: false };
        let absent_text = |c: &str| column(&self.code_points(&format!("COALESCE(u.{c}, '')")), SortKind::TextOrAbsent);
        let name = |c: &str| column(&self.code_points(&format!("u.{c}")), SortKind::Text);
        match field {
            UserSortField::FirstName => column("u.first_name_sort", SortKind::Text),
            UserSortField::LastName => column("u.last_name_sort", SortKind::Text),
            UserSortField::Email => column("u.email", SortKind::Text),
            UserSortField::CreatedAt => column("u.created_at", SortKind::Time),
            UserSortField::UpdatedAt => column("u.updated_at", SortKind::Time),
            UserSortField::AgentId => column("u.agent_id_sort", SortKind::TextOrAbsent),
            UserSortField::CrmId => column("u.crm_id_sort", SortKind::TextOrAbsent),
            UserSortField::Phone => absent_text("phone"),
            UserSortField::AgentRingNumber => absent_text("agent_ring_number"),
            UserSortField::DialerNumber => absent_text("dialer_number"),
            UserSortField::VoipForwardTo => absent_text("voip_forward_to"),
            UserSortField::MailboxProvider => name("mailbox_provider"),
            UserSortField::CallRecording => name("call_recording"),
            UserSortField::Homepage => name("homepage"),
            UserSortField::EmailThrottleMaxPerDay => column("u.email_throttle_max_per_day", SortKind::Int),
            UserSortField::FlowEnabled => column("u.flow_enabled", SortKind::Bool),
            UserSortField::EmailSync => column("u.email_sync", SortKind::Bool),
            UserSortField::CalendarSync => column("u.calendar_sync", SortKind::Bool),
            UserSortField::RoundRobin => column("u.round_robin", SortKind::Bool),
            UserSortField::ScoringEnabled => column("u.scoring_enabled", SortKind::Bool),
            UserSortField::RoamingAgent => column("u.roaming_agent", SortKind::Bool),
            // Outside a trial, the expression of the `users_by_status` index.
            UserSortField::Status => {
                SortColumn { expr: Self::status_rank_sql(in_trial), kind: SortKind::Int, seek: !in_trial }
            }
            UserSortField::Products => column("u.products_sort", SortKind::List),
            // A validated key (`[a-z][a-z0-9_]*`), written as a literal like the core key.
            UserSortField::Product(key) => column(
                &format!(
                    "EXISTS (SELECT 1 FROM licenses l WHERE l.org_id = u.org_id AND l.user_id = u.id \
                     AND l.product = '{}')",
                    key.as_str()
                ),
                SortKind::Bool,
            ),
            UserSortField::Roles => column(&self.roles_text(), SortKind::List),
            UserSortField::Teams => column(&self.teams_text(), SortKind::List),
            UserSortField::Scheduled => column(
                &format!("COALESCE({}, {})", Self::next_scheduled_sql(), self.time_floor()),
                SortKind::TimeOrAbsent,
            ),
        }
    }

    /// The keys of the roles user `u` holds (each once) as [`list_sort_text`].
    fn roles_text(&self) -> String {
        self.list_text(
            "k.key",
            "FROM (SELECT DISTINCT r.key FROM user_roles g JOIN roles r ON r.org_id = g.org_id AND r.id = g.role_id \
             WHERE g.org_id = u.org_id AND g.user_id = u.id) k",
        )
    }

    /// The lower-case names of the groups of user `u`'s open memberships (each once) as
    /// [`list_sort_text`].
    fn teams_text(&self) -> String {
        self.list_text(
            "k.name_key",
            "FROM (SELECT DISTINCT g.name_key FROM memberships m JOIN groups g ON g.org_id = m.org_id \
             AND g.id = m.group_id WHERE m.org_id = u.org_id AND m.user_id = u.id AND m.left_at IS NULL) k",
        )
    }

    /// When user `u`'s soonest pending scheduled change takes effect; `NULL` for none.
    fn next_scheduled_sql() -> &'static str {
        "(SELECT MIN(c.effective_at) FROM scheduled_changes c \
         WHERE c.org_id = u.org_id AND c.user_id = u.id AND c.state = 'pending')"
    }

    /// The [`status_rank`] of the derived status of a user who is not deleted: `derive_status`
    /// (§3.1) over the lifecycle columns and `holds_core` (kept from `licenses` by triggers), or,
    /// in a trial (a literal, as in the status filter), with everyone entitled to Core. The
    /// columns are unqualified — the Users queries read `users` alone at the level where they
    /// sort — so that outside a trial the text is the `users_by_status` index's expression,
    /// [`USERS_STATUS_RANK`](crate::migrations::USERS_STATUS_RANK) (a test checks it).
    fn status_rank_sql(in_trial: bool) -> String {
        let rank = status_rank;
        let onboarded = format!(
            "(CASE WHEN crm_connected AND mailbox_connected THEN {} ELSE {} END)",
            rank(StatusKind::Active),
            rank(StatusKind::Pending)
        );
        let entitled = if in_trial {
            format!("ELSE {onboarded}")
        } else {
            format!(
                "WHEN holds_core THEN {onboarded} WHEN ever_held_core THEN {} ELSE {}",
                rank(StatusKind::Revoked),
                rank(StatusKind::Inactive)
            )
        };
        format!(
            "CASE WHEN deactivated_at IS NOT NULL THEN {} WHEN invited THEN {} WHEN inactive_reasons <> 0 THEN {} {entitled} END",
            rank(StatusKind::Deactivated),
            rank(StatusKind::Invited),
            rank(StatusKind::Inactive),
        )
    }

    /// The [`SortFacts`] columns a sort reads, for the next cursor (aliases `sort_products`,
    /// `sort_roles`, `sort_teams`, `sort_scheduled`); empty when it reads none.
    fn sort_facts_select(&self, sort: &[UserSort]) -> String {
        let mut out = String::new();
        let reads = |f: fn(&UserSortField) -> bool| sort.iter().any(|s| f(&s.field));
        if reads(|f| matches!(f, UserSortField::Status | UserSortField::Products | UserSortField::Product(_))) {
            out.push_str(", u.products_sort AS sort_products");
        }
        if reads(|f| *f == UserSortField::Roles) {
            out.push_str(&format!(", {} AS sort_roles", self.roles_text()));
        }
        if reads(|f| *f == UserSortField::Teams) {
            out.push_str(&format!(", {} AS sort_teams", self.teams_text()));
        }
        if reads(|f| *f == UserSortField::Scheduled) {
            out.push_str(&format!(", {} AS sort_scheduled", Self::next_scheduled_sql()));
        }
        out
    }

    /// The [`SortFacts`] read with [`SeaOrmTx::sort_facts_select`] (absent columns: empty).
    fn sort_facts_from_row(&self, row: &QueryResult, sort: &[UserSort]) -> R<SortFacts> {
        let has = |f: fn(&UserSortField) -> bool| sort.iter().any(|s| f(&s.field));
        let items = |column: &str| -> R<Vec<String>> {
            let text = get::<String>(row, column)?;
            Ok(text.split(LIST_ITEM_END).filter(|i| !i.is_empty()).map(str::to_owned).collect())
        };
        let keys = |column: &str| -> R<BTreeSet<Key>> {
            items(column)?.iter().map(|k| Key::parse(k).map_err(|_| corrupt(column, k))).collect()
        };
        let mut facts = SortFacts::default();
        if has(|f| matches!(f, UserSortField::Status | UserSortField::Products | UserSortField::Product(_))) {
            facts.products = keys("sort_products")?;
        }
        if has(|f| *f == UserSortField::Roles) {
            facts.roles = keys("sort_roles")?;
        }
        if has(|f| *f == UserSortField::Teams) {
            facts.teams = items("sort_teams")?.into_iter().collect();
        }
        if has(|f| *f == UserSortField::Scheduled) {
            facts.next_scheduled = get_opt_time(self.engine, row, "sort_scheduled")?;
        }
        Ok(facts)
    }
}

#[async_trait]
impl UserRepository for SeaOrmTx {
    async fn insert_user(&mut self, user: &User) -> R<()> {
        let mut values = vec![id(user.org_id.as_uuid()), id(user.id.as_uuid())];
        values.extend(self.user_values(user)?);
        let marks = vec!["?"; values.len()].join(", ");
        let sql = format!("INSERT INTO users ({USER_COLUMNS}) VALUES ({marks})");
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        self.write_children(user, false).await
    }

    async fn user(&mut self, org: OrgId, user: UserId) -> R<Option<User>> {
        let sql = format!("SELECT {} FROM users u WHERE u.org_id = ? AND u.id = ?", self.user_select());
        Ok(self.select_users(&sql, vec![id(org.as_uuid()), id(user.as_uuid())]).await?.pop())
    }

    async fn users_by_ids(&mut self, org: OrgId, ids: &[UserId]) -> R<Vec<User>> {
        let wanted: Vec<UserId> = ids.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        let mut out = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT {} FROM users u WHERE u.org_id = ? AND u.id IN ({marks}) ORDER BY u.id",
                self.user_select()
            );
            let mut values = vec![id(org.as_uuid())];
            values.extend(chunk.iter().map(|u| id(u.as_uuid())));
            out.extend(self.select_users(&sql, values).await?);
        }
        Ok(out)
    }

    async fn find_user<'a>(&mut self, org: OrgId, lookup: UserLookup<'a>) -> R<Option<User>> {
        let (column, value) = match lookup {
            UserLookup::Email(e) => ("email", text(e)),
            UserLookup::Phone(p) => ("phone", text(p)),
            UserLookup::AgentId(a) => ("agent_id", text(a)),
            UserLookup::CrmId(c) => ("crm_id", text(c)),
        };
        let sql = format!(
            "SELECT {} FROM users u WHERE u.org_id = ? AND u.{column} = ? AND u.deleted_at IS NULL",
            self.user_select()
        );
        Ok(self.select_users(&sql, vec![id(org.as_uuid()), value]).await?.pop())
    }

    async fn insert_users(&mut self, users: &[User]) -> R<()> {
        let width = USER_COLUMNS.split(',').count();
        let mut rows = Vec::with_capacity(users.len() * width);
        let (mut roles, mut access) = (Vec::new(), Vec::new());
        for user in users {
            let (org_id, user_id) = (id(user.org_id.as_uuid()), id(user.id.as_uuid()));
            rows.extend([org_id.clone(), user_id.clone()]);
            rows.extend(self.user_values(user)?);
            for g in &user.roles {
                let scope: Value = g.scope.as_ref().map(GroupId::as_uuid).into();
                roles.extend([org_id.clone(), user_id.clone(), id(g.role_id.as_uuid()), scope]);
            }
            for g in &user.group_access {
                access.extend([org_id.clone(), user_id.clone(), id(g.as_uuid())]);
            }
        }
        let marks = vec!["?"; width].join(", ");
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "users", USER_COLUMNS, &format!("({marks})"), rows);
        self.push_rows(&mut batch, "user_roles", "org_id, user_id, role_id, scope_group_id", "(?, ?, ?, ?)", roles);
        self.push_rows(&mut batch, "user_group_access", "org_id, user_id, group_id", "(?, ?, ?)", access);
        self.run_batch(batch).await.map_err(|e| errors::write_error(e, "user"))
    }

    async fn users_matching(
        &mut self,
        org: OrgId,
        emails: &[Email],
        phones: &[Phone],
        crm_ids: &[CrmId],
    ) -> R<Vec<User>> {
        // One `IN (…)` per column and chunk, each an index range of its unique index; a user
        // matched by several values is kept once.
        let mut found: BTreeMap<UserId, User> = BTreeMap::new();
        let lists: [(&str, Vec<Value>); 3] = [
            ("email", emails.iter().map(text).collect()),
            ("phone", phones.iter().map(text).collect()),
            ("crm_id", crm_ids.iter().map(text).collect()),
        ];
        for (column, values) in lists {
            for chunk in values.chunks(CHUNK) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!(
                    "SELECT {} FROM users u WHERE u.org_id = ? AND u.deleted_at IS NULL AND u.{column} IN ({marks})",
                    self.user_select()
                );
                let mut params = vec![id(org.as_uuid())];
                params.extend(chunk.iter().cloned());
                for user in self.select_users(&sql, params).await? {
                    found.insert(user.id, user);
                }
            }
        }
        Ok(found.into_values().collect())
    }

    async fn update_user(&mut self, user: &User) -> R<()> {
        // Version 0 never matches a row (the schema keeps versions >= 1): stale, or missing.
        let previous = user.version.saturating_sub(1);
        let mut values = self.user_values(user)?;
        values.extend([id(user.org_id.as_uuid()), id(user.id.as_uuid()), count(previous)?]);
        let set = USER_COLUMNS.split(',').skip(2).map(|c| format!("{} = ?", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!("UPDATE users SET {set} WHERE org_id = ? AND id = ? AND version = ?");
        // A stale or missing user matches no row, so those are reported before a conflict, as
        // in the reference store.
        let done = self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        if done.rows_affected() == 0 {
            return Err(if self.user_exists(user.org_id, user.id).await? {
                StoreError::StaleVersion { kind: "user" }
            } else {
                MISSING_USER
            });
        }
        self.write_children(user, true).await
    }

    async fn purge_user(&mut self, org: OrgId, user: UserId) -> R<()> {
        if !self.user_exists(org, user).await? {
            return Err(MISSING_USER);
        }
        let keys = || vec![id(org.as_uuid()), id(user.as_uuid())];
        self.exec(
            "DELETE FROM seat_reservations WHERE org_id = ? AND invite_id IN \
             (SELECT id FROM invites WHERE org_id = ? AND user_id = ?)",
            vec![id(org.as_uuid()), id(org.as_uuid()), id(user.as_uuid())],
        )
        .await?;
        for table in [
            "invites",
            "scheduled_changes",
            "memberships",
            "licenses",
            "password_hashes",
            "sessions",
            "saved_views",
            "user_roles",
            "user_group_access",
        ] {
            self.exec(&format!("DELETE FROM {table} WHERE org_id = ? AND user_id = ?"), keys()).await?;
        }
        self.exec("DELETE FROM users WHERE org_id = ? AND id = ?", keys()).await?;
        Ok(())
    }

    async fn active_admins(&mut self, org: OrgId, admin_role: RoleId) -> R<Vec<UserId>> {
        let sql = "SELECT u.id FROM users u WHERE u.org_id = ? AND u.deleted_at IS NULL \
                   AND u.deactivated_at IS NULL AND NOT u.invited AND EXISTS (SELECT 1 FROM user_roles r \
                   WHERE r.org_id = u.org_id AND r.user_id = u.id AND r.role_id = ? AND r.scope_group_id IS NULL) \
                   ORDER BY u.id";
        let rows = self.query_all(sql, vec![id(org.as_uuid()), id(admin_role.as_uuid())]).await?;
        rows.iter().map(|row| get_id(row, "id", UserId::from_uuid)).collect()
    }

    async fn count_billable(&mut self, org: OrgId) -> R<u64> {
        let sql = "SELECT COUNT(*) AS n FROM users WHERE org_id = ? AND deleted_at IS NULL \
                   AND deactivated_at IS NULL AND NOT invited";
        let row = self.query_one(sql, vec![id(org.as_uuid())]).await?.ok_or_else(|| corrupt("n", "no row"))?;
        get_unsigned(&row, "n")
    }

    async fn list_users(&mut self, query: &UserQuery) -> R<UserPage> {
        Ok(self.select_page(query, false).await?.0)
    }

    async fn list_users_with_facts(&mut self, query: &UserQuery) -> R<(UserPage, Vec<UserPageFacts>)> {
        self.select_page(query, true).await
    }

    async fn count_users(&mut self, query: &UserQuery) -> R<u64> {
        let mut filtered = Sql::default();
        filtered.push("SELECT COUNT(*) AS n FROM users u");
        self.user_filters(query, &mut filtered)?;
        let row = self
            .query_one(&filtered.text, filtered.values)
            .await?
            .ok_or_else(|| corrupt("n", "COUNT(*) answered no row"))?;
        get_unsigned(&row, "n")
    }

    async fn page_facts(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<UserPageFacts>> {
        // One statement and one row per user: each fact aggregated by a correlated subquery on
        // its table's (org_id, user_id, …) key, so a page's facts cost what its users do.
        let facts = self.facts_select();
        let mut out = Vec::new();
        for (marks, values) in org_and_id_lists(org.as_uuid(), users.iter().map(|u| u.as_uuid())) {
            let sql =
                format!("SELECT u.id, {facts} FROM users u WHERE u.org_id = ? AND u.id IN ({marks}) ORDER BY u.id");
            for row in &self.query_all(&sql, values).await? {
                out.push(self.facts_from_row(row)?);
            }
        }
        Ok(out)
    }

    async fn set_password_hash(&mut self, org: OrgId, user: UserId, hash: &PasswordHash) -> R<()> {
        let sql = "INSERT INTO password_hashes (org_id, user_id, phc) VALUES (?, ?, ?) \
                   ON CONFLICT (org_id, user_id) DO UPDATE SET phc = excluded.phc";
        let values = vec![id(org.as_uuid()), id(user.as_uuid()), hash.as_str().to_owned().into()];
        self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        Ok(())
    }

    async fn password_hash(&mut self, org: OrgId, user: UserId) -> R<Option<PasswordHash>> {
        let sql = "SELECT phc FROM password_hashes WHERE org_id = ? AND user_id = ?";
        let row = self.query_one(sql, vec![id(org.as_uuid()), id(user.as_uuid())]).await?;
        row.map(|row| get::<String>(&row, "phc").map(PasswordHash::new)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::USERS_STATUS_RANK;

    #[test]
    fn the_status_sort_outside_a_trial_is_the_expression_of_its_index() {
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(words(&SeaOrmTx::status_rank_sql(false)), words(USERS_STATUS_RANK));
    }

    #[test]
    fn the_list_text_separator_is_the_domains() {
        assert_eq!(LIST_ITEM_END, '\u{1}', "the SQL writes char(1) / chr(1)");
    }
}
