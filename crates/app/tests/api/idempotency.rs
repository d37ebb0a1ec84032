//! `Idempotency-Key` on POST (SPEC §10): a retry returns the first answer and changes nothing
//! twice; the same key with another body is refused; keys are scoped per organization and
//! principal; a malformed key is a 400.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::other_org;

async fn post_with_key(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, path, token).header("idempotency-key", key).json(body).send().await.unwrap()
}

#[tokio::test]
async fn a_retried_create_returns_the_first_answer_and_creates_one_user() {
    for app in apps("idempotent_create").await {
        let token = app.login().await;
        let body = json!({"email": "once@demo.example", "first_name": "Only", "last_name": "Once"});
        let first = post_with_key(&app, &token, "/api/v1/users", "create-once-1", &body).await;
        assert_eq!(first.status(), StatusCode::CREATED, "{}", app.engine);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let location = first.headers()["location"].clone();
        let etag = first.headers()["etag"].clone();
        let first: Value = first.json().await.unwrap();
        let count = app.user_count(&token).await;

        let again = post_with_key(&app, &token, "/api/v1/users", "create-once-1", &body).await;
        assert_eq!(again.status(), StatusCode::CREATED, "{}", app.engine);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["location"], location);
        assert_eq!(again.headers()["etag"], etag);
        assert_eq!(again.headers()["content-type"], "application/json");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again, first, "{}: the same answer", app.engine);
        assert_eq!(app.user_count(&token).await, count, "{}: no second user", app.engine);
        let created = app.get_ok("/api/v1/audit?action=user.created&limit=200", &token).await;
        let for_once = created["items"].as_array().unwrap().iter().filter(|e| e["target_id"] == first["id"]).count();
        assert_eq!(for_once, 1, "{}: one event", app.engine);

        // Without a key, the same body is a second request: the email is taken.
        let r = app.authed(Method::POST, "/api/v1/users", &token).json(&body).send().await.unwrap();
        assert_problem(r, StatusCode::CONFLICT, "conflict").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_refusal_is_replayed_too_and_a_reused_key_with_another_body_is_refused() {
    for app in apps("idempotent_reuse").await {
        let token = app.login().await;
        let first_body = json!({"email": "not an email", "first_name": "A", "last_name": "B"});
        let r = post_with_key(&app, &token, "/api/v1/users", "k-422", &first_body).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = post_with_key(&app, &token, "/api/v1/users", "k-422", &first_body).await;
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

        let body = json!({"email": "first@demo.example", "first_name": "A", "last_name": "B"});
        let r = post_with_key(&app, &token, "/api/v1/users", "k-reused", &body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let count = app.user_count(&token).await;
        let other = json!({"email": "second@demo.example", "first_name": "A", "last_name": "B"});
        let r = post_with_key(&app, &token, "/api/v1/users", "k-reused", &other).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
        // The same key on another route is another request too.
        let r = post_with_key(&app, &token, "/api/v1/users/bulk", "k-reused", &json!({})).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
        assert_eq!(app.user_count(&token).await, count, "{}: nothing created", app.engine);

        for bad in ["has space", &"k".repeat(256)] {
            let r = post_with_key(&app, &token, "/api/v1/users", bad, &other).await;
            let problem = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
        }
        assert_eq!(app.user_count(&token).await, count, "{}: nothing created", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn keys_are_scoped_per_principal_and_organization() {
    for app in apps("idempotent_scope").await {
        let demo = app.login().await;
        let other = other_org(&app, "other").await;
        let ours = json!({"email": "same-key@demo.example", "first_name": "A", "last_name": "B"});
        let theirs = json!({"email": "same-key@other.example", "first_name": "A", "last_name": "B"});
        let r = post_with_key(&app, &demo, "/api/v1/users", "shared-key", &ours).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = post_with_key(&app, &other, "/api/v1/users", "shared-key", &theirs).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}: another organization's key", app.engine);
        assert!(r.headers().get("idempotent-replayed").is_none());
        let created: Value = r.json().await.unwrap();
        assert_eq!(created["email"], "same-key@other.example", "{}: never the other's answer", app.engine);

        // A bulk retry assigns the seats once.
        let ids: Vec<String> = app.get_ok("/api/v1/users?limit=200&q=same-key", &demo).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        let bulk = json!({"user_ids": ids, "action": "assign_licenses", "products": ["core"]});
        let r = post_with_key(&app, &demo, "/api/v1/users/bulk", "bulk-1", &bulk).await;
        let first: Value = r.json().await.unwrap();
        let r = post_with_key(&app, &demo, "/api/v1/users/bulk", "bulk-1", &bulk).await;
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        let again: Value = r.json().await.unwrap();
        assert_eq!(again, first, "{}", app.engine);
        let licenses: Value = app.get_ok("/api/v1/licenses", &demo).await;
        let core = licenses["items"].as_array().unwrap().iter().find(|s| s["product"] == "core").unwrap().clone();
        assert_eq!(core["seats_used"], 1, "{}: taken once", app.engine);
        app.finish().await;
    }
}
