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
    ManageUsers,
    ManageLicenses,
    ManageGroups,
    ManageRoles,
    ManageSettings,
    ManageApiKeys,
    Impersonate,
    ViewReporting,
    AudioScoring,
    ExportData,
    InviteConnections,
    ViewAudit,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
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
        )
    }

    /// The permissions an admin may grant to one user outside any role (§5 per-user grants).
    pub const GRANTABLE: [Permission; 2] = [Self::ViewReporting, Self::AudioScoring];

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
        }
    }
}

/// Which connections a role's holder sees (§7.2). Ordered from narrowest to widest, so the
/// effective visibility of several roles is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    OwnInvites,
    Groups,
    All,
}

/// A role of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: RoleId,
    pub org_id: OrgId,
    pub key: Key,
    pub name: Label,
    pub permissions: BTreeSet<Permission>,
    pub visibility: Visibility,
    /// `false` for roles only the operator CLI may grant (`scorer`).
    pub assignable: bool,
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

/// A role held by a user, possibly limited to a group subtree (scoped administration).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoleGrant {
    pub role_id: RoleId,
    /// `None`: the whole organization. `Some(g)`: only `g` and the groups below it.
    pub scope: Option<GroupId>,
}

impl RoleGrant {
    pub fn org_wide(role_id: RoleId) -> Self {
        Self { role_id, scope: None }
    }
}

/// The definition of a built-in role, created for every organization.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinRole {
    pub key: &'static str,
    pub name: &'static str,
    pub permissions: &'static [Permission],
    pub visibility: Visibility,
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
