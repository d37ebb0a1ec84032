//! Jobs (SPEC §10): a bulk action over more than 1,000 users answers `202 Accepted` with
//! `Location: /api/v1/jobs/{id}`; the server's job runner works it through, and `GET /jobs/{id}`,
//! `/outcomes` and `/result` report it. (Killing a server mid-job is in `tests/cli/workers.rs`;
//! the steps, leases and takeovers are proved on the domain's clock in
//! `crates/domain/tests/services/jobs.rs`.)

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster_app::demo_data::{DemoSpec, generate};
use roster_app::worker::WorkerSettings;
use roster_domain::values::{Password, Slug};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, Options, TestApp, apps_with, assert_problem};
use crate::tenants::member;

/// Apps whose job runner wakes every 50 ms.
async fn quick_apps(test: &str) -> Vec<TestApp> {
    let worker = WorkerSettings { tick: Duration::from_millis(50), ..WorkerSettings::default() };
    // 5,000 ids take about 200 KB: the server's default limit (1 MiB), not the tests' small one.
    apps_with(test, &Options { worker, body_limit: 1024 * 1024, ..Options::default() }).await
}

/// An organization `big` of `users` users (its admin included), and its admin's token.
async fn big_org(app: &TestApp, users: u32) -> String {
    let spec = DemoSpec {
        org: Slug::parse("big").expect("a slug"),
        users,
        connections: 0,
        seed: 7,
        password: Password::parse(ADMIN_PASSWORD).expect("a password"),
    };
    let report = generate(&app.services, &spec, &mut |_| {}).await.expect("generates the organization");
    app.login_to("big", &report.accounts[0].email, ADMIN_PASSWORD).await
}

/// Every listed user id of the organization but the caller's, in the list's order (deleted
/// users are not listed).
async fn others(app: &TestApp, token: &str) -> Vec<String> {
    let me = app.get_ok("/api/v1/me", token).await["user"]["id"].as_str().expect("my id").to_owned();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=200&cursor={c}"),
            None => "/api/v1/users?limit=200".to_owned(),
        };
        let page = app.get_ok(&path, token).await;
        ids.extend(
            page["items"].as_array().expect("items").iter().map(|u| u["id"].as_str().expect("an id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.retain(|id| *id != me);
    ids
}

/// Polls the job until it is settled (or the time is up: a bound for a stuck job, generous
/// because a machine busy with builds runs 5,000 steps on PostgreSQL in well over a minute).
async fn settled(app: &TestApp, token: &str, location: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let job = app.get_ok(location, token).await;
        if job["state"] == "done" || job["state"] == "failed" {
            return job;
        }
        assert!(Instant::now() < deadline, "{}: the job did not end: {job}", app.engine);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_bulk_action_over_5000_users_answers_202_and_its_job_reaches_done_with_5000_outcomes() {
    for app in quick_apps("bulk_job").await {
        let token = big_org(&app, 5_600).await;
        let mut ids = others(&app, &token).await;
        assert!(ids.len() >= 5_000, "{}: {} listed", app.engine, ids.len());
        ids.truncate(5_000);
        let body = json!({"user_ids": ids, "action": "set_email_throttle", "email_throttle_max_per_day": 123});
        let r = app.authed(Method::POST, "/api/v1/users/bulk", &token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        let location = r.headers()["location"].to_str().expect("a location").to_owned();
        let queued: Value = r.json().await.unwrap();
        assert_eq!(location, format!("/api/v1/jobs/{}", queued["id"].as_str().expect("an id")));
        assert_eq!((queued["total"].as_u64(), queued["kind"].as_str()), (Some(5_000), Some("bulk")));
        assert!(queued["state"] == "queued" || queued["state"] == "running", "{queued}");

        let job = settled(&app, &token, &location).await;
        assert_eq!((job["state"].as_str(), job["done"].as_u64()), (Some("done"), Some(5_000)), "{}: {job}", app.engine);
        let outcomes_url = job["outcomes_url"].as_str().expect("outcomes");
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = app.get_ok(&format!("{outcomes_url}?after={after}&limit=1000"), &token).await;
            for o in page["items"].as_array().expect("items") {
                seen.push((o["seq"].as_u64().expect("a seq"), o["user_id"].as_str().expect("a user").to_owned()));
                assert!(o["status"].is_string(), "{o}");
            }
            match page["next_after"].as_u64() {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(seen.len(), 5_000, "{}: one outcome per user", app.engine);
        assert!(seen.iter().enumerate().all(|(i, (seq, _))| *seq == i as u64 + 1), "in order");
        let users: Vec<&str> = seen.iter().map(|(_, u)| u.as_str()).collect();
        assert_eq!(users, ids.iter().map(String::as_str).collect::<Vec<_>>(), "in the order given");
        let last = app.get_ok(&format!("/api/v1/users/{}", ids[4_999]), &token).await;
        assert_eq!(last["settings"]["email_throttle_max_per_day"], 123, "{}: applied", app.engine);
        let result = app.get_ok(job["result_url"].as_str().expect("a result"), &token).await;
        assert_eq!(result["applied"], true);
        assert!(result["seats_before"].is_array() && result["seats_after"].is_array());
        app.finish().await;
    }
}

#[tokio::test]
async fn a_job_is_read_only_by_its_requester_or_an_org_wide_user_manager_and_bad_reads_are_refused() {
    for app in quick_apps("job_reads").await {
        let token = big_org(&app, 1_300).await;
        let ids = others(&app, &token).await;
        assert!(ids.len() > 1_000, "{}: {} listed", app.engine, ids.len());
        let body = json!({"user_ids": ids, "action": "set_flow_enabled", "flow_enabled": true, "dry_run": true});
        let r = app.authed(Method::POST, "/api/v1/users/bulk", &token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        let location = r.headers()["location"].to_str().expect("a location").to_owned();
        let job = settled(&app, &token, &location).await;
        let result = app.get_ok(job["result_url"].as_str().expect("a result"), &token).await;
        assert_eq!(result["applied"], false, "{}: a dry run changes nothing", app.engine);

        let (standard, _) = member(&app, "big", "sam@big.example", "standard").await;
        let r = app.authed(Method::GET, &location, &standard).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let demo = app.login().await;
        let r = app.authed(Method::GET, &location, &demo).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        for path in ["/api/v1/jobs/not-a-uuid", "/api/v1/jobs/01900000-0000-7000-8000-000000000000"] {
            let r = app.authed(Method::GET, path, &token).send().await.unwrap();
            assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        }
        for query in ["limit=0", "limit=1001", "after=-1", "color=red"] {
            let r = app.authed(Method::GET, &format!("{location}/outcomes?{query}"), &token).send().await.unwrap();
            let status = r.status();
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{query}: {status}"
            );
        }
        app.finish().await;
    }
}
