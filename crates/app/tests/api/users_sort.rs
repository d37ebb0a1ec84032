//! Sorting the Users table by any column (SPEC §10, decision 0035): every column beside the
//! names, email, creation time and ids sorts ascending and descending in its documented order —
//! checked here against the rows as the API shows them, each order computed anew from the
//! decision's rules — cursors walk it visiting every user once, page numbers cut the same
//! order, the CSV export takes the same sort, and a sort the table has no column for is refused.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use roster_app::system::SystemClock;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ports::Clock as _;
use roster_domain::services::{ProfilePatch, SettingsPatch};
use roster_domain::user::{Homepage, MailboxProvider};
use roster_domain::values::{Key, Phone, Slug};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::{TestApp, apps, assert_problem};

/// The columns sortable since decision 0035, by their `sort` names.
const NEW_SORTS: [&str; 22] = [
    "updated_at",
    "phone",
    "agent_ring_number",
    "dialer_number",
    "status",
    "products",
    "product:core",
    "product:dialer",
    "roles",
    "teams",
    "scheduled",
    "mailbox_provider",
    "email_throttle_max_per_day",
    "flow_enabled",
    "email_sync",
    "calendar_sync",
    "call_recording",
    "homepage",
    "round_robin",
    "scoring_enabled",
    "roaming_agent",
    "voip_forward_to",
];

/// A row's value in one column, ordered as decision 0035 says: absent first, text by code
/// point, times by time, `false` before `true`, numbers by value, lists item by item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cell {
    Absent,
    Text(String),
    Time(OffsetDateTime),
    Yes(bool),
    Number(i64),
    List(Vec<String>),
}

fn in_days(days: i64) -> String {
    (SystemClock.now() + Duration::days(days)).format(&Rfc3339).expect("formats")
}

/// The organization the tests sort: nine members in every status, with products, roles,
/// teams (two of them named `East` and `east`), scheduled changes and settings that differ,
/// and the names the rows refer to by id.
struct Table {
    token: String,
    role_keys: BTreeMap<String, String>,
    group_names: BTreeMap<String, String>,
}

