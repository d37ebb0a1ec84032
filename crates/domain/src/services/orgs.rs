//! Organizations: creation by the operator, seat limits, settings, licenses and billing
//! overviews, the audit log, and reconciliation (§2, §4.2, §4.4, §4.5, §9).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditQuery, AuditTarget, Changes, TargetKind};
use crate::catalog::{Catalog, CatalogError, Product};
use crate::error::{ServiceError, ServiceResult};
use crate::groups::Group;
use crate::ids::{OrgId, UserId};
use crate::org::{OrgSettings, Organization, SettingsChange};
use crate::roles::{BUILTIN_ROLES, Permission};
use crate::seats::{BillingSummary, SeatCount, SeatDrift, SeatPool, seat_drift};
use crate::user::{InactiveReason, User};
use crate::values::{GroupName, Key, Label, Slug};

use super::Services;
use super::support::{load_catalog, load_org};

/// What the operator gives to create an organization.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// The organization's display name.
    pub name: Label,
    /// The unique short name used at login and by the CLI.
    pub slug: Slug,
    /// When the trial ends; `None` for no trial.
    pub trial_ends_at: Option<OffsetDateTime>,
    /// The initial settings; `default_seat_limit` also sizes each product's first pool.
    pub settings: OrgSettings,
}

/// What adding a product to the catalog made (`Services::add_product`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedProduct {
    /// The catalog with the product.
    pub catalog: Catalog,
    /// The product's new seat pool (none of it used).
    pub pool: SeatPool,
}

/// An assignment held by someone who should not hold it (§4.5 reconciliation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileFinding {
    /// The member holding the license.
    pub user_id: UserId,
    /// The product held.
    pub product: Key,
    /// `deactivated`, `deleted` or `inactive`.
    pub reason: &'static str,
    /// Whether the assignment was removed (reconciliation asked to repair).
    pub repaired: bool,
}

/// A seat pool whose counter disagreed with its rows (§4.5 reconciliation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatFinding {
    /// The pool and its figures.
    #[serde(flatten)]
    pub drift: SeatDrift,
    /// The counter was set to the count (never when the rows hold more seats than the pool has).
    pub repaired: bool,
}

/// What reconciliation found in one organization (`Services::reconcile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Assignments held by users who should hold none.
    pub licenses: Vec<ReconcileFinding>,
    /// Seat pools whose `seats_used` was not their assignments plus reservations (after the
    /// releases above).
    pub seats: Vec<SeatFinding>,
}

impl ReconcileReport {
    /// Nothing was found.
    pub fn is_clean(&self) -> bool {
        self.licenses.is_empty() && self.seats.is_empty()
    }
}

