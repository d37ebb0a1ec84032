//! Organizations (tenants) and their settings (§2). Turning auto sign-up off needs the admin's
//! confirmation ([`SettingsChange::confirm`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{GroupId, OrgId};
use crate::values::{EmailDomain, Key, Label, Slug};

/// An organization: one tenant of Roster. All other data hangs off an `OrgId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Unique; never changes.
    pub id: OrgId,
    /// The organization's display name.
    pub name: Label,
    /// The unique short name by which login and the CLI address the organization (`demo`).
    pub slug: Slug,
    /// When the operator (or the first start) created it.
    pub created_at: OffsetDateTime,
    /// While `now < trial_ends_at`, every non-deactivated user is entitled to every product (§4.4).
    pub trial_ends_at: Option<OffsetDateTime>,
    /// The billing-level group created with the organization (§6).
    pub root_group_id: GroupId,
    /// What its admins may change (§2).
    pub settings: OrgSettings,
    /// Optimistic concurrency: bumped by each update; the store refuses a stale one.
    pub version: u64,
}

impl Organization {
    /// Whether the trial is running at `now`.
    pub fn in_trial(&self, now: OffsetDateTime) -> bool {
        self.trial_ends_at.is_some_and(|end| now < end)
    }
}

/// The settings an org admin can change (§2). Seat limits are not among them: only the
/// operator sets those (§11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Whether people of `allowed_signup_domains` may create their own accounts (§8.2); member
    /// invites are refused while it is on (§8.1). Default on.
    pub auto_signup: bool,
    /// The email domains whose people may sign up by themselves, sorted and without repeats.
    pub allowed_signup_domains: Vec<EmailDomain>,
    /// Whether a user who becomes `inactive` loses their seats at once (§4.5). Default on.
    pub release_seats_when_inactive: bool,
    /// The seats each product's pool gets when the organization or the product is created (§4.2);
    /// default 3. Set by the operator, never by a settings change.
    pub default_seat_limit: u32,
    /// The products a member provisioned through SCIM gets when created or reactivated (§13),
    /// through the one seat enforcement point; sorted, without repeats, each in the catalog.
    /// Default none.
    pub scim_products: Vec<Key>,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            auto_signup: true,
            allowed_signup_domains: Vec::new(),
            release_seats_when_inactive: true,
            default_seat_limit: 3,
            scim_products: Vec::new(),
        }
    }
}

/// A partial change of the settings, as an admin submits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    /// The new auto sign-up switch; `None` leaves it as is. Turning it off needs `confirm`.
    pub auto_signup: Option<bool>,
    /// The new list of sign-up domains, replacing the old; `None` leaves it as is.
    pub allowed_signup_domains: Option<Vec<EmailDomain>>,
    /// The new inactive-seat rule (§4.5); `None` leaves it as is.
    pub release_seats_when_inactive: Option<bool>,
    /// The new list of products SCIM provisioning gives, replacing the old; `None` leaves it.
    pub scim_products: Option<Vec<Key>>,
    /// Turning auto sign-up off is refused without it (§8.1: the admin confirms a dialog).
    pub confirm: bool,
}

impl OrgSettings {
    /// Refuses member invites while auto sign-up is on (§8.1): people join by themselves then.
    ///
    /// # Errors
    /// [`crate::ServiceError::AutoSignupEnabled`].
    pub fn ensure_invites_allowed(&self) -> crate::error::ServiceResult<()> {
        if self.auto_signup { Err(crate::ServiceError::AutoSignupEnabled) } else { Ok(()) }
    }

    /// Refuses a self sign-up (§8.2) unless auto sign-up is on and `email` is of an allowed
    /// domain.
    ///
    /// # Errors
    /// `forbidden`, saying only that sign-up is not open for the address.
    pub fn ensure_sign_up_open(&self, email: &crate::values::Email) -> crate::error::ServiceResult<()> {
        let domain_ok = self.allowed_signup_domains.iter().any(|d| d.as_str() == email.domain());
        if !self.auto_signup || !domain_ok {
            return Err(crate::ServiceError::forbidden("sign-up is not open for this address"));
        }
        Ok(())
    }

    /// Applies a change, enforcing the confirmation rule for turning auto sign-up off.
    ///
    /// # Errors
    /// [`crate::ServiceError::ConfirmationRequired`] when auto sign-up goes from on to off
    /// without `confirm`.
    pub fn apply(&self, change: &SettingsChange) -> crate::ServiceResult<OrgSettings> {
        let mut next = self.clone();
        if let Some(auto) = change.auto_signup {
            if self.auto_signup && !auto && !change.confirm {
                return Err(crate::ServiceError::ConfirmationRequired);
            }
            next.auto_signup = auto;
        }
        if let Some(domains) = &change.allowed_signup_domains {
            let mut domains = domains.clone();
            domains.sort();
            domains.dedup();
            next.allowed_signup_domains = domains;
        }
        if let Some(release) = change.release_seats_when_inactive {
            next.release_seats_when_inactive = release;
        }
        if let Some(products) = &change.scim_products {
            let mut products = products.clone();
            products.sort();
            products.dedup();
            next.scim_products = products;
        }
        Ok(next)
    }
}
