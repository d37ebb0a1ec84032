//! The cost of a license write with the triggers of migration 000015 (ADR 0035), which keep
//! `users.holds_core` and `users.products_sort` in step with `licenses`: every license written
//! also updates its user's row. Measured on the generated organization by the same raw
//! multi-row `INSERT` of licenses, one transaction per [`BATCH`] users, with the triggers in
//! place and with them dropped, batch after batch in turn (so that both sides see the same
//! warmth of the caches), the trigger definitions read back from the database and recreated
//! between batches outside the timed window. Only the license rows are written (not the seat
//! counts a use case also updates), so the ratio is the triggers' share of the write itself.
//!
//! The run checks itself: every user licensed with the triggers in place must have the product
//! in `products_sort` afterwards, and no user licensed without them.

use std::time::{Duration, Instant};

use anyhow::bail;
use roster_adapters_db::Engine;

use super::Options;
use super::generate::{NOW, Org};
use super::raw::{P, RawDb};

/// Users licensed per transaction.
const BATCH: usize = 1_000;
/// Rows per multi-row `INSERT` statement.
const ROWS_PER_STATEMENT: usize = 500;
/// The product written: one the generated users rarely hold, so that most can take it.
const PRODUCT: &str = "sms";

/// What the measurement found on one engine.
#[derive(Debug)]
pub(crate) struct LicenseReport {
    /// License rows written on each side.
    pub(crate) rows: usize,
    pub(crate) with_triggers: Duration,
    pub(crate) without_triggers: Duration,
}

impl LicenseReport {
    /// How many times longer a write takes with the triggers.
    pub(crate) fn ratio(&self) -> f64 {
        self.with_triggers.as_secs_f64() / self.without_triggers.as_secs_f64().max(1e-9)
    }
}

/// Licenses `PRODUCT` to up to 20,000 users (a quarter of the organization at most), half of
/// the batches with the triggers and half without.
pub(crate) async fn run(options: &Options, raw: &RawDb, org: &Org) -> anyhow::Result<LicenseReport> {
    let wanted = ((options.users / 4).min(20_000) / (2 * BATCH)).max(1) * 2 * BATCH;
    let org_id = P::Id(org.id.as_uuid());
    let ids = raw
        .ids(
            &format!(
                "SELECT u.id FROM users u WHERE u.org_id = ? AND u.deleted_at IS NULL AND NOT EXISTS \
                 (SELECT 1 FROM licenses l WHERE l.org_id = u.org_id AND l.user_id = u.id AND l.product = '{PRODUCT}') \
                 ORDER BY u.id LIMIT {wanted}"
            ),
            std::slice::from_ref(&org_id),
        )
        .await?;
    let mut batches: Vec<&[uuid::Uuid]> = ids.chunks(BATCH).filter(|b| b.len() == BATCH).collect();
    // As many batches on each side.
    batches.truncate(batches.len() / 2 * 2);
    if batches.len() < 2 {
        bail!("license writes: only {} users without {PRODUCT} to license", ids.len());
    }
    let triggers = raw.license_triggers().await?;
    if triggers.is_empty() {
        bail!("license writes: the licenses table has no triggers to measure");
    }
    let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
    let (mut licensed_with, mut licensed_without) = (Vec::new(), Vec::new());
    for (i, batch) in batches.iter().enumerate() {
        let triggered = i % 2 == 0;
        if !triggered {
            let drops: Vec<String> = triggers.iter().map(|(drop, _)| drop.clone()).collect();
            raw.ddl(&drops).await?;
        }
        let statements: Vec<(String, Vec<P>)> = batch
            .chunks(ROWS_PER_STATEMENT)
            .map(|part| {
                let sql = format!(
                    "INSERT INTO licenses (org_id, user_id, product, assigned_at) VALUES {}",
                    vec![format!("(?, ?, '{PRODUCT}', ?)"); part.len()].join(", ")
                );
                let params = part.iter().flat_map(|id| [org_id.clone(), P::Id(*id), P::Time(NOW)]).collect();
                (sql, params)
            })
            .collect();
        let started = Instant::now();
        raw.write_tx(&statements).await?;
        let took = started.elapsed();
        if triggered {
            with += took;
            licensed_with.extend_from_slice(batch);
        } else {
            without += took;
            licensed_without.extend_from_slice(batch);
            let creates: Vec<String> = triggers.iter().map(|(_, create)| create.clone()).collect();
            raw.ddl(&creates).await?;
        }
    }
    // The triggers ran where they were in place, and only there.
    let marked = |ids: &[uuid::Uuid]| {
        let list = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ");
        let id_list = if raw.engine() == Engine::Sqlite { sqlite_ids(ids) } else { list };
        format!(
            "SELECT COUNT(*) AS n FROM users WHERE org_id = ? AND id IN ({id_list}) AND products_sort LIKE '%{PRODUCT}%'"
        )
    };
    let n_with = raw.count(&marked(&licensed_with), std::slice::from_ref(&org_id)).await?;
    let n_without = raw.count(&marked(&licensed_without), std::slice::from_ref(&org_id)).await?;
    if usize::try_from(n_with).ok() != Some(licensed_with.len()) || n_without != 0 {
        bail!(
            "license writes: {n_with} of {} users licensed with the triggers show {PRODUCT}, {n_without} of {} without",
            licensed_with.len(),
            licensed_without.len()
        );
    }
    Ok(LicenseReport { rows: licensed_with.len(), with_triggers: with, without_triggers: without })
}

/// `ids` as SQLite's blob literals (the store keeps UUIDs as 16-byte blobs there).
fn sqlite_ids(ids: &[uuid::Uuid]) -> String {
    ids.iter().map(|id| format!("X'{}'", id.simple())).collect::<Vec<_>>().join(", ")
}
