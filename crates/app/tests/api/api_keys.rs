//! `GET|POST /api-keys`, `DELETE /api-keys/{id}` (SPEC §7.4): the secret shown once and usable
//! as a bearer, revocation, isolation, permissions, bad input, and a retried creation that never
//! shows the secret twice.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{apps, assert_problem};
use crate::tenants::{member, other_org};

#[tokio::test]
async fn a_key_is_shown_once_authenticates_with_its_permissions_and_stops_when_revoked() {
    for app in apps("api_keys").await {
        let token = app.login().await;
        let r = app
            .authed(Method::POST, "/api/v1/api-keys", &token)
            .json(&json!({"name": "Billing sync", "permissions": ["manage_licenses"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let created: Value = r.json().await.unwrap();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("rk_"));
        let id = created["id"].as_str().unwrap().to_owned();

        let list = app.get_ok("/api/v1/api-keys", &token).await;
        let listed = &list["items"][0];
        assert_eq!((listed["id"].as_str(), listed["name"].as_str()), (Some(id.as_str()), Some("Billing sync")));
        assert!(listed.get("secret").is_none(), "{}: never listed", app.engine);
        assert!(!list.to_string().contains(&secret));

        // The key reads what its permission allows, and nothing else.
        let licenses = app.get_ok("/api/v1/licenses", &secret).await;
        assert_eq!(licenses["total"], 4);
        let r = app.authed(Method::GET, "/api/v1/audit", &secret).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        let r = app.authed(Method::DELETE, &format!("/api/v1/api-keys/{id}"), &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::GET, "/api/v1/licenses", &secret).send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let list = app.get_ok("/api/v1/api-keys", &token).await;
        assert!(list["items"][0]["revoked_at"].is_string(), "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_retried_creation_never_shows_the_secret_twice_nor_creates_two_keys() {
    for app in apps("api_keys_idempotent").await {
        let token = app.login().await;
        let body = json!({"name": "Once"});
        let send = || {
            app.authed(Method::POST, "/api/v1/api-keys", &token)
                .header("idempotency-key", "key-once")
                .json(&body)
                .send()
        };
        let r = send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let secret = r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
        let r = send().await.unwrap();
        let problem = assert_problem(r, StatusCode::CONFLICT, "idempotency_replay_unavailable").await;
        assert!(!problem.to_string().contains(&secret));
        assert_eq!(
            app.get_ok("/api/v1/api-keys", &token).await["items"].as_array().unwrap().len(),
            1,
            "{}",
            app.engine
        );
        app.finish().await;
    }
}

#[tokio::test]
async fn keys_are_scoped_to_the_organization_and_need_manage_api_keys() {
    for app in apps("api_keys_isolation").await {
        let token = app.login().await;
        let r =
            app.authed(Method::POST, "/api/v1/api-keys", &token).json(&json!({"name": "Ours"})).send().await.unwrap();
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let other = other_org(&app, "other").await;
        assert!(app.get_ok("/api/v1/api-keys", &other).await["items"].as_array().unwrap().is_empty(), "{}", app.engine);
        let r = app.authed(Method::DELETE, &format!("/api/v1/api-keys/{id}"), &other).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        assert!(
            app.get_ok("/api/v1/api-keys", &token).await["items"][0]["revoked_at"].is_null(),
            "{}: still active",
            app.engine
        );

        let (standard, _) = member(&app, "demo", "standard@demo.example", "standard").await;
        let r = app.authed(Method::GET, "/api/v1/api-keys", &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app
            .authed(Method::POST, "/api/v1/api-keys", &standard)
            .json(&json!({"name": "Mine"}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/api-keys/{id}"), &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        for (body, status, field) in [
            (json!({"name": ""}), 422, "name"),
            (json!({"name": "X", "permissions": ["fly"]}), 422, "permissions[0]"),
            (json!({"name": "X", "secret": "rk_mine"}), 400, "secret"),
            (json!({"permissions": []}), 400, "name"),
        ] {
            let r = app.authed(Method::POST, "/api/v1/api-keys", &token).json(&body).send().await.unwrap();
            let problem = assert_problem(r, StatusCode::from_u16(status).unwrap(), "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], field, "{}: {body}", app.engine);
        }
        let r = app
            .authed(Method::POST, "/api/v1/api-keys", &token)
            .json(&json!({"name": "X", "group_id": "00000000-0000-0000-0000-000000000009"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}: an unknown group", app.engine);
        let r = app.authed(Method::DELETE, "/api/v1/api-keys/not-a-uuid", &token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(
            app.get_ok("/api/v1/api-keys", &token).await["items"].as_array().unwrap().len(),
            1,
            "{}",
            app.engine
        );
        app.finish().await;
    }
}
