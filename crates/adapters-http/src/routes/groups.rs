//! `/api/v1/groups`: the three-level group tree, memberships, flows per group and the CSV
//! export (SPEC §6, §7.3), and `POST /users/{id}/move` (a membership change). Handlers parse,
//! call one service, and shape the answer.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::groups::{Group, GroupTree};
use roster_domain::ids::{FlowId, GroupId, UserId};
use roster_domain::services::{GroupDetails, GroupPatch, MoveUser};
use roster_domain::values::GroupName;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use super::common::{path_id, tagged, total_of};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiQuery, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{UserBody, check, ok, parse, rfc3339};

/// Registers the group routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/groups", list_groups)
        .post("/api/v1/groups", create_group)
        .get("/api/v1/groups/export.csv", export_groups)
        .get("/api/v1/groups/{id}", get_group)
        .patch("/api/v1/groups/{id}", update_group)
        .delete("/api/v1/groups/{id}", delete_group)
        .post("/api/v1/groups/{id}/members", add_members)
        .delete("/api/v1/groups/{id}/members/{user_id}", remove_member)
        .put("/api/v1/groups/{id}/flows", set_group_flows)
        .post("/api/v1/users/{id}/move", move_user)
}

/// A group of the tree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupBody {
    pub id: Uuid,
    /// `null` for the root group (the organization itself, depth 1).
    pub parent_id: Option<Uuid>,
    pub name: String,
    /// 1 (the root), 2 or 3.
    pub depth: u8,
    /// When the group was deleted; deleted groups stay in the tree as filter choices.
    pub deleted_at: Option<String>,
    pub created_at: String,
    /// The group's version, also its `ETag`.
    pub version: u64,
}

impl From<&Group> for GroupBody {
    fn from(g: &Group) -> Self {
        Self {
            id: g.id.as_uuid(),
            parent_id: g.parent_id.map(|p| p.as_uuid()),
            name: g.name.as_str().to_owned(),
            depth: g.depth,
            deleted_at: g.deleted_at.map(rfc3339),
            created_at: rfc3339(g.created_at),
            version: g.version,
        }
    }
}

/// One group with its path, current members and flows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupDetailsBody {
    #[serde(flatten)]
    pub group: GroupBody,
    /// "Acme / Sales / East".
    pub path: String,
    /// Users with a current membership (none once the group is deleted).
    pub member_ids: Vec<Uuid>,
    /// The flows assigned to the group; empty: any flow (§7.3).
    pub flow_ids: Vec<Uuid>,
}

impl From<GroupDetails> for GroupDetailsBody {
    fn from(d: GroupDetails) -> Self {
        Self {
            group: GroupBody::from(&d.group),
            path: d.path,
            member_ids: d.members.iter().map(|u| u.as_uuid()).collect(),
            flow_ids: d.flows.iter().map(|f| f.as_uuid()).collect(),
        }
    }
}

/// The tree as a list: every group, deleted ones included, a parent before its children and
/// siblings by name; `parent_id` and `depth` give the shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupList {
    pub items: Vec<GroupBody>,
    /// Always `null`: the tree is answered whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/groups", tag = "groups",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "The whole tree, deleted groups included", body = GroupList))
)]
/// The organization's group tree (any member: it feeds the filters and the connection dropdown).
pub async fn list_groups(State(state): State<AppState>, auth: Authenticated) -> ApiResult<axum::Json<GroupList>> {
    let groups = state.services.list_groups(&auth.actor).await?;
    let tree = GroupTree::new(groups);
    let items: Vec<GroupBody> = tree.in_tree_order().into_iter().map(GroupBody::from).collect();
    let total = total_of(&items);
    Ok(axum::Json(GroupList { items, next_cursor: None, total }))
}

/// `POST /groups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    pub name: String,
    /// The root group's id for a depth-2 group, a depth-2 group's id for a depth-3 group.
    pub parent_id: Uuid,
}

