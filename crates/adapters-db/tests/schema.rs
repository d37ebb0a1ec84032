//! The schema, black-box: connecting, migrating, the version guard, and the constraints that
//! keep Roster's invariants in the database itself. Every test runs on a fresh SQLite file and,
//! when `ROSTER_TEST_DATABASE_URL` is set, on a fresh PostgreSQL schema.

mod support;

use roster_adapters_db::{
    DbSetupError, Engine, MIGRATIONS_TABLE, Migrator, SQLITE_BUSY_TIMEOUT, SchemaError, check_schema, connect, migrate,
    migrations::known_migrations,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, SqlErr, TransactionTrait, Value};
use sea_orm_migration::MigratorTrait;
use support::{TestDb, chain};
use uuid::Uuid;

/// Every table the migrations create.
const TABLES: &[&str] = &[
    "organizations",
    "products",
    "product_prerequisites",
    "seat_pools",
    "users",
    "password_hashes",
    "roles",
    "user_roles",
    "user_group_access",
    "licenses",
    "invites",
    "seat_reservations",
    "scheduled_changes",
    "groups",
    "memberships",
    "flows",
    "group_flows",
    "api_keys",
    "connections",
    "connection_groups",
    "connection_cc",
    "event_counters",
    "audit_events",
    "outbox",
    "webhooks",
    "webhook_deliveries",
    "sessions",
    "saved_views",
    "idempotency_keys",
    "login_failures",
    "password_resets",
    "jobs",
    "job_outcomes",
];

fn id(n: u128) -> Value {
    Uuid::from_u128(n).into()
}

/// The tables of the test's database, the migrations table excepted.
async fn tables(t: &TestDb) -> Vec<String> {
    let sql = match t.engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Engine::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() \
             ORDER BY table_name"
        }
    };
    let rows = t.db.connection().query_all_raw(t.statement(sql, vec![])).await.expect("lists tables");
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").expect("a name"))
        .filter(|name| name != MIGRATIONS_TABLE)
        .collect()
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    out.sort();
    out
}

/// Asserts that `result` failed on the constraint or index named `name`.
fn assert_refused_by<T: std::fmt::Debug>(result: Result<T, DbErr>, name: &str, what: &str) {
    let error = result.expect_err(what);
    let text = chain(&error);
    assert!(text.contains(name), "{what}: expected a refusal by {name}, got: {text}");
}

/// Asserts that `result` failed on a unique index.
fn assert_unique_violation<T: std::fmt::Debug>(result: Result<T, DbErr>, what: &str) {
    let error = result.expect_err(what);
    assert!(
        matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        "{what}: expected a unique violation, got: {}",
        chain(&error)
    );
}

/// Asserts that `result` failed on a foreign key.
fn assert_fk_violation<T: std::fmt::Debug>(result: Result<T, DbErr>, what: &str) {
    let error = result.expect_err(what);
    assert!(
        matches!(error.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))),
        "{what}: expected a foreign key violation, got: {}",
        chain(&error)
    );
}

#[tokio::test]
async fn migrations_create_every_table_on_a_fresh_database() {
    for t in TestDb::each_engine("migrations_create_every_table_on_a_fresh_database").await {
        assert_eq!(tables(&t).await, Vec::<String>::new(), "{:?}: starts empty", t.engine());
        assert!(
            matches!(check_schema(&t.db).await, Err(SchemaError::Outdated { .. })),
            "an empty database is older than the build"
        );

        let applied = migrate(&t.db).await.expect("migrates");

        assert_eq!(applied, known_migrations(), "{:?}: applies every migration, oldest first", t.engine());
        assert_eq!(tables(&t).await, sorted(TABLES), "{:?}: creates every table", t.engine());
        check_schema(&t.db).await.expect("the schema is the build's");
        if let Some(schema) = t.schema() {
            let current = t.query_one("SELECT current_schema() AS s", vec![]).await.expect("a row");
            assert_eq!(current.try_get::<String>("", "s").expect("a name"), schema, "tables live in the test's schema");
        }
        t.finish().await;
    }
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    for t in TestDb::each_engine("migrating_twice_is_a_no_op").await {
        migrate(&t.db).await.expect("migrates");

        let again = migrate(&t.db).await.expect("migrates again");

        assert!(again.is_empty(), "{:?}: nothing left to apply, got {again:?}", t.engine());
        let recorded = t.count(&format!("SELECT COUNT(*) AS n FROM {MIGRATIONS_TABLE}"), vec![]).await;
        assert_eq!(recorded, i64::try_from(known_migrations().len()).expect("small"), "each migration recorded once");
        check_schema(&t.db).await.expect("still current");
        t.finish().await;
    }
}

