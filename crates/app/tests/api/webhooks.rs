//! `/api/v1/events` and `/api/v1/webhooks` (SPEC §9.1) end to end: a real receiver on loopback
//! gets every change, signed by the Standard Webhooks scheme (checked by Roster's verifier and by
//! the Standard Webhooks project's own Python library), in order; retries keep the `webhook-id`;
//! `410 Gone` disables; a hanging receiver costs one timeout; a restart during a delivery loses
//! nothing; two servers on one database deliver each event once; replay since a time; bad URLs
//! are refused and nothing is stored.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use reqwest::{Method, StatusCode};
use roster_app::system::SystemClock;
use roster_app::webhooks::WebhookConfig;
use roster_domain::ports::Clock as _;
use roster_domain::webhooks::{DEFAULT_TOLERANCE, DeliverySchedule, verify_signature};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, apps_with, assert_problem};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the receiver answers, in order; then 200.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    Status(u16),
    Hang,
}

#[derive(Default)]
struct Script {
    answers: Vec<Answer>,
    received: Vec<Received>,
}

/// An HTTP receiver on 127.0.0.1.
pub(crate) struct Receiver {
    pub(crate) url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    pub(crate) async fn start(answers: Vec<Answer>) -> Self {
        let script = Arc::new(Mutex::new(Script { answers, received: Vec::new() }));
        let app = axum::Router::new().route("/hook", post(receive)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}/hook", listener.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, script }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.script.lock().expect("not poisoned").received.clone()
    }

    /// Waits until `n` requests arrived (at most 20 s).
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} requests, not {n}", self.received().len());
    }
}

async fn receive(State(script): State<Arc<Mutex<Script>>>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let answer = {
        let mut script = script.lock().expect("not poisoned");
        script.received.push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: body.to_vec(),
        });
        if script.answers.is_empty() { Answer::Status(200) } else { script.answers.remove(0) }
    };
    match answer {
        Answer::Status(code) => AxumStatus::from_u16(code).unwrap_or(AxumStatus::OK),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            AxumStatus::OK
        }
    }
}

/// Delivery as tests need it: loopback allowed, quick ticks and retries, a 2 s timeout.
fn options() -> Options {
    let schedule = DeliverySchedule {
        delays: vec![Duration::from_millis(200).try_into().expect("fits"); 7],
        jitter: 0.0,
        lease: time::Duration::seconds(10),
    };
    let webhooks = WebhookConfig {
        allow_insecure: true,
        request_timeout: Duration::from_secs(2),
        interval: Duration::from_millis(50),
        schedule,
        ..WebhookConfig::default()
    };
    Options { webhooks, ..Options::default() }
}

/// Registers an endpoint; answers its id and secret.
pub(crate) async fn register(app: &TestApp, token: &str, url: &str, types: &[&str]) -> (String, String) {
    let r = app
        .authed(Method::POST, "/api/v1/webhooks", token)
        .json(&json!({ "url": url, "event_types": types }))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
    let body: Value = r.json().await.expect("JSON");
    (body["id"].as_str().expect("an id").to_owned(), body["secret"].as_str().expect("a secret").to_owned())
}

pub(crate) async fn create_group(app: &TestApp, token: &str, name: &str) {
    let groups = app.get_ok("/api/v1/groups", token).await;
    let root = groups["items"][0]["id"].as_str().expect("the root").to_owned();
    let r = app
        .authed(Method::POST, "/api/v1/groups", token)
        .json(&json!({ "name": name, "parent_id": root }))
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
}

fn verifies(secret: &str, r: &Received) -> bool {
    verify_signature(secret, &r.id, &r.timestamp, &r.signature, &r.body, SystemClock.now(), DEFAULT_TOLERANCE)
}

/// Verifies every request with the Standard Webhooks project's reference implementation (its
/// Python package `standardwebhooks`). Missing, it fails: CI installs it (`.ci/run`).
fn verify_with_reference_library(secret: &str, requests: &[Received]) {
    let payload: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "headers": { "webhook-id": r.id, "webhook-timestamp": r.timestamp, "webhook-signature": r.signature },
                "body": String::from_utf8(r.body.clone()).expect("UTF-8"),
            })
        })
        .collect();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
data = json.load(sys.stdin)
hook = Webhook(data["secret"])
for r in data["requests"]:
    hook.verify(r["body"].encode(), r["headers"])
    try:
        hook.verify((r["body"] + " ").encode(), r["headers"])
        sys.exit("a tampered body verified")
    except Exception:
        pass