#[utoipa::path(
    post, path = "/api/v1/groups", tag = "groups",
    request_body = CreateGroupRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The new group, with its depth", body = GroupBody, headers(
            ("Location" = String, description = "The group's URL"),
            ("ETag" = String, description = "The group's version"))),
        (status = 403, response = Problem),
        (status = 404, description = "`not_found`: no live parent group", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`group_depth_exceeded` (a fourth level), `conflict` (a live sibling has the name)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Creates a group at depth 2 or 3 (needs `manage_groups` over the parent).
pub async fn create_group(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateGroupRequest>,
) -> ApiResult<Response> {
    let name = ok(parse("name", &body.name, GroupName::parse))?;
    let group = state.services.create_group(&auth.actor, GroupId::from_uuid(body.parent_id), name).await?;
    let location = format!("/api/v1/groups/{}", group.id);
    Ok(tagged(StatusCode::CREATED, group.version, Some(location), GroupBody::from(&group)))
}

#[utoipa::path(
    get, path = "/api/v1/groups/{id}", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The group with its path, members and flows", body = GroupDetailsBody,
            headers(("ETag" = String, description = "The group's version, for If-Match"))),
        (status = 404, response = Problem),
    )
)]
/// One group (deleted ones too), with its current members and flows.
pub async fn get_group(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let details = state.services.get_group(&auth.actor, path_id(&id, "group")?).await?;
    Ok(tagged(StatusCode::OK, details.group.version, None, GroupDetailsBody::from(details)))
}

/// `PATCH /groups/{id}`: rename and/or move below another parent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupRequest {
    pub name: Option<String>,
    pub parent_id: Option<Uuid>,
}

#[utoipa::path(
    patch, path = "/api/v1/groups/{id}", tag = "groups",
    params(
        ("id" = Uuid, Path, description = "The group's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read; a stale one answers 412"),
    ),
    request_body = UpdateGroupRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The changed group", body = GroupBody,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, description = "`group_depth_exceeded`, `conflict` (a live sibling has the name)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the ETag is stale, or `If-Match` names no version (it can never match)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name; moving the root or below itself", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Renames and/or moves a group (needs `manage_groups` over it and the new parent).
pub async fn update_group(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<UpdateGroupRequest>,
) -> ApiResult<Response> {
    let id = path_id(&id, "group")?;
    let name = body.name.map(|n| parse("name", &n, GroupName::parse)).transpose();
    check([name.as_ref().err()])?;
    let patch = GroupPatch { name: ok(name)?, parent_id: body.parent_id.map(GroupId::from_uuid) };
    let version = if_match.version()?;
    let group = state.services.update_group(&auth.actor, id, patch, version).await?;
    Ok(tagged(StatusCode::OK, group.version, None, GroupBody::from(&group)))
}

/// `DELETE /groups/{id}?cascade=true`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteGroupParams {
    /// Also delete the live subgroups; without it a group with live subgroups is refused.
    pub cascade: Option<bool>,
}

#[utoipa::path(
    delete, path = "/api/v1/groups/{id}", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id"), DeleteGroupParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted: memberships ended, its API keys revoked, records keep their stamp"),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, description = "`group_has_subgroups` (send `cascade=true`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The root group cannot be deleted", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Soft-deletes a group, and with `cascade=true` its live subgroups (§6).
