//! Helpers of the group, role and connection tests: members of a given role who can log in, a
//! second organization, groups and connections created over HTTP.

use reqwest::{Method, Response, StatusCode};
use roster_domain::audit::Source;
use roster_domain::ids::UserId;
use roster_domain::org::OrgSettings;
use roster_domain::services::{NewAdmin, NewOrganization};
use roster_domain::values::{Email, Label, Password, PersonName, Slug};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp};

/// The password every member made by [`member`] logs in with.
pub const MEMBER_PASSWORD: &str = "a long enough member password";

/// A member who can log in.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub token: String,
}

impl TestApp {
    /// A JSON request with a bearer token; the answer.
    pub async fn send(&self, method: Method, path: &str, token: &str, body: &Value) -> Response {
        self.authed(method, path, token).json(body).send().await.expect("sends")
    }

    /// A JSON request that must answer `status`; the answer's JSON body (`null` for 204).
    pub async fn send_ok(&self, method: Method, path: &str, token: &str, body: &Value, status: StatusCode) -> Value {
        let r = self.send(method.clone(), path, token, body).await;
        let got = r.status();
        let text = r.text().await.expect("a body");
        assert_eq!(got, status, "{}: {method} {path}: {text}", self.engine);
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("json") }
    }

    /// A member of `org` (a slug) with `roles` and `groups`, created by `admin` over the API,
    /// given a password through the domain, and logged in over the API.
    pub async fn member_of(&self, org: &str, admin: &str, local: &str, roles: &[&str], groups: &[&str]) -> Member {
        let email = format!("{local}@{org}.example");
        let body =
            json!({"email": email, "first_name": "Member", "last_name": local, "roles": roles, "group_ids": groups});
        let user = self.send_ok(Method::POST, "/api/v1/users", admin, &body, StatusCode::CREATED).await;
        let id = user["id"].as_str().expect("an id").to_owned();
        let org_id = self.services.organization_by_slug(&Slug::parse(org).expect("a slug")).await.expect("the org").id;
        let uid: UserId = id.parse().expect("a user id");
        let actor = self.services.resolve_actor(org_id, uid, Source::Cli, None).await.expect("the member resolves");
        let password = Password::parse(MEMBER_PASSWORD).expect("a valid password");
        self.services.change_password(&actor, &password).await.expect("sets the password");
        let token = self.login_to(org, &email, MEMBER_PASSWORD).await;
        Member { id, token }
    }

    /// A member of `demo`.
    pub async fn member(&self, admin: &str, local: &str, roles: &[&str], groups: &[&str]) -> Member {
        self.member_of("demo", admin, local, roles, groups).await
    }

    /// A second organization, `other`, with its own admin; the admin's token.
    pub async fn other_org(&self) -> String {
        let other = NewOrganization {
            name: Label::parse("Other").expect("a label"),
            slug: Slug::parse("other").expect("a slug"),
            trial_ends_at: None,
            settings: OrgSettings::default(),
        };
        self.services.create_organization(Source::Cli, other).await.expect("creates the other organization");
        let admin = NewAdmin {
            org: Slug::parse("other").expect("a slug"),
            email: Email::parse("boss@other.example").expect("an email"),
            first_name: PersonName::parse("Other").expect("a name"),
            last_name: PersonName::parse("Boss").expect("a name"),
            password: Password::parse(ADMIN_PASSWORD).expect("a password"),
        };
        self.services.create_admin(Source::Cli, admin).await.expect("creates the other admin");
        self.login_to("other", "boss@other.example", ADMIN_PASSWORD).await
    }

    /// The id of the caller's root group (the organization).
    pub async fn root_group(&self, token: &str) -> String {
        let tree = self.get_ok("/api/v1/groups", token).await;
        let root = tree["items"].as_array().expect("items").iter().find(|g| g["depth"] == 1).expect("a root");
        root["id"].as_str().expect("an id").to_owned()
    }

    /// Creates a group below `parent`; its id.
    pub async fn group(&self, token: &str, name: &str, parent: &str) -> String {
        let body = json!({"name": name, "parent_id": parent});
        let g = self.send_ok(Method::POST, "/api/v1/groups", token, &body, StatusCode::CREATED).await;
        g["id"].as_str().expect("an id").to_owned()
    }

    /// Creates a connection as `token` with `body`; the answer.
    pub async fn connection(&self, token: &str, body: &Value) -> Value {
        self.send_ok(Method::POST, "/api/v1/connections", token, body, StatusCode::CREATED).await
    }

    /// The ids of the connections `token` sees (one page of 200).
    pub async fn visible(&self, token: &str) -> Vec<String> {
        let list = self.get_ok("/api/v1/connections?limit=200", token).await;
        list["items"].as_array().expect("items").iter().map(|c| c["id"].as_str().expect("an id").to_owned()).collect()
    }
}

/// The `id`s of a list answer's items.
pub fn ids(list: &Value) -> Vec<String> {
    list["items"].as_array().expect("items").iter().map(|c| c["id"].as_str().expect("an id").to_owned()).collect()
}
