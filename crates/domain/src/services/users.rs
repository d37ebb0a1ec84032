//! Users and their lifecycle: create, read, update, deactivate, reactivate, delete, restore,
//! onboarding facts, roles and per-user grants, system inactivity (§3, §4.5, §5).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::actor::{Actor, Authority, Coverage};
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::catalog::Catalog;
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::groups::{GroupTree, Membership, live_groups};
use crate::ids::{GroupId, UserId};
use crate::org::Organization;
use crate::ports::{Tx, UserLookup};
use crate::roles::{Permission, Role, RoleGrant, RoleRef, Visibility};
use crate::scheduling::ScheduledChange;
use crate::user::{
    CallRecording, DirectoryAttributes, Homepage, InactiveReason, MailboxProvider, RESTORE_WINDOW, Status, StatusFacts,
    User, UserSettings, derive_status,
};
use crate::users_query::{UserCursor, UserPageFacts, UserQuery, within_scope};
use crate::values::{AgentId, CrmId, Email, Key, Nicknames, Password, PersonName, Phone};

use super::Services;
use super::support::{
    check_last_admin, groups_of, held_products, load_catalog, load_org, load_tree, load_user, reader_scope,
};

/// `POST /users`.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The login address; must be free among the organization's live users.
    pub email: Email,
    /// The given name.
    pub first_name: PersonName,
    /// The family name.
    pub last_name: PersonName,
    /// The phone, unique among the organization's live users when given.
    pub phone: Option<Phone>,
    /// Other names the search finds the user by.
    pub nicknames: Nicknames,
    /// The agent id in the vendor's product, unique in the organization when given.
    pub agent_id: Option<AgentId>,
    /// The CRM's id of the user, unique in the organization when given.
    pub crm_id: Option<CrmId>,
    /// The number the dialer rings to reach the agent.
    pub agent_ring_number: Option<Phone>,
    /// The outbound number provisioned for the dialer.
    pub dialer_number: Option<Phone>,
    /// The settings that differ from the defaults of §3; the throttle must fit the provider's
    /// cap.
    pub settings: SettingsPatch,
    /// Role keys; `standard` when empty.
    pub roles: Vec<Key>,
    /// Groups (depth 2 or 3) the user joins at once, each one the actor manages (§6:
    /// `manage_groups`); empty leaves them ungrouped.
    pub group_ids: Vec<GroupId>,
    /// Products assigned at once, all or nothing against the seats (§4.3).
    pub products: BTreeSet<Key>,
    /// An initial password (§3, §10); without one the member has none until a reset link or an
    /// admin sets it.
    pub password: Option<Password>,
}

/// A role to grant, optionally limited to a group subtree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleAssignment {
    /// The role, by key or id; the use case resolves it among the organization's roles.
    pub role: RoleRef,
    /// The group whose subtree the grant is limited to; `None` for the whole organization.
    pub scope: Option<GroupId>,
}

impl RoleAssignment {
    /// The role named by `key`, over the whole organization.
    pub fn org_wide(key: Key) -> Self {
        Self { role: RoleRef::Key(key), scope: None }
    }
}

/// A partial profile change (`PATCH /users/{id}`); `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    /// The new login address; refused for an invitee (`invite_pending`).
    pub email: Option<Email>,
    /// The new given name.
    pub first_name: Option<PersonName>,
    /// The new family name.
    pub last_name: Option<PersonName>,
    /// The new phone; `Some(None)` clears it.
    pub phone: Option<Option<Phone>>,
    /// The new nicknames, replacing the old.
    pub nicknames: Option<Nicknames>,
    /// The new agent id; `Some(None)` clears it.
    pub agent_id: Option<Option<AgentId>>,
    /// The new CRM id; `Some(None)` clears it.
    pub crm_id: Option<Option<CrmId>>,
    /// The new agent ring number; `Some(None)` clears it.
    pub agent_ring_number: Option<Option<Phone>>,
    /// The new dialer number; `Some(None)` clears it.
    pub dialer_number: Option<Option<Phone>>,
    /// Changes of the user's settings; an empty patch changes none.
    pub settings: SettingsPatch,
}

/// A partial change of a user's settings (also the bulk actions of §10). Serialized as part of
/// a job's input: an absent field changes nothing, `null` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SettingsPatch {
    /// The new mailbox provider; the throttle must fit its cap.
    pub mailbox_provider: Option<MailboxProvider>,
    /// The new daily email throttle: 1 up to the provider's cap.
    pub email_throttle_max_per_day: Option<u32>,
    /// Whether the user may use Flow.
    pub flow_enabled: Option<bool>,
    /// Whether the user's email is synced.
    pub email_sync: Option<bool>,
    /// Whether the user's calendar is synced.
    pub calendar_sync: Option<bool>,
    /// Whether the user's calls are recorded.
    pub call_recording: Option<CallRecording>,
    /// Where the product opens for the user.
    pub homepage: Option<Homepage>,
    /// Whether the user takes part in round-robin distribution.
    pub round_robin: Option<bool>,
    /// Whether the user's calls are scored.
    pub scoring_enabled: Option<bool>,
    /// Whether the user works across teams (roaming agent).
    pub roaming_agent: Option<bool>,
    /// Where VoIP calls are forwarded; `Some(None)` stops forwarding.
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::values::double_option")]
    pub voip_forward_to: Option<Option<Phone>>,
}

impl SettingsPatch {
    /// The settings after the patch, validated.
    ///
    /// # Errors
    /// `validation_failed` when the throttle leaves the provider's range.
    pub fn apply(&self, s: &UserSettings) -> ServiceResult<UserSettings> {
        let next = UserSettings {
            mailbox_provider: self.mailbox_provider.unwrap_or(s.mailbox_provider),
            email_throttle_max_per_day: self.email_throttle_max_per_day.unwrap_or(s.email_throttle_max_per_day),
            flow_enabled: self.flow_enabled.unwrap_or(s.flow_enabled),
            email_sync: self.email_sync.unwrap_or(s.email_sync),
            calendar_sync: self.calendar_sync.unwrap_or(s.calendar_sync),
            call_recording: self.call_recording.unwrap_or(s.call_recording),
            homepage: self.homepage.unwrap_or(s.homepage),
            round_robin: self.round_robin.unwrap_or(s.round_robin),
            scoring_enabled: self.scoring_enabled.unwrap_or(s.scoring_enabled),
            roaming_agent: self.roaming_agent.unwrap_or(s.roaming_agent),
            voip_forward_to: self.voip_forward_to.clone().unwrap_or_else(|| s.voip_forward_to.clone()),
        };
        next.validate()?;
        Ok(next)
    }
}

