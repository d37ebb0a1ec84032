//! Sessions as use cases (§10, §3, §5): logging in and out, authenticating a token, starting
//! and ending an impersonation, asking to sign up, and ending a member's sessions with the
//! change that takes their access away.
//!
//! Every session is written in the unit of work of the change that causes it, with its audit
//! event: a login's session and its `session.login_succeeded`, an impersonating session and
//! its `impersonation.started`, the end of a member's sessions and their deactivation. Only
//! looking a session up and sliding its expiry happen outside a transaction (every request
//! does them; [`Store::session`](crate::ports::Store::session)).
//!
//! Throttling (`docs/decisions/`, "sessions and throttles"): failed logins are counted per
//! account **and** source address, and per address across accounts, each with a
//! [`ProgressiveDelay`]; a failure from one address never locks the owner out from another.
//! An unknown organization or email, a member without a password, a deactivated or invited
//! member all cost one Argon2 verification, like a wrong password (against a dummy hash made
//! once), so the answer's timing tells nothing either.

use std::sync::{Arc, OnceLock};

use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Authority, Principal};
use crate::audit::{AuditTarget, Changes, Source, TargetKind};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::{OrgId, UserId};
use crate::invites::hash_token;
use crate::ports::{Attempt, AttemptKind, PasswordHash, Session, Tx, UserLookup};
use crate::roles::Permission;
use crate::throttle::{LoginThrottle, ProgressiveDelay};
use crate::user::User;
use crate::values::{Email, Password, Reason, Slug};

use super::Services;
use super::api_keys::API_KEY_PREFIX;
use super::auth::{IMPERSONATION_LIMIT, Impersonation};
use super::invites::SignupRequest;
use super::support::{groups_of, load_tree, load_user};

/// The audit action of a failed login.
const LOGIN_FAILED: &str = "session.login_failed";

/// How long throttled attempts are kept: longer than any throttle's window.
const ATTEMPTS_KEPT: Duration = Duration::days(1);

/// What the session use cases are configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Sliding lifetime of a session (§10: 12 h).
    pub ttl: Duration,
    /// How long after its last refresh a session's expiry is moved again: refreshing on every
    /// request would turn every read into a write.
    pub slide_after: Duration,
    /// Failed logins per account and source address.
    pub login_per_account: ProgressiveDelay,
    /// Failed logins per source address, across accounts.
    pub login_per_address: ProgressiveDelay,
    /// Sign-up requests per source address.
    pub sign_up_per_address: LoginThrottle,
    /// Password reset requests per source address.
    pub reset_per_address: LoginThrottle,
    /// Password reset requests per organization and address asked for, from any source address.
    pub reset_per_account: LoginThrottle,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::hours(12),
            slide_after: Duration::minutes(1),
            login_per_account: ProgressiveDelay::PER_ACCOUNT,
            login_per_address: ProgressiveDelay::PER_ADDRESS,
            sign_up_per_address: LoginThrottle { max_failures: 10, window: Duration::hours(1) },
            reset_per_address: LoginThrottle { max_failures: 20, window: Duration::hours(1) },
            reset_per_account: LoginThrottle { max_failures: 5, window: Duration::hours(1) },
        }
    }
}

/// A password login attempt.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    /// The organization logged into, by slug.
    pub org: Slug,
    /// The member's login address.
    pub email: Email,
    /// The password tried.
    pub password: Password,
    /// The client's address (the TCP peer), for the throttles and the audit log.
    pub address: String,
    /// The face the login came through (console or API), for the audit log.
    pub source: Source,
}

/// A new session: the token (handed to the client once), the session as stored, the member.
#[derive(Clone)]
pub struct LoggedIn {
    /// The session's bearer token in clear, for the client; only its hash is stored.
    pub token: String,
    /// The session as stored.
    pub session: Session,
    /// The member logged in.
    pub user: User,
}

impl std::fmt::Debug for LoggedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedIn").field("user", &self.user.id).finish_non_exhaustive()
    }
}

/// An authenticated request: who acts and, for a session, the session.
#[derive(Debug, Clone)]
pub struct Authentication {
    /// Who acts, with their resolved authority.
    pub actor: Actor,
    /// `None` for an API key.
    pub session: Option<Session>,
    /// The member's full name (`First Last`), read with their authority; empty for an API key.
    pub name: String,
}

