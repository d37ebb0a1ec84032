//! The SCIM face's use cases (§13): the `GET /Users` query (a SCIM filter already made a
//! [`UserFilter`], `startIndex`/`count`, a sort), one member by id, and the writes — create,
//! replace, PATCH, delete — each through the rules every face shares: the member is created
//! by `create_user`'s rules, deactivated and reactivated as an admin does it (licenses
//! released), deleted softly, every change audited with the actor's source (`scim`), and the
//! organization's `scim_products` given through the one seat enforcement point
//! (`apply_plan`). Every one needs the `scim` permission over the whole organization, which an
//! identity provider's API key holds; what a write may do beyond that is the key's provisioning
//! authority (`Actor::provisioning`), held to the rule of dominance like any other actor's.
//! Decisions: `docs/decisions/0038-scim-filters-and-reads.md`,
//! `docs/decisions/0041-scim-writes.md`.

use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::error::{ServiceError, ServiceResult, in_words};
use crate::ids::UserId;
use crate::ports::Tx;
use crate::roles::Permission;
use crate::scim::patch::{PatchOperation, WriteError, apply};
use crate::scim::schema::USERS;
use crate::scim::user_input::{Omitted, UserInput, read_user};
use crate::scim::users::user_resource;
use crate::user::{DirectoryAttributes, User};
use crate::user_filter::UserFilter;
use crate::users_query::{UserPaging, UserQuery, UserSort, UserSortField};
use crate::values::{Key, Nicknames};

use super::Services;
use super::support::{held_products, load_catalog, load_org};
use super::users::{NewUser, SettingsPatch, check_unique, profile_changes};

/// A product of the organization's `scim_products` a member did not get, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRefusal {
    /// The product.
    pub product: Key,
    /// Why, in words (`no free seat for dialer: 3 of 3 used`).
    pub reason: String,
}

/// What a SCIM write of a member did.
#[derive(Debug, Clone)]
pub struct ScimUserOutcome {
    /// The member as they now are.
    pub user: User,
    /// The `scim_products` the member should have got (at creation or reactivation) and did
    /// not; the change itself is kept and the refusal audited (`user.licenses_refused`).
    pub refused: Vec<ProductRefusal>,
}

/// The members a SCIM list answers, and how many match in all (`totalResults`).
#[derive(Debug, Clone)]
pub struct ScimUserPage {
    /// The members from `startIndex`, at most `count`.
    pub items: Vec<User>,
    /// Every member the filter matches.
    pub total: u64,
}

/// `GET /Users`: what to list.
#[derive(Debug, Clone)]
pub struct ScimUserList {
    /// The filter, translated; `None` for every member.
    pub filter: Option<UserFilter>,
    /// Members skipped (`startIndex - 1`).
    pub offset: u64,
    /// At most this many answered (`count`).
    pub limit: u32,
    /// The sort (`sortBy`, `sortOrder`); `None` orders by creation, then id, so that pages
    /// stay stable while an identity provider walks them.
    pub sort: Option<UserSort>,
}

impl Services {
    /// The members a SCIM filter selects, a window of them by position, and their total.
    ///
    /// # Errors
    /// `forbidden` without `scim` over the whole organization.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_list_users(&self, actor: &Actor, list: ScimUserList) -> ServiceResult<ScimUserPage> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin_read().await?;
        let org = tx.org(actor.org_id()).await?.ok_or(ServiceError::not_found("organization"))?;
        let mut query = UserQuery::new(org.id);
        query.filter = list.filter;
        query.sort = vec![list.sort.unwrap_or(UserSort { field: UserSortField::CreatedAt, descending: false })];
        query.paging = Some(UserPaging::Offset { offset: list.offset, limit: list.limit });
        query.in_trial = org.in_trial(self.now());
        let page = tx.list_users(&query).await?;
        Ok(ScimUserPage { items: page.items, total: page.total.unwrap_or(0) })
    }

    /// One member of the organization, not deleted.
    ///
    /// # Errors
    /// `forbidden` without `scim` over the whole organization; `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_user(&self, actor: &Actor, id: UserId) -> ServiceResult<User> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin_read().await?;
        match tx.user(actor.org_id(), id).await? {
            Some(user) if !user.is_deleted() => Ok(user),
            _ => Err(ServiceError::not_found("user")),
        }
    }
}