#[tokio::test]
async fn two_processes_migrating_at_once_apply_each_migration_once() {
    for t in TestDb::each_engine("two_processes_migrating_at_once_apply_each_migration_once").await {
        // A second pool on the same database stands for a second `roster` process.
        let other = connect(&t.url).await.expect("opens a second pool");

        let (a, b) = tokio::join!(migrate(&t.db), migrate(&other));

        let (a, b) = (a.expect("the first migrates"), b.expect("the second migrates"));
        let mut both = [a, b];
        both.sort_by_key(Vec::len);
        assert_eq!(
            both,
            [Vec::new(), known_migrations()],
            "{:?}: one applies everything, the other nothing",
            t.engine()
        );
        check_schema(&t.db).await.expect("current");
        other.close().await.expect("closes");
        t.finish().await;
    }
}

#[tokio::test]
async fn rolling_back_and_migrating_again_restores_the_schema() {
    for t in TestDb::each_engine("rolling_back_and_migrating_again_restores_the_schema").await {
        migrate(&t.db).await.expect("migrates");
        let known = known_migrations();

        // The three newest migrations add the webhooks' rotation, reason and failure columns, the
        // delivery log's duration and excerpt and `audit_events.api_key_id` (000017), the
        // members' directory attributes and `organizations.scim_products` (000018), then the
        // index the delivery log's retention purges by (000019).
        Migrator::down(t.db.connection(), Some(3)).await.expect("rolls back the three newest migrations");
        match check_schema(&t.db).await {
            Err(SchemaError::Outdated { pending }) => assert_eq!(pending, known[known.len() - 3..].to_vec()),
            other => panic!("{:?}: expected the three newest migrations to be pending, got {other:?}", t.engine()),
        }
        assert!(t.exec("UPDATE users SET external_id = NULL", vec![]).await.is_err(), "{:?}", t.engine());
        assert!(
            t.exec("UPDATE audit_events SET api_key_id = NULL", vec![]).await.is_err(),
            "{:?}: its column is gone",
            t.engine()
        );
        assert!(t.exec("UPDATE webhooks SET previous_secret = NULL", vec![]).await.is_err());
        assert!(t.exec("UPDATE webhook_deliveries SET duration_ms = NULL", vec![]).await.is_err());
        assert_eq!(tables(&t).await, sorted(TABLES), "{:?}: no table was dropped with it", t.engine());

        Migrator::down(t.db.connection(), None).await.expect("rolls back everything");
        assert_eq!(tables(&t).await, Vec::<String>::new(), "{:?}: every table is gone", t.engine());
        match check_schema(&t.db).await {
            Err(SchemaError::Outdated { pending }) => assert_eq!(pending, known),
            other => panic!("expected every migration to be pending, got {other:?}"),
        }

        assert_eq!(migrate(&t.db).await.expect("migrates again"), known);
        assert_eq!(tables(&t).await, sorted(TABLES));
        check_schema(&t.db).await.expect("current again");
        t.finish().await;
    }
}

#[tokio::test]
async fn a_schema_migrated_by_a_newer_roster_is_refused_by_name() {
    for t in TestDb::each_engine("a_schema_migrated_by_a_newer_roster_is_refused_by_name").await {
        migrate(&t.db).await.expect("migrates");
        let future = "m29990101_000000_from_the_future";
        t.exec(&format!("INSERT INTO {MIGRATIONS_TABLE} (version, applied_at) VALUES (?, 0)"), vec![future.into()])
            .await
            .expect("records a migration this build does not know");

        let checked = check_schema(&t.db).await;
        let migrated = migrate(&t.db).await;

        for result in [checked.map(|()| Vec::new()), migrated] {
            let error = result.expect_err("a newer schema is refused");
            let message = error.to_string();
            match error {
                SchemaError::NewerSchema { unknown } => assert_eq!(unknown, vec![future.to_owned()]),
                other => panic!("{:?}: expected NewerSchema, got {other:?}", t.engine()),
            }
            assert!(message.contains(future), "the message names the migration: {message}");
            assert!(message.contains("newer"), "the message says why: {message}");
        }
        let recorded = t.count(&format!("SELECT COUNT(*) AS n FROM {MIGRATIONS_TABLE}"), vec![]).await;
        assert_eq!(
            recorded,
            i64::try_from(known_migrations().len() + 1).expect("small"),
            "the refusal changed nothing"
        );
        t.finish().await;
    }
}

