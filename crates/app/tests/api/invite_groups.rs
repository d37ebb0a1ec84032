//! Invite rows and pasted lists that take `group_ids` (SPEC §10; Argyle invites people straight
//! into a group): the invited user joins the groups when the invite is made, the invite keeps
//! them, accepting keeps the memberships and revoking removes them with the user; a group that
//! is unknown, deleted, the root, another organization's or one the inviter does not manage
//! refuses the whole request and nothing is created.

use reqwest::{Method, StatusCode};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ids::GroupId;
use roster_domain::services::{NewAdmin, RoleAssignment};
use roster_domain::values::{Email, Key, Password, PersonName, Slug};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, apps, assert_problem};
use crate::invites::allow_invites;

const PASSWORD: &str = "a long enough password";

fn row(name: &str, email: &str, groups: &[&str]) -> Value {
    json!({"name": name, "email": email, "roles": ["standard"], "products": ["core"], "group_ids": groups})
}

async fn invite(app: &TestApp, token: &str, rows: Vec<Value>) -> reqwest::Response {
    app.authed(Method::POST, "/api/v1/invites", token).json(&json!({"invites": rows})).send().await.expect("sends")
}

async fn paste(app: &TestApp, token: &str, text: &str, groups: &[&str]) -> reqwest::Response {
    let body = json!({"text": text, "roles": ["standard"], "products": ["core"], "group_ids": groups});
    app.authed(Method::POST, "/api/v1/invites/bulk", token).json(&body).send().await.expect("sends")
}

/// Sales (depth 2) with East below it (depth 3), and Support (depth 2).
async fn tree(app: &TestApp, token: &str) -> (String, String, String, String) {
    let root = app.root_group(token).await;
    let sales = app.group(token, "Sales", &root).await;
    let east = app.group(token, "East", &sales).await;
    let support = app.group(token, "Support", &root).await;
    (root, sales, east, support)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("a list").iter().map(|s| s.as_str().expect("text").to_owned()).collect()
}

/// What an unwritten request must leave as it was: the users, the invites, the seats of Core and
/// the audit log.
async fn footprint(app: &TestApp, token: &str) -> (u64, Value, Value, usize) {
    let users = app.user_count(token).await;
    let invites = app.get_ok("/api/v1/invites", token).await["items"].clone();
    let seats = app.get_ok("/api/v1/licenses", token).await["items"].clone();
    let events = app.get_ok("/api/v1/audit?limit=200", token).await["items"].as_array().expect("items").len();
    (users, invites, seats, events)
}

