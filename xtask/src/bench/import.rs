//! The write measurement: importing `--import` users from the CRM through the product's use case
//! (`Services::import_from_crm` over the `SeaOrmStore`, a CRM directory in memory), against the
//! baseline: a raw multi-row `INSERT` of the same rows, one transaction per [`RAW_CHUNK`] users
//! (the use case's own chunk, `CRM_IMPORT_CHUNK`).
//!
//! What one imported user writes (products `{core}`, the default role, no welcome email): the
//! user row, its role grant, the invite, the seat reservation and the `invite.created` audit
//! event — five rows — plus, per transaction, the seat pool's count and the audit counter. The
//! baseline writes exactly these rows, with the same contents, for other CRM users.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use roster_adapters_db::SeaOrmStore;
use roster_domain::ports::CrmUser;
use roster_domain::services::{CRM_IMPORT_CHUNK, CrmImportRequest, CrmImportStatus};
use roster_domain::values::{CrmId, Email, Key, PersonName};
use roster_testkit::InMemoryCrmDirectory;
use roster_testkit::generator::{
    Rng, SYNTHETIC_FIRST_NAMES, SYNTHETIC_LAST_NAMES, synthetic_first_name, synthetic_last_name,
};
use serde_json::json;

use super::Options;
use super::generate::{NOW, Org, services};
use super::raw::{P, RawDb};
use super::report::ImportReport;

/// Users per transaction in the raw baseline: the chunk `import_from_crm` commits, so both paths
/// pay the same number of commits.
pub(crate) const RAW_CHUNK: usize = CRM_IMPORT_CHUNK;
/// Rows per multi-row `INSERT` statement in the raw baseline.
const ROWS_PER_STATEMENT: usize = 500;
/// The rows one imported user writes (user, role grant, invite, reservation, audit event).
pub(crate) const ROWS_PER_USER: u64 = 5;

/// A CRM user numbered `i`, with ids and emails under `prefix` so that runs never collide.
fn crm_user(prefix: &str, i: usize, rng: &mut Rng) -> anyhow::Result<CrmUser> {
    let (first, last) = (
        synthetic_first_name(rng.skewed(SYNTHETIC_FIRST_NAMES)),
        synthetic_last_name(rng.skewed(SYNTHETIC_LAST_NAMES)),
    );
    let email = format!("{}.{}.{prefix}{i}@newhires.example", first.to_lowercase(), last.to_lowercase());
    Ok(CrmUser {
        crm_id: CrmId::parse(&format!("{prefix}{i:09}")).map_err(|e| anyhow!("CRM id: {e}"))?,
        first_name: PersonName::parse(&first).map_err(|e| anyhow!("name: {e}"))?,
        last_name: PersonName::parse(&last).map_err(|e| anyhow!("name: {e}"))?,
        email: Email::parse(&email).map_err(|e| anyhow!("email {email}: {e}"))?,
        phone: None,
        active: true,
        title: None,
    })
}

/// Runs the import through the product, then the raw baseline.
pub(crate) async fn run(
    options: &Options,
    store: &SeaOrmStore,
    raw: &RawDb,
    org: &Org,
) -> anyhow::Result<ImportReport> {
    let n = options.import;
    let mut rng = Rng::new(options.seed ^ 0x1_3907);
    eprintln!("bench: import of {n} users through import_from_crm…");
    let users: Vec<CrmUser> = (0..n).map(|i| crm_user("IMP", i, &mut rng)).collect::<anyhow::Result<_>>()?;
    let ids: Vec<CrmId> = users.iter().map(|u| u.crm_id.clone()).collect();
    let directory = InMemoryCrmDirectory::new(users.into_iter().map(|u| (u, NOW)));
    let services = services(store).with_crm(Arc::new(directory));
    let actor = org.actor(&org.admin, &org.admin_groups);
    let core = Key::parse("core").map_err(|e| anyhow!("{e}"))?;
    let request = CrmImportRequest {
        crm_ids: ids,
        products: BTreeSet::from([core]),
        roles: Vec::new(),
        send_welcome_email: false,
        dry_run: false,
    };
    let started = Instant::now();
    let outcomes = services.import_from_crm(&actor, request).await.map_err(|e| anyhow!("import_from_crm: {e}"))?;
    let product = started.elapsed();
    let created = outcomes.iter().filter(|o| o.status == CrmImportStatus::Created).count();
    if created != n {
        let other = outcomes.iter().find(|o| o.status != CrmImportStatus::Created);
        bail!("import_from_crm created {created} of {n} users (first other outcome: {other:?})");
    }
    drop(outcomes);

    eprintln!("bench: raw multi-row INSERT baseline of {n} users…");
    let baseline = raw_import(raw, org, options.seed, n).await?;
    Ok(ImportReport { users: n, rows: n as u64 * ROWS_PER_USER, product, baseline, chunk: RAW_CHUNK })
}