#[tokio::test]
async fn seat_pools_refuse_over_allocation_in_sql() {
    for t in TestDb::each_engine("seat_pools_refuse_over_allocation_in_sql").await {
        migrate(&t.db).await.expect("migrates");
        let org = id(1);
        t.exec("INSERT INTO seat_pools (org_id, product, seats_total) VALUES (?, 'core', 2)", vec![org.clone()])
            .await
            .expect("creates a pool of 2");
        let take = |n: i64| {
            t.exec(
                "UPDATE seat_pools SET seats_used = seats_used + ? WHERE org_id = ? AND product = 'core'",
                vec![n.into(), org.clone()],
            )
        };

        assert_refused_by(take(3).await, "seat_pools_used_within_total", "3 of 2 seats");
        take(2).await.expect("takes both seats");
        assert_refused_by(take(1).await, "seat_pools_used_within_total", "a third seat");
        assert_refused_by(take(-3).await, "seat_pools_used_not_negative", "giving back more than was taken");
        assert_refused_by(
            t.exec(
                "INSERT INTO seat_pools (org_id, product, seats_total, seats_used) VALUES (?, 'dialer', 1, 2)",
                vec![org.clone()],
            )
            .await,
            "seat_pools_used_within_total",
            "a pool created over-allocated",
        );
        assert_refused_by(
            t.exec("UPDATE seat_pools SET seats_total = 1 WHERE org_id = ?", vec![org.clone()]).await,
            "seat_pools_used_within_total",
            "shrinking the pool below the seats in use",
        );
        let used = t.query_one("SELECT seats_used AS n FROM seat_pools WHERE org_id = ?", vec![org]).await;
        assert_eq!(used.expect("the pool").try_get::<i64>("", "n").expect("a number"), 2, "refusals changed nothing");
        t.finish().await;
    }
}

const INSERT_USER: &str = "INSERT INTO users (org_id, id, email, phone, agent_id, crm_id, first_name, last_name, \
     first_name_sort, last_name_sort, search_text, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, 'Ada', 'Lovelace', 'ada', 'lovelace', '', {t}, {t})";

async fn insert_user(t: &TestDb, org: u128, user: u128, email: &str) -> Result<(), DbErr> {
    let none = Value::String(None);
    let values = vec![id(org), id(user), email.into(), none.clone(), none.clone(), none];
    t.exec(INSERT_USER, values).await.map(|_| ())
}

async fn delete_user(t: &TestDb, user: u128) {
    t.exec("UPDATE users SET deleted_at = {t} WHERE id = ?", vec![id(user)]).await.expect("soft-deletes");
}

#[tokio::test]
async fn a_deleted_users_email_is_free_again_but_two_live_users_never_share_one() {
    for t in TestDb::each_engine("a_deleted_users_email_is_free_again_but_two_live_users_never_share_one").await {
        migrate(&t.db).await.expect("migrates");
        insert_user(&t, 1, 10, "ada@example.com").await.expect("a first user");

        assert_unique_violation(insert_user(&t, 1, 11, "ada@example.com").await, "a second live ada@");
        assert_refused_by(
            insert_user(&t, 1, 11, "Ada@Example.com").await,
            "users_email_lower_case",
            "an address differing only in case (emails are stored lower-case)",
        );
        insert_user(&t, 2, 12, "ada@example.com").await.expect("another organization may use the address");

        delete_user(&t, 10).await;
        insert_user(&t, 1, 11, "ada@example.com").await.expect("the deleted user's address is free again");
        assert_unique_violation(insert_user(&t, 1, 13, "ada@example.com").await, "a live user holds it again");
        assert_unique_violation(
            t.exec("UPDATE users SET deleted_at = NULL WHERE id = ?", vec![id(10)]).await,
            "restoring the deleted user while their address is taken",
        );
        t.finish().await;
    }
}

