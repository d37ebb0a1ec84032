//! `roster org create|list`, `roster seats set`, `roster admin create`.

use reqwest::StatusCode;
use roster_domain::audit::AuditQuery;
use roster_domain::values::Key;
use serde_json::json;

use crate::support::{TestDb, databases};

/// Starts `roster serve`'s application on `db`, logs in over HTTP, stops it; the status.
async fn login_over_http(db: &TestDb, org: &str, email: &str, password: &str) -> StatusCode {
    let serving = db.serve().await;
    let (status, _) = serving.login(org, email, password).await;
    serving.stop().await;
    status
}

#[tokio::test]
async fn an_operator_creates_an_organization_and_its_admin_who_can_then_log_in_to_roster_serve() {
    for db in databases("org_admin_login").await {
        let out = db.roster(&["org", "create", "acme", "--name", "Acme Corp", "--seats", "7"]);
        assert!(
            out.ok().contains("Created organization `acme` (Acme Corp) with 7 seats per product."),
            "{}",
            out.stdout
        );

        let list = db.roster(&["org", "list", "--json"]).json();
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{}: {list}", db.engine);
        assert_eq!((items[0]["slug"].as_str(), items[0]["name"].as_str()), (Some("acme"), Some("Acme Corp")));
        assert_eq!(items[0]["billable_users"], 0);
        assert!(items[0]["seats"].as_array().expect("seats").iter().all(|s| s["seats_total"] == 7));
        let text = db.roster(&["org", "list"]);
        assert!(text.ok().starts_with("acme\tAcme Corp\tno trial\t0 billable users"), "{}", text.stdout);

        // A password from the environment…
        let pw = "correct horse battery staple";
        let out = db.roster_with(
            &["admin", "create", "--org", "acme", "--email", "Ada@Acme.Test"],
            &[("ROSTER_ADMIN_PASSWORD", pw)],
            None,
        );
        assert!(out.ok().contains("Created admin ada@acme.test in `acme`"), "{}", out.stdout);
        assert!(!out.stdout.contains(pw) && !out.stdout.contains("One-time"), "a chosen password is not printed");
        // …from standard input…
        let out = db.roster_with(
            &["admin", "create", "--org", "acme", "--email", "bo@acme.test", "--password-stdin", "--json"],
            &[],
            Some("another long passphrase\n"),
        );
        assert_eq!(out.json()["generated_password"], serde_json::Value::Null);
        // …or generated and printed once.
        let generated = db.roster(&["admin", "create", "--org", "acme", "--email", "cy@acme.test", "--json"]).json();
        let one_time = generated["generated_password"].as_str().expect("printed once").to_owned();
        assert!(one_time.len() >= 12);

        assert_eq!(login_over_http(&db, "acme", "ada@acme.test", pw).await, StatusCode::OK, "{}", db.engine);
        assert_eq!(login_over_http(&db, "acme", "bo@acme.test", "another long passphrase").await, StatusCode::OK);
        assert_eq!(login_over_http(&db, "acme", "cy@acme.test", &one_time).await, StatusCode::OK);
        assert_eq!(login_over_http(&db, "acme", "cy@acme.test", "not the password").await, StatusCode::UNAUTHORIZED);

        // Written through the use cases: audited with the `cli` source.
        let services = db.services().await;
        let (_, operator) = db.org(&services, "acme").await;
        let events = services.audit_log(&operator, &AuditQuery::default()).await.expect("reads");
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert!(actions.contains(&"organization.created") && actions.contains(&"user.password_set"), "{actions:?}");
        let operator_made = ["organization.created", "user.created", "user.password_set"];
        let made: Vec<_> = events.iter().filter(|e| operator_made.contains(&e.action.as_str())).collect();
        assert_eq!(made.len(), 1 + 3 + 3, "{actions:?}");
        assert!(made.iter().all(|e| e.source == roster_domain::audit::Source::Cli && e.actor_id.is_none()));
        db.finish().await;
    }
}

