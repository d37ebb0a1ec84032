//! Who is acting: resolving a member into an [`Actor`], password login, and impersonation
//! (§5, §10). Sessions and their tokens belong to the HTTP adapter; the rules are here.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Authority};
use crate::audit::{AuditQuery, AuditTarget, Changes, Source, TargetKind};
use crate::error::{ServiceError, ServiceResult};
use crate::groups::live_groups;
use crate::ids::{OrgId, UserId};
use crate::ports::UserLookup;
use crate::roles::Permission;
use crate::user::User;
use crate::values::{Email, Password, Reason, Slug};

use super::Services;
use super::support::{groups_of, load_tree, load_user};

/// The audit action of a failed login; the throttle counts these.
const LOGIN_FAILED: &str = "session.login_failed";

/// How long an impersonation lasts at most (§10).
pub const IMPERSONATION_LIMIT: Duration = Duration::hours(1);

/// Why a member has no authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inactive {
    Deleted,
    Deactivated,
    /// Invited or signed up, not yet joined.
    NotJoined,
}

/// A started impersonation: the adapter issues a session acting as `user_id` for
/// `impersonator_id` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impersonation {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub impersonator_id: UserId,
    pub reason: Reason,
    pub started_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Services {
    /// Resolves the authority of a member for one request. Deactivated, deleted and invited
    /// members have none.
    ///
    /// The member's own facts — lifecycle, grants, group access, open memberships — are read
    /// fresh on every call, with the organization's groups and roles versions
    /// ([`Store::authority`](crate::ports::Store::authority), one statement on the SQL stores);
    /// the tree and roles come from what the process keeps at exactly those versions, and only
    /// when it keeps neither or an older one are they read (`trees` module).
    ///
    /// An impersonating session (`impersonator` set) acts with the intersection of both
    /// members' authority (§5), and only while the impersonator is still active and still holds
    /// `impersonate` over the member and covers their authority: the session ends with the
    /// impersonator's authority.
    ///
    /// # Errors
    /// `unauthenticated`.
    pub async fn resolve_actor(
        &self,
        org: OrgId,
        user_id: UserId,
        source: Source,
        impersonator: Option<UserId>,
    ) -> ServiceResult<Actor> {
        let actor =
            self.member_actor(org, user_id, source, impersonator).await?.map_err(|_| ServiceError::Unauthenticated)?;
        let Some(impersonator_id) = impersonator else { return Ok(actor) };
        let by =
            self.member_actor(org, impersonator_id, source, None).await?.map_err(|_| ServiceError::Unauthenticated)?;
        let still_allowed = by.require_over_user(Permission::Impersonate, actor.member_groups()).is_ok()
            && by.authority().dominates(actor.authority());
        if !still_allowed {
            return Err(ServiceError::Unauthenticated);
        }
        Ok(actor.held_to(&by))
    }

    /// The authority of one member, or why they have none.
    pub(crate) async fn member_actor(
        &self,
        org: OrgId,
        user_id: UserId,
        source: Source,
        impersonator: Option<UserId>,
    ) -> ServiceResult<Result<Actor, Inactive>> {
        let Some(facts) = self.store.authority(org, user_id).await? else { return Ok(Err(Inactive::Deleted)) };
        let user = facts.user;
        if user.is_deleted() {
            return Ok(Err(Inactive::Deleted));
        }
        if user.is_deactivated() {
            return Ok(Err(Inactive::Deactivated));
        }
        if user.lifecycle.invited {
            return Ok(Err(Inactive::NotJoined));
        }
        let (tree, roles) = match self.kept_authority(org, facts.groups_version, facts.roles_version) {
            Some(kept) => kept,
            None => {
                // Read in a later snapshot than the member's facts: at worst a group or role
                // change committed in between already counts, as it would a moment later.
                let mut tx = self.begin_read().await?;
                (self.read_tree(&mut *tx, org).await?, self.read_roles(&mut *tx, org).await?)
            }
        };
        let groups = live_groups(facts.open_groups, &tree);
        Ok(Ok(Actor::for_user(&user, &roles, groups, &tree, source, impersonator)))
    }

    /// Checks a password login; records success or failure in the audit log. The same error
    /// answers an unknown organization, an unknown email and a wrong password.
    ///
    /// # Errors
    /// `unauthenticated`; `rate_limited` after too many recent failures on the account.
    pub async fn login(
        &self,
        org_slug: &Slug,
        email: &Email,
        password: &Password,
        source: Source,
    ) -> ServiceResult<User> {
        let mut tx = self.begin().await?;
        let org = tx.org_by_slug(org_slug).await?.ok_or(ServiceError::Unauthenticated)?;
        let user = tx.find_user(org.id, UserLookup::Email(email)).await?;
        // Throttle before verifying, so a locked-out guesser learns nothing and costs no hash.
        let account = user.as_ref().map_or_else(|| email.to_string(), |u| u.id.to_string());
        self.check_login_throttle(&mut *tx, org.id, &account).await?;
        let hash = match &user {
            Some(u) => tx.password_hash(org.id, u.id).await?,
            None => None,
        };
        let ok = match (&user, hash) {
            (Some(u), Some(h)) if !u.is_deactivated() && !u.lifecycle.invited => {
                self.hasher.verify(password, &h).await?
            }
            _ => false,
        };
        let system = Actor::system(org.id, source);
        let (action, label) = match &user {
            Some(u) => (if ok { "session.login_succeeded" } else { LOGIN_FAILED }, u.label()),
            None => (LOGIN_FAILED, email.to_string()),
        };
        self.audit(&mut *tx, &system, action, AuditTarget::new(TargetKind::Session, account, label), Changes::new())
            .await?;
        tx.commit().await?;
        match user {
            Some(u) if ok => Ok(u),
            _ => Err(ServiceError::Unauthenticated),
        }
    }

    /// Refuses a login attempt on an account that failed too often recently (§10), counting the
    /// `session.login_failed` events of the audit log. Throttling per source address is the
    /// HTTP adapter's (the address is not a domain fact).
    async fn check_login_throttle(
        &self,
        tx: &mut dyn crate::ports::Tx,
        org: OrgId,
        account: &str,
    ) -> ServiceResult<()> {
        let now = self.now();
        let query = AuditQuery {
            action: Some(LOGIN_FAILED.to_owned()),
            target_kind: Some(TargetKind::Session),
            target_id: Some(account.to_owned()),
            from: Some(now - self.login_throttle.window),
            ..AuditQuery::default()
        };
        let failures: Vec<OffsetDateTime> = tx.audit(org, &query).await?.into_iter().map(|e| e.at).collect();
        self.login_throttle.check(&failures, now)
    }

    /// Sets the actor's own password.
    ///
    /// # Errors
    /// `forbidden` while impersonating or for a non-member actor.
    pub async fn change_password(&self, actor: &Actor, password: &Password) -> ServiceResult<()> {
        actor.require_not_impersonating("passwords")?;
        let user_id = actor.user_id().filter(|_| matches!(actor.principal(), crate::actor::Principal::User(_)));
        let user_id = user_id.ok_or_else(|| ServiceError::forbidden("only a member changes their password"))?;
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.begin().await?;
        let mut user = load_user(&mut *tx, actor.org_id(), user_id).await?;
        tx.set_password_hash(user.org_id, user.id, &hash).await?;
        user.has_password = true;
        self.save_user(&mut *tx, actor, &mut user, "user.password_changed", Changes::new()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts acting as another member (§10): needs `impersonate` and a written reason; not
    /// across organizations, not of a deactivated user, not nested, not of oneself; ends after
    /// an hour.
    ///
    /// # Errors
    /// `forbidden`, `not_found` (also for another organization's user),
    /// `impersonation_not_allowed`.
    pub async fn start_impersonation(
        &self,
        actor: &Actor,
        target: UserId,
        reason: Reason,
    ) -> ServiceResult<Impersonation> {
        actor.require(Permission::Impersonate)?;
        if actor.impersonator_id().is_some() {
            return Err(ServiceError::ImpersonationNotAllowed { reason: "already impersonating" });
        }
        let impersonator_id = match actor.principal() {
            crate::actor::Principal::User(id) => *id,
            _ => return Err(ServiceError::forbidden("only a member can impersonate")),
        };
        if impersonator_id == target {
            return Err(ServiceError::ImpersonationNotAllowed { reason: "cannot impersonate yourself" });
        }
        let mut tx = self.begin().await?;
        let user = load_user(&mut *tx, actor.org_id(), target).await?;
        let tree = load_tree(&mut *tx, actor.org_id()).await?;
        let groups = groups_of(&mut *tx, actor.org_id(), target, &tree).await?;
        actor.require_over_user(Permission::Impersonate, &groups)?;
        // Nobody acts as someone holding more than they do (§5).
        let roles = tx.roles(actor.org_id()).await?;
        actor.require_dominates(&Authority::of_user(&user, &roles, &tree))?;
        if user.is_deactivated() || user.lifecycle.invited {
            return Err(ServiceError::ImpersonationNotAllowed { reason: "the user is deactivated or has not joined" });
        }
        let now = self.now();
        self.audit(
            &mut *tx,
            actor,
            "impersonation.started",
            AuditTarget::new(TargetKind::User, user.id, user.label()),
            Changes::new().note("reason", &reason),
        )
        .await?;
        tx.commit().await?;
        Ok(Impersonation {
            org_id: actor.org_id(),
            user_id: target,
            impersonator_id,
            reason,
            started_at: now,
            expires_at: now + IMPERSONATION_LIMIT,
        })
    }

    /// Ends an impersonation ("log back in as myself"); `actor` is the impersonating session.
    ///
    /// # Errors
    /// `validation_failed`-free; `impersonation_not_allowed` when not impersonating.
    pub async fn stop_impersonation(&self, actor: &Actor) -> ServiceResult<()> {
        if actor.impersonator_id().is_none() {
            return Err(ServiceError::ImpersonationNotAllowed { reason: "not impersonating" });
        }
        let mut tx = self.begin().await?;
        let target = actor.user_id().ok_or(ServiceError::not_found("user"))?;
        let user = load_user(&mut *tx, actor.org_id(), target).await?;
        self.audit(
            &mut *tx,
            actor,
            "impersonation.stopped",
            AuditTarget::new(TargetKind::User, user.id, user.label()),
            Changes::new(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
