//! The CRM routes over HTTP (SPEC §8.3, §10) on the CSV directory the README's demo uses
//! (`examples/crm-users.csv`): search, import with per-id outcomes and welcome emails, no
//! duplicates on a second import, sync of the `active` flag; 503 without a directory, 502 when
//! it fails; bad input, permissions, tenancy and `Idempotency-Key`.

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use roster_adapters_crm::CrmChoice;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, apps, apps_with, assert_problem};
use crate::tenants::{member, other_org};

const ADA: &str = "005Hn00000B7k1aIAB";
const GRACE: &str = "005Hn00000B7k1bIAB";
const ALAN: &str = "005Hn00000B7k1cIAB";
const KATHERINE: &str = "005Hn00000B7k1dIAB";
const LINUS: &str = "005Hn00000B7k1eIAB";
const MARGARET: &str = "005Hn00000B7k1fIAB";
const UNKNOWN: &str = "005Hn00000ZZZZZIAB";

/// A copy of the README's sample file in a folder of its own (a test may break it).
pub(crate) fn sample_csv() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("crm-users.csv");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/crm-users.csv");
    std::fs::copy(&sample, &path).expect("copies examples/crm-users.csv");
    (dir, path)
}

fn with_csv(path: &Path) -> Options {
    Options { crm: CrmChoice::Csv(path.to_owned()), ..Options::default() }
}

async fn import(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/api/v1/crm/import", token).json(body).send().await.unwrap()
}

/// `(crm_id, status)` per result.
fn outcomes(body: &Value) -> Vec<(String, String)> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["crm_id"].as_str().unwrap().to_owned(), r["status"].as_str().unwrap().to_owned()))
        .collect()
}

