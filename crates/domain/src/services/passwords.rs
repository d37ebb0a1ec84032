//! Passwords over their whole life (§3): an admin sets a member's password or sends them a
//! reset link, a member changes their own with the current one, anyone asks for a reset link
//! ("forgot password") and confirms it with the emailed token.
//!
//! Every change of a password is one transaction with what goes with it: the member's sessions
//! end (all of them, or all but the caller's own when a member changes their own), every reset
//! link of the member dies, and an audit event records who did it — never the password. A
//! reset link's mail is queued in the transaction that issues the link. An impersonating
//! session changes no password (§10).
//!
//! Asking for a link answers alike whether or not the address has an account (`Ok(())` after
//! the same statements and one commit either way), so the answer tells no one who is a member;
//! it is throttled per source address and per organization and address asked for, counted
//! alike for unknown addresses. Decisions: `docs/decisions/0032-password-reset.md`.

use crate::actor::{Actor, Principal};
use crate::audit::{AuditTarget, Changes, Source, TargetKind};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::ids::UserId;
use crate::invites::hash_token;
use crate::mail::{MailKind, OutgoingMail};
use crate::org::Organization;
use crate::password_resets::{PasswordReset, RESET_LIFETIME, may_reset};
use crate::ports::{Attempt, AttemptKind, Tx, UserLookup};
use crate::user::User;
use crate::values::{Email, Password, Slug};

use super::Services;
use super::support::{load_org, load_user};
use super::users::{UserDetails, details_of};

/// The audit action of a reset link issued, by the member's request or an admin's.
const RESET_REQUESTED: &str = "user.password_reset_requested";

/// What an admin does to a member's password (`PUT /users/{id}/password`): exactly one of the
/// two.
#[derive(Debug, Clone)]
pub enum PasswordChange {
    /// Sets this password.
    Set(Password),
    /// Mails the member a one-use link to choose a new password themself.
    SendReset,
}

/// A member changing their own password (`PUT /me/password`).
#[derive(Debug, Clone)]
pub struct OwnPasswordChange {
    /// The password the member has now: the proof that the session's holder is its owner.
    pub current: Password,
    /// The new password.
    pub password: Password,
    /// The hash of the caller's session token, which stays; every other session of the member
    /// ends. `None` ends them all.
    pub session: Option<String>,
    /// The client's address: a wrong current password counts as a failed login from it.
    pub address: String,
}

/// "Forgot password" (`POST /password-reset`): who asks for a link.
#[derive(Debug, Clone)]
pub struct PasswordResetRequest {
    /// The organization, by slug.
    pub org: Slug,
    /// The member's login address.
    pub email: Email,
}