print(len(data["requests"]))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (CI installs it with the standardwebhooks package: see .ci/run)");
    let input = json!({ "secret": secret, "requests": payload }).to_string();
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), input.as_bytes()).expect("writes");
    let output = child.wait_with_output().expect("python3 ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Standard Webhooks reference library refused Roster's signatures (or is missing: \
         `pip install standardwebhooks`): {stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), requests.len().to_string());
}

#[tokio::test]
async fn every_change_arrives_signed_in_order_and_verifies_with_the_reference_library() {
    for app in apps_with("webhooks_delivery", &options()).await {
        let token = app.login().await;
        let receiver = Receiver::start(Vec::new()).await;
        let (_, secret) = register(&app, &token, &receiver.url, &[]).await;
        let start = app.get_ok("/api/v1/events?limit=200", &token).await;
        let after = start["next_cursor"].as_str().expect("a cursor").to_owned();
        create_group(&app, &token, "Sales").await;
        let user = app.create_user(&token, "hooked@demo.example").await;
        let id = user["id"].as_str().expect("an id");
        let r =
            app.authed(Method::POST, &format!("/api/v1/users/{id}/deactivate"), &token).json(&json!({})).send().await;
        assert_eq!(r.expect("sends").status(), StatusCode::OK);

        let feed = app.get_ok(&format!("/api/v1/events?after={after}&limit=200"), &token).await;
        let expected: Vec<Value> = feed["items"].as_array().expect("items").clone();
        assert!(expected.len() >= 3, "{}: {feed}", app.engine);
        let got = receiver.wait_for(expected.len()).await;
        let bodies: Vec<Value> = got.iter().map(Received::json).collect();
        assert_eq!(bodies, expected, "{}: every event, in order, as the feed shows it", app.engine);
        let actions: Vec<&str> = bodies.iter().filter_map(|b| b["action"].as_str()).collect();
        assert!(actions.contains(&"group.created") && actions.contains(&"user.deactivated"), "{actions:?}");
        assert!(bodies.windows(2).all(|w| w[0]["position"].as_u64() < w[1]["position"].as_u64()));
        for r in &got {
            assert!(verifies(&secret, r), "{}: {r:?}", app.engine);
            assert_eq!(r.id, r.json()["id"].as_str().expect("an id"), "webhook-id is the event id");
        }
        verify_with_reference_library(&secret, &got);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_the_same_webhook_id_until_it_succeeds() {
    for app in apps_with("webhooks_retry", &options()).await {
        let token = app.login().await;
        let receiver = Receiver::start(vec![Answer::Status(500), Answer::Status(503), Answer::Status(502)]).await;
        let (hook, _) = register(&app, &token, &receiver.url, &["group.*"]).await;
        create_group(&app, &token, "Retried").await;
        create_group(&app, &token, "Next").await;
        let got = receiver.wait_for(5).await;
        let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
        assert!(ids[..4].iter().all(|id| *id == ids[0]), "{}: the same event four times: {ids:?}", app.engine);
        assert_ne!(ids[4], ids[0], "then the next event");
        let log = app.get_ok(&format!("/api/v1/webhooks/{hook}/deliveries"), &token).await;
        let first = log["items"].as_array().expect("items").last().expect("a row").clone();
        assert_eq!((first["state"].as_str(), first["attempts"].as_u64()), (Some("sent"), Some(4)), "{log}");
        assert_eq!(first["response_status"], 200);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_receiver_answering_410_disables_its_endpoint() {
    for app in apps_with("webhooks_gone", &options()).await {
        let token = app.login().await;
        let receiver = Receiver::start(vec![Answer::Status(410)]).await;
        let (hook, _) = register(&app, &token, &receiver.url, &["group.*"]).await;
        create_group(&app, &token, "Gone").await;
        receiver.wait_for(1).await;
        let mut endpoint = Value::Null;
        for _ in 0..100 {
            endpoint = app.get_ok(&format!("/api/v1/webhooks/{hook}"), &token).await;
            if endpoint["enabled"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!((endpoint["enabled"].as_bool(), endpoint["disabled_reason"].as_str()), (Some(false), Some("gone")));
        create_group(&app, &token, "Later").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), 1, "{}: nothing more", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_hanging_receiver_costs_one_timeout_not_a_stuck_queue() {
    for app in apps_with("webhooks_hang", &options()).await {
        let token = app.login().await;
        let receiver = Receiver::start(vec![Answer::Hang]).await;
        register(&app, &token, &receiver.url, &["group.*"]).await;
        let started = std::time::Instant::now();
        create_group(&app, &token, "Slow").await;
        create_group(&app, &token, "Next").await;
        let got = receiver.wait_for(3).await;
        assert!(started.elapsed() < Duration::from_secs(10), "{}: {:?}", app.engine, started.elapsed());
        assert_eq!(got[0].id, got[1].id, "the timed-out event again, then the next");
        assert_ne!(got[2].id, got[1].id);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_server_stopped_during_a_delivery_loses_nothing_after_a_restart() {
    // The host's worker looks once, at its start, then sleeps an hour: delivery is by the
    // servers started and stopped below, on its database.
    let mut idle = options();
    idle.webhooks.interval = Duration::from_secs(3600);
    for app in apps_with("webhooks_restart", &idle).await {
        let token = app.login().await;
        let receiver = Receiver::start(vec![Answer::Hang]).await;
        let first = app.sibling(&options()).await;
        register(&first, &token, &receiver.url, &["group.*"]).await;
        create_group(&first, &token, "In flight").await;
        receiver.wait_for(1).await;
        first.finish().await;
        let second = app.sibling(&options()).await;
        let got = receiver.wait_for(2).await;
        assert_eq!(got[0].id, got[1].id, "{}: the same event, after the restart", app.engine);
        let log_path = "/api/v1/webhooks";
        let hooks = second.get_ok(log_path, &token).await;
        let hook = hooks["items"][0]["id"].as_str().expect("an id").to_owned();
        let mut state = Value::Null;
        for _ in 0..100 {
            let log = second.get_ok(&format!("/api/v1/webhooks/{hook}/deliveries"), &token).await;
            state = log["items"][0]["state"].clone();
            if state == "sent" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(state, "sent");
        second.finish().await;
        app.finish().await;
    }
}

#[tokio::test]
async fn two_servers_on_one_database_deliver_each_event_once() {
    for app in apps_with("webhooks_two_servers", &options()).await {
        let token = app.login().await;
        let other = app.sibling(&options()).await;
        let receiver = Receiver::start(Vec::new()).await;
        register(&app, &token, &receiver.url, &["group.*"]).await;
        for i in 0..12 {
            let server = if i % 2 == 0 { &app } else { &other };
            create_group(server, &token, &format!("Group {i}")).await;
        }
        let got = receiver.wait_for(12).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let got_all = receiver.received();
        assert_eq!(got_all.len(), 12, "{}: no event twice: {:?}", app.engine, got.len());
        let positions: Vec<u64> = got_all.iter().filter_map(|r| r.json()["position"].as_u64()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}: in order: {positions:?}", app.engine);
        other.finish().await;
        app.finish().await;
    }
}

#[tokio::test]
async fn replay_since_a_time_sends_exactly_the_events_after_it_again() {
    for app in apps_with("webhooks_replay", &options()).await {
        let token = app.login().await;
        let receiver = Receiver::start(Vec::new()).await;
        let (hook, _) = register(&app, &token, &receiver.url, &["group.*"]).await;
        create_group(&app, &token, "Before").await;
        receiver.wait_for(1).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let since = SystemClock.now().format(&time::format_description::well_known::Rfc3339).expect("formats");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        create_group(&app, &token, "After 1").await;
        create_group(&app, &token, "After 2").await;
        receiver.wait_for(3).await;
        let r = app
            .authed(Method::POST, &format!("/api/v1/webhooks/{hook}/replay"), &token)
            .json(&json!({ "since": since }))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let got = receiver.wait_for(5).await;
        let labels: Vec<String> = got[3..]
            .iter()
            .map(|r| {
                r.json()["target"]["label"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit(" / ")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(labels, ["After 1", "After 2"], "{}", app.engine);
        assert_eq!(got[3].id, got[1].id, "the same webhook-id as the first time");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.received().len(), 5, "nothing else");
        app.finish().await;
    }
}

#[tokio::test]
async fn rotation_test_send_and_the_secret_shown_once() {
    for app in apps_with("webhooks_manage", &options()).await {
        let token = app.login().await;
        let receiver = Receiver::start(Vec::new()).await;
        let (hook, old) = register(&app, &token, &receiver.url, &["user.*"]).await;
        let listed = app.get_ok("/api/v1/webhooks", &token).await;
        assert!(!listed.to_string().contains(&old), "never listed");
        let r = app.authed(Method::POST, &format!("/api/v1/webhooks/{hook}/rotate-secret"), &token).send().await;
        let rotated: Value = r.expect("sends").json().await.expect("JSON");
        let new = rotated["secret"].as_str().expect("a new secret").to_owned();
        assert!(rotated["previous_secret_expires_at"].is_string());
        let r = app.authed(Method::POST, &format!("/api/v1/webhooks/{hook}/test"), &token).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let got = receiver.wait_for(1).await;
        assert_eq!(got[0].json()["action"], "webhook.test");
        assert_eq!(got[0].signature.split(' ').count(), 2, "both secrets sign for a day");
        assert!(verifies(&old, &got[0]) && verifies(&new, &got[0]));
        verify_with_reference_library(&new, &got);
        verify_with_reference_library(&old, &got);
        let r = app
            .authed(Method::PATCH, &format!("/api/v1/webhooks/{hook}"), &token)
            .json(&json!({ "enabled": false, "event_types": ["group.*"] }))
            .send()
            .await
            .expect("sends");
        let patched: Value = r.json().await.expect("JSON");
        assert_eq!((patched["enabled"].as_bool(), patched["disabled_reason"].as_str()), (Some(false), Some("paused")));
        let r = app.authed(Method::DELETE, &format!("/api/v1/webhooks/{hook}"), &token).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::GET, &format!("/api/v1/webhooks/{hook}"), &token).send().await.expect("sends");
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn bad_webhook_urls_are_refused_and_nothing_is_stored() {
    // Production's rules: https only, public addresses only.
    for app in apps_with("webhooks_bad_urls", &Options::default()).await {
        let token = app.login().await;
        let long = format!("https://example.com/{}", "a".repeat(10_000));
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://localhost/hook",
            "http://example.com/hook",
            "file:///etc/passwd",
            "ftp://example.com/hook",
            long.as_str(),
        ] {
            let r = app
                .authed(Method::POST, "/api/v1/webhooks", &token)
                .json(&json!({ "url": url }))
                .send()
                .await
                .expect("sends");
            let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], "url", "{}: {url}: {problem}", app.engine);
        }
        let r = app
            .authed(Method::POST, "/api/v1/webhooks", &token)
            .json(&json!({ "url": "https://example.com/", "event_types": ["not a type"] }))
            .send()
            .await
            .expect("sends");
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let list = app.get_ok("/api/v1/webhooks", &token).await;
        assert_eq!(list["items"], json!([]), "{}: nothing stored", app.engine);
        let r = app.authed(Method::GET, "/api/v1/events?types=bad%20type", &token).send().await.expect("sends");
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn an_event_names_the_api_key_that_made_it_so_an_integration_skips_its_echoes() {
    for app in apps_with("webhooks_echo", &options()).await {
        let token = app.login().await;
        let r = app
            .authed(Method::POST, "/api/v1/api-keys", &token)
            .json(&json!({ "name": "CRM sync", "permissions": ["manage_groups", "view_audit"] }))
            .send()
            .await
            .expect("sends");
        let key: Value = r.json().await.expect("JSON");
        let (key_id, secret) = (key["id"].as_str().expect("an id"), key["secret"].as_str().expect("a secret"));
        let receiver = Receiver::start(Vec::new()).await;
        register(&app, &token, &receiver.url, &["group.created"]).await;
        create_group(&app, secret, "By the key").await;
        create_group(&app, &token, "By the admin").await;
        let got = receiver.wait_for(2).await;
        let keys: Vec<Value> = got.iter().map(|r| r.json()["api_key_id"].clone()).collect();
        assert_eq!(keys, [json!(key_id), Value::Null], "{}", app.engine);
        let sources: Vec<Value> = got.iter().map(|r| r.json()["source"].clone()).collect();
        assert_eq!(sources, [json!("api"), json!("api")], "both came through the API; only one by the key");
        let feed = app.get_ok("/api/v1/events?types=group.created&limit=200", secret).await;
        let last = feed["items"].as_array().expect("items").iter().rev().nth(1).expect("the key's event").clone();
        assert_eq!(last["api_key_id"], json!(key_id), "the feed says the same, read with the key itself");
        app.finish().await;
    }
}
