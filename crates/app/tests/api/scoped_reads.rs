//! Scoped administration on the read side (SPEC §5: "a scoped administrator reads only the
//! users their scope covers"): the Users list and its total, a user by id, the CSV export, a
//! bulk selection by filter and the viewers of a connection hold the users a group-scoped
//! `manage_users` holder manages, and nobody else; an org-wide admin still reads everyone.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tree_support::{MEMBER_PASSWORD, Member};

/// A user created by the org admin in `groups`; their id.
async fn user_in(app: &TestApp, admin: &str, local: &str, groups: &[&str]) -> String {
    let body = json!({"email": format!("{local}@demo.example"), "first_name": "User", "last_name": local, "group_ids": groups});
    let user = app.send_ok(Method::POST, "/api/v1/users", admin, &body, StatusCode::CREATED).await;
    user["id"].as_str().expect("an id").to_owned()
}

fn ids_of(items: &Value) -> BTreeSet<String> {
    items.as_array().expect("a list").iter().map(|u| u["id"].as_str().expect("an id").to_owned()).collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

#[tokio::test]
async fn a_scoped_admin_reads_only_the_users_their_scope_covers() {
    for app in apps("scoped_reads").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let east = app.group(&admin, "East", &sales).await;
        let support = app.group(&admin, "Support", &root).await;
        let mut lead: Member = app.member(&admin, "lead", &["standard"], &[&sales]).await;
        let roles = json!({"user_ids": [lead.id], "action": "set_roles", "roles": [{"key": "admin", "scope": sales}]});
        let result = app.send_ok(Method::POST, "/api/v1/users/bulk", &admin, &roles, StatusCode::OK).await;
        assert_eq!(result["outcomes"][0]["status"], "ok", "{}: {result}", app.engine);
        // A role change that takes something away ends the member's sessions: log in again.
        lead.token = app.login_to("demo", "lead@demo.example", MEMBER_PASSWORD).await;

        let inside = user_in(&app, &admin, "inside", &[&east]).await;
        let both = user_in(&app, &admin, "both", &[&sales, &east]).await;
        let outside = user_in(&app, &admin, "outside", &[&support]).await;
        let mixed = user_in(&app, &admin, "mixed", &[&east, &support]).await;
        let ungrouped = user_in(&app, &admin, "ungrouped", &[]).await;
        let covered = set(&[&lead.id, &inside, &both]);

        // The list, by cursor and by page number with its total.
        let list = app.get_ok("/api/v1/users?limit=200", &lead.token).await;
        assert_eq!(ids_of(&list["items"]), covered, "{}: the list", app.engine);
        let page = app.get_ok("/api/v1/users?page=1&per_page=10", &lead.token).await;
        assert_eq!((ids_of(&page["items"]), page["total"].as_u64()), (covered.clone(), Some(3)), "{}", app.engine);
        let search = app.get_ok("/api/v1/users?q=outside&limit=200", &lead.token).await;
        assert!(ids_of(&search["items"]).is_empty(), "{}: a search finds no one outside", app.engine);

        // One user: inside answers, outside is not found (its existence is not revealed).
        for id in [&inside, &both, &lead.id] {
            app.get_ok(&format!("/api/v1/users/{id}"), &lead.token).await;
        }
        for id in [&outside, &mixed, &ungrouped] {
            let r = app.authed(Method::GET, &format!("/api/v1/users/{id}"), &lead.token).send().await.unwrap();
            assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        }

        // The CSV export, by filter and by ids.
        for query in [String::new(), format!("?ids={inside},{outside},{mixed},{ungrouped}")] {
            let r = app.authed(Method::GET, &format!("/api/v1/users/export.csv{query}"), &lead.token).send().await;
            let text = r.unwrap().text().await.unwrap();
            assert!(text.contains("inside@demo.example"), "{}: {query}: {text}", app.engine);
            for hidden in ["outside@", "mixed@", "ungrouped@", "admin@demo.example"] {
                assert!(!text.contains(hidden), "{}: {query}: {hidden} exported: {text}", app.engine);
            }
        }

        // A bulk action by filter selects the covered users only.
        let body = json!({"filter": {}, "action": "set_flow_enabled", "flow_enabled": false, "dry_run": true});
        let result = app.send_ok(Method::POST, "/api/v1/users/bulk", &lead.token, &body, StatusCode::OK).await;
        let selected: BTreeSet<String> =
            result["outcomes"].as_array().unwrap().iter().map(|o| o["user_id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(selected, covered, "{}: {result}", app.engine);

        // Who sees a connection: only the members the scope covers are listed or explained.
        let conn = app.connection(&admin, &json!({"email": "c@customer.example", "name": "A Customer"})).await;
        let conn = conn["id"].as_str().unwrap();
        let viewers = app.get_ok(&format!("/api/v1/connections/{conn}/viewers"), &lead.token).await;
        let listed: BTreeSet<String> =
            viewers["items"].as_array().unwrap().iter().map(|v| v["user_id"].as_str().unwrap().to_owned()).collect();
        assert!(listed.is_subset(&covered) && listed.contains(&lead.id), "{}: {viewers}", app.engine);
        let path = format!("/api/v1/connections/{conn}/access?viewer={outside}");
        let r = app.authed(Method::GET, &path, &lead.token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

        // The org-wide admin still reads everyone.
        let all = app.get_ok("/api/v1/users?page=1&per_page=50", &admin).await;
        assert_eq!(all["total"].as_u64(), Some(7), "{}: the admin, the lead and five users", app.engine);
        for id in [&outside, &mixed, &ungrouped] {
            app.get_ok(&format!("/api/v1/users/{id}"), &admin).await;
        }
        app.finish().await;
    }
}