#[tokio::test]
async fn phone_agent_id_and_crm_id_are_unique_among_live_users_when_present() {
    for t in TestDb::each_engine("phone_agent_id_and_crm_id_are_unique_among_live_users_when_present").await {
        migrate(&t.db).await.expect("migrates");
        for (n, column, value) in [(100, "phone", "+14155550123"), (200, "agent_id", "A-7"), (300, "crm_id", "005X")] {
            let set = format!("UPDATE users SET {column} = ? WHERE id = ?");
            for k in 0..3 {
                insert_user(&t, 1, n + k, &format!("u{}@example.com", n + k)).await.expect("users without the field");
            }
            t.exec(&set, vec![value.into(), id(n)]).await.expect("the first holder");

            assert_unique_violation(t.exec(&set, vec![value.into(), id(n + 1)]).await, column);
            delete_user(&t, n).await;
            t.exec(&set, vec![value.into(), id(n + 1)]).await.expect("free again once its holder is deleted");
            assert_unique_violation(t.exec(&set, vec![value.into(), id(n + 2)]).await, column);
        }
        t.finish().await;
    }
}

const INSERT_GROUP: &str = "INSERT INTO groups (org_id, id, parent_id, name, name_key, depth, created_at) \
     VALUES (?, ?, ?, ?, ?, ?, {t})";

async fn insert_group(t: &TestDb, group: u128, parent: Option<u128>, name: &str, depth: i64) -> Result<(), DbErr> {
    let parent = parent.map_or(Value::Uuid(None), id);
    let values = vec![id(1), id(group), parent, name.into(), name.to_lowercase().into(), depth.into()];
    t.exec(INSERT_GROUP, values).await.map(|_| ())
}

#[tokio::test]
async fn live_sibling_groups_have_different_names_and_the_tree_stays_three_deep() {
    for t in TestDb::each_engine("live_sibling_groups_have_different_names_and_the_tree_stays_three_deep").await {
        migrate(&t.db).await.expect("migrates");
        insert_group(&t, 1, None, "Acme", 1).await.expect("the root");
        insert_group(&t, 2, Some(1), "Sales", 2).await.expect("a team");
        insert_group(&t, 3, Some(1), "Support", 2).await.expect("another team");

        assert_unique_violation(insert_group(&t, 4, Some(1), "SALES", 2).await, "a sibling named alike");
        insert_group(&t, 4, Some(3), "Sales", 3).await.expect("the same name under another parent");
        assert_unique_violation(insert_group(&t, 5, None, "Acme", 1).await, "a second root");
        assert_refused_by(insert_group(&t, 6, Some(4), "Deep", 4).await, "groups_depth_range", "a fourth level");
        assert_refused_by(
            insert_group(&t, 7, None, "Orphan", 2).await,
            "groups_only_the_root_has_no_parent",
            "a team without a parent",
        );
        assert_fk_violation(insert_group(&t, 8, Some(99), "Lost", 2).await, "a parent that does not exist");

        t.exec("UPDATE groups SET deleted_at = {t} WHERE id = ?", vec![id(2)]).await.expect("deletes Sales");
        insert_group(&t, 9, Some(1), "sales", 2).await.expect("a deleted group frees its name");
        assert_unique_violation(
            t.exec("UPDATE groups SET deleted_at = NULL WHERE id = ?", vec![id(2)]).await,
            "undeleting into a taken name",
        );
        t.finish().await;
    }
}

#[tokio::test]
async fn rows_must_find_their_parent_in_the_same_organization() {
    for t in TestDb::each_engine("rows_must_find_their_parent_in_the_same_organization").await {
        migrate(&t.db).await.expect("migrates");
        insert_user(&t, 1, 10, "ada@example.com").await.expect("a user of organization 1");
        let license = "INSERT INTO licenses (org_id, user_id, product, assigned_at) VALUES (?, ?, 'core', {t})";

        assert_fk_violation(t.exec(license, vec![id(1), id(11)]).await, "a license for an unknown user");
        assert_fk_violation(t.exec(license, vec![id(2), id(10)]).await, "a license for another organization's user");
        t.exec(license, vec![id(1), id(10)]).await.expect("a license for the user, in their organization");

        // Removing the user (a revoked invitee) removes what means nothing without them.
        t.exec("DELETE FROM users WHERE id = ?", vec![id(10)]).await.expect("purges the user");
        assert_eq!(t.count("SELECT COUNT(*) AS n FROM licenses", vec![]).await, 0, "their license went with them");
        t.finish().await;
    }
}