/// The onboarding facts the product reports (`PUT /users/{id}/onboarding`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnboardingFacts {
    /// Whether the user connected their CRM; `None` leaves the fact as is.
    pub crm_connected: Option<bool>,
    /// Whether the user connected their mailbox; `None` leaves the fact as is.
    pub mailbox_connected: Option<bool>,
}

/// A deleted user, as [`Services::deleted_user`] reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedUser {
    /// The user's id, kept by the deletion.
    pub id: UserId,
    /// The names the user had when deleted.
    pub first_name: PersonName,
    /// See `first_name`.
    pub last_name: PersonName,
    /// The address the user had; another member may have taken it since.
    pub email: Email,
    /// When the user was deleted.
    pub deleted_at: time::OffsetDateTime,
    /// The end of the restore window (§3.1: 30 days); after it, `restore_user` answers
    /// `restore_expired`.
    pub restorable_until: time::OffsetDateTime,
}

/// A user as the API shows them: the row, the derived status, products and current groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserDetails {
    /// The user's row.
    pub user: User,
    /// The status derived now (§3.1).
    pub status: Status,
    /// The products the user holds.
    pub products: BTreeSet<Key>,
    /// The user's current groups: open memberships of live groups.
    pub groups: BTreeSet<GroupId>,
    /// The user's pending scheduled changes, by due time.
    pub scheduled: Vec<ScheduledChange>,
}

impl Services {
    /// Creates a member directly (`POST /users`), with every profile field and setting of §3,
    /// roles, groups, licenses and an initial password, in one transaction. The password is
    /// hashed before the transaction opens, so no database lock waits on Argon2; giving one is
    /// handing out no authority, but an impersonating session sets no password (§10).
    ///
    /// # Errors
    /// `forbidden` (also for a group outside the actor's `manage_groups`), `conflict` on a
    /// unique field, `validation_failed` (unknown role, product or group — named
    /// `group_ids[i]` —, a throttle above the provider's cap), `missing_prerequisite`,
    /// `seat_limit_reached`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_user(&self, actor: &Actor, mut new: NewUser) -> ServiceResult<UserDetails> {
        let hash = match new.password.take() {
            Some(password) => {
                actor.require_not_impersonating("passwords")?;
                Some(self.hasher.hash(&password).await?)
            }
            None => None,
        };
        let mut tx = self.begin().await?;
        let mut user = self.create_user_in(&mut *tx, actor, new).await?;
        if let Some(hash) = hash {
            tx.set_password_hash(user.org_id, user.id, &hash).await?;
            user.has_password = true;
            self.save_user(&mut *tx, actor, &mut user, "user.password_set", Changes::new()).await?;
        }
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// [`Services::create_user`] inside the caller's transaction, without the password (which
    /// the caller hashes before its transaction opens and sets after).
    pub(crate) async fn create_user_in(&self, tx: &mut dyn Tx, actor: &Actor, new: NewUser) -> ServiceResult<User> {
        self.create_user_with(tx, actor, new, DirectoryAttributes::default()).await
    }

    /// [`Services::create_user_in`] for a member whose identity provider also keeps
    /// `directory` about them (SCIM, §13): one insert, one `user.created` event naming them.
    pub(crate) async fn create_user_with(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        new: NewUser,
        directory: DirectoryAttributes,
    ) -> ServiceResult<User> {
        let org = actor.org_id();
        let tree = load_tree(tx, org).await?;
        let settings = new.settings.apply(&UserSettings::default())?;
        let groups = tree.check_joining(&new.group_ids, "group_ids")?;
        actor.require_over_user(Permission::ManageUsers, &groups)?;
        for g in &groups {
            actor.require_over_group(Permission::ManageGroups, *g)?;
        }
        check_unique(tx, org, None, &new.email, new.phone.as_ref(), new.agent_id.as_ref(), new.crm_id.as_ref()).await?;
        let roles = tx.roles(org).await?;
        let keys =
            if new.roles.is_empty() { vec![Key::parse("standard").expect("valid key")] } else { new.roles.clone() };
        let assignments: Vec<RoleAssignment> = keys.into_iter().map(RoleAssignment::org_wide).collect();
        let grants = resolve_grants(actor, &roles, &assignments, &tree, RolesInput::Keys, &BTreeSet::new())?;
        let now = self.now();
        let mut user = User::new(self.new_id(), org, new.email, new.first_name, new.last_name, grants, now);
        let defaults = user.clone();
        user.phone = new.phone;
        user.nicknames = new.nicknames;
        user.crm_id = new.crm_id;
        user.agent_id = new.agent_id;
        user.agent_ring_number = new.agent_ring_number;
        user.dialer_number = new.dialer_number;
        user.settings = settings;
        user.directory = directory;
        tx.insert_user(&user).await?;
        // The event names every field given a value other than its default (as "after").
        let given = profile_changes(&defaults, &user)
            .note("email", &user.email)
            .note("roles", &assignments.iter().map(|a| a.role.to_string()).collect::<Vec<_>>());
        self.audit(tx, actor, "user.created", AuditTarget::new(TargetKind::User, user.id, user.label()), given).await?;
        self.join_new_member(tx, actor, &tree, &user, &groups).await?;
        if !new.products.is_empty() {
            actor.require_over_user(Permission::ManageLicenses, &groups)?;
            let catalog = load_catalog(tx, org).await?;
            let plan = catalog.plan(&BTreeSet::new(), &new.products)?;
            self.apply_plan(tx, actor, &mut user, &BTreeSet::new(), &plan, None).await?;
        }
        Ok(user)
    }

