//! Passwords over HTTP (SPEC §3, §10): `PUT /users/{id}/password` (set, or mail a reset
//! link), `PUT /me/password`, `POST /password-reset` and `POST /password-reset/confirm`, and an
//! initial password on `POST /users`. Every refused request answers a clear problem and changes
//! nothing: the member's version, password and sessions are checked after it. (The hour a link
//! lives is proved on the domain's clock in `crates/domain/tests/services/passwords.rs`; here
//! the link's row is aged in the database.)

use reqwest::{Method, Response, StatusCode};
use roster_domain::invites::hash_token;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, apps, assert_problem};
use crate::tree_support::{MEMBER_PASSWORD, Member};

const NEW: &str = "a brand new passphrase";

async fn set_password(app: &TestApp, token: &str, user: &str, body: &Value) -> Response {
    app.send(Method::PUT, &format!("/api/v1/users/{user}/password"), token, body).await
}

async fn forgot(app: &TestApp, email: &str) -> Response {
    app.request(Method::POST, "/api/v1/password-reset")
        .json(&json!({"org": "demo", "email": email}))
        .send()
        .await
        .unwrap()
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> Response {
    let body = json!({"token": token, "password": password});
    app.request(Method::POST, "/api/v1/password-reset/confirm").json(&body).send().await.unwrap()
}

/// Whether `email` logs in with `password` (401 otherwise).
async fn logs_in(app: &TestApp, email: &str, password: &str) -> bool {
    let body = json!({"org": "demo", "email": email, "password": password});
    let r = app.request(Method::POST, "/api/v1/session").json(&body).send().await.unwrap();
    match r.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("{}: logging in answered {other}", app.engine),
    }
}

/// Whether `token` is a live session.
async fn is_live(app: &TestApp, token: &str) -> bool {
    let r = app.authed(Method::GET, "/api/v1/me", token).send().await.unwrap();
    match r.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("{}: GET /me answered {other}", app.engine),
    }
}

/// The tokens of the reset links mailed to `email`, in file order.
async fn reset_tokens(app: &TestApp, email: &str) -> Vec<String> {
    app.mail().await.iter().filter(|m| m.to.contains(email)).map(|m| m.token("/reset-password")).collect()
}

fn email_of(local: &str) -> String {
    format!("{local}@demo.example")
}

async fn version(app: &TestApp, admin: &str, user: &str) -> u64 {
    app.get_ok(&format!("/api/v1/users/{user}"), admin).await["version"].as_u64().expect("a version")
}