#[tokio::test]
async fn a_password_reset_link_needs_its_member_has_one_row_per_token_and_goes_with_the_member() {
    let name = "a_password_reset_link_needs_its_member_has_one_row_per_token_and_goes_with_the_member";
    for t in TestDb::each_engine(name).await {
        migrate(&t.db).await.expect("migrates");
        insert_user(&t, 1, 10, "ada@example.com").await.expect("a user of organization 1");
        let link = "INSERT INTO password_resets (token_hash, org_id, user_id, created_at, expires_at) \
             VALUES (?, ?, ?, {t}, {t})";

        assert_fk_violation(t.exec(link, vec!["h1".into(), id(1), id(11)]).await, "a link for an unknown user");
        assert_fk_violation(
            t.exec(link, vec!["h1".into(), id(2), id(10)]).await,
            "a link for another organization's user",
        );
        t.exec(link, vec!["h1".into(), id(1), id(10)]).await.expect("a link for the user, in their organization");
        assert_unique_violation(t.exec(link, vec!["h1".into(), id(1), id(10)]).await, "a second row for the token");
        t.exec(link, vec!["h2".into(), id(1), id(10)]).await.expect("a second link of the member");

        t.exec("DELETE FROM users WHERE id = ?", vec![id(10)]).await.expect("purges the user");
        let left = t.count("SELECT COUNT(*) AS n FROM password_resets", vec![]).await;
        assert_eq!(left, 0, "{:?}: their links went with them", t.engine());
        t.finish().await;
    }
}

async fn pragma<T: sea_orm::TryGetable>(t: &TestDb, txn: &DatabaseTransaction, name: &str) -> T {
    let row = txn.query_one_raw(t.statement(&format!("PRAGMA {name}"), vec![])).await.expect("reads").expect("a row");
    row.try_get_by_index::<T>(0).expect("a value of the expected type")
}

#[tokio::test]
async fn every_sqlite_connection_runs_wal_with_a_busy_timeout_foreign_keys_and_normal_sync() {
    let t = TestDb::sqlite().await;
    // Transactions held open at once pin distinct pooled connections.
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(t.db.connection().begin().await.expect("opens a transaction on its own connection"));
    }
    for txn in &open {
        assert_eq!(pragma::<String>(&t, txn, "journal_mode").await, "wal");
        assert_eq!(pragma::<i64>(&t, txn, "foreign_keys").await, 1);
        assert_eq!(pragma::<i64>(&t, txn, "synchronous").await, 1, "1 is NORMAL");
        let timeout = i64::try_from(SQLITE_BUSY_TIMEOUT.as_millis()).expect("small");
        assert_eq!(pragma::<i64>(&t, txn, "busy_timeout").await, timeout);
    }
    drop(open);
    t.finish().await;
}

#[tokio::test]
async fn every_postgres_connection_of_a_test_uses_the_tests_own_schema() {
    let Some(t) = TestDb::postgres("every_postgres_connection_of_a_test_uses_the_tests_own_schema").await else {
        return;
    };
    let schema = t.schema().expect("a PostgreSQL test has a schema").to_owned();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(t.db.connection().begin().await.expect("opens a transaction on its own connection"));
    }
    for txn in &open {
        let row = txn
            .query_one_raw(t.statement("SELECT current_schema() AS s, pg_backend_pid() AS pid", vec![]))
            .await
            .expect("reads the schema")
            .expect("a row");
        assert_eq!(row.try_get::<String>("", "s").expect("a name"), schema);
    }
    drop(open);
    t.finish().await;
}

#[tokio::test]
async fn connecting_explains_what_is_wrong_without_showing_the_password() {
    let unsupported = connect("mysql://roster:hunter2@localhost/roster").await.expect_err("MySQL is not supported");
    assert!(matches!(unsupported, DbSetupError::InvalidUrl { .. }), "{unsupported:?}");
    let message = unsupported.to_string();
    assert!(message.contains("`mysql` is not a supported engine") && !message.contains("hunter2"), "{message}");
    assert!(message.contains("sqlite://") && message.contains("postgres://"), "it says what is expected: {message}");

    let garbage = connect("roster.db").await.expect_err("no scheme");
    assert!(matches!(garbage, DbSetupError::InvalidUrl { .. }), "{garbage:?}");

    let refused = connect("postgres://roster:hunter2@127.0.0.1:1/roster").await.expect_err("nothing listens on port 1");
    let message = chain(&refused);
    assert!(matches!(refused, DbSetupError::PostgresUnavailable { .. }), "{message}");
    assert!(message.contains("127.0.0.1:1/roster") && !message.contains("hunter2"), "{message}");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = format!("sqlite://{}?mode=rw", dir.path().join("absent.db").display());
    let error = connect(&missing).await.expect_err("the file does not exist and may not be created");
    let message = error.to_string();
    assert!(matches!(error, DbSetupError::SqliteUnavailable { .. }), "{message}");
    assert!(message.contains("absent.db") && message.contains("mode=rwc"), "it names the file and the fix: {message}");
}

