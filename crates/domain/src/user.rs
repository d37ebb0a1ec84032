//! Users, their settings and the derived status of §3.1.
//!
//! A user's status is never stored: [`derive_status`] computes it from facts (deactivated,
//! invited, system reasons, licenses held, onboarding), with the precedence of the spec.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::ids::{GroupId, OrgId, RoleId, UserId};
use crate::roles::{Permission, RoleGrant};
use crate::values::{AgentId, CrmId, Email, Nicknames, PersonName, Phone};

/// How long a deleted user can be restored.
pub const RESTORE_WINDOW: Duration = Duration::days(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub phone: Option<Phone>,
    pub nicknames: Nicknames,
    pub crm_id: Option<CrmId>,
    pub agent_id: Option<AgentId>,
    pub agent_ring_number: Option<Phone>,
    pub dialer_number: Option<Phone>,
    pub roles: BTreeSet<RoleGrant>,
    /// Per-user grants outside roles (§5): only `view_reporting` and `audio_scoring`.
    pub extra_permissions: BTreeSet<Permission>,
    /// Groups whose records the user may see besides their memberships (roaming agents).
    pub group_access: BTreeSet<GroupId>,
    pub settings: UserSettings,
    pub lifecycle: Lifecycle,
    /// Whether the user has set a password (the hash itself lives only in the store).
    pub has_password: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Incremented by every change; `If-Match` compares against it.
    pub version: u64,
}

impl User {
    /// A new member with default settings, no optional facts, no licenses and no password.
    pub fn new(
        id: UserId,
        org_id: OrgId,
        email: Email,
        first_name: PersonName,
        last_name: PersonName,
        roles: BTreeSet<RoleGrant>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            org_id,
            email,
            first_name,
            last_name,
            phone: None,
            nicknames: Nicknames::empty(),
            crm_id: None,
            agent_id: None,
            agent_ring_number: None,
            dialer_number: None,
            roles,
            extra_permissions: BTreeSet::new(),
            group_access: BTreeSet::new(),
            settings: UserSettings::default(),
            lifecycle: Lifecycle::default(),
            has_password: false,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// A label for the audit log: "Ada Lovelace <ada@example.com>".
    pub fn label(&self) -> String {
        format!("{} <{}>", self.display_name(), self.email)
    }

    pub fn is_deleted(&self) -> bool {
        self.lifecycle.deleted_at.is_some()
    }

    pub fn is_deactivated(&self) -> bool {
        self.lifecycle.deactivated_at.is_some()
    }

    /// Whether the user may hold licenses: not deactivated and not deleted (§4.3).
    pub fn can_hold_licenses(&self) -> bool {
        !self.is_deleted() && !self.is_deactivated()
    }

    /// Billable users are not deactivated, not deleted and not invited (§3.1, §4.4).
    pub fn is_billable(&self) -> bool {
        self.can_hold_licenses() && !self.lifecycle.invited
    }

    /// Whether the user counts as an active admin (§3.1): holds the organization's `admin`
    /// role (`admin_role`) organization-wide and is billable (not deactivated, deleted or
    /// invited). The organization always keeps one.
    pub fn is_active_admin(&self, admin_role: RoleId) -> bool {
        self.is_billable() && self.roles.iter().any(|g| g.role_id == admin_role && g.scope.is_none())
    }

    /// Refuses a member taking themself out of work — deactivating or deleting their own
    /// account, directly, in bulk or scheduled for later (§3.1): a lock-out the account could
    /// not undo. `by` is the member acting, `None` for the operator and the workers.
    ///
    /// # Errors
    /// `self_deactivation`.
    pub fn ensure_removable_by(&self, by: Option<UserId>) -> ServiceResult<()> {
        if by == Some(self.id) { Err(ServiceError::SelfDeactivation) } else { Ok(()) }
    }

    /// Changes the email. An invitee's email is fixed until they accept (§5): the invite was
    /// made for that address, and its link must not go anywhere else — revoke the invite and
    /// invite the new address instead.
    ///
    /// # Errors
    /// `validation_failed` on `email` (code `invite_pending`) for an invitee given another
    /// address.
    pub fn change_email(&mut self, email: Email) -> ServiceResult<()> {
        if self.lifecycle.invited && email != self.email {
            return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                "email",
                "invite_pending",
                "an invitee's email is fixed until they accept: revoke the invite and invite the new address",
            )]));
        }
        self.email = email;
        Ok(())
    }

    /// Checks an `If-Match` version.
    ///
    /// # Errors
    /// `precondition_failed` when `expected` is given and differs.
    pub fn check_version(&self, expected: Option<u64>) -> ServiceResult<()> {
        match expected {
            Some(v) if v != self.version => {
                Err(ServiceError::PreconditionFailed { kind: "user", current: self.version })
            }
            _ => Ok(()),
        }
    }

    /// Marks the user as changed at `now`.
    pub fn touch(&mut self, now: OffsetDateTime) {
        self.updated_at = now;
        self.version += 1;
    }
}

/// The lifecycle facts from which the status is derived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub deactivated_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    /// Created by an invite that has not been accepted.
    pub invited: bool,
    /// System reasons for `inactive`, set by CRM sync, mailbox checks and billing.
    pub inactive_reasons: BTreeSet<InactiveReason>,
    /// Whether the user ever held a Core license (distinguishes `revoked` from `no_license`).
    pub ever_held_core: bool,
    pub crm_connected: bool,
    pub mailbox_connected: bool,
}

