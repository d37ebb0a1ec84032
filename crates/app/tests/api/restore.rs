//! `POST /users/{id}/restore` (SPEC §3.1): a user deleted less than 30 days ago comes back
//! without licenses or groups, if no other member took their unique values meanwhile. (The
//! 30-day limit, `restore_expired`, is proved on the domain's clock in
//! `crates/domain/tests/services/users_lifecycle.rs`.)

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::member;

async fn delete(app: &TestApp, token: &str, id: &str) {
    let r = app.authed(Method::DELETE, &format!("/api/v1/users/{id}?confirm=true"), token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}: deletes", app.engine);
}

async fn restore(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.authed(Method::POST, &format!("/api/v1/users/{id}/restore"), token).json(&json!({})).send().await.unwrap()
}

#[tokio::test]
async fn a_deleted_user_is_restored_without_licenses_and_only_once() {
    for app in apps("restore_user").await {
        let admin = app.login().await;
        let body = json!({"email": "ann@demo.example", "first_name": "Ann", "last_name": "Lee", "products": ["core"]});
        let ann = app.send_ok(Method::POST, "/api/v1/users", &admin, &body, StatusCode::CREATED).await;
        let id = ann["id"].as_str().unwrap();
        delete(&app, &admin, id).await;

        let r = restore(&app, &admin, id).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert!(r.headers().get("etag").is_some(), "{}: the new version", app.engine);
        let restored: serde_json::Value = r.json().await.unwrap();
        assert_eq!(restored["email"], "ann@demo.example");
        assert_eq!(restored["products"], json!([]), "{}: licenses are not given back", app.engine);
        assert_ne!(restored["status"], "deleted");
        let read = app.get_ok(&format!("/api/v1/users/{id}"), &admin).await;
        assert_eq!(read["id"], restored["id"]);

        assert_problem(restore(&app, &admin, id).await, StatusCode::NOT_FOUND, "not_found").await;
        let unknown = "01900000-0000-7000-8000-000000000000";
        assert_problem(restore(&app, &admin, unknown).await, StatusCode::NOT_FOUND, "not_found").await;
        let events = app.get_ok("/api/v1/audit?limit=50", &admin).await;
        let restores = events["items"].as_array().unwrap().iter().filter(|e| e["action"] == "user.restored").count();
        assert_eq!(restores, 1, "{}: audited once", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_user_whose_email_was_taken_meanwhile_is_not_restored() {
    for app in apps("restore_taken").await {
        let admin = app.login().await;
        let first = app.create_user(&admin, "bo@demo.example").await;
        let id = first["id"].as_str().unwrap();
        delete(&app, &admin, id).await;
        app.create_user(&admin, "bo@demo.example").await;

        let problem = assert_problem(restore(&app, &admin, id).await, StatusCode::CONFLICT, "conflict").await;
        assert!(problem.to_string().contains("email"), "{}: names the field: {problem}", app.engine);
        let r = app.authed(Method::GET, &format!("/api/v1/users/{id}"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{}: still deleted", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn restoring_needs_manage_users_and_a_bare_body() {
    for app in apps("restore_refused").await {
        let admin = app.login().await;
        let gone = app.create_user(&admin, "cy@demo.example").await;
        let id = gone["id"].as_str().unwrap();
        delete(&app, &admin, id).await;
        let (standard, _) = member(&app, "demo", "dee@demo.example", "standard").await;
        assert_problem(restore(&app, &standard, id).await, StatusCode::FORBIDDEN, "forbidden").await;

        let r = app
            .authed(Method::POST, &format!("/api/v1/users/{id}/restore"), &admin)
            .json(&json!({"products": ["core"]}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        let error = &problem["errors"][0];
        assert_eq!((error["field"].as_str(), error["code"].as_str()), (Some("products"), Some("unknown_field")));
        let r = app.authed(Method::GET, &format!("/api/v1/users/{id}"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{}: nothing changed", app.engine);
        app.finish().await;
    }
}
