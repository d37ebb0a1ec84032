//! `PUT /users/{id}/inactive-reasons` (SPEC §3.1, §10): the vendor's product reports a member's
//! mailbox, account or package problems; Roster derives `inactive` from them and keeps
//! `inactive_in_crm` and `no_license` to itself.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::member;

async fn put(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::PUT, &format!("/api/v1/users/{id}/inactive-reasons"), token).json(body).send().await.unwrap()
}

#[tokio::test]
async fn reported_reasons_make_a_member_inactive_and_clearing_them_brings_them_back() {
    for app in apps("inactive_reasons").await {
        let admin = app.login().await;
        let body = json!({"email": "ann@demo.example", "first_name": "Ann", "last_name": "Lee", "products": ["core"]});
        let ann = app.send_ok(Method::POST, "/api/v1/users", &admin, &body, StatusCode::CREATED).await;
        let id = ann["id"].as_str().unwrap();

        let r = put(&app, &admin, id, &json!({"reasons": ["inactive_in_mailbox", "package_expired"]})).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let marked: Value = r.json().await.unwrap();
        assert_eq!(marked["status"], "inactive", "{}: {marked}", app.engine);
        assert_eq!(marked["inactive_reasons"], json!(["inactive_in_mailbox", "package_expired"]), "{marked}");
        // A new organization releases the seats of inactive members (§4.3).
        assert_eq!(marked["products"], json!([]), "{}: licenses released", app.engine);

        let r = put(&app, &admin, id, &json!({"reasons": []})).await;
        assert_eq!(r.status(), StatusCode::OK);
        let cleared: Value = r.json().await.unwrap();
        assert_ne!(cleared["status"], "inactive", "{}: {cleared}", app.engine);
        assert_eq!(cleared["inactive_reasons"], json!([]));
        let events = app.get_ok("/api/v1/audit?limit=50", &admin).await;
        let actions: Vec<&str> =
            events["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "user.marked_inactive").count(), 2, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| **a == "user.inactive_cleared").count(), 2, "{actions:?}");
        app.finish().await;
    }
}

#[tokio::test]
async fn reasons_roster_sets_itself_and_callers_without_manage_users_are_refused() {
    for app in apps("inactive_reasons_refused").await {
        let admin = app.login().await;
        let bo = app.create_user(&admin, "bo@demo.example").await;
        let id = bo["id"].as_str().unwrap();
        for reason in ["inactive_in_crm", "no_license", "asleep"] {
            let r = put(&app, &admin, id, &json!({"reasons": [reason]})).await;
            let problem = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
            let error = &problem["errors"][0];
            assert_eq!((error["field"].as_str(), error["code"].as_str()), (Some("reasons[0]"), Some("invalid_type")));
        }
        let (standard, _) = member(&app, "demo", "dee@demo.example", "standard").await;
        let r = put(&app, &standard, id, &json!({"reasons": ["account_failure"]})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let read = app.get_ok(&format!("/api/v1/users/{id}"), &admin).await;
        assert_eq!(read["version"], bo["version"], "{}: nothing changed: {read}", app.engine);
        assert_eq!(read["inactive_reasons"], bo["inactive_reasons"], "{}: {read}", app.engine);
        app.finish().await;
    }
}
