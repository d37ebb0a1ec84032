//! `roster products add --org <slug> <key> --name <name> [--requires <key>…] [--seats n]`
//! (SPEC §4.1): the operator adds products with their own prerequisites; the prerequisites stay a
//! DAG.

use roster_domain::ErrorCode;
use roster_domain::audit::{AuditQuery, Source};
use roster_domain::services::{NewUser, SettingsPatch};
use roster_domain::values::{Email, Key, Nicknames, PersonName};
use serde_json::json;

use crate::support::databases;

fn key(k: &str) -> Key {
    Key::parse(k).expect("a key")
}

#[tokio::test]
async fn an_operator_adds_a_product_with_its_prerequisites_and_seats() {
    for db in databases("products_add").await {
        db.roster(&["org", "create", "acme", "--seats", "4"]).ok();
        let added = db
            .roster(&[
                "products",
                "add",
                "--org",
                "acme",
                "voicemail",
                "--name",
                "Voicemail",
                "--requires",
                "dialer",
                "--seats",
                "7",
                "--json",
            ])
            .json();
        assert_eq!(
            added,
            json!({"org": "acme", "key": "voicemail", "name": "Voicemail", "requires": ["dialer"], "seats_total": 7}),
            "{}",
            db.engine
        );
        // Several prerequisites, by repeating the flag or with commas; the seats default to the
        // organization's.
        let text = db.roster(&[
            "products",
            "add",
            "--org",
            "acme",
            "fax",
            "--name",
            "Fax Line",
            "--requires",
            "core,flow",
            "--requires",
            "sms",
        ]);
        assert_eq!(text.ok(), "acme: added product fax (Fax Line), requiring core, flow, sms, with 4 seats.\n");

        let services = db.services().await;
        let (_, operator) = db.org(&services, "acme").await;
        let pools = services.license_counts(&operator).await.expect("reads");
        let seats = |p: &str| pools.iter().find(|c| c.product.as_str() == p).map(|c| (c.seats_total, c.seats_used));
        assert_eq!((seats("voicemail"), seats("fax")), (Some((7, 0)), Some((4, 0))), "{}", db.engine);

        // The prerequisites hold: Voicemail needs Dialer, and Dialer needs Core.
        let new = NewUser {
            email: Email::parse("bo@acme.test").expect("an email"),
            first_name: PersonName::parse("Bo").expect("a name"),
            last_name: PersonName::parse("Diddley").expect("a name"),
            phone: None,
            nicknames: Nicknames::empty(),
            agent_id: None,
            crm_id: None,
            agent_ring_number: None,
            dialer_number: None,
            settings: SettingsPatch::default(),
            roles: Vec::new(),
            group_ids: Vec::new(),
            products: Default::default(),
            password: None,
        };
        let bo = services.create_user(&operator, new).await.expect("creates").user.id;
        let refused = services.set_licenses(&operator, bo, [key("core"), key("voicemail")].into()).await;
        assert_eq!(refused.expect_err("refused").code(), ErrorCode::MissingPrerequisite, "{}", db.engine);
        let change = services
            .set_licenses(&operator, bo, [key("core"), key("dialer"), key("voicemail")].into())
            .await
            .expect("assigns");
        assert!(change.assigned.contains(&key("voicemail")));

        let events = services.audit_log(&operator, &AuditQuery::default()).await.expect("reads");
        let added: Vec<_> = events.iter().filter(|e| e.action == "catalog.product_added").collect();
        assert_eq!(added.len(), 2, "{}", db.engine);
        assert!(added.iter().all(|e| e.source == Source::Cli && e.actor_id.is_none()));
        assert_eq!(added[1].details["requires"], json!(["dialer"]));
        assert_eq!(added[1].details["seats_total"], 7);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_duplicate_key_an_unknown_prerequisite_or_a_cycle_is_refused_and_nothing_changes() {
    for db in databases("products_refused").await {
        db.roster(&["org", "create", "acme"]).ok();
        db.roster(&["products", "add", "--org", "acme", "core", "--name", "Core Again"])
            .fails(1, &["adding product `core` to `acme`", "already has a product core"]);
        db.roster(&["products", "add", "--org", "acme", "telex", "--name", "Telex", "--requires", "core,fax"])
            .fails(1, &["adding product `telex`", "requires: no product fax in the catalog"]);
        db.roster(&["products", "add", "--org", "acme", "loop", "--name", "Loop", "--requires", "loop"])
            .fails(1, &["adding product `loop`", "requires: the prerequisites of loop would lead back to it"]);
        db.roster(&["products", "add", "--org", "nope", "fax", "--name", "Fax"]).fails(1, &["organization `nope`"]);
        // Refused while parsing, before the database is touched.
        db.roster(&["products", "add", "--org", "acme", "Fax!", "--name", "Fax"]).fails(2, &["<KEY>"]);
        db.roster(&["products", "add", "--org", "acme", "fax"]).fails(2, &["--name"]);
        db.roster(&["products", "add", "--org", "acme", "fax", "--name", "Fax", "--requires", "Core"])
            .fails(2, &["--requires"]);
        db.roster(&["products", "add", "--org", "acme", "fax", "--name", "Fax", "--seats", "-2"])
            .fails(2, &["--seats", "not a seat count"]);

        let services = db.services().await;
        let (_, operator) = db.org(&services, "acme").await;
        let pools = services.license_counts(&operator).await.expect("reads");
        let products: Vec<&str> = pools.iter().map(|c| c.product.as_str()).collect();
        assert_eq!(products, ["core", "dialer", "flow", "sms"], "{}: the default catalog only", db.engine);
        let events = services.audit_log(&operator, &AuditQuery::default()).await.expect("reads");
        assert!(events.iter().all(|e| e.action != "catalog.product_added"), "{}", db.engine);
        db.finish().await;
    }
}
