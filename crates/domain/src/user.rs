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
use crate::values::{AgentId, CrmId, DirectoryText, Email, Nicknames, PersonName, Phone, ValueError};

/// How long a deleted user can be restored.
pub const RESTORE_WINDOW: Duration = Duration::days(30);

/// A member of an organization (§3): profile, roles and grants, product settings and the
/// lifecycle facts from which the status is derived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique; never changes, and records the user created keep it even after deletion.
    pub id: UserId,
    /// The organization the user belongs to; never changes.
    pub org_id: OrgId,
    /// The login address, normalized; unique among the organization's users that are not deleted.
    pub email: Email,
    /// The given name.
    pub first_name: PersonName,
    /// The family name.
    pub last_name: PersonName,
    /// The user's phone; unique among the organization's users that are not deleted.
    pub phone: Option<Phone>,
    /// Other names the Users search finds the user by (§3); no duplicates, case-insensitively.
    pub nicknames: Nicknames,
    /// The CRM's id of the user (a Salesforce `005…` id); unique in the organization when present.
    pub crm_id: Option<CrmId>,
    /// The user's agent id in the vendor's product; unique in the organization when present.
    pub agent_id: Option<AgentId>,
    /// The number the dialer rings to reach the agent.
    pub agent_ring_number: Option<Phone>,
    /// The outbound number provisioned to the user for the dialer; the bulk action
    /// "deprovision dialer numbers" clears it.
    pub dialer_number: Option<Phone>,
    /// The roles the user holds, each organization-wide or scoped to a group subtree (§5); the use
    /// cases keep at least one.
    pub roles: BTreeSet<RoleGrant>,
    /// Per-user grants outside roles (§5): only `view_reporting` and `audio_scoring`.
    pub extra_permissions: BTreeSet<Permission>,
    /// Groups whose records the user may see besides their memberships (roaming agents).
    pub group_access: BTreeSet<GroupId>,
    /// The user's product settings (§3).
    pub settings: UserSettings,
    /// The facts the status is derived from (§3.1).
    pub lifecycle: Lifecycle,
    /// What an identity provider keeps about the member through SCIM (§13).
    pub directory: DirectoryAttributes,
    /// Whether the user has set a password (the hash itself lives only in the store).
    pub has_password: bool,
    /// When the user was created (by an admin, an invite, an import or a sign-up).
    pub created_at: OffsetDateTime,
    /// When any field last changed ([`User::touch`]).
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
            directory: DirectoryAttributes::default(),
            has_password: false,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// First and last name, as people read it: "Ada Lovelace".
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// A label for the audit log: "Ada Lovelace <ada@example.com>".
    pub fn label(&self) -> String {
        format!("{} <{}>", self.display_name(), self.email)
    }

    /// Whether the user was soft-deleted (§3.1); they keep their row and may be restored within
    /// [`RESTORE_WINDOW`].
    pub fn is_deleted(&self) -> bool {
        self.lifecycle.deleted_at.is_some()
    }

    /// Whether an admin deactivated the user (§3.1); they cannot log in and hold no license.
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

/// The attributes an identity provider sends through SCIM that Roster keeps as they are (§13):
/// none is a rule's input, each is shown back to the provider. `manager` is the manager's SCIM
/// id as sent, not checked against the members: a provider may send the manager after the
/// report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryAttributes {
    /// The provider's own id of the person (`externalId`), case-exact.
    pub external_id: Option<DirectoryText>,
    /// The job title.
    pub title: Option<DirectoryText>,
    /// The enterprise extension's `employeeNumber`.
    pub employee_number: Option<DirectoryText>,
    /// The enterprise extension's `costCenter`.
    pub cost_center: Option<DirectoryText>,
    /// The enterprise extension's `organization`.
    pub organization: Option<DirectoryText>,
    /// The enterprise extension's `division`.
    pub division: Option<DirectoryText>,
    /// The enterprise extension's `department`.
    pub department: Option<DirectoryText>,
    /// The enterprise extension's `manager.value`.
    pub manager: Option<DirectoryText>,
}

