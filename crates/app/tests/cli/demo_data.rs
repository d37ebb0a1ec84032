//! `roster demo-data`: a realistic organization whose data keeps every seat rule.

use roster_domain::audit::Source;
use roster_domain::services::LoginAttempt;
use roster_domain::user::StatusKind;
use roster_domain::users_query::{UserPaging, UserQuery};
use roster_domain::values::{Email, Password, Slug};

use crate::support::databases;

const PASSWORD: &str = "demo password 2026";

#[tokio::test]
async fn demo_data_generates_an_organization_within_its_seats_that_reconciles_clean() {
    for db in databases("cli_demo_data").await {
        let run =
            db.roster_with(&["demo-data", "--users", "500", "--json"], &[("ROSTER_DEMO_PASSWORD", PASSWORD)], None);
        let report = run.json();
        assert_eq!((report["org"].as_str(), report["users"].as_u64()), (Some("demo"), Some(500)), "{}", db.engine);
        assert_eq!(report["generated_password"], serde_json::Value::Null, "a chosen password is not printed");
        let statuses = report["statuses"].as_object().expect("statuses");
        assert_eq!(statuses.values().filter_map(serde_json::Value::as_u64).sum::<u64>(), 500);
        assert_eq!(report["connections"], 500);
        assert!(run.stderr.contains("500 of 500 users"), "progress on standard error: {}", run.stderr);

        let services = db.services().await;
        let (org, operator) = db.org(&services, "demo").await;
        // The statuses the Users table derives are the ones the generator meant.
        for (kind, name) in [
            (StatusKind::Active, "active"),
            (StatusKind::Invited, "invited"),
            (StatusKind::Deactivated, "deactivated"),
            (StatusKind::Inactive, "inactive"),
            (StatusKind::Pending, "pending"),
            (StatusKind::Revoked, "revoked"),
        ] {
            let mut query = UserQuery::new(org.id);
            query.statuses.insert(kind);
            query.paging = Some(UserPaging::Page { page: 1, per_page: 10 });
            let total = services.list_users(&operator, query).await.expect("lists").total;
            assert_eq!(total, statuses[name].as_u64(), "{}: {name}", db.engine);
        }
        // Seats: within every pool, and what the report says.
        let counts = services.license_counts(&operator).await.expect("reads");
        assert!(counts.iter().all(|c| c.seats_used <= c.seats_total && c.seats_available > 0), "{counts:?}");
        assert_eq!(serde_json::to_value(&counts).expect("json"), report["seats"]);
        assert!(counts.iter().find(|c| c.product.as_str() == "core").expect("core").seats_used > 250);
        // Three levels of groups.
        let groups = services.list_groups(&operator).await.expect("lists");
        assert_eq!(
            groups.len() as u64,
            1 + report["regions"].as_u64().expect("n") + report["teams"].as_u64().expect("n")
        );
        assert_eq!(groups.iter().map(|g| g.depth).max(), Some(3));
        // Every assignment is one an entitled user holds, and every counter matches its rows.
        let reconciled = db.roster(&["reconcile", "--dry-run", "--json"]).json();
        assert_eq!(
            (reconciled["licenses"].as_u64(), reconciled["seat_counters"].as_u64()),
            (Some(0), Some(0)),
            "{reconciled}"
        );

        // The demo accounts log in, and see connections through the visibility rules.
        let password = Password::parse(PASSWORD).expect("valid");
        let slug = Slug::parse("demo").expect("a slug");
        for email in ["admin@demo.example", "operations@demo.example", "analyst@demo.example"] {
            let attempt = LoginAttempt {
                org: slug.clone(),
                email: Email::parse(email).expect("an email"),
                password: password.clone(),
                address: "192.0.2.1".to_owned(),
                source: Source::Api,
            };
            let user = services.log_in(&attempt).await.map(|logged_in| logged_in.user);
            let user = user.unwrap_or_else(|e| panic!("{}: {email} logs in: {e}", db.engine));
            let actor = services.resolve_actor(org.id, user.id, Source::Api, None).await.expect("resolves");
            let visible = services.list_connections(&actor, None, None, 200).await.expect("lists");
            assert!(!visible.is_empty(), "{email} sees connections");
        }

        // The same seed in another organization: other ids, no clash; an existing slug refused.
        let other = db.roster_with(
            &["demo-data", "--users", "20", "--org", "other", "--connections", "5"],
            &[("ROSTER_DEMO_PASSWORD", PASSWORD)],
            None,
        );
        let text = other.ok();
        assert!(text.starts_with("Generated organization `other`"), "{text}");
        assert!(text.contains("operations@other.example (operations)"), "{text}");
        db.roster(&["demo-data", "--users", "20"]).fails(1, &["`demo` already exists"]);
        db.finish().await;
    }
}
