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

#[tokio::test]
async fn a_search_longer_than_256_characters_is_refused_wherever_the_users_filter_is_taken() {
    for app in apps("long_search").await {
        let token = app.login().await;
        let longest = "a".repeat(256);
        let page = app.get_ok(&format!("/api/v1/users?q={longest}"), &token).await;
        assert_eq!(page["items"], json!([]), "{}: 256 characters is a search", app.engine);
        // Counted in characters, not bytes: 256 two-byte letters are a search too.
        app.get_ok(&format!("/api/v1/users?q={}", "é".repeat(256)), &token).await;

        for q in ["a".repeat(257), "x".repeat(50_000)] {
            for path in ["/api/v1/users", "/api/v1/users/export.csv"] {
                let r = app.authed(Method::GET, path, &token).query(&[("q", &q)]).send().await.unwrap();
                let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
                assert_eq!((&p["errors"][0]["field"], &p["errors"][0]["code"]), (&json!("q"), &json!("too_long")));
            }
            let r = app
                .authed(Method::POST, "/api/v1/users/bulk", &token)
                .json(&json!({"filter": {"q": q}, "action": "set_flow_enabled", "flow_enabled": false}))
                .send()
                .await
                .unwrap();
            let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(p["errors"][0]["field"], "q", "{}: bulk by filter", app.engine);
            let r = app
                .authed(Method::POST, "/api/v1/saved-views", &token)
                .json(&json!({"name": "Long", "per_page": 10, "filter": {"q": q}}))
                .send()
                .await
                .unwrap();
            let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(p["errors"][0]["field"], "q", "{}: saved view", app.engine);
        }
        let views = app.get_ok("/api/v1/saved-views", &token).await;
        assert_eq!(views["items"], json!([]), "{}: no view was saved", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_unknown_role_in_the_users_filter_is_named_on_every_face() {
    for app in apps("unknown_role_filter").await {
        let token = app.login().await;
        for role in ["emperor", "Not A Key"] {
            for path in ["/api/v1/users", "/api/v1/users/export.csv"] {
                let r = app.authed(Method::GET, path, &token).query(&[("role", role)]).send().await.unwrap();
                let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
                assert_eq!(p["errors"][0]["field"], "role", "{}: {path}?role={role}", app.engine);
                assert_eq!(p["errors"][0]["code"], "unknown_role");
                assert_eq!(p["errors"][0]["message"], format!("no role `{role}`"));
            }
            let r = app
                .authed(Method::POST, "/api/v1/users/bulk", &token)
                .json(&json!({"filter": {"role": role}, "action": "set_flow_enabled", "flow_enabled": false}))
                .send()
                .await
                .unwrap();
            let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(p["errors"][0]["code"], "unknown_role", "{}: bulk", app.engine);
        }
        // A role by key or by id selects its holders.
        let admins = app.get_ok("/api/v1/users?role=admin", &token).await;
        assert_eq!(admins["items"].as_array().unwrap().len(), 1, "{}", app.engine);
        let role_id = admins["items"][0]["roles"][0]["role_id"].as_str().unwrap().to_owned();
        let by_id = app.get_ok(&format!("/api/v1/users?role={role_id}"), &token).await;
        assert_eq!(by_id["items"], admins["items"], "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_missing_prerequisite_is_explained_in_words() {
    for app in apps("prerequisite_words").await {
        let token = app.login().await;
        let user = app.create_user(&token, "sms@demo.example").await;
        let id = user["id"].as_str().unwrap();
        let r = app
            .authed(Method::PUT, &format!("/api/v1/users/{id}/licenses"), &token)
            .json(&json!({"products": ["sms"]}))
            .send()
            .await
            .unwrap();
        let p = assert_problem(r, StatusCode::CONFLICT, "missing_prerequisite").await;
        assert_eq!(p["detail"], "sms requires core and dialer", "{}", app.engine);
        assert_eq!(p["missing"], json!(["core", "dialer"]));
        app.finish().await;
    }
}

#[tokio::test]
async fn a_request_whose_body_breaks_the_document_is_refused_for_its_shape_before_its_preconditions() {
    for app in apps("shape_before_preconditions").await {
        let token = app.login().await;
        let user = app.create_user(&token, "shape@demo.example").await;
        let id = user["id"].as_str().unwrap();
        let send = |path: String, body: &'static str, if_match: &'static str| {
            app.authed(Method::POST, &path, &token)
                .header("content-type", "application/json")
                .header("if-match", if_match)
                .body(body)
                .send()
        };
        // A bare number where an object is expected, with an If-Match that can never match.
        let r = send(format!("/api/v1/users/{id}/reactivate"), "5", "\"nonsense\"").await.unwrap();
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["code"], "invalid_type", "{}: {p}", app.engine);
        let r = send(format!("/api/v1/users/{id}/deactivate"), "[]", "\"1\"").await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        // A well-formed body meets the precondition check.
        let r = send(format!("/api/v1/users/{id}/deactivate"), "{}", "\"nonsense\"").await.unwrap();
        assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        assert_ne!(app.get_ok(&format!("/api/v1/users/{id}"), &token).await["status"], "deactivated");
        app.finish().await;
    }
}