/// The query plan of `sql` (one line per step).
async fn plan(t: &TestDb, sql: &str, values: Vec<Value>) -> String {
    let txn = t.db.connection().begin().await.expect("begins");
    let explain = match t.engine() {
        // Tiny tables would make a sequential scan cheapest; the question is whether the index
        // can give the page in order, not what the planner prefers on an empty table.
        Engine::Postgres => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.expect("sets");
            format!("EXPLAIN {sql}")
        }
        Engine::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    let rows = txn.query_all_raw(t.statement(&explain, values)).await.expect("explains");
    let column = match t.engine() {
        Engine::Postgres => "QUERY PLAN",
        Engine::Sqlite => "detail",
    };
    rows.iter().map(|r| r.try_get::<String>("", column).expect("a plan line")).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn the_users_page_and_the_visible_connections_branches_are_index_ranges_without_a_sort() {
    for t in
        TestDb::each_engine("the_users_page_and_the_visible_connections_branches_are_index_ranges_without_a_sort").await
    {
        migrate(&t.db).await.expect("migrates");
        // The status sort as the store writes it outside a trial: the index's own expression,
        // bounded alone and in the row value (decision 0035).
        let rank = roster_adapters_db::migrations::USERS_STATUS_RANK;
        let by_status = format!(
            "SELECT id FROM users u WHERE org_id = ? AND deleted_at IS NULL AND {rank} >= ? AND (({rank}), u.id) > (?, ?) \
             ORDER BY {rank} ASC, u.id ASC LIMIT 50"
        );
        let cases: [(&str, &str, Vec<Value>); 6] = [
            ("users_by_status", &by_status, vec![id(1), 3_i64.into(), 3_i64.into(), id(2)]),
            (
                "users_by_products",
                "SELECT id FROM users WHERE org_id = ? AND deleted_at IS NULL AND (products_sort, id) > (?, ?) \
                 ORDER BY products_sort, id LIMIT 50",
                vec![id(1), "core\u{1}".into(), id(2)],
            ),
            (
                "users_by_last_name",
                "SELECT id FROM users WHERE org_id = ? AND deleted_at IS NULL AND (last_name_sort, id) > (?, ?) \
                 ORDER BY last_name_sort, id LIMIT 50",
                vec![id(1), "lovelace".into(), id(2)],
            ),
            (
                "users_email_uq",
                "SELECT id FROM users WHERE org_id = ? AND deleted_at IS NULL AND email >= ? AND email < ? \
                 ORDER BY email LIMIT 50",
                vec![id(1), "ada".into(), "adb".into()],
            ),
            (
                "connection_groups_newest",
                "SELECT connection_id FROM connection_groups WHERE org_id = ? AND group_id = ? \
                 AND (created_at, connection_id) < ({t}, ?) ORDER BY created_at DESC, connection_id DESC LIMIT 50",
                vec![id(1), id(2), id(3)],
            ),
            (
                "connection_cc_newest",
                "SELECT connection_id FROM connection_cc WHERE org_id = ? AND user_id = ? \
                 ORDER BY created_at DESC, connection_id DESC LIMIT 50",
                vec![id(1), id(2)],
            ),
        ];
        for (index, sql, values) in cases {
            let plan = plan(&t, sql, values).await;
            assert!(plan.contains(index), "{:?}: expected {index} in\n{plan}", t.engine());
            let sorts = plan.contains("TEMP B-TREE") || plan.lines().any(|l| l.trim_start().starts_with("Sort"));
            assert!(!sorts, "{:?}: the index gives the order, no sort step expected in\n{plan}", t.engine());
        }
        t.finish().await;
    }
}

/// The migration that stops keeping secrets in clear converts what a database already holds:
/// each connection's token becomes its SHA-256 (the domain's `hash_token`), and a settled
/// message of the outbox loses its token while a pending one keeps it.
#[tokio::test]
async fn the_secrets_migration_hashes_stored_tokens_and_clears_settled_mail() {
    use roster_domain::invites::hash_token;
    use roster_domain::mail::{MailKind, OutgoingMail};
    use roster_domain::ports::Store as _;
    use roster_testkit::contract::seed::{self, T0, uid};

    for t in TestDb::each_engine("the_secrets_migration_hashes_stored_tokens_and_clears_settled_mail").await {
        migrate(&t.db).await.expect("migrates");
        let store = roster_adapters_db::SeaOrmStore::new(t.db.clone());
        let org = seed::org(1, "alpha");
        let user = seed::user(org.id, uid(1, 2), "ada@example.com");
        let connection = seed::connection(org.id, uid(1, 3), user.id, T0, &[]);
        let invitation = |n: u64, token: &str| OutgoingMail {
            kind: MailKind::SignupVerification { token: token.to_owned(), org_name: "Alpha".to_owned() },
            ..seed::mail(org.id, uid(1, n), "ada@example.com", T0)
        };
        let (sent, pending) = (invitation(4, "sent-token"), invitation(5, "pending-token"));
        let mut tx = store.begin().await.expect("begins");
        seed::insert_org_with_root(tx.as_mut(), &org).await;
        tx.insert_user(&user).await.expect("inserts");
        tx.insert_connection(&connection).await.expect("inserts");
        tx.enqueue_mails(&[sent.clone(), pending.clone()]).await.expect("enqueues");
        tx.commit().await.expect("commits");

        // As the previous schema kept them: a token in clear, a sent message with its token.
        // Back to before the secrets migration (and every migration that came after it).
        let known = known_migrations();
        let secrets = known.iter().position(|m| m.ends_with("_secrets_at_rest")).expect("the secrets migration");
        let steps = u32::try_from(known.len() - secrets).expect("a few");
        Migrator::down(t.db.connection(), Some(steps)).await.expect("rolls back to before the secrets migration");
        t.exec("UPDATE connections SET user_token = 'plain-token'", vec![]).await.expect("writes");
        t.exec(
            "UPDATE outbox SET state = 'sent', attempts = 1, next_attempt_at = NULL, settled_at = created_at \
             WHERE id = ?",
            vec![sent.id.as_uuid().into()],
        )
        .await
        .expect("settles");
        migrate(&t.db).await.expect("migrates again");

        let mut tx = store.begin().await.expect("begins");
        let stored = tx.connection(org.id, connection.id).await.expect("reads").expect("kept");
        assert_eq!(stored.user_token_hash, hash_token("plain-token"), "{:?}", t.engine());
        let kept = tx.mail(sent.id).await.expect("reads").expect("kept");
        assert_eq!(kept.mail, OutgoingMail { kind: sent.kind.without_secrets(), ..sent }, "{:?}", t.engine());
        let waiting = tx.mail(pending.id).await.expect("reads").expect("kept");
        assert_eq!(waiting.mail, pending, "{:?}: a pending message keeps its token", t.engine());
        drop(tx);
        t.finish().await;
    }
}

/// `m20261207_000014_invite_groups`: an invite made before the migration was made for no group
/// (`[]`), and reads back so; one made after keeps its groups.
#[tokio::test]
async fn invites_made_before_the_invite_groups_migration_have_no_groups() {
    use std::collections::BTreeSet;

    use roster_domain::ports::Store as _;
    use roster_testkit::contract::seed::{self, uid};

    for t in TestDb::each_engine("invites_made_before_the_invite_groups_migration_have_no_groups").await {
        migrate(&t.db).await.expect("migrates");
        let store = roster_adapters_db::SeaOrmStore::new(t.db.clone());
        let org = seed::org(1, "alpha");
        let user = seed::user(org.id, uid(1, 2), "ada@example.com");
        let old = seed::invite(&user, uid(1, 3), "old-hash", &["core"]);
        let mut tx = store.begin().await.expect("begins");
        seed::insert_org_with_root(tx.as_mut(), &org).await;
        tx.insert_user(&user).await.expect("inserts");
        tx.insert_invite(&old).await.expect("inserts");
        tx.commit().await.expect("commits");

        let known = known_migrations();
        let position = known.iter().position(|m| m.ends_with("_invite_groups")).expect("the invite groups migration");
        let steps = u32::try_from(known.len() - position).expect("a few");
        Migrator::down(t.db.connection(), Some(steps)).await.expect("rolls back to before the invite groups migration");
        migrate(&t.db).await.expect("migrates again");
        let mut tx = store.begin().await.expect("begins");
        assert_eq!(tx.invite(org.id, old.id).await.expect("reads"), Some(old.clone()), "{:?}", t.engine());
        let mut grouped = seed::invite(&user, uid(1, 4), "new-hash", &[]);
        grouped.group_ids = BTreeSet::from([org.root_group_id]);
        tx.insert_invite(&grouped).await.expect("inserts");
        assert_eq!(tx.invite(org.id, grouped.id).await.expect("reads"), Some(grouped), "{:?}", t.engine());
        drop(tx);
        t.finish().await;
    }
}

/// The migration that puts the license facts of the status and products sorts on the user's
/// row fills them from the licenses a database already holds, and its triggers keep them as
/// licenses come and go (decision 0035).
#[tokio::test]
async fn the_license_facts_on_the_users_row_are_filled_in_and_kept_by_the_database() {
    use roster_domain::ports::Store as _;
    use roster_testkit::contract::seed::{self, uid};

    for t in TestDb::each_engine("the_license_facts_on_the_users_row_are_filled_in_and_kept_by_the_database").await {
        migrate(&t.db).await.expect("migrates");
        let store = roster_adapters_db::SeaOrmStore::new(t.db.clone());
        let org = seed::org(1, "alpha");
        let ada = seed::user(org.id, uid(1, 2), "ada@example.com");
        let bob = seed::user(org.id, uid(1, 3), "bob@example.com");
        let mut tx = store.begin().await.expect("begins");
        seed::insert_org_with_root(tx.as_mut(), &org).await;
        tx.insert_user(&ada).await.expect("inserts");
        tx.insert_user(&bob).await.expect("inserts");
        tx.commit().await.expect("commits");
        let facts = |who: &roster_domain::user::User| {
            let sql = "SELECT CASE WHEN holds_core THEN 1 ELSE 0 END AS core, products_sort AS products FROM users \
                       WHERE org_id = ? AND id = ?";
            let values = vec![org.id.as_uuid().into(), who.id.as_uuid().into()];
            let t = &t;
            async move {
                let row = t.query_one(sql, values).await.expect("the user's row");
                (
                    row.try_get::<i32>("", "core").expect("a number"),
                    row.try_get::<String>("", "products").expect("text"),
                )
            }
        };

        // Licenses written before the migration.
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        let position = names.iter().position(|n| n.ends_with("_users_sort_by_licenses")).expect("the migration");
        let since = u32::try_from(names.len() - position).expect("a count");
        Migrator::down(t.db.connection(), Some(since)).await.expect("rolls back to before the migration");
        let mut tx = store.begin().await.expect("begins");
        for product in ["flow", "core"] {
            tx.insert_license(&seed::license(&ada, product)).await.expect("assigns");
        }
        tx.commit().await.expect("commits");
        migrate(&t.db).await.expect("migrates again");
        assert_eq!(facts(&ada).await, (1, "core\u{1}flow\u{1}".to_owned()), "{:?}: filled in", t.engine());
        assert_eq!(facts(&bob).await, (0, String::new()));

        // Then kept by the triggers, whoever writes.
        let mut tx = store.begin().await.expect("begins");
        tx.insert_license(&seed::license(&bob, "dialer")).await.expect("assigns");
        tx.commit().await.expect("commits");
        assert_eq!(facts(&bob).await, (0, "dialer\u{1}".to_owned()), "{:?}: on insert", t.engine());
        t.exec(
            "DELETE FROM licenses WHERE org_id = ? AND user_id = ? AND product = 'core'",
            vec![org.id.as_uuid().into(), ada.id.as_uuid().into()],
        )
        .await
        .expect("deletes");
        assert_eq!(facts(&ada).await, (0, "flow\u{1}".to_owned()), "{:?}: on delete", t.engine());
        t.exec(
            "UPDATE licenses SET user_id = ? WHERE org_id = ? AND user_id = ?",
            vec![ada.id.as_uuid().into(), org.id.as_uuid().into(), bob.id.as_uuid().into()],
        )
        .await
        .expect("moves the license");
        assert_eq!(facts(&ada).await, (0, "dialer\u{1}flow\u{1}".to_owned()), "{:?}: on update", t.engine());
        assert_eq!(facts(&bob).await, (0, String::new()), "{:?}: on update, the old row too", t.engine());
        t.finish().await;
    }
}
