//! `GET|POST /saved-views`, `DELETE /saved-views/{id}` (SPEC §10): each admin's own views,
//! names unique per admin, checked definitions, isolation, permissions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::{member, other_org};

async fn save(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/api/v1/saved-views", token).json(body).send().await.unwrap()
}

fn names(list: &Value) -> Vec<&str> {
    list["items"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_admin_saves_lists_and_deletes_their_own_views() {
    for app in apps("saved_views").await {
        let token = app.login().await;
        let view = json!({
            "name": "Active agents",
            "filter": {"status": "active,pending", "role": "standard", "q": "agent"},
            "sort": "last_name,-created_at",
            "columns": ["email", "status", "products"],
            "per_page": 50,
        });
        let r = save(&app, &token, &view).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let saved: Value = r.json().await.unwrap();
        assert_eq!(saved["filter"], view["filter"]);
        assert_eq!((saved["sort"].as_str(), saved["per_page"].as_u64()), (Some("last_name,-created_at"), Some(50)));
        assert_eq!(saved["columns"], view["columns"]);
        let r = save(&app, &token, &json!({"name": "Everyone", "per_page": 10})).await;
        assert_eq!(r.status(), StatusCode::CREATED);

        let list = app.get_ok("/api/v1/saved-views", &token).await;
        assert_eq!(names(&list), ["Active agents", "Everyone"], "{}", app.engine);
        let r = save(&app, &token, &view).await;
        let problem = assert_problem(r, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(problem["errors"][0]["field"], "name");

        // Another admin of the organization has views of their own, and cannot delete ours.
        let (second, _) = member(&app, "demo", "second-admin@demo.example", "admin").await;
        assert!(names(&app.get_ok("/api/v1/saved-views", &second).await).is_empty());
        let r = save(&app, &second, &view).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}: the same name for another admin", app.engine);
        let id = saved["id"].as_str().unwrap();
        let r = app.authed(Method::DELETE, &format!("/api/v1/saved-views/{id}"), &second).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let other = other_org(&app, "other").await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/saved-views/{id}"), &other).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        assert!(names(&app.get_ok("/api/v1/saved-views", &other).await).is_empty(), "{}", app.engine);

        let r = app.authed(Method::DELETE, &format!("/api/v1/saved-views/{id}"), &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(names(&app.get_ok("/api/v1/saved-views", &token).await), ["Everyone"], "{}", app.engine);
        let r = app.authed(Method::DELETE, &format!("/api/v1/saved-views/{id}"), &token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn views_need_manage_users_and_bad_definitions_save_nothing() {
    for app in apps("saved_views_refusals").await {
        let token = app.login().await;
        let (standard, _) = member(&app, "demo", "standard@demo.example", "standard").await;
        let r = app.authed(Method::GET, "/api/v1/saved-views", &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = save(&app, &standard, &json!({"name": "Mine", "per_page": 10})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        for (body, status, field) in [
            (json!({"name": "", "per_page": 10}), 422, "name"),
            (json!({"name": "V", "per_page": 20}), 422, "per_page"),
            (json!({"name": "V", "per_page": 10, "columns": ["salary"]}), 422, "columns[0]"),
            (json!({"name": "V", "per_page": 10, "columns": ["email", "email"]}), 422, "columns[1]"),
            (json!({"name": "V", "per_page": 10, "filter": {"role": "emperor"}}), 422, "role"),
            (json!({"name": "V", "per_page": 10, "filter": {"status": "happy"}}), 400, "status"),
            (json!({"name": "V", "per_page": 10, "filter": {"password": "x"}}), 400, "filter.password"),
            (json!({"name": "V", "per_page": 10, "sort": "salary"}), 400, "sort"),
            (json!({"name": "V"}), 400, "per_page"),
        ] {
            let r = save(&app, &token, &body).await;
            let problem = assert_problem(r, StatusCode::from_u16(status).unwrap(), "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], field, "{}: {body}: {problem}", app.engine);
        }
        assert!(names(&app.get_ok("/api/v1/saved-views", &token).await).is_empty(), "{}: nothing saved", app.engine);
        let r = app.authed(Method::DELETE, "/api/v1/saved-views/not-a-uuid", &token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}
