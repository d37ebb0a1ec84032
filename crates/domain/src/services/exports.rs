//! CSV exports (§9 audit export, §10 `GET /users/export.csv`): the pages an exporter streams.
//!
//! An export is read page by page, each page in its own short read transaction, so that an
//! export of a million rows never holds them in memory nor a transaction open for minutes. Every
//! page checks the permissions again: an export running while the exporter loses them stops.
//! Exporting needs `export_data` on top of the right to see the rows (`manage_users` for the
//! Users table, `view_audit` org-wide for the audit log).

use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditQuery};
use crate::error::ServiceResult;
use crate::ids::UserId;
use crate::roles::Permission;
use crate::users_query::{UserQuery, within_scope};

use super::Services;
use super::support::reader_scope;
use super::users::{UserDetails, UserDetailsPage, details_of_page};

/// The most ids one page of an export by ids may name.
pub const EXPORT_IDS_PAGE: usize = 1_000;

impl Services {
    /// One page of the Users table for an export: the same filters, sort and keyset paging as
    /// [`Services::list_users`].
    ///
    /// # Errors
    /// `forbidden` without `manage_users` and `export_data`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn export_users_page(&self, actor: &Actor, query: UserQuery) -> ServiceResult<UserDetailsPage> {
        actor.require(Permission::ExportData)?;
        self.list_users(actor, query).await
    }

    /// The live (not deleted) users of the actor's organization among `ids`, in id order; ids
    /// of deleted users, of other organizations' users, of users outside a scoped exporter's
    /// scope and unknown ids are skipped. At most [`EXPORT_IDS_PAGE`] ids per call.
    ///
    /// # Errors
    /// `forbidden` without `manage_users` and `export_data`; `validation_failed` for too many ids.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn export_users_by_ids(&self, actor: &Actor, ids: &[UserId]) -> ServiceResult<Vec<UserDetails>> {
        let scope = reader_scope(actor)?;
        actor.require(Permission::ExportData)?;
        if ids.len() > EXPORT_IDS_PAGE {
            return Err(crate::error::ServiceError::Validation(vec![crate::error::FieldError::new(
                "ids",
                "too_many",
                format!("at most {EXPORT_IDS_PAGE} ids per page"),
            )]));
        }
        let mut tx = self.begin_read().await?;
        let (org, tree) = self.read_org_and_tree(&mut *tx, actor.org_id()).await?;
        let users = tx.users_by_ids(org.id, ids).await?.into_iter().filter(|u| !u.is_deleted()).collect();
        let details = details_of_page(&mut *tx, &org, users, &tree, self.now()).await?;
        Ok(details.into_iter().filter(|d| scope.as_ref().is_none_or(|s| within_scope(s, &d.groups))).collect())
    }

    /// One page of the audit log for an export, newest first (`query.before` is the keyset
    /// position, `query.limit` the page size).
    ///
    /// # Errors
    /// `forbidden` without `view_audit` org-wide and `export_data`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn export_audit_page(&self, actor: &Actor, query: &AuditQuery) -> ServiceResult<Vec<AuditEvent>> {
        actor.require(Permission::ExportData)?;
        self.audit_log(actor, query).await
    }
}