#[tokio::test]
async fn seats_set_changes_the_total_and_refuses_to_go_below_the_seats_in_use() {
    for db in databases("seats_set").await {
        db.roster(&["org", "create", "acme"]).ok();
        db.roster_with(
            &["admin", "create", "--org", "acme", "--email", "ada@acme.test"],
            &[("ROSTER_ADMIN_PASSWORD", "correct horse battery")],
            None,
        )
        .ok();
        let set = db.roster(&["seats", "set", "--org", "acme", "core", "10", "--json"]).json();
        assert_eq!(
            set,
            json!({"org": "acme", "product": "core", "seats_total": 10, "seats_used": 0, "seats_available": 10})
        );
        let text = db.roster(&["seats", "set", "--org", "acme", "dialer", "0"]);
        assert_eq!(text.ok(), "acme: dialer now has 0 seats (0 used, 0 available).\n");

        // One seat in use: the admin holds Core.
        let services = db.services().await;
        let (_, operator) = db.org(&services, "acme").await;
        let users = services
            .list_users(&operator, roster_domain::users_query::UserQuery::new(operator.org_id()))
            .await
            .expect("lists");
        let admin = users.items[0].user.id;
        services.set_licenses(&operator, admin, [Key::parse("core").expect("a key")].into()).await.expect("assigns");
        let refused = db.roster(&["seats", "set", "--org", "acme", "core", "0"]);
        refused.fails(1, &["setting the seats of `core` in `acme`", "no free seat for core: 1 of 10 used"]);
        assert!(refused.stdout.is_empty(), "nothing on standard output on failure: {}", refused.stdout);
        assert_eq!(services.license_counts(&operator).await.expect("reads")[0].seats_total, 10, "unchanged");
        let ok = db.roster(&["seats", "set", "--org", "acme", "core", "1", "--json"]).json();
        assert_eq!(
            (ok["seats_total"].as_u64(), ok["seats_available"].as_u64()),
            (Some(1), Some(0)),
            "down to the seats in use"
        );
        let events = services.audit_log(&operator, &roster_domain::audit::AuditQuery::default()).await.expect("reads");
        assert_eq!(events.iter().filter(|e| e.action == "seats.set").count(), 3, "each change audited");
        db.finish().await;
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_a_message_naming_the_flag_and_a_non_zero_exit() {
    for db in databases("cli_bad_input").await {
        // Refused while parsing (exit 2), before the database is touched.
        db.roster(&["org", "create", "Not A Slug!"]).fails(2, &["<SLUG>"]);
        db.roster(&["org", "create", "-x-"]).fails(2, &["<SLUG>"]);
        db.roster(&["seats", "set", "--org", "acme", "core", "-3"]).fails(2, &["<SEATS>", "not a seat count"]);
        db.roster(&["seats", "set", "--org", "acme", "core", "many"]).fails(2, &["<SEATS>"]);
        db.roster(&["seats", "set", "--org", "Acme Corp", "core", "3"]).fails(2, &["--org"]);
        db.roster(&["admin", "create", "--org", "acme", "--email", "not-an-email"]).fails(2, &["--email"]);
        db.roster(&["admin", "create", "--org", "acme", "--email", "a@acme.test", "--password", "short"])
            .fails(2, &["--password", "12"]);
        db.roster_with(
            &["admin", "create", "--org", "acme", "--email", "a@acme.test"],
            &[("ROSTER_ADMIN_PASSWORD", "short")],
            None,
        )
        .fails(2, &["--password"]);
        db.roster(&["demo-data", "--users", "5"]).fails(2, &["--users"]);
        db.roster(&["demo-data", "--users", "-5"]).fails(2, &["--users"]);
        db.roster_with(&["org", "list"], &[("ROSTER_DATABASE_URL", "mysql://db.example/roster")], None)
            .fails(1, &["opening the database"]);

        // Refused by the use cases (exit 1), naming what was wrong.
        db.roster(&["org", "create", "acme"]).ok();
        db.roster(&["org", "create", "acme"]).fails(1, &["creating organization `acme`", "slug", "already taken"]);
        db.roster(&["seats", "set", "--org", "nope", "core", "3"]).fails(1, &["organization `nope`", "not found"]);
        db.roster(&["seats", "set", "--org", "acme", "voip", "3"]).fails(1, &["voip"]);
        db.roster(&["admin", "create", "--org", "nope", "--email", "a@acme.test"]).fails(1, &["organization `nope`"]);
        db.roster_with(
            &["admin", "create", "--org", "acme", "--email", "a@acme.test", "--password-stdin"],
            &[],
            Some("short\n"),
        )
        .fails(1, &["--password-stdin", "12"]);
        db.roster(&["admin", "create", "--org", "acme", "--email", "a@acme.test"]).ok();
        db.roster(&["admin", "create", "--org", "acme", "--email", "A@acme.test"]).fails(1, &["email"]);
        db.roster(&["reconcile", "--org", "nope"]).fails(1, &["organization `nope`"]);
        db.roster(&["demo-data", "--users", "10", "--org", "acme"]).fails(1, &["`acme` already exists"]);

        let list = db.roster(&["org", "list", "--json"]).json();
        assert_eq!(list["items"].as_array().expect("items").len(), 1, "{}: nothing else was created", db.engine);
        db.finish().await;
    }
}
