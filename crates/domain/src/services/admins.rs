//! The operator's way in (§11): creating an organization's admin with a password, for the
//! first start of `roster serve` and for `roster admin create`.

use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::audit::{Changes, Source};
use crate::error::{ServiceError, ServiceResult};
use crate::values::{Email, Key, Nicknames, Password, PersonName, Slug};

use super::Services;
use super::users::{NewUser, SettingsPatch, UserDetails, details_of};

/// What the operator gives to create an admin.
#[derive(Debug, Clone)]
pub struct NewAdmin {
    /// The organization the admin joins, by slug; it must exist.
    pub org: Slug,
    /// The admin's login address; must be free in the organization.
    pub email: Email,
    /// The admin's given name.
    pub first_name: PersonName,
    /// The admin's family name.
    pub last_name: PersonName,
    /// The admin's initial password (at least 12 characters); only its hash is stored.
    pub password: Password,
}

impl Services {
    /// Creates a member of `org` holding the `admin` role (org-wide) and no license, with a
    /// password, as the operator (§11). The hash is computed before the transaction opens, so
    /// no database lock waits on Argon2; the member, their role and the hash are written in one
    /// transaction.
    ///
    /// # Errors
    /// `not_found` (organization), `conflict` on the email.
    #[tracing::instrument(skip_all)]
    pub async fn create_admin(&self, source: Source, new: NewAdmin) -> ServiceResult<UserDetails> {
        let org = self.organization_by_slug(&new.org).await?;
        let hash = self.hasher.hash(&new.password).await?;
        let actor = Actor::system(org.id, source);
        let admin = Key::parse("admin").map_err(|e| ServiceError::invalid_field("roles", &e))?;
        let mut tx = self.begin().await?;
        let new_user = NewUser {
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            phone: None,
            nicknames: Nicknames::empty(),
            agent_id: None,
            crm_id: None,
            agent_ring_number: None,
            dialer_number: None,
            settings: SettingsPatch::default(),
            roles: vec![admin],
            group_ids: Vec::new(),
            products: BTreeSet::new(),
            password: None,
        };
        let mut user = self.create_user_in(&mut *tx, &actor, new_user).await?;
        tx.set_password_hash(org.id, user.id, &hash).await?;
        user.has_password = true;
        self.save_user(&mut *tx, &actor, &mut user, "user.password_set", Changes::new()).await?;
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }
}
