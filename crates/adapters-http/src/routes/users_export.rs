//! `GET /api/v1/users/export.csv`: the Users table as CSV — the current filter and sort, or the
//! selected ids — streamed page by page by keyset cursor, one short read transaction per page
//! (SPEC §10; `csv_export` says how, decision 0017 why).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use roster_domain::ids::{GroupId, RoleId, UserId};
use roster_domain::scheduling::ScheduledAction;
use roster_domain::services::EXPORT_IDS_PAGE;
use roster_domain::services::UserDetails;
use roster_domain::user::Status;
use roster_domain::users_query::{UserCursor, UserPaging, UserQuery};
use roster_domain::values::Key;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::RouteTable;
use crate::auth::Authenticated;
use crate::csv_export::{self, Page};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::users_filter::{FilteredQuery, SortKeys, UsersFilter, parse_sort};
use crate::wire::rfc3339;

/// Registers the export route.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table.get("/api/v1/users/export.csv", export_users)
}

/// Rows per page (each page is one short read transaction).
const EXPORT_PAGE: u32 = 500;

/// The sort of `GET /users`, or selected ids, beside the Users-table filter ([`UsersFilter`]).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportUsersParams {
    /// Selected user ids, comma-separated (at most 2,000; export a filter for more); with `ids`, the filters must be
    /// absent. Unknown, deleted and other organizations' ids are skipped.
    #[param(
        pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(,[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})*$",
        max_length = 73_999
    )]
    pub ids: Option<String>,
    /// As `GET /users`: sort keys, comma-separated, first one first; `-` before a name sorts
    /// descending; `id` breaks ties.
    #[param(value_type = Option<SortKeys>, inline, style = Form, explode = false)]
    pub sort: Option<String>,
}

/// The most ids a selection may name (they travel in the URL).
const MAX_SELECTED: usize = 2_000;

/// The columns of the export, in order.
const USER_COLUMNS: [&str; 25] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "status",
    "inactive_reasons",
    "products",
    "groups",
    "scheduled",
    "phone",
    "nicknames",
    "crm_id",
    "agent_id",
    "agent_ring_number",
    "dialer_number",
    "roles",
    "deactivated",
    "invited",
    "mailbox_provider",
    "email_throttle_max_per_day",
    "flow_enabled",
    "email_sync",
    "calendar_sync",
    "call_recording",
    "created_at",
];

