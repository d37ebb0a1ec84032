//! `/api/v1/roles` (SPEC §5): the built-in and custom roles, and a user's roles (`PUT
//! /users/{id}/roles`, each by key or id, with the rules of the bulk action `set_roles`),
//! per-user grants (`PUT /users/{id}/grants`) and onboarding facts (`PUT
//! /users/{id}/onboarding`, §3.1).
//! Handlers parse, call one service, and shape the answer.
//!
//! A role's `ETag` is its [`Role::revision`] — roles store no version, so the tag is a digest
//! of what the role reads as (decision 0016).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::ids::GroupId;
use roster_domain::roles::{Permission, Role, RoleRef, Visibility};
use roster_domain::services::{NewRole, OnboardingFacts, RoleAssignment, RolePatch};
use roster_domain::values::{Key, Label};
use roster_domain::{FieldError, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteTable;
use super::common::{path_id, tagged, total_of};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{UserBody, check, ok, parse};

/// Registers the role, user role, grant and onboarding routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/roles", list_roles)
        .post("/api/v1/roles", create_role)
        .patch("/api/v1/roles/{id}", update_role)
        .delete("/api/v1/roles/{id}", delete_role)
        .put("/api/v1/users/{id}/roles", set_user_roles)
        .put("/api/v1/users/{id}/grants", set_grants)
        .put("/api/v1/users/{id}/onboarding", set_onboarding)
}

/// A role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleBody {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    /// Permission names (`manage_users`, …).
    pub permissions: Vec<String>,
    /// `all`, `groups` or `own_invites` (§7.2).
    pub visibility: String,
    /// `false` for roles only the operator may grant (`scorer`).
    pub assignable: bool,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
    /// The role's revision, also its `ETag` (send it as `If-Match`).
    pub revision: u64,
}

impl From<&Role> for RoleBody {
    fn from(r: &Role) -> Self {
        Self {
            id: r.id.as_uuid(),
            key: r.key.as_str().to_owned(),
            name: r.name.as_str().to_owned(),
            permissions: r.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            visibility: visibility_name(r.visibility).to_owned(),
            assignable: r.assignable,
            builtin: r.builtin,
            revision: r.revision(),
        }
    }
}

fn visibility_name(v: Visibility) -> &'static str {
    match v {
        Visibility::All => "all",
        Visibility::Groups => "groups",
        Visibility::OwnInvites => "own_invites",
    }
}

fn parse_visibility(text: &str) -> Result<Visibility, FieldError> {
    match text {
        "all" => Ok(Visibility::All),
        "groups" => Ok(Visibility::Groups),
        "own_invites" => Ok(Visibility::OwnInvites),
        other => Err(FieldError::new(
            "visibility",
            "unknown_visibility",
            format!("`{other}` is not one of all, groups, own_invites"),
        )),
    }
}

/// Permission names; every unknown one is named with its index.
fn parse_permissions(field: &str, names: &[String]) -> Result<BTreeSet<Permission>, FieldError> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Permission::ALL.into_iter().find(|p| p.as_str() == name).ok_or_else(|| {
                FieldError::new(format!("{field}[{i}]"), "unknown_permission", format!("no permission `{name}`"))
            })
        })
        .collect()
}

/// The roles of the organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<RoleBody>,
    /// Always `null`: the roles are answered whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/roles", tag = "roles",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "Every role, built-in first", body = RoleList))
)]
/// The organization's roles (any member: role names appear throughout the console).
pub async fn list_roles(State(state): State<AppState>, auth: Authenticated) -> ApiResult<axum::Json<RoleList>> {
    let roles = state.services.list_roles(&auth.actor).await?;
    let items: Vec<RoleBody> = roles.iter().map(RoleBody::from).collect();
    let total = total_of(&items);
    Ok(axum::Json(RoleList { items, next_cursor: None, total }))
}

/// `POST /roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    /// Lower-case key, unique in the organization (`auditor`).
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// `all`, `groups` or `own_invites`.
    pub visibility: String,
}

