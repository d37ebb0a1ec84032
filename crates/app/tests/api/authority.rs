//! Authority that cannot be escalated (SPEC §5 dominance, §7.4 API keys): each test is a
//! request sequence that once turned a narrow permission into full administration, and must
//! now be refused.

use reqwest::{Method, StatusCode};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ids::{GroupId, UserId};
use roster_domain::services::RoleAssignment;
use roster_domain::values::{Key, Slug};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::invites::allow_invites;
use crate::tree_support::{MEMBER_PASSWORD, Member};

/// Creates the custom role `key` holding `permissions` with `visibility`, as the admin.
async fn custom_role(app: &TestApp, admin: &str, key: &str, permissions: &[&str], visibility: &str) {
    let body = json!({"key": key, "name": key, "permissions": permissions, "visibility": visibility});
    app.send_ok(Method::POST, "/api/v1/roles", admin, &body, StatusCode::CREATED).await;
}

/// Gives `member` (made by `TestApp::member` as `local`) exactly `role`, limited to `scope`'s
/// subtree when set (no HTTP route sets a scoped role, so the operator does). A change that
/// takes something away ends the member's sessions, so they log in again.
async fn hold_only(app: &TestApp, member: &mut Member, local: &str, role: &str, scope: Option<&str>) {
    let org = app.services.organization_by_slug(&Slug::parse("demo").unwrap()).await.unwrap().id;
    let operator = Actor::system(org, Source::Cli);
    let scope = scope.map(|g| g.parse::<GroupId>().unwrap());
    let roles = vec![RoleAssignment { role: Key::parse(role).unwrap().into(), scope }];
    let id: UserId = member.id.parse().unwrap();
    app.services.set_roles(&operator, id, roles, None).await.expect("sets the role");
    member.token = app.login_to("demo", &format!("{local}@demo.example"), MEMBER_PASSWORD).await;
}