impl Table {
    async fn build(app: &TestApp) -> Self {
        let token = app.login().await;
        let org = app.services.organization_by_slug(&Slug::parse("demo").expect("a slug")).await.expect("demo").id;
        let operator = Actor::system(org, Source::Cli);
        for product in ["core", "flow", "dialer", "sms"] {
            let key = Key::parse(product).expect("a key");
            app.services.set_seats(&operator, &key, 50).await.expect("sets the seats");
        }
        let settings = json!({"auto_signup": false, "confirm": true});
        app.send_ok(Method::PATCH, "/api/v1/org/settings", &token, &settings, StatusCode::OK).await;
        let root = app.root_group(&token).await;
        let sales = app.group(&token, "Sales", &root).await;
        let east = app.group(&token, "East", &sales).await;
        let other_east = app.group(&token, "east", &root).await;

        let people = [
            (
                "ada",
                "Ada",
                "Lovelace",
                json!(["core", "flow"]),
                json!(["standard"]),
                json!([sales]),
                Some("+14155550101"),
            ),
            ("bob", "Bob", "Byron", json!(["core"]), json!(["team_lead", "standard"]), json!([east]), None),
            ("cy", "Cy", "Zed", json!([]), json!(["standard"]), json!([]), Some("+14155550100")),
            ("dee", "Dee", "Moss", json!(["core", "dialer", "sms"]), json!(["analyst"]), json!([sales, east]), None),
            ("eve", "Eve", "Abel", json!(["core", "dialer"]), json!(["standard"]), json!([other_east]), None),
            ("fay", "Fay", "Ng", json!(["core"]), json!(["admin"]), json!([sales]), Some("+4420790000")),
            ("gus", "Gus", "Zed", json!(["core", "flow"]), json!(["read_only"]), json!([east, other_east]), None),
            ("hal", "Hal", "Moss", json!(["core"]), json!(["standard"]), json!([]), None),
        ];
        let mut ids = BTreeMap::new();
        for (local, first, last, products, roles, groups, phone) in people {
            let body = json!({"email": format!("{local}@demo.example"), "first_name": first, "last_name": last,
                              "products": products, "roles": roles, "group_ids": groups, "phone": phone});
            let user = app.send_ok(Method::POST, "/api/v1/users", &token, &body, StatusCode::CREATED).await;
            ids.insert(local, user["id"].as_str().expect("an id").to_owned());
        }
        let invite = json!({"invites": [{"name": "Ivy Invitee", "email": "ivy@demo.example", "roles": ["standard"], "products": ["core"]}]});
        let invited = app.send_ok(Method::POST, "/api/v1/invites", &token, &invite, StatusCode::CREATED).await;
        assert_eq!(invited["results"][0]["status"], "created", "{}", app.engine);

        // Settings, over the API where it writes them.
        for (who, patch) in [
            ("ada", json!({"email_throttle_max_per_day": 100, "flow_enabled": false, "email_sync": true})),
            ("bob", json!({"email_throttle_max_per_day": 1000, "calendar_sync": true, "round_robin": true})),
            ("dee", json!({"email_throttle_max_per_day": 100, "scoring_enabled": true, "roaming_agent": true})),
            ("gus", json!({"email_sync": true, "calendar_sync": true, "flow_enabled": false})),
        ] {
            let body = json!({ "settings": patch });
            app.send_ok(Method::PATCH, &format!("/api/v1/users/{}", ids[who]), &token, &body, StatusCode::OK).await;
        }
        for (who, recording) in [(vec!["ada", "dee"], "enforced"), (vec!["bob"], "disabled")] {
            let user_ids: Vec<&String> = who.iter().map(|w| &ids[w]).collect();
            let body = json!({"user_ids": user_ids, "action": "set_call_recording", "call_recording": recording});
            app.send_ok(Method::POST, "/api/v1/users/bulk", &token, &body, StatusCode::OK).await;
        }
        // More settings and numbers, through the operator's door of the same use case.
        let phone = |p: &str| Some(Phone::parse(p).expect("a phone"));
        for (who, patch) in [
            (
                "ada",
                ProfilePatch {
                    agent_ring_number: Some(phone("+12125550102")),
                    dialer_number: Some(phone("+33155550100")),
                    settings: SettingsPatch {
                        mailbox_provider: Some(MailboxProvider::Google),
                        homepage: Some(Homepage::Leads),
                        ..SettingsPatch::default()
                    },
                    ..ProfilePatch::default()
                },
            ),
            (
                "dee",
                ProfilePatch {
                    agent_ring_number: Some(phone("+12125550101")),
                    settings: SettingsPatch {
                        mailbox_provider: Some(MailboxProvider::Microsoft),
                        voip_forward_to: Some(phone("+442079460000")),
                        ..SettingsPatch::default()
                    },
                    ..ProfilePatch::default()
                },
            ),
            (
                "fay",
                ProfilePatch {
                    dialer_number: Some(phone("+33155550101")),
                    settings: SettingsPatch {
                        mailbox_provider: Some(MailboxProvider::Google),
                        voip_forward_to: Some(phone("+14155550199")),
                        homepage: Some(Homepage::Leads),
                        ..SettingsPatch::default()
                    },
                    ..ProfilePatch::default()
                },
            ),
        ] {
            let id = ids[who].parse().expect("a user id");
            app.services.update_user(&operator, id, patch, None).await.expect("updates the user");
        }

        // Scheduled changes: two pending for Ada, one for Bob and Dee, one cancelled for Hal.
        let schedule = |who: &str, body: Value| {
            let path = format!("/api/v1/users/{}/scheduled-changes", ids[who]);
            let token = token.clone();
            async move { app.send_ok(Method::POST, &path, &token, &body, StatusCode::CREATED).await }
        };
        schedule("ada", json!({"action": "deactivate", "effective_at": in_days(60)})).await;
        schedule("ada", json!({"action": "remove_license", "product": "flow", "effective_at": in_days(40)})).await;
        schedule("bob", json!({"action": "remove_license", "product": "core", "effective_at": in_days(30)})).await;
        schedule("dee", json!({"action": "deactivate", "effective_at": in_days(50)})).await;
        let cancelled = schedule("hal", json!({"action": "deactivate", "effective_at": in_days(20)})).await;
        let path = format!("/api/v1/scheduled-changes/{}", cancelled["id"].as_str().expect("an id"));
        app.send_ok(Method::DELETE, &path, &token, &Value::Null, StatusCode::NO_CONTENT).await;

        // Statuses (§3.1): Ada and Dee active, Bob and Hal pending, Cy inactive without a
        // license, Eve inactive for a reported reason, Fay revoked, Gus deactivated, Ivy
        // invited; the bootstrap admin holds no license (inactive).
        let onboarded = json!({"crm_connected": true, "mailbox_connected": true});
        for who in ["ada", "dee"] {
            app.send_ok(
                Method::PUT,
                &format!("/api/v1/users/{}/onboarding", ids[who]),
                &token,
                &onboarded,
                StatusCode::OK,
            )
            .await;
        }
        let reasons = json!({"reasons": ["account_failure"]});
        app.send_ok(
            Method::PUT,
            &format!("/api/v1/users/{}/inactive-reasons", ids["eve"]),
            &token,
            &reasons,
            StatusCode::OK,
        )
        .await;
        let none = json!({"products": []});
        app.send_ok(Method::PUT, &format!("/api/v1/users/{}/licenses", ids["fay"]), &token, &none, StatusCode::OK)
            .await;
        app.send_ok(
            Method::POST,
            &format!("/api/v1/users/{}/deactivate", ids["gus"]),
            &token,
            &json!({}),
            StatusCode::OK,
        )
        .await;

        let roles = app.get_ok("/api/v1/roles", &token).await;
        let role_keys =
            roles["items"].as_array().expect("items").iter().map(|r| (text(&r["id"]), text(&r["key"]))).collect();
        let groups = app.get_ok("/api/v1/groups", &token).await;
        let group_names =
            groups["items"].as_array().expect("items").iter().map(|g| (text(&g["id"]), text(&g["name"]))).collect();
        Self { token, role_keys, group_names }
    }

