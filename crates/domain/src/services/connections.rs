//! Connections: creation with stamping, the visible list, and the explanations of who sees
//! what (§7).

use std::collections::BTreeSet;

use crate::actor::{Actor, Principal};
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::connections::{Connection, GroupChoice, Inviter, check_flow, group_choices, stamp};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::groups::GroupTree;
use crate::ids::{ConnectionId, FlowId, GroupId, UserId};
use crate::invites::hash_token;
use crate::ports::Tx;
use crate::roles::{Permission, widest_visibility};
use crate::users_query::{UserQuery, within_scope};
use crate::values::{Email, PersonName};
use crate::visibility::{Access, ConnectionCursor, Viewer, can_see, explain, query_for};

use super::Services;
use super::support::{groups_of, load_tree, load_user, load_users, reader_scope};

/// `POST /connections`.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// The invited person's email.
    pub email: Email,
    /// The invited person's name.
    pub name: PersonName,
    /// The flow to invite them into; checked against the stamp's groups (§7.3).
    pub flow_id: Option<FlowId>,
    /// What the inviter picked in the group dropdown; `None` stamps the inviter's current groups
    /// (§7.1).
    pub group: Option<GroupChoice>,
    /// Members to copy on the connection; each then sees it (§7.2).
    pub cc: Vec<UserId>,
}

/// A connection just created, with the one answer that carries its token in clear (only its
/// hash is stored: ADR 0027).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedConnection {
    /// The connection as stored.
    pub connection: Connection,
    /// The token the vendor's product hands to the connection.
    pub user_token: String,
}

/// One entry of the group dropdown (`GET /connections/group-choices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChoiceItem {
    /// `None`: "Organization" (the empty stamp).
    pub group_id: Option<GroupId>,
    /// "Organization", or the group's path ("Acme / Sales / East").
    pub label: String,
}