impl Services {
    /// Sets another member's password or mails them a reset link (§3), for an admin with
    /// `manage_users` over the member whose authority covers the member's (§5). Setting ends
    /// every session of the member and every reset link; a link supersedes the member's older
    /// links. Answers the member as they now are.
    ///
    /// # Errors
    /// `forbidden` (while impersonating, without `manage_users` over the member, for a member
    /// holding more than the actor, and for the actor's own account, which changes with the
    /// current password: [`Services::update_own_password`]); `not_found`; `user_not_active` for
    /// a deactivated member; `validation_failed` (code `invite_pending` on `password` or
    /// `send_reset`) for an invitee, who chooses a password by accepting the invite.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn set_user_password(
        &self,
        actor: &Actor,
        id: UserId,
        change: PasswordChange,
    ) -> ServiceResult<UserDetails> {
        actor.require_not_impersonating("passwords")?;
        if actor.member() == Some(id) {
            return Err(ServiceError::forbidden("change your own password with the current one (PUT /me/password)"));
        }
        let hash = match &change {
            PasswordChange::Set(password) => Some(self.hasher.hash(password).await?),
            PasswordChange::SendReset => None,
        };
        let mut tx = self.begin().await?;
        let mut user = self.managed_user(&mut *tx, actor, id).await?;
        if user.is_deactivated() {
            return Err(ServiceError::UserNotActive);
        }
        if user.lifecycle.invited {
            let field = if hash.is_some() { "password" } else { "send_reset" };
            return Err(ServiceError::Validation(vec![FieldError::new(
                field,
                "invite_pending",
                "the member has not accepted their invite: they choose a password when they do",
            )]));
        }
        match hash {
            Some(hash) => {
                tx.set_password_hash(user.org_id, user.id, &hash).await?;
                user.has_password = true;
                self.save_user(&mut *tx, actor, &mut user, "user.password_set", Changes::new()).await?;
                self.end_credentials(&mut *tx, &user, None).await?;
            }
            None => {
                let org = load_org(&mut *tx, user.org_id).await?;
                self.issue_reset(&mut *tx, actor, &org, &user, self.ids.secret(), Changes::new()).await?;
            }
        }
        let details = details_of(&mut *tx, user, self.now()).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Changes the caller's own password, proven by the current one (`PUT /me/password`). A
    /// wrong current password counts as a failed login of the member from the caller's address
    /// and is throttled like one (§10). Every other session of the member ends, and every reset
    /// link.
    ///
    /// # Errors
    /// `forbidden` while impersonating or for an actor that is not a member's session (an API
    /// key, the operator); `validation_failed` (field `current_password`, code `incorrect`);
    /// `rate_limited` (checked before the password, which is then not verified).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn update_own_password(&self, actor: &Actor, change: &OwnPasswordChange) -> ServiceResult<()> {
        actor.require_not_impersonating("passwords")?;
        let Principal::User(user_id) = *actor.principal() else {
            return Err(ServiceError::forbidden("only a member changes their password"));
        };
        let new_hash = self.hasher.hash(&change.password).await?;
        let now = self.now();
        let settings = self.sessions;
        let mut tx = self.begin().await?;
        let mut user = load_user(&mut *tx, actor.org_id(), user_id).await?;
        // The key a login of this member counts its failures under (`Services::log_in`).
        let account = format!("{}/{}", user.org_id, user.id);
        let kind = AttemptKind::LoginFailure;
        let window = settings.login_per_address.window;
        let by_address = tx.attempts_since(kind, &change.address, None, now - window).await?;
        settings.login_per_address.check(&by_address, now)?;
        let window = settings.login_per_account.window;
        let by_account = tx.attempts_since(kind, &change.address, Some(&account), now - window).await?;
        settings.login_per_account.check(&by_account, now)?;
        let verified = match tx.password_hash(user.org_id, user.id).await? {
            Some(hash) => self.hasher.verify(&change.current, &hash).await?,
            None => false,
        };
        if !verified {
            let attempt = Attempt { kind, address: change.address.clone(), account: Some(account), at: now };
            tx.record_attempt(&attempt).await?;
            tx.commit().await?;
            return Err(ServiceError::Validation(vec![FieldError::new(
                "current_password",
                "incorrect",
                "is not the account's current password",
            )]));
        }
        tx.clear_attempts(kind, &change.address, &account).await?;
        tx.set_password_hash(user.org_id, user.id, &new_hash).await?;
        user.has_password = true;
        self.save_user(&mut *tx, actor, &mut user, "user.password_changed", Changes::new()).await?;
        self.end_credentials(&mut *tx, &user, change.session.as_deref()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// "Forgot password" (§3): mails a one-use link valid for [`RESET_LIFETIME`] to the member
    /// with this address in this organization, when there is one who may reset
    /// ([`may_reset`]: not deactivated, not an invitee); the link supersedes the member's
    /// older ones. Answers alike otherwise — the same statements, one commit, `Ok(())` — so the
    /// answer tells nobody who is a member. Throttled per source address and per organization
    /// and address asked for, whether or not they name an account.
    ///
    /// # Errors
    /// `rate_limited`; only infrastructure errors otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(&self, request: &PasswordResetRequest, address: &str) -> ServiceResult<()> {
        let now = self.now();
        let (per_address, per_account) = (self.sessions.reset_per_address, self.sessions.reset_per_account);
        let kind = AttemptKind::PasswordReset;
        // Keyed by what was asked, not by the member: unknown addresses are counted alike.
        let account = format!("{}/{}", request.org, request.email);
        // Made for every request, used only when there is a member: the work does not tell.
        let token = self.ids.secret();
        let mut tx = self.begin().await?;
        let by_address = tx.attempts_since(kind, address, None, now - per_address.window).await?;
        per_address.check(&by_address, now)?;
        let by_account = tx.account_attempts_since(kind, &account, now - per_account.window).await?;
        per_account.check(&by_account, now)?;
        tx.record_attempt(&Attempt { kind, address: address.to_owned(), account: Some(account), at: now }).await?;
        let org = tx.org_by_slug(&request.org).await?;
        let user = match &org {
            Some(o) => tx.find_user(o.id, UserLookup::Email(&request.email)).await?,
            None => None,
        };
        if let (Some(org), Some(user)) = (org, user.filter(may_reset)) {
            let actor = Actor::system(org.id, Source::Api).acting_as(user.id);
            let note = Changes::new().note("source_address", &address);
            self.issue_reset(&mut *tx, &actor, &org, &user, token, note).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets a new password with the token of a reset link (no session: the token is the
    /// credential). The link is used up, with every other link of the member, and every
    /// session of the member ends.
    ///
    /// # Errors
    /// `invalid_token`: no link has this token (never issued, used, superseded, or ended by a
    /// password change), it expired, or its member can no longer reset (deactivated, deleted).
    #[tracing::instrument(skip_all)]
    pub async fn confirm_password_reset(&self, token: &str, password: &Password) -> ServiceResult<()> {
        let mut tx = self.begin().await?;
        let reset = tx.take_password_reset(&hash_token(token)).await?.ok_or(ServiceError::InvalidToken)?;
        let now = self.now();
        if !reset.is_live(now) {
            return Err(ServiceError::InvalidToken);
        }
        let mut user =
            tx.user(reset.org_id, reset.user_id).await?.filter(may_reset).ok_or(ServiceError::InvalidToken)?;
        // Hashed only for a link that works: anyone may call this without a session and
        // unthrottled, and a forged token must not cost the server an Argon2 hash.
        let hash = self.hasher.hash(password).await?;
        tx.set_password_hash(user.org_id, user.id, &hash).await?;
        user.has_password = true;
        let actor = Actor::system(user.org_id, Source::Api).acting_as(user.id);
        self.save_user(&mut *tx, &actor, &mut user, "user.password_reset", Changes::new()).await?;
        self.end_credentials(&mut *tx, &user, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a reset link to `user` carrying `token`: the member's older links end, the new
    /// one is stored hashed, its mail queued and the request audited, in the caller's
    /// transaction.
    async fn issue_reset(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        org: &Organization,
        user: &User,
        token: String,
        changes: Changes,
    ) -> ServiceResult<()> {
        let now = self.now();
        tx.delete_password_resets(user.org_id, user.id).await?;
        let reset = PasswordReset {
            token_hash: hash_token(&token),
            org_id: user.org_id,
            user_id: user.id,
            created_at: now,
            expires_at: now + RESET_LIFETIME,
        };
        tx.insert_password_reset(&reset).await?;
        tx.enqueue_mail(&OutgoingMail {
            id: self.new_id(),
            org_id: org.id,
            to: user.email.clone(),
            kind: MailKind::PasswordReset { token, org_name: org.name.to_string(), expires_at: reset.expires_at },
            created_at: now,
        })
        .await?;
        let target = AuditTarget::new(TargetKind::User, user.id, user.label());
        self.audit(tx, actor, RESET_REQUESTED, target, changes.note("expires_at", &reset.expires_at)).await
    }

    /// What a changed password ends, in the caller's transaction: the member's sessions but
    /// `keep`, and every reset link of the member.
    pub(crate) async fn end_credentials(&self, tx: &mut dyn Tx, user: &User, keep: Option<&str>) -> ServiceResult<()> {
        tx.delete_user_sessions(user.org_id, user.id, keep).await?;
        tx.delete_password_resets(user.org_id, user.id).await?;
        Ok(())
    }
}