    /// A row's value in the column `name`, by the decision's rules, from the row's JSON.
    fn cell(&self, row: &Value, name: &str) -> Cell {
        let opt_text = |v: &Value| v.as_str().map_or(Cell::Absent, |s| Cell::Text(s.to_lowercase()));
        let time =
            |v: &Value| Cell::Time(OffsetDateTime::parse(v.as_str().expect("a time"), &Rfc3339).expect("RFC 3339"));
        let list = |items: BTreeSet<String>| Cell::List(items.into_iter().collect());
        let settings = &row["settings"];
        match name {
            "updated_at" => time(&row["updated_at"]),
            "phone" | "agent_ring_number" | "dialer_number" => opt_text(&row[name]),
            "voip_forward_to" => opt_text(&settings[name]),
            "status" => Cell::Number(
                ["deactivated", "invited", "inactive", "revoked", "pending", "active"]
                    .iter()
                    .position(|s| row["status"] == *s)
                    .and_then(|p| i64::try_from(p).ok())
                    .expect("a listed status"),
            ),
            "products" => list(strings(&row["products"])),
            "product:core" | "product:dialer" => {
                Cell::Yes(strings(&row["products"]).contains(name.trim_start_matches("product:")))
            }
            "roles" => list(
                row["roles"]
                    .as_array()
                    .expect("roles")
                    .iter()
                    .map(|g| self.role_keys[&text(&g["role_id"])].clone())
                    .collect(),
            ),
            "teams" => list(strings(&row["group_ids"]).iter().map(|g| self.group_names[g].to_lowercase()).collect()),
            "scheduled" => row["scheduled"]
                .as_array()
                .expect("scheduled")
                .iter()
                .filter(|c| c["state"] == "pending")
                .map(|c| time(&c["effective_at"]))
                .min()
                .unwrap_or(Cell::Absent),
            "email_throttle_max_per_day" => Cell::Number(settings[name].as_i64().expect("a number")),
            "mailbox_provider" | "call_recording" | "homepage" => opt_text(&settings[name]),
            _ => Cell::Yes(settings[name].as_bool().unwrap_or_else(|| panic!("{name} is a yes/no setting"))),
        }
    }

    /// The ids of `rows` in the order `sort=name` (or `-name`) must give: by the cell, `id`
    /// ascending breaking ties.
    fn expected(&self, rows: &[Value], name: &str, descending: bool) -> Vec<String> {
        let mut keyed: Vec<(Cell, Uuid)> =
            rows.iter().map(|r| (self.cell(r, name), text(&r["id"]).parse().expect("a uuid"))).collect();
        if descending {
            keyed.sort_by(|(a, x), (b, y)| (Reverse(a), x).cmp(&(Reverse(b), y)));
        } else {
            keyed.sort();
        }
        keyed.into_iter().map(|(_, id)| id.to_string()).collect()
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("{v} is text")).to_owned()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array().expect("a list").iter().map(text).collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|u| text(&u["id"])).collect()
}

/// Every id of `GET /users?{query}`, walking `next_cursor` with pages of `limit`.
async fn walk(app: &TestApp, token: &str, query: &str, limit: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/users?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get_ok(&path, token).await;
        out.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
        assert!(out.len() <= 100, "{}: the walk of {query} ends", app.engine);
    }
}

