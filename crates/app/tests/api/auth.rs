//! Authentication and tenancy: no credentials → 401; sessions by bearer and by cookie (with
//! the CSRF header on writes); logout ends the session; another organization's users are 404;
//! request ids are echoed; the service endpoints answer.

use reqwest::{Method, StatusCode};
use roster_domain::audit::Source;
use roster_domain::org::OrgSettings;
use roster_domain::services::{NewAdmin, NewOrganization};
use roster_domain::values::{Email, Label, Password, PersonName, Slug};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, apps, assert_problem};

#[tokio::test]
async fn requests_without_valid_credentials_are_401_problems() {
    for app in apps("unauthenticated").await {
        let r = app.request(Method::GET, "/api/v1/users").send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let r = app.authed(Method::GET, "/api/v1/me", "forged-token").send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let r = app.authed(Method::GET, "/api/v1/me", "rk_forged").send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let r = app
            .request(Method::POST, "/api/v1/session")
            .json(&json!({"org": "demo", "email": ADMIN_EMAIL, "password": "wrong password!!"}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let r = app
            .request(Method::POST, "/api/v1/session")
            .json(&json!({"org": "nowhere", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_cookie_session_needs_the_csrf_header_to_write_and_logout_ends_it() {
    for app in apps("cookie_session").await {
        let r = app
            .request(Method::POST, "/api/v1/auth/login")
            .json(&json!({"org": "demo", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let token = cookie.split_once('=').unwrap().1.to_owned();

        let r = app.request(Method::GET, "/api/v1/me").header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body = json!({"email": "csrf@demo.example", "first_name": "C", "last_name": "S"});
        let r = app.request(Method::POST, "/api/v1/users").header("cookie", &cookie).json(&body).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app
            .request(Method::POST, "/api/v1/users")
            .header("cookie", &cookie)
            .header("x-requested-with", "roster-console")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);

        let r = app.authed(Method::DELETE, "/api/v1/session", &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::GET, "/api/v1/me", &token).send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_member_of_another_organization_gets_404_for_its_users() {
    for app in apps("tenant_isolation").await {
        let demo = app.login().await;
        let demo_user = app.create_user(&demo, "private@demo.example").await;
        let demo_id = demo_user["id"].as_str().unwrap().to_owned();

        let other = NewOrganization {
            name: Label::parse("Other").unwrap(),
            slug: Slug::parse("other").unwrap(),
            trial_ends_at: None,
            settings: OrgSettings::default(),
        };
        app.services.create_organization(Source::Cli, other).await.expect("creates the other organization");
        let admin = NewAdmin {
            org: Slug::parse("other").unwrap(),
            email: Email::parse("boss@other.example").unwrap(),
            first_name: PersonName::parse("Other").unwrap(),
            last_name: PersonName::parse("Boss").unwrap(),
            password: Password::parse(ADMIN_PASSWORD).unwrap(),
        };
        app.services.create_admin(Source::Cli, admin).await.expect("creates the other admin");
        let other = app.login_to("other", "boss@other.example", ADMIN_PASSWORD).await;

        let path = format!("/api/v1/users/{demo_id}");
        let r = app.authed(Method::GET, &path, &other).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app.authed(Method::PATCH, &path, &other).json(&json!({"first_name": "Hacked"})).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app
            .authed(Method::PUT, &format!("{path}/licenses"), &other)
            .json(&json!({"products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let list: Value = app.get_ok("/api/v1/users?limit=200", &other).await;
        let emails: Vec<&str> =
            list["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["boss@other.example"], "{}", app.engine);

        let still: Value = app.get_ok(&path, &demo).await;
        assert_eq!(still["first_name"], "Test", "{}: unchanged", app.engine);
        assert_eq!(still["products"], json!([]));
        app.finish().await;
    }
}

#[tokio::test]
async fn service_endpoints_answer_and_request_ids_are_echoed() {
    for app in apps("service").await {
        let r = app.request(Method::GET, "/healthz").header("x-request-id", "trace-me-1").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-request-id"], "trace-me-1");
        let r = app.request(Method::GET, "/readyz").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(!r.headers()["x-request-id"].is_empty(), "an id is generated when none is sent");
        let doc: Value = app.request(Method::GET, "/openapi.json").send().await.unwrap().json().await.unwrap();
        assert!(doc["paths"]["/api/v1/users/{id}/licenses"]["put"].is_object());
        let r = app.request(Method::GET, "/api/v1/no-such-thing").send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}