async fn audit_actions(app: &TestApp, admin: &str) -> Vec<Value> {
    let events = app.get_ok("/api/v1/audit?limit=200", admin).await;
    events["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn an_admin_sets_another_users_password_and_their_sessions_end() {
    for app in apps("admin_sets_a_password").await {
        let admin = app.login().await;
        let ann = app.member(&admin, "ann", &["standard"], &[]).await;
        let before = version(&app, &admin, &ann.id).await;

        let r = set_password(&app, &admin, &ann.id, &json!({"password": NEW})).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["id"], ann.id.as_str());
        assert_eq!(body["version"], before + 1, "{}: a new version", app.engine);
        assert_eq!(etag, Some(format!("\"{}\"", before + 1)), "{}: and its ETag", app.engine);

        assert!(!is_live(&app, &ann.token).await, "{}: ann's session ended", app.engine);
        assert!(!logs_in(&app, &email_of("ann"), MEMBER_PASSWORD).await, "{}: the old password is dead", app.engine);
        assert!(logs_in(&app, &email_of("ann"), NEW).await, "{}: the new one works", app.engine);
        assert!(is_live(&app, &admin).await, "{}: the admin's session stays", app.engine);
        let events = audit_actions(&app, &admin).await;
        let set = events.iter().find(|e| e["action"] == "user.password_set").expect("audited");
        assert_eq!(set["target_id"], ann.id.as_str());
        assert!(!events.iter().any(|e| e.to_string().contains(NEW)), "{}: no password in the log", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn setting_a_password_refuses_bad_input_and_whoever_may_not_and_changes_nothing() {
    for app in apps("set_password_refusals").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let ann = app.member(&admin, "ann", &["standard"], &[&sales]).await;
        let boss = app.member(&admin, "boss", &["admin"], &[&sales]).await;
        let lead = app.member(&admin, "lead", &["standard"], &[&sales]).await;
        let scoped = json!({"roles": [{"role": "admin", "scope": sales}]});
        app.send_ok(Method::PUT, &format!("/api/v1/users/{}/roles", lead.id), &admin, &scoped, StatusCode::OK).await;
        let lead = Member { token: app.login_to("demo", &email_of("lead"), MEMBER_PASSWORD).await, ..lead };
        let before = version(&app, &admin, &ann.id).await;

        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        for (body, status, field) in [
            (json!({}), StatusCode::BAD_REQUEST, "password"),
            (json!({"password": "too short"}), unprocessable, "password"),
            (json!({"password": NEW, "send_reset": true}), unprocessable, "send_reset"),
            (json!({"send_reset": false}), unprocessable, "send_reset"),
            (json!({"pass": NEW}), StatusCode::BAD_REQUEST, "pass"),
            (json!({"password": 12}), StatusCode::BAD_REQUEST, "password"),
        ] {
            let problem =
                assert_problem(set_password(&app, &admin, &ann.id, &body).await, status, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], field, "{}: {body}: {problem}", app.engine);
        }
        let set = json!({"password": NEW});
        let send = json!({"send_reset": true});
        let nobody = "01900000-0000-7000-8000-000000000000";
        for (token, user, body, status, code, why) in [
            (&admin, nobody, &set, StatusCode::NOT_FOUND, "not_found", "no such member"),
            (&admin, "not-a-user", &set, StatusCode::NOT_FOUND, "not_found", "no user id"),
            (&ann.token, boss.id.as_str(), &set, StatusCode::FORBIDDEN, "forbidden", "no manage_users"),
            (&lead.token, boss.id.as_str(), &set, StatusCode::FORBIDDEN, "forbidden", "boss holds more than lead"),
            (&lead.token, boss.id.as_str(), &send, StatusCode::FORBIDDEN, "forbidden", "boss holds more than lead"),
            (
                &boss.token,
                boss.id.as_str(),
                &set,
                StatusCode::FORBIDDEN,
                "forbidden",
                "one's own password needs the current one",
            ),
        ] {
            let problem = assert_problem(set_password(&app, token, user, body).await, status, code).await;
            assert!(problem["detail"].is_string(), "{}: {why}: {problem}", app.engine);
        }
        // The scoped admin covers ann, who holds no more than they do.
        let r = set_password(&app, &lead.token, &ann.id, &json!({"send_reset": true})).await;
        assert_eq!(r.status(), StatusCode::OK, "{}: a member the scoped admin covers", app.engine);

        for member in [&ann, &boss] {
            assert!(is_live(&app, &member.token).await, "{}: no refused request ended a session", app.engine);
        }
        assert_eq!(version(&app, &admin, &ann.id).await, before, "{}: ann is unchanged", app.engine);
        assert!(logs_in(&app, &email_of("ann"), MEMBER_PASSWORD).await);
        assert!(logs_in(&app, &email_of("boss"), MEMBER_PASSWORD).await);
        assert!(reset_tokens(&app, &email_of("boss")).await.is_empty(), "{}: nothing mailed to boss", app.engine);

        // A deactivated member: 409, nothing mailed.
        let r = app.send(Method::POST, &format!("/api/v1/users/{}/deactivate", ann.id), &admin, &json!({})).await;
        assert_eq!(r.status(), StatusCode::OK);
        let mails = reset_tokens(&app, &email_of("ann")).await.len();
        assert_problem(
            set_password(&app, &admin, &ann.id, &json!({"send_reset": true})).await,
            StatusCode::CONFLICT,
            "user_not_active",
        )
        .await;
        assert_eq!(reset_tokens(&app, &email_of("ann")).await.len(), mails, "{}: nothing more mailed", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_reset_link_an_admin_sends_sets_the_password_once_and_ends_the_sessions() {
    for app in apps("admin_sends_a_reset_link").await {
        let admin = app.login().await;
        let ann = app.member(&admin, "ann", &["standard"], &[]).await;
        let before = version(&app, &admin, &ann.id).await;
        let r = set_password(&app, &admin, &ann.id, &json!({"send_reset": true})).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert!(is_live(&app, &ann.token).await, "{}: sending a link ends no session", app.engine);
        assert_eq!(version(&app, &admin, &ann.id).await, before, "{}: nor changes the member", app.engine);
        let mail = app.mail().await;
        let message = mail.iter().find(|m| m.to.contains(&email_of("ann"))).expect("a reset mail");
        assert!(message.text.contains("http://127.0.0.1:8080/reset-password?token="), "{}", message.text);
        assert!(message.subject.contains("Reset your password"), "{}", message.subject);
        let token = message.token("/reset-password");

        let r = confirm(&app, &token, "too short").await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "password");
        assert!(is_live(&app, &ann.token).await, "{}: a refused confirmation changes nothing", app.engine);

        assert_eq!(confirm(&app, &token, NEW).await.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        assert!(!is_live(&app, &ann.token).await, "{}: every session of ann ended", app.engine);
        assert!(logs_in(&app, &email_of("ann"), NEW).await);
        assert_problem(confirm(&app, &token, "yet another passphrase").await, StatusCode::BAD_REQUEST, "invalid_token")
            .await;
        assert!(logs_in(&app, &email_of("ann"), NEW).await, "{}: a used link changes nothing", app.engine);
        let actions: Vec<Value> = audit_actions(&app, &admin).await.iter().map(|e| e["action"].clone()).collect();
        for action in ["user.password_reset_requested", "user.password_reset"] {
            assert!(actions.contains(&json!(action)), "{}: {action} in {actions:?}", app.engine);
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn forgot_password_answers_alike_for_unknown_addresses() {
    for app in apps("forgot_password_alike").await {
        let admin = app.login().await;
        let unknown = forgot(&app, &email_of("zoe")).await;
        assert_eq!(unknown.status(), StatusCode::ACCEPTED, "{}", app.engine);
        let unknown: Value = unknown.json().await.unwrap();

        let zoe = app.member(&admin, "zoe", &["standard"], &[]).await;
        let known = forgot(&app, &email_of("zoe")).await;
        assert_eq!(known.status(), StatusCode::ACCEPTED);
        let known: Value = known.json().await.unwrap();
        assert_eq!(known, unknown, "{}: the same answer whether or not the account exists", app.engine);
        assert_eq!(known, json!({"email": email_of("zoe"), "link_valid_for_seconds": 3600}));
        let r = app
            .request(Method::POST, "/api/v1/password-reset")
            .json(&json!({"org": "nowhere", "email": email_of("zoe")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}: an unknown organization too", app.engine);
        assert_eq!(r.json::<Value>().await.unwrap(), known);

        // A deactivated member is answered alike and sent nothing.
        let dee = app.member(&admin, "dee", &["standard"], &[]).await;
        app.send_ok(Method::POST, &format!("/api/v1/users/{}/deactivate", dee.id), &admin, &json!({}), StatusCode::OK)
            .await;
        assert_eq!(forgot(&app, &email_of("dee")).await.status(), StatusCode::ACCEPTED);

        assert_eq!(reset_tokens(&app, &email_of("zoe")).await.len(), 1, "{}: one mail, after zoe existed", app.engine);
        assert!(reset_tokens(&app, &email_of("dee")).await.is_empty(), "{}: none to dee", app.engine);
        assert!(is_live(&app, &zoe.token).await, "{}: asking ends no session", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn forgot_password_refuses_bad_input_and_is_throttled_per_account_and_per_address() {
    for app in apps("forgot_password_throttled").await {
        let admin = app.login().await;
        app.member(&admin, "ann", &["standard"], &[]).await;
        for (body, field) in [
            (json!({"org": "demo", "email": "not an address"}), "email"),
            (json!({"org": "Not A Slug!", "email": email_of("ann")}), "org"),
        ] {
            let r = app.request(Method::POST, "/api/v1/password-reset").json(&body).send().await.unwrap();
            let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], field, "{}", app.engine);
        }
        let r = app.request(Method::POST, "/api/v1/password-reset").json(&json!({"org": "demo"})).send().await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;

        for _ in 0..5 {
            assert_eq!(forgot(&app, &email_of("ann")).await.status(), StatusCode::ACCEPTED, "{}", app.engine);
        }
        let r = forgot(&app, &email_of("ann")).await;
        let retry_after =
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        assert!(retry_after.is_some_and(|s| s > 0 && s <= 3600), "{}: Retry-After {retry_after:?}", app.engine);
        let problem = assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        assert!(problem["retry_after_seconds"].as_u64().is_some(), "{problem}");
        assert_eq!(
            reset_tokens(&app, &email_of("ann")).await.len(),
            5,
            "{}: the refused request mailed nothing",
            app.engine
        );

        // Per address: 20 an hour across addresses asked for (5 spent above).
        for i in 0..15 {
            assert_eq!(forgot(&app, &email_of(&format!("who{i}"))).await.status(), StatusCode::ACCEPTED);
        }
        assert_problem(forgot(&app, &email_of("zed")).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_reset_link_works_once_expires_after_an_hour_and_is_stored_hashed() {
    for app in apps("reset_link_once_and_expiry").await {
        let admin = app.login().await;
        let ann = app.member(&admin, "ann", &["standard"], &[]).await;
        assert_eq!(forgot(&app, &email_of("ann")).await.status(), StatusCode::ACCEPTED);
        let first = reset_tokens(&app, &email_of("ann")).await.pop().expect("mailed");
        let stored =
            app.query_texts("SELECT token_hash FROM password_resets", "SELECT token_hash FROM password_resets").await;
        assert_eq!(stored, [hash_token(&first)], "{}: only the token's hash is kept", app.engine);
        let outbox = app.query_texts("SELECT message FROM outbox", "SELECT message::text FROM outbox").await;
        assert!(outbox.iter().all(|m| !m.contains(&first)), "{}: the sent mail keeps no token", app.engine);

        // A newer link supersedes the older one.
        assert_eq!(forgot(&app, &email_of("ann")).await.status(), StatusCode::ACCEPTED);
        let second =
            reset_tokens(&app, &email_of("ann")).await.into_iter().find(|t| *t != first).expect("a second link");
        assert_problem(confirm(&app, &first, NEW).await, StatusCode::BAD_REQUEST, "invalid_token").await;

        // An hour later (no API moves time: the row is aged in the database).
        app.execute_sql(
            "UPDATE password_resets SET expires_at = 0",
            "UPDATE password_resets SET expires_at = now() - interval '1 second'",
        )
        .await;
        assert_problem(confirm(&app, &second, NEW).await, StatusCode::BAD_REQUEST, "invalid_token").await;
        assert!(logs_in(&app, &email_of("ann"), MEMBER_PASSWORD).await, "{}: unchanged", app.engine);
        assert!(is_live(&app, &ann.token).await);
        assert_problem(confirm(&app, "forged", NEW).await, StatusCode::BAD_REQUEST, "invalid_token").await;
        let r = app
            .request(Method::POST, "/api/v1/password-reset/confirm")
            .json(&json!({"password": NEW}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;

        // A fresh link works once.
        assert_eq!(forgot(&app, &email_of("ann")).await.status(), StatusCode::ACCEPTED);
        let third = reset_tokens(&app, &email_of("ann"))
            .await
            .into_iter()
            .find(|t| *t != first && *t != second)
            .expect("a third link");
        assert_eq!(confirm(&app, &third, NEW).await.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        assert_problem(confirm(&app, &third, "yet another passphrase").await, StatusCode::BAD_REQUEST, "invalid_token")
            .await;
        assert!(logs_in(&app, &email_of("ann"), NEW).await);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_member_changes_their_own_password_and_their_other_sessions_end() {
    for app in apps("own_password").await {
        let admin = app.login().await;
        let ann = app.member(&admin, "ann", &["standard"], &[]).await;
        let other = app.login_to("demo", &email_of("ann"), MEMBER_PASSWORD).await;
        let path = "/api/v1/me/password";

        let cases = [
            (
                json!({"current_password": "not the password at all", "password": NEW}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "current_password",
            ),
            (
                json!({"current_password": MEMBER_PASSWORD, "password": "too short"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "password",
            ),
            (json!({"password": NEW}), StatusCode::BAD_REQUEST, "current_password"),
        ];
        for (body, status, field) in &cases {
            let problem =
                assert_problem(app.send(Method::PUT, path, &ann.token, body).await, *status, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], *field, "{}: {problem}", app.engine);
        }
        let wrong = app.send(Method::PUT, path, &ann.token, &cases[0].0).await.json::<Value>().await.unwrap();
        assert_eq!(wrong["errors"][0]["code"], "incorrect", "{}", app.engine);
        assert!(is_live(&app, &other).await, "{}: refusals end nothing", app.engine);

        let body = json!({"current_password": MEMBER_PASSWORD, "password": NEW});
        let r = app.send(Method::PUT, path, &ann.token, &body).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        assert!(is_live(&app, &ann.token).await, "{}: the caller's session stays", app.engine);
        assert!(!is_live(&app, &other).await, "{}: the other session ended", app.engine);
        assert!(logs_in(&app, &email_of("ann"), NEW).await);
        let events = audit_actions(&app, &admin).await;
        assert!(events.iter().any(|e| e["action"] == "user.password_changed" && e["actor_id"] == ann.id.as_str()));
        assert!(!events.iter().any(|e| e.to_string().contains(NEW)), "{}: no password in the log", app.engine);

        // An API key acts for its creator but changes no password.
        let key = app
            .send_ok(
                Method::POST,
                "/api/v1/api-keys",
                &admin,
                &json!({"name": "ci", "permissions": ["manage_users"]}),
                StatusCode::CREATED,
            )
            .await;
        let secret = key["secret"].as_str().expect("the secret");
        let body = json!({"current_password": ADMIN_PASSWORD, "password": NEW});
        assert_problem(app.send(Method::PUT, path, secret, &body).await, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(logs_in(&app, "admin@demo.example", ADMIN_PASSWORD).await, "{}: unchanged", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_impersonating_session_can_change_no_password() {
    for app in apps("impersonation_no_password").await {
        let admin = app.login().await;
        let lead = app.member(&admin, "lead", &["admin"], &[]).await;
        let ann = app.member(&admin, "ann", &["standard"], &[]).await;
        let body = json!({"user_id": lead.id, "reason": "ticket 42: check the password screen"});
        let started = app.send_ok(Method::POST, "/api/v1/impersonation", &admin, &body, StatusCode::OK).await;
        let acting = started["token"].as_str().expect("a token").to_owned();

        for body in [json!({"password": NEW}), json!({"send_reset": true})] {
            let r = set_password(&app, &acting, &ann.id, &body).await;
            assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
        let own = json!({"current_password": MEMBER_PASSWORD, "password": NEW});
        assert_problem(
            app.send(Method::PUT, "/api/v1/me/password", &acting, &own).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let new_user = json!({"email": email_of("cleo"), "first_name": "Cleo", "last_name": "New", "password": NEW});
        assert_problem(
            app.send(Method::POST, "/api/v1/users", &acting, &new_user).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;

        assert!(logs_in(&app, &email_of("lead"), MEMBER_PASSWORD).await, "{}: lead's unchanged", app.engine);
        assert!(logs_in(&app, &email_of("ann"), MEMBER_PASSWORD).await, "{}: ann's unchanged", app.engine);
        assert!(reset_tokens(&app, &email_of("ann")).await.is_empty(), "{}: nothing mailed", app.engine);
        let r = app.authed(Method::GET, &format!("/api/v1/users?q={}", email_of("cleo")), &admin).send().await.unwrap();
        assert_eq!(r.json::<Value>().await.unwrap()["items"], json!([]), "{}: no cleo", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_user_created_with_an_initial_password_logs_in_with_it() {
    for app in apps("initial_password").await {
        let admin = app.login().await;
        let count = app.user_count(&admin).await;
        let short = json!({"email": email_of("bo"), "first_name": "Bo", "last_name": "Short", "password": "too short"});
        let problem = assert_problem(
            app.send(Method::POST, "/api/v1/users", &admin, &short).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "password", "{}", app.engine);
        assert_eq!(app.user_count(&admin).await, count, "{}: nobody was created", app.engine);

        let body = json!({"email": email_of("ann"), "first_name": "Ann", "last_name": "Initial", "password": NEW});
        app.send_ok(Method::POST, "/api/v1/users", &admin, &body, StatusCode::CREATED).await;
        assert!(logs_in(&app, &email_of("ann"), NEW).await, "{}: the initial password works", app.engine);
        let events = audit_actions(&app, &admin).await;
        assert!(events.iter().any(|e| e["action"] == "user.password_set"), "{}", app.engine);
        assert!(!events.iter().any(|e| e.to_string().contains(NEW)), "{}: no password in the log", app.engine);
        app.finish().await;
    }
}
