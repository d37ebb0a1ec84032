//! `/api/v1/connections` (SPEC §7): creation with stamping, the visible list (the visibility
//! rule runs in the store's query), one connection, the explanations of who sees it, and the
//! group dropdown. Handlers parse, call one service, and shape the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_domain::connections::{Connection, GroupChoice};
use roster_domain::ids::{FlowId, GroupId, UserId};
use roster_domain::services::{GroupChoiceItem, NewConnection};
use roster_domain::values::{Email, PersonName};
use roster_domain::visibility::{Access, AccessRule, ConnectionCursor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::RouteTable;
use super::common::path_id;
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{Paging, encode_cursor, paging};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::{check, ok, parse, rfc3339};

/// Registers the connection routes.
pub(crate) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/connections", list_connections)
        .post("/api/v1/connections", create_connection)
        .get("/api/v1/connections/group-choices", group_choices)
        .get("/api/v1/connections/{id}", get_connection)
        .get("/api/v1/connections/{id}/access", explain_access)
        .get("/api/v1/connections/{id}/viewers", connection_viewers)
}

/// What a cursor of the connections list is bound to: its one order, newest first.
const ORDER: &str = "-created_at";

/// A connection as lists and reads show it. Its `user_token` is answered only by its creation:
/// Roster keeps only its hash (ADR 0027).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionBody {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub flow_id: Option<Uuid>,
    pub inviter_id: Uuid,
    /// The group stamp; empty: "Organization".
    pub groups: Vec<Uuid>,
    pub cc: Vec<Uuid>,
    /// The API key it was created with, if any.
    pub via_api_key: Option<Uuid>,
    pub created_at: String,
}

impl From<&Connection> for ConnectionBody {
    fn from(c: &Connection) -> Self {
        Self {
            id: c.id.as_uuid(),
            email: c.email.as_str().to_owned(),
            name: c.name.as_str().to_owned(),
            flow_id: c.flow_id.map(|f| f.as_uuid()),
            inviter_id: c.inviter_id.as_uuid(),
            groups: c.groups.iter().map(|g| g.as_uuid()).collect(),
            cc: c.cc.iter().map(|u| u.as_uuid()).collect(),
            via_api_key: c.via_api_key.map(|k| k.as_uuid()),
            created_at: rfc3339(c.created_at),
        }
    }
}

/// The answer of `POST /connections`: the connection with its `user_token`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedConnectionBody {
    #[serde(flatten)]
    pub connection: ConnectionBody,
    /// The token the vendor's product hands to the connection.
    pub user_token: String,
}

/// A page of connections, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionList {
    pub items: Vec<ConnectionBody>,
    /// The next page's cursor; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Always `null`: this list is paged by cursor only.
    pub total: Option<u64>,
}

/// `GET /connections` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListConnectionsParams {
    /// Only connections stamped with this group (deleted groups too). `Groups` and
    /// `OwnInvites` members may filter only by their own groups (§7.2 rule 5).
    pub group: Option<Uuid>,
    /// 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/connections", tag = "connections",
    params(ListConnectionsParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The connections the caller may see, newest first", body = ConnectionList),
        (status = 403, description = "`forbidden`: filtering by a group that is not the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The connections the caller may see (§7.2, applied in the database query).
pub async fn list_connections(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<ListConnectionsParams>,
) -> ApiResult<axum::Json<ConnectionList>> {
    let Paging::Cursor { after, limit } =
        paging::<ConnectionCursor>(params.limit, params.cursor.as_deref(), None, None, ORDER)?
    else {
        return Err(ApiError::bad_request("cursor", "invalid_parameter", "connections are paged by cursor"));
    };
    let group = params.group.map(GroupId::from_uuid);
    let rows = state.services.list_connections(&auth.actor, group, after, limit).await?;
    // A full page may have a successor; the cursor is the last row's keyset position.
    let next_cursor = (u32::try_from(rows.len()).is_ok_and(|n| n == limit))
        .then(|| rows.last().map(|c| encode_cursor(ORDER, &ConnectionCursor { created_at: c.created_at, id: c.id })))
        .flatten();
    Ok(axum::Json(ConnectionList { items: rows.iter().map(ConnectionBody::from).collect(), next_cursor, total: None }))
}

/// `POST /connections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    pub email: String,
    pub name: String,
    pub flow_id: Option<Uuid>,
    /// A group id, or `"organization"`; absent: the inviter's current groups (§7.1).
    pub group: Option<String>,
    /// Members who also see the connection.
    #[serde(default)]
    pub cc: Vec<Uuid>,
}

fn parse_choice(text: &str) -> Result<GroupChoice, roster_domain::FieldError> {
    if text == "organization" {
        return Ok(GroupChoice::Organization);
    }
    text.parse::<Uuid>()
        .map(|id| GroupChoice::Group(GroupId::from_uuid(id)))
        .map_err(|_| roster_domain::FieldError::new("group", "invalid_format", "a group id or \"organization\""))
}

#[utoipa::path(
    post, path = "/api/v1/connections", tag = "connections",
    request_body = CreateConnectionRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The connection, with its group stamp and user token", body = CreatedConnectionBody,
            headers(("Location" = String, description = "The connection's URL"))),
        (status = 403, description = "`forbidden`: no `invite_connections`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the picked group does not exist or is deleted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, a group the caller may not pick, unknown cc or flow, `flow_not_allowed`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Invites a connection, stamped by the rules of §7.1 (needs `invite_connections`).
pub async fn create_connection(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateConnectionRequest>,
) -> ApiResult<Response> {
    let email = parse("email", &body.email, Email::parse);
    let name = parse("name", &body.name, PersonName::parse);
    let group = body.group.as_deref().map(parse_choice).transpose();
    check([email.as_ref().err(), name.as_ref().err(), group.as_ref().err()])?;
    let new = NewConnection {
        email: ok(email)?,
        name: ok(name)?,
        flow_id: body.flow_id.map(FlowId::from_uuid),
        group: ok(group)?,
        cc: body.cc.into_iter().map(UserId::from_uuid).collect(),
    };
    let created = state.services.create_connection(&auth.actor, new).await?;
    let location = format!("/api/v1/connections/{}", created.connection.id);
    let body =
        CreatedConnectionBody { connection: ConnectionBody::from(&created.connection), user_token: created.user_token };
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&location) {
        response.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(response)
}

#[utoipa::path(
    get, path = "/api/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The connection", body = ConnectionBody),
        (status = 404, description = "No such connection, or one the caller may not see", body = Problem, content_type = "application/problem+json"),
    )
)]
/// One connection the caller may see; one they may not see is `not_found`.
pub async fn get_connection(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ConnectionBody>> {
    let c = state.services.get_connection(&auth.actor, path_id(&id, "connection")?).await?;
    Ok(axum::Json(ConnectionBody::from(&c)))
}

/// Whether a member sees a connection, and by which rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessBody {
    pub visible: bool,
    /// `all`, `group`, `inviter`, `cc`, `ungrouped`, or `null` when not visible.
    pub rule: Option<String>,
    /// The shared group, for `rule: "group"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Uuid>,
}