    /// Makes a member created in this transaction (who has no membership and no connection
    /// yet, so nothing is restamped) a member of `groups`, each audited `membership.joined`.
    pub(crate) async fn join_new_member(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        tree: &GroupTree,
        user: &User,
        groups: &BTreeSet<GroupId>,
    ) -> ServiceResult<()> {
        for g in groups {
            tx.insert_membership(&Membership {
                org_id: user.org_id,
                group_id: *g,
                user_id: user.id,
                joined_at: self.now(),
                left_at: None,
            })
            .await?;
            self.audit(
                tx,
                actor,
                "membership.joined",
                AuditTarget::new(TargetKind::Membership, user.id, format!("{} in {}", user.label(), tree.path(*g))),
                Changes::new().note("group_id", g),
            )
            .await?;
        }
        Ok(())
    }

    /// A user with status, products and groups.
    ///
    /// A member always reads themself; anyone else needs `manage_users` over the user: a
    /// scoped administrator gets `not_found` for a user outside their scope, as for one that
    /// does not exist (ADR 0028).
    ///
    /// # Errors
    /// `not_found` (also for another organization's user), `forbidden` without `manage_users`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn get_user(&self, actor: &Actor, id: UserId) -> ServiceResult<UserDetails> {
        let mut tx = self.begin_read().await?;
        let user = load_user(&mut *tx, actor.org_id(), id).await?;
        let scope = if actor.user_id() == Some(id) { None } else { reader_scope(actor)? };
        let (org, tree) = self.read_org_and_tree(&mut *tx, user.org_id).await?;
        let details = details_of_page(&mut *tx, &org, vec![user], &tree, self.now()).await?.pop();
        details
            .filter(|d| scope.as_ref().is_none_or(|s| within_scope(s, &d.groups)))
            .ok_or(ServiceError::not_found("user"))
    }

    /// The full names (`First Last`) of the users among `ids` the reader may see, read at once
    /// (for a list of outcomes that names its users); unknown ids, another organization's and
    /// users outside a scoped reader's groups are left out.
    ///
    /// # Errors
    /// `forbidden` without `manage_users`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn user_names(&self, actor: &Actor, ids: &[UserId]) -> ServiceResult<BTreeMap<UserId, String>> {
        let scope = reader_scope(actor)?;
        let mut tx = self.begin_read().await?;
        let users = tx.users_by_ids(actor.org_id(), ids).await?;
        let within: Option<BTreeMap<UserId, BTreeSet<GroupId>>> = match &scope {
            None => None,
            Some(_) => {
                let listed: Vec<UserId> = users.iter().map(|u| u.id).collect();
                let facts = tx.page_facts(actor.org_id(), &listed).await?;
                Some(facts.into_iter().map(|f| (f.user_id, f.open_groups)).collect())
            }
        };
        Ok(users
            .into_iter()
            .filter(|u| match (&scope, &within) {
                (Some(scope), Some(groups)) => groups.get(&u.id).is_some_and(|g| within_scope(scope, g)),
                _ => true,
            })
            .map(|u| (u.id, format!("{} {}", u.first_name.as_str(), u.last_name.as_str())))
            .collect())
    }

    /// The Users table (§10). The caller fills filters, sort and paging; the organization and
    /// trial flag come from the actor, and a role named by key is resolved in the same read
    /// transaction.
    ///
    /// A scoped administrator's page holds only the users their scope covers (`query.within`
    /// is always set here, whatever the caller put there).
    ///
    /// # Errors
    /// `forbidden` without `manage_users`; `validation_failed` for a search that is too long
    /// ([`UserQuery::check`]) or an unknown role.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_users(&self, actor: &Actor, mut query: UserQuery) -> ServiceResult<UserDetailsPage> {
        let mut tx = self.begin_read().await?;
        let (org, tree) = self.read_org_and_tree(&mut *tx, actor.org_id()).await?;
        self.prepare_user_query(&mut *tx, actor, &org, &mut query).await?;
        self.user_details_page(&mut *tx, &org, &tree, &query).await
    }

    /// Sets what a Users query takes from the reader and the organization, not from the
    /// caller: the reader's scope, the organization, the trial flag and the role a key names
    /// (read in `tx`); and checks the rest.
    pub(crate) async fn prepare_user_query(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        org: &Organization,
        query: &mut UserQuery,
    ) -> ServiceResult<()> {
        query.within = reader_scope(actor)?;
        query.check().map_err(ServiceError::Validation)?;
        if let Some(role) = &query.role {
            let roles = self.read_roles(tx, org.id).await?;
            query.role = Some(role.resolve(&roles).map_err(|e| ServiceError::Validation(vec![e]))?);
        }
        query.org_id = org.id;
        query.in_trial = org.in_trial(self.now());
        Ok(())
    }

    /// The page a prepared query asks for, with each row's details.
    pub(crate) async fn user_details_page(
        &self,
        tx: &mut dyn Tx,
        org: &Organization,
        tree: &GroupTree,
        query: &UserQuery,
    ) -> ServiceResult<UserDetailsPage> {
        let (page, facts) = tx.list_users_with_facts(query).await?;
        let items = details_with_facts(tx, org, page.items, facts, tree, self.now()).await?;
        Ok(UserDetailsPage {
            items,
            next_cursor: page.next_cursor,
            previous_cursor: page.previous_cursor,
            total: page.total,
        })
    }

    /// Changes profile fields and settings (`PATCH /users/{id}`), with `If-Match`.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `precondition_failed`, `conflict` on a unique field,
    /// `validation_failed`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        patch: ProfilePatch,
        expected_version: Option<u64>,
    ) -> ServiceResult<UserDetails> {
        let mut tx = self.begin().await?;
        let mut user = self.managed_user(&mut *tx, actor, id).await?;
        user.check_version(expected_version)?;
        let before = user.clone();
        if let Some(v) = patch.email {
            user.change_email(v)?;
        }
        if let Some(v) = patch.first_name {
            user.first_name = v;
        }
        if let Some(v) = patch.last_name {
            user.last_name = v;
        }
        if let Some(v) = patch.phone {
            user.phone = v;
        }
        if let Some(v) = patch.nicknames {
            user.nicknames = v;
        }
        if let Some(v) = patch.agent_id {
            user.agent_id = v;
        }
        if let Some(v) = patch.crm_id {
            user.crm_id = v;
        }
        if let Some(v) = patch.agent_ring_number {
            user.agent_ring_number = v;
        }
        if let Some(v) = patch.dialer_number {
            user.dialer_number = v;
        }
        user.settings = patch.settings.apply(&user.settings)?;
        check_unique(
            &mut *tx,
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
            self.save_user_labelled(&mut *tx, actor, &mut user, before.label(), "user.updated", changes).await?;
        }
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Deactivates a user (§3.1): releases every license in the same transaction, keeps data.
    /// Deactivating an already deactivated user changes nothing.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `precondition_failed`, `self_deactivation`, `last_admin`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn deactivate_user(
        &self,
        actor: &Actor,
        id: UserId,
        expected_version: Option<u64>,
    ) -> ServiceResult<UserDetails> {
        let mut tx = self.begin().await?;
        let user = self.managed_user(&mut *tx, actor, id).await?;
        user.check_version(expected_version)?;
        let user = self.deactivate_in(&mut *tx, actor, user).await?;
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    pub(crate) async fn deactivate_in(&self, tx: &mut dyn Tx, actor: &Actor, mut user: User) -> ServiceResult<User> {
        if user.is_deactivated() {
            return Ok(user);
        }
        user.ensure_removable_by(actor.member())?;
        check_last_admin(tx, &user, false).await?;
        let released = self.release_all(tx, actor, &mut user, "deactivated").await?;
        // Seats reserved for the user's pending invite are released too: a deactivated user
        // takes no seat, and accepting the invite later must not turn them into licenses.
        let mut withdrawn = BTreeSet::new();
        for invite in tx.pending_invites(user.org_id).await?.into_iter().filter(|i| i.user_id == user.id) {
            withdrawn.extend(tx.reservations_of(user.org_id, invite.id).await?.into_iter().map(|r| r.product));
            self.withdraw_reservations(tx, &invite).await?;
        }
        user.lifecycle.deactivated_at = Some(self.now());
        let mut changes = Changes::new().field("deactivated", &false, &true).note("released", &released);
        if !withdrawn.is_empty() {
            changes = changes.note("released_reservations", &withdrawn);
        }
        self.save_user(tx, actor, &mut user, "user.deactivated", changes).await?;
        // Reactivating must not revive them: the sessions are gone, not suspended.
        self.end_sessions(tx, user.org_id, user.id).await?;
        Ok(user)
    }

    /// Reactivates a user, optionally assigning products in the same operation: all of them or,
    /// if any is refused, nothing at all (the user stays deactivated).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `precondition_failed`, `missing_prerequisite`,
    /// `seat_limit_reached`, `validation_failed`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn reactivate_user(
        &self,
        actor: &Actor,
        id: UserId,
        products: BTreeSet<Key>,
        expected_version: Option<u64>,
    ) -> ServiceResult<UserDetails> {
        let mut tx = self.begin().await?;
        let mut user = self.managed_user(&mut *tx, actor, id).await?;
        user.check_version(expected_version)?;
        self.reactivate_in(&mut *tx, actor, &mut user).await?;
        if !products.is_empty() {
            let catalog = load_catalog(&mut *tx, user.org_id).await?;
            let held = held_products(&mut *tx, user.org_id, user.id).await?;
            let plan = catalog.plan_assign(&held, &products)?;
            let tree = load_tree(&mut *tx, user.org_id).await?;
            let groups = groups_of(&mut *tx, user.org_id, user.id, &tree).await?;
            actor.require_over_user(Permission::ManageLicenses, &groups)?;
            self.apply_plan(&mut *tx, actor, &mut user, &held, &plan, Some("reactivated")).await?;
        }
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Clears a deactivation (§3.1): the member holds no license until one is assigned.
    /// Reactivating an active member changes nothing.
    pub(crate) async fn reactivate_in(&self, tx: &mut dyn Tx, actor: &Actor, user: &mut User) -> ServiceResult<()> {
        if !user.is_deactivated() {
            return Ok(());
        }
        user.lifecycle.deactivated_at = None;
        self.save_user(tx, actor, user, "user.reactivated", Changes::new().field("deactivated", &true, &false)).await
    }

    /// Soft-deletes a user (§3.1): licenses released, memberships ended, a pending invite
    /// withdrawn, email freed. Needs `confirm`.
    ///
    /// # Errors
    /// `confirmation_required`, `forbidden`, `not_found`, `self_deactivation`, `last_admin`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn delete_user(&self, actor: &Actor, id: UserId, confirm: bool) -> ServiceResult<()> {
        if !confirm {
            return Err(ServiceError::ConfirmationRequired);
        }
        let mut tx = self.begin().await?;
        let mut user = self.managed_user(&mut *tx, actor, id).await?;
        user.ensure_removable_by(actor.member())?;
        check_last_admin(&mut *tx, &user, false).await?;
        let released = self.release_all(&mut *tx, actor, &mut user, "deleted").await?;
        let now = self.now();
        let tree = load_tree(&mut *tx, user.org_id).await?;
        for g in groups_of(&mut *tx, user.org_id, user.id, &tree).await? {
            tx.end_membership(user.org_id, g, user.id, now).await?;
        }
        for invite in tx.pending_invites(user.org_id).await?.into_iter().filter(|i| i.user_id == user.id) {
            self.withdraw_reservations(&mut *tx, &invite).await?;
            tx.delete_invite(user.org_id, invite.id).await?;
        }
        user.lifecycle.deleted_at = Some(now);
        user.lifecycle.invited = false;
        self.save_user(
            &mut *tx,
            actor,
            &mut user,
            "user.deleted",
            Changes::new().field("deleted", &false, &true).note("released", &released),
        )
        .await?;
        self.end_sessions(&mut *tx, user.org_id, user.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A deleted user, as shown before a restore: who they were, when they were deleted and
    /// until when they can be restored. Read by whoever may restore (`manage_users` over the
    /// whole organization).
    ///
    /// # Errors
    /// `forbidden`; `not_found` for an unknown user, another organization's, or one not deleted.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn deleted_user(&self, actor: &Actor, id: UserId) -> ServiceResult<DeletedUser> {
        actor.require_over_user(Permission::ManageUsers, &BTreeSet::new())?;
        let mut tx = self.begin_read().await?;
        let user = tx.user(actor.org_id(), id).await?.ok_or(ServiceError::not_found("user"))?;
        let deleted_at = user.lifecycle.deleted_at.ok_or(ServiceError::not_found("deleted user"))?;
        Ok(DeletedUser {
            id: user.id,
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            deleted_at,
            restorable_until: deleted_at + RESTORE_WINDOW,
        })
    }

    /// Restores a user deleted less than 30 days ago whose email is still free, without
    /// licenses or groups.
    ///
    /// # Errors
    /// `forbidden`, `not_found` (never deleted or unknown), `restore_expired`, `conflict` on
    /// `email` (or another unique field taken meanwhile).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn restore_user(&self, actor: &Actor, id: UserId) -> ServiceResult<UserDetails> {
        actor.require_over_user(Permission::ManageUsers, &BTreeSet::new())?;
        let mut tx = self.begin().await?;
        let mut user = tx.user(actor.org_id(), id).await?.ok_or(ServiceError::not_found("user"))?;
        let Some(deleted_at) = user.lifecycle.deleted_at else { return Err(ServiceError::not_found("deleted user")) };
        let roles = tx.roles(actor.org_id()).await?;
        let tree = load_tree(&mut *tx, actor.org_id()).await?;
        actor.require_dominates(&Authority::of_user(&user, &roles, &tree))?;
        let now = self.now();
        if now - deleted_at > RESTORE_WINDOW {
            return Err(ServiceError::RestoreExpired);
        }
        check_unique(
            &mut *tx,
            user.org_id,
            Some(user.id),
            &user.email,
            user.phone.as_ref(),
            user.agent_id.as_ref(),
            user.crm_id.as_ref(),
        )
        .await?;
        user.lifecycle.deleted_at = None;
        self.save_user(&mut *tx, actor, &mut user, "user.restored", Changes::new().field("deleted", &true, &false))
            .await?;
        let details = details_of(&mut *tx, user, now).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Records onboarding facts the product reports (CRM and mailbox connected).
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_onboarding(
        &self,
        actor: &Actor,
        id: UserId,
        facts: OnboardingFacts,
    ) -> ServiceResult<UserDetails> {
        let mut tx = self.begin().await?;
        let mut user = self.managed_user(&mut *tx, actor, id).await?;
        let before = user.lifecycle.clone();
        if let Some(v) = facts.crm_connected {
            user.lifecycle.crm_connected = v;
        }
        if let Some(v) = facts.mailbox_connected {
            user.lifecycle.mailbox_connected = v;
        }
        if before != user.lifecycle {
            let changes = Changes::new()
                .field("crm_connected", &before.crm_connected, &user.lifecycle.crm_connected)
                .field("mailbox_connected", &before.mailbox_connected, &user.lifecycle.mailbox_connected);
            self.save_user(&mut *tx, actor, &mut user, "user.onboarding_changed", changes).await?;
        }
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Replaces a user's roles (§5). A grant can be scoped to a group subtree.
    ///
    /// # Errors
    /// `forbidden` (also while impersonating, for roles the actor may not grant, and for
    /// non-assignable roles), `validation_failed` (unknown role or empty list), `last_admin`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_roles(
        &self,
        actor: &Actor,
        id: UserId,
        roles: Vec<RoleAssignment>,
        expected_version: Option<u64>,
    ) -> ServiceResult<UserDetails> {
        actor.require_not_impersonating("roles")?;
        if roles.is_empty() {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "roles",
                "required",
                "a user needs at least one role",
            )]));
        }
        let mut tx = self.begin().await?;
        let user = self.managed_user(&mut *tx, actor, id).await?;
        user.check_version(expected_version)?;
        let user = self.set_roles_in(&mut *tx, actor, user, &roles).await?;
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Gives the member with this email one more role (`roster roles grant`), organization-wide
    /// or scoped, keeping the roles they hold; a grant they already hold changes nothing. The
    /// rules are [`Services::set_roles`]'s: a role that is not assignable (`scorer`, §5) is
    /// granted by the operator only, and an admin who later edits the member's roles may keep
    /// it but not give it to anyone else.
    ///
    /// # Errors
    /// `not_found` (no live member with this email), `validation_failed` on `role` (no such
    /// role, or a scope that is no live group), `forbidden` (a non-assignable role granted by
    /// anyone but the operator, or a role or member beyond the actor's authority).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn grant_role(&self, actor: &Actor, email: &Email, role: RoleAssignment) -> ServiceResult<GrantedRole> {
        actor.require_not_impersonating("roles")?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let user = tx
            .find_user(org, UserLookup::Email(email))
            .await?
            .filter(|u| !u.is_deleted())
            .ok_or(ServiceError::not_found("user"))?;
        self.require_manages(&mut *tx, actor, &user).await?;
        let all_roles = tx.roles(org).await?;
        let granted = role.role.find(&all_roles).cloned().ok_or_else(|| {
            ServiceError::Validation(vec![FieldError::new("role", "unknown_role", format!("no role {}", role.role))])
        })?;
        // Every role by id, so that the one granted is recognised among those held.
        let role = RoleAssignment { role: RoleRef::Id(granted.id), scope: role.scope };
        let mut roles: Vec<RoleAssignment> =
            user.roles.iter().map(|g| RoleAssignment { role: RoleRef::Id(g.role_id), scope: g.scope }).collect();
        let newly = !roles.contains(&role);
        if newly {
            roles.push(role);
        }
        let user = self.set_roles_in(&mut *tx, actor, user, &roles).await?;
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(GrantedRole { details, role: granted, newly_granted: newly })
    }

    pub(crate) async fn set_roles_in(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        mut user: User,
        roles: &[RoleAssignment],
    ) -> ServiceResult<User> {
        actor.require_not_impersonating("roles")?;
        let all_roles = tx.roles(user.org_id).await?;
        let tree = load_tree(tx, user.org_id).await?;
        let grants = resolve_grants(actor, &all_roles, roles, &tree, RolesInput::Assignments, &user.roles)?;
        if grants == user.roles {
            return Ok(user);
        }
        let admin = super::support::admin_role(&all_roles)?;
        let stays_admin = grants.iter().any(|g| g.role_id == admin.id && g.scope.is_none());
        check_last_admin(tx, &user, stays_admin).await?;
        let before: Vec<String> = role_labels(&user.roles, &all_roles);
        let changes = Changes::new().field("roles", &before, &role_labels(&grants, &all_roles));
        // A demotion ends the member's sessions (§5): losing any grant counts.
        let demoted = !user.roles.is_subset(&grants);
        user.roles = grants;
        self.save_user(tx, actor, &mut user, "user.roles_changed", changes).await?;
        if demoted {
            self.end_sessions(tx, user.org_id, user.id).await?;
        }
        Ok(user)
    }

    /// Replaces a user's per-user grants: extra permissions (only `view_reporting` and
    /// `audio_scoring`) and extra group access (§5).
    ///
    /// # Errors
    /// `forbidden` (also while impersonating), `validation_failed` (other permissions, unknown
    /// or deleted groups), `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_grants(
        &self,
        actor: &Actor,
        id: UserId,
        permissions: BTreeSet<Permission>,
        group_access: BTreeSet<GroupId>,
    ) -> ServiceResult<UserDetails> {
        actor.require_not_impersonating("roles")?;
        if let Some(p) = permissions.iter().find(|p| !Permission::GRANTABLE.contains(p)) {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "permissions",
                "not_grantable",
                format!("{} can only be given through a role", p.as_str()),
            )]));
        }
        actor.require_may_give(&Authority::of_permissions(&permissions, Visibility::OwnInvites), "the grant")?;
        let mut tx = self.begin().await?;
        let mut user = self.managed_user(&mut *tx, actor, id).await?;
        let tree = load_tree(&mut *tx, user.org_id).await?;
        for g in &group_access {
            tree.live(*g).map_err(|_| {
                ServiceError::Validation(vec![FieldError::new(
                    "group_access",
                    "unknown_group",
                    format!("no live group {g}"),
                )])
            })?;
            actor.require_over_group(Permission::ManageUsers, *g)?;
        }
        let changes = Changes::new().field("extra_permissions", &user.extra_permissions, &permissions).field(
            "group_access",
            &user.group_access,
            &group_access,
        );
        if !changes.is_empty() {
            // Losing a permission or a group's access is a demotion: the sessions end (§5).
            let demoted =
                !user.extra_permissions.is_subset(&permissions) || !user.group_access.is_subset(&group_access);
            user.extra_permissions = permissions;
            user.group_access = group_access;
            self.save_user(&mut *tx, actor, &mut user, "user.grants_changed", changes).await?;
            if demoted {
                self.end_sessions(&mut *tx, user.org_id, user.id).await?;
            }
        }
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Replaces the inactive reasons the vendor's product reports about a member (§3.1, §10):
    /// each of [`InactiveReason::REPORTED`] is set when listed and cleared when not, in one
    /// transaction, each change audited and applied as [`Services::set_inactive_reason`] does
    /// (licenses released when the member becomes inactive and the organization says so).
    ///
    /// # Errors
    /// `validation_failed` (field `reasons`, code `not_reportable`) for `inactive_in_crm` or
    /// `no_license`, which Roster sets itself; `forbidden`; `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_reported_inactive_reasons(
        &self,
        actor: &Actor,
        id: UserId,
        reasons: &BTreeSet<InactiveReason>,
    ) -> ServiceResult<UserDetails> {
        let refused: Vec<FieldError> = reasons
            .iter()
            .filter(|r| !r.is_reported())
            .map(|r| {
                FieldError::new(
                    "reasons",
                    "not_reportable",
                    format!("{} is set by Roster itself, not reported by the product", r.as_str()),
                )
            })
            .collect();
        if !refused.is_empty() {
            return Err(ServiceError::Validation(refused));
        }
        let mut tx = self.begin().await?;
        let mut user = self.managed_user(&mut *tx, actor, id).await?;
        for reason in InactiveReason::REPORTED {
            user = self.set_inactive_in(&mut *tx, actor, user, reason, reasons.contains(&reason)).await?;
        }
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Sets or clears a system reason for inactivity (§3.1, §4.5). When the user becomes
    /// inactive and the organization releases seats of inactive users, their licenses are
    /// released in the same transaction with an audit event saying why.
    ///
    /// # Errors
    /// `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_inactive_reason(
        &self,
        actor: &Actor,
        id: UserId,
        reason: InactiveReason,
        on: bool,
    ) -> ServiceResult<UserDetails> {
        let mut tx = self.begin().await?;
        let user = self.managed_user(&mut *tx, actor, id).await?;
        let user = self.set_inactive_in(&mut *tx, actor, user, reason, on).await?;
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    pub(crate) async fn set_inactive_in(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        mut user: User,
        reason: InactiveReason,
        on: bool,
    ) -> ServiceResult<User> {
        let had = user.lifecycle.inactive_reasons.contains(&reason);
        if had == on {
            return Ok(user);
        }
        let org = load_org(tx, user.org_id).await?;
        if on {
            user.lifecycle.inactive_reasons.insert(reason);
        } else {
            user.lifecycle.inactive_reasons.remove(&reason);
        }
        let (before, after) = if on { (None, Some(reason)) } else { (Some(reason), None) };
        let action = if on { "user.marked_inactive" } else { "user.inactive_cleared" };
        self.save_user(tx, actor, &mut user, action, Changes::new().field("inactive_reasons", &before, &after)).await?;
        if on && org.settings.release_seats_when_inactive {
            let why = format!(
                "inactive: {}",
                serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            );
            self.release_all(tx, actor, &mut user, &why).await?;
        }
        Ok(user)
    }

    /// Loads a live user `actor` may manage: `manage_users` over the user's current groups, and
    /// an authority that covers the user's (the rule of dominance, §5).
    pub(crate) async fn managed_user(&self, tx: &mut dyn Tx, actor: &Actor, id: UserId) -> ServiceResult<User> {
        let user = load_user(tx, actor.org_id(), id).await?;
        self.require_manages(tx, actor, &user).await?;
        Ok(user)
    }

    /// Refuses `actor` acting on `user` unless they hold `manage_users` over the user's current
    /// groups and their authority covers the user's.
    pub(crate) async fn require_manages(&self, tx: &mut dyn Tx, actor: &Actor, user: &User) -> ServiceResult<()> {
        let tree = load_tree(tx, actor.org_id()).await?;
        let groups = groups_of(tx, actor.org_id(), user.id, &tree).await?;
        actor.require_over_user(Permission::ManageUsers, &groups)?;
        let roles = tx.roles(actor.org_id()).await?;
        actor.require_dominates(&Authority::of_user(user, &roles, &tree))
    }
}

