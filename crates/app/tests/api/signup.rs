//! Self sign-up over HTTP (SPEC §8.2): an address of an allowed domain signs up, gets a
//! verification email, verifies, and logs in as a `standard` member without licenses; other
//! domains, a closed sign-up and a taken address answer alike (202) and change nothing; bad
//! fields and bad tokens are refused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};

const PASSWORD: &str = "a long enough password";

async fn allow_domains(app: &TestApp, token: &str, domains: &[&str]) {
    let r = app
        .authed(Method::PATCH, "/api/v1/org/settings", token)
        .json(&json!({"allowed_signup_domains": domains}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn sign_up(app: &TestApp, email: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/signup")
        .json(&json!({"org": "demo", "email": email, "first_name": "Sam", "last_name": "Signup", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/signup/verify").json(&json!({"token": token})).send().await.unwrap()
}

#[tokio::test]
async fn a_person_of_an_allowed_domain_signs_up_verifies_and_logs_in_as_a_standard_member() {
    for app in apps("signup_allowed").await {
        let admin = app.login().await;
        allow_domains(&app, &admin, &["acme.test"]).await;
        let r = sign_up(&app, "Sam@Acme.test").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            (body["email"].as_str(), body["verification_required"].as_bool()),
            (Some("sam@acme.test"), Some(true))
        );
        // The answer names no account (it is the same when none was made): the admin finds it.
        let found = app.get_ok("/api/v1/users?q=sam%40acme.test&limit=10", &admin).await;
        let id = found["items"][0]["id"].as_str().unwrap().to_owned();

        // Before verification: waiting (invited), and no login.
        let user = app.get_ok(&format!("/api/v1/users/{id}"), &admin).await;
        assert_eq!(user["status"], "invited", "{}", app.engine);
        let r = app
            .request(Method::POST, "/api/v1/session")
            .json(&json!({"org": "demo", "email": "sam@acme.test", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

        let mail = app.mail().await;
        assert_eq!(mail.len(), 1, "{}", app.engine);
        assert_eq!(mail[0].to, "sam@acme.test");
        let token = mail[0].token("/verify-email");
        // A verification token is no invite token.
        let r = app
            .request(Method::POST, "/api/v1/invites/accept")
            .json(&json!({"token": token, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;

        let r = verify(&app, &token).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert_eq!(r.json::<Value>().await.unwrap()["user_id"], id.as_str());
        app.login_to("demo", "sam@acme.test", PASSWORD).await;
        let user = app.get_ok(&format!("/api/v1/users/{id}"), &admin).await;
        assert_eq!((user["invited"].as_bool(), &user["products"]), (Some(false), &json!([])), "{}", app.engine);
        let roles = app.get_ok("/api/v1/roles", &admin).await;
        let standard =
            roles["items"].as_array().unwrap().iter().find(|r| r["key"] == "standard").unwrap()["id"].clone();
        assert_eq!(user["roles"], json!([{"role_id": standard, "scope": null}]));
        // The admin sees the new member in the Users table.
        let found = app.get_ok("/api/v1/users?q=sam%40acme.test&limit=10", &admin).await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1);

        // The token works once; a second sign-up with the address answers alike and changes
        // nothing.
        let r = verify(&app, &token).await;
        assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;
        let users = app.user_count(&admin).await;
        let r = sign_up(&app, "sam@acme.test").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        assert_eq!(app.user_count(&admin).await, users);
        app.finish().await;
    }
}

#[tokio::test]
async fn other_domains_a_closed_sign_up_and_bad_fields_are_refused_and_change_nothing() {
    for app in apps("signup_refused").await {
        let admin = app.login().await;
        allow_domains(&app, &admin, &["acme.test"]).await;
        let users = app.user_count(&admin).await;

        // Refused alike: the answer is the same as for an accepted sign-up (202), only nothing
        // happens.
        let r = sign_up(&app, "eve@elsewhere.test").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        // A subdomain is another domain.
        let r = sign_up(&app, "eve@mail.acme.test").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        let r = app
            .request(Method::POST, "/api/v1/signup")
            .json(&json!({"org": "nowhere", "email": "sam@acme.test", "first_name": "S", "last_name": "S", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        let r = app
            .request(Method::POST, "/api/v1/signup")
            .json(&json!({"org": "Not A Slug!", "email": "sam@", "first_name": "", "last_name": "S", "password": "short"}))
            .send()
            .await
            .unwrap();
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["org", "email", "first_name", "password"], "{}", app.engine);
        let r = app
            .request(Method::POST, "/api/v1/signup")
            .json(&json!({"org": "demo", "email": "sam@acme.test", "first_name": "S", "last_name": "S", "password": PASSWORD, "roles": ["admin"]}))
            .send()
            .await
            .unwrap();
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "roles");

        // Sign-up closes with auto sign-up.
        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &admin)
            .json(&json!({"auto_signup": false, "confirm": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = sign_up(&app, "sam@acme.test").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);

        for bad in ["", "forged-token"] {
            let r = verify(&app, bad).await;
            assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;
        }
        assert_eq!(app.user_count(&admin).await, users, "{}", app.engine);
        assert!(app.mail().await.is_empty(), "{}: no email", app.engine);
        app.finish().await;
    }
}
