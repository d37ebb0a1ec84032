//! The domain's state-machine property test (`roster_testkit::state_machine`) on SQL
//! (SPEC §14): random sequences of operations through the real services over
//! `SeaOrmStore`, every invariant of SPEC §14 checked on the committed rows — read back
//! through the `Store` port by `PortReader` — after every step, and every step's outcome
//! equal to the in-memory store's on the same sequence.
//!
//! Fewer and shorter runs than the domain's 256 × 50–80 on the in-memory store, to keep the
//! suite's time reasonable: [`SQLITE_CASES`] sequences of [`STEPS`] steps, each on a fresh
//! SQLite file; and, when `ROSTER_TEST_DATABASE_URL` is set, [`POSTGRES_CASES`] on fresh
//! PostgreSQL schemas. A failing sequence shrinks as in the domain's test, each attempt on a
//! fresh database again.

#[allow(dead_code, reason = "this binary uses only the fresh-database part of the shared test support")]
mod support;

use std::sync::Arc;

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use roster_adapters_db::{SeaOrmStore, migrate};
use roster_testkit::state_machine::world::{Failure, Outcome, World};
use roster_testkit::state_machine::{PortReader, invariants, ops};
use support::TestDb;

const SQLITE_CASES: u32 = 16;
const POSTGRES_CASES: u32 = 4;
const STEPS: usize = 30;

/// Runs `steps` from a fresh world on `t`'s database, checking every invariant after every
/// step, and compares each step's outcome with the in-memory store's for the same sequence:
/// the services, ids and clock are the same, so a step applied on one store and refused on
/// the other is a difference between the stores.
async fn run_on(t: TestDb, steps: &[ops::Op]) -> Result<Vec<Outcome>, Failure> {
    migrate(&t.db).await.expect("migrates");
    let store = Arc::new(SeaOrmStore::new(t.db.clone()));
    let world = World::new(store.clone(), Arc::new(PortReader::new(store))).await;
    let on_sql = world.run(steps).await;
    t.finish().await;
    let on_sql = on_sql?;
    let in_memory = World::in_memory().await.run(steps).await.map_err(|e| format!("in memory: {e}"))?;
    if let Some(ix) = on_sql.iter().zip(&in_memory).position(|(a, b)| a != b) {
        return Err(format!(
            "step {ix} ({:?}) answered {:?} on SQL but {:?} in memory; the steps before:\n  {:?}",
            steps[ix],
            on_sql[ix],
            in_memory[ix],
            &steps[..ix]
        ));
    }
    Ok(on_sql)
}

/// `cases` random sequences, each on the database `fresh` opens.
fn property<F, Fut>(cases: u32, fresh: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = TestDb>,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let config = Config { cases, max_shrink_iters: 256, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&ops::sequence_of(STEPS..=STEPS), |steps| {
        runtime.block_on(async { run_on(fresh().await, &steps).await }).map(|_| ()).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn every_invariant_holds_after_every_step_on_sqlite() {
    property(SQLITE_CASES, TestDb::sqlite);
}

#[test]
fn every_invariant_holds_after_every_step_on_postgres() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    // Only to learn whether PostgreSQL is configured (and reachable, when it is).
    let Some(probe) = runtime.block_on(TestDb::postgres("state_machine_postgres")) else { return };
    runtime.block_on(probe.finish());
    drop(runtime);
    property(POSTGRES_CASES, || async {
        TestDb::postgres("state_machine_postgres").await.expect("PostgreSQL stays configured")
    });
}

/// The checks see what is on disk: rows changed behind the services' back (a seat count, a
/// user marked deleted while holding licenses) are reported. The deleted user is no longer in
/// the port's user listing, so this also shows `PortReader` reading back the users it saw.
#[test]
fn rows_corrupted_on_disk_are_reported() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let t = TestDb::sqlite().await;
        migrate(&t.db).await.expect("migrates");
        let store = Arc::new(SeaOrmStore::new(t.db.clone()));
        let world = World::new(store.clone(), Arc::new(PortReader::new(store))).await;
        assert_eq!(world.violations().await.expect("the checks run"), vec![], "the set-up world is sound");

        let org = world.org.as_uuid();
        t.exec(
            "UPDATE seat_pools SET seats_used = seats_used + 1 WHERE org_id = ? AND product = 'sms'",
            vec![org.into()],
        )
        .await
        .expect("corrupts the SMS pool");
        t.exec("UPDATE users SET deleted_at = {t} WHERE org_id = ? AND email = 'olga@acme.test'", vec![org.into()])
            .await
            .expect("deletes olga behind the services' back");
        let violations = world.violations().await.expect("the checks run");
        let broken = invariants::broken(&violations);
        assert!(broken.contains(&invariants::Invariant::SeatBookkeeping), "{violations:?}");
        assert!(broken.contains(&invariants::Invariant::NoLicenseWithoutAccess), "{violations:?}");
        assert!(
            violations.iter().any(|v| v.detail.starts_with("olga@acme.test")),
            "olga's licenses are reported: {violations:?}"
        );
        drop(world);
        t.finish().await;
    });
}