#[tokio::test]
async fn an_invite_row_puts_the_invitee_straight_into_its_groups_and_keeps_them_through_accept_and_revoke() {
    for app in apps("invite_groups_rows").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let (_, sales, east, _) = tree(&app, &token).await;
        let r = invite(
            &app,
            &token,
            vec![
                row("Ada Lovelace", "ada@example.com", &[&sales]),
                row("Grace Hopper", "grace@example.com", &[&east, &sales, &east]),
                row("Alan Turing", "alan@example.com", &[]),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let body: Value = r.json().await.expect("json");
        let created: Vec<&str> =
            body["results"].as_array().expect("results").iter().map(|r| r["status"].as_str().unwrap_or("")).collect();
        assert_eq!(created, ["created", "created", "created"], "{body}");

        // The invites keep their groups; each invitee is `invited` and already in them.
        let list = app.get_ok("/api/v1/invites", &token).await;
        let by_email = |email: &str| -> Value {
            list["items"].as_array().expect("items").iter().find(|i| i["email"] == email).expect("listed").clone()
        };
        let (ada, grace, alan) =
            (by_email("ada@example.com"), by_email("grace@example.com"), by_email("alan@example.com"));
        assert_eq!(strings(&ada["group_ids"]), vec![sales.clone()], "{}", app.engine);
        assert_eq!(
            sorted(strings(&grace["group_ids"])),
            sorted(vec![sales.clone(), east.clone()]),
            "listed twice: once"
        );
        assert_eq!(alan["group_ids"], json!([]));
        let user = |invite: &Value| format!("/api/v1/users/{}", invite["user_id"].as_str().expect("a user"));
        let ada_user = app.get_ok(&user(&ada), &token).await;
        assert_eq!(
            (ada_user["status"].as_str(), strings(&ada_user["group_ids"])),
            (Some("invited"), vec![sales.clone()])
        );
        let grace_user = app.get_ok(&user(&grace), &token).await;
        assert_eq!(sorted(strings(&grace_user["group_ids"])), sorted(vec![sales.clone(), east.clone()]));
        assert_eq!(app.get_ok(&user(&alan), &token).await["group_ids"], json!([]));
        // The Users table's team filter finds them.
        let in_sales = app.get_ok(&format!("/api/v1/users?group={sales}&page=1&per_page=10"), &token).await;
        assert_eq!(in_sales["total"], 2, "{}", app.engine);

        // Audited: the invite names its groups, each membership has its event.
        let ada_id = ada["user_id"].as_str().expect("an id");
        let events = app
            .get_ok(&format!("/api/v1/audit?target_id={}&limit=10", ada["id"].as_str().expect("an id")), &token)
            .await;
        assert_eq!(events["items"][0]["action"], "invite.created");
        assert_eq!(events["items"][0]["details"]["group_ids"], json!([sales]));
        let joined = app.get_ok(&format!("/api/v1/audit?target_id={ada_id}&action=membership.joined"), &token).await;
        assert_eq!(joined["items"][0]["details"]["group_id"], sales.as_str(), "{}", app.engine);

        // Accepting keeps the memberships: Ada is pending, in Sales.
        let mail = app.mail().await;
        let ada_mail = mail.iter().find(|m| m.to == "ada@example.com").expect("Ada's invitation");
        let r = app
            .request(Method::POST, "/api/v1/invites/accept")
            .json(&json!({"token": ada_mail.token("/accept-invite"), "password": PASSWORD}))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let ada_user = app.get_ok(&user(&ada), &token).await;
        assert_eq!(
            (ada_user["status"].as_str(), strings(&ada_user["group_ids"])),
            (Some("pending"), vec![sales.clone()])
        );

        // Revoking removes the invitee and their memberships with them.
        let r = app
            .authed(Method::DELETE, &format!("/api/v1/invites/{}", grace["id"].as_str().expect("an id")), &token)
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::GET, &user(&grace), &token).send().await.expect("sends");
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let in_east = app.get_ok(&format!("/api/v1/users?group={east}&page=1&per_page=10"), &token).await;
        assert_eq!(in_east["total"], 0, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_pasted_list_puts_every_entry_into_its_groups() {
    for app in apps("invite_groups_paste").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let (_, sales, east, _) = tree(&app, &token).await;
        let r = paste(&app, &token, "ann@example.com, Bob Builder <bob@example.com>", &[&east, &sales]).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let list = app.get_ok("/api/v1/invites", &token).await;
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        for item in items {
            assert_eq!(sorted(strings(&item["group_ids"])), sorted(vec![sales.clone(), east.clone()]), "{item}");
            let user = app.get_ok(&format!("/api/v1/users/{}", item["user_id"].as_str().expect("an id")), &token).await;
            assert_eq!(sorted(strings(&user["group_ids"])), sorted(vec![sales.clone(), east.clone()]));
        }
        // A dry run reports and joins nobody.
        let body = json!({"text": "cy@example.com", "roles": ["standard"], "products": ["core"],
            "group_ids": [sales], "dry_run": true});
        let r = app.authed(Method::POST, "/api/v1/invites/bulk", &token).json(&body).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::OK);
        let in_sales = app.get_ok(&format!("/api/v1/users?group={sales}&page=1&per_page=10"), &token).await;
        assert_eq!(in_sales["total"], 2, "{}", app.engine);
        app.finish().await;
    }
}

/// A member of `demo` holding `recruiter` (manage users and licenses over the whole
/// organization, invite connections, no `manage_groups`) and, when `scope` is given, `admin`
/// scoped to that group; their token.
async fn recruiter(app: &TestApp, admin: &str, email: &str, scope: Option<&str>) -> String {
    let roles = app.get_ok("/api/v1/roles", admin).await;
    if !roles["items"].as_array().expect("items").iter().any(|r| r["key"] == "recruiter") {
        let permissions = ["manage_users", "manage_licenses", "invite_connections"];
        let body = json!({"key": "recruiter", "name": "Recruiter", "permissions": permissions, "visibility": "all"});
        app.send_ok(Method::POST, "/api/v1/roles", admin, &body, StatusCode::CREATED).await;
    }
    let slug = Slug::parse("demo").expect("a slug");
    let new = NewAdmin {
        org: slug.clone(),
        email: Email::parse(email).expect("an email"),
        first_name: PersonName::parse("Rita").expect("a name"),
        last_name: PersonName::parse("Recruiter").expect("a name"),
        password: Password::parse(ADMIN_PASSWORD).expect("a password"),
    };
    let created = app.services.create_admin(Source::Cli, new).await.expect("creates the member");
    let org = app.services.organization_by_slug(&slug).await.expect("the organization");
    let operator = Actor::system(org.id, Source::Cli);
    let mut roles = vec![RoleAssignment::org_wide(Key::parse("recruiter").expect("a key"))];
    if let Some(group) = scope {
        let group = GroupId::from_uuid(group.parse().expect("a group id"));
        roles.push(RoleAssignment { role: Key::parse("admin").expect("a key").into(), scope: Some(group) });
    }
    app.services.set_roles(&operator, created.user.id, roles, None).await.expect("sets the roles");
    app.login_to("demo", email, ADMIN_PASSWORD).await
}

#[tokio::test]
async fn an_unknown_deleted_root_or_foreign_group_refuses_the_whole_request_and_nothing_is_created() {
    for app in apps("invite_groups_unknown").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let (root, sales, _, support) = tree(&app, &token).await;
        let gone = app.group(&token, "Gone", &root).await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/groups/{gone}"), &token).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let other = app.other_org().await;
        let foreign = app.group(&other, "Theirs", &app.root_group(&other).await).await;
        let unknown = "0190f3c4-5b6a-7c8d-9e0f-1a2b3c4d5e6f";
        let before = footprint(&app, &token).await;

        for (groups, code) in [
            (unknown, "unknown_group"),
            (gone.as_str(), "unknown_group"),
            (root.as_str(), "root_group"),
            (foreign.as_str(), "unknown_group"),
        ] {
            // The good first row is not created either.
            let rows = vec![
                row("Ada Lovelace", "ada@example.com", &[&sales]),
                row("Bo Diddley", "bo@example.com", &[&support, groups]),
            ];
            let problem =
                assert_problem(invite(&app, &token, rows).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
                    .await;
            assert_eq!(
                problem["errors"],
                json!([{"field": "invites[1].group_ids[1]", "code": code,
                "message": problem["errors"][0]["message"]}]),
                "{}: {groups}",
                app.engine
            );
            let r = paste(&app, &token, "cy@example.com, dee@example.com", &[&sales, groups]).await;
            let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(
                (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
                (Some("group_ids[1]"), Some(code))
            );
        }
        // Every bad group of every row at once.
        let rows = vec![
            row("Ada Lovelace", "ada@example.com", &[unknown]),
            row("Bo Diddley", "bo@example.com", &[&sales, &root]),
        ];
        let problem =
            assert_problem(invite(&app, &token, rows).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
                .await;
        let fields: Vec<&str> =
            problem["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["invites[0].group_ids[0]", "invites[1].group_ids[1]"], "{}", app.engine);
        // Not a group id at all: a body that cannot be read.
        let r = invite(&app, &token, vec![row("Ada Lovelace", "ada@example.com", &["sales"])]).await;
        let problem = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "invites[0].group_ids[0]", "{}", app.engine);

        assert_eq!(footprint(&app, &token).await, before, "{}: nothing was created", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_inviter_who_does_not_manage_a_group_cannot_invite_into_it_and_nothing_is_created() {
    for app in apps("invite_groups_forbidden").await {
        let admin = app.login().await;
        allow_invites(&app, &admin).await;
        let (_, sales, east, support) = tree(&app, &admin).await;
        // Rita manages users and licenses everywhere, and groups only in Sales.
        let rita = recruiter(&app, &admin, "rita@demo.example", Some(&sales)).await;
        // Ray manages users and licenses everywhere, and no group.
        let ray = recruiter(&app, &admin, "ray@demo.example", None).await;
        let before = footprint(&app, &admin).await;

        let rows =
            vec![row("Ada Lovelace", "ada@example.com", &[&east]), row("Bo Diddley", "bo@example.com", &[&support])];
        let problem = assert_problem(invite(&app, &rita, rows).await, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(problem["detail"].as_str().unwrap_or("").contains("manage_groups"), "{}: {problem}", app.engine);
        assert_problem(paste(&app, &rita, "cy@example.com", &[&support]).await, StatusCode::FORBIDDEN, "forbidden")
            .await;
        let rows = vec![row("Ada Lovelace", "ada@example.com", &[&sales])];
        assert_problem(invite(&app, &ray, rows).await, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(footprint(&app, &admin).await, before, "{}: nothing was created", app.engine);

        // Within her groups Rita invites; without groups so does Ray.
        for (token, body) in [
            (&rita, row("Ada Lovelace", "ada@example.com", &[&east, &sales])),
            (&ray, row("Bo Diddley", "bo@example.com", &[])),
        ] {
            let r = invite(&app, token, vec![body]).await;
            assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
            let answer: Value = r.json().await.expect("json");
            assert_eq!(answer["results"][0]["status"], "created", "{}: {answer}", app.engine);
        }
        let in_sales = app.get_ok(&format!("/api/v1/users?group={sales}&page=1&per_page=10"), &admin).await;
        assert_eq!(in_sales["total"], 1, "{}", app.engine);
        app.finish().await;
    }
}
