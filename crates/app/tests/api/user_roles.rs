//! `PUT /users/{id}/roles` (SPEC §10, §5): a user's roles, each named by key or id and
//! optionally scoped to a group, with the rules of the bulk action `set_roles`. Every refused
//! request answers a clear problem and changes nothing (the user's version and roles are read
//! after it).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tree_support::MEMBER_PASSWORD;

async fn put_roles(app: &TestApp, token: &str, user: &str, body: &Value) -> Response {
    app.send(Method::PUT, &format!("/api/v1/users/{user}/roles"), token, body).await
}

/// The id of the role with `key`.
async fn role_id(app: &TestApp, admin: &str, key: &str) -> String {
    let roles = app.get_ok("/api/v1/roles", admin).await;
    let role = roles["items"].as_array().expect("items").iter().find(|r| r["key"] == key).expect("the role");
    role["id"].as_str().expect("an id").to_owned()
}

/// The user's roles and version, as `GET /users/{id}` answers them.
async fn roles_and_version(app: &TestApp, admin: &str, user: &str) -> (Value, Value) {
    let body = app.get_ok(&format!("/api/v1/users/{user}"), admin).await;
    (body["roles"].clone(), body["version"].clone())
}

#[tokio::test]
async fn roles_are_set_by_key_or_id_with_a_scope_and_the_user_is_answered() {
    for app in apps("user_roles_set").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let ann = app.member(&admin, "ann", &["standard"], &[&sales]).await;
        let analyst = role_id(&app, &admin, "analyst").await;
        let lead = role_id(&app, &admin, "team_lead").await;

        let body = json!({"roles": [{"role": "team_lead", "scope": sales}, {"role": analyst}]});
        let r = put_roles(&app, &admin, &ann.id, &body).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let user: Value = r.json().await.unwrap();
        assert_eq!(etag, Some(format!("\"{}\"", user["version"])), "{}: the new version's ETag", app.engine);
        let mut roles = user["roles"].as_array().expect("roles").clone();
        roles.sort_by_key(|r| r["role_id"].as_str().unwrap_or_default().to_owned());
        let mut expected = vec![json!({"role_id": lead, "scope": sales}), json!({"role_id": analyst, "scope": null})];
        expected.sort_by_key(|r| r["role_id"].as_str().unwrap_or_default().to_owned());
        assert_eq!(roles, expected, "{}", app.engine);
        assert!(!is_live(&app, &ann.token).await, "{}: losing `standard` ends ann's sessions", app.engine);

        // The same roles named the other way round are no change.
        let same = json!({"roles": [{"role": lead, "scope": sales}, {"role": "analyst"}]});
        let again: Value = put_roles(&app, &admin, &ann.id, &same).await.json().await.unwrap();
        assert_eq!(again["version"], user["version"], "{}: no change, no new version", app.engine);
        let events = app.get_ok("/api/v1/audit?limit=100", &admin).await;
        let changed =
            events["items"].as_array().unwrap().iter().filter(|e| e["action"] == "user.roles_changed").count();
        assert_eq!(changed, 1, "{}: audited once", app.engine);
        app.finish().await;
    }
}

async fn is_live(app: &TestApp, token: &str) -> bool {
    app.authed(Method::GET, "/api/v1/me", token).send().await.unwrap().status() == StatusCode::OK
}

