//! [`LicenseRepository`]: seat pools, license assignments and seat reservations.
//!
//! Seats are taken with ONE conditional statement,
//! `UPDATE seat_pools SET seats_used = seats_used + n WHERE … AND seats_used + n <= seats_total
//! RETURNING …`, computed in `bigint` so that no `n` can wrap. Its atomicity is the database's:
//! on PostgreSQL a concurrent taker waits for the row lock and re-checks the `WHERE` on the
//! committed row; on SQLite the transaction holds the write lock from `BEGIN IMMEDIATE`. The
//! schema's `CHECK (seats_used <= seats_total)` backs it up for any other writer.

use async_trait::async_trait;
use roster_domain::ids::{InviteId, OrgId, UserId};
use roster_domain::ports::{LicenseRepository, StoreError, UniqueField};
use roster_domain::seats::{LicenseAssignment, SeatPool, SeatReservation};
use roster_domain::values::Key;
use sea_orm::{QueryResult, Value};

use super::SeaOrmTx;
use super::batch::Batch;
use super::convert::{count, get_id, get_parsed, get_time, get_unsigned, id, text, time};
use super::errors;

type R<T> = Result<T, StoreError>;

/// The name of the schema's `CHECK (seats_used <= seats_total)`.
const USED_WITHIN_TOTAL: &str = "seat_pools_used_within_total";

const POOL_COLUMNS: &str = "org_id, product, seats_total, seats_used";

fn pool_from_row(row: &QueryResult) -> R<SeatPool> {
    Ok(SeatPool::restore(
        get_id(row, "org_id", OrgId::from_uuid)?,
        get_parsed(row, "product")?,
        get_unsigned(row, "seats_total")?,
        get_unsigned(row, "seats_used")?,
    ))
}

fn exhausted(pool: &SeatPool) -> StoreError {
    StoreError::SeatsExhausted(pool.exhausted())
}

const MISSING_POOL: StoreError = StoreError::Missing { kind: "seat pool" };

impl SeaOrmTx {
    /// The pool as it is now, or `Missing { kind: "seat pool" }`.
    async fn pool(&self, org: OrgId, product: &Key) -> R<SeatPool> {
        let sql = format!("SELECT {POOL_COLUMNS} FROM seat_pools WHERE org_id = ? AND product = ?");
        let row = self.query_one(&sql, vec![id(org.as_uuid()), text(product)]).await?;
        row.as_ref().map(pool_from_row).transpose()?.ok_or(MISSING_POOL)
    }

    /// Runs `UPDATE seat_pools SET {set} WHERE <the pool> AND ({condition}) RETURNING …`: the
    /// pool's new figures, or `None` when the condition (or the pool) did not match.
    async fn update_pool(
        &self,
        org: OrgId,
        product: &Key,
        (set, set_values): (&str, Vec<Value>),
        (condition, condition_values): (&str, Vec<Value>),
    ) -> R<Option<SeatPool>> {
        let sql = format!(
            "UPDATE seat_pools SET {set} WHERE org_id = ? AND product = ? AND ({condition}) RETURNING {POOL_COLUMNS}"
        );
        let mut values = set_values;
        values.extend([id(org.as_uuid()), text(product)]);
        values.extend(condition_values);
        let row = self.query_one(&sql, values).await?;
        row.as_ref().map(pool_from_row).transpose()
    }

    fn license_from_row(&self, row: &QueryResult) -> R<LicenseAssignment> {
        Ok(LicenseAssignment {
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            user_id: get_id(row, "user_id", UserId::from_uuid)?,
            product: get_parsed(row, "product")?,
            assigned_at: get_time(self.engine, row, "assigned_at")?,
        })
    }

    async fn select_licenses(&self, filter: &str, values: Vec<Value>) -> R<Vec<LicenseAssignment>> {
        let sql = format!("SELECT org_id, user_id, product, assigned_at FROM licenses {filter}");
        self.query_all(&sql, values).await?.iter().map(|row| self.license_from_row(row)).collect()
    }
}