/// What [`Services::grant_role`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedRole {
    /// The member as they now are.
    pub details: UserDetails,
    /// The role granted.
    pub role: Role,
    /// False when the member already held the grant (nothing changed).
    pub newly_granted: bool,
}

/// A page of the Users table: each row with its derived status, products, current groups and
/// pending scheduled changes (§3.1, §10), as [`Services::get_user`] gives them for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetailsPage {
    /// The rows of the page, in the query's order.
    pub items: Vec<UserDetails>,
    /// As [`crate::users_query::UserPage::next_cursor`].
    pub next_cursor: Option<UserCursor>,
    /// As [`crate::users_query::UserPage::previous_cursor`].
    pub previous_cursor: Option<UserCursor>,
    /// As [`crate::users_query::UserPage::total`].
    pub total: Option<u64>,
}

/// [`details_of`] for a page of users of `org`, with one read per kind of fact for the whole
/// page (not one per user), in the page's order.
pub(crate) async fn details_of_page(
    tx: &mut dyn Tx,
    org: &Organization,
    users: Vec<User>,
    tree: &GroupTree,
    now: time::OffsetDateTime,
) -> ServiceResult<Vec<UserDetails>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let facts = tx.page_facts(org.id, &ids).await?;
    details_with_facts(tx, org, users, facts, tree, now).await
}

