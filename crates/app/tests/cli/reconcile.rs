//! `roster reconcile`: licenses held by users who should hold none, and seat counters that
//! disagree with their rows (§4.5), reported with `--dry-run` and repaired otherwise.

use std::collections::BTreeSet;

use roster_domain::org::SettingsChange;
use roster_domain::ports::Store as _;
use roster_domain::services::{NewUser, SettingsPatch};
use roster_domain::user::InactiveReason;
use roster_domain::values::{Email, Key, Nicknames, PersonName};

use crate::support::databases;

fn key(k: &str) -> Key {
    Key::parse(k).expect("a key")
}

#[tokio::test]
async fn reconcile_reports_with_dry_run_and_repairs_otherwise() {
    for db in databases("cli_reconcile").await {
        db.roster(&["org", "create", "acme"]).ok();
        db.roster(&["org", "create", "empty"]).ok();
        let services = db.services().await;
        let (org, operator) = db.org(&services, "acme").await;

        // Ann holds Core and goes inactive while the organization keeps inactive users' seats;
        // then it stops keeping them: her license is now one she should not hold.
        let keep = SettingsChange { release_seats_when_inactive: Some(false), ..SettingsChange::default() };
        services.update_settings(&operator, keep).await.expect("changes");
        let new = NewUser {
            email: Email::parse("ann@acme.test").expect("an email"),
            first_name: PersonName::parse("Ann").expect("a name"),
            last_name: PersonName::parse("Held").expect("a name"),
            phone: None,
            nicknames: Nicknames::empty(),
            agent_id: None,
            crm_id: None,
            agent_ring_number: None,
            dialer_number: None,
            settings: SettingsPatch::default(),
            roles: vec![key("standard")],
            group_ids: Vec::new(),
            products: BTreeSet::from([key("core")]),
            password: None,
        };
        let ann = services.create_user(&operator, new).await.expect("creates").user.id;
        services.set_inactive_reason(&operator, ann, InactiveReason::AccountFailure, true).await.expect("marks");
        let release = SettingsChange { release_seats_when_inactive: Some(true), ..SettingsChange::default() };
        services.update_settings(&operator, release).await.expect("changes");
        // And the Dialer counter drifts behind the use cases' back.
        let store = roster_adapters_db::SeaOrmStore::new(roster_adapters_db::connect(&db.url).await.expect("connects"));
        let mut tx = store.begin().await.expect("begins");
        tx.take_seats(org.id, &key("dialer"), 2).await.expect("takes");
        tx.commit().await.expect("commits");

        let dry = db.roster(&["reconcile", "--dry-run", "--json"]).json();
        assert_eq!(
            (dry["dry_run"].as_bool(), dry["licenses"].as_u64(), dry["seat_counters"].as_u64()),
            (Some(true), Some(1), Some(1)),
            "{}: {dry}",
            db.engine
        );
        let orgs = dry["organizations"].as_array().expect("organizations");
        assert_eq!(orgs.len(), 2, "every organization");
        let acme = orgs.iter().find(|o| o["org"] == "acme").expect("acme");
        assert_eq!(acme["licenses"][0]["user_id"], ann.to_string());
        assert_eq!(
            (acme["licenses"][0]["reason"].as_str(), acme["licenses"][0]["repaired"].as_bool()),
            (Some("inactive"), Some(false))
        );
        assert_eq!(acme["seats"][0]["product"], "dialer");
        assert_eq!((acme["seats"][0]["seats_used"].as_u64(), acme["seats"][0]["counted"].as_u64()), (Some(2), Some(0)));
        let counts = services.license_counts(&operator).await.expect("reads");
        let used = |p: &str| counts.iter().find(|c| c.product.as_str() == p).map(|c| c.seats_used);
        assert_eq!((used("core"), used("dialer")), (Some(1), Some(2)), "a dry run changes nothing");

        let text = db.roster(&["reconcile", "--org", "acme"]);
        let out = text.ok();
        assert!(out.contains(&format!("license core released: user {ann} is inactive")), "{out}");
        assert!(
            out.contains("seats of dialer: counter 2 but assignments and reservations hold 0: set to the count"),
            "{out}"
        );
        assert!(out.ends_with("1 license(s) and 1 seat counter(s) repaired.\n"), "{out}");
        let counts = services.license_counts(&operator).await.expect("reads");
        let used = |p: &str| counts.iter().find(|c| c.product.as_str() == p).map(|c| c.seats_used);
        assert_eq!((used("core"), used("dialer")), (Some(0), Some(0)));

        let clean = db.roster(&["reconcile"]);
        assert_eq!(clean.ok(), "acme: clean\nempty: clean\n0 license(s) and 0 seat counter(s) repaired.\n");
        db.finish().await;
    }
}
