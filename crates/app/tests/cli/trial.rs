//! `roster org create --trial-days N` and `roster trial set --org <slug> (--until <date> |
//! --none)` (SPEC §2, §4.4): while the trial runs every member who is not deactivated is entitled
//! to every product.

use roster_domain::audit::{AuditQuery, Source};
use roster_domain::ports::Clock as _;
use roster_domain::user::StatusKind;
use roster_domain::users_query::UserQuery;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::support::{TestDb, databases};

fn time_of(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

/// The derived status of the organization's only member (its admin, who holds no license).
async fn admin_status(db: &TestDb, slug: &str) -> StatusKind {
    let services = db.services().await;
    let (_, operator) = db.org(&services, slug).await;
    let users = services.list_users(&operator, UserQuery::new(operator.org_id())).await.expect("lists");
    users.items[0].status.kind()
}

fn make_admin(db: &TestDb, slug: &str) {
    db.roster_with(
        &["admin", "create", "--org", slug, "--email", &format!("ada@{slug}.test")],
        &[("ROSTER_ADMIN_PASSWORD", "correct horse battery")],
        None,
    )
    .ok();
}

#[tokio::test]
async fn an_organization_created_with_trial_days_is_in_trial_until_then() {
    for db in databases("org_create_trial").await {
        let before = roster_app::system::SystemClock.now();
        let created = db.roster(&["org", "create", "acme", "--trial-days", "14", "--json"]).json();
        let after = roster_app::system::SystemClock.now();
        let ends = time_of(&created["trial_ends_at"]);
        assert!(before + Duration::days(14) <= ends && ends <= after + Duration::days(14), "{}: {created}", db.engine);
        let services = db.services().await;
        let (org, operator) = db.org(&services, "acme").await;
        assert_eq!(org.trial_ends_at, Some(ends), "{}: stored as printed", db.engine);
        let billing = services.billing(&operator).await.expect("reads");
        assert!(billing.in_trial, "{}", db.engine);
        // In the trial a member without a license is entitled to every product: pending, not
        // inactive for want of a license.
        make_admin(&db, "acme");
        assert_eq!(admin_status(&db, "acme").await, StatusKind::Pending, "{}", db.engine);

        let text = db.roster(&["org", "create", "beta", "--trial-days", "30"]);
        assert!(text.ok().contains("with 3 seats per product, in trial until "), "{}", text.stdout);
        let plain = db.roster(&["org", "create", "gamma", "--json"]).json();
        assert_eq!(plain["trial_ends_at"], Value::Null, "{}: no trial unless asked", db.engine);

        db.roster(&["org", "create", "delta", "--trial-days", "0"]).fails(2, &["--trial-days"]);
        db.roster(&["org", "create", "delta", "--trial-days", "3651"]).fails(2, &["--trial-days"]);
        db.roster(&["org", "create", "delta", "--trial-days", "soon"]).fails(2, &["--trial-days"]);
        let list = db.roster(&["org", "list", "--json"]).json();
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 3, "{}: delta was not created", db.engine);
        let acme = items.iter().find(|o| o["slug"] == "acme").expect("acme is listed");
        assert_eq!(time_of(&acme["trial_ends_at"]), ends, "{}: the list shows the trial's end", db.engine);
        let gamma = items.iter().find(|o| o["slug"] == "gamma").expect("gamma is listed");
        assert_eq!(gamma["trial_ends_at"], Value::Null, "{}", db.engine);
        let text = db.roster(&["org", "list"]);
        let line = |slug: &str| text.stdout.lines().find(|l| l.starts_with(slug)).unwrap_or_default().to_owned();
        assert!(line("acme\t").contains("\ttrial until "), "{}: {}", db.engine, text.stdout);
        assert!(line("gamma\t").contains("\tno trial\t"), "{}: {}", db.engine, text.stdout);
        db.finish().await;
    }
}

#[tokio::test]
async fn trial_set_moves_the_end_of_the_trial_and_none_ends_it() {
    for db in databases("trial_set").await {
        db.roster(&["org", "create", "acme"]).ok();
        make_admin(&db, "acme");
        assert_eq!(admin_status(&db, "acme").await, StatusKind::Inactive, "{}: no trial, no license", db.engine);

        // A date: the trial ends as that day begins (UTC).
        let set = db.roster(&["trial", "set", "--org", "acme", "--until", "2099-01-31", "--json"]).json();
        assert_eq!(
            (set["org"].as_str(), set["trial_ends_at"].as_str(), set["in_trial"].as_bool()),
            (Some("acme"), Some("2099-01-31T00:00:00Z"), Some(true)),
            "{}",
            db.engine
        );
        assert_eq!(admin_status(&db, "acme").await, StatusKind::Pending, "{}: entitled in the trial", db.engine);
        // A date-time with an offset.
        let text = db.roster(&["trial", "set", "--org", "acme", "--until", "2099-06-30T17:30:00+02:00"]);
        assert_eq!(
            text.ok(),
            "acme: in trial until 2099-06-30T15:30:00Z (every member is entitled to every product until then).\n"
        );
        let services = db.services().await;
        let (org, operator) = db.org(&services, "acme").await;
        assert_eq!(org.trial_ends_at, Some(time::macros::datetime!(2099-06-30 15:30 UTC)), "{}", db.engine);

        // Refused: a time not in the future, an unknown organization; nothing changes.
        db.roster(&["trial", "set", "--org", "acme", "--until", "2001-01-01"])
            .fails(1, &["setting the trial of `acme`", "trial_ends_at: must be in the future"]);
        db.roster(&["trial", "set", "--org", "nope", "--until", "2099-01-01"]).fails(1, &["organization `nope`"]);
        // Refused while parsing: neither or both of the two, a date that is none.
        db.roster(&["trial", "set", "--org", "acme"]).fails(2, &["--until"]);
        db.roster(&["trial", "set", "--org", "acme", "--until", "2099-01-31", "--none"]).fails(2, &["--none"]);
        db.roster(&["trial", "set", "--org", "acme", "--until", "31/01/2099"]).fails(2, &["--until", "RFC 3339"]);
        let (org, _) = db.org(&services, "acme").await;
        assert_eq!(org.trial_ends_at, Some(time::macros::datetime!(2099-06-30 15:30 UTC)), "{}: unchanged", db.engine);

        // `--none` ends it: the member is inactive again for want of a license.
        let ended = db.roster(&["trial", "set", "--org", "acme", "--none", "--json"]).json();
        assert_eq!((ended["trial_ends_at"].clone(), ended["in_trial"].as_bool()), (Value::Null, Some(false)));
        assert_eq!(db.roster(&["trial", "set", "--org", "acme", "--none"]).ok(), "acme: no trial.\n");
        assert!(!services.billing(&operator).await.expect("reads").in_trial);
        assert_eq!(admin_status(&db, "acme").await, StatusKind::Inactive, "{}", db.engine);

        // Each change audited with the `cli` source and the before and after; none twice.
        let events = services.audit_log(&operator, &AuditQuery::default()).await.expect("reads");
        let trial: Vec<_> = events.iter().filter(|e| e.action == "organization.trial_set").collect();
        assert_eq!(trial.len(), 3, "{}: {:?}", db.engine, trial);
        assert!(trial.iter().all(|e| e.source == Source::Cli && e.actor_id.is_none()));
        assert_eq!(trial[0].details["trial_ends_at"]["after"], Value::Null, "newest first");
        db.finish().await;
    }
}