#[async_trait]
impl LicenseRepository for SeaOrmTx {
    async fn insert_seat_pool(&mut self, pool: &SeatPool) -> R<()> {
        if pool.seats_used() > pool.seats_total() {
            // What the CHECK would refuse; a clash on the product is reported first, as the
            // in-memory store does (PostgreSQL would report the CHECK first).
            return Err(match self.pool(pool.org_id(), pool.product()).await {
                Ok(_) => StoreError::Conflict { field: UniqueField::Key },
                Err(StoreError::Missing { .. }) => exhausted(pool),
                Err(other) => other,
            });
        }
        let values = vec![
            id(pool.org_id().as_uuid()),
            text(&pool.product()),
            count(pool.seats_total())?,
            count(pool.seats_used())?,
        ];
        let sql = format!("INSERT INTO seat_pools ({POOL_COLUMNS}) VALUES (?, ?, ?, ?)");
        match self.exec_guarded(&sql, values).await {
            Ok(_) => Ok(()),
            Err(e) if errors::check_constraint(&e).as_deref() == Some(USED_WITHIN_TOTAL) => Err(exhausted(pool)),
            Err(e) => Err(errors::write_error(e, "seat pool")),
        }
    }

    async fn seat_pools(&mut self, org: OrgId) -> R<Vec<SeatPool>> {
        let sql = format!("SELECT {POOL_COLUMNS} FROM seat_pools WHERE org_id = ? ORDER BY product");
        self.query_all(&sql, vec![id(org.as_uuid())]).await?.iter().map(pool_from_row).collect()
    }

    async fn set_seats_total(&mut self, org: OrgId, product: &Key, total: u32) -> R<SeatPool> {
        let total = count(total)?;
        let updated =
            self.update_pool(org, product, ("seats_total = ?", vec![total.clone()]), ("seats_used <= ?", vec![total]));
        match updated.await? {
            Some(pool) => Ok(pool),
            // Either no such pool, or more seats in use than the new total: the current figures.
            None => Err(exhausted(&self.pool(org, product).await?)),
        }
    }