/// The Argon2 hash that unknown accounts are verified against, made once per process.
pub(crate) type DummyHash = Arc<OnceLock<PasswordHash>>;

impl Services {
    /// Logs in with a password (§10): throttled per account and address and per address,
    /// verified, audited (with the source address) and, on success, a session issued in the same
    /// transaction. The same error, after the same work, answers an unknown organization, an
    /// unknown email, a member without a password, a deactivated or invited member and a wrong
    /// password.
    ///
    /// # Errors
    /// `unauthenticated`; `rate_limited` (checked before the password, which is then not
    /// verified).
    #[tracing::instrument(skip_all)]
    pub async fn log_in(&self, attempt: &LoginAttempt) -> ServiceResult<LoggedIn> {
        let now = self.now();
        let settings = self.sessions;
        let mut tx = self.begin().await?;
        let org = tx.org_by_slug(&attempt.org).await?;
        let user = match &org {
            Some(o) => tx.find_user(o.id, UserLookup::Email(&attempt.email)).await?,
            None => None,
        };
        let target_id = user.as_ref().map_or_else(|| attempt.email.to_string(), |u| u.id.to_string());
        let account = match &org {
            Some(o) => format!("{}/{target_id}", o.id),
            None => format!("{}/{}", attempt.org, attempt.email),
        };
        let kind = AttemptKind::LoginFailure;
        let window = settings.login_per_address.window;
        let by_address = tx.attempts_since(kind, &attempt.address, None, now - window).await?;
        settings.login_per_address.check(&by_address, now)?;
        let window = settings.login_per_account.window;
        let by_account = tx.attempts_since(kind, &attempt.address, Some(&account), now - window).await?;
        settings.login_per_account.check(&by_account, now)?;
        let hash = match (&org, &user) {
            (Some(o), Some(u)) => tx.password_hash(o.id, u.id).await?,
            _ => None,
        };
        let may_log_in = user.as_ref().is_some_and(|u| !u.is_deactivated() && !u.lifecycle.invited);
        let verified = match hash {
            Some(h) => self.hasher.verify(&attempt.password, &h).await?,
            None => {
                let dummy = self.dummy_hash().await?;
                // Spent for its time only: nobody's password matches nobody's hash.
                let _ignored = self.hasher.verify(&attempt.password, &dummy).await;
                false
            }
        };
        let note = Changes::new().note("source_address", &attempt.address);
        let failed_label = user.as_ref().map_or_else(|| attempt.email.to_string(), User::label);
        let (Some(org), Some(user), true) = (org.as_ref(), user, verified && may_log_in) else {
            tx.record_attempt(&Attempt { kind, address: attempt.address.clone(), account: Some(account), at: now })
                .await?;
            if let Some(o) = &org {
                let target = AuditTarget::new(TargetKind::Session, &target_id, failed_label);
                self.audit(&mut *tx, &Actor::system(o.id, attempt.source), LOGIN_FAILED, target, note).await?;
            }
            tx.commit().await?;
            return Err(ServiceError::Unauthenticated);
        };
        tx.clear_attempts(kind, &attempt.address, &account).await?;
        let (token, session) = self.new_session(org.id, user.id, None, None, now + settings.ttl);
        tx.insert_session(&session).await?;
        let target = AuditTarget::new(TargetKind::Session, &target_id, user.label());
        self.audit(&mut *tx, &Actor::system(org.id, attempt.source), "session.login_succeeded", target, note).await?;
        tx.commit().await?;
        Ok(LoggedIn { token, session, user })
    }