impl Services {
    /// Creates a member from a SCIM User (`POST /Users`): the rules of `create_user` (an email
    /// free among the organization's live members, the `standard` role, no group), the
    /// directory attributes kept, then — unless the provider creates them inactive — the
    /// organization's `scim_products` through the seat enforcement point. A product whose pool
    /// is full is left out and audited; the member is created all the same.
    ///
    /// # Errors
    /// `forbidden` (no `scim` over the organization, or a provisioning authority that may not
    /// manage users), `validation_failed` for a missing `userName` or name (code
    /// `invalid_value`), `conflict` on `email` or `phone`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_create_user(&self, actor: &Actor, input: UserInput) -> ServiceResult<ScimUserOutcome> {
        actor.require_org_wide(Permission::Scim)?;
        let email = input.email.ok_or_else(|| WriteError::value("`userName` is required"))?;
        let (Some(first_name), Some(last_name)) = (input.first_name, input.last_name) else {
            return Err(
                WriteError::value("`name.givenName` and `name.familyName` (or `displayName`) are required").into()
            );
        };
        let new = NewUser {
            email,
            first_name,
            last_name,
            phone: input.phone.flatten(),
            nicknames: Nicknames::empty(),
            agent_id: None,
            crm_id: None,
            agent_ring_number: None,
            dialer_number: None,
            settings: SettingsPatch::default(),
            roles: Vec::new(),
            group_ids: Vec::new(),
            products: BTreeSet::new(),
            password: None,
        };
        let directory = input.directory.apply(&DirectoryAttributes::default());
        let mut tx = self.begin().await?;
        let mut user = self.create_user_with(&mut *tx, actor, new, directory).await?;
        let refused = if input.active == Some(false) {
            user = self.deactivate_in(&mut *tx, actor, user).await?;
            Vec::new()
        } else {
            self.give_scim_products(&mut *tx, actor, &mut user).await?
        };
        tx.commit().await?;
        Ok(ScimUserOutcome { user, refused })
    }

    /// Replaces a member's SCIM attributes (`PUT /Users/{id}`), with `If-Match`. An attribute
    /// the request leaves out keeps its value — `active` included (Okta's full-PUT updates);
    /// `null` clears an optional one. `active: false` deactivates as an admin does (licenses
    /// released); `true` reactivates and gives `scim_products` again as seats allow.
    ///
    /// # Errors
    /// As [`Services::scim_patch_user`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_replace_user(
        &self,
        actor: &Actor,
        id: UserId,
        input: UserInput,
        expected_version: Option<u64>,
    ) -> ServiceResult<ScimUserOutcome> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin().await?;
        let user = self.managed_user(&mut *tx, actor, id).await?;
        user.check_version(expected_version)?;
        let outcome = self.scim_apply(&mut *tx, actor, user, input).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Applies PATCH operations to a member (`PATCH /Users/{id}`), with `If-Match`: the
    /// operations run over the member's SCIM resource, and what results is read and applied
    /// as a whole resource (an attribute the patch removed is cleared). All of it or nothing.
    ///
    /// # Errors
    /// `forbidden` (also a member whose authority the provider's does not cover), `not_found`,
    /// `precondition_failed`, `validation_failed` whose code names the `scimType`
    /// (`invalid_path`, `invalid_value`, `no_target`, `mutability`), `conflict` on `email` or
    /// `phone`, `self_deactivation`, `last_admin`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_patch_user(
        &self,
        actor: &Actor,
        id: UserId,
        operations: &[PatchOperation],
        expected_version: Option<u64>,
    ) -> ServiceResult<ScimUserOutcome> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin().await?;
        let user = self.managed_user(&mut *tx, actor, id).await?;
        user.check_version(expected_version)?;
        let mut resource = user_resource(&user);
        apply(&USERS, &mut resource, operations)?;
        let input = read_user(&resource, Omitted::Cleared)?;
        let outcome = self.scim_apply(&mut *tx, actor, user, input).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Deletes a member (`DELETE /Users/{id}`): Roster's soft delete, as an admin's
    /// (`delete_user`): licenses released, memberships ended, the email freed.
    ///
    /// # Errors
    /// As `delete_user`: `forbidden`, `not_found`, `self_deactivation`, `last_admin`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_delete_user(&self, actor: &Actor, id: UserId) -> ServiceResult<()> {
        actor.require_org_wide(Permission::Scim)?;
        self.delete_user(actor, id, true).await
    }

    /// The changes of a SCIM write to `user`: profile and directory fields (one
    /// `user.updated`), then the move between active and deactivated.
    async fn scim_apply(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        mut user: User,
        input: UserInput,
    ) -> ServiceResult<ScimUserOutcome> {
        let before = user.clone();
        if let Some(email) = input.email {
            user.change_email(email)?;
        }
        if let Some(v) = input.first_name {
            user.first_name = v;
        }
        if let Some(v) = input.last_name {
            user.last_name = v;
        }
        if let Some(v) = input.phone {
            user.phone = v;
        }
        user.directory = input.directory.apply(&user.directory);
        check_unique(
            tx,
            user.org_id,
            Some(user.id),
            &user.email,
            user.phone.as_ref(),
            user.agent_id.as_ref(),
            user.crm_id.as_ref(),
        )
        .await?;
        let changes = profile_changes(&before, &user);
        if !changes.is_empty() {
            self.save_user_labelled(tx, actor, &mut user, before.label(), "user.updated", changes).await?;
        }
        let mut refused = Vec::new();
        match input.active {
            Some(false) if !user.is_deactivated() => user = self.deactivate_in(tx, actor, user).await?,
            Some(true) if user.is_deactivated() => {
                self.reactivate_in(tx, actor, &mut user).await?;
                refused = self.give_scim_products(tx, actor, &mut user).await?;
            }
            _ => {}
        }
        Ok(ScimUserOutcome { user, refused })
    }

    /// Gives `user` the organization's `scim_products` they do not hold, through the seat
    /// enforcement point. A product whose pool is full is left out with the products that
    /// require it, and the rest assigned; what was left out is audited as
    /// `user.licenses_refused` and returned.
    async fn give_scim_products(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user: &mut User,
    ) -> ServiceResult<Vec<ProductRefusal>> {
        let org = load_org(tx, user.org_id).await?;
        if org.settings.scim_products.is_empty() {
            return Ok(Vec::new());
        }
        actor.require_org_wide(Permission::ManageLicenses)?;
        let catalog = load_catalog(tx, org.id).await?;
        let held = held_products(tx, user.org_id, user.id).await?;
        // A product taken out of the catalog since the setting was saved is skipped.
        let mut wanted: BTreeSet<Key> =
            org.settings.scim_products.iter().filter(|k| catalog.contains(k) && !held.contains(*k)).cloned().collect();
        let mut refused = Vec::new();
        while !wanted.is_empty() {
            let outcome = match catalog.plan_assign(&held, &wanted) {
                Ok(plan) => self.apply_plan(tx, actor, user, &held, &plan, Some("scim_products")).await,
                Err(e) => Err(e),
            };
            let (left_out, reason) = match outcome {
                Ok(()) => break,
                Err(ServiceError::SeatLimitReached { product, seats_total, seats_used }) => {
                    let reason = format!("no free seat for {product}: {seats_used} of {seats_total} used");
                    (product, reason)
                }
                Err(ServiceError::MissingPrerequisite { product, missing }) => {
                    let reason = format!("{product} requires {}", in_words(&missing));
                    (product, reason)
                }
                Err(e) => return Err(e),
            };
            refused.push(ProductRefusal { product: left_out.clone(), reason });
            wanted.remove(&left_out);
            for dependent in catalog.dependents_of(&left_out) {
                if wanted.remove(&dependent) {
                    refused.push(ProductRefusal {
                        product: dependent.clone(),
                        reason: format!("{dependent} requires {left_out}, which was not assigned"),
                    });
                }
            }
        }
        if !refused.is_empty() {
            let products: Vec<&Key> = refused.iter().map(|r| &r.product).collect();
            let reasons: Vec<&str> = refused.iter().map(|r| r.reason.as_str()).collect();
            self.audit(
                tx,
                actor,
                "user.licenses_refused",
                AuditTarget::new(TargetKind::User, user.id, user.label()),
                Changes::new().note("products", &products).note("reasons", &reasons),
            )
            .await?;
        }
        Ok(refused)
    }
}