impl Services {
    /// Creates an organization with its root group, the built-in roles, the default catalog and
    /// `default_seat_limit` seats per product (operator only).
    ///
    /// # Errors
    /// `forbidden` unless the actor is the system; `conflict` on `slug`.
    #[tracing::instrument(skip_all)]
    pub async fn create_organization(
        &self,
        source: crate::audit::Source,
        new: NewOrganization,
    ) -> ServiceResult<Organization> {
        let now = self.now();
        let mut tx = self.begin().await?;
        if tx.org_by_slug(&new.slug).await?.is_some() {
            return Err(ServiceError::Conflict { field: "slug", message: format!("{} is already taken", new.slug) });
        }
        let org_id: OrgId = self.new_id();
        let root = Group {
            id: self.new_id(),
            org_id,
            parent_id: None,
            name: GroupName::parse(new.name.as_str()).map_err(|e| ServiceError::invalid_field("name", &e))?,
            depth: 1,
            deleted_at: None,
            created_at: now,
            version: 1,
        };
        let org = Organization {
            id: org_id,
            name: new.name,
            slug: new.slug,
            created_at: now,
            trial_ends_at: new.trial_ends_at,
            root_group_id: root.id,
            settings: new.settings,
            version: 1,
        };
        tx.insert_org(&org).await?;
        tx.insert_group(&root).await?;
        for builtin in &BUILTIN_ROLES {
            tx.insert_role(&builtin.to_role(self.new_id(), org_id)).await?;
        }
        let catalog = Catalog::default_catalog();
        tx.save_catalog(org_id, &catalog).await?;
        for key in catalog.keys() {
            tx.insert_seat_pool(&SeatPool::new(org_id, key.clone(), org.settings.default_seat_limit)).await?;
        }
        let actor = Actor::system(org_id, source);
        self.audit(
            &mut *tx,
            &actor,
            "organization.created",
            AuditTarget::new(TargetKind::Organization, org_id, org.name.as_str()),
            Changes::new().note("slug", &org.slug),
        )
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    /// Every organization (operator).
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all)]
    pub async fn list_organizations(&self) -> ServiceResult<Vec<Organization>> {
        let mut tx = self.begin_read().await?;
        Ok(tx.orgs().await?)
    }

    /// An organization by slug (login and the CLI address organizations by slug).
    ///
    /// # Errors
    /// `not_found`.
    #[tracing::instrument(skip_all)]
    pub async fn organization_by_slug(&self, slug: &Slug) -> ServiceResult<Organization> {
        let mut tx = self.begin_read().await?;
        tx.org_by_slug(slug).await?.ok_or(ServiceError::not_found("organization"))
    }

    /// Sets the seats of a product (operator only: org admins cannot raise their own limits).
    ///
    /// # Errors
    /// `forbidden` unless system; `validation_failed` for an unknown product; `seat_limit_reached`
    /// when the total would fall below the seats in use.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_seats(&self, actor: &Actor, product: &Key, total: u32) -> ServiceResult<SeatPool> {
        if !actor.is_system() {
            return Err(ServiceError::forbidden("only the operator sets seat limits"));
        }
        let mut tx = self.begin().await?;
        let catalog = load_catalog(&mut *tx, actor.org_id()).await?;
        catalog.check_known("product", [product])?;
        let before = tx.seat_pools(actor.org_id()).await?.into_iter().find(|p| p.product() == product);
        let pool = tx.set_seats_total(actor.org_id(), product, total).await?;
        self.audit(
            &mut *tx,
            actor,
            "seats.set",
            AuditTarget::new(TargetKind::License, product, product.as_str()),
            Changes::new().field("seats_total", &before.map(|p| p.seats_total()), &Some(pool.seats_total())),
        )
        .await?;
        tx.commit().await?;
        Ok(pool)
    }

    /// Adds a product to the catalog with its prerequisites (operator only, §4.1), with a seat
    /// pool of `seats` seats (`default_seat_limit` when `None`), in one transaction.
    ///
    /// # Errors
    /// `forbidden` unless system; `conflict` on `key` for a product the catalog already has;
    /// `validation_failed` on `requires` for a prerequisite the catalog does not have
    /// (`unknown_product`) or one that would close a cycle (`cycle`: the prerequisites must stay
    /// a DAG).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn add_product(
        &self,
        actor: &Actor,
        product: Product,
        seats: Option<u32>,
    ) -> ServiceResult<AddedProduct> {
        if !actor.is_system() {
            return Err(ServiceError::forbidden("only the operator changes the catalog"));
        }
        let mut tx = self.begin().await?;
        let org = load_org(&mut *tx, actor.org_id()).await?;
        let catalog = load_catalog(&mut *tx, org.id).await?;
        let key = product.key.clone();
        let requires = product.requires.clone();
        let next = catalog.with_product(product).map_err(|e| match e {
            CatalogError::DuplicateProduct(k) => {
                ServiceError::Conflict { field: "key", message: format!("the catalog already has a product {k}") }
            }
            CatalogError::UnknownPrerequisite { missing, .. } => {
                ServiceError::Validation(vec![crate::error::FieldError::new(
                    "requires",
                    "unknown_product",
                    format!("no product {missing} in the catalog"),
                )])
            }
            CatalogError::Cycle(k) => ServiceError::Validation(vec![crate::error::FieldError::new(
                "requires",
                "cycle",
                format!("the prerequisites of {k} would lead back to it"),
            )]),
        })?;
        let seats_total = seats.unwrap_or(org.settings.default_seat_limit);
        let pool = SeatPool::new(org.id, key.clone(), seats_total);
        tx.save_catalog(org.id, &next).await?;
        tx.insert_seat_pool(&pool).await?;
        self.audit(
            &mut *tx,
            actor,
            "catalog.product_added",
            AuditTarget::new(TargetKind::License, &key, key.as_str()),
            Changes::new().note("requires", &requires).note("seats_total", &seats_total),
        )
        .await?;
        tx.commit().await?;
        Ok(AddedProduct { catalog: next, pool })
    }

    /// Sets when the organization's trial ends (operator only, §4.4): `Some(t)` runs the trial
    /// until `t` — while `now < t` every non-deactivated member is entitled to every product —
    /// and `None` ends it now. `t` is kept in UTC and to the microsecond, as every stored time
    /// is, so the answer shows what every later read shows.
    ///
    /// # Errors
    /// `forbidden` unless system; `validation_failed` on `trial_ends_at` (`not_in_future`) for a
    /// time that is not after now (`None` is how a trial is ended).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_trial(&self, actor: &Actor, ends_at: Option<OffsetDateTime>) -> ServiceResult<Organization> {
        if !actor.is_system() {
            return Err(ServiceError::forbidden("only the operator sets the trial"));
        }
        let ends_at = ends_at.map(|t| {
            let t = t.to_offset(time::UtcOffset::UTC);
            t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
        });
        if ends_at.is_some_and(|t| t <= self.now()) {
            return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                "trial_ends_at",
                "not_in_future",
                "must be in the future; to end a trial, set none",
            )]));
        }
        let mut tx = self.begin().await?;
        let mut org = load_org(&mut *tx, actor.org_id()).await?;
        if org.trial_ends_at == ends_at {
            return Ok(org);
        }
        let changes = Changes::new().field("trial_ends_at", &org.trial_ends_at, &ends_at);
        org.trial_ends_at = ends_at;
        org.version += 1;
        tx.update_org(&org).await?;
        self.audit(
            &mut *tx,
            actor,
            "organization.trial_set",
            AuditTarget::new(TargetKind::Organization, org.id, org.name.as_str()),
            changes,
        )
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    /// The organization's products: keys, names and prerequisites. Any member may read them
    /// (they are the column names and filter choices of the Users table).
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn catalog(&self, actor: &Actor) -> ServiceResult<Catalog> {
        let mut tx = self.begin_read().await?;
        Ok(tx.catalog(actor.org_id()).await?)
    }

    /// The organization's settings.
    ///
    /// # Errors
    /// `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn settings(&self, actor: &Actor) -> ServiceResult<OrgSettings> {
        let mut tx = self.begin_read().await?;
        Ok(load_org(&mut *tx, actor.org_id()).await?.settings)
    }

    /// Changes the settings (§2; turning auto sign-up off needs `confirm`, §8.1).
    ///
    /// # Errors
    /// `forbidden` without `manage_settings` org-wide; `confirmation_required`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn update_settings(&self, actor: &Actor, change: SettingsChange) -> ServiceResult<OrgSettings> {
        actor.require_org_wide(Permission::ManageSettings)?;
        let mut tx = self.begin().await?;
        let mut org = load_org(&mut *tx, actor.org_id()).await?;
        let next = org.settings.apply(&change)?;
        if change.scim_products.is_some() {
            let catalog = load_catalog(&mut *tx, org.id).await?;
            catalog.check_known("scim_products", &next.scim_products)?;
        }
        let changes = Changes::new()
            .field("auto_signup", &org.settings.auto_signup, &next.auto_signup)
            .field("allowed_signup_domains", &org.settings.allowed_signup_domains, &next.allowed_signup_domains)
            .field(
                "release_seats_when_inactive",
                &org.settings.release_seats_when_inactive,
                &next.release_seats_when_inactive,
            )
            .field("scim_products", &org.settings.scim_products, &next.scim_products);
        if changes.is_empty() {
            return Ok(next);
        }
        org.settings = next.clone();
        org.version += 1;
        tx.update_org(&org).await?;
        self.audit(
            &mut *tx,
            actor,
            "settings.updated",
            AuditTarget::new(TargetKind::Settings, org.id, org.name.as_str()),
            changes,
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Seats total/used/available per product: what the invite screen shows (`GET /licenses`).
    ///
    /// # Errors
    /// `forbidden` without `manage_users` or `manage_licenses`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn license_counts(&self, actor: &Actor) -> ServiceResult<Vec<SeatCount>> {
        if !actor.has(Permission::ManageUsers) && !actor.has(Permission::ManageLicenses) {
            return Err(ServiceError::forbidden("requires manage_users or manage_licenses"));
        }
        let mut tx = self.begin_read().await?;
        Ok(tx.seat_pools(actor.org_id()).await?.iter().map(SeatCount::from).collect())
    }

    /// Billable users, seats per product and the trial (§4.4).
    ///
    /// # Errors
    /// `forbidden` without `manage_licenses` or `view_reporting`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn billing(&self, actor: &Actor) -> ServiceResult<BillingSummary> {
        if !actor.has(Permission::ManageLicenses) && !actor.has(Permission::ViewReporting) {
            return Err(ServiceError::forbidden("requires manage_licenses or view_reporting"));
        }
        let mut tx = self.begin_read().await?;
        let org = load_org(&mut *tx, actor.org_id()).await?;
        let billable_users = tx.count_billable(org.id).await?;
        let seats = tx.seat_pools(org.id).await?.iter().map(SeatCount::from).collect();
        Ok(BillingSummary {
            billable_users,
            seats,
            trial_ends_at: org.trial_ends_at,
            in_trial: org.in_trial(self.now()),
        })
    }

    /// The audit log, newest first (§9).
    ///
    /// # Errors
    /// `forbidden` without `view_audit`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn audit_log(&self, actor: &Actor, query: &AuditQuery) -> ServiceResult<Vec<AuditEvent>> {
        // The log spans the whole organization (settings, roles, keys…): org-wide only.
        actor.require_org_wide(Permission::ViewAudit)?;
        let mut tx = self.begin_read().await?;
        Ok(tx.audit(actor.org_id(), query).await?)
    }

    /// Reconciliation (§4.5, `roster reconcile`): finds every assignment held by a deactivated,
    /// deleted or (with `release_seats_when_inactive`) inactive user, and every seat pool whose
    /// `seats_used` differs from the seats its rows hold (assignments plus reservations of
    /// pending invites, [`crate::seats::seat_drift`]); with `repair`, releases those assignments
    /// (audited `license.released`) and sets each counter to its count (audited
    /// `seats.recounted`) unless the rows hold more seats than the pool has, which only the
    /// operator can settle (raise the total, or take licenses back).
    ///
    /// It runs in one transaction that first takes zero seats of every pool: `take_seats` is a
    /// conditional `UPDATE`, so on PostgreSQL each pool row stays locked until the end and no
    /// assignment, release or invite of the organization can commit between the count and the
    /// repair (on SQLite the write transaction excludes them anyway). Assignments are read a page
    /// of 2,000 at a time (`licenses_after`), with their users, so memory does not grow with the
    /// organization.
    ///
    /// # Errors
    /// `forbidden` unless system.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn reconcile(&self, actor: &Actor, repair: bool) -> ServiceResult<ReconcileReport> {
        if !actor.is_system() {
            return Err(ServiceError::forbidden("reconciliation is an operator command"));
        }
        let mut tx = self.begin().await?;
        let org = load_org(&mut *tx, actor.org_id()).await?;
        for pool in tx.seat_pools(org.id).await? {
            tx.take_seats(org.id, pool.product(), 0).await?;
        }
        let mut counted: BTreeMap<Key, u32> = BTreeMap::new();
        for invite in tx.pending_invites(org.id).await? {
            for product in invite.products {
                *counted.entry(product).or_default() += 1;
            }
        }
        let mut findings = Vec::new();
        let mut after = None;
        loop {
            let page = tx.licenses_after(org.id, after.take(), RECONCILE_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.user_id, last.product.clone()));
            let ids: Vec<UserId> = page.iter().map(|l| l.user_id).collect::<BTreeSet<_>>().into_iter().collect();
            let users: BTreeMap<UserId, User> =
                tx.users_by_ids(org.id, &ids).await?.into_iter().map(|u| (u.id, u)).collect();
            for license in &page {
                *counted.entry(license.product.clone()).or_default() += 1;
                let Some(user) = users.get(&license.user_id) else { continue };
                let Some(reason) = unentitled_reason(user, &org) else { continue };
                if repair {
                    // Behind the page's position: the next page is not affected.
                    tx.delete_license(org.id, user.id, &license.product).await?;
                    tx.return_seats(org.id, &license.product, 1).await?;
                    if let Some(n) = counted.get_mut(&license.product) {
                        *n -= 1;
                    }
                    self.audit(
                        &mut *tx,
                        actor,
                        "license.released",
                        AuditTarget::new(TargetKind::User, user.id, user.label()),
                        Changes::new().note("product", &license.product).note("reason", &reason),
                    )
                    .await?;
                }
                findings.push(ReconcileFinding {
                    user_id: user.id,
                    product: license.product.clone(),
                    reason,
                    repaired: repair,
                });
            }
            if page.len() < RECONCILE_PAGE as usize {
                break;
            }
        }
        let pools = tx.seat_pools(org.id).await?;
        let mut seats = Vec::new();
        for drift in seat_drift(&pools, &counted) {
            let repaired = repair && drift.repairable();
            if repaired {
                if drift.counted < drift.seats_used {
                    tx.return_seats(org.id, &drift.product, drift.seats_used - drift.counted).await?;
                } else {
                    tx.take_seats(org.id, &drift.product, drift.counted - drift.seats_used).await?;
                }
                self.audit(
                    &mut *tx,
                    actor,
                    "seats.recounted",
                    AuditTarget::new(TargetKind::License, &drift.product, drift.product.as_str()),
                    Changes::new().field("seats_used", &drift.seats_used, &drift.counted),
                )
                .await?;
            }
            seats.push(SeatFinding { drift, repaired });
        }
        if repair {
            tx.commit().await?;
        }
        Ok(ReconcileReport { licenses: findings, seats })
    }
}

/// Assignments read per query by [`Services::reconcile`] (with their users, in one more).
const RECONCILE_PAGE: u32 = 2_000;

/// Why a user should hold no license, if they should not.
fn unentitled_reason(user: &User, org: &Organization) -> Option<&'static str> {
    if user.is_deleted() {
        Some("deleted")
    } else if user.is_deactivated() {
        Some("deactivated")
    } else if org.settings.release_seats_when_inactive
        && user.lifecycle.inactive_reasons.iter().any(|r| *r != InactiveReason::NoLicense)
    {
        Some("inactive")
    } else {
        None
    }
}
