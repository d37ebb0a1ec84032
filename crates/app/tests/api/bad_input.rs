//! Bad input anywhere is answered with a 4xx problem that names what was wrong, and changes
//! nothing (SPEC §14).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{BODY_LIMIT, apps, assert_problem};

#[tokio::test]
async fn bad_bodies_and_parameters_are_problems_and_change_nothing() {
    for app in apps("bad_input").await {
        let token = app.login().await;
        // A second user, so that a one-row page has a next cursor (the cursor check below).
        app.create_user(&token, "second@demo.example").await;
        let before = app.user_count(&token).await;
        let post = || app.authed(Method::POST, "/api/v1/users", &token);

        let r = post().header("content-type", "application/json").body("{\"email\": ").send().await.unwrap();
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["code"], "malformed_json");

        let r = post()
            .json(&json!({"email": "x@demo.example", "first_name": "X", "last_name": "Y", "is_admin": true}))
            .send()
            .await
            .unwrap();
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "is_admin");
        assert_eq!(p["errors"][0]["code"], "unknown_field");

        let r = post().json(&json!({"email": 42, "first_name": "X", "last_name": "Y"})).send().await.unwrap();
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "email");
        assert_eq!(p["errors"][0]["code"], "invalid_type");

        let r = post().header("content-type", "text/plain").body("email=x").send().await.unwrap();
        assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

        let huge = json!({"email": "x@demo.example", "first_name": "X".repeat(BODY_LIMIT), "last_name": "Y"});
        let r = post().json(&huge).send().await.unwrap();
        assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

        let r = post()
            .json(&json!({"email": "not an email", "first_name": "", "last_name": "Y", "products": ["core", "NOPE!"]}))
            .send()
            .await
            .unwrap();
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["email", "first_name", "products[1]"], "{}", app.engine);

        let injection = "'; DROP TABLE users; --<script>alert(1)</script>@demo.example";
        let r = post().json(&json!({"email": injection, "first_name": "X", "last_name": "Y"})).send().await.unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

        for (query, field) in [
            ("cursor=not-a-cursor", "cursor"),
            ("per_page=20", "per_page"),
            ("page=201&per_page=50", "page"),
            ("page=0", "page"),
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=abc", "limit"),
            ("sort=password", "sort"),
            ("status=sleeping", "status"),
            ("colour=blue", "colour"),
        ] {
            let r = app.authed(Method::GET, &format!("/api/v1/users?{query}"), &token).send().await.unwrap();
            let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
            assert_eq!(p["errors"][0]["field"], field, "{query}");
        }
        // A cursor made for one sort is refused under another.
        let page: serde_json::Value = app.get_ok("/api/v1/users?limit=1&sort=email", &token).await;
        let cursor = page["next_cursor"].as_str().expect("more than one user, so a next cursor");
        let r = app
            .authed(Method::GET, &format!("/api/v1/users?limit=1&sort=last_name&cursor={cursor}"), &token)
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;

        let r = app
            .authed(Method::PUT, "/api/v1/users/not-a-uuid/licenses", &token)
            .json(&json!({"products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

        assert_eq!(app.user_count(&token).await, before, "{}: nothing was created", app.engine);
        app.finish().await;
    }
}
