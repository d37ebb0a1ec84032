//! Roles, permissions and visibility (§5).
//!
//! A member sees connections with the widest visibility among their roles
//! ([`widest_visibility`]); what they may do is their grants' authority, resolved in `actor`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::ids::{GroupId, OrgId, RoleId};
use crate::values::{Key, Label};

/// What a role lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Create, edit, deactivate, delete and restore members, set their roles and grants.
    ManageUsers,
    /// Assign and remove members' licenses; invite members with products.
    ManageLicenses,
    /// Create, rename, move and delete groups, and change their members (§6).
    ManageGroups,
    /// Create, edit and delete custom roles.
    ManageRoles,
    /// Change the organization's settings (§2).
    ManageSettings,
    /// Create and revoke API keys and manage webhook endpoints.
    ManageApiKeys,
    /// Act as another member for support (§10); never nested, never across organizations.
    Impersonate,
    /// See reports of the product and the billing summary; grantable per user.
    ViewReporting,
    /// Score recorded calls in the product; grantable per user.
    AudioScoring,
    /// Download CSV exports (users, groups, audit).
    ExportData,
    /// Invite connections (§7.1): records stamped with the inviter's groups.
    InviteConnections,
    /// Read the audit log and the integration event feed (§9).
    ViewAudit,
    /// Provision members and groups through SCIM (§13): what an identity provider's API key
    /// holds.
    Scim,
}

impl Permission {
    /// Every permission, in declaration order (the `admin` role holds them all).
    pub const ALL: [Permission; 13] = [
        Self::ManageUsers,
        Self::ManageLicenses,
        Self::ManageGroups,
        Self::ManageRoles,
        Self::ManageSettings,
        Self::ManageApiKeys,
        Self::Impersonate,
        Self::ViewReporting,
        Self::AudioScoring,
        Self::ExportData,
        Self::InviteConnections,
        Self::ViewAudit,
        Self::Scim,
    ];

    /// Whether the permission administers other members or the organization. A grant's scope
    /// limits these; the others (inviting connections, reporting, scoring, export) concern only
    /// the holder's own work.
    pub const fn is_administrative(self) -> bool {
        matches!(
            self,
            Self::ManageUsers
                | Self::ManageLicenses
                | Self::ManageGroups
                | Self::ManageRoles
                | Self::ManageSettings
                | Self::ManageApiKeys
                | Self::Impersonate
                | Self::ViewAudit
                | Self::Scim
        )
    }

    /// What provisioning through SCIM takes (§13), besides `scim` itself: creating, changing,
    /// deactivating and deleting members, giving them the organization's `scim_products`,
    /// keeping group members, and covering what an ordinary member holds (the rule of
    /// dominance compares permissions a provisioned member has with the provider's).
    pub const PROVISIONING: [Permission; 7] = [
        Self::ManageUsers,
        Self::ManageLicenses,
        Self::ManageGroups,
        Self::InviteConnections,
        Self::ViewReporting,
        Self::AudioScoring,
        Self::ExportData,
    ];

    /// The permissions an admin may grant to one user outside any role (§5 per-user grants).
    pub const GRANTABLE: [Permission; 2] = [Self::ViewReporting, Self::AudioScoring];

    /// The permission's name on the wire and in role definitions (`manage_users`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ManageUsers => "manage_users",
            Self::ManageLicenses => "manage_licenses",
            Self::ManageGroups => "manage_groups",
            Self::ManageRoles => "manage_roles",
            Self::ManageSettings => "manage_settings",
            Self::ManageApiKeys => "manage_api_keys",
            Self::Impersonate => "impersonate",
            Self::ViewReporting => "view_reporting",
            Self::AudioScoring => "audio_scoring",
            Self::ExportData => "export_data",
            Self::InviteConnections => "invite_connections",
            Self::ViewAudit => "view_audit",
            Self::Scim => "scim",
        }
    }
}