/// [`details_of_page`] with the page's facts already read.
pub(crate) async fn details_with_facts(
    tx: &mut dyn Tx,
    org: &Organization,
    users: Vec<User>,
    facts: Vec<UserPageFacts>,
    tree: &GroupTree,
    now: time::OffsetDateTime,
) -> ServiceResult<Vec<UserDetails>> {
    let mut facts: BTreeMap<UserId, UserPageFacts> = facts.into_iter().map(|f| (f.user_id, f)).collect();
    // Pending changes are rare: read only for the users that have some (usually none).
    let pending: Vec<UserId> = facts.values().filter(|f| f.pending_scheduled).map(|f| f.user_id).collect();
    let mut scheduled: BTreeMap<UserId, Vec<ScheduledChange>> = BTreeMap::new();
    if !pending.is_empty() {
        for change in tx.pending_scheduled_for_users(org.id, &pending).await? {
            scheduled.entry(change.user_id).or_default().push(change);
        }
    }
    let in_trial = org.in_trial(now);
    let core = Catalog::core_key();
    Ok(users
        .into_iter()
        .map(|user| {
            let UserPageFacts { products, open_groups, .. } = facts.remove(&user.id).unwrap_or_else(|| UserPageFacts {
                user_id: user.id,
                products: BTreeSet::new(),
                open_groups: BTreeSet::new(),
                pending_scheduled: false,
            });
            let groups = live_groups(open_groups, tree);
            let status = derive_status(&StatusFacts::of(&user, products.contains(&core), in_trial));
            let scheduled = scheduled.remove(&user.id).unwrap_or_default();
            UserDetails { user, status, products, groups, scheduled }
        })
        .collect())
}

