//! `roster roles grant --org <slug> --email <e> <role>` (SPEC §5): the operator gives a member one
//! more role; `scorer` is not assignable, so only this command grants it — an admin cannot,
//! through any route of the API — while an admin editing the member's roles may keep it.

use reqwest::StatusCode;
use roster_domain::audit::{AuditQuery, Source};
use roster_domain::values::Slug;
use serde_json::{Value, json};

use crate::support::{Serving, TestDb, databases};

const PASSWORD: &str = "correct horse battery";

/// An organization `acme` with the admin `ada@acme.test` and the members `bo@` and `cy@`
/// (standard, no password).
async fn acme(db: &TestDb) {
    db.roster(&["org", "create", "acme"]).ok();
    db.roster_with(
        &["admin", "create", "--org", "acme", "--email", "ada@acme.test"],
        &[("ROSTER_ADMIN_PASSWORD", PASSWORD)],
        None,
    )
    .ok();
    let serving = db.serve().await;
    let token = admin_token(&serving).await;
    for email in ["bo@acme.test", "cy@acme.test"] {
        let body = json!({"email": email, "first_name": "Member", "last_name": "Tester"});
        let r = post(&serving, &token, "/api/v1/users", &body).await;
        assert_eq!(r.0, StatusCode::CREATED, "{}: {}", db.engine, r.1);
    }
    serving.stop().await;
}