/// The lifecycle facts from which the status is derived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// When an admin deactivated the user; `None` while not deactivated (reactivation clears it).
    pub deactivated_at: Option<OffsetDateTime>,
    /// When the user was soft-deleted; `None` unless deleted (restore clears it).
    pub deleted_at: Option<OffsetDateTime>,
    /// Created by an invite that has not been accepted.
    pub invited: bool,
    /// System reasons for `inactive`, set by CRM sync, mailbox checks and billing.
    pub inactive_reasons: BTreeSet<InactiveReason>,
    /// Whether the user ever held a Core license (distinguishes `revoked` from `no_license`).
    pub ever_held_core: bool,
    /// Onboarding fact set by the product through the API: the user connected their CRM.
    pub crm_connected: bool,
    /// Onboarding fact set by the product through the API: the user connected their mailbox.
    pub mailbox_connected: bool,
}

/// Why the system considers a user inactive (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InactiveReason {
    /// The CRM says the user is no longer active (set and cleared by CRM sync, §8.3).
    InactiveInCrm,
    /// The product reports the user's mailbox as disconnected or failing.
    InactiveInMailbox,
    /// The product reports a failure of the user's account.
    AccountFailure,
    /// The product reports the user's package expired.
    PackageExpired,
    /// The trial is over and the user never held a Core license; always derived, never stored.
    NoLicense,
}

impl InactiveReason {
    /// The reasons the vendor's product reports about a member (§10
    /// `PUT /users/{id}/inactive-reasons`); the others Roster sets itself: `inactive_in_crm` by
    /// CRM sync, `no_license` by derivation.
    pub const REPORTED: [Self; 3] = [Self::InactiveInMailbox, Self::AccountFailure, Self::PackageExpired];

    /// Whether the vendor's product reports this reason (see [`InactiveReason::REPORTED`]).
    pub fn is_reported(self) -> bool {
        Self::REPORTED.contains(&self)
    }

    /// The reason as the API writes it: `inactive_in_crm`, `inactive_in_mailbox`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InactiveInCrm => "inactive_in_crm",
            Self::InactiveInMailbox => "inactive_in_mailbox",
            Self::AccountFailure => "account_failure",
            Self::PackageExpired => "package_expired",
            Self::NoLicense => "no_license",
        }
    }
}

/// The status shown in the Users table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reasons", rename_all = "snake_case")]
pub enum Status {
    /// Soft-deleted; only restore and the audit log still see them.
    Deleted,
    /// An admin deactivated the user (precedence 1).
    Deactivated,
    /// Created by an invite that has not been accepted (precedence 2).
    Invited,
    /// One or more system reasons hold (precedence 3); the set is never empty.
    Inactive(BTreeSet<InactiveReason>),
    /// The user held Core and it was removed (precedence 4).
    Revoked,
    /// Holds Core (or is in the trial) but has not completed onboarding (precedence 5).
    Pending,
    /// Holds Core (or is in the trial) and completed onboarding (precedence 6).
    Active,
}

impl Status {
    /// The status without its reasons.
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
    /// Soft-deleted.
    Deleted,
    /// Deactivated by an admin.
    Deactivated,
    /// Invited, not yet accepted.
    Invited,
    /// Inactive for one or more system reasons.
    Inactive,
    /// Held Core and lost it.
    Revoked,
    /// Entitled to Core, onboarding not complete.
    Pending,
    /// Entitled to Core, onboarding complete.
    Active,
}

/// The facts [`derive_status`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusFacts {
    /// The user is soft-deleted.
    pub deleted: bool,
    /// An admin deactivated the user.
    pub deactivated: bool,
    /// The user's invite has not been accepted.
    pub invited: bool,
    /// The stored system reasons (`no_license` is added by [`derive_status`], not read from here).
    pub reasons: BTreeSet<InactiveReason>,
    /// Holds an explicit Core assignment.
    pub holds_core: bool,
    /// The user held Core at some point, now included.
    pub ever_held_core: bool,
    /// The organization's trial is running (everyone is entitled to Core).
    pub in_trial: bool,
    /// The user connected both the CRM and the mailbox.
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
    /// No mailbox connected: the generic cap of 10,000 a day.
    #[default]
    None,
    /// Google Workspace or Gmail: at most 1,800 emails a day.
    Google,
    /// Microsoft 365 or Outlook: at most 4,500 emails a day.
    Microsoft,
}