/// The user with status, products, groups and scheduled changes.
pub(crate) async fn details_of(tx: &mut dyn Tx, user: User, now: time::OffsetDateTime) -> ServiceResult<UserDetails> {
    let org = load_org(tx, user.org_id).await?;
    let products = held_products(tx, user.org_id, user.id).await?;
    let tree = load_tree(tx, user.org_id).await?;
    let groups = groups_of(tx, user.org_id, user.id, &tree).await?;
    let holds_core = products.contains(&Catalog::core_key());
    let status = derive_status(&StatusFacts::of(&user, holds_core, org.in_trial(now)));
    let scheduled =
        tx.scheduled_for_user(user.org_id, user.id).await?.into_iter().filter(ScheduledChange::is_pending).collect();
    Ok(UserDetails { user, status, products, groups, scheduled })
}

/// Refuses a unique field another live user of the organization already has, naming it.
pub(crate) async fn check_unique(
    tx: &mut dyn Tx,
    org: crate::ids::OrgId,
    me: Option<UserId>,
    email: &Email,
    phone: Option<&Phone>,
    agent_id: Option<&AgentId>,
    crm_id: Option<&CrmId>,
) -> ServiceResult<()> {
    let mut lookups = vec![("email", UserLookup::Email(email))];
    if let Some(p) = phone {
        lookups.push(("phone", UserLookup::Phone(p)));
    }
    if let Some(a) = agent_id {
        lookups.push(("agent_id", UserLookup::AgentId(a)));
    }
    if let Some(c) = crm_id {
        lookups.push(("crm_id", UserLookup::CrmId(c)));
    }
    for (field, lookup) in lookups {
        if let Some(other) = tx.find_user(org, lookup).await?
            && Some(other.id) != me
        {
            return Err(ServiceError::Conflict { field, message: format!("another member already has this {field}") });
        }
    }
    Ok(())
}

