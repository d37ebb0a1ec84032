//! Data safety on SQL, on a fresh SQLite file and — when
//! `ROSTER_TEST_DATABASE_URL` is set — a fresh PostgreSQL schema, through the real use cases:
//!
//! - **A failure in the middle of a use case** leaves no partial change: a trigger on the audit
//!   table (SQLite `RAISE(ABORT, …)`, a PL/pgSQL `RAISE EXCEPTION`) fails the audit event that
//!   a multi-write use case appends after its other writes. The service answers an error (not
//!   a panic), every row of every table is as before, and once the trigger is gone the same
//!   call succeeds and changes the database (so the scenario did write before failing).
//! - **The connection dropped mid-use-case** (PostgreSQL): the trigger terminates its own
//!   backend (`pg_terminate_backend(pg_backend_pid())`). The service answers the domain's
//!   mapping of a storage failure (`ServiceError::Store(StoreError::Unavailable)`, code
//!   `internal` — docs/ERRORS.md has no code of its own for it), nothing is committed, and the
//!   pool serves the next request.
//! - **Constraint violations are domain errors**: two concurrent creates sharing one unique
//!   value (email, phone, agent id, CRM id) → one succeeds, the other gets `conflict` naming
//!   the field. On PostgreSQL a slow trigger on `users` holds both inserts until both creates
//!   passed the service's pre-check, and a sequence bumped by the trigger proves both inserts
//!   ran, so the unique index decides; SQLite runs write transactions one at a time
//!   (`BEGIN IMMEDIATE`), so there the second create's pre-check sees the first one's commit.

#[path = "support/services.rs"]
mod services;
#[allow(dead_code, reason = "this binary uses only part of the shared test support")]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use roster_adapters_db::{Engine, SeaOrmStore};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::mail::MailKind;
use roster_domain::org::Organization;
use roster_domain::ports::{Outbox, StoreError};
use roster_domain::services::{BulkLicenses, BulkOp, InviteRow, InviteStatus, MoveUser, NewConnection, NewUser};
use roster_domain::values::{AgentId, CrmId, Email, Password, PersonName, Phone};
use roster_domain::{ErrorCode, ServiceError, ServiceResult, Services};
use sea_orm::{ConnectionTrait, Value};
use services::{create_group, create_user, key, new_org, new_user, system};
use support::{TestDb, stores};
use time::macros::datetime;

/// Every row of every table, as text, by table: two fingerprints are equal exactly when the
/// database holds the same data.
type Fingerprint = BTreeMap<String, Vec<String>>;

async fn fingerprint(t: &TestDb) -> Fingerprint {
    let tables_sql = match t.engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Engine::Postgres => "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
    };
    let mut out = Fingerprint::new();
    for table in texts(t, tables_sql, vec![], "name").await {
        let rows_sql = match t.engine() {
            Engine::Sqlite => {
                let columns =
                    texts(t, "SELECT name FROM pragma_table_info(?) ORDER BY cid", vec![table.clone().into()], "name")
                        .await;
                let row: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
                format!("SELECT {} AS r FROM \"{table}\" ORDER BY 1", row.join(" || '|' || "))
            }
            Engine::Postgres => format!("SELECT CAST(x AS text) AS r FROM \"{table}\" AS x ORDER BY 1"),
        };
        let rows = texts(t, &rows_sql, vec![], "r").await;
        out.insert(table, rows);
    }
    assert!(out.contains_key("users") && out.contains_key("audit_events"), "the tables are found: {:?}", out.keys());
    out
}

/// One text column of every row a query answers.
async fn texts(t: &TestDb, sql: &str, values: Vec<Value>, column: &str) -> Vec<String> {
    let rows = t.db.connection().query_all_raw(t.statement(sql, values)).await.expect("the query runs");
    rows.iter().map(|r| r.try_get::<String>("", column).expect("a text column")).collect()
}

/// How the injected fault fails the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The database refuses the insert with an error.
    Raise,
    /// The server ends the connection (PostgreSQL only).
    Disconnect,
}