fn expected(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[tokio::test]
async fn searching_the_csv_directory_finds_users_by_name_or_address_page_by_page() {
    let (_dir, csv) = sample_csv();
    for app in apps_with("crm_search", &with_csv(&csv)).await {
        let token = app.login().await;
        let page = app.get_ok("/api/v1/crm/users?q=hop", &token).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{}", app.engine);
        let grace = &page["items"][0];
        assert_eq!(
            (grace["crm_id"].as_str(), grace["email"].as_str(), grace["title"].as_str(), grace["active"].as_bool()),
            (Some(GRACE), Some("grace.hopper@example.com"), Some("Director, Sales"), Some(true))
        );
        assert_eq!(grace["phone"], "+14155550101");
        assert_eq!((page["page"].as_u64(), &page["next_page"]), (Some(1), &Value::Null));
        let all = app.get_ok("/api/v1/crm/users?q=EXAMPLE.COM", &token).await;
        assert_eq!(all["items"].as_array().unwrap().len(), 6);
        assert_eq!(app.get_ok("/api/v1/crm/users", &token).await["items"].as_array().unwrap().len(), 6);
        let beyond = app.get_ok("/api/v1/crm/users?page=2", &token).await;
        assert!(beyond["items"].as_array().unwrap().is_empty());
        for query in ["page=0", "page=x", "limit=10"] {
            let r = app.authed(Method::GET, &format!("/api/v1/crm/users?{query}"), &token).send().await.unwrap();
            assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn importing_reports_each_id_emails_the_created_and_a_second_import_duplicates_nothing() {
    let (_dir, csv) = sample_csv();
    for app in apps_with("crm_import", &with_csv(&csv)).await {
        let token = app.login().await;
        // Already members: Katherine by address, Alan by CRM id (under another address).
        app.create_user(&token, "katherine.johnson@example.com").await;
        let r = app
            .authed(Method::POST, "/api/v1/users", &token)
            .json(&json!({"email": "alan@demo.example", "first_name": "Alan", "last_name": "Turing", "crm_id": ALAN}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let users = app.user_count(&token).await;
        let ids = [ADA, GRACE, ALAN, KATHERINE, LINUS, MARGARET, UNKNOWN, ADA];
        let body = json!({"crm_ids": ids, "products": ["core"], "roles": ["standard"], "send_welcome_email": true});

        let r = import(&app, &token, &body).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let first: Value = r.json().await.unwrap();
        assert_eq!(
            outcomes(&first),
            expected(&[
                (ADA, "created"),
                (GRACE, "created"),
                (ALAN, "already_member"),
                (KATHERINE, "already_member"),
                (LINUS, "created"),
                (MARGARET, "seat_refused"),
                (UNKNOWN, "not_found"),
            ]),
            "{}: three Core seats; a repeated id is reported once",
            app.engine
        );
        assert!(first["results"][5]["message"].as_str().unwrap().contains("core"), "{first}");
        assert_eq!(app.user_count(&token).await, users + 3);
        let mail = app.mail().await;
        let to: Vec<&str> = mail.iter().map(|m| m.to.as_str()).collect();
        assert_eq!(to, ["ada.lovelace@example.com", "grace.hopper@example.com", "linus.oneil@example.com"]);

        // Imported users are invited members with their CRM id, in the Users table.
        let ada_id = first["results"][0]["user_id"].as_str().unwrap().to_owned();
        let found = app.get_ok(&format!("/api/v1/users?q={ADA}&limit=10"), &token).await;
        assert_eq!(found["items"][0]["id"], ada_id.as_str(), "{}", app.engine);
        let ada = app.get_ok(&format!("/api/v1/users/{ada_id}"), &token).await;
        assert_eq!((ada["status"].as_str(), ada["crm_id"].as_str()), (Some("invited"), Some(ADA)));
        assert_eq!(ada["phone"], "+442079460958");
        let audit = app.get_ok("/api/v1/audit?action=invite.created&limit=200", &token).await;
        let items = audit["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{}", app.engine);
        assert!(items.iter().all(|e| e["source"] == "import"), "{audit}");

        // The second import finds everyone already there: no user, seat or email more.
        let r = import(&app, &token, &body).await;
        let second: Value = r.json().await.unwrap();
        assert_eq!(
            outcomes(&second),
            expected(&[
                (ADA, "already_member"),
                (GRACE, "already_member"),
                (ALAN, "already_member"),
                (KATHERINE, "already_member"),
                (LINUS, "already_member"),
                (MARGARET, "seat_refused"),
                (UNKNOWN, "not_found"),
            ]),
            "{}",
            app.engine
        );
        assert_eq!(second["results"][0]["user_id"], ada_id.as_str());
        assert_eq!(app.user_count(&token).await, users + 3);
        assert_eq!(app.mail().await.len(), 3, "{}: no second email", app.engine);

        // The welcome email's link activates the account with its license.
        let link = app.mail().await[0].token("/accept-invite");
        let r = app
            .request(Method::POST, "/api/v1/invites/accept")
            .json(&json!({"token": link, "password": "a long enough password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let ada = app.get_ok(&format!("/api/v1/users/{ada_id}"), &token).await;
        assert_eq!((ada["status"].as_str(), &ada["products"]), (Some("pending"), &json!(["core"])), "{}", app.engine);

        // A dry run reports and writes nothing.
        let r = import(&app, &token, &json!({"crm_ids": [MARGARET], "dry_run": true})).await;
        let dry: Value = r.json().await.unwrap();
        assert_eq!((outcomes(&dry), &dry["applied"]), (expected(&[(MARGARET, "created")]), &json!(false)));
        assert_eq!(app.user_count(&token).await, users + 3);
        app.finish().await;
    }
}

#[tokio::test]
async fn syncing_marks_members_inactive_in_the_crm_from_its_active_flag() {
    let (_dir, csv) = sample_csv();
    for app in apps_with("crm_sync", &with_csv(&csv)).await {
        let token = app.login().await;
        let r = import(&app, &token, &json!({"crm_ids": [ADA, LINUS]})).await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(outcomes(&body), expected(&[(ADA, "created"), (LINUS, "created")]), "{}", app.engine);
        let linus = body["results"][1]["user_id"].clone();

        let r = app.authed(Method::POST, "/api/v1/crm/sync", &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"changed_user_ids": [linus]}), "{}", app.engine);
        let audit = app.get_ok("/api/v1/audit?limit=200", &token).await;
        let synced = audit["items"].as_array().unwrap().iter().filter(|e| e["source"] == "crm_sync").count();
        assert!(synced >= 1, "{}: the change is audited as crm_sync: {audit}", app.engine);
        // Nothing changed since: nothing to do.
        let r = app.authed(Method::POST, "/api/v1/crm/sync", &token).send().await.unwrap();
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"changed_user_ids": []}));
        app.finish().await;
    }
}

#[tokio::test]
async fn without_a_crm_directory_the_crm_routes_answer_503_and_change_nothing() {
    for app in apps("crm_not_configured").await {
        let token = app.login().await;
        let (standard, _) = member(&app, "demo", "standard@demo.example", "standard").await;
        let users = app.user_count(&token).await;
        let r = app.authed(Method::GET, "/api/v1/crm/users?q=ada", &token).send().await.unwrap();
        let p = assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "crm_not_configured").await;
        assert!(p["detail"].as_str().unwrap().contains("not configured"), "{p}");
        let r = import(&app, &token, &json!({"crm_ids": [ADA], "products": ["core"]})).await;
        assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "crm_not_configured").await;
        let r = app.authed(Method::POST, "/api/v1/crm/sync", &token).send().await.unwrap();
        assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "crm_not_configured").await;
        // Permissions come first: a member learns nothing about the installation.
        let r = app.authed(Method::GET, "/api/v1/crm/users", &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(app.user_count(&token).await, users, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_crm_file_that_breaks_while_serving_answers_502_and_imports_nothing() {
    let (_dir, csv) = sample_csv();
    for app in apps_with("crm_unavailable", &with_csv(&csv)).await {
        let token = app.login().await;
        app.get_ok("/api/v1/crm/users", &token).await;
        let users = app.user_count(&token).await;
        let good = std::fs::read_to_string(&csv).expect("readable");
        std::fs::write(&csv, format!("{good}005Hn00000B7k1gIAB,Broken,\"Quote,broken@example.com,,true,\n"))
            .expect("written");
        let r = app.authed(Method::GET, "/api/v1/crm/users", &token).send().await.unwrap();
        let p = assert_problem(r, StatusCode::BAD_GATEWAY, "crm_unavailable").await;
        assert!(p["detail"].as_str().unwrap().contains("line 8"), "{}: names the broken line: {p}", app.engine);
        let r = import(&app, &token, &json!({"crm_ids": [ADA]})).await;
        assert_problem(r, StatusCode::BAD_GATEWAY, "crm_unavailable").await;
        let r = app.authed(Method::POST, "/api/v1/crm/sync", &token).send().await.unwrap();
        assert_problem(r, StatusCode::BAD_GATEWAY, "crm_unavailable").await;
        assert_eq!(app.user_count(&token).await, users, "{}", app.engine);
        // Fixed again, it serves again.
        std::fs::write(&csv, good).expect("written");
        let r = import(&app, &token, &json!({"crm_ids": [ADA]})).await;
        assert_eq!(outcomes(&r.json().await.unwrap()), expected(&[(ADA, "created")]), "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn bad_imports_are_refused_whole_and_members_of_other_organizations_import_their_own() {
    let (_dir, csv) = sample_csv();
    for app in apps_with("crm_bad_input", &with_csv(&csv)).await {
        let token = app.login().await;
        let users = app.user_count(&token).await;
        let r = import(&app, &token, &json!({"crm_ids": [ADA, "not an id!", ""], "products": ["core"]})).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["crm_ids[1]", "crm_ids[2]"], "{}", app.engine);
        let r = import(&app, &token, &json!({"crm_ids": [ADA], "products": ["no_such_product"]})).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = import(&app, &token, &json!({"crm_ids": [ADA], "roles": ["no_such_role"]})).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = import(&app, &token, &json!({"crm_ids": [ADA], "welcome": true})).await;
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "welcome");
        let r = import(&app, &token, &json!({"products": ["core"]})).await;
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "crm_ids");
        assert_eq!(app.user_count(&token).await, users, "{}", app.engine);

        let (standard, _) = member(&app, "demo", "standard@demo.example", "standard").await;
        let r = import(&app, &standard, &json!({"crm_ids": [ADA]})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::POST, "/api/v1/crm/sync", &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // The directory serves the installation; members are per organization.
        let r = import(&app, &token, &json!({"crm_ids": [ADA]})).await;
        assert_eq!(outcomes(&r.json().await.unwrap()), expected(&[(ADA, "created")]));
        let other = other_org(&app, "other").await;
        let r = import(&app, &other, &json!({"crm_ids": [ADA]})).await;
        assert_eq!(outcomes(&r.json().await.unwrap()), expected(&[(ADA, "created")]), "{}", app.engine);
        let found = app.get_ok(&format!("/api/v1/users?q={ADA}&limit=10"), &other).await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{}: its own Ada only", app.engine);

        // A retried import with its key answers the first answer.
        let body = json!({"crm_ids": [GRACE], "send_welcome_email": true});
        let send = || {
            app.authed(Method::POST, "/api/v1/crm/import", &token)
                .header("idempotency-key", "import-1")
                .json(&body)
                .send()
        };
        let first: Value = send().await.unwrap().json().await.unwrap();
        let again = send().await.unwrap();
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.unwrap(), first);
        assert_eq!(outcomes(&first), expected(&[(GRACE, "created")]));
        app.finish().await;
    }
}