#[tokio::test]
async fn every_column_sorts_both_ways_in_its_documented_order_and_a_cursor_walk_visits_each_user_once() {
    for app in apps("users_sort").await {
        let table = Table::build(&app).await;
        let token = &table.token;
        let rows: Vec<Value> =
            app.get_ok("/api/v1/users?limit=200", token).await["items"].as_array().expect("items").clone();
        assert_eq!(rows.len(), 10, "{}: the admin, eight members and an invitee", app.engine);
        let statuses: BTreeSet<String> = rows.iter().map(|r| text(&r["status"])).collect();
        assert_eq!(statuses.len(), 6, "{}: every listed status: {statuses:?}", app.engine);
        for name in NEW_SORTS {
            let cells: BTreeSet<Cell> = rows.iter().map(|r| table.cell(r, name)).collect();
            assert!(cells.len() >= 2, "{}: `{name}` has one value for everyone: {cells:?}", app.engine);
            for descending in [false, true] {
                let sort = if descending { format!("-{name}") } else { name.to_owned() };
                let want = table.expected(&rows, name, descending);
                let listed = ids(&app.get_ok(&format!("/api/v1/users?sort={sort}&limit=200"), token).await);
                assert_eq!(listed, want, "{}: sort={sort}", app.engine);
                let walked = walk(&app, token, &format!("sort={sort}"), 3).await;
                assert_eq!(walked, want, "{}: sort={sort}, walked by 3", app.engine);
                let page = app.get_ok(&format!("/api/v1/users?sort={sort}&page=2&per_page=10"), token).await;
                assert_eq!(page["total"], 10);
                assert!(ids(&page).is_empty(), "{}: sort={sort}: page 2 of 10 is past the end", app.engine);
                let first = app.get_ok(&format!("/api/v1/users?sort={sort}&page=1&per_page=10"), token).await;
                assert_eq!(ids(&first), want, "{}: sort={sort}, page 1", app.engine);
            }
        }
        // With another key after it, and a filter: the status column ties, the name breaks them.
        let want: Vec<String> = {
            let mut active: Vec<&Value> = rows.iter().filter(|r| r["status"] != "deactivated").collect();
            active.sort_by_key(|r| {
                (Reverse(table.cell(r, "status")), text(&r["last_name"]).to_lowercase(), text(&r["id"]))
            });
            active.iter().map(|r| text(&r["id"])).collect()
        };
        let query = "status=active,pending,inactive,revoked,invited&sort=-status,last_name";
        assert_eq!(walk(&app, token, query, 2).await, want, "{}: {query}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn the_export_takes_the_same_sort_and_a_sort_the_table_has_no_column_for_is_refused() {
    for app in apps("users_sort_refused").await {
        let table = Table::build(&app).await;
        let token = &table.token;
        for sort in ["-status,products", "teams,-id", "product:dialer,scheduled"] {
            let listed = ids(&app.get_ok(&format!("/api/v1/users?sort={sort}&limit=200"), token).await);
            let r =
                app.authed(Method::GET, &format!("/api/v1/users/export.csv?sort={sort}"), token).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}: export sort={sort}", app.engine);
            let csv = r.text().await.expect("a body");
            let exported: Vec<String> =
                csv.lines().skip(1).map(|l| l.split(',').next().expect("an id").to_owned()).collect();
            assert_eq!(exported, listed, "{}: the export's order is the list's for sort={sort}", app.engine);
        }
        for sort in [
            "nope",
            "password",
            "nicknames",
            "settings.flow_enabled",
            "product:",
            "product:Core",
            "products:core",
            "status,-status",
            "--status",
            "Status",
        ] {
            for path in ["/api/v1/users", "/api/v1/users/export.csv"] {
                let r = app.authed(Method::GET, &format!("{path}?sort={sort}"), token).send().await.unwrap();
                let body = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
                assert_eq!(body["errors"][0]["field"], "sort", "{}: {path}?sort={sort}: {body}", app.engine);
            }
        }
        // A cursor made for one direction is not taken for the other.
        let page = app.get_ok("/api/v1/users?sort=status&limit=2", token).await;
        let cursor = page["next_cursor"].as_str().expect("more than two users");
        let r = app
            .authed(Method::GET, &format!("/api/v1/users?sort=-status&limit=2&cursor={cursor}"), token)
            .send()
            .await
            .unwrap();
        let body = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "cursor");
        app.finish().await;
    }
}