/// Makes the `nth` (from 0) audit event with `action` appended from now on fail.
async fn inject(t: &TestDb, action: &str, nth: i64, fault: Fault) {
    let existing = t.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = ?", vec![action.into()]).await;
    let threshold = existing + nth;
    let condition = format!(
        "NEW.action = '{action}' AND (SELECT COUNT(*) FROM audit_events WHERE action = '{action}') >= {threshold}"
    );
    let sql = match (t.engine(), fault) {
        (Engine::Sqlite, Fault::Raise) => format!(
            "CREATE TRIGGER inject_failure BEFORE INSERT ON audit_events WHEN {condition} \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        ),
        (Engine::Sqlite, Fault::Disconnect) => panic!("SQLite has no connection to drop"),
        (Engine::Postgres, fault) => {
            let fail = match fault {
                Fault::Raise => "RAISE EXCEPTION 'injected failure';",
                // The backend acts on its own termination at the next interrupt check, which
                // `pg_sleep` makes at once.
                Fault::Disconnect => "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5);",
            };
            format!(
                "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF {condition} THEN {fail} END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER inject_failure BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION inject_failure();"
            )
        }
    };
    t.db.connection().execute_unprepared(&sql).await.expect("creates the failing trigger");
}

async fn clear_fault(t: &TestDb) {
    let sql = match t.engine() {
        Engine::Sqlite => "DROP TRIGGER inject_failure",
        Engine::Postgres => "DROP TRIGGER inject_failure ON audit_events; DROP FUNCTION inject_failure();",
    };
    t.db.connection().execute_unprepared(sql).await.expect("drops the failing trigger");
}

/// Runs `call` with the `nth` `action` event failing: it must fail with a storage error and
/// leave every table as it was. Then, without the fault, the same call succeeds and changes
/// the database.
async fn fails_without_a_trace<T, F, Fut>(t: &TestDb, what: &str, action: &str, nth: i64, fault: Fault, call: F)
where
    T: std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: Future<Output = ServiceResult<T>>,
{
    let engine = t.engine();
    let before = fingerprint(t).await;
    inject(t, action, nth, fault).await;
    let result = call().await;
    match &result {
        Err(e @ ServiceError::Store(StoreError::Unavailable(_))) => {
            assert_eq!(e.code(), ErrorCode::Internal, "{what}: a storage failure is `internal` on the API");
            // The server's farewell (`57P01`) may or may not reach the client before the socket
            // closes; either way the driver reports it.
            let expected: &[&str] = match fault {
                Fault::Raise => &["injected failure"],
                Fault::Disconnect => &["terminating connection", "error communicating with database"],
            };
            let message = support::chain(e);
            assert!(
                expected.iter().any(|m| message.contains(m)),
                "{what} on {engine:?}: the fault is what failed it: {message}"
            );
        }
        other => {
            panic!("{what} on {engine:?} with a {fault:?} at {action} #{nth}: expected a storage error, got {other:?}")
        }
    }
    // After a dropped connection this is also the pool's next request.
    let after = fingerprint(t).await;
    assert_eq!(after, before, "{what} on {engine:?}: nothing of the failed use case is left");
    clear_fault(t).await;
    call().await.unwrap_or_else(|e| panic!("{what} on {engine:?} succeeds once the fault is gone: {e}"));
    assert_ne!(fingerprint(t).await, before, "{what} on {engine:?} writes when it succeeds");
}

/// An admin member (org-wide), acting as a console request would.
async fn admin(services: &Services, org: &Organization) -> Actor {
    let mut new = new_user(900);
    new.roles = vec![key("admin")];
    let id = create_user(services, org, new).await;
    services.resolve_actor(org.id, id, Source::Console, None).await.expect("the admin can act")
}

#[tokio::test]
async fn creating_a_user_with_groups_and_licenses_is_all_or_nothing() {
    for (t, store) in stores("safety_create_user").await {
        let services = services::services(&store, 0);
        let org = new_org(&services, "acme", 5).await;
        let sales = create_group(&services, &org, "Sales").await;
        let new = || NewUser {
            group_ids: vec![sales],
            products: BTreeSet::from([key("core"), key("dialer")]),
            ..new_user(1)
        };
        // The license event comes after the user, the membership, the seats, the licenses and
        // the user's `ever_held_core` update.
        let actor = system(&org);
        let call = || services.create_user(&actor, new());
        fails_without_a_trace(&t, "create_user", "user.licenses_changed", 0, Fault::Raise, call).await;
        t.finish().await;
    }
}

#[tokio::test]
async fn a_bulk_license_action_failing_at_its_third_user_keeps_none_of_the_first_two() {
    for (t, store) in stores("safety_bulk").await {
        let services = services::services(&store, 0);
        let org = new_org(&services, "acme", 5).await;
        let mut users = Vec::new();
        for n in 0..3 {
            users.push(create_user(&services, &org, new_user(n)).await);
        }
        let request = || BulkLicenses {
            user_ids: users.clone(),
            products: BTreeSet::from([key("core")]),
            op: BulkOp::Assign,
            atomic: false,
            dry_run: false,
        };
        let call = || async {
            let result = services.bulk_licenses(&system(&org), request()).await?;
            assert!(result.applied && result.outcomes.iter().all(|o| o.is_ok()), "{result:?}");
            Ok(result)
        };
        fails_without_a_trace(&t, "bulk_licenses", "user.licenses_changed", 2, Fault::Raise, call).await;
        t.finish().await;
    }
}

/// A member of Sales with two connections stamped Sales, and the Support group.
async fn mover(services: &Services, org: &Organization) -> (roster_domain::ids::UserId, MoveUser) {
    let sales = create_group(services, org, "Sales").await;
    let support = create_group(services, org, "Support").await;
    let user = create_user(services, org, NewUser { group_ids: vec![sales], ..new_user(1) }).await;
    let actor = services.resolve_actor(org.id, user, Source::Console, None).await.expect("the member can act");
    for n in 0..2 {
        let connection = NewConnection {
            email: Email::parse(&format!("customer{n}@example.org")).expect("valid"),
            name: PersonName::parse("A Customer").expect("valid"),
            flow_id: None,
            group: None,
            cc: vec![],
        };
        services.create_connection(&actor, connection).await.expect("the connection is created");
    }
    (user, MoveUser { from_group_id: sales, to_group_id: support, transfer_records: true })
}

#[tokio::test]
async fn moving_a_user_with_their_records_is_all_or_nothing() {
    for (t, store) in stores("safety_move_user").await {
        let services = services::services(&store, 0);
        let org = new_org(&services, "acme", 5).await;
        let (user, request) = mover(&services, &org).await;
        // The move's event comes after the membership changes and the stamp transfer.
        let actor = system(&org);
        let call = || services.move_user(&actor, user, request);
        fails_without_a_trace(&t, "move_user", "membership.moved", 0, Fault::Raise, call).await;
        let stamped = t
            .count(
                "SELECT COUNT(*) AS n FROM connection_groups WHERE org_id = ? AND group_id = ?",
                vec![org.id.as_uuid().into(), request.to_group_id.as_uuid().into()],
            )
            .await;
        assert_eq!(stamped, 2, "the records moved with the user once the fault was gone");
        t.finish().await;
    }
}

#[tokio::test]
async fn accepting_an_invite_is_all_or_nothing() {
    for (t, store) in stores("safety_accept_invite").await {
        let services = services::services(&store, 0);
        let org = new_org(&services, "acme", 5).await;
        let admin = admin(&services, &org).await;
        let row = InviteRow {
            name: PersonName::parse("Ivy Invitee").expect("valid"),
            email: Email::parse("ivy@example.com").expect("valid"),
            roles: vec![key("standard")],
            products: BTreeSet::from([key("core"), key("dialer")]),
            group_ids: Vec::new(),
        };
        let result = services.invite_members(&admin, vec![row], false).await.expect("invites");
        assert_eq!(result.results[0].status, InviteStatus::Created);
        let token = invitation_token(&store).await;
        let password = Password::parse("correct horse battery staple").expect("valid");
        // The acceptance event comes after the reservations turned into licenses, the password
        // hash, the user's update and the invite's.
        let call = || services.accept_invite(&token, &password);
        fails_without_a_trace(&t, "accept_invite", "invite.accepted", 0, Fault::Raise, call).await;
        t.finish().await;
    }
}

/// The token of the one invitation in the outbox.
async fn invitation_token(store: &SeaOrmStore) -> String {
    let mut tx = store.begin_tx().await.expect("begins");
    let queued = tx.due_mail(datetime!(2100-01-01 00:00:00 UTC), 100).await.expect("reads the outbox");
    let tokens: Vec<String> = queued
        .into_iter()
        .filter_map(|q| match q.mail.kind {
            MailKind::Invitation { token, .. } => Some(token),
            _ => None,
        })
        .collect();
    assert_eq!(tokens.len(), 1, "one invitation was queued");
    tokens.into_iter().next().expect("one")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_use_case_commits_nothing_and_the_pool_recovers() {
    let Some(t) = TestDb::postgres("safety_disconnect").await else { return };
    roster_adapters_db::migrate(&t.db).await.expect("migrates");
    let store = SeaOrmStore::new(t.db.clone());
    let services = services::services(&store, 0);
    let org = new_org(&services, "acme", 5).await;
    // `mover` below takes member 1 and the groups Sales and Support.
    let field = create_group(&services, &org, "Field").await;
    let new = || NewUser { group_ids: vec![field], products: BTreeSet::from([key("core")]), ..new_user(2) };
    let actor = system(&org);
    let call = || services.create_user(&actor, new());
    fails_without_a_trace(&t, "create_user", "user.licenses_changed", 0, Fault::Disconnect, call).await;

    let (user, request) = mover(&services, &org).await;
    let actor = system(&org);
    let call = || services.move_user(&actor, user, request);
    fails_without_a_trace(&t, "move_user", "membership.moved", 0, Fault::Disconnect, call).await;
    t.finish().await;
}

/// Which unique value two creates share.
#[derive(Debug, Clone, Copy)]
enum Shared {
    Email,
    Phone,
    AgentId,
    CrmId,
}

impl Shared {
    const ALL: [Shared; 4] = [Shared::Email, Shared::Phone, Shared::AgentId, Shared::CrmId];

    fn field(self) -> &'static str {
        match self {
            Shared::Email => "email",
            Shared::Phone => "phone",
            Shared::AgentId => "agent_id",
            Shared::CrmId => "crm_id",
        }
    }

    /// Member `n` of round `round`, sharing this value with the round's other member.
    fn user(self, round: usize, n: usize) -> NewUser {
        let mut new = new_user(100 * (round + 1) + n);
        match self {
            Shared::Email => new.email = Email::parse(&format!("shared{round}@example.com")).expect("valid"),
            Shared::Phone => new.phone = Some(Phone::parse(&format!("+4915100000{round:03}")).expect("valid")),
            Shared::AgentId => new.agent_id = Some(AgentId::parse(&format!("agent-{round}")).expect("valid")),
            Shared::CrmId => new.crm_id = Some(CrmId::parse(&format!("crm-{round}")).expect("valid")),
        }
        new
    }
}

/// On PostgreSQL: every insert into `users` counts itself in a sequence (which no rollback
/// undoes) and waits, so that a concurrent create passes its pre-check before this one commits.
async fn slow_user_inserts(t: &TestDb) {
    let sql = "CREATE SEQUENCE user_insert_attempts; \
               CREATE FUNCTION slow_user_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               PERFORM nextval('user_insert_attempts'); PERFORM pg_sleep(0.3); RETURN NEW; END $$; \
               CREATE TRIGGER slow_user_insert BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION slow_user_insert();";
    t.db.connection().execute_unprepared(sql).await.expect("creates the slow trigger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_sharing_a_unique_value_give_one_user_and_one_conflict_naming_the_field() {
    for (t, store) in stores("safety_unique").await {
        let engine = t.engine();
        let services = services::services(&store, 0);
        let org = new_org(&services, "acme", 5).await;
        if engine == Engine::Postgres {
            slow_user_inserts(&t).await;
        }
        let mut attempts = 0;
        for (round, shared) in Shared::ALL.into_iter().enumerate() {
            let actor = system(&org);
            let (a, b) = tokio::join!(
                services.create_user(&actor, shared.user(round, 0)),
                services.create_user(&actor, shared.user(round, 1)),
            );
            attempts += 2;
            let (won, lost) = match (a, b) {
                (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
                (a, b) => {
                    panic!("{shared:?} on {engine:?}: expected one success and one conflict, got {a:?} and {b:?}")
                }
            };
            match &lost {
                ServiceError::Conflict { field, .. } => {
                    assert_eq!(*field, shared.field(), "{shared:?} on {engine:?}: the conflict names the field");
                }
                other => panic!("{shared:?} on {engine:?}: expected a conflict, got {other:?}"),
            }
            assert_eq!(lost.code(), ErrorCode::Conflict);
            let live = t.count("SELECT COUNT(*) AS n FROM users WHERE org_id = ?", vec![org.id.as_uuid().into()]).await;
            assert_eq!(
                live,
                i64::try_from(round + 1).expect("small"),
                "one user per round, the winner {}",
                won.user.id
            );
        }
        if engine == Engine::Postgres {
            let row = t.query_one("SELECT last_value AS n FROM user_insert_attempts", vec![]).await.expect("a row");
            let inserted: i64 = row.try_get("", "n").expect("a number");
            assert_eq!(inserted, attempts, "both creates of every round passed the pre-check and tried to insert");
        }
        t.finish().await;
    }
}