/// How a use case's input names its role assignments, for the fields of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RolesInput {
    /// A list of role keys (`"roles": ["standard"]`): the `i`-th is `roles[i]`.
    Keys,
    /// A list of assignments (`"roles": [{"role", "scope"}]`): `roles[i].role`, `roles[i].scope`.
    Assignments,
}

impl RolesInput {
    fn role_field(self, i: usize) -> String {
        match self {
            Self::Keys => format!("roles[{i}]"),
            Self::Assignments => format!("roles[{i}].role"),
        }
    }

    fn scope_field(self, i: usize) -> String {
        match self {
            Self::Keys => format!("roles[{i}]"),
            Self::Assignments => format!("roles[{i}].scope"),
        }
    }
}

/// Turns role assignments (each role by key or id) into grants, refusing unknown roles and
/// scopes that are no live group (every one of them at once, `validation_failed`), then
/// non-assignable roles (except for the operator), scopes outside the actor's reach and roles
/// carrying permissions the actor lacks (nobody hands out more than they have).
///
/// `held` are the grants the user already has: a non-assignable role among them (`scorer`, which
/// the operator granted) may be kept by an admin who sends the user's roles back with it, but
/// never given anew.
pub(crate) fn resolve_grants(
    actor: &Actor,
    roles: &[Role],
    assignments: &[RoleAssignment],
    tree: &crate::groups::GroupTree,
    input: RolesInput,
    held: &BTreeSet<RoleGrant>,
) -> ServiceResult<BTreeSet<RoleGrant>> {
    let mut found = Vec::with_capacity(assignments.len());
    let mut errors = Vec::new();
    for (i, a) in assignments.iter().enumerate() {
        match a.role.find(roles) {
            Some(role) => found.push(role),
            None => errors.push(FieldError::new(input.role_field(i), "unknown_role", format!("no role {}", a.role))),
        }
        if let Some(g) = a.scope
            && tree.live(g).is_err()
        {
            errors.push(FieldError::new(input.scope_field(i), "unknown_group", "no such live group"));
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let mut grants = BTreeSet::new();
    for (a, role) in assignments.iter().zip(found) {
        let grant = RoleGrant { role_id: role.id, scope: a.scope };
        if !actor.is_system() {
            if !role.assignable && !held.contains(&grant) {
                return Err(ServiceError::forbidden(format!(
                    "the {} role can only be granted by the operator",
                    role.key
                )));
            }
            match a.scope {
                // An org-wide grant of an administrative role gives power over the whole
                // organization: only org-wide user managers hand that out. A team admin may
                // still give their people ordinary roles (`standard`, `operations`…).
                None if role.permissions.iter().any(|p| p.is_administrative()) => {
                    actor.require_org_wide(Permission::ManageUsers)?;
                }
                None => actor.require(Permission::ManageUsers)?,
                Some(g) => actor.require_over_group(Permission::ManageUsers, g)?,
            }
            let coverage = a.scope.map_or(Coverage::Org, |g| Coverage::Groups(tree.subtree(g)));
            actor.require_may_give(&Authority::of_role(role, &coverage), &format!("the {} role", role.key))?;
        }
        grants.insert(grant);
    }
    Ok(grants)
}

fn role_labels(grants: &BTreeSet<RoleGrant>, roles: &[Role]) -> Vec<String> {
    grants
        .iter()
        .filter_map(|g| {
            roles.iter().find(|r| r.id == g.role_id).map(|r| match g.scope {
                Some(s) => format!("{}@{s}", r.key),
                None => r.key.to_string(),
            })
        })
        .collect()
}

pub(crate) fn profile_changes(a: &User, b: &User) -> Changes {
    Changes::new()
        .field("email", &a.email, &b.email)
        .field("first_name", &a.first_name, &b.first_name)
        .field("last_name", &a.last_name, &b.last_name)
        .field("phone", &a.phone, &b.phone)
        .field("nicknames", &a.nicknames, &b.nicknames)
        .field("agent_id", &a.agent_id, &b.agent_id)
        .field("crm_id", &a.crm_id, &b.crm_id)
        .field("agent_ring_number", &a.agent_ring_number, &b.agent_ring_number)
        .field("dialer_number", &a.dialer_number, &b.dialer_number)
        .merge(directory_changes(&a.directory, &b.directory))
        .merge(settings_changes(&a.settings, &b.settings))
}

/// The directory attributes that differ (§13), named as SCIM names them.
pub(crate) fn directory_changes(a: &DirectoryAttributes, b: &DirectoryAttributes) -> Changes {
    Changes::new()
        .field("external_id", &a.external_id, &b.external_id)
        .field("title", &a.title, &b.title)
        .field("employee_number", &a.employee_number, &b.employee_number)
        .field("cost_center", &a.cost_center, &b.cost_center)
        .field("organization", &a.organization, &b.organization)
        .field("division", &a.division, &b.division)
        .field("department", &a.department, &b.department)
        .field("manager", &a.manager, &b.manager)
}

/// The settings that differ, each as its own field (`settings.call_recording`), as the API
/// names them.
pub(crate) fn settings_changes(a: &UserSettings, b: &UserSettings) -> Changes {
    Changes::new()
        .field("settings.mailbox_provider", &a.mailbox_provider, &b.mailbox_provider)
        .field("settings.email_throttle_max_per_day", &a.email_throttle_max_per_day, &b.email_throttle_max_per_day)
        .field("settings.flow_enabled", &a.flow_enabled, &b.flow_enabled)
        .field("settings.email_sync", &a.email_sync, &b.email_sync)
        .field("settings.calendar_sync", &a.calendar_sync, &b.calendar_sync)
        .field("settings.call_recording", &a.call_recording, &b.call_recording)
        .field("settings.homepage", &a.homepage, &b.homepage)
        .field("settings.round_robin", &a.round_robin, &b.round_robin)
        .field("settings.scoring_enabled", &a.scoring_enabled, &b.scoring_enabled)
        .field("settings.roaming_agent", &a.roaming_agent, &b.roaming_agent)
        .field("settings.voip_forward_to", &a.voip_forward_to, &b.voip_forward_to)
}