pub async fn delete_group(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DeleteGroupParams>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id, "group")?;
    state.services.delete_group(&auth.actor, id, params.cascade.unwrap_or(false)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /groups/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembersRequest {
    pub user_ids: Vec<Uuid>,
}

#[utoipa::path(
    post, path = "/api/v1/groups/{id}/members", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id")),
    request_body = AddMembersRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The group with its members after the change", body = GroupDetailsBody),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 422, description = "The root group (it has no members), unknown users", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Adds members; a member who had no group has their "Organization" connections restamped
/// with this group (§7.2 rule 1). Adding a current member changes nothing.
pub async fn add_members(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddMembersRequest>,
) -> ApiResult<axum::Json<GroupDetailsBody>> {
    let id = path_id(&id, "group")?;
    let users: Vec<UserId> = body.user_ids.into_iter().map(UserId::from_uuid).collect();
    let details = state.services.add_members(&auth.actor, id, &users).await?;
    Ok(axum::Json(GroupDetailsBody::from(details)))
}

#[utoipa::path(
    delete, path = "/api/v1/groups/{id}/members/{user_id}", tag = "groups",
    params(
        ("id" = Uuid, Path, description = "The group's id"),
        ("user_id" = Uuid, Path, description = "The member's id"),
    ),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "The membership ended; nothing is restamped (§7.2 rule 2)"),
        (status = 403, response = Problem),
        (status = 404, description = "No such group or user, or the user is not a current member", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Ends a user's membership in a group.
pub async fn remove_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id, "group")?;
    let user_id = path_id(&user_id, "user")?;
    state.services.remove_member(&auth.actor, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /groups/{id}/flows`: the full set of flows the group accepts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGroupFlowsRequest {
    pub flow_ids: Vec<Uuid>,
}

/// The flows a group accepts after `PUT /groups/{id}/flows`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupFlowsBody {
    pub group_id: Uuid,
    /// Empty: the group accepts any flow.
    pub flow_ids: Vec<Uuid>,
}

#[utoipa::path(
    put, path = "/api/v1/groups/{id}/flows", tag = "groups",
    params(("id" = Uuid, Path, description = "The group's id")),
    request_body = SetGroupFlowsRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The group's flow set", body = GroupFlowsBody),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 422, description = "An unknown flow", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Replaces the set of flows assigned to a group (§7.3; needs `manage_groups` over it).
pub async fn set_group_flows(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetGroupFlowsRequest>,
) -> ApiResult<axum::Json<GroupFlowsBody>> {
    let id: GroupId = path_id(&id, "group")?;
    let flows: BTreeSet<FlowId> = body.flow_ids.into_iter().map(FlowId::from_uuid).collect();
    state.services.set_group_flows(&auth.actor, id, flows.clone()).await?;
    Ok(axum::Json(GroupFlowsBody { group_id: id.as_uuid(), flow_ids: flows.iter().map(|f| f.as_uuid()).collect() }))
}

#[utoipa::path(
    get, path = "/api/v1/groups/export.csv", tag = "groups",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Every group as CSV: id, parent_id, name, path, depth, members, flows, deleted_at, created_at",
            content_type = "text/csv", body = String),
        (status = 403, response = Problem),
    )
)]
/// The group tree as CSV, in tree order (needs `export_data`).
pub async fn export_groups(State(state): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    let rows = state.services.export_groups(&auth.actor).await?;
    let mut out = String::from("id,parent_id,name,path,depth,members,flows,deleted_at,created_at\r\n");
    for d in &rows {
        let g = &d.group;
        let fields = [
            g.id.to_string(),
            g.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            g.name.as_str().to_owned(),
            d.path.clone(),
            g.depth.to_string(),
            d.members.len().to_string(),
            d.flows.len().to_string(),
            g.deleted_at.map(rfc3339).unwrap_or_default(),
            rfc3339(g.created_at),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    let mut response = (StatusCode::OK, out).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"groups.csv\""));
    Ok(response)
}

/// One CSV field (RFC 4180): quoted when it holds a separator, a quote or a line break. A field
/// a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is
/// prefixed with `'` (OWASP "CSV injection").
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// `POST /users/{id}/move`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveUserRequest {
    pub from_group_id: Uuid,
    pub to_group_id: Uuid,
    /// Restamp the user's records stamped with the old group with the new one.
    #[serde(default)]
    pub transfer_records: bool,
}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/move", tag = "groups",
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = MoveUserRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user in the new group", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 403, response = Problem),
        (status = 404, description = "No such user or group, or the user is not in `from_group_id`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The same group twice, or the root group", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Moves a user from one group to another, optionally with their records (§6; needs
/// `manage_groups` over both groups).
pub async fn move_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MoveUserRequest>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let request = MoveUser {
        from_group_id: GroupId::from_uuid(body.from_group_id),
        to_group_id: GroupId::from_uuid(body.to_group_id),
        transfer_records: body.transfer_records,
    };
    let details = state.services.move_user(&auth.actor, id, request).await?;
    let body = UserBody::from(details);
    Ok(tagged(StatusCode::OK, body.summary.version, None, body))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Sales"), "Sales");
        assert_eq!(csv_field("Acme, Inc."), "\"Acme, Inc.\"");
        assert_eq!(csv_field("the \"A\" team"), "\"the \"\"A\"\" team\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field(""), "");
    }
}
