//! Who is acting: resolving a member into an [`Actor`] (§5, §10). Logging in, sessions and
//! impersonation are the `sessions` module's.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::actor::Actor;
use crate::audit::Source;
use crate::error::{ServiceError, ServiceResult};
use crate::groups::live_groups;
use crate::ids::{OrgId, UserId};
use crate::roles::Permission;
use crate::values::Reason;

use super::Services;

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

/// A started impersonation: a session acting as `user_id` for `impersonator_id` until
/// `expires_at`, written with the `impersonation.started` event; `token` is its bearer token,
/// shown once.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Impersonation {
    /// The bearer token of the impersonating session, in clear; never serialized or logged.
    #[serde(skip)]
    pub token: String,
    /// The organization both members belong to (impersonation never crosses organizations).
    pub org_id: OrgId,
    /// The member impersonated: the session acts as them.
    pub user_id: UserId,
    /// The member who started it; every audit event meanwhile names them (§10).
    pub impersonator_id: UserId,
    /// Why, as the impersonator wrote it; kept in the audit log.
    pub reason: Reason,
    /// When the impersonation started.
    pub started_at: OffsetDateTime,
    /// When it ends at the latest: [`IMPERSONATION_LIMIT`] after it started.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Impersonation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Impersonation")
            .field("org_id", &self.org_id)
            .field("user_id", &self.user_id)
            .field("impersonator_id", &self.impersonator_id)
            .field("started_at", &self.started_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
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
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub async fn resolve_actor(
        &self,
        org: OrgId,
        user_id: UserId,
        source: Source,
        impersonator: Option<UserId>,
    ) -> ServiceResult<Actor> {
        Ok(self.resolve_named_actor(org, user_id, source, impersonator).await?.0)
    }

    /// [`Services::resolve_actor`], with the member's full name (`First Last`), read with
    /// their authority.
    pub(crate) async fn resolve_named_actor(
        &self,
        org: OrgId,
        user_id: UserId,
        source: Source,
        impersonator: Option<UserId>,
    ) -> ServiceResult<(Actor, String)> {
        let (actor, name) = self
            .named_member_actor(org, user_id, source, impersonator)
            .await?
            .map_err(|_| ServiceError::Unauthenticated)?;
        let Some(impersonator_id) = impersonator else { return Ok((actor, name)) };
        let by =
            self.member_actor(org, impersonator_id, source, None).await?.map_err(|_| ServiceError::Unauthenticated)?;
        let still_allowed = by.require_over_user(Permission::Impersonate, actor.member_groups()).is_ok()
            && by.authority().dominates(actor.authority());
        if !still_allowed {
            return Err(ServiceError::Unauthenticated);
        }
        Ok((actor.held_to(&by), name))
    }

    /// The authority of one member, or why they have none.
    pub(crate) async fn member_actor(
        &self,
        org: OrgId,
        user_id: UserId,
        source: Source,
        impersonator: Option<UserId>,
    ) -> ServiceResult<Result<Actor, Inactive>> {
        Ok(self.named_member_actor(org, user_id, source, impersonator).await?.map(|(actor, _)| actor))
    }

    /// [`Services::member_actor`], with the member's full name.
    async fn named_member_actor(
        &self,
        org: OrgId,
        user_id: UserId,
        source: Source,
        impersonator: Option<UserId>,
    ) -> ServiceResult<Result<(Actor, String), Inactive>> {
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
        let name = format!("{} {}", user.first_name.as_str(), user.last_name.as_str());
        Ok(Ok((Actor::for_user(&user, &roles, groups, &tree, source, impersonator), name)))
    }
}
