//! Bulk actions on a selection of users (§10 `POST /users/bulk`): one outcome per user,
//! `atomic` (all or nothing) and `dry_run` (report, change nothing).
//!
//! Everything runs in one transaction. Each user's change is all-or-nothing on its own (the
//! per-user steps check before they write, and license changes give back seats they took), so a
//! non-atomic request commits the users that succeeded; an atomic one commits only if all did.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::Changes;
use crate::error::{ErrorCode, FieldError, ServiceError, ServiceResult};
use crate::ids::{GroupId, UserId};
use crate::ports::Tx;
use crate::roles::Permission;
use crate::seats::SeatCount;
use crate::users_query::UserQuery;
use crate::values::Key;

use super::Services;
use super::licenses::{BulkOp, LicenseChange};
use super::support::{groups_of, held_products, load_catalog, load_org, load_tree, reader_scope};
use super::users::{RoleAssignment, SettingsPatch};

/// Which users a bulk action applies to.
#[derive(Debug, Clone)]
pub enum BulkSelection {
    /// These users, each once in the order given; repeats are dropped.
    Ids(Vec<UserId>),
    /// Every user the Users-table filter matches (paging ignored).
    Filter(Box<UserQuery>),
}

/// The bulk actions of the Users table's Actions menu. Serialized as a job's input (`jobs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum BulkAction {
    /// Puts each user in these groups too (depth 2 or 3); current memberships stay.
    AddTeams(BTreeSet<GroupId>),
    /// Takes each user out of these groups; other memberships stay.
    RemoveTeams(BTreeSet<GroupId>),
    /// Makes these groups exactly each user's current groups, joining and leaving as needed.
    SetTeams(BTreeSet<GroupId>),
    /// Replaces each user's roles by these, with the same rules as `PUT /users/{id}/roles`.
    SetRoles(Vec<RoleAssignment>),
    /// Assigns these products to each user, with their prerequisites (§4.3).
    AssignLicenses(BTreeSet<Key>),
    /// Removes these products from each user, with what requires them (§4.3).
    UnassignLicenses(BTreeSet<Key>),
    /// Flow enabled, email throttle, call recording, email/calendar sync, …
    Settings(SettingsPatch),
    /// Clears each user's dialer number.
    DeprovisionDialerNumbers,
    /// Asks the CRM whether each user's CRM identity is active; changes nothing.
    CheckConnectionStatus,
}

impl BulkAction {
    /// The permissions the action needs over each user.
    pub fn permissions(&self) -> &'static [Permission] {
        match self {
            Self::AddTeams(_) | Self::RemoveTeams(_) | Self::SetTeams(_) => {
                &[Permission::ManageUsers, Permission::ManageGroups]
            }
            Self::AssignLicenses(_) | Self::UnassignLicenses(_) => &[Permission::ManageLicenses],
            Self::SetRoles(_) | Self::Settings(_) | Self::DeprovisionDialerNumbers | Self::CheckConnectionStatus => {
                &[Permission::ManageUsers]
            }
        }
    }

    /// Checks what the action needs of its argument: joining or leaving teams, assigning or
    /// unassigning licenses and setting roles name at least one (setting teams may name none:
    /// it takes the users out of every team).
    ///
    /// # Errors
    /// `empty` on `group_ids`, `products` or `roles`.
    pub fn check(&self) -> Result<(), FieldError> {
        let empty =
            |field: &str, what: &str| Err(FieldError::new(field, "empty", format!("at least one {what} is needed")));
        match self {
            Self::AddTeams(g) | Self::RemoveTeams(g) if g.is_empty() => empty("group_ids", "team"),
            Self::AssignLicenses(p) | Self::UnassignLicenses(p) if p.is_empty() => empty("products", "product"),
            Self::SetRoles(r) if r.is_empty() => empty("roles", "role"),
            _ => Ok(()),
        }
    }
}

/// A bulk action on a selection of users (`POST /users/bulk`).
#[derive(Debug, Clone)]
pub struct BulkRequest {
    /// The users to act on: listed ids, or everyone a Users-table filter matches.
    pub selection: BulkSelection,
    /// What to do to each of them.
    pub action: BulkAction,
    /// All users or none: when any user's step fails, nothing is written.
    pub atomic: bool,
    /// Report the outcomes and seat changes, change nothing.
    pub dry_run: bool,
}