impl Services {
    /// Creates a connection stamped by the rules of §7.1.
    ///
    /// # Errors
    /// `forbidden` without `invite_connections`, `validation_failed` (group not allowed,
    /// unknown cc or flow), `not_found` (group), `flow_not_allowed`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_connection(&self, actor: &Actor, new: NewConnection) -> ServiceResult<CreatedConnection> {
        actor.require(Permission::InviteConnections)?;
        let inviter_id =
            actor.user_id().ok_or_else(|| ServiceError::forbidden("connections are invited by a member"))?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let tree = load_tree(&mut *tx, org).await?;
        let api_key_group = match actor.principal() {
            Principal::ApiKey { group_id, .. } => *group_id,
            _ => None,
        };
        let inviter = Inviter { visibility: actor.visibility(), groups: actor.member_groups(), api_key_group };
        let groups = stamp(&inviter, new.group, &tree)?;
        if let Some(flow) = new.flow_id
            && !tx.flows(org).await?.iter().any(|f| f.id == flow)
        {
            return Err(ServiceError::Validation(vec![FieldError::new("flow_id", "unknown_flow", "no such flow")]));
        }
        check_flow(&groups, new.flow_id, &tx.group_flows(org).await?)?;
        let cc: BTreeSet<UserId> = load_users(&mut *tx, org, &new.cc, "cc").await?.into_iter().map(|u| u.id).collect();
        let user_token = self.ids.secret();
        let connection = Connection {
            id: self.new_id(),
            org_id: org,
            email: new.email,
            name: new.name,
            flow_id: new.flow_id,
            inviter_id,
            groups,
            cc,
            via_api_key: match actor.principal() {
                Principal::ApiKey { id, .. } => Some(*id),
                _ => None,
            },
            user_token_hash: hash_token(&user_token),
            created_at: self.now(),
        };
        tx.insert_connection(&connection).await?;
        self.audit(
            &mut *tx,
            actor,
            "connection.created",
            AuditTarget::new(
                TargetKind::Connection,
                connection.id,
                format!("{} <{}>", connection.name, connection.email),
            ),
            Changes::new().note("groups", &connection.groups).note("cc", &connection.cc),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedConnection { connection, user_token })
    }

    /// One page of the connections the actor may see, newest first; the visibility rule runs in
    /// the store's query (§7.2).
    ///
    /// # Errors
    /// `forbidden` (group filter outside the actor's groups), `validation_failed` (limit).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_connections(
        &self,
        actor: &Actor,
        group: Option<GroupId>,
        after: Option<ConnectionCursor>,
        limit: u32,
    ) -> ServiceResult<Vec<Connection>> {
        let query = query_for(actor, group, after, limit)?;
        let mut tx = self.store.single_read().await?;
        Ok(tx.list_connections(&query).await?)
    }

    /// A connection the actor may see; `not_found` otherwise (never revealing it exists).
    ///
    /// # Errors
    /// `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn get_connection(&self, actor: &Actor, id: ConnectionId) -> ServiceResult<Connection> {
        let mut tx = self.store.single_read().await?;
        let c = tx.connection(actor.org_id(), id).await?.ok_or(ServiceError::not_found("connection"))?;
        match Viewer::of(actor) {
            Some(v) if !actor.is_system() && !can_see(&v, &c) => Err(ServiceError::not_found("connection")),
            _ => Ok(c),
        }
    }

    /// Whether `viewer` sees the connection and by which rule. Members may ask about
    /// themselves; asking about others needs `manage_users` over them (a viewer outside a
    /// scoped administrator's scope is `not_found`, as on `GET /users/{id}`).
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn explain_access(&self, actor: &Actor, id: ConnectionId, viewer: UserId) -> ServiceResult<Access> {
        let scope = if actor.user_id() != Some(viewer) || !matches!(actor.principal(), Principal::User(_)) {
            reader_scope(actor)?
        } else {
            None
        };
        let mut tx = self.begin_read().await?;
        let org = actor.org_id();
        let c = tx.connection(org, id).await?.ok_or(ServiceError::not_found("connection"))?;
        let tree = self.read_tree(&mut *tx, org).await?;
        if let Some(scope) = &scope
            && !within_scope(scope, &groups_of(&mut *tx, org, viewer, &tree).await?)
        {
            return Err(ServiceError::not_found("user"));
        }
        let v = viewer_of(&mut *tx, org, viewer, &tree).await?;
        Ok(explain(&v, &c))
    }

    /// Every live member who sees the connection, with the rule; for a scoped administrator,
    /// only the members their scope covers.
    ///
    /// # Errors
    /// `forbidden` without `manage_users`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn connection_viewers(&self, actor: &Actor, id: ConnectionId) -> ServiceResult<Vec<(UserId, Access)>> {
        let within = reader_scope(actor)?;
        let mut tx = self.begin_read().await?;
        let org = actor.org_id();
        let c = tx.connection(org, id).await?.ok_or(ServiceError::not_found("connection"))?;
        let tree = self.read_tree(&mut *tx, org).await?;
        let users = tx.list_users(&UserQuery { within, ..UserQuery::new(org) }).await?.items;
        let mut out = Vec::new();
        // Members who can sign in: not deactivated and not invited (an invitee has not joined yet).
        for u in users.iter().filter(|u| u.is_billable()) {
            let v = viewer_of(&mut *tx, org, u.id, &tree).await?;
            let access = explain(&v, &c);
            if access.visible {
                out.push((u.id, access));
            }
        }
        Ok(out)
    }

    /// The group dropdown for a new connection, each choice with its label ("Organization",
    /// or the group's path).
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn connection_group_choices(&self, actor: &Actor) -> ServiceResult<Vec<GroupChoiceItem>> {
        let mut tx = self.begin_read().await?;
        let tree = self.read_tree(&mut *tx, actor.org_id()).await?;
        let inviter = Inviter { visibility: actor.visibility(), groups: actor.member_groups(), api_key_group: None };
        Ok(group_choices(&inviter, &tree)
            .into_iter()
            .map(|group_id| GroupChoiceItem {
                group_id,
                label: group_id.map_or_else(|| "Organization".to_owned(), |g| tree.path(g)),
            })
            .collect())
    }
}

/// The §7.2 viewer facts of a member.
pub(crate) async fn viewer_of(
    tx: &mut dyn Tx,
    org: crate::ids::OrgId,
    user: UserId,
    tree: &GroupTree,
) -> ServiceResult<Viewer> {
    let u = load_user(tx, org, user).await?;
    let roles = tx.roles(org).await?;
    let held: Vec<_> = roles.iter().filter(|r| u.roles.iter().any(|g| g.role_id == r.id)).cloned().collect();
    let mut groups = groups_of(tx, org, user, tree).await?;
    groups.extend(u.group_access.iter().copied().filter(|g| tree.get(*g).is_some_and(|g| g.is_live())));
    Ok(Viewer { id: user, visibility: widest_visibility(&held), groups })
}