#[utoipa::path(
    post, path = "/api/v1/roles", tag = "roles",
    request_body = CreateRoleRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The new role", body = RoleBody,
            headers(("ETag" = String, description = "The role's revision"))),
        (status = 403, response = Problem),
        (status = 409, description = "`conflict`: the key is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; a permission the caller does not hold", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Creates a custom role (needs `manage_roles` org-wide; nobody hands out a permission they lack).
pub async fn create_role(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateRoleRequest>,
) -> ApiResult<Response> {
    let key = parse("key", &body.key, Key::parse);
    let name = parse("name", &body.name, Label::parse);
    let permissions = parse_permissions("permissions", &body.permissions);
    let visibility = parse_visibility(&body.visibility);
    check([key.as_ref().err(), name.as_ref().err(), permissions.as_ref().err(), visibility.as_ref().err()])?;
    let new = NewRole { key: ok(key)?, name: ok(name)?, permissions: ok(permissions)?, visibility: ok(visibility)? };
    let role = state.services.create_role(&auth.actor, new).await?;
    Ok(tagged(StatusCode::CREATED, role.revision(), None, RoleBody::from(&role)))
}

/// `PATCH /roles/{id}`: only the fields present change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    pub name: Option<String>,
    /// The full set the role should carry.
    pub permissions: Option<Vec<String>>,
    pub visibility: Option<String>,
}

