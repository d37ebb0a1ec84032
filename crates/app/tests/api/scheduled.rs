//! The Users table's derived columns and scheduled changes (SPEC §3.1, §10): each row of `GET
//! /users` and of the CSV export carries the status, products, current groups and pending
//! changes that `GET /users/{id}` shows; a deactivation or license removal can be scheduled for
//! a future time and cancelled.

use reqwest::{Method, StatusCode};
use roster_app::system::SystemClock;
use roster_domain::ports::Clock as _;
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{apps, assert_problem};

fn in_days(days: i64) -> String {
    (SystemClock.now() + Duration::days(days)).format(&Rfc3339).expect("formats")
}

/// The row of `id` in `GET /users?{query}`.
fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["items"].as_array().expect("items").iter().find(|u| u["id"] == id).expect("the user's row")
}

#[tokio::test]
async fn each_row_shows_status_products_groups_and_pending_changes_as_the_user_does() {
    for app in apps("users_rows").await {
        let token = app.login().await;
        let root = app.root_group(&token).await;
        let sales = app.group(&token, "Sales", &root).await;
        let body = json!({"email": "rows@demo.example", "first_name": "Row", "last_name": "Wise",
                          "products": ["core"], "group_ids": [sales]});
        let created = app.send_ok(Method::POST, "/api/v1/users", &token, &body, StatusCode::CREATED).await;
        let id = created["id"].as_str().expect("an id").to_owned();

        let change = app
            .send_ok(
                Method::POST,
                &format!("/api/v1/users/{id}/scheduled-changes"),
                &token,
                &json!({"action": "remove_license", "product": "core", "effective_at": in_days(30)}),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(change["action"], "remove_license");
        assert_eq!(change["product"], "core");
        assert_eq!(change["state"], "pending");
        assert_eq!(change["user_id"], id.as_str());
        let deactivation = app
            .send_ok(
                Method::POST,
                &format!("/api/v1/users/{id}/scheduled-changes"),
                &token,
                &json!({"action": "deactivate", "effective_at": in_days(60)}),
                StatusCode::CREATED,
            )
            .await;

        let one = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
        assert_eq!(one["products"], json!(["core"]), "{}", app.engine);
        assert_eq!(one["group_ids"], json!([sales]));
        let scheduled: Vec<&Value> = one["scheduled"].as_array().expect("scheduled").iter().collect();
        assert_eq!(scheduled.len(), 2, "{}: {one}", app.engine);
        assert_eq!(scheduled[0]["id"], change["id"], "soonest first");
        assert_eq!(scheduled[1]["id"], deactivation["id"]);

        for query in ["limit=50", "page=1&per_page=50", "limit=10&sort=-created_at"] {
            let list = app.get_ok(&format!("/api/v1/users?{query}"), &token).await;
            let r = row(&list, &id);
            for field in ["status", "inactive_reasons", "products", "group_ids", "scheduled", "roles", "version"] {
                assert_eq!(r[field], one[field], "{}: {query}: {field}", app.engine);
            }
            let admin = list["items"].as_array().unwrap().iter().find(|u| u["email"] == "admin@demo.example").unwrap();
            assert_eq!(admin["products"], json!([]), "the admin holds no license");
            assert_eq!(admin["scheduled"], json!([]));
        }

        let csv = app
            .authed(Method::GET, &format!("/api/v1/users/export.csv?ids={id}"), &token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        let record = reader.records().next().expect("one row").expect("valid CSV");
        let cell = |name: &str| record[header.iter().position(|h| h == name).expect(name)].to_owned();
        assert_eq!(cell("status"), one["status"].as_str().unwrap(), "{}", app.engine);
        assert_eq!(cell("products"), "core");
        assert_eq!(cell("groups"), "Sales", "groups by name");
        let effective = change["effective_at"].as_str().unwrap();
        assert!(
            cell("scheduled").starts_with(&format!("remove core {effective}; deactivate ")),
            "{}",
            cell("scheduled")
        );

        // Cancelling: the change leaves the user and the list; a second cancel finds nothing.
        let path = format!("/api/v1/scheduled-changes/{}", change["id"].as_str().unwrap());
        app.send_ok(Method::DELETE, &path, &token, &json!({}), StatusCode::NO_CONTENT).await;
        let one = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
        assert_eq!(one["scheduled"].as_array().unwrap().len(), 1, "{}", app.engine);
        assert_eq!(one["scheduled"][0]["id"], deactivation["id"]);
        assert_eq!(one["products"], json!(["core"]), "a cancelled removal removes nothing");
        assert_problem(app.send(Method::DELETE, &path, &token, &json!({})).await, StatusCode::NOT_FOUND, "not_found")
            .await;

        let audit = app.get_ok(&format!("/api/v1/audit?target_kind=user&target_id={id}"), &token).await;
        let actions: Vec<&str> =
            audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"schedule.created") && actions.contains(&"schedule.cancelled"), "{actions:?}");
        app.finish().await;
    }
}

#[tokio::test]
async fn a_bad_scheduled_change_is_refused_and_nothing_is_scheduled() {
    for app in apps("users_scheduled_bad").await {
        let token = app.login().await;
        let user = app.create_user(&token, "plain@demo.example").await;
        let id = user["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/users/{id}/scheduled-changes");
        let cases = [
            (json!({"action": "explode", "effective_at": in_days(1)}), StatusCode::UNPROCESSABLE_ENTITY, "action"),
            (
                json!({"action": "remove_license", "effective_at": in_days(1)}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "product",
            ),
            (
                json!({"action": "deactivate", "product": "core", "effective_at": in_days(1)}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "product",
            ),
            (
                json!({"action": "remove_license", "product": "core", "effective_at": in_days(1)}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "product",
            ),
            (
                json!({"action": "deactivate", "effective_at": in_days(-1)}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "effective_at",
            ),
            (json!({"action": "deactivate", "effective_at": "next tuesday"}), StatusCode::BAD_REQUEST, "effective_at"),
            (json!({"action": "deactivate", "effective_at": in_days(1), "why": "x"}), StatusCode::BAD_REQUEST, "why"),
        ];
        for (body, status, field) in cases {
            let r = app.send(Method::POST, &path, &token, &body).await;
            assert_eq!(r.status(), status, "{}: {body}", app.engine);
            let problem: Value = r.json().await.unwrap();
            let fields: Vec<&str> = problem["errors"]
                .as_array()
                .map(|e| e.iter().filter_map(|f| f["field"].as_str()).collect())
                .unwrap_or_default();
            assert!(fields.contains(&field), "{}: {body}: {problem}", app.engine);
        }
        let ghost = "/api/v1/users/00000000-0000-0000-0000-000000000000/scheduled-changes";
        let body = json!({"action": "deactivate", "effective_at": in_days(1)});
        assert_problem(app.send(Method::POST, ghost, &token, &body).await, StatusCode::NOT_FOUND, "not_found").await;
        let me = app.get_ok("/api/v1/me", &token).await;
        let mine = format!("/api/v1/users/{}/scheduled-changes", me["user"]["id"].as_str().expect("my id"));
        assert_problem(app.send(Method::POST, &mine, &token, &body).await, StatusCode::CONFLICT, "self_deactivation")
            .await;
        let r = app.send(Method::DELETE, "/api/v1/scheduled-changes/not-an-id", &token, &json!({})).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        let one = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
        assert_eq!(one["scheduled"], json!([]), "{}: nothing scheduled", app.engine);
        app.finish().await;
    }
}