    async fn take_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        let n = count(n)?;
        // In `bigint`: `seats_used + n` cannot wrap whatever `n` is.
        let updated = self.update_pool(
            org,
            product,
            ("seats_used = seats_used + ?", vec![n.clone()]),
            ("seats_used + ? <= seats_total", vec![n]),
        );
        match updated.await? {
            Some(pool) => Ok(pool),
            // Zero rows: no such pool, or not enough seats; the figures as they are now (under
            // READ COMMITTED, the latest committed ones — what made the UPDATE refuse).
            None => Err(exhausted(&self.pool(org, product).await?)),
        }
    }

    async fn return_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        let n = count(n)?;
        let set = "seats_used = CASE WHEN seats_used > ? THEN seats_used - ? ELSE 0 END";
        self.update_pool(org, product, (set, vec![n.clone(), n]), ("TRUE", vec![])).await?.ok_or(MISSING_POOL)
    }

    async fn licenses_of(&mut self, org: OrgId, user: UserId) -> R<Vec<LicenseAssignment>> {
        self.select_licenses(
            "WHERE org_id = ? AND user_id = ? ORDER BY product",
            vec![id(org.as_uuid()), id(user.as_uuid())],
        )
        .await
    }

    async fn all_licenses(&mut self, org: OrgId) -> R<Vec<LicenseAssignment>> {
        self.select_licenses("WHERE org_id = ? ORDER BY user_id, product", vec![id(org.as_uuid())]).await
    }

    async fn licenses_after(
        &mut self,
        org: OrgId,
        after: Option<(UserId, Key)>,
        limit: u32,
    ) -> R<Vec<LicenseAssignment>> {
        let limit = count(limit)?;
        match after {
            None => {
                let values = vec![id(org.as_uuid()), limit];
                self.select_licenses("WHERE org_id = ? ORDER BY user_id, product LIMIT ?", values).await
            }
            // A row value, so that both engines read a range of the primary key (org_id, user_id,
            // product) from the position on; `user_id > ? OR (user_id = ? AND product > ?)` makes
            // SQLite scan the organization's rows from the first one on every page.
            Some((user, product)) => {
                let filter = "WHERE org_id = ? AND (user_id, product) > (?, ?) ORDER BY user_id, product LIMIT ?";
                let values = vec![id(org.as_uuid()), id(user.as_uuid()), text(&product), limit];
                self.select_licenses(filter, values).await
            }
        }
    }

    async fn insert_license(&mut self, assignment: &LicenseAssignment) -> R<()> {
        let values = vec![
            id(assignment.org_id.as_uuid()),
            id(assignment.user_id.as_uuid()),
            text(&assignment.product),
            time(self.engine, assignment.assigned_at)?,
        ];
        let sql = "INSERT INTO licenses (org_id, user_id, product, assigned_at) VALUES (?, ?, ?, ?)";
        // The composite foreign key (org_id, user_id) finds the user in the same organization.
        self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "user"))?;
        Ok(())
    }

    async fn insert_licenses(&mut self, assignments: &[LicenseAssignment]) -> R<()> {
        let mut values = Vec::with_capacity(assignments.len() * 4);
        for a in assignments {
            values.extend([
                id(a.org_id.as_uuid()),
                id(a.user_id.as_uuid()),
                text(&a.product),
                time(self.engine, a.assigned_at)?,
            ]);
        }
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "licenses", "org_id, user_id, product, assigned_at", "(?, ?, ?, ?)", values);
        self.run_batch(batch).await.map_err(|e| errors::write_error(e, "user"))
    }

    async fn delete_license(&mut self, org: OrgId, user: UserId, product: &Key) -> R<bool> {
        let sql = "DELETE FROM licenses WHERE org_id = ? AND user_id = ? AND product = ?";
        let done = self.exec(sql, vec![id(org.as_uuid()), id(user.as_uuid()), text(product)]).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reservations_of(&mut self, org: OrgId, invite: InviteId) -> R<Vec<SeatReservation>> {
        let sql = "SELECT org_id, invite_id, product FROM seat_reservations \
                   WHERE org_id = ? AND invite_id = ? ORDER BY product";
        let rows = self.query_all(sql, vec![id(org.as_uuid()), id(invite.as_uuid())]).await?;
        rows.iter()
            .map(|row| {
                Ok(SeatReservation {
                    org_id: get_id(row, "org_id", OrgId::from_uuid)?,
                    invite_id: get_id(row, "invite_id", InviteId::from_uuid)?,
                    product: get_parsed(row, "product")?,
                })
            })
            .collect()
    }

    async fn insert_reservation(&mut self, reservation: &SeatReservation) -> R<()> {
        let values =
            vec![id(reservation.org_id.as_uuid()), id(reservation.invite_id.as_uuid()), text(&reservation.product)];
        let sql = "INSERT INTO seat_reservations (org_id, invite_id, product) VALUES (?, ?, ?)";
        self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "invite"))?;
        Ok(())
    }

    async fn insert_reservations(&mut self, reservations: &[SeatReservation]) -> R<()> {
        let values = reservations
            .iter()
            .flat_map(|r| [id(r.org_id.as_uuid()), id(r.invite_id.as_uuid()), text(&r.product)])
            .collect();
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "seat_reservations", "org_id, invite_id, product", "(?, ?, ?)", values);
        self.run_batch(batch).await.map_err(|e| errors::write_error(e, "invite"))
    }

    async fn delete_reservations(&mut self, org: OrgId, invite: InviteId) -> R<()> {
        let sql = "DELETE FROM seat_reservations WHERE org_id = ? AND invite_id = ?";
        self.exec(sql, vec![id(org.as_uuid()), id(invite.as_uuid())]).await?;
        Ok(())
    }
}
