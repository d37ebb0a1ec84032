//! `POST /users/bulk` (SPEC §10): per-user outcomes, `atomic` rollback, `dry_run`, selections by
//! ids and by filter, tenant isolation, permissions and bad input.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::{member, other_org};

async fn bulk(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, "/api/v1/users/bulk", token).json(&body).send().await.unwrap()
}

async fn bulk_ok(app: &TestApp, token: &str, body: Value) -> Value {
    let r = bulk(app, token, body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
    r.json().await.unwrap()
}

async fn products(app: &TestApp, token: &str, id: &str) -> Value {
    app.get_ok(&format!("/api/v1/users/{id}"), token).await["products"].clone()
}

async fn users(app: &TestApp, token: &str, n: usize, prefix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let user = app.create_user(token, &format!("{prefix}{i}@demo.example")).await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    ids
}

fn statuses(result: &Value) -> Vec<&str> {
    result["outcomes"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_bulk_license_assignment_reports_each_user_and_stops_at_the_seat_limit() {
    for app in apps("bulk_outcomes").await {
        let token = app.login().await;
        let ids = users(&app, &token, 4, "seat").await;
        let result =
            bulk_ok(&app, &token, json!({"user_ids": ids, "action": "assign_licenses", "products": ["core"]})).await;
        assert_eq!(result["applied"], true, "{}", app.engine);
        assert_eq!(statuses(&result), ["ok", "ok", "ok", "seat_limit_reached"], "{}: {result}", app.engine);
        assert_eq!(result["outcomes"][0]["licenses"]["assigned"], json!(["core"]));
        let core = |seats: &Value| seats.as_array().unwrap().iter().find(|s| s["product"] == "core").unwrap().clone();
        assert_eq!(core(&result["seats_before"])["seats_used"], 0);
        assert_eq!(core(&result["seats_after"])["seats_used"], 3);
        assert_eq!(products(&app, &token, &ids[0]).await, json!(["core"]));
        assert_eq!(products(&app, &token, &ids[3]).await, json!([]));
        app.finish().await;
    }
}

#[tokio::test]
async fn an_atomic_bulk_request_with_a_refusal_writes_nothing_and_a_dry_run_never_writes() {
    for app in apps("bulk_atomic").await {
        let token = app.login().await;
        let ids = users(&app, &token, 4, "atomic").await;
        let audit_before = app.get_ok("/api/v1/audit?limit=200", &token).await["items"].as_array().unwrap().len();
        let result = bulk_ok(
            &app,
            &token,
            json!({"user_ids": ids, "action": "assign_licenses", "products": ["core"], "atomic": true}),
        )
        .await;
        assert_eq!(result["applied"], false, "{}", app.engine);
        assert_eq!(statuses(&result), ["ok", "ok", "ok", "seat_limit_reached"]);
        for id in &ids {
            assert_eq!(products(&app, &token, id).await, json!([]), "{}: rolled back", app.engine);
        }
        let audit_after = app.get_ok("/api/v1/audit?limit=200", &token).await["items"].as_array().unwrap().len();
        assert_eq!(audit_after, audit_before, "{}: no event of the rolled-back request", app.engine);

        let result = bulk_ok(
            &app,
            &token,
            json!({"user_ids": &ids[..2], "action": "assign_licenses", "products": ["core"], "dry_run": true}),
        )
        .await;
        assert_eq!((result["applied"].as_bool(), statuses(&result)), (Some(false), vec!["ok", "ok"]));
        let core = result["seats_after"].as_array().unwrap().iter().find(|s| s["product"] == "core").unwrap().clone();
        assert_eq!(core["seats_used"], 2, "{}: the dry run shows the seats it would take", app.engine);
        assert_eq!(products(&app, &token, &ids[0]).await, json!([]), "{}: nothing written", app.engine);

        // Within the limit, the atomic request applies to all.
        let result = bulk_ok(
            &app,
            &token,
            json!({"user_ids": &ids[..3], "action": "assign_licenses", "products": ["core"], "atomic": true}),
        )
        .await;
        assert_eq!(result["applied"], true);
        assert_eq!(products(&app, &token, &ids[2]).await, json!(["core"]));
        app.finish().await;
    }
}

#[tokio::test]
async fn settings_dialer_and_role_actions_apply_to_a_selection_by_filter() {
    for app in apps("bulk_settings").await {
        let token = app.login().await;
        let ids = users(&app, &token, 3, "tuned").await;
        let by_filter = json!({"q": "tuned"});
        for (action, field, value, column) in [
            ("set_flow_enabled", "flow_enabled", json!(false), "flow_enabled"),
            ("set_email_throttle", "email_throttle_max_per_day", json!(500), "email_throttle_max_per_day"),
            ("set_call_recording", "call_recording", json!("enforced"), "call_recording"),
            ("set_email_sync", "email_sync", json!(true), "email_sync"),
            ("set_calendar_sync", "calendar_sync", json!(true), "calendar_sync"),
        ] {
            let result = bulk_ok(&app, &token, json!({"filter": by_filter, "action": action, field: value})).await;
            assert_eq!(statuses(&result), ["ok", "ok", "ok"], "{}: {action}", app.engine);
            for id in &ids {
                let user = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
                assert_eq!(user["settings"][column], value, "{}: {action}", app.engine);
            }
        }
        let result = bulk_ok(&app, &token, json!({"user_ids": ids, "action": "deprovision_dialer_numbers"})).await;
        assert_eq!(statuses(&result), ["ok", "ok", "ok"]);
        let result =
            bulk_ok(&app, &token, json!({"user_ids": &ids[..1], "action": "set_roles", "roles": [{"key": "analyst"}]}))
                .await;
        assert_eq!(statuses(&result), ["ok"]);
        let analysts = app.get_ok("/api/v1/users?role=analyst", &token).await;
        assert_eq!(analysts["items"][0]["id"], ids[0].as_str(), "{}", app.engine);

        // An email throttle above the cap is refused per user and changes nothing.
        let result = bulk_ok(
            &app,
            &token,
            json!({"user_ids": &ids[..1], "action": "set_email_throttle", "email_throttle_max_per_day": 999_999}),
        )
        .await;
        assert_eq!(statuses(&result), ["validation_failed"], "{}: {result}", app.engine);
        let user = app.get_ok(&format!("/api/v1/users/{}", ids[0]), &token).await;
        assert_eq!(user["settings"]["email_throttle_max_per_day"], 500);
        app.finish().await;
    }
}

#[tokio::test]
async fn bulk_actions_never_reach_another_organizations_users() {
    for app in apps("bulk_isolation").await {
        let demo = app.login().await;
        let ours = users(&app, &demo, 1, "ours").await;
        let other = other_org(&app, "other").await;
        let result =
            bulk_ok(&app, &other, json!({"user_ids": ours, "action": "assign_licenses", "products": ["core"]})).await;
        assert_eq!(statuses(&result), ["not_found"], "{}", app.engine);
        assert_eq!(products(&app, &demo, &ours[0]).await, json!([]));
        // Their filter matches none of ours: an empty selection.
        let r =
            bulk(&app, &other, json!({"filter": {"q": "ours"}, "action": "set_flow_enabled", "flow_enabled": false}))
                .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let user = app.get_ok(&format!("/api/v1/users/{}", ours[0]), &demo).await;
        assert_eq!(user["settings"]["flow_enabled"], true, "{}: untouched", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn bulk_requests_need_the_permissions_and_bad_ones_change_nothing() {
    for app in apps("bulk_refusals").await {
        let token = app.login().await;
        let ids = users(&app, &token, 2, "guarded").await;
        for role in ["standard", "analyst", "team_lead"] {
            let (member_token, _) = member(&app, "demo", &format!("{role}@demo.example"), role).await;
            for body in [
                json!({"user_ids": ids, "action": "assign_licenses", "products": ["core"]}),
                json!({"user_ids": ids, "action": "set_email_sync", "email_sync": true}),
                json!({"filter": {}, "action": "deprovision_dialer_numbers"}),
            ] {
                let r = bulk(&app, &member_token, body).await;
                assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
            }
        }

        for (body, status, field) in [
            (json!({"action": "assign_licenses", "products": ["core"]}), 422, "user_ids"),
            (json!({"user_ids": ids, "filter": {}, "action": "deprovision_dialer_numbers"}), 422, "filter"),
            (json!({"user_ids": ids, "action": "assign_licenses"}), 422, "products"),
            (
                json!({"user_ids": ids, "action": "assign_licenses", "products": ["core"], "group_ids": []}),
                422,
                "group_ids",
            ),
            (json!({"user_ids": ids, "action": "assign_licenses", "products": ["not a key!"]}), 422, "products[0]"),
            (json!({"user_ids": ids, "action": "set_roles", "roles": [{"key": "Not A Key"}]}), 422, "roles[0].key"),
            (json!({"user_ids": ids, "action": "check_connection_status"}), 422, "action"),
            (json!({"user_ids": [], "action": "deprovision_dialer_numbers"}), 422, "user_ids"),
            (json!({"user_ids": ids, "action": "launch_rockets"}), 400, "action"),
            (json!({"user_ids": ids, "action": "set_flow_enabled", "flow_enabled": "yes"}), 400, "flow_enabled"),
            (json!({"user_ids": ["nope"], "action": "deprovision_dialer_numbers"}), 400, "user_ids[0]"),
            (json!({"user_ids": ids, "action": "deprovision_dialer_numbers", "sudo": true}), 400, "sudo"),
            (json!({"filter": {"status": ["happy"]}, "action": "deprovision_dialer_numbers"}), 400, "status"),
        ] {
            let r = bulk(&app, &token, body.clone()).await;
            let status = StatusCode::from_u16(status).unwrap();
            let problem = assert_problem(r, status, "validation_failed").await;
            let fields: Vec<&str> =
                problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
            assert!(fields.iter().any(|f| f.starts_with(field)), "{}: {body}: {problem}", app.engine);
        }
        for id in &ids {
            assert_eq!(products(&app, &token, id).await, json!([]), "{}: nothing changed", app.engine);
        }
        app.finish().await;
    }
}