/// The outcome for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOutcome {
    /// The user this outcome is about.
    pub user_id: UserId,
    /// `ok` or the error code.
    pub status: String,
    /// The license change, for the license actions when the step succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licenses: Option<LicenseChange>,
    /// For `CheckConnectionStatus`: whether the CRM says the user is active (`None`: not in
    /// the CRM or not linked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_active: Option<bool>,
    /// The error in words when the step failed; `None` on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl BulkOutcome {
    /// Whether the user's step succeeded.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// The answer of a bulk action: one outcome per selected user and the seat figures around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkResult {
    /// One outcome per selected user, in selection order.
    pub outcomes: Vec<BulkOutcome>,
    /// Whether the changes were written (false for a dry run or a failed atomic request).
    pub applied: bool,
    /// Every seat pool before the action.
    pub seats_before: Vec<SeatCount>,
    /// Every seat pool after the action, as it is or, for a dry run or failed atomic request, as
    /// it would have been.
    pub seats_after: Vec<SeatCount>,
}

/// What one user's step produced.
#[derive(Default)]
struct Done {
    licenses: Option<LicenseChange>,
    crm_active: Option<bool>,
}

/// Assign or unassign products for many users (§4.3, §10 bulk actions).
#[derive(Debug, Clone)]
pub struct BulkLicenses {
    /// The users, each once; repeats are dropped.
    pub user_ids: Vec<UserId>,
    /// The products to assign or remove.
    pub products: BTreeSet<Key>,
    /// Whether to assign or remove them.
    pub op: BulkOp,
    /// All users or none.
    pub atomic: bool,
    /// Report the outcomes and seat changes, change nothing.
    pub dry_run: bool,
}

