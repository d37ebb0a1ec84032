//! The batched CRM import (`Services::import_from_crm`, ADR 0010) end to end on SQLite and
//! PostgreSQL: 5,000 CRM users in five chunks, the seat limit crossed inside the last chunk,
//! then the same import again.

#[allow(dead_code, reason = "this binary uses only the fresh-database part of the shared test support")]
mod support;

use std::sync::Arc;
use std::time::Instant;

use roster_adapters_db::{SeaOrmStore, migrate};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::org::OrgSettings;
use roster_domain::ports::{Clock, CrmUser, IdGenerator, Store};
use roster_domain::services::{CrmImportRequest, CrmImportStatus, NewOrganization, Services};
use roster_domain::values::{CrmId, Email, Key, Label, PersonName, Slug};
use roster_testkit::{FakeHasher, InMemoryCrmDirectory, ManualClock, SequentialIds};
use sea_orm::Value;
use support::TestDb;
use time::macros::datetime;

const USERS: usize = 5_000;
const SEATS: u32 = 4_500;

fn directory() -> InMemoryCrmDirectory {
    let at = datetime!(2026-01-01 00:00 UTC);
    InMemoryCrmDirectory::new((0..USERS).map(|k| {
        let user = CrmUser {
            crm_id: CrmId::parse(&format!("crm-{k:05}")).expect("valid"),
            first_name: PersonName::parse("Imported").expect("valid"),
            last_name: PersonName::parse(&format!("User{k}")).expect("valid"),
            email: Email::parse(&format!("user{k}@import.example.com")).expect("valid"),
            phone: None,
            active: true,
            title: None,
        };
        (user, at)
    }))
}

fn request() -> CrmImportRequest {
    CrmImportRequest {
        crm_ids: (0..USERS).map(|k| CrmId::parse(&format!("crm-{k:05}")).expect("valid")).collect(),
        products: [Key::parse("core").expect("valid")].into(),
        roles: vec![Key::parse("standard").expect("valid")],
        send_welcome_email: true,
        dry_run: false,
    }
}

fn count_of(outcomes: &[roster_domain::services::CrmImportOutcome], status: CrmImportStatus) -> usize {
    outcomes.iter().filter(|o| o.status == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_crm_users_import_in_chunks_with_every_row_written_on_each_engine() {
    for test_db in TestDb::each_engine("crm_import").await {
        migrate(&test_db.db).await.expect("migrates");
        let store: Arc<dyn Store> = Arc::new(SeaOrmStore::new(test_db.db.clone()));
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(datetime!(2026-01-05 09:00 UTC)));
        let ids: Arc<dyn IdGenerator> = Arc::new(SequentialIds::new());
        let services = Services::new(store, clock, ids, Arc::new(FakeHasher)).with_crm(Arc::new(directory()));
        let new = NewOrganization {
            name: Label::parse("Importers").expect("valid"),
            slug: Slug::parse("importers").expect("valid"),
            trial_ends_at: None,
            settings: OrgSettings::default(),
        };
        let org = services.create_organization(Source::Cli, new).await.expect("creates the organization");
        let operator = Actor::system(org.id, Source::Cli);
        services.set_seats(&operator, &Key::parse("core").expect("valid"), SEATS).await.expect("sets seats");
        let users_before = test_db.count("SELECT COUNT(*) AS n FROM users", vec![]).await;
        let events_before = test_db.count("SELECT COUNT(*) AS n FROM audit_events", vec![]).await;

        let started = Instant::now();
        let outcomes = services.import_from_crm(&operator, request()).await.expect("imports");
        let took = started.elapsed();
        eprintln!(
            "{:?}: imported {USERS} CRM ids in {took:?} ({:.0} users/s)",
            test_db.engine(),
            f64::from(SEATS) / took.as_secs_f64()
        );
        assert_eq!(outcomes.len(), USERS);
        assert_eq!(count_of(&outcomes, CrmImportStatus::Created), 4_500);
        assert_eq!(count_of(&outcomes, CrmImportStatus::SeatRefused), 500, "the limit is crossed in the 5th chunk");
        assert!(outcomes[..4_500].iter().all(|o| o.status == CrmImportStatus::Created), "in id order");

        let n = |table: &str| format!("SELECT COUNT(*) AS n FROM {table}");
        assert_eq!(test_db.count(&n("users"), vec![]).await - users_before, 4_500);
        assert_eq!(test_db.count(&n("users WHERE invited AND crm_id IS NOT NULL"), vec![]).await, 4_500);
        assert_eq!(test_db.count(&n("user_roles"), vec![]).await - users_before, 4_500, "one grant each");
        assert_eq!(test_db.count(&n("invites"), vec![]).await, 4_500);
        assert_eq!(test_db.count(&n("seat_reservations"), vec![]).await, 4_500);
        assert_eq!(test_db.count(&n("outbox"), vec![]).await, 4_500);
        let used = test_db.count("SELECT seats_used AS n FROM seat_pools WHERE product = ?", vec![Value::from("core")]);
        assert_eq!(used.await, 4_500);
        let created = test_db.count(&n("audit_events WHERE action = 'invite.created'"), vec![]).await;
        assert_eq!(created, 4_500);
        let events = test_db.count(&n("audit_events"), vec![]).await;
        assert_eq!(events - events_before, 4_500);
        let last = test_db.count("SELECT MAX(last_position) AS n FROM event_counters", vec![]).await;
        let top = test_db.count("SELECT MAX(position) AS n FROM audit_events", vec![]).await;
        assert_eq!((last, top), (events, events), "positions 1..=N without gaps");

        let again = services.import_from_crm(&operator, request()).await.expect("imports again");
        assert_eq!(count_of(&again, CrmImportStatus::AlreadyMember), 4_500);
        assert_eq!(count_of(&again, CrmImportStatus::SeatRefused), 500);
        assert_eq!(test_db.count(&n("users"), vec![]).await - users_before, 4_500, "nothing twice");
        test_db.finish().await;
    }
}
