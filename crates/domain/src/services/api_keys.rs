//! API keys (§7.4): created with a secret shown once, stored as a hash, optionally bound to a
//! group whose stamp their connections carry; revoked explicitly or with their group.

use std::collections::{BTreeMap, BTreeSet};

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, Source, TargetKind};
use crate::connections::{ApiKey, ListedApiKey, Suspension};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::ids::{ApiKeyId, GroupId, UserId};
use crate::invites::hash_token;
use crate::roles::Permission;
use crate::values::Label;

use super::Services;
use super::auth::Inactive;
use super::support::load_tree;

/// The prefix of every API key secret, so keys are recognizable in a bearer header and in leaks.
pub const API_KEY_PREFIX: &str = "rk_";

/// How precisely a key's last use is kept: a key used many times a minute writes its
/// `last_used_at` once a minute, not on every request.
pub const LAST_USED_PRECISION: time::Duration = time::Duration::minutes(1);

/// `POST /api-keys`.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// A name to recognize the key by (`okta`).
    pub name: Label,
    /// The group to bind the key to: its connections are stamped with it (§7.4); `None` for none.
    pub group_id: Option<GroupId>,
    /// The most the key may do; the creator must hold each of them.
    pub permissions: BTreeSet<Permission>,
}

/// A new key and its secret, which is never available again.
#[derive(Clone)]
pub struct CreatedApiKey {
    /// The key as stored (only the secret's hash).
    pub key: ApiKey,
    /// The `rk_…` secret in clear, for the one answer that shows it.
    pub secret: String,
}

impl std::fmt::Debug for CreatedApiKey {
    /// The secret stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey").field("key", &self.key).field("secret", &"***").finish()
    }
}

