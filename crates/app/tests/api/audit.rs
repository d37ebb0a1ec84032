//! `GET /audit` and `GET /audit/export.csv` (SPEC §9): filters, cursor walks, the CSV export,
//! tenant isolation, permissions and bad input.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::{member, other_org};

/// Every event of a listing walked by cursor with `query` (no `?`), `limit` per page.
async fn walk(app: &TestApp, token: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/audit?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(c) = &next {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get_ok(&path, token).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit as usize);
        out.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => break,
        }
    }
    out
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("a header row").iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.expect("a valid CSV record").iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

#[tokio::test]
async fn the_audit_log_filters_and_walks_newest_first_by_cursor() {
    for app in apps("audit_walk").await {
        let token = app.login().await;
        let me = app.get_ok("/api/v1/me", &token).await;
        let admin_id = me["user"]["id"].as_str().unwrap().to_owned();
        let mut ids = Vec::new();
        for n in 0..5 {
            let user = app.create_user(&token, &format!("audited{n}@demo.example")).await;
            ids.push(user["id"].as_str().unwrap().to_owned());
        }
        // The bootstrap admin's own creation (by the CLI, no actor) is left out by `actor`.
        let created = walk(&app, &token, &format!("action=user.created&actor={admin_id}"), 2).await;
        assert_eq!(created.len(), 5, "{}", app.engine);
        let targets: Vec<&str> = created.iter().map(|e| e["target_id"].as_str().unwrap()).collect();
        let mut newest_first = ids.clone();
        newest_first.reverse();
        assert_eq!(targets, newest_first, "{}: newest first", app.engine);
        for e in &created {
            assert_eq!(e["actor_id"], admin_id.as_str());
            assert_eq!(e["source"], "api");
            assert_eq!(e["target_kind"], "user");
            assert!(e["target_label"].as_str().unwrap().contains("@demo.example"));
        }

        let one = walk(&app, &token, &format!("target_id={}", ids[2]), 50).await;
        assert_eq!(one.len(), 1, "{}", app.engine);
        let by_actor = walk(&app, &token, &format!("actor={admin_id}&target_kind=user"), 3).await;
        assert_eq!(by_actor.len(), 5, "{}", app.engine);
        let everything = walk(&app, &token, "", 200).await;
        let stepwise = walk(&app, &token, "", 1).await;
        assert_eq!(everything, stepwise, "{}: a walk by 1 sees what a walk by 200 sees", app.engine);

        let future = walk(&app, &token, "from=2999-01-01T00:00:00Z", 50).await;
        assert!(future.is_empty());
        let past = walk(&app, &token, "to=2000-01-01T00:00:00Z", 50).await;
        assert!(past.is_empty());
        app.finish().await;
    }
}

#[tokio::test]
async fn the_audit_export_is_valid_csv_with_every_matching_event() {
    for app in apps("audit_export").await {
        let token = app.login().await;
        let admin_id = app.get_ok("/api/v1/me", &token).await["user"]["id"].as_str().unwrap().to_owned();
        for n in 0..3 {
            app.create_user(&token, &format!("exported{n}@demo.example")).await;
        }
        let all = walk(&app, &token, "", 200).await;
        let r = app.authed(Method::GET, "/api/v1/audit/export.csv", &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"audit.csv\"");
        let (header, rows) = csv_rows(&r.text().await.unwrap());
        assert_eq!(header[..3], ["id", "at", "actor_id"]);
        assert_eq!(rows.len(), all.len(), "{}", app.engine);
        for (row, event) in rows.iter().zip(&all) {
            assert_eq!(row[0], event["id"].as_str().unwrap());
            assert_eq!(row[5], event["action"].as_str().unwrap());
            let details: Value = serde_json::from_str(&row[9]).expect("details as JSON text");
            assert_eq!(details, event["details"]);
        }

        let path = format!("/api/v1/audit/export.csv?action=user.created&actor={admin_id}");
        let r = app.authed(Method::GET, &path, &token).send().await.unwrap();
        let (_, rows) = csv_rows(&r.text().await.unwrap());
        assert_eq!(rows.len(), 3, "{}", app.engine);
        assert!(rows.iter().all(|r| r[2] == admin_id));
        assert!(rows.iter().all(|r| r[5] == "user.created"));
        app.finish().await;
    }
}

#[tokio::test]
async fn the_audit_log_is_scoped_to_the_organization_and_needs_its_permissions() {
    for app in apps("audit_isolation").await {
        let demo = app.login().await;
        let secret = app.create_user(&demo, "secret@demo.example").await;
        let secret_id = secret["id"].as_str().unwrap().to_owned();
        let other = other_org(&app, "other").await;

        let seen = walk(&app, &other, "", 200).await;
        assert!(!seen.is_empty(), "{}: the other organization has its own events", app.engine);
        assert!(seen.iter().all(|e| e["target_id"] != secret_id.as_str()), "{}", app.engine);
        assert!(seen.iter().all(|e| !e["target_label"].as_str().unwrap().contains("demo.example")));
        let theirs = walk(&app, &other, &format!("target_id={secret_id}"), 50).await;
        assert!(theirs.is_empty(), "{}", app.engine);
        let r = app.authed(Method::GET, "/api/v1/audit/export.csv", &other).send().await.unwrap();
        let text = r.text().await.unwrap();
        assert!(!text.contains("demo.example") && !text.contains(&secret_id), "{}", app.engine);

        // Roles without view_audit, and analyst (export_data but no view_audit), are refused.
        for role in ["standard", "analyst", "full_member"] {
            let (token, _) = member(&app, "demo", &format!("{role}@demo.example"), role).await;
            let r = app.authed(Method::GET, "/api/v1/audit", &token).send().await.unwrap();
            assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
            let r = app.authed(Method::GET, "/api/v1/audit/export.csv", &token).send().await.unwrap();
            assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
        let r = app.request(Method::GET, "/api/v1/audit").send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn bad_audit_parameters_are_400_problems_naming_the_parameter() {
    for app in apps("audit_bad_input").await {
        let token = app.login().await;
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("cursor=not-a-cursor", "cursor"),
            ("target_kind=planet", "target_kind"),
            ("from=yesterday", "from"),
            ("actor=42", "actor"),
            ("page=1", "page"),
            ("action=x&unknown=1", "unknown"),
        ] {
            let r = app.authed(Method::GET, &format!("/api/v1/audit?{query}"), &token).send().await.unwrap();
            let body = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
            assert_eq!(body["errors"][0]["field"], field, "{}: {query}: {body}", app.engine);
        }
        // A cursor of the Users list is not a cursor of the audit log.
        let users = app.get_ok("/api/v1/users?limit=1", &token).await;
        app.create_user(&token, "second@demo.example").await;
        let users =
            if users["next_cursor"].is_null() { app.get_ok("/api/v1/users?limit=1", &token).await } else { users };
        let cursor = users["next_cursor"].as_str().expect("a users cursor");
        let r = app.authed(Method::GET, &format!("/api/v1/audit?cursor={cursor}"), &token).send().await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        let r = app.authed(Method::GET, "/api/v1/audit/export.csv?from=soon", &token).send().await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        app.finish().await;
    }
}
