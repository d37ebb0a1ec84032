//! `POST|DELETE /impersonation` (SPEC §10): a session acting as the member, events carrying the
//! impersonator, no role or API-key changes meanwhile, not nested, not of oneself or a
//! deactivated member, not across organizations, and "log back in as myself".

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::{member, other_org};

async fn impersonate(app: &TestApp, token: &str, user_id: &str, reason: &str) -> reqwest::Response {
    app.authed(Method::POST, "/api/v1/impersonation", token)
        .json(&json!({"user_id": user_id, "reason": reason}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_acts_as_a_member_with_every_event_carrying_the_impersonator_then_logs_back() {
    for app in apps("impersonation").await {
        let token = app.login().await;
        let admin_id = app.get_ok("/api/v1/me", &token).await["user"]["id"].as_str().unwrap().to_owned();
        let (_, lead_id) = member(&app, "demo", "lead@demo.example", "admin").await;
        let plain = app.create_user(&token, "made-before@demo.example").await;
        let r = impersonate(&app, &token, &lead_id, "ticket 4711: cannot see the Users table").await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let started: Value = r.json().await.unwrap();
        let acting = started["token"].as_str().unwrap().to_owned();
        assert!(started["expires_at"].is_string());

        let me = app.get_ok("/api/v1/me", &acting).await;
        assert_eq!(me["user"]["id"], lead_id.as_str(), "{}: acting as the member", app.engine);
        // Acting on a member the impersonation covers is allowed (handing out roles is not:
        // `authority::impersonation_reaches_no_higher_than_the_impersonator`).
        let r = app
            .authed(Method::PATCH, &format!("/api/v1/users/{}", plain["id"].as_str().unwrap()), &acting)
            .json(&json!({"first_name": "Changed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let created = plain;

        // Roles, passwords and API keys are out of bounds; nesting too.
        let r = app
            .authed(Method::POST, "/api/v1/api-keys", &acting)
            .json(&json!({"name": "Sneaky"}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = impersonate(&app, &acting, &admin_id, "nested").await;
        assert_problem(r, StatusCode::CONFLICT, "impersonation_not_allowed").await;

        let r = app.authed(Method::DELETE, "/api/v1/impersonation", &acting).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::GET, "/api/v1/me", &acting).send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert_eq!(app.get_ok("/api/v1/me", &token).await["user"]["id"], admin_id.as_str(), "the own session stays");

        let events = app.get_ok("/api/v1/audit?limit=200", &token).await;
        let events = events["items"].as_array().unwrap();
        let started = events.iter().find(|e| e["action"] == "impersonation.started").expect("started");
        assert_eq!(started["details"]["reason"], "ticket 4711: cannot see the Users table");
        assert_eq!(started["actor_id"], admin_id.as_str());
        let made = events
            .iter()
            .find(|e| e["action"] == "user.updated" && e["target_id"] == created["id"])
            .expect("the change");
        assert_eq!(
            (made["actor_id"].as_str(), made["impersonator_id"].as_str()),
            (Some(lead_id.as_str()), Some(admin_id.as_str()))
        );
        let stopped = events.iter().find(|e| e["action"] == "impersonation.stopped").expect("stopped");
        assert_eq!(stopped["impersonator_id"], admin_id.as_str(), "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn impersonation_is_refused_without_permission_across_organizations_and_for_bad_targets() {
    for app in apps("impersonation_refusals").await {
        let token = app.login().await;
        let admin_id = app.get_ok("/api/v1/me", &token).await["user"]["id"].as_str().unwrap().to_owned();
        let (standard, standard_id) = member(&app, "demo", "standard@demo.example", "standard").await;
        let r = impersonate(&app, &standard, &admin_id, "curious").await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        let r = impersonate(&app, &token, &admin_id, "myself").await;
        assert_problem(r, StatusCode::CONFLICT, "impersonation_not_allowed").await;
        let r = app
            .authed(Method::POST, &format!("/api/v1/users/{standard_id}/deactivate"), &token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = impersonate(&app, &token, &standard_id, "deactivated").await;
        assert_problem(r, StatusCode::CONFLICT, "impersonation_not_allowed").await;

        let other = other_org(&app, "other").await;
        let r = impersonate(&app, &other, &admin_id, "across").await;
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

        let r = impersonate(&app, &token, &standard_id, "   ").await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = app
            .authed(Method::POST, "/api/v1/impersonation", &token)
            .json(&json!({"user_id": standard_id}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        let r = app.authed(Method::DELETE, "/api/v1/impersonation", &token).send().await.unwrap();
        assert_problem(r, StatusCode::CONFLICT, "impersonation_not_allowed").await;

        let events = app.get_ok("/api/v1/audit?action=impersonation.started", &token).await;
        assert!(events["items"].as_array().unwrap().is_empty(), "{}: nothing started", app.engine);
        app.finish().await;
    }
}