/// Which connections a role's holder sees (§7.2). Ordered from narrowest to widest, so the
/// effective visibility of several roles is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Only the connections the holder invited or is cc'd on.
    OwnInvites,
    /// The connections stamped with one of the holder's groups, plus those they invited or are
    /// cc'd on; every connection while the holder has no group (ungrouped).
    Groups,
    /// Every connection of the organization.
    All,
}

/// A role of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Unique; the id role assignments refer to.
    pub id: RoleId,
    /// The organization the role belongs to; built-in roles exist once per organization.
    pub org_id: OrgId,
    /// The role's key, unique in the organization (`admin`, `team_lead`); assignments may name a
    /// role by it.
    pub key: Key,
    /// The name people see (`Team lead`).
    pub name: Label,
    /// What the role lets its holder do; a holder's effective permissions are the union over their
    /// roles.
    pub permissions: BTreeSet<Permission>,
    /// Which connections the holder sees (§7.2); a holder's is the widest over their roles.
    pub visibility: Visibility,
    /// `false` for roles only the operator CLI may grant (`scorer`).
    pub assignable: bool,
    /// Whether the role is one of [`BUILTIN_ROLES`]: it can be neither changed nor deleted.
    pub builtin: bool,
}

impl Role {
    /// The role's revision for optimistic concurrency (`ETag` / `If-Match`, §10): a digest of
    /// everything a client can change or see (key, name, permissions, visibility). Roles carry
    /// no stored version, so the revision is derived from their content; two revisions are
    /// equal exactly when the roles read the same. Never 0.
    pub fn revision(&self) -> u64 {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(self.key.as_str().as_bytes());
        hash.update([0]);
        hash.update(self.name.as_str().as_bytes());
        hash.update([0]);
        for p in &self.permissions {
            hash.update(p.as_str().as_bytes());
            hash.update([1]);
        }
        hash.update([self.visibility as u8, u8::from(self.assignable), u8::from(self.builtin)]);
        let digest = hash.finalize();
        let mut first = [0_u8; 8];
        first.copy_from_slice(&digest[..8]);
        // Keep it within JavaScript's safe integers, so console clients can hold it as a number.
        (u64::from_be_bytes(first) >> 11).max(1)
    }
}

/// A role as a request names it: by id, or by key as a person or a script writes it (§10: role
/// assignments take "a role key or id"). Serialized as that text (a job's input keeps it so).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RoleRef {
    /// A role of the organization by id.
    Id(RoleId),
    /// A role of the organization by key.
    Key(Key),
}

impl RoleRef {
    /// Reads a role reference: a UUID names a role by id, anything else must be a role key.
    ///
    /// # Errors
    /// The [`Key`] error for text that is neither a UUID nor a valid key (no role can have
    /// that name).
    pub fn parse(text: &str) -> Result<Self, crate::values::ValueError> {
        match text.parse::<RoleId>() {
            Ok(id) => Ok(Self::Id(id)),
            Err(_) => Key::parse(text).map(Self::Key),
        }
    }

    /// The role of `roles` this reference names, if any.
    pub fn find<'a>(&self, roles: &'a [Role]) -> Option<&'a Role> {
        match self {
            Self::Id(id) => roles.iter().find(|r| r.id == *id),
            Self::Key(key) => roles.iter().find(|r| r.key == *key),
        }
    }
}

impl TryFrom<String> for RoleRef {
    type Error = crate::values::ValueError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<RoleRef> for String {
    fn from(role: RoleRef) -> Self {
        match role {
            RoleRef::Id(id) => id.to_string(),
            RoleRef::Key(key) => key.as_str().to_owned(),
        }
    }
}

impl From<Key> for RoleRef {
    fn from(key: Key) -> Self {
        Self::Key(key)
    }
}

impl From<RoleId> for RoleRef {
    fn from(id: RoleId) -> Self {
        Self::Id(id)
    }
}

impl std::fmt::Display for RoleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => std::fmt::Display::fmt(id, f),
            Self::Key(key) => f.write_str(key.as_str()),
        }
    }
}

