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

/// A record a member invited (§7.1): an end user of the vendor's product, not a member of
/// Roster, stamped with groups that decide who sees it (§7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Unique; never changes.
    pub id: ConnectionId,
    /// The organization the connection belongs to.
    pub org_id: OrgId,
    /// The invited person's email, normalized; not unique (one person may be invited twice).
    pub email: Email,
    /// The invited person's name.
    pub name: PersonName,
    /// The flow the connection was invited into; it must be allowed by every stamped group that has
    /// flows (§7.3).
    pub flow_id: Option<FlowId>,
    /// The member who invited (an API key's creator); they always see it, and moving them with
    /// `transfer_records` restamps it.
    pub inviter_id: UserId,
    /// The group stamp; empty means "Organization".
    pub groups: BTreeSet<GroupId>,
    /// Members copied on the invite; each of them sees it whatever their visibility (§7.2).
    pub cc: BTreeSet<UserId>,
    /// The API key it was created with, if any; a key bound to a group stamps its connections.
    pub via_api_key: Option<ApiKeyId>,
    /// The SHA-256 ([`hash_token`](crate::invites::hash_token)) of the token the vendor's
    /// product hands to the connection. The token itself is answered once, by the creation
    /// ([`CreatedConnection`](crate::services::CreatedConnection)), and stored nowhere (ADR 0027).
    pub user_token_hash: String,
    /// When the connection was created; the list's newest-first order and cursor use it.
    pub created_at: OffsetDateTime,
}

/// A flow of the vendor's product that connections are invited into; groups may restrict
/// which flows their connections use (§7.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// Unique; never changes.
    pub id: FlowId,
    /// The organization the flow belongs to.
    pub org_id: OrgId,
    /// The name people see.
    pub name: Label,
    /// When the flow was created.
    pub created_at: OffsetDateTime,
}

/// An API key (§7.4): a secret an integration authenticates with (`Bearer rk_…`), acting for
/// its creator with at most its own permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Unique; never changes.
    pub id: ApiKeyId,
    /// The organization the key acts in.
    pub org_id: OrgId,
    /// A name its creator chose to recognize it (`okta`, `billing sync`).
    pub name: Label,
    /// The group the key is bound to: connections created with it are stamped with that group, and
    /// deleting the group revokes the key (§7.4). `None` for an unbound key.
    pub group_id: Option<GroupId>,
    /// The most the key may do; it acts with these intersected with its creator's current ones.
    pub permissions: BTreeSet<Permission>,
    /// The member who created the key; connections made with it have them as inviter.
    pub created_by: UserId,
    /// SHA-256 of the secret; the secret itself is shown once and never stored.
    pub secret_hash: String,
    /// When the key was created.
    pub created_at: OffsetDateTime,
    /// When the key last authenticated a request; `None` if never.
    pub last_used_at: Option<OffsetDateTime>,
    /// When the key was revoked (by an admin or its group's deletion); it never works again.
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// Whether the key is not revoked (it may still be suspended, see [`Suspension`]).
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
    /// The reason's code on the wire (`creator_deactivated`).
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
    /// The key as stored.
    pub key: ApiKey,
    /// Set while the key is not revoked but its creator cannot act.
    pub suspended: Option<Suspension>,
}

/// What the inviter picked in the group dropdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupChoice {
    /// "Organization": no group stamp (an empty set).
    Organization,
    /// One live group; picking the root is picking "Organization".
    Group(GroupId),
}

/// The facts about the inviter that stamping needs.
#[derive(Debug, Clone)]
pub struct Inviter<'a> {
    /// The inviter's effective visibility: `All` members may pick any live group.
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
