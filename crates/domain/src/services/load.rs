//! The operator's bulk load (§11 `roster demo-data`): a batch of rows built outside the use
//! cases, checked by [`LoadBatch::check`] and written in one transaction with the store's batch
//! writes, taking its seats like any assignment.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::error::{ServiceError, ServiceResult};
use crate::load::{LoadBatch, LoadRules};
use crate::values::Key;

use super::Services;
use super::support::{load_catalog, load_org, load_tree};

/// What one [`Services::load_rows`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadSummary {
    /// How many users the batch wrote.
    pub users: usize,
    /// How many license assignments the batch wrote.
    pub licenses: usize,
    /// How many memberships the batch wrote.
    pub memberships: usize,
    /// How many pending invites the batch wrote, each with its reservations.
    pub invites: usize,
    /// How many connections the batch wrote.
    pub connections: usize,
    /// Seats taken per product (assignments and reservations).
    pub seats: BTreeMap<Key, u32>,
}

impl Services {
    /// Writes a batch of pre-built rows into the actor's organization (operator only): checks
    /// it ([`LoadBatch::check`]), hashes its passwords before the transaction opens, takes the
    /// batch's seats with one `take_seats(n)` per product — so `seats_used ≤ seats_total` holds
    /// as for any assignment, and a batch that does not fit is refused whole — then writes the
    /// users (with their grants), invites and their reservations, licenses, memberships,
    /// connections and password hashes with the port's batch writes, and one audit event
    /// (`organization.rows_loaded`, with the counts). One transaction: all or nothing.
    ///
    /// # Errors
    /// `forbidden` unless system; `validation_failed` naming the refused rows;
    /// `seat_limit_reached`; `conflict` on a unique value (email, phone, …) as the store reports
    /// it; `not_found` for a connection's inviter that does not exist.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn load_rows(&self, actor: &Actor, batch: LoadBatch) -> ServiceResult<LoadSummary> {
        if !actor.is_system() {
            return Err(ServiceError::forbidden("loading rows is an operator command"));
        }
        let mut hashes = Vec::with_capacity(batch.passwords.len());
        for (user, password) in &batch.passwords {
            hashes.push((*user, self.hasher.hash(password).await?));
        }
        let mut tx = self.begin().await?;
        let org = load_org(&mut *tx, actor.org_id()).await?;
        let catalog = load_catalog(&mut *tx, org.id).await?;
        let tree = load_tree(&mut *tx, org.id).await?;
        let roles: BTreeSet<_> = tx.roles(org.id).await?.into_iter().map(|r| r.id).collect();
        let flows: BTreeSet<_> = tx.flows(org.id).await?.into_iter().map(|f| f.id).collect();
        let group_flows = tx.group_flows(org.id).await?;
        let rules = LoadRules {
            org: &org,
            catalog: &catalog,
            tree: &tree,
            roles: &roles,
            flows: &flows,
            group_flows: &group_flows,
            now: self.now(),
        };
        batch.check(&rules)?;
        let seats = batch.seats();
        for (product, n) in &seats {
            tx.take_seats(org.id, product, *n).await?;
        }
        tx.insert_users(&batch.users).await?;
        tx.insert_invites(&batch.invites).await?;
        tx.insert_reservations(&batch.reservations()).await?;
        tx.insert_licenses(&batch.licenses).await?;
        tx.insert_memberships(&batch.memberships).await?;
        tx.insert_connections(&batch.connections).await?;
        for (user, hash) in &hashes {
            tx.set_password_hash(org.id, *user, hash).await?;
        }
        let summary = LoadSummary {
            users: batch.users.len(),
            licenses: batch.licenses.len(),
            memberships: batch.memberships.len(),
            invites: batch.invites.len(),
            connections: batch.connections.len(),
            seats,
        };
        self.audit(
            &mut *tx,
            actor,
            "organization.rows_loaded",
            AuditTarget::new(TargetKind::Organization, org.id, org.name.as_str()),
            Changes::new()
                .note("users", &summary.users)
                .note("licenses", &summary.licenses)
                .note("memberships", &summary.memberships)
                .note("invites", &summary.invites)
                .note("connections", &summary.connections),
        )
        .await?;
        tx.commit().await?;
        Ok(summary)
    }
}
