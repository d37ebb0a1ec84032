//! An admin's way through the API: log in, read the Users table, create users, assign
//! licenses up to the seat limit, change a user under `If-Match`, walk the cursor pages.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, apps, assert_problem};

#[tokio::test]
async fn an_admin_creates_users_and_assigns_licenses_up_to_the_seat_limit() {
    for app in apps("seat_limit").await {
        let token = app.login().await;
        let me: Value = app.get_ok("/api/v1/me", &token).await;
        assert_eq!(me["user"]["email"], ADMIN_EMAIL);
        assert!(me["permissions"].as_array().unwrap().iter().any(|p| p == "manage_licenses"));
        assert_eq!(app.user_count(&token).await, 1, "{}: only the admin at first", app.engine);

        // The demo organization has 3 seats of each product (§11 default_seat_limit).
        let mut ids = Vec::new();
        for n in 0..4 {
            let user = app.create_user(&token, &format!("agent{n}@demo.example")).await;
            // No trial and no Core license yet (§3.1).
            assert_eq!(user["status"], "inactive", "{}: {user}", app.engine);
            assert_eq!(user["inactive_reasons"], json!(["no_license"]));
            ids.push(user["id"].as_str().unwrap().to_owned());
        }
        for id in &ids[..3] {
            let r = app
                .authed(Method::PUT, &format!("/api/v1/users/{id}/licenses"), &token)
                .json(&json!({"products": ["core"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
            let change: Value = r.json().await.unwrap();
            assert_eq!(change, json!({"user_id": id, "assigned": ["core"], "unassigned": [], "cascaded": []}));
        }
        let r = app
            .authed(Method::PUT, &format!("/api/v1/users/{}/licenses", ids[3]), &token)
            .json(&json!({"products": ["core"]}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(r, StatusCode::CONFLICT, "seat_limit_reached").await;
        assert_eq!(problem["product"], "core");
        assert_eq!(problem["seats_total"], 3);
        assert_eq!(problem["seats_used"], 3);

        let fourth: Value = app.get_ok(&format!("/api/v1/users/{}", ids[3]), &token).await;
        assert_eq!(fourth["products"], json!([]), "{}: the refused assignment left nothing", app.engine);
        let held: Value = app.get_ok(&format!("/api/v1/users/{}", ids[0]), &token).await;
        assert_eq!(held["products"], json!(["core"]));
        assert_eq!(held["status"], "pending", "{}: holds Core, onboarding not complete", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_stale_if_match_is_refused_and_a_fresh_one_applies() {
    for app in apps("if_match").await {
        let token = app.login().await;
        let user = app.create_user(&token, "pat@demo.example").await;
        let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
        let r = app.authed(Method::GET, &path, &token).send().await.unwrap();
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, format!("\"{}\"", user["version"]));

        let r = app
            .authed(Method::PATCH, &path, &token)
            .header("if-match", "\"999\"")
            .json(&json!({"first_name": "Patricia"}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;

        let r = app
            .authed(Method::PATCH, &path, &token)
            .header("if-match", &etag)
            .json(&json!({"first_name": "Patricia", "phone": "+14155550100"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let new_etag = r.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(new_etag, etag);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["first_name"], "Patricia");
        assert_eq!(body["phone"], "+14155550100");

        // `null` clears an optional field.
        let r = app
            .authed(Method::PATCH, &path, &token)
            .header("if-match", &new_etag)
            .json(&json!({"phone": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["phone"], Value::Null);
        app.finish().await;
    }
}

#[tokio::test]
async fn cursor_pages_walk_every_user_once_in_sort_order() {
    for app in apps("cursor_walk").await {
        let token = app.login().await;
        for n in 0..5 {
            app.create_user(&token, &format!("walker{n}@demo.example")).await;
        }
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut path = "/api/v1/users?limit=2&sort=email".to_owned();
            if let Some(c) = &next {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: Value = app.get_ok(&path, &token).await;
            for item in page["items"].as_array().unwrap() {
                seen.push(item["email"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => next = Some(c.to_owned()),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "{}", app.engine);
        assert_eq!(seen.len(), 6, "{}: five users and the admin", app.engine);

        let filtered: Value = app
            .authed(Method::GET, "/api/v1/users?q=walker3&status=inactive,pending&role=standard", &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(filtered["items"].as_array().unwrap().len(), 1, "{}: {filtered}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn deactivating_frees_the_seat_reactivating_takes_it_back_and_deleting_needs_confirmation() {
    for app in apps("lifecycle").await {
        let token = app.login().await;
        let me: Value = app.get_ok("/api/v1/me", &token).await;
        let my_path = format!("/api/v1/users/{}", me["user"]["id"].as_str().unwrap());
        let user = app.create_user(&token, "leaver@demo.example").await;
        let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
        let r = app
            .authed(Method::PUT, &format!("{path}/licenses"), &token)
            .json(&json!({"products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        let r =
            app.authed(Method::POST, &format!("{my_path}/deactivate"), &token).json(&json!({})).send().await.unwrap();
        assert_problem(r, StatusCode::CONFLICT, "self_deactivation").await;

        let r = app.authed(Method::POST, &format!("{path}/deactivate"), &token).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "deactivated", "{}", app.engine);
        assert_eq!(body["products"], json!([]), "{}: licenses released", app.engine);

        let r = app
            .authed(Method::POST, &format!("{path}/reactivate"), &token)
            .json(&json!({"products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!((body["status"].as_str(), &body["products"]), (Some("pending"), &json!(["core"])));

        let r = app.authed(Method::DELETE, &path, &token).send().await.unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "confirmation_required").await;
        let r = app.authed(Method::DELETE, &format!("{path}?confirm=true"), &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::GET, &path, &token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}