impl Services {
    /// Creates an API key.
    ///
    /// # Errors
    /// `forbidden` (no `manage_api_keys`, impersonating, or permissions the actor lacks),
    /// `not_found` (group), `validation_failed`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_api_key(&self, actor: &Actor, new: NewApiKey) -> ServiceResult<CreatedApiKey> {
        actor.require_org_wide(Permission::ManageApiKeys)?;
        actor.require_not_impersonating("API keys")?;
        let created_by = actor.user_id().ok_or_else(|| ServiceError::forbidden("API keys are created by a member"))?;
        if let Some(p) = new.permissions.iter().find(|p| !actor.has(**p)) {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "permissions",
                "not_grantable",
                format!("you cannot hand out {}: you do not have it", p.as_str()),
            )]));
        }
        let mut tx = self.begin().await?;
        if let Some(g) = new.group_id {
            let tree = load_tree(&mut *tx, actor.org_id()).await?;
            tree.check_joinable(g)?;
        }
        let secret = format!("{API_KEY_PREFIX}{}", self.ids.secret());
        let key = ApiKey {
            id: self.new_id(),
            org_id: actor.org_id(),
            name: new.name,
            group_id: new.group_id,
            permissions: new.permissions,
            created_by,
            secret_hash: hash_token(&secret),
            created_at: self.now(),
            last_used_at: None,
            revoked_at: None,
        };
        tx.insert_api_key(&key).await?;
        self.audit(
            &mut *tx,
            actor,
            "api_key.created",
            AuditTarget::new(TargetKind::ApiKey, key.id, key.name.as_str()),
            Changes::new().note("group_id", &key.group_id).note("permissions", &key.permissions),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedApiKey { key, secret })
    }

    /// The organization's keys (never their secrets).
    ///
    /// # Errors
    /// `forbidden` without `manage_api_keys`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_api_keys(&self, actor: &Actor) -> ServiceResult<Vec<ListedApiKey>> {
        actor.require(Permission::ManageApiKeys)?;
        let mut tx = self.begin_read().await?;
        let keys = tx.api_keys(actor.org_id()).await?;
        let creators: BTreeSet<UserId> = keys.iter().filter(|k| k.is_active()).map(|k| k.created_by).collect();
        let mut suspended = BTreeMap::new();
        for id in creators {
            let why = match tx.user(actor.org_id(), id).await? {
                None => Some(Suspension::CreatorDeleted),
                Some(u) if u.is_deleted() => Some(Suspension::CreatorDeleted),
                Some(u) if u.is_deactivated() || u.lifecycle.invited => Some(Suspension::CreatorDeactivated),
                Some(_) => None,
            };
            suspended.insert(id, why);
        }
        Ok(keys
            .into_iter()
            .map(|key| {
                let suspended = if key.is_active() { suspended.get(&key.created_by).copied().flatten() } else { None };
                ListedApiKey { key, suspended }
            })
            .collect())
    }

    /// Revokes a key; revoking a revoked key changes nothing.
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn revoke_api_key(&self, actor: &Actor, id: ApiKeyId) -> ServiceResult<()> {
        actor.require_org_wide(Permission::ManageApiKeys)?;
        actor.require_not_impersonating("API keys")?;
        let mut tx = self.begin().await?;
        let key = tx.api_key(actor.org_id(), id).await?.ok_or(ServiceError::not_found("api key"))?;
        if key.is_active() {
            self.revoke_key_in(&mut *tx, actor, key, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Revokes a key in the caller's transaction, with its audit event.
    pub(crate) async fn revoke_key_in(
        &self,
        tx: &mut dyn crate::ports::Tx,
        actor: &Actor,
        mut key: ApiKey,
        reason: Option<&str>,
    ) -> ServiceResult<()> {
        key.revoked_at = Some(self.now());
        tx.update_api_key(&key).await?;
        let changes = reason.map_or_else(Changes::new, |r| Changes::new().note("reason", &r));
        self.audit(
            tx,
            actor,
            "api_key.revoked",
            AuditTarget::new(TargetKind::ApiKey, key.id, key.name.as_str()),
            changes,
        )
        .await
    }

    /// Authenticates a bearer secret; records `last_used_at`. The key acts with its own
    /// permissions held to its creator's current authority (§7.4).
    ///
    /// # Errors
    /// `unauthenticated` for an unknown or revoked key; `api_key_suspended` when its creator
    /// was deactivated or deleted (or never joined).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_api_key(&self, secret: &str) -> ServiceResult<Actor> {
        if !secret.starts_with(API_KEY_PREFIX) {
            return Err(ServiceError::Unauthenticated);
        }
        let mut tx = self.store.single_read().await?;
        let key = tx.api_key_by_secret_hash(&hash_token(secret)).await?.ok_or(ServiceError::Unauthenticated)?;
        drop(tx);
        if !key.is_active() {
            return Err(ServiceError::Unauthenticated);
        }
        // The last use is kept to the minute: a key used many times a second writes once.
        let now = self.now();
        if key.last_used_at.is_none_or(|at| now - at >= LAST_USED_PRECISION) {
            let mut tx = self.begin().await?;
            tx.touch_api_key(key.org_id, key.id, now).await?;
            tx.commit().await?;
        }
        self.key_actor(&key).await
    }

    /// The authority of a key that is still active: its permissions held to its creator's
    /// current authority.
    pub(crate) async fn key_actor(&self, key: &ApiKey) -> ServiceResult<Actor> {
        let creator = self
            .member_actor(key.org_id, key.created_by, Source::Api, None)
            .await?
            .map_err(|why| ServiceError::ApiKeySuspended { reason: suspension(why).describe() })?;
        Ok(Actor::for_api_key(key, &creator))
    }
}

/// Why a key whose creator has no authority is suspended.
fn suspension(why: Inactive) -> Suspension {
    match why {
        Inactive::Deleted => Suspension::CreatorDeleted,
        Inactive::Deactivated | Inactive::NotJoined => Suspension::CreatorDeactivated,
    }
}
