//! Tenancy and bad input on the group, role, connection and flow routes: a member of another
//! organization gets 404 for every id of ours and never sees our rows; malformed requests are
//! 4xx problems that change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};

/// Our organization's rows, as its admin sees them.
async fn snapshot(app: &TestApp, token: &str) -> Value {
    json!({
        "groups": app.get_ok("/api/v1/groups", token).await,
        "roles": app.get_ok("/api/v1/roles", token).await,
        "flows": app.get_ok("/api/v1/flows", token).await,
        "connections": app.get_ok("/api/v1/connections?limit=200", token).await,
    })
}

#[tokio::test]
async fn another_organization_gets_404_for_our_ids_and_never_sees_our_rows() {
    for app in apps("tree_tenancy").await {
        let demo = app.login().await;
        let root = app.root_group(&demo).await;
        let sales = app.group(&demo, "Sales", &root).await;
        let ann = app.member(&demo, "ann", &["operations"], &[&sales]).await;
        let flow =
            app.send_ok(Method::POST, "/api/v1/flows", &demo, &json!({"name": "Ours"}), StatusCode::CREATED).await;
        let flow = flow["id"].as_str().unwrap().to_owned();
        let role = app
            .send_ok(
                Method::POST,
                "/api/v1/roles",
                &demo,
                &json!({"key": "ours", "name": "Ours", "visibility": "all"}),
                StatusCode::CREATED,
            )
            .await;
        let role = role["id"].as_str().unwrap().to_owned();
        let conn = app.connection(&ann.token, &json!({"email": "a@c.example", "name": "A C"})).await;
        let conn = conn["id"].as_str().unwrap().to_owned();
        let before = snapshot(&app, &demo).await;

        let other = app.other_org().await;
        let other_root = app.root_group(&other).await;
        let boss = app.get_ok("/api/v1/me", &other).await["user"]["id"].as_str().unwrap().to_owned();
        let other_flow =
            app.send_ok(Method::POST, "/api/v1/flows", &other, &json!({"name": "Theirs"}), StatusCode::CREATED).await;
        let other_flow = other_flow["id"].as_str().unwrap().to_owned();
        let theirs = app.group(&other, "Theirs", &other_root).await;
        let theirs_too = app.group(&other, "Theirs too", &other_root).await;

        let not_found: Vec<(Method, String, Value)> = vec![
            (Method::GET, format!("/api/v1/groups/{sales}"), Value::Null),
            (Method::PATCH, format!("/api/v1/groups/{sales}"), json!({"name": "Mine"})),
            (Method::DELETE, format!("/api/v1/groups/{sales}?cascade=true"), Value::Null),
            (Method::POST, format!("/api/v1/groups/{sales}/members"), json!({"user_ids": [boss]})),
            (Method::DELETE, format!("/api/v1/groups/{sales}/members/{}", ann.id), Value::Null),
            (Method::PUT, format!("/api/v1/groups/{sales}/flows"), json!({"flow_ids": [other_flow]})),
            (Method::POST, "/api/v1/groups".to_owned(), json!({"name": "Inside", "parent_id": sales})),
            (
                Method::POST,
                format!("/api/v1/users/{}/move", ann.id),
                json!({"from_group_id": theirs, "to_group_id": sales}),
            ),
            (
                Method::POST,
                format!("/api/v1/users/{}/move", ann.id),
                json!({"from_group_id": theirs, "to_group_id": theirs_too}),
            ),
            (Method::PUT, format!("/api/v1/users/{}/grants", ann.id), json!({"permissions": []})),
            (Method::PUT, format!("/api/v1/users/{}/onboarding", ann.id), json!({"crm_connected": true})),
            (Method::PATCH, format!("/api/v1/roles/{role}"), json!({"name": "Mine"})),
            (Method::DELETE, format!("/api/v1/roles/{role}"), Value::Null),
            (Method::GET, format!("/api/v1/connections/{conn}"), Value::Null),
            (Method::GET, format!("/api/v1/connections/{conn}/access?viewer={boss}"), Value::Null),
            (Method::GET, format!("/api/v1/connections/{conn}/viewers"), Value::Null),
            (Method::GET, format!("/api/v1/connections?group={sales}"), Value::Null),
        ];
        for (method, path, body) in not_found {
            let mut request = app.authed(method.clone(), &path, &other);
            if !body.is_null() {
                request = request.json(&body);
            }
            let r = request.send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            // Filtering by a foreign group finds nothing of ours: an empty page.
            if path.starts_with("/api/v1/connections?group=") {
                assert_eq!(status, StatusCode::OK, "{}: {method} {path}: {text}", app.engine);
                assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["items"], json!([]));
                continue;
            }
            assert_eq!(status, StatusCode::NOT_FOUND, "{}: {method} {path}: {text}", app.engine);
            assert!(text.contains("\"code\":\"not_found\""), "{text}");
        }
        // Our ids inside their requests are unknown to them too.
        let r = app
            .send(
                Method::POST,
                "/api/v1/connections",
                &other,
                &json!({"email": "x@c.example", "name": "X C", "group": sales}),
            )
            .await;
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app
            .send(
                Method::POST,
                "/api/v1/connections",
                &other,
                &json!({"email": "x@c.example", "name": "X C", "cc": [ann.id]}),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = app
            .send(
                Method::POST,
                "/api/v1/connections",
                &other,
                &json!({"email": "x@c.example", "name": "X C", "flow_id": flow}),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = app
            .send(Method::PUT, &format!("/api/v1/users/{boss}/grants"), &other, &json!({"group_access": [sales]}))
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

        // Their lists hold only their rows.
        let tree = app.get_ok("/api/v1/groups", &other).await;
        assert_eq!(
            crate::tree_support::ids(&tree),
            [other_root.clone(), theirs.clone(), theirs_too.clone()],
            "{}",
            app.engine
        );
        assert_eq!(crate::tree_support::ids(&app.get_ok("/api/v1/flows", &other).await), [other_flow]);
        assert!(app.visible(&other).await.is_empty(), "{}: no connection of ours", app.engine);
        let roles = app.get_ok("/api/v1/roles", &other).await;
        assert_eq!(roles["total"], 10);
        assert!(roles["items"].as_array().unwrap().iter().all(|r| r["id"] != role.as_str()));
        let choices = app.get_ok("/api/v1/connections/group-choices", &other).await;
        let labels: Vec<&str> =
            choices["items"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["Organization", "Other / Theirs", "Other / Theirs too"], "{}", app.engine);
        let csv =
            app.authed(Method::GET, "/api/v1/groups/export.csv", &other).send().await.unwrap().text().await.unwrap();
        assert!(!csv.contains(&sales) && !csv.contains("Sales"), "{csv}");

        assert_eq!(snapshot(&app, &demo).await, before, "{}: nothing of ours changed", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn bad_input_on_these_routes_is_a_4xx_problem_and_changes_nothing() {
    for app in apps("tree_bad_input").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let ann = app.member(&admin, "ann", &["operations"], &[&sales]).await;
        app.connection(&ann.token, &json!({"email": "a@c.example", "name": "A C"})).await;
        let before = snapshot(&app, &admin).await;

        let cases: Vec<(Method, String, &str, StatusCode, &str)> = vec![
            // Unknown fields, wrong types, missing fields, malformed JSON.
            (
                Method::POST,
                "/api/v1/groups".into(),
                r#"{"name": "X", "parent_id": "ROOT", "admin": true}"#,
                StatusCode::BAD_REQUEST,
                "admin",
            ),
            (
                Method::POST,
                "/api/v1/groups".into(),
                r#"{"name": 7, "parent_id": "ROOT"}"#,
                StatusCode::BAD_REQUEST,
                "name",
            ),
            (
                Method::POST,
                "/api/v1/groups".into(),
                r#"{"name": "X", "parent_id": "not-a-uuid"}"#,
                StatusCode::BAD_REQUEST,
                "parent_id",
            ),
            (Method::POST, "/api/v1/groups".into(), r#"{"name": "X"}"#, StatusCode::BAD_REQUEST, "parent_id"),
            (Method::POST, "/api/v1/groups".into(), r#"{"name": "X", "parent_id": "#, StatusCode::BAD_REQUEST, "body"),
            (
                Method::POST,
                "/api/v1/groups".into(),
                r#"{"name": "A/B", "parent_id": "ROOT"}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "name",
            ),
            (
                Method::POST,
                "/api/v1/groups".into(),
                r#"{"name": "'; DROP TABLE groups; --", "parent_id": "SALES_CHILD"}"#,
                StatusCode::NOT_FOUND,
                "",
            ),
            (
                Method::PATCH,
                "/api/v1/groups/SALES".into(),
                r#"{"name": "Y", "depth": 1}"#,
                StatusCode::BAD_REQUEST,
                "depth",
            ),
            (
                Method::POST,
                "/api/v1/groups/SALES/members".into(),
                r#"{"user_ids": "ANN"}"#,
                StatusCode::BAD_REQUEST,
                "user_ids",
            ),
            (
                Method::POST,
                "/api/v1/groups/SALES/members".into(),
                r#"{"user_ids": ["nope"]}"#,
                StatusCode::BAD_REQUEST,
                "user_ids[0]",
            ),
            (Method::PUT, "/api/v1/groups/SALES/flows".into(), r#"{"flows": []}"#, StatusCode::BAD_REQUEST, "flows"),
            (
                Method::POST,
                "/api/v1/users/ANN/move".into(),
                r#"{"from_group_id": "SALES", "to_group_id": "ROOT", "transfer_records": "yes"}"#,
                StatusCode::BAD_REQUEST,
                "transfer_records",
            ),
            (
                Method::POST,
                "/api/v1/roles".into(),
                r#"{"key": "k", "name": "K", "visibility": "all", "builtin": true}"#,
                StatusCode::BAD_REQUEST,
                "builtin",
            ),
            (
                Method::POST,
                "/api/v1/roles".into(),
                r#"{"key": "k", "name": "K", "visibility": "all", "permissions": "manage_users"}"#,
                StatusCode::BAD_REQUEST,
                "permissions",
            ),
            (
                Method::PUT,
                "/api/v1/users/ANN/grants".into(),
                r#"{"permissions": [], "roles": ["admin"]}"#,
                StatusCode::BAD_REQUEST,
                "roles",
            ),
            (
                Method::POST,
                "/api/v1/connections".into(),
                r#"{"email": "b@c.example", "name": "B", "groups": []}"#,
                StatusCode::BAD_REQUEST,
                "groups",
            ),
            (
                Method::POST,
                "/api/v1/connections".into(),
                r#"{"email": "b@c.example", "name": "B", "cc": ["x"]}"#,
                StatusCode::BAD_REQUEST,
                "cc[0]",
            ),
            (
                Method::POST,
                "/api/v1/connections".into(),
                r#"{"email": "not an email", "name": "<script>alert(1)</script>"}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "email",
            ),
            (Method::POST, "/api/v1/flows".into(), r#"{"name": ""}"#, StatusCode::UNPROCESSABLE_ENTITY, "name"),
            (Method::POST, "/api/v1/flows".into(), r#"["Onboarding"]"#, StatusCode::BAD_REQUEST, "body"),
        ];
        let ann_id = ann.id.clone();
        for (method, path, body, status, field) in cases {
            let path = path.replace("SALES", &sales).replace("ANN", &ann_id);
            let body = body
                .replace("SALES_CHILD", "018f0000-0000-7000-8000-000000000000")
                .replace("SALES", &sales)
                .replace("ROOT", &root)
                .replace("ANN", &ann_id);
            let r = app
                .authed(method.clone(), &path, &admin)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let got = r.status();
            let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let problem: Value = r.json().await.unwrap();
            assert_eq!(got, status, "{}: {method} {path} {body}: {problem}", app.engine);
            assert_eq!(ct, "application/problem+json");
            if !field.is_empty() {
                let fields: Vec<&str> =
                    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
                assert!(fields.contains(&field), "{}: {method} {path} {body}: {problem}", app.engine);
            }
        }

        // Ids in the path that are not ids, query parameters that are not ours, bad cursors.
        for path in [
            "/api/v1/groups/42".to_owned(),
            "/api/v1/groups/%27%20OR%201%3D1".to_owned(),
            "/api/v1/connections/not-an-id".to_owned(),
            format!("/api/v1/connections/not-an-id/access?viewer={ann_id}"),
        ] {
            let r = app.authed(Method::GET, &path, &admin).send().await.unwrap();
            assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        }
        for path in [
            "/api/v1/connections?limit=0",
            "/api/v1/connections?limit=201",
            "/api/v1/connections?cursor=garbage",
            "/api/v1/connections?group=sales",
            "/api/v1/connections?page=1",
            "/api/v1/connections?sort=name",
        ] {
            let r = app.authed(Method::GET, path, &admin).send().await.unwrap();
            assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        }
        let r = app.authed(Method::GET, &format!("/api/v1/connections/{}/access", sales), &admin).send().await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        let r = app
            .authed(Method::POST, "/api/v1/groups", &admin)
            .body(format!(r#"{{"name": "X", "parent_id": "{root}"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", app.engine);
        let r = app
            .authed(Method::PATCH, &format!("/api/v1/groups/{sales}"), &admin)
            .header("if-match", "yesterday")
            .json(&json!({"name": "Z"}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;

        assert_eq!(snapshot(&app, &admin).await, before, "{}: nothing changed", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn each_write_needs_its_permission() {
    for app in apps("tree_permissions").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let support = app.group(&admin, "Support", &root).await;
        let full = app.member(&admin, "full", &["full_member"], &[&sales]).await;
        let ro = app.member(&admin, "ro", &["read_only"], &[&sales]).await;
        let target =
            app.connection(&admin, &json!({"email": "v@c.example", "name": "V C", "group": "organization"})).await;
        let target = target["id"].as_str().unwrap().to_owned();
        let before = snapshot(&app, &admin).await;

        for who in [&full.token, &ro.token] {
            let writes: Vec<(Method, String, Value)> = vec![
                (Method::POST, "/api/v1/groups".into(), json!({"name": "Mine", "parent_id": root})),
                (Method::PATCH, format!("/api/v1/groups/{sales}"), json!({"name": "Mine"})),
                (Method::DELETE, format!("/api/v1/groups/{support}"), Value::Null),
                (Method::POST, format!("/api/v1/groups/{support}/members"), json!({"user_ids": [ro.id]})),
                (Method::DELETE, format!("/api/v1/groups/{sales}/members/{}", ro.id), Value::Null),
                (Method::PUT, format!("/api/v1/groups/{sales}/flows"), json!({"flow_ids": []})),
                (
                    Method::POST,
                    format!("/api/v1/users/{}/move", ro.id),
                    json!({"from_group_id": sales, "to_group_id": support}),
                ),
                (Method::POST, "/api/v1/roles".into(), json!({"key": "mine", "name": "Mine", "visibility": "all"})),
                (Method::PUT, format!("/api/v1/users/{}/grants", ro.id), json!({"permissions": ["view_reporting"]})),
                (Method::PUT, format!("/api/v1/users/{}/onboarding", ro.id), json!({"crm_connected": true})),
                (Method::POST, "/api/v1/flows".into(), json!({"name": "Mine"})),
                (Method::GET, format!("/api/v1/connections/{target}/viewers"), Value::Null),
            ];
            for (method, path, body) in writes {
                let mut request = app.authed(method.clone(), &path, who);
                if !body.is_null() {
                    request = request.json(&body);
                }
                let r = request.send().await.unwrap();
                assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}: {method} {path}", app.engine);
                assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
            }
        }
        // read_only holds no invite_connections and no export_data; full_member holds both.
        let r = app
            .send(Method::POST, "/api/v1/connections", &ro.token, &json!({"email": "a@c.example", "name": "A C"}))
            .await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::GET, "/api/v1/groups/export.csv", &ro.token).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::GET, "/api/v1/groups/export.csv", &full.token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // Reads every member may make.
        for path in [
            "/api/v1/groups",
            "/api/v1/roles",
            "/api/v1/flows",
            "/api/v1/connections",
            "/api/v1/connections/group-choices",
        ] {
            app.get_ok(path, &ro.token).await;
        }
        app.get_ok(&format!("/api/v1/groups/{sales}"), &ro.token).await;
        assert_eq!(snapshot(&app, &admin).await, before, "{}: refused writes changed nothing", app.engine);
        app.finish().await;
    }
}