#[tokio::test]
async fn unknown_roles_scopes_and_bad_bodies_are_named_and_change_nothing() {
    for app in apps("user_roles_bad_input").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let gone = app.group(&admin, "Gone", &root).await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/groups/{gone}"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}: deletes the group", app.engine);
        let ann = app.member(&admin, "ann", &["standard"], &[]).await;
        let before = roles_and_version(&app, &admin, &ann.id).await;
        let nobody = "01900000-0000-7000-8000-000000000000";

        let unprocessable = [
            (json!({"roles": [{"role": "emperor"}]}), vec![("roles[0].role", "unknown_role")]),
            (json!({"roles": [{"role": "Not A Key!"}]}), vec![("roles[0].role", "unknown_role")]),
            (json!({"roles": [{"role": "standard"}, {"role": nobody}]}), vec![("roles[1].role", "unknown_role")]),
            (json!({"roles": [{"role": "standard", "scope": nobody}]}), vec![("roles[0].scope", "unknown_group")]),
            (json!({"roles": [{"role": "standard", "scope": gone}]}), vec![("roles[0].scope", "unknown_group")]),
            (
                json!({"roles": [{"role": "emperor"}, {"role": "standard", "scope": nobody}]}),
                vec![("roles[0].role", "unknown_role"), ("roles[1].scope", "unknown_group")],
            ),
            (json!({"roles": []}), vec![("roles", "required")]),
        ];
        for (body, expected) in unprocessable {
            let problem = assert_problem(
                put_roles(&app, &admin, &ann.id, &body).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            let got: Vec<(String, String)> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned()))
                .collect();
            let expected: Vec<(String, String)> =
                expected.iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect();
            assert_eq!(got, expected, "{}: {body}", app.engine);
        }
        for (body, field) in [
            (json!({"roles": [{"key": "standard"}]}), "roles[0].key"),
            (json!({"roles": [{"role": "standard", "scope": "not a group id"}]}), "roles[0].scope"),
            (json!({"roles": "standard"}), "roles"),
            (json!({}), "roles"),
        ] {
            let problem = assert_problem(
                put_roles(&app, &admin, &ann.id, &body).await,
                StatusCode::BAD_REQUEST,
                "validation_failed",
            )
            .await;
            assert_eq!(problem["errors"][0]["field"], field, "{}: {body}: {problem}", app.engine);
        }
        let body = json!({"roles": [{"role": "analyst"}]});
        assert_problem(put_roles(&app, &admin, nobody, &body).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_problem(put_roles(&app, &admin, "not-an-id", &body).await, StatusCode::NOT_FOUND, "not_found").await;

        assert_eq!(roles_and_version(&app, &admin, &ann.id).await, before, "{}: nothing changed", app.engine);
        assert!(is_live(&app, &ann.token).await, "{}: no refused request ended a session", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn roles_are_refused_to_whoever_may_not_give_them() {
    for app in apps("user_roles_authority").await {
        let admin = app.login().await;
        let admin_id = app.get_ok("/api/v1/me", &admin).await["user"]["id"].as_str().unwrap().to_owned();
        let demote = json!({"roles": [{"role": "standard"}]});
        let r = put_roles(&app, &admin, &admin_id, &demote).await;
        assert_problem(r, StatusCode::CONFLICT, "last_admin").await;
        let me = app.get_ok("/api/v1/me", &admin).await;
        assert!(me["permissions"].as_array().unwrap().contains(&json!("manage_roles")), "{}: still admin", app.engine);
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let ann = app.member(&admin, "ann", &["standard"], &[&sales]).await;
        let boss = app.member(&admin, "boss", &["admin"], &[&sales]).await;
        let lead = app.member(&admin, "lead", &["standard"], &[&sales]).await;
        let scoped = json!({"roles": [{"role": "admin", "scope": sales}]});
        app.send_ok(Method::PUT, &format!("/api/v1/users/{}/roles", lead.id), &admin, &scoped, StatusCode::OK).await;
        let lead_token = app.login_to("demo", "lead@demo.example", MEMBER_PASSWORD).await;
        let impersonation = json!({"user_id": boss.id, "reason": "ticket 7: roles screen"});
        let acting = app.send_ok(Method::POST, "/api/v1/impersonation", &admin, &impersonation, StatusCode::OK).await;
        let acting = acting["token"].as_str().unwrap().to_owned();
        let before = roles_and_version(&app, &admin, &ann.id).await;

        let analyst = json!({"roles": [{"role": "analyst"}]});
        for (token, user, body, status, code, why) in [
            (&ann.token, &ann.id, &analyst, StatusCode::FORBIDDEN, "forbidden", "no manage_users"),
            (&lead_token, &boss.id, &analyst, StatusCode::FORBIDDEN, "forbidden", "boss holds more than lead"),
            (
                &lead_token,
                &ann.id,
                &json!({"roles": [{"role": "admin"}]}),
                StatusCode::FORBIDDEN,
                "forbidden",
                "admin org-wide from a scoped admin",
            ),
            (
                &admin,
                &ann.id,
                &json!({"roles": [{"role": "scorer"}]}),
                StatusCode::FORBIDDEN,
                "forbidden",
                "only the operator grants scorer",
            ),
            (&acting, &ann.id, &analyst, StatusCode::FORBIDDEN, "forbidden", "an impersonating session"),
        ] {
            let problem = assert_problem(put_roles(&app, token, user, body).await, status, code).await;
            assert!(problem["detail"].is_string(), "{}: {why}: {problem}", app.engine);
        }
        assert_eq!(roles_and_version(&app, &admin, &ann.id).await, before, "{}: ann unchanged", app.engine);

        // The scoped admin may give ann, in their group, an ordinary role scoped to it.
        let r = put_roles(&app, &lead_token, &ann.id, &json!({"roles": [{"role": "analyst", "scope": sales}]})).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        app.finish().await;
    }
}
