//! Sessions and their defences (SPEC §10, §5, §3), each test named after what it protects:
//! login throttling per account **and** source address with a progressive delay, the same work
//! for unknown accounts as for wrong passwords, the source address in the audit log,
//! impersonating sessions ending with their parent and their impersonator, a member's sessions
//! ending with their deactivation, demotion or password change, and a sign-up that answers
//! alike and is throttled. Another source address is another loopback address (127.0.0.2):
//! the server takes the client's address from the TCP peer, never from `X-Forwarded-For`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster_adapters_http::client_address::TrustedProxies;
use roster_domain::audit::Source;
use roster_domain::invites::hash_token;
use roster_domain::values::Password;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, TestApp, apps, apps_with, assert_problem};
use crate::tenants::member;

const WRONG: &str = "not the right password";

/// A client whose requests come from `127.0.0.<last>`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .expect("builds a client")
}

async fn log_in_from(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
    client
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"org": "demo", "email": email, "password": password}))
        .send()
        .await
        .expect("sends")
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds")
}

async fn status_of(app: &TestApp, token: &str) -> StatusCode {
    app.authed(Method::GET, "/api/v1/me", token).send().await.expect("sends").status()
}

#[tokio::test]
async fn a_wrong_password_from_one_address_does_not_lock_the_owner_out_elsewhere() {
    for app in apps("sessions_lockout_per_address").await {
        let guesser = client_from(2);
        for _ in 0..6 {
            let _ = log_in_from(&app, &guesser, ADMIN_EMAIL, WRONG).await;
        }
        let r = log_in_from(&app, &guesser, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{}: the guesser waits", app.engine);
        let r = log_in_from(&app, &app.client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "{}: the owner logs in from their own address", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn login_failures_are_delayed_progressively() {
    for app in apps("sessions_progressive_delay").await {
        let client = client_from(3);
        for _ in 0..5 {
            let r = log_in_from(&app, &client, ADMIN_EMAIL, WRONG).await;
            assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        }
        let r = log_in_from(&app, &client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let first = retry_after(&r);
        assert_eq!(first, 1, "{}: the first wait is short", app.engine);
        assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = log_in_from(&app, &client, ADMIN_EMAIL, WRONG).await;
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let r = log_in_from(&app, &client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry_after(&r), 2, "{}: one more failure doubles the wait", app.engine);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = log_in_from(&app, &client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "{}: after the wait the right password works", app.engine);
        app.finish().await;
    }
}

/// The median time of `n` login attempts.
async fn median_login(app: &TestApp, client: &reqwest::Client, org: &str, email: &str, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = client
            .post(format!("{}/api/v1/session", app.base))
            .json(&json!({"org": org, "email": email, "password": WRONG}))
            .send()
            .await
            .expect("sends");
        times.push(started.elapsed());
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{}: never throttled here", app.engine);
    }
    times.sort();
    times[n / 2]
}

#[tokio::test]
async fn unknown_accounts_take_as_long_as_wrong_passwords() {
    for app in apps("sessions_timing").await {
        // A fresh address per series, and four tries each: no throttle is reached.
        let wrong_password = median_login(&app, &client_from(10), "demo", ADMIN_EMAIL, 4).await;
        let unknown_email = median_login(&app, &client_from(11), "demo", "nobody@demo.example", 4).await;
        let unknown_org = median_login(&app, &client_from(12), "nowhere", ADMIN_EMAIL, 4).await;
        for (what, took) in [("an unknown email", unknown_email), ("an unknown organization", unknown_org)] {
            assert!(
                took * 3 >= wrong_password,
                "{}: {what} took {took:?}, a wrong password {wrong_password:?}: the hash was skipped",
                app.engine
            );
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn login_failed_records_the_source_address() {
    for app in apps("sessions_audit_address").await {
        let r = log_in_from(&app, &client_from(4), ADMIN_EMAIL, WRONG).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let token = app.login().await;
        let events = app.get_ok("/api/v1/audit?limit=50", &token).await;
        let events = events["items"].as_array().expect("items");
        let failed = events.iter().find(|e| e["action"] == "session.login_failed").expect("audited");
        assert_eq!(failed["details"]["source_address"], "127.0.0.4", "{}", app.engine);
        let succeeded = events.iter().find(|e| e["action"] == "session.login_succeeded").expect("audited");
        assert_eq!(succeeded["details"]["source_address"], "127.0.0.1", "{}", app.engine);
        app.finish().await;
    }
}

/// Behind a proxy the operator trusts, the client is the address the proxy forwarded for (the
/// throttles and the audit log see it); from any other peer the header is ignored, so a client
/// cannot pick its own address.
#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_anyone_else_cannot() {
    let options = Options { trusted_proxies: TrustedProxies::parse("127.0.0.5/32").unwrap(), ..Options::default() };
    for app in apps_with("sessions_trusted_proxy", &options).await {
        let forwarded = |client: &reqwest::Client| {
            client
                .post(format!("{}/api/v1/session", app.base))
                .header("x-forwarded-for", "192.0.2.1, 198.51.100.7")
                .json(&json!({"org": "demo", "email": ADMIN_EMAIL, "password": WRONG}))
                .send()
        };
        assert_eq!(forwarded(&client_from(5)).await.expect("sends").status(), StatusCode::UNAUTHORIZED);
        assert_eq!(forwarded(&client_from(6)).await.expect("sends").status(), StatusCode::UNAUTHORIZED);
        let token = app.login().await;
        let events = app.get_ok("/api/v1/audit?limit=50", &token).await;
        let addresses: Vec<&str> = events["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["action"] == "session.login_failed")
            .filter_map(|e| e["details"]["source_address"].as_str())
            .collect();
        assert!(addresses.contains(&"198.51.100.7"), "{}: the proxy's client: {addresses:?}", app.engine);
        assert!(addresses.contains(&"127.0.0.6"), "{}: an untrusted peer is its own client: {addresses:?}", app.engine);
        assert!(!addresses.contains(&"192.0.2.1"), "{}: the forged entry: {addresses:?}", app.engine);
        app.finish().await;
    }
}

async fn impersonate(app: &TestApp, token: &str, user_id: &str) -> String {
    let r = app
        .authed(Method::POST, "/api/v1/impersonation", token)
        .json(&json!({"user_id": user_id, "reason": "support ticket"}))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::OK, "{}: impersonates", app.engine);
    let body: Value = r.json().await.expect("json");
    body["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn an_impersonating_session_ends_with_the_session_that_started_it() {
    for app in apps("sessions_impersonation_parent").await {
        let admin = app.login().await;
        let (_, ann) = member(&app, "demo", "ann@demo.example", "standard").await;
        let acting = impersonate(&app, &admin, &ann).await;
        assert_eq!(status_of(&app, &acting).await, StatusCode::OK);
        let r = app.authed(Method::DELETE, "/api/v1/session", &admin).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(status_of(&app, &acting).await, StatusCode::UNAUTHORIZED, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_impersonating_session_ends_when_the_impersonator_is_deactivated() {
    for app in apps("sessions_impersonator_deactivated").await {
        let admin = app.login().await;
        let (boss, boss_id) = member(&app, "demo", "boss@demo.example", "admin").await;
        let (_, ann) = member(&app, "demo", "ann@demo.example", "standard").await;
        let acting = impersonate(&app, &boss, &ann).await;
        assert_eq!(status_of(&app, &acting).await, StatusCode::OK);
        let r = app
            .authed(Method::POST, &format!("/api/v1/users/{boss_id}/deactivate"), &admin)
            .json(&json!({}))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(status_of(&app, &acting).await, StatusCode::UNAUTHORIZED, "{}", app.engine);
        assert_eq!(status_of(&app, &boss).await, StatusCode::UNAUTHORIZED);
        app.finish().await;
    }
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions_and_reactivating_does_not_revive_them() {
    for app in apps("sessions_deactivation").await {
        let admin = app.login().await;
        let (ann, ann_id) = member(&app, "demo", "ann@demo.example", "standard").await;
        assert_eq!(status_of(&app, &ann).await, StatusCode::OK);
        let path = format!("/api/v1/users/{ann_id}");
        let r = app.authed(Method::POST, &format!("{path}/deactivate"), &admin).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.authed(Method::POST, &format!("{path}/reactivate"), &admin).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}: reactivates", app.engine);
        assert_eq!(status_of(&app, &ann).await, StatusCode::UNAUTHORIZED, "{}: the old token is dead", app.engine);
        app.login_to("demo", "ann@demo.example", ADMIN_PASSWORD).await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    for app in apps("sessions_password_change").await {
        let (mine, _) = member(&app, "demo", "ann@demo.example", "standard").await;
        let other = app.login_to("demo", "ann@demo.example", ADMIN_PASSWORD).await;
        let me = app.services.authenticate(&mine, Source::Api).await.expect("authenticates");
        let password = Password::parse("a brand new password").expect("a password");
        app.services.change_own_password(&me.actor, &password, Some(&hash_token(&mine))).await.expect("changes");
        assert_eq!(status_of(&app, &mine).await, StatusCode::OK, "{}: the caller's session stays", app.engine);
        assert_eq!(status_of(&app, &other).await, StatusCode::UNAUTHORIZED, "{}: the other ends", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn demotion_ends_sessions() {
    for app in apps("sessions_demotion").await {
        let admin = app.login().await;
        let (_, ann_id) = member(&app, "demo", "ann@demo.example", "standard").await;
        let grants = |permissions: &[&str]| json!({"permissions": permissions, "group_access": []});
        let path = format!("/api/v1/users/{ann_id}/grants");
        let r = app.authed(Method::PUT, &path, &admin).json(&grants(&["view_reporting"])).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}: grants", app.engine);
        let ann = app.login_to("demo", "ann@demo.example", ADMIN_PASSWORD).await;
        let r = app.authed(Method::PUT, &path, &admin).json(&grants(&["view_reporting", "audio_scoring"])).send().await;
        assert_eq!(r.unwrap().status(), StatusCode::OK);
        assert_eq!(status_of(&app, &ann).await, StatusCode::OK, "{}: a promotion keeps the session", app.engine);
        let r = app.authed(Method::PUT, &path, &admin).json(&grants(&["audio_scoring"])).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}: demotes", app.engine);
        assert_eq!(status_of(&app, &ann).await, StatusCode::UNAUTHORIZED, "{}", app.engine);
        app.finish().await;
    }
}

async fn sign_up(app: &TestApp, client: &reqwest::Client, org: &str, email: &str) -> reqwest::Response {
    client
        .post(format!("{}/api/v1/signup", app.base))
        .json(&json!({"org": org, "email": email, "first_name": "Sam", "last_name": "Signup",
            "password": "a long enough password"}))
        .send()
        .await
        .expect("sends")
}

#[tokio::test]
async fn sign_up_answers_alike_and_is_throttled() {
    for app in apps("sessions_signup_alike").await {
        let admin = app.login().await;
        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &admin)
            .json(&json!({"allowed_signup_domains": ["acme.test"]}))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::OK);
        let client = client_from(5);
        let mut answers = Vec::new();
        for (org, email) in [
            ("demo", "sam@acme.test"),
            ("demo", "sam@acme.test"),
            ("demo", "sam@elsewhere.test"),
            ("nowhere", "sam@acme.test"),
            ("demo", ADMIN_EMAIL),
        ] {
            let r = sign_up(&app, &client, org, email).await;
            let status = r.status();
            let mut body: Value = r.json().await.expect("json");
            body["email"] = Value::Null;
            answers.push((status, body));
        }
        assert_eq!(answers[0].0, StatusCode::ACCEPTED, "{}", app.engine);
        assert!(answers.iter().all(|a| *a == answers[0]), "{}: every answer alike: {answers:?}", app.engine);
        let mut last = StatusCode::ACCEPTED;
        for i in 0..10 {
            last = sign_up(&app, &client, "demo", &format!("x{i}@acme.test")).await.status();
            if last == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "{}: throttled per address", app.engine);
        let r = sign_up(&app, &client_from(6), "demo", "late@acme.test").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}: another address is not", app.engine);
        app.finish().await;
    }
}