/// Why the system considers a user inactive (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InactiveReason {
    InactiveInCrm,
    InactiveInMailbox,
    AccountFailure,
    PackageExpired,
    NoLicense,
}

/// The status shown in the Users table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reasons", rename_all = "snake_case")]
pub enum Status {
    /// Soft-deleted; only restore and the audit log still see them.
    Deleted,
    Deactivated,
    Invited,
    Inactive(BTreeSet<InactiveReason>),
    Revoked,
    Pending,
    Active,
}

impl Status {
    pub fn kind(&self) -> StatusKind {
        match self {
            Self::Deleted => StatusKind::Deleted,
            Self::Deactivated => StatusKind::Deactivated,
            Self::Invited => StatusKind::Invited,
            Self::Inactive(_) => StatusKind::Inactive,
            Self::Revoked => StatusKind::Revoked,
            Self::Pending => StatusKind::Pending,
            Self::Active => StatusKind::Active,
        }
    }
}

/// The status without its reasons, for filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Deleted,
    Deactivated,
    Invited,
    Inactive,
    Revoked,
    Pending,
    Active,
}

/// The facts [`derive_status`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusFacts {
    pub deleted: bool,
    pub deactivated: bool,
    pub invited: bool,
    pub reasons: BTreeSet<InactiveReason>,
    /// Holds an explicit Core assignment.
    pub holds_core: bool,
    pub ever_held_core: bool,
    /// The organization's trial is running (everyone is entitled to Core).
    pub in_trial: bool,
    pub onboarding_complete: bool,
}

impl StatusFacts {
    /// Gathers the facts of `user`.
    pub fn of(user: &User, holds_core: bool, in_trial: bool) -> Self {
        let l = &user.lifecycle;
        Self {
            deleted: l.deleted_at.is_some(),
            deactivated: l.deactivated_at.is_some(),
            invited: l.invited,
            reasons: l.inactive_reasons.clone(),
            holds_core,
            ever_held_core: l.ever_held_core || holds_core,
            in_trial,
            onboarding_complete: l.crm_connected && l.mailbox_connected,
        }
    }
}

/// Derives the status with the precedence of §3.1: deactivated, invited, inactive (with
/// reasons, `no_license` being derived here: trial over and Core never held), revoked,
/// pending, active.
pub fn derive_status(f: &StatusFacts) -> Status {
    if f.deleted {
        return Status::Deleted;
    }
    if f.deactivated {
        return Status::Deactivated;
    }
    if f.invited {
        return Status::Invited;
    }
    let entitled = f.holds_core || f.in_trial;
    let mut reasons = f.reasons.clone();
    if !entitled && !f.ever_held_core {
        reasons.insert(InactiveReason::NoLicense);
    }
    if !reasons.is_empty() {
        return Status::Inactive(reasons);
    }
    if !entitled {
        return Status::Revoked;
    }
    if f.onboarding_complete { Status::Active } else { Status::Pending }
}

/// Mailbox provider of a user; it bounds the daily email throttle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxProvider {
    #[default]
    None,
    Google,
    Microsoft,
}

impl MailboxProvider {
    /// The provider's daily sending cap (§3).
    pub const fn daily_cap(self) -> u32 {
        match self {
            Self::Google => 1_800,
            Self::Microsoft => 4_500,
            Self::None => 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallRecording {
    #[default]
    Optional,
    Enforced,
    Disabled,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Homepage {
    #[default]
    Default,
    Leads,
}

/// Per-user product settings (§3). The throttle is kept within the provider's cap by
/// [`UserSettings::validate`], which every change goes through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSettings {
    pub mailbox_provider: MailboxProvider,
    pub email_throttle_max_per_day: u32,
    pub flow_enabled: bool,
    pub email_sync: bool,
    pub calendar_sync: bool,
    pub call_recording: CallRecording,
    pub homepage: Homepage,
    pub round_robin: bool,
    pub scoring_enabled: bool,
    pub roaming_agent: bool,
    pub voip_forward_to: Option<Phone>,
}

impl Default for UserSettings {
    fn default() -> Self {
        Self {
            mailbox_provider: MailboxProvider::None,
            email_throttle_max_per_day: 300,
            flow_enabled: true,
            email_sync: false,
            calendar_sync: false,
            call_recording: CallRecording::Optional,
            homepage: Homepage::Default,
            round_robin: false,
            scoring_enabled: false,
            roaming_agent: false,
            voip_forward_to: None,
        }
    }
}

impl UserSettings {
    /// Checks the throttle against the provider's cap.
    ///
    /// # Errors
    /// `validation_failed` on `settings.email_throttle_max_per_day`.
    pub fn validate(&self) -> ServiceResult<()> {
        let cap = self.mailbox_provider.daily_cap();
        if self.email_throttle_max_per_day == 0 || self.email_throttle_max_per_day > cap {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "settings.email_throttle_max_per_day",
                "out_of_range",
                format!("must be between 1 and {cap} for this mailbox provider"),
            )]));
        }
        Ok(())
    }
}