/// Writes `n` imported users' rows with multi-row `INSERT`s, [`RAW_CHUNK`] users per
/// transaction; answers the time it took.
async fn raw_import(raw: &RawDb, org: &Org, seed: u64, n: usize) -> anyhow::Result<Duration> {
    let mut rng = Rng::new(seed ^ 0x2_3907);
    let org_id = org.id.as_uuid();
    let standard = org.role("standard")?.as_uuid();
    let admin = org.admin.id.as_uuid();
    let counter_sql = "SELECT last_position AS n FROM event_counters WHERE org_id = ?";
    let mut position = raw.count(counter_sql, &[P::Id(org_id)]).await?;
    let users: Vec<CrmUser> = (0..n).map(|i| crm_user("RAW", i, &mut rng)).collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    for chunk in users.chunks(RAW_CHUNK) {
        let mut statements: Vec<(String, Vec<P>)> = Vec::new();
        let count = i64::try_from(chunk.len())?;
        statements.push((
            "UPDATE seat_pools SET seats_used = seats_used + ? WHERE org_id = ? AND product = 'core' \
             AND seats_used + ? <= seats_total"
                .to_owned(),
            vec![P::Int(count), P::Id(org_id), P::Int(count)],
        ));
        statements.push((
            "UPDATE event_counters SET last_position = last_position + ? WHERE org_id = ?".to_owned(),
            vec![P::Int(count), P::Id(org_id)],
        ));
        let mut rows = Rows::default();
        for user in chunk {
            // Time-ordered like the use case's ids (UUIDv7 in production, sequential here).
            let k = usize::try_from(position)?;
            let user_id = rng.ordered_id(3, k);
            let invite_id = rng.ordered_id(4, k);
            let email = user.email.as_str().to_owned();
            let display = format!("{} {}", user.first_name.as_str(), user.last_name.as_str());
            let crm = user.crm_id.as_str().to_owned();
            rows.users.push(vec![
                P::Id(org_id),
                P::Id(user_id),
                P::Text(email.clone()),
                P::Text(user.first_name.as_str().to_owned()),
                P::Text(user.last_name.as_str().to_owned()),
                P::OptText(Some(crm.clone())),
                P::Bool(true),
                P::Text(user.first_name.as_str().to_lowercase()),
                P::Text(user.last_name.as_str().to_lowercase()),
                P::Text(crm.to_lowercase()),
                P::Text(format!("{}\u{1f}{email}\u{1f}{}", display.to_lowercase(), crm.to_lowercase())),
                P::Time(NOW),
                P::Time(NOW),
            ]);
            rows.roles.push(vec![P::Id(org_id), P::Id(user_id), P::Id(standard)]);
            rows.invites.push(vec![
                P::Id(org_id),
                P::Id(invite_id),
                P::Id(user_id),
                P::Json(json!(["core"])),
                P::Text(format!(
                    "{:016x}{:016x}{:016x}{:016x}",
                    rng.next_u64(),
                    rng.next_u64(),
                    rng.next_u64(),
                    rng.next_u64()
                )),
                P::Time(NOW + time::Duration::days(7)),
                P::Id(admin),
                P::Time(NOW),
            ]);
            rows.reservations.push(vec![P::Id(org_id), P::Id(invite_id)]);
            position += 1;
            rows.audits.push(vec![
                P::Id(org_id),
                P::Id(rng.ordered_id(5, k)),
                P::Int(position),
                P::Time(NOW),
                P::Id(admin),
                P::Text(invite_id.to_string()),
                P::Text(display),
                P::Json(json!({"products": {"note": ["core"]}, "email": {"note": email}})),
            ]);
        }
        rows.into_statements(&mut statements);
        raw.write_tx(&statements).await?;
    }
    Ok(started.elapsed())
}

/// One chunk's rows, by table, each row its parameters.
#[derive(Default)]
struct Rows {
    users: Vec<Vec<P>>,
    roles: Vec<Vec<P>>,
    invites: Vec<Vec<P>>,
    reservations: Vec<Vec<P>>,
    audits: Vec<Vec<P>>,
}

impl Rows {
    /// Multi-row `INSERT`s of [`ROWS_PER_STATEMENT`] rows, parents before children.
    fn into_statements(self, out: &mut Vec<(String, Vec<P>)>) {
        let tables: [(&str, &str, Vec<Vec<P>>); 5] = [
            (
                "users (org_id, id, email, first_name, last_name, crm_id, invited, first_name_sort, last_name_sort, \
                 crm_id_sort, search_text, created_at, updated_at)",
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.users,
            ),
            ("user_roles (org_id, user_id, role_id)", "(?, ?, ?)", self.roles),
            (
                "invites (org_id, id, user_id, purpose, products, token_hash, expires_at, created_by, created_at)",
                "(?, ?, ?, 'member', ?, ?, ?, ?, ?)",
                self.invites,
            ),
            ("seat_reservations (org_id, invite_id, product)", "(?, ?, 'core')", self.reservations),
            (
                "audit_events (org_id, id, position, at, actor_id, source, action, target_kind, target_id, \
                 target_label, details)",
                "(?, ?, ?, ?, ?, 'import', 'invite.created', 'invite', ?, ?, ?)",
                self.audits,
            ),
        ];
        for (table, row, rows) in tables {
            for batch in rows.chunks(ROWS_PER_STATEMENT) {
                let sql = format!("INSERT INTO {table} VALUES {}", vec![row; batch.len()].join(", "));
                out.push((sql, batch.iter().flatten().cloned().collect()));
            }
        }
    }
}