impl Services {
    /// Assigns or unassigns products for many users, one outcome per user (the license
    /// actions of [`Services::bulk_update`]).
    ///
    /// # Errors
    /// As [`Services::bulk_update`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn bulk_licenses(&self, actor: &Actor, request: BulkLicenses) -> ServiceResult<BulkResult> {
        let action = match request.op {
            BulkOp::Assign => BulkAction::AssignLicenses(request.products),
            BulkOp::Unassign => BulkAction::UnassignLicenses(request.products),
        };
        let request = BulkRequest {
            selection: BulkSelection::Ids(request.user_ids),
            action,
            atomic: request.atomic,
            dry_run: request.dry_run,
        };
        self.bulk_update(actor, request).await
    }

    /// Applies a bulk action to a selection of users.
    ///
    /// # Errors
    /// `forbidden` when the actor lacks the action's permissions everywhere;
    /// `validation_failed` for an empty selection or an action without its argument
    /// ([`BulkAction::check`]); storage and CRM failures of the whole
    /// request. Per-user refusals (a user outside a scoped actor's groups…) are outcomes.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn bulk_update(&self, actor: &Actor, request: BulkRequest) -> ServiceResult<BulkResult> {
        // Someone without the action's permission anywhere is refused as a whole; scoped holders
        // are still checked per user (a user outside their groups is a `forbidden` outcome).
        for permission in request.action.permissions() {
            actor.require(*permission)?;
        }
        request.action.check().map_err(|e| ServiceError::Validation(vec![e]))?;
        let crm_states = match &request.action {
            BulkAction::CheckConnectionStatus => Some(self.crm_states(actor, &request.selection).await?),
            _ => None,
        };
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let ids = self.select(&mut *tx, actor, &request.selection).await?;
        if ids.is_empty() {
            return Err(ServiceError::Validation(vec![no_user_selected(&request.selection)]));
        }
        let seats_before: Vec<SeatCount> = tx.seat_pools(org).await?.iter().map(SeatCount::from).collect();
        let outcomes = self.bulk_steps(&mut *tx, actor, &ids, &request.action, crm_states.as_deref()).await?;
        let seats_after: Vec<SeatCount> = tx.seat_pools(org).await?.iter().map(SeatCount::from).collect();
        let failed = outcomes.iter().any(|o| !o.is_ok());
        let applied = !(request.dry_run || (request.atomic && failed));
        if applied {
            tx.commit().await?;
        }
        Ok(BulkResult { outcomes, applied, seats_before, seats_after })
    }

    /// Applies `action` to each of `ids` in `tx`, one outcome per user in order. A per-user
    /// refusal is an outcome; a storage failure fails the whole.
    pub(crate) async fn bulk_steps(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        ids: &[UserId],
        action: &BulkAction,
        crm_states: Option<&[(UserId, Option<bool>)]>,
    ) -> ServiceResult<Vec<BulkOutcome>> {
        let mut outcomes = Vec::with_capacity(ids.len());
        for &user_id in ids {
            let result = match crm_states {
                Some(states) => {
                    let crm_active = states.iter().find(|(id, _)| *id == user_id).and_then(|(_, a)| *a);
                    self.managed_user(tx, actor, user_id).await.map(|_| Done { crm_active, ..Done::default() })
                }
                None => self.bulk_step(tx, actor, user_id, action).await,
            };
            outcomes.push(match result {
                Ok(done) => BulkOutcome {
                    user_id,
                    status: "ok".into(),
                    licenses: done.licenses,
                    crm_active: done.crm_active,
                    message: None,
                },
                Err(e) if e.code() == ErrorCode::Internal => return Err(e),
                Err(e) => BulkOutcome {
                    user_id,
                    status: e.code().as_str().into(),
                    licenses: None,
                    crm_active: None,
                    message: Some(e.to_string()),
                },
            });
        }
        Ok(outcomes)
    }

    /// The selected user ids, in order, each once.
    pub(crate) async fn select(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        selection: &BulkSelection,
    ) -> ServiceResult<Vec<UserId>> {
        let ids = match selection {
            BulkSelection::Ids(ids) => ids.clone(),
            BulkSelection::Filter(query) => {
                let mut query = (**query).clone();
                // A scoped administrator's filter selects the users they read, nobody else.
                query.within = reader_scope(actor)?;
                query.check().map_err(ServiceError::Validation)?;
                let org = load_org(tx, actor.org_id()).await?;
                if let Some(role) = &query.role {
                    let roles = tx.roles(org.id).await?;
                    query.role = Some(role.resolve(&roles).map_err(|e| ServiceError::Validation(vec![e]))?);
                }
                query.org_id = org.id;
                query.in_trial = org.in_trial(self.now());
                query.paging = None;
                tx.list_users(&query).await?.items.into_iter().map(|u| u.id).collect()
            }
        };
        let mut seen = BTreeSet::new();
        Ok(ids.into_iter().filter(|id| seen.insert(*id)).collect())
    }

    async fn bulk_step(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user_id: UserId,
        action: &BulkAction,
    ) -> ServiceResult<Done> {
        let org = actor.org_id();
        match action {
            BulkAction::AssignLicenses(products) => {
                let change = self.license_step(tx, actor, user_id, BulkOp::Assign, products).await?;
                Ok(Done { licenses: Some(change), ..Done::default() })
            }
            BulkAction::UnassignLicenses(products) => {
                let change = self.license_step(tx, actor, user_id, BulkOp::Unassign, products).await?;
                Ok(Done { licenses: Some(change), ..Done::default() })
            }
            BulkAction::SetRoles(roles) => {
                let user = self.managed_user(tx, actor, user_id).await?;
                self.set_roles_in(tx, actor, user, roles).await?;
                Ok(Done::default())
            }
            BulkAction::AddTeams(add) | BulkAction::RemoveTeams(add) | BulkAction::SetTeams(add) => {
                let user = self.managed_user(tx, actor, user_id).await?;
                let tree = load_tree(tx, org).await?;
                let current = groups_of(tx, org, user.id, &tree).await?;
                let (join, leave): (BTreeSet<GroupId>, BTreeSet<GroupId>) = match action {
                    BulkAction::AddTeams(_) => (add.difference(&current).copied().collect(), BTreeSet::new()),
                    BulkAction::RemoveTeams(_) => (BTreeSet::new(), add.intersection(&current).copied().collect()),
                    _ => (add.difference(&current).copied().collect(), current.difference(add).copied().collect()),
                };
                for g in join.iter().chain(&leave) {
                    tree.check_joinable(*g)?;
                    actor.require_over_group(Permission::ManageGroups, *g)?;
                }
                for g in &leave {
                    self.leave_in(tx, actor, &tree, user.id, *g).await?;
                }
                for g in &join {
                    self.join_in(tx, actor, &tree, user.id, *g).await?;
                }
                Ok(Done::default())
            }
            BulkAction::Settings(patch) => {
                let mut user = self.managed_user(tx, actor, user_id).await?;
                let next = patch.apply(&user.settings)?;
                if next != user.settings {
                    let changes = super::users::settings_changes(&user.settings, &next);
                    user.settings = next;
                    self.save_user(tx, actor, &mut user, "user.updated", changes).await?;
                }
                Ok(Done::default())
            }
            BulkAction::DeprovisionDialerNumbers => {
                let mut user = self.managed_user(tx, actor, user_id).await?;
                if user.dialer_number.is_some() {
                    let changes = Changes::new().field("dialer_number", &user.dialer_number, &None);
                    user.dialer_number = None;
                    self.save_user(tx, actor, &mut user, "user.dialer_number_deprovisioned", changes).await?;
                }
                Ok(Done::default())
            }
            BulkAction::CheckConnectionStatus => Ok(Done::default()),
        }
    }

    /// One user's license change inside a bulk request.
    pub(crate) async fn license_step(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user_id: UserId,
        op: BulkOp,
        products: &BTreeSet<Key>,
    ) -> ServiceResult<LicenseChange> {
        let user = super::support::load_user(tx, actor.org_id(), user_id).await?;
        let tree = load_tree(tx, actor.org_id()).await?;
        let groups = groups_of(tx, actor.org_id(), user.id, &tree).await?;
        actor.require_over_user(Permission::ManageLicenses, &groups)?;
        let mut user = user;
        let catalog = load_catalog(tx, actor.org_id()).await?;
        let held = held_products(tx, user.org_id, user.id).await?;
        let plan = match op {
            BulkOp::Assign => catalog.plan_assign(&held, products)?,
            BulkOp::Unassign => catalog.plan_unassign(&held, products)?,
        };
        self.apply_plan(tx, actor, &mut user, &held, &plan, None).await?;
        Ok(LicenseChange::of(user_id, &plan))
    }

    /// Whether each selected user's CRM identity is active, asked before the transaction
    /// opens (no network call holds a database transaction).
    pub(crate) async fn crm_states(
        &self,
        actor: &Actor,
        selection: &BulkSelection,
    ) -> ServiceResult<Vec<(UserId, Option<bool>)>> {
        actor.require(Permission::ManageUsers)?;
        self.require_crm_for_status()?;
        let users = {
            let mut tx = self.begin_read().await?;
            let ids = self.select(&mut *tx, actor, selection).await?;
            tx.users_by_ids(actor.org_id(), &ids).await?
        };
        let crm_ids: Vec<_> = users.iter().filter_map(|u| u.crm_id.clone()).collect();
        let directory = if crm_ids.is_empty() { Vec::new() } else { self.crm()?.get(&crm_ids).await? };
        Ok(users
            .iter()
            .map(|u| {
                let active =
                    u.crm_id.as_ref().and_then(|c| directory.iter().find(|d| &d.crm_id == c)).map(|d| d.active);
                (u.id, active)
            })
            .collect())
    }

    /// Checking connection status needs a CRM directory. A missing one is the request's fault
    /// (it asks for something this installation cannot do), not an infrastructure failure.
    pub(crate) fn require_crm_for_status(&self) -> ServiceResult<()> {
        if self.crm.is_none() {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "action",
                "crm_not_configured",
                "no CRM directory is configured: connection status cannot be checked",
            )]));
        }
        Ok(())
    }
}

/// The refusal of a selection of no user: no id (`user_ids`, `empty`), or a filter that matches
/// no user (`filter`, `no_match`): a rule of the data, not of the request's shape.
pub(crate) fn no_user_selected(selection: &BulkSelection) -> FieldError {
    match selection {
        BulkSelection::Ids(_) => FieldError::new("user_ids", "empty", "select at least one user"),
        BulkSelection::Filter(_) => FieldError::new("filter", "no_match", "the filter matches no user"),
    }
}