async fn me_permissions(app: &TestApp, token: &str) -> Vec<String> {
    let me = app.get_ok("/api/v1/me", token).await;
    me["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect()
}

async fn admin_id(app: &TestApp, admin: &str) -> String {
    app.get_ok("/api/v1/me", admin).await["user"]["id"].as_str().unwrap().to_owned()
}

async fn impersonate(app: &TestApp, token: &str, user_id: &str) -> reqwest::Response {
    let body = json!({"user_id": user_id, "reason": "support ticket 1"});
    app.send(Method::POST, "/api/v1/impersonation", token, &body).await
}

#[tokio::test]
async fn impersonation_reaches_no_higher_than_the_impersonator() {
    for app in apps("authority_impersonation").await {
        let admin = app.login().await;
        let admin_id = admin_id(&app, &admin).await;
        custom_role(&app, &admin, "helpdesk", &["impersonate"], "groups").await;
        let helpdesk = app.member(&admin, "helpdesk", &["helpdesk"], &[]).await;
        // Acting as the admin would lend a one-permission member every permission.
        let r = impersonate(&app, &helpdesk.token, &admin_id).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // A support agent who covers a standard member acts with what both hold, no more.
        custom_role(&app, &admin, "support", &["impersonate", "manage_users", "invite_connections"], "groups").await;
        let support = app.member(&admin, "support", &["support"], &[]).await;
        let standard = app.member(&admin, "plain", &["standard"], &[]).await;
        let r = impersonate(&app, &support.token, &standard.id).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let acting: Value = r.json().await.unwrap();
        let acting = acting["token"].as_str().unwrap().to_owned();
        assert_eq!(me_permissions(&app, &acting).await, ["invite_connections"], "{}", app.engine);

        // An admin impersonating hands out no role by any door: users, invites, grants.
        let lead = app.member(&admin, "lead", &["admin"], &[]).await;
        let r = impersonate(&app, &admin, &lead.id).await;
        let acting: Value = r.json().await.unwrap();
        let acting = acting["token"].as_str().unwrap().to_owned();
        let body =
            json!({"email": "new-admin@demo.example", "first_name": "New", "last_name": "Admin", "roles": ["admin"]});
        assert_problem(
            app.send(Method::POST, "/api/v1/users", &acting, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        allow_invites(&app, &admin).await;
        let body = json!({"invites": [{"name": "Eve Admin", "email": "eve@demo.example", "roles": ["admin"], "products": ["core"]}]});
        let r = app.send(Method::POST, "/api/v1/invites", &acting, &body).await;
        let text = r.text().await.unwrap();
        assert!(!text.contains("\"created\""), "{}: no invite made while impersonating: {text}", app.engine);
        let body = json!({"permissions": ["view_reporting"], "group_access": []});
        let r = app.send(Method::PUT, &format!("/api/v1/users/{}/grants", standard.id), &acting, &body).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn api_keys_act_within_their_creators_current_authority() {
    for app in apps("authority_api_keys").await {
        let admin = app.login().await;
        let mut second = app.member(&admin, "second", &["admin"], &[]).await;
        let body = json!({"name": "Sync", "permissions": ["manage_users", "manage_api_keys"]});
        let key = app.send_ok(Method::POST, "/api/v1/api-keys", &second.token, &body, StatusCode::CREATED).await;
        let key = key["secret"].as_str().unwrap().to_owned();
        assert_eq!(app.authed(Method::GET, "/api/v1/users", &key).send().await.unwrap().status(), StatusCode::OK);

        // Demoted: the key keeps only what its creator still holds.
        hold_only(&app, &mut second, "second", "standard", None).await;
        let r = app.authed(Method::GET, "/api/v1/users", &key).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // Deactivated, then deleted: the key is suspended, and the list says why.
        hold_only(&app, &mut second, "second", "admin", None).await;
        let path = format!("/api/v1/users/{}/deactivate", second.id);
        app.send_ok(Method::POST, &path, &admin, &json!({}), StatusCode::OK).await;
        let r = app.send(Method::POST, "/api/v1/api-keys", &key, &json!({"name": "Another"})).await;
        let problem = assert_problem(r, StatusCode::UNAUTHORIZED, "api_key_suspended").await;
        assert!(problem["detail"].as_str().unwrap().contains("deactivated"), "{problem}");
        let r =
            app.send(Method::PATCH, &format!("/api/v1/users/{}", second.id), &key, &json!({"first_name": "X"})).await;
        assert_problem(r, StatusCode::UNAUTHORIZED, "api_key_suspended").await;
        let listed = app.get_ok("/api/v1/api-keys", &admin).await;
        assert_eq!(listed["items"][0]["suspended"], "creator_deactivated", "{}", app.engine);

        let r = app
            .authed(Method::DELETE, &format!("/api/v1/users/{}?confirm=true", second.id), &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        let r = app.authed(Method::GET, "/api/v1/users", &key).send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "api_key_suspended").await;
        let listed = app.get_ok("/api/v1/api-keys", &admin).await;
        assert_eq!(listed["items"][0]["suspended"], "creator_deleted", "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_invite_cannot_be_redirected_to_another_mailbox() {
    for app in apps("authority_invites").await {
        let admin = app.login().await;
        allow_invites(&app, &admin).await;
        let body = json!({"invites": [{"name": "Ada Admin", "email": "ada@example.com", "roles": ["admin"], "products": ["core"]}]});
        let made = app.send_ok(Method::POST, "/api/v1/invites", &admin, &body, StatusCode::CREATED).await;
        let invite = made["results"][0]["invite_id"].as_str().unwrap().to_owned();
        let invitee = app.get_ok("/api/v1/invites", &admin).await["items"][0]["user_id"].as_str().unwrap().to_owned();

        // A member who only manages users may neither redirect nor resend an admin's invite.
        custom_role(&app, &admin, "clerk", &["manage_users"], "all").await;
        let clerk = app.member(&admin, "clerk", &["clerk"], &[]).await;
        let mine = json!({"email": "clerk-mailbox@example.com"});
        let r = app.send(Method::PATCH, &format!("/api/v1/users/{invitee}"), &clerk.token, &mine).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r =
            app.authed(Method::POST, &format!("/api/v1/invites/{invite}/resend"), &clerk.token).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // Nobody changes an invitee's address, not even an admin; a resend goes where the
        // invite was made for.
        let r = app.send(Method::PATCH, &format!("/api/v1/users/{invitee}"), &admin, &mine).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "email", "{problem}");
        let r = app.authed(Method::POST, &format!("/api/v1/invites/{invite}/resend"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let mail = app.mail().await;
        assert!(
            mail.iter().all(|m| m.to == "ada@example.com"),
            "{}: {:?}",
            app.engine,
            mail.iter().map(|m| &m.to).collect::<Vec<_>>()
        );
        app.finish().await;
    }
}

#[tokio::test]
async fn grants_are_held_to_what_the_giver_holds() {
    for app in apps("authority_grants").await {
        let admin = app.login().await;
        custom_role(&app, &admin, "clerk", &["manage_users"], "all").await;
        let clerk = app.member(&admin, "clerk", &["clerk"], &[]).await;
        let grants = json!({"permissions": ["view_reporting", "audio_scoring"], "group_access": []});
        let r = app.send(Method::PUT, &format!("/api/v1/users/{}/grants", clerk.id), &clerk.token, &grants).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(me_permissions(&app, &clerk.token).await, ["manage_users"], "{}", app.engine);

        // The same through a key that only manages users, on a member it covers.
        let body = json!({"name": "Users only", "permissions": ["manage_users"]});
        let key = app.send_ok(Method::POST, "/api/v1/api-keys", &admin, &body, StatusCode::CREATED).await;
        let key = key["secret"].as_str().unwrap().to_owned();
        let plain = app.member(&admin, "plain", &["read_only"], &[]).await;
        let r = app.send(Method::PUT, &format!("/api/v1/users/{}/grants", plain.id), &key, &grants).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // And for a member who manages the users of one group, on themself.
        let root = app.root_group(&admin).await;
        let team = app.group(&admin, "Team", &root).await;
        let mut lead = app.member(&admin, "teamlead", &["read_only"], &[&team]).await;
        hold_only(&app, &mut lead, "teamlead", "clerk", Some(&team)).await;
        let r = app.send(Method::PUT, &format!("/api/v1/users/{}/grants", lead.id), &lead.token, &grants).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let user = app.get_ok(&format!("/api/v1/users/{}", lead.id), &admin).await;
        assert_eq!(user["extra_permissions"], json!([]), "{}: nothing was granted", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn nobody_acts_on_a_member_holding_more_than_they_do() {
    for app in apps("authority_above").await {
        let admin = app.login().await;
        let admin_id = admin_id(&app, &admin).await;
        custom_role(&app, &admin, "clerk", &["manage_users"], "all").await;
        let clerk = app.member(&admin, "clerk", &["clerk"], &[]).await;
        let r = app
            .send(
                Method::PATCH,
                &format!("/api/v1/users/{admin_id}"),
                &clerk.token,
                &json!({"email": "mine@example.com"}),
            )
            .await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.send(Method::POST, &format!("/api/v1/users/{admin_id}/deactivate"), &clerk.token, &json!({})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let me = app.get_ok("/api/v1/me", &admin).await;
        assert_eq!(
            (me["user"]["email"].as_str(), me["user"]["status"].as_str() == Some("deactivated")),
            (Some("admin@demo.example"), false)
        );

        // A role manager shapes no role beyond what they hold.
        custom_role(&app, &admin, "auditors", &["view_audit", "export_data"], "all").await;
        custom_role(&app, &admin, "role_keeper", &["manage_roles", "export_data"], "all").await;
        let keeper = app.member(&admin, "keeper", &["role_keeper"], &[]).await;
        let roles = app.get_ok("/api/v1/roles", &admin).await;
        let auditors = roles["items"].as_array().unwrap().iter().find(|r| r["key"] == "auditors").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/api/v1/roles/{auditors}");
        let r = app.send(Method::PATCH, &path, &keeper.token, &json!({"permissions": ["export_data"]})).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::DELETE, &path, &keeper.token).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let roles = app.get_ok("/api/v1/roles", &admin).await;
        let kept = roles["items"].as_array().unwrap().iter().find(|r| r["key"] == "auditors").unwrap().clone();
        assert_eq!(kept["permissions"], json!(["export_data", "view_audit"]), "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_impersonation_reason_must_be_visible() {
    for app in apps("authority_reason").await {
        let admin = app.login().await;
        let plain = app.member(&admin, "plain", &["standard"], &[]).await;
        for reason in ["\u{200B}", " \u{200B}\u{2060} ", "\u{FEFF}\u{00AD}"] {
            let body = json!({"user_id": plain.id, "reason": reason});
            let r = app.send(Method::POST, "/api/v1/impersonation", &admin, &body).await;
            let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");
        }
        app.finish().await;
    }
}