fn rule_name(rule: AccessRule) -> &'static str {
    match rule {
        AccessRule::All => "all",
        AccessRule::Group => "group",
        AccessRule::Inviter => "inviter",
        AccessRule::Cc => "cc",
        AccessRule::Ungrouped => "ungrouped",
    }
}

impl From<Access> for AccessBody {
    fn from(a: Access) -> Self {
        Self {
            visible: a.visible,
            rule: a.rule.map(|r| rule_name(r).to_owned()),
            group_id: a.group_id.map(|g| g.as_uuid()),
        }
    }
}

/// `GET /connections/{id}/access` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessParams {
    /// The member asked about.
    pub viewer: Uuid,
}

#[utoipa::path(
    get, path = "/api/v1/connections/{id}/access", tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id"), AccessParams),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Whether the viewer sees the connection, and by which rule", body = AccessBody),
        (status = 403, description = "`forbidden`: asking about someone else without `manage_users`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection or viewer", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Explains whether `viewer` sees the connection (members may ask about themselves; asking
/// about others needs `manage_users`).
pub async fn explain_access(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<AccessParams>,
) -> ApiResult<axum::Json<AccessBody>> {
    let id = path_id(&id, "connection")?;
    let access = state.services.explain_access(&auth.actor, id, UserId::from_uuid(params.viewer)).await?;
    Ok(axum::Json(AccessBody::from(access)))
}

/// A member who sees a connection, and by which rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViewerBody {
    pub user_id: Uuid,
    #[serde(flatten)]
    pub access: AccessBody,
}

/// Everyone who sees a connection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViewerList {
    pub items: Vec<ViewerBody>,
    /// Always `null`: the list is answered whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/connections/{id}/viewers", tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Every member who can sign in and sees the connection", body = ViewerList),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
    )
)]
/// Who sees a connection, each with the rule (needs `manage_users`).
pub async fn connection_viewers(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ViewerList>> {
    let viewers = state.services.connection_viewers(&auth.actor, path_id(&id, "connection")?).await?;
    let items: Vec<ViewerBody> = viewers
        .into_iter()
        .map(|(user, access)| ViewerBody { user_id: user.as_uuid(), access: AccessBody::from(access) })
        .collect();
    let total = super::common::total_of(&items);
    Ok(axum::Json(ViewerList { items, next_cursor: None, total }))
}

/// One choice of the group dropdown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupChoiceBody {
    /// A group id, or `"organization"` — the value to send as `group` in `POST /connections`.
    pub group: String,
    /// "Organization", or the group's path.
    pub label: String,
}

impl From<GroupChoiceItem> for GroupChoiceBody {
    fn from(c: GroupChoiceItem) -> Self {
        Self { group: c.group_id.map_or_else(|| "organization".to_owned(), |g| g.to_string()), label: c.label }
    }
}

/// The group dropdown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupChoiceList {
    pub items: Vec<GroupChoiceBody>,
    /// Always `null`: the list is answered whole.
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

#[utoipa::path(
    get, path = "/api/v1/connections/group-choices", tag = "connections",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "What the caller may pick as a new connection's group (§7.1)", body = GroupChoiceList))
)]
/// The group dropdown of a new connection for the caller.
pub async fn group_choices(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<axum::Json<GroupChoiceList>> {
    let choices = state.services.connection_group_choices(&auth.actor).await?;
    let items: Vec<GroupChoiceBody> = choices.into_iter().map(GroupChoiceBody::from).collect();
    let total = super::common::total_of(&items);
    Ok(axum::Json(GroupChoiceList { items, next_cursor: None, total }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_choice_is_an_id_or_organization() {
        assert_eq!(parse_choice("organization").unwrap(), GroupChoice::Organization);
        let id = Uuid::from_u128(7);
        assert_eq!(parse_choice(&id.to_string()).unwrap(), GroupChoice::Group(GroupId::from_uuid(id)));
        assert_eq!(parse_choice("Organization").unwrap_err().field, "group");
        assert!(parse_choice("sales").is_err());
    }
}