    /// Ends a session and the impersonations it started. Ending an unknown session is not an
    /// error.
    ///
    /// # Errors
    /// Only the store's.
    #[tracing::instrument(skip_all)]
    pub async fn log_out(&self, token_hash: &str) -> ServiceResult<()> {
        let mut tx = self.begin().await?;
        tx.delete_session(token_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Resolves a bearer token — a session's or an API key's — into who acts. A session must be
    /// live, and an impersonating one's parent too; an ordinary session's expiry slides (moved at
    /// most once per [`SessionSettings::slide_after`]), an impersonation's does not (§10).
    ///
    /// # Errors
    /// `unauthenticated`; an API key's `api_key_suspended`.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, token: &str, source: Source) -> ServiceResult<Authentication> {
        if token.starts_with(API_KEY_PREFIX) {
            let actor = self.authenticate_api_key(token).await?;
            // The door the key came through is the one its changes are audited under; at the
            // SCIM face a key holding `scim` also acts with what provisioning takes.
            let actor = if source == Source::Scim { actor.provisioning() } else { actor.with_source(source) };
            return Ok(Authentication { actor, session: None, name: String::new() });
        }
        let now = self.now();
        let session = self
            .store
            .session(&hash_token(token))
            .await?
            .filter(|s| s.is_live(now))
            .ok_or(ServiceError::Unauthenticated)?;
        if let Some(parent) = &session.parent_hash {
            // An impersonation ends with the session that started it, expired or ended.
            self.store.session(parent).await?.filter(|p| p.is_live(now)).ok_or(ServiceError::Unauthenticated)?;
        }
        let (actor, name) =
            self.resolve_named_actor(session.org_id, session.user_id, source, session.impersonator_id).await?;
        if session.impersonator_id.is_none() && now - session.last_seen_at >= self.sessions.slide_after {
            self.store.touch_session(&session.token_hash, now, now + self.sessions.ttl).await?;
        }
        Ok(Authentication { actor, session: Some(session), name })
    }

    /// Starts acting as another member (§10) from the session `parent`: needs `impersonate` over
    /// the member and a written reason; not across organizations, not of a deactivated user, not
    /// nested, not of oneself, not of someone holding more (§5); ends after an hour, with
    /// `parent`, or with the impersonator's authority. The impersonating session is written in
    /// the transaction of its `impersonation.started` event.
    ///
    /// # Errors
    /// `forbidden`, `not_found` (also for another organization's user),
    /// `impersonation_not_allowed`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn impersonate(
        &self,
        actor: &Actor,
        parent: Option<&str>,
        target: UserId,
        reason: Reason,
    ) -> ServiceResult<Impersonation> {
        actor.require(Permission::Impersonate)?;
        if actor.impersonator_id().is_some() {
            return Err(ServiceError::ImpersonationNotAllowed { reason: "already impersonating" });
        }
        let impersonator_id = match actor.principal() {
            Principal::User(id) => *id,
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
        let expires_at = now + IMPERSONATION_LIMIT;
        let (token, mut session) = self.new_session(actor.org_id(), target, Some(impersonator_id), None, expires_at);
        session.parent_hash = parent.map(str::to_owned);
        tx.insert_session(&session).await?;
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
            token,
            org_id: actor.org_id(),
            user_id: target,
            impersonator_id,
            reason,
            started_at: now,
            expires_at,
        })
    }

    /// [`Services::impersonate`] without a parent session (a caller that holds none).
    ///
    /// # Errors
    /// As [`Services::impersonate`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn start_impersonation(
        &self,
        actor: &Actor,
        target: UserId,
        reason: Reason,
    ) -> ServiceResult<Impersonation> {
        self.impersonate(actor, None, target, reason).await
    }

    /// Ends an impersonation ("log back in as myself"): `actor` is the impersonating session's,
    /// `session` its token hash, deleted with the `impersonation.stopped` event.
    ///
    /// # Errors
    /// `impersonation_not_allowed` when not impersonating.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn end_impersonation(&self, actor: &Actor, session: Option<&str>) -> ServiceResult<()> {
        if actor.impersonator_id().is_none() {
            return Err(ServiceError::ImpersonationNotAllowed { reason: "not impersonating" });
        }
        let mut tx = self.begin().await?;
        let target = actor.user_id().ok_or(ServiceError::not_found("user"))?;
        let user = load_user(&mut *tx, actor.org_id(), target).await?;
        if let Some(hash) = session {
            tx.delete_session(hash).await?;
        }
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

    /// [`Services::end_impersonation`] without the session's hash (only the event is written).
    ///
    /// # Errors
    /// As [`Services::end_impersonation`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn stop_impersonation(&self, actor: &Actor) -> ServiceResult<()> {
        self.end_impersonation(actor, None).await
    }

    /// Sets the actor's own password without asking for the current one (a face that proved
    /// the member otherwise, the test kit); every other session of theirs ends with the change
    /// (`current`, the caller's own session, stays), and every reset link. `PUT /me/password`
    /// calls [`Services::update_own_password`], which asks for the current password.
    ///
    /// # Errors
    /// `forbidden` while impersonating or for a non-member actor.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        password: &Password,
        current: Option<&str>,
    ) -> ServiceResult<()> {
        actor.require_not_impersonating("passwords")?;
        let user_id = actor.user_id().filter(|_| matches!(actor.principal(), Principal::User(_)));
        let user_id = user_id.ok_or_else(|| ServiceError::forbidden("only a member changes their password"))?;
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.begin().await?;
        let mut user = load_user(&mut *tx, actor.org_id(), user_id).await?;
        tx.set_password_hash(user.org_id, user.id, &hash).await?;
        user.has_password = true;
        self.save_user(&mut *tx, actor, &mut user, "user.password_changed", Changes::new()).await?;
        self.end_credentials(&mut *tx, &user, current).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Services::change_own_password`] ending every session of the member.
    ///
    /// # Errors
    /// As [`Services::change_own_password`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn change_password(&self, actor: &Actor, password: &Password) -> ServiceResult<()> {
        self.change_own_password(actor, password, None).await
    }

    /// Asks to sign up (§8.2) from `address`: throttled per address; otherwise answers alike
    /// whether the account was created, the address already has one, sign-up is closed to it or
    /// the organization does not exist — after the same password hash — so that the answer
    /// tells no one who is a member where.
    ///
    /// # Errors
    /// `rate_limited`; only infrastructure errors otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn request_sign_up(&self, request: SignupRequest, address: &str) -> ServiceResult<()> {
        let now = self.now();
        let limit = self.sessions.sign_up_per_address;
        let mut tx = self.begin().await?;
        let recent = tx.attempts_since(AttemptKind::SignUp, address, None, now - limit.window).await?;
        limit.check(&recent, now)?;
        let attempt = Attempt { kind: AttemptKind::SignUp, address: address.to_owned(), account: None, at: now };
        tx.record_attempt(&attempt).await?;
        tx.commit().await?;
        match self.sign_up(request).await {
            Ok(_)
            | Err(ServiceError::NotFound { .. } | ServiceError::Forbidden { .. } | ServiceError::Conflict { .. }) => {
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Removes expired sessions and password reset links, throttled attempts older than a day,
    /// and jobs that finished more than [`crate::jobs::JOB_RETENTION`] ago; answers how many
    /// sessions were removed.
    ///
    /// # Errors
    /// Only the store's.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired_sessions(&self) -> ServiceResult<u64> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let removed = tx.purge_expired_sessions(now).await?;
        tx.purge_expired_password_resets(now).await?;
        tx.purge_attempts(now - ATTEMPTS_KEPT).await?;
        tx.purge_jobs(now - crate::jobs::JOB_RETENTION).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Ends every session of a member, in the caller's transaction (deactivated, deleted,
    /// demoted).
    pub(crate) async fn end_sessions(&self, tx: &mut dyn Tx, org: OrgId, user: UserId) -> ServiceResult<()> {
        tx.delete_user_sessions(org, user, None).await?;
        Ok(())
    }

    /// A new session and its token (returned to the client once, stored hashed).
    fn new_session(
        &self,
        org: OrgId,
        user: UserId,
        impersonator: Option<UserId>,
        parent: Option<String>,
        expires_at: OffsetDateTime,
    ) -> (String, Session) {
        let token = self.ids.secret();
        let now = self.now();
        let session = Session {
            token_hash: hash_token(&token),
            org_id: org,
            user_id: user,
            impersonator_id: impersonator,
            parent_hash: parent,
            created_at: now,
            last_seen_at: now,
            expires_at,
        };
        (token, session)
    }

    /// The hash unknown accounts are verified against: a password nobody has, hashed by this
    /// process's hasher (so with its costs) the first time it is needed.
    async fn dummy_hash(&self) -> ServiceResult<PasswordHash> {
        if let Some(hash) = self.dummy_hash.get() {
            return Ok(hash.clone());
        }
        // Any password will do: the hash belongs to no account, it is only ever verified.
        let secret = Password::parse("no account has this hash").map_err(|_| ServiceError::Unauthenticated)?;
        let hash = self.hasher.hash(&secret).await?;
        Ok(self.dummy_hash.get_or_init(|| hash).clone())
    }
}
