//! Connections (the records members invite), flows and API keys (§7.1, §7.3, §7.4), and the
//! stamping rule that decides a new connection's groups.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::groups::GroupTree;
use crate::ids::{ApiKeyId, ConnectionId, FlowId, GroupId, OrgId, UserId};
use crate::roles::{Permission, Visibility};
use crate::values::{Email, Label, PersonName};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub org_id: OrgId,
    pub email: Email,
    pub name: PersonName,
    pub flow_id: Option<FlowId>,
    pub inviter_id: UserId,
    /// The group stamp; empty means "Organization".
    pub groups: BTreeSet<GroupId>,
    pub cc: BTreeSet<UserId>,
    pub via_api_key: Option<ApiKeyId>,
    /// The SHA-256 ([`hash_token`](crate::invites::hash_token)) of the token the vendor's
    /// product hands to the connection. The token itself is answered once, by the creation
    /// ([`CreatedConnection`](crate::services::CreatedConnection)), and stored nowhere (ADR 0027).
    pub user_token_hash: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub id: FlowId,
    pub org_id: OrgId,
    pub name: Label,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: Label,
    pub group_id: Option<GroupId>,
    pub permissions: BTreeSet<Permission>,
    /// The member who created the key; connections made with it have them as inviter.
    pub created_by: UserId,
    /// SHA-256 of the secret; the secret itself is shown once and never stored.
    pub secret_hash: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// Why a key that is not revoked cannot act (§7.4): a key acts for its creator, so it stops
/// working while its creator cannot act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suspension {
    /// The creator was deactivated (or has not joined): reactivating them revives the key.
    CreatorDeactivated,
    /// The creator was deleted.
    CreatorDeleted,
}

impl Suspension {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreatorDeactivated => "creator_deactivated",
            Self::CreatorDeleted => "creator_deleted",
        }
    }

    /// The reason in words.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::CreatorDeactivated => "its creator is deactivated",
            Self::CreatorDeleted => "its creator was deleted",
        }
    }
}

/// A key as the organization's list shows it: with whether it is suspended, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedApiKey {
    pub key: ApiKey,
    /// Set while the key is not revoked but its creator cannot act.
    pub suspended: Option<Suspension>,
}

/// What the inviter picked in the group dropdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupChoice {
    Organization,
    Group(GroupId),
}

/// The facts about the inviter that stamping needs.
#[derive(Debug, Clone)]
pub struct Inviter<'a> {
    pub visibility: Visibility,
    /// Current memberships (not extra group access: access lets one see, not stamp).
    pub groups: &'a BTreeSet<GroupId>,
    /// The group of the API key the connection is created with, if bound.
    pub api_key_group: Option<GroupId>,
}

/// The choices the group dropdown offers the inviter (§7.1). `None` stands for "Organization".
pub fn group_choices(inviter: &Inviter<'_>, tree: &GroupTree) -> Vec<Option<GroupId>> {
    if inviter.visibility == Visibility::All {
        let mut out = vec![None];
        out.extend(tree.iter().filter(|g| g.is_live() && !g.is_root()).map(|g| Some(g.id)));
        return out;
    }
    if inviter.groups.is_empty() {
        return vec![None];
    }
    inviter.groups.iter().map(|g| Some(*g)).collect()
}

/// Decides the stamp of a new connection (§7.1).
///
/// # Errors
/// `validation_failed` on `group` when the inviter may not pick that choice, `not_found` when
/// the group does not exist or is deleted.
pub fn stamp(inviter: &Inviter<'_>, choice: Option<GroupChoice>, tree: &GroupTree) -> ServiceResult<BTreeSet<GroupId>> {
    if let Some(g) = inviter.api_key_group {
        return Ok(BTreeSet::from([g]));
    }
    let choice = match choice {
        // Picking the root group is picking "Organization": the root stands for the org.
        Some(GroupChoice::Group(g)) if tree.get(g).is_some_and(|g| g.is_root()) => Some(GroupChoice::Organization),
        other => other,
    };
    match choice {
        None => Ok(inviter.groups.clone()),
        Some(GroupChoice::Organization) => {
            if inviter.visibility == Visibility::All || inviter.groups.is_empty() {
                Ok(BTreeSet::new())
            } else {
                Err(not_your_group("\"Organization\" is only for members without a group"))
            }
        }
        Some(GroupChoice::Group(g)) => {
            tree.live(g)?;
            if inviter.visibility == Visibility::All || inviter.groups.contains(&g) {
                Ok(BTreeSet::from([g]))
            } else {
                Err(not_your_group("you may only pick one of your own groups"))
            }
        }
    }
}

fn not_your_group(message: &str) -> ServiceError {
    ServiceError::Validation(vec![FieldError::new("group", "group_not_allowed", message)])
}

/// Checks the flow against the flows assigned to the stamped groups (§7.3): every stamped group
/// that has flows must list the chosen one; a group with none accepts any flow.
///
/// # Errors
/// `flow_not_allowed`.
pub fn check_flow(
    stamp: &BTreeSet<GroupId>,
    flow: Option<FlowId>,
    group_flows: &BTreeMap<GroupId, BTreeSet<FlowId>>,
) -> ServiceResult<()> {
    let Some(flow) = flow else { return Ok(()) };
    for g in stamp {
        if let Some(allowed) = group_flows.get(g)
            && !allowed.is_empty()
            && !allowed.contains(&flow)
        {
            return Err(ServiceError::FlowNotAllowed);
        }
    }
    Ok(())
}
