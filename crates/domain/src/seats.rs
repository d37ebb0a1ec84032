//! Seat pools, license assignments and seat reservations (§4.2–§4.4).
//!
//! The invariant `seats_used <= seats_total` is guarded twice: the domain asks the store to
//! *take* seats (a conditional update in the database, see `ports::LicenseRepository`), and the
//! pure check below explains a refusal with the figures a client shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{InviteId, OrgId, UserId};
use crate::values::Key;

/// The seats of one product in one organization. Its figures change only through the seat rule
/// ([`SeatPool::take`], [`SeatPool::give_back`], [`SeatPool::set_total`]), so a pool made by
/// [`SeatPool::new`] never holds more seats in use than it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatPool {
    org_id: OrgId,
    product: Key,
    seats_total: u32,
    seats_used: u32,
}

impl SeatPool {
    /// A new pool of `seats_total` seats of `product`, none in use.
    pub fn new(org_id: OrgId, product: Key, seats_total: u32) -> Self {
        Self { org_id, product, seats_total, seats_used: 0 }
    }

    /// A pool as a store keeps it. The figures are taken as they are: a store's own constraint
    /// keeps `seats_used <= seats_total`, and a drift between `seats_used` and the assignments
    /// is what reconciliation finds (§4.5).
    pub fn restore(org_id: OrgId, product: Key, seats_total: u32, seats_used: u32) -> Self {
        Self { org_id, product, seats_total, seats_used }
    }

    /// The organization the pool belongs to.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The product whose seats these are; one pool per product and organization.
    pub fn product(&self) -> &Key {
        &self.product
    }

    /// How many seats the organization bought; only the operator changes it (§11).
    pub fn seats_total(&self) -> u32 {
        self.seats_total
    }

    /// Current assignments plus seats reserved by pending invites.
    pub fn seats_used(&self) -> u32 {
        self.seats_used
    }

    /// Seats still free.
    pub fn available(&self) -> u32 {
        self.seats_total.saturating_sub(self.seats_used)
    }

    /// The seat rule (§4.2): `n` more seats fit when `seats_used + n <= seats_total`; otherwise
    /// the refusal carries the figures as they are. Compared in `u64`, so a huge `n` cannot
    /// wrap around and slip under the total.
    ///
    /// # Errors
    /// [`SeatsExhausted`] when the seats do not fit.
    pub fn check_take(&self, n: u32) -> Result<(), SeatsExhausted> {
        if u64::from(self.seats_used) + u64::from(n) > u64::from(self.seats_total) {
            return Err(self.exhausted());
        }
        Ok(())
    }

    /// Gives `n` seats back (never below none in use).
    pub fn give_back(&mut self, n: u32) {
        self.seats_used = self.seats_used.saturating_sub(n);
    }

    /// Sets how many seats the organization has; a total below the seats in use is refused with
    /// the figures as they are ("5 in use, cannot go to 3").
    ///
    /// # Errors
    /// [`SeatsExhausted`] for a total below [`SeatPool::seats_used`]; the pool is unchanged.
    pub fn set_total(&mut self, seats_total: u32) -> Result<(), SeatsExhausted> {
        if seats_total < self.seats_used {
            return Err(self.exhausted());
        }
        self.seats_total = seats_total;
        Ok(())
    }

    /// Whether the figures keep the rule: no more seats in use than in all.
    pub fn is_within_total(&self) -> bool {
        self.seats_used <= self.seats_total
    }

    /// The refusal of the seat rule, with the figures as they are.
    pub fn exhausted(&self) -> SeatsExhausted {
        SeatsExhausted { product: self.product.clone(), seats_total: self.seats_total, seats_used: self.seats_used }
    }

    /// Takes `n` seats under [`SeatPool::check_take`], or none.
    ///
    /// # Errors
    /// [`SeatsExhausted`] when the seats do not fit; the pool is unchanged.
    pub fn take(&mut self, n: u32) -> Result<(), SeatsExhausted> {
        self.check_take(n)?;
        self.seats_used += n;
        Ok(())
    }
}

/// Seats refused by the seat rule, with the figures at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatsExhausted {
    /// The product without enough free seats.
    pub product: Key,
    /// Its seats in all.
    pub seats_total: u32,
    /// Its seats in use (assigned or reserved) when the take was refused.
    pub seats_used: u32,
}

/// A product a user holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseAssignment {
    /// The organization of the user.
    pub org_id: OrgId,
    /// The member who holds the license.
    pub user_id: UserId,
    /// The product held; one assignment per user and product.
    pub product: Key,
    /// When the license was assigned; for an accepted invite, when it was accepted.
    pub assigned_at: OffsetDateTime,
}

/// A seat held for a pending invite; it becomes an assignment when the invite is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatReservation {
    /// The organization of the invite.
    pub org_id: OrgId,
    /// The pending invite the seat is held for.
    pub invite_id: InviteId,
    /// The product whose seat is held; one reservation per invite and product.
    pub product: Key,
}

/// Counts per product for the invite screen and `GET /licenses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SeatCount {
    /// The product counted.
    pub product: Key,
    /// The pool's size.
    pub seats_total: u32,
    /// Seats taken by assignments and reservations.
    pub seats_used: u32,
    /// Seats still free: `seats_total - seats_used`, never below zero.
    pub seats_available: u32,
}

impl From<&SeatPool> for SeatCount {
    fn from(pool: &SeatPool) -> Self {
        Self {
            product: pool.product.clone(),
            seats_total: pool.seats_total,
            seats_used: pool.seats_used,
            seats_available: pool.available(),
        }
    }
}

/// What `GET /billing` answers (§4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillingSummary {
    /// Users who are not deactivated, not deleted and not invited.
    pub billable_users: u64,
    /// The seat counts of every product, in product order.
    pub seats: Vec<SeatCount>,
    /// When the trial ends; `None` when the organization has no trial.
    pub trial_ends_at: Option<OffsetDateTime>,
    /// Whether the trial is running now: every non-deactivated user is entitled to every product.
    pub in_trial: bool,
}

/// A seat pool whose recorded `seats_used` is not what the organization's rows say it should be
/// (§4.2: the current assignments plus the seats reserved by pending invites). Found by
/// reconciliation (§4.5, `roster reconcile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatDrift {
    /// The product whose pool drifted.
    pub product: Key,
    /// The pool's size.
    pub seats_total: u32,
    /// What the pool records.
    pub seats_used: u32,
    /// Assignments plus reservations: what `seats_used` should be.
    pub counted: u32,
}

impl SeatDrift {
    /// The counter can be set to the count without breaking `seats_used <= seats_total`. When
    /// the rows hold more seats than the pool has, no counter fixes it: the operator raises the
    /// total or someone gives licenses back.
    pub fn repairable(&self) -> bool {
        self.counted <= self.seats_total
    }
}

/// The pools whose `seats_used` differs from `counted` (the seats the rows hold per product; a
/// product missing from it holds none), in the pools' order. Rows of a product without a pool
/// are not reported: the store refuses them (a license needs its pool's product).
pub fn seat_drift(pools: &[SeatPool], counted: &BTreeMap<Key, u32>) -> Vec<SeatDrift> {
    pools
        .iter()
        .filter_map(|pool| {
            let counted = counted.get(&pool.product).copied().unwrap_or(0);
            (counted != pool.seats_used).then(|| SeatDrift {
                product: pool.product.clone(),
                seats_total: pool.seats_total,
                seats_used: pool.seats_used,
                counted,
            })
        })
        .collect()
}