#[utoipa::path(
    patch, path = "/api/v1/roles/{id}", tag = "roles",
    params(
        ("id" = Uuid, Path, description = "The role's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read; a stale one answers 412"),
    ),
    request_body = UpdateRoleRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The changed role", body = RoleBody,
            headers(("ETag" = String, description = "The new revision"))),
        (status = 403, description = "`forbidden`: no `manage_roles`, a built-in role, or impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 412, description = "`precondition_failed`: the ETag is stale, or `If-Match` names no version (it can never match)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; a permission the caller does not hold", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Changes a custom role.
pub async fn update_role(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<UpdateRoleRequest>,
) -> ApiResult<Response> {
    let id = path_id(&id, "role")?;
    let name = body.name.map(|n| parse("name", &n, Label::parse)).transpose();
    let permissions = body.permissions.map(|p| parse_permissions("permissions", &p)).transpose();
    let visibility = body.visibility.map(|v| parse_visibility(&v)).transpose();
    check([name.as_ref().err(), permissions.as_ref().err(), visibility.as_ref().err()])?;
    let patch = RolePatch { name: ok(name)?, permissions: ok(permissions)?, visibility: ok(visibility)? };
    let revision = if_match.version()?;
    let role = state.services.update_role(&auth.actor, id, patch, revision).await?;
    Ok(tagged(StatusCode::OK, role.revision(), None, RoleBody::from(&role)))
}

#[utoipa::path(
    delete, path = "/api/v1/roles/{id}", tag = "roles",
    params(("id" = Uuid, Path, description = "The role's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`: no `manage_roles`, a built-in role, or impersonating", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 409, description = "`conflict`: members hold the role", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Deletes a custom role nobody holds.
pub async fn delete_role(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_role(&auth.actor, path_id(&id, "role")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One role of `PUT /users/{id}/roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignmentBody {
    /// The role's key (`team_lead`) or id.
    pub role: String,
    /// A group id: the grant covers that group and the groups below it. Absent: the whole
    /// organization.
    pub scope: Option<Uuid>,
}

/// `PUT /users/{id}/roles`: every role the user should hold, replacing the ones they have.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetUserRolesRequest {
    /// At least one.
    #[schema(min_items = 1)]
    pub roles: Vec<RoleAssignmentBody>,
}

impl SetUserRolesRequest {
    /// The domain's assignments, or every role that can name no role (`unknown_role` on
    /// `roles[i].role`, as an unknown key is).
    fn try_into_domain(self) -> Result<Vec<RoleAssignment>, ServiceError> {
        let mut roles = Vec::with_capacity(self.roles.len());
        let mut errors = Vec::new();
        for (i, r) in self.roles.into_iter().enumerate() {
            match RoleRef::parse(&r.role) {
                Ok(role) => roles.push(RoleAssignment { role, scope: r.scope.map(GroupId::from_uuid) }),
                Err(_) => errors.push(FieldError::new(
                    format!("roles[{i}].role"),
                    "unknown_role",
                    format!("no role `{}`", r.role),
                )),
            }
        }
        if errors.is_empty() { Ok(roles) } else { Err(ServiceError::Validation(errors)) }
    }
}

#[utoipa::path(
    put, path = "/api/v1/users/{id}/roles", tag = "roles",
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = SetUserRolesRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user with the new roles. Losing any role or scope ends the user's sessions (§5). The same rules as the bulk action `set_roles`", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 403, description = "`forbidden`: an impersonating session; no `manage_users` over the user or the scope; the user holds more than the caller, or a role gives more than the caller holds (dominance, §5); an administrative role given org-wide by a scoped admin; a role only the operator grants (`scorer`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = Problem),
        (status = 409, description = "`last_admin`: the organization would be left without an active admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: an empty list (`required` on `roles`); a role that is no role of the organization (`unknown_role` on `roles[i].role`); a scope that is no live group (`unknown_group` on `roles[i].scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Replaces a user's roles, each by key or id and optionally scoped to a group (needs
/// `manage_users` over the user; nobody hands out more than they hold).
pub async fn set_user_roles(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetUserRolesRequest>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let roles = body.try_into_domain()?;
    let details = state.services.set_roles(&auth.actor, id, roles, None).await?;
    let body = UserBody::from(details);
    Ok(tagged(StatusCode::OK, body.summary.version, None, body))
}

/// `PUT /users/{id}/grants`: the full per-user grants the user should hold (§5).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGrantsRequest {
    /// Only `view_reporting` and `audio_scoring` can be granted outside a role.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Groups whose records the user may see besides their memberships.
    #[serde(default)]
    pub group_access: Vec<Uuid>,
}

#[utoipa::path(
    put, path = "/api/v1/users/{id}/grants", tag = "roles",
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = SetGrantsRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user with the new grants", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 422, description = "A permission that only a role gives, an unknown or deleted group", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Replaces a user's extra permissions and extra group access (needs `manage_users` over them).
pub async fn set_grants(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetGrantsRequest>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let permissions = ok(parse_permissions("permissions", &body.permissions))?;
    let groups: BTreeSet<GroupId> = body.group_access.into_iter().map(GroupId::from_uuid).collect();
    let details = state.services.set_grants(&auth.actor, id, permissions, groups).await?;
    let body = UserBody::from(details);
    Ok(tagged(StatusCode::OK, body.summary.version, None, body))
}

/// `PUT /users/{id}/onboarding`: the facts the product reports; absent ones stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnboardingRequest {
    pub crm_connected: Option<bool>,
    pub mailbox_connected: Option<bool>,
}

#[utoipa::path(
    put, path = "/api/v1/users/{id}/onboarding", tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = OnboardingRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user; with both facts and Core the status is `active`", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
    )
)]
/// Records whether the user connected the CRM and the mailbox (§3.1 onboarding; needs
/// `manage_users` over them).
pub async fn set_onboarding(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OnboardingRequest>,
) -> ApiResult<Response> {
    let id = path_id(&id, "user")?;
    let facts = OnboardingFacts { crm_connected: body.crm_connected, mailbox_connected: body.mailbox_connected };
    let details = state.services.set_onboarding(&auth.actor, id, facts).await?;
    let body = UserBody::from(details);
    Ok(tagged(StatusCode::OK, body.summary.version, None, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_and_visibility_are_parsed_by_name() {
        let ok = parse_permissions("permissions", &["view_audit".to_owned(), "export_data".to_owned()]).unwrap();
        assert_eq!(ok, BTreeSet::from([Permission::ViewAudit, Permission::ExportData]));
        let err = parse_permissions("permissions", &["view_audit".to_owned(), "root".to_owned()]).unwrap_err();
        assert_eq!(err.field, "permissions[1]");
        assert_eq!(parse_visibility("own_invites").unwrap(), Visibility::OwnInvites);
        assert!(parse_visibility("everyone").is_err());
        for v in [Visibility::All, Visibility::Groups, Visibility::OwnInvites] {
            assert_eq!(parse_visibility(visibility_name(v)).unwrap(), v);
        }
    }
}