impl MailboxProvider {
    /// Every provider, in the order the API lists them.
    pub const ALL: [Self; 3] = [Self::None, Self::Google, Self::Microsoft];

    /// The largest daily cap of any provider: the most any throttle can be.
    pub const MAX_DAILY_CAP: u32 = 10_000;

    /// The provider's daily sending cap (§3).
    pub const fn daily_cap(self) -> u32 {
        match self {
            Self::Google => 1_800,
            Self::Microsoft => 4_500,
            Self::None => Self::MAX_DAILY_CAP,
        }
    }

    /// The provider as the API writes it: `none`, `google`, `microsoft`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Google => "google",
            Self::Microsoft => "microsoft",
        }
    }

    /// The provider named `text` exactly as [`MailboxProvider::as_str`] writes it.
    ///
    /// # Errors
    /// [`ValueError::InvalidFormat`] for any other word.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or(ValueError::InvalidFormat { expected: "one of none, google, microsoft" })
    }
}

/// Whether the product records the user's calls (§3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallRecording {
    /// The user chooses per call (the default).
    #[default]
    Optional,
    /// Every call is recorded.
    Enforced,
    /// No call is recorded.
    Disabled,
}

impl CallRecording {
    /// Every choice, in the order the API lists them.
    pub const ALL: [Self; 3] = [Self::Optional, Self::Enforced, Self::Disabled];

    /// The choice as the API writes it: `optional`, `enforced`, `disabled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Enforced => "enforced",
            Self::Disabled => "disabled",
        }
    }

    /// The choice named `text` exactly as [`CallRecording::as_str`] writes it.
    ///
    /// # Errors
    /// [`ValueError::InvalidFormat`] for any other word.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or(ValueError::InvalidFormat { expected: "one of optional, enforced, disabled" })
    }
}

/// The page the product opens on for the user (§3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Homepage {
    /// The product's standard landing page (the default).
    #[default]
    Default,
    /// The leads list.
    Leads,
}

impl Homepage {
    /// Every page, in the order the API lists them.
    pub const ALL: [Self; 2] = [Self::Default, Self::Leads];

    /// The page as the API writes it: `default`, `leads`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Leads => "leads",
        }
    }

    /// The page named `text` exactly as [`Homepage::as_str`] writes it.
    ///
    /// # Errors
    /// [`ValueError::InvalidFormat`] for any other word.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|h| h.as_str() == text)
            .ok_or(ValueError::InvalidFormat { expected: "one of default, leads" })
    }
}

/// Per-user product settings (§3). The throttle is kept within the provider's cap by
/// [`UserSettings::validate`], which every change goes through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSettings {
    /// The provider of the user's mailbox; it bounds `email_throttle_max_per_day`.
    pub mailbox_provider: MailboxProvider,
    /// How many emails the product may send for the user a day: 1 up to the provider's cap
    /// (default 300).
    pub email_throttle_max_per_day: u32,
    /// Whether the user may use Flow sequences (default on).
    pub flow_enabled: bool,
    /// Whether the user's email is synced with their mailbox (default off).
    pub email_sync: bool,
    /// Whether the user's calendar is synced with their mailbox (default off).
    pub calendar_sync: bool,
    /// Whether the user's calls are recorded (default optional).
    pub call_recording: CallRecording,
    /// Where the product opens for the user (default its standard page).
    pub homepage: Homepage,
    /// Whether the user takes part in round-robin distribution of leads (default off).
    pub round_robin: bool,
    /// Whether the user's calls are scored (default off).
    pub scoring_enabled: bool,
    /// Whether the user works across teams, seeing the groups given as extra group access (§5;
    /// default off).
    pub roaming_agent: bool,
    /// Where the user's VoIP calls are forwarded; an E.164-like number, or `None` for no
    /// forwarding.
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