/// A role held by a user, possibly limited to a group subtree (scoped administration).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoleGrant {
    /// The role held.
    pub role_id: RoleId,
    /// `None`: the whole organization. `Some(g)`: only `g` and the groups below it.
    pub scope: Option<GroupId>,
}

impl RoleGrant {
    /// A grant of the role over the whole organization.
    pub fn org_wide(role_id: RoleId) -> Self {
        Self { role_id, scope: None }
    }
}

/// The definition of a built-in role, created for every organization.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinRole {
    /// The role's key in every organization.
    pub key: &'static str,
    /// The name people see (`Team lead`).
    pub name: &'static str,
    /// What the role lets its holder do.
    pub permissions: &'static [Permission],
    /// Which connections its holder sees.
    pub visibility: Visibility,
    /// `false` for roles only the operator CLI may grant (`scorer`).
    pub assignable: bool,
}

use Permission as P;

/// The built-in roles of §5, in the order the console lists them.
pub const BUILTIN_ROLES: [BuiltinRole; 10] = [
    BuiltinRole {
        key: "admin",
        name: "Admin",
        permissions: &Permission::ALL,
        visibility: Visibility::All,
        assignable: true,
    },
    BuiltinRole {
        key: "full_member",
        name: "Full member",
        permissions: &[P::InviteConnections, P::ExportData, P::ViewReporting],
        visibility: Visibility::All,
        assignable: true,
    },
    BuiltinRole {
        key: "team_lead",
        name: "Team lead",
        permissions: &[P::ViewReporting, P::AudioScoring, P::ExportData],
        visibility: Visibility::All,
        assignable: true,
    },
    BuiltinRole {
        key: "analyst",
        name: "Analyst",
        permissions: &[P::ViewReporting, P::ExportData],
        visibility: Visibility::All,
        assignable: true,
    },
    BuiltinRole {
        key: "standard",
        name: "Standard",
        permissions: &[P::InviteConnections],
        visibility: Visibility::Groups,
        assignable: true,
    },
    BuiltinRole {
        key: "operations",
        name: "Operations",
        permissions: &[P::InviteConnections],
        visibility: Visibility::Groups,
        assignable: true,
    },
    BuiltinRole {
        key: "operations_limited",
        name: "Operations (limited)",
        permissions: &[P::InviteConnections],
        visibility: Visibility::OwnInvites,
        assignable: true,
    },
    BuiltinRole {
        key: "read_only",
        name: "Read-only",
        permissions: &[],
        visibility: Visibility::Groups,
        assignable: true,
    },
    BuiltinRole {
        key: "identified_only",
        name: "Identified-only",
        permissions: &[],
        visibility: Visibility::OwnInvites,
        assignable: true,
    },
    BuiltinRole {
        key: "scorer",
        name: "Scorer",
        permissions: &[P::AudioScoring],
        visibility: Visibility::All,
        assignable: false,
    },
];

/// The key of the role whose last active holder is protected (§3.1 `last_admin`).
pub const ADMIN_ROLE_KEY: &str = "admin";

impl BuiltinRole {
    /// Builds the role for an organization.
    pub fn to_role(&self, id: RoleId, org_id: OrgId) -> Role {
        Role {
            id,
            org_id,
            key: Key::parse(self.key).expect("built-in role keys are valid"),
            name: Label::parse(self.name).expect("built-in role names are valid"),
            permissions: self.permissions.iter().copied().collect(),
            visibility: self.visibility,
            assignable: self.assignable,
            builtin: true,
        }
    }
}

/// The widest visibility among roles; a user with no role sees only their own invites.
pub fn widest_visibility<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Visibility {
    roles.into_iter().map(|r| r.visibility).max().unwrap_or(Visibility::OwnInvites)
}