async fn admin_token(serving: &Serving) -> String {
    let (status, token) = serving.login("acme", "ada@acme.test", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    token.expect("a token")
}

async fn post(serving: &Serving, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = serving
        .client
        .post(format!("{}{path}", serving.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("answers");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The role keys `email` holds, read through the API as the admin.
async fn roles_of(serving: &Serving, token: &str, email: &str) -> Vec<String> {
    let get = |path: String| {
        let request = serving.client.get(format!("{}{path}", serving.base)).bearer_auth(token);
        async move { request.send().await.expect("answers").json::<Value>().await.expect("json") }
    };
    let users = get(format!("/api/v1/users?q={email}&limit=10")).await;
    let roles = get("/api/v1/roles".to_owned()).await;
    let mut keys: Vec<String> = users["items"][0]["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|g| {
            let role =
                roles["items"].as_array().expect("items").iter().find(|r| r["id"] == g["role_id"]).expect("a role");
            role["key"].as_str().expect("a key").to_owned()
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn an_operator_grants_the_scorer_role_that_admins_cannot() {
    for db in databases("roles_grant_scorer").await {
        acme(&db).await;
        let granted =
            db.roster(&["roles", "grant", "--org", "acme", "--email", "Bo@Acme.Test", "scorer", "--json"]).json();
        assert_eq!(
            (
                granted["org"].as_str(),
                granted["email"].as_str(),
                granted["role"].as_str(),
                granted["granted"].as_bool()
            ),
            (Some("acme"), Some("bo@acme.test"), Some("scorer"), Some(true)),
            "{}: {granted}",
            db.engine
        );
        // Granting it again changes nothing.
        let again = db.roster(&["roles", "grant", "--org", "acme", "--email", "bo@acme.test", "scorer"]);
        assert_eq!(again.ok(), "acme: bo@acme.test already holds the scorer role; nothing changed.\n");
        let text = db.roster(&["roles", "grant", "--org", "acme", "--email", "cy@acme.test", "team_lead"]);
        assert_eq!(text.ok(), "acme: cy@acme.test now holds the team_lead role.\n", "{}", db.engine);

        let serving = db.serve().await;
        let token = admin_token(&serving).await;
        assert_eq!(roles_of(&serving, &token, "bo@acme.test").await, ["scorer", "standard"], "{}", db.engine);
        assert_eq!(roles_of(&serving, &token, "cy@acme.test").await, ["standard", "team_lead"]);
        // The role is marked as one admins cannot give.
        let list = serving
            .client
            .get(format!("{}/api/v1/roles", serving.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answers")
            .json::<Value>()
            .await
            .expect("json");
        let scorer = list["items"].as_array().expect("items").iter().find(|r| r["key"] == "scorer").expect("scorer");
        assert_eq!(scorer["assignable"], false);

        // The admin cannot give it: not when creating a member, not by a bulk role change.
        let body = json!({"email": "dee@acme.test", "first_name": "Dee", "last_name": "Tester", "roles": ["scorer"]});
        let (status, problem) = post(&serving, &token, "/api/v1/users", &body).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{problem}");
        assert!(problem["detail"].as_str().unwrap_or("").contains("only be granted by the operator"), "{problem}");
        let cy = list_id(&serving, &token, "cy@acme.test").await;
        let bo = list_id(&serving, &token, "bo@acme.test").await;
        let body = json!({"user_ids": [cy], "action": "set_roles", "roles": [{"key": "standard"}, {"key": "scorer"}]});
        let (status, outcome) = post(&serving, &token, "/api/v1/users/bulk", &body).await;
        assert_eq!(status, StatusCode::OK, "{outcome}");
        assert_eq!(outcome["outcomes"][0]["status"], "forbidden", "{}: {outcome}", db.engine);
        assert_eq!(roles_of(&serving, &token, "cy@acme.test").await, ["standard", "team_lead"], "unchanged");
        // But an admin editing Bo's roles may keep the one the operator gave.
        let body = json!({"user_ids": [bo], "action": "set_roles",
            "roles": [{"key": "scorer"}, {"key": "analyst"}]});
        let (status, outcome) = post(&serving, &token, "/api/v1/users/bulk", &body).await;
        assert_eq!((status, outcome["outcomes"][0]["status"].as_str()), (StatusCode::OK, Some("ok")), "{outcome}");
        assert_eq!(roles_of(&serving, &token, "bo@acme.test").await, ["analyst", "scorer"], "{}", db.engine);
        serving.stop().await;

        // Audited with the `cli` source; the no-op wrote nothing.
        let services = db.services().await;
        let (_, operator) = db.org(&services, "acme").await;
        let events = services.audit_log(&operator, &AuditQuery::default()).await.expect("reads");
        let by_cli: Vec<_> =
            events.iter().filter(|e| e.action == "user.roles_changed" && e.source == Source::Cli).collect();
        assert_eq!(by_cli.len(), 2, "{}: {by_cli:?}", db.engine);
        assert!(by_cli.iter().all(|e| e.actor_id.is_none()));
        let after = by_cli[1].details["roles"]["after"].as_array().expect("the roles after");
        assert!(after.contains(&json!("scorer")) && after.contains(&json!("standard")), "newest first: {after:?}");
        db.finish().await;
    }
}

/// The id of the member `email`, through the Users table.
async fn list_id(serving: &Serving, token: &str, email: &str) -> String {
    let users = serving
        .client
        .get(format!("{}/api/v1/users?q={email}&limit=10", serving.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("answers")
        .json::<Value>()
        .await
        .expect("json");
    users["items"][0]["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn granting_a_role_to_an_unknown_member_or_an_unknown_role_is_refused() {
    for db in databases("roles_grant_refused").await {
        acme(&db).await;
        db.roster(&["roles", "grant", "--org", "acme", "--email", "nobody@acme.test", "scorer"])
            .fails(1, &["granting the scorer role to nobody@acme.test in `acme`", "user not found"]);
        db.roster(&["roles", "grant", "--org", "acme", "--email", "bo@acme.test", "juggler"])
            .fails(1, &["granting the juggler role", "role: no role juggler"]);
        db.roster(&["roles", "grant", "--org", "nope", "--email", "bo@acme.test", "scorer"])
            .fails(1, &["organization `nope`"]);
        // A member of another organization is not found in this one.
        db.roster(&["org", "create", "beta"]).ok();
        db.roster(&["roles", "grant", "--org", "beta", "--email", "bo@acme.test", "scorer"])
            .fails(1, &["user not found"]);
        // Refused while parsing.
        db.roster(&["roles", "grant", "--org", "acme", "--email", "bo", "scorer"]).fails(2, &["--email"]);
        db.roster(&["roles", "grant", "--org", "acme", "--email", "bo@acme.test", "Scorer!"]).fails(2, &["<ROLE>"]);
        db.roster(&["roles", "grant", "--org", "acme", "scorer"]).fails(2, &["--email"]);

        let services = db.services().await;
        let (org, operator) = db.org(&services, "acme").await;
        assert_eq!(org.slug, Slug::parse("acme").expect("a slug"));
        let events = services.audit_log(&operator, &AuditQuery::default()).await.expect("reads");
        assert!(events.iter().all(|e| e.action != "user.roles_changed"), "{}: nothing changed", db.engine);
        db.finish().await;
    }
}
