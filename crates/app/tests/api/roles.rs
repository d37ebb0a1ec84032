//! Roles over HTTP (§5): built-in and custom roles, `If-Match` on a change, deletion rules,
//! per-user grants and the onboarding facts that make a user `active`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{apps, assert_problem};

#[tokio::test]
async fn custom_roles_are_created_changed_under_if_match_and_deleted() {
    for app in apps("roles_lifecycle").await {
        let admin = app.login().await;
        let roles = app.get_ok("/api/v1/roles", &admin).await;
        assert_eq!(roles["total"], 10, "{}: the ten built-in roles", app.engine);
        let scorer = roles["items"].as_array().unwrap().iter().find(|r| r["key"] == "scorer").unwrap();
        assert_eq!(scorer["assignable"], false);
        assert_eq!(scorer["visibility"], "all");

        let body =
            json!({"key": "auditor", "name": "Auditor", "permissions": ["view_audit"], "visibility": "own_invites"});
        let r = app.send(Method::POST, "/api/v1/roles", &admin, &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let role: Value = r.json().await.unwrap();
        assert_eq!(etag, format!("\"{}\"", role["revision"]));
        assert_eq!(role["builtin"], false);
        let path = format!("/api/v1/roles/{}", role["id"].as_str().unwrap());
        let r = app.send(Method::POST, "/api/v1/roles", &admin, &body).await;
        assert_problem(r, StatusCode::CONFLICT, "conflict").await;

        let r = app
            .authed(Method::PATCH, &path, &admin)
            .header("if-match", &etag)
            .json(&json!({"visibility": "groups", "permissions": ["view_audit", "export_data"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let fresh = r.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(fresh, etag);
        let changed: Value = r.json().await.unwrap();
        assert_eq!(changed["permissions"], json!(["export_data", "view_audit"]));

        // The old tag is stale: 412, and the role is as the first change left it.
        let r = app
            .authed(Method::PATCH, &path, &admin)
            .header("if-match", &etag)
            .json(&json!({"name": "Overwritten"}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        let now = app.get_ok("/api/v1/roles", &admin).await;
        let stored = now["items"].as_array().unwrap().iter().find(|r| r["id"] == role["id"]).unwrap().clone();
        assert_eq!(stored["name"], "Auditor", "{}", app.engine);
        assert_eq!(format!("\"{}\"", stored["revision"]), fresh);

        // Built-in roles are fixed; a role in use cannot go.
        let admin_role = now["items"].as_array().unwrap().iter().find(|r| r["key"] == "admin").unwrap();
        let r = app
            .send(
                Method::PATCH,
                &format!("/api/v1/roles/{}", admin_role["id"].as_str().unwrap()),
                &admin,
                &json!({"name": "Boss"}),
            )
            .await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app
            .authed(Method::DELETE, &format!("/api/v1/roles/{}", admin_role["id"].as_str().unwrap()), &admin)
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let holder = app
            .send_ok(
                Method::POST,
                "/api/v1/users",
                &admin,
                &json!({"email": "aud@demo.example", "first_name": "Au", "last_name": "Ditor", "roles": ["auditor"]}),
                StatusCode::CREATED,
            )
            .await;
        let r = app.authed(Method::DELETE, &path, &admin).send().await.unwrap();
        assert_problem(r, StatusCode::CONFLICT, "conflict").await;
        let r = app
            .authed(Method::DELETE, &format!("/api/v1/users/{}?confirm=true", holder["id"].as_str().unwrap()), &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::DELETE, &path, &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        assert_eq!(app.get_ok("/api/v1/roles", &admin).await["total"], 10);
        let r = app.authed(Method::DELETE, &path, &admin).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn members_without_manage_roles_cannot_touch_roles_and_nobody_hands_out_what_they_lack() {
    for app in apps("roles_permissions").await {
        let admin = app.login().await;
        let lead = app.member(&admin, "lead", &["team_lead"], &[]).await;
        let listed = app.get_ok("/api/v1/roles", &lead.token).await;
        assert_eq!(listed["total"], 10, "{}: every member reads the roles", app.engine);
        let body = json!({"key": "mine", "name": "Mine", "permissions": [], "visibility": "all"});
        let r = app.send(Method::POST, "/api/v1/roles", &lead.token, &body).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let role = app
            .send_ok(
                Method::POST,
                "/api/v1/roles",
                &admin,
                &json!({"key": "mine", "name": "Mine", "visibility": "all"}),
                StatusCode::CREATED,
            )
            .await;
        let path = format!("/api/v1/roles/{}", role["id"].as_str().unwrap());
        let r = app.send(Method::PATCH, &path, &lead.token, &json!({"name": "Ours"})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::DELETE, &path, &lead.token).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // Unknown permission names and visibilities are named, all at once.
        let r = app
            .send(
                Method::POST,
                "/api/v1/roles",
                &admin,
                &json!({"key": "Bad Key", "name": "X", "permissions": ["root"], "visibility": "everyone"}),
            )
            .await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["key", "permissions[0]", "visibility"], "{}", app.engine);
        assert_eq!(app.get_ok("/api/v1/roles", &admin).await["total"], 11, "{}: nothing created", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn per_user_grants_and_onboarding_facts_are_set_by_admins() {
    for app in apps("roles_grants").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let ann = app.member(&admin, "ann", &["standard"], &[]).await;
        let path = format!("/api/v1/users/{}/grants", ann.id);

        let body = json!({"permissions": ["view_reporting"], "group_access": [sales]});
        let user = app.send_ok(Method::PUT, &path, &admin, &body, StatusCode::OK).await;
        assert_eq!(user["extra_permissions"], json!(["view_reporting"]), "{}", app.engine);
        assert_eq!(user["group_access"], json!([sales]));
        let me = app.get_ok("/api/v1/me", &ann.token).await;
        assert!(me["permissions"].as_array().unwrap().iter().any(|p| p == "view_reporting"), "{me}");

        // Only view_reporting and audio_scoring can be granted outside a role.
        let r = app.send(Method::PUT, &path, &admin, &json!({"permissions": ["manage_users"]})).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = app.send(Method::PUT, &path, &ann.token, &json!({"permissions": ["audio_scoring"]})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let user = app.get_ok(&format!("/api/v1/users/{}", ann.id), &admin).await;
        assert_eq!(
            user["extra_permissions"],
            json!(["view_reporting"]),
            "{}: refused grants changed nothing",
            app.engine
        );

        // Onboarding: Core plus both facts make the user active.
        app.send_ok(
            Method::PUT,
            &format!("/api/v1/users/{}/licenses", ann.id),
            &admin,
            &json!({"products": ["core"]}),
            StatusCode::OK,
        )
        .await;
        let onboarding = format!("/api/v1/users/{}/onboarding", ann.id);
        let user = app.send_ok(Method::PUT, &onboarding, &admin, &json!({"crm_connected": true}), StatusCode::OK).await;
        assert_eq!(user["status"], "pending", "{}", app.engine);
        let user =
            app.send_ok(Method::PUT, &onboarding, &admin, &json!({"mailbox_connected": true}), StatusCode::OK).await;
        assert_eq!(user["status"], "active", "{}", app.engine);
        let r = app.send(Method::PUT, &onboarding, &ann.token, &json!({"crm_connected": false})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.send(Method::PUT, &onboarding, &admin, &json!({"crm_connected": "yes"})).await;
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(app.get_ok(&format!("/api/v1/users/{}", ann.id), &admin).await["status"], "active");
        app.finish().await;
    }
}