fn wire_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The names the rows refer to by id: role keys and group names (a deleted role or group
/// is written as its id).
#[derive(Debug, Clone, Default)]
struct Names {
    roles: BTreeMap<RoleId, String>,
    groups: BTreeMap<GroupId, String>,
}

impl Names {
    fn role(&self, id: RoleId) -> String {
        self.roles.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }

    fn group(&self, id: GroupId) -> String {
        self.groups.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
}

/// One row: the user's columns as `GET /users` shows them, lists joined with `; `.
fn user_row(d: &UserDetails, names: &Names) -> Vec<String> {
    let u = &d.user;
    let opt = |v: Option<&str>| v.unwrap_or("").to_owned();
    let role_names: Vec<String> = u
        .roles
        .iter()
        .map(|g| match g.scope {
            Some(scope) => format!("{}@{}", names.role(g.role_id), names.group(scope)),
            None => names.role(g.role_id),
        })
        .collect();
    let inactive_reasons: Vec<String> = match &d.status {
        Status::Inactive(reasons) => reasons.iter().map(wire_name).collect(),
        _ => Vec::new(),
    };
    let products: Vec<&str> = d.products.iter().map(Key::as_str).collect();
    let groups: Vec<String> = d.groups.iter().map(|g| names.group(*g)).collect();
    let scheduled: Vec<String> = d
        .scheduled
        .iter()
        .map(|c| match &c.action {
            ScheduledAction::Deactivate => format!("deactivate {}", rfc3339(c.effective_at)),
            ScheduledAction::RemoveLicense(p) => format!("remove {} {}", p.as_str(), rfc3339(c.effective_at)),
        })
        .collect();
    let nicknames: Vec<&str> = u.nicknames.iter().map(|n| n.as_str()).collect();
    vec![
        u.id.to_string(),
        u.email.as_str().to_owned(),
        u.first_name.as_str().to_owned(),
        u.last_name.as_str().to_owned(),
        wire_name(&d.status.kind()),
        inactive_reasons.join("; "),
        products.join("; "),
        groups.join("; "),
        scheduled.join("; "),
        opt(u.phone.as_ref().map(|p| p.as_str())),
        nicknames.join("; "),
        opt(u.crm_id.as_ref().map(|c| c.as_str())),
        opt(u.agent_id.as_ref().map(|a| a.as_str())),
        opt(u.agent_ring_number.as_ref().map(|p| p.as_str())),
        opt(u.dialer_number.as_ref().map(|p| p.as_str())),
        role_names.join("; "),
        u.is_deactivated().to_string(),
        u.lifecycle.invited.to_string(),
        wire_name(&u.settings.mailbox_provider),
        u.settings.email_throttle_max_per_day.to_string(),
        u.settings.flow_enabled.to_string(),
        u.settings.email_sync.to_string(),
        u.settings.calendar_sync.to_string(),
        wire_name(&u.settings.call_recording),
        rfc3339(u.created_at),
    ]
}

/// What the export walks: a filter by cursor, or the selected ids by chunks.
#[derive(Debug, Clone)]
enum Walk {
    Filter(Box<UserQuery>),
    Ids(Vec<UserId>),
}

/// Where the next page starts.
#[derive(Debug, Clone)]
enum Position {
    After(Option<UserCursor>),
    Chunk(usize),
}

/// Reads one page from `position`.
async fn users_page(
    state: AppState,
    auth: Authenticated,
    walk: Walk,
    names: Names,
    position: Position,
) -> ApiResult<Page<Position>> {
    match (walk, position) {
        (Walk::Filter(query), Position::After(after)) => {
            let mut query = *query;
            query.paging = Some(UserPaging::Cursor { after, limit: EXPORT_PAGE });
            let page = state.services.export_users_page(&auth.actor, query).await?;
            let rows = page.items.iter().map(|u| user_row(u, &names)).collect();
            Ok((rows, page.next_cursor.map(|c| Position::After(Some(c)))))
        }
        (Walk::Ids(ids), Position::Chunk(start)) => {
            let end = (start + EXPORT_IDS_PAGE).min(ids.len());
            let users = state.services.export_users_by_ids(&auth.actor, &ids[start..end]).await?;
            let rows = users.iter().map(|u| user_row(u, &names)).collect();
            Ok((rows, (end < ids.len()).then_some(Position::Chunk(end))))
        }
        _ => Err(ApiError::internal("an export position does not fit its walk")),
    }
}

fn parse_ids(text: &str) -> ApiResult<Vec<UserId>> {
    let mut ids: Vec<UserId> = Vec::new();
    for (i, part) in text.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
        let id: Uuid = part
            .parse()
            .map_err(|_| ApiError::bad_request(format!("ids[{i}]"), "invalid_parameter", "not a user id"))?;
        ids.push(UserId::from_uuid(id));
    }
    if ids.is_empty() {
        return Err(ApiError::bad_request("ids", "invalid_parameter", "no ids selected"));
    }
    if ids.len() > MAX_SELECTED {
        return Err(ApiError::bad_request("ids", "out_of_range", format!("at most {MAX_SELECTED} ids")));
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[utoipa::path(
    get, path = "/api/v1/users/export.csv", tag = "users",
    params(UsersFilter, ExportUsersParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The users as CSV, one header row, streamed; formula-like cells prefixed with `'`; a selection by ids comes in id order, a filter in its sort",
            content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"users.csv\""))),
        (status = 403, description = "`forbidden`: needs `manage_users` and `export_data`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown role; a search (`q`) longer than 256 characters", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The Users table as a CSV download: the filter and sort of `GET /users`, or the selected ids
/// (needs `manage_users` and `export_data`).
pub async fn export_users(
    State(state): State<AppState>,
    auth: Authenticated,
    FilteredQuery { filter, params }: FilteredQuery<ExportUsersParams>,
) -> ApiResult<Response> {
    let walk = match params.ids.as_deref() {
        Some(ids) => {
            if !filter.is_empty() || params.sort.is_some() {
                return Err(ApiError::bad_request(
                    "ids",
                    "conflicting_parameters",
                    "export selected ids or a filter, not both",
                ));
            }
            Walk::Ids(parse_ids(ids)?)
        }
        None => {
            let mut query = filter.to_query(auth.actor.org_id())?;
            query.sort = parse_sort(params.sort.as_deref())?;
            Walk::Filter(Box::new(query))
        }
    };
    let names = Names {
        roles: state
            .services
            .list_roles(&auth.actor)
            .await?
            .into_iter()
            .map(|r| (r.id, r.key.as_str().to_owned()))
            .collect(),
        groups: state
            .services
            .list_groups(&auth.actor)
            .await?
            .into_iter()
            .map(|g| (g.id, g.name.as_str().to_owned()))
            .collect(),
    };
    let start = match walk {
        Walk::Filter(_) => Position::After(None),
        Walk::Ids(_) => Position::Chunk(0),
    };
    let first = users_page(state.clone(), auth.clone(), walk.clone(), names.clone(), start).await?;
    Ok(csv_export::stream("users.csv", &USER_COLUMNS, first, move |position| {
        users_page(state.clone(), auth.clone(), walk.clone(), names.clone(), position)
    }))
}
