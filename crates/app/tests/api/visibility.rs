//! Who sees a connection (§7.2) over HTTP: each role's visibility, the explanations, and each
//! timing rule as its own test. The lists come from `GET /connections`, whose visibility rule
//! runs in SQL; a connection the caller may not see is 404 on `GET /connections/{id}`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tree_support::Member;

/// The id of a created connection.
fn id(c: &Value) -> String {
    c["id"].as_str().expect("an id").to_owned()
}

/// Asserts what `who` sees: exactly `expected` in the list, each readable, the others 404.
async fn sees(app: &TestApp, who: &Member, name: &str, all: &[&String], expected: &[&String]) {
    let mut got = app.visible(&who.token).await;
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| (*s).clone()).collect();
    want.sort();
    assert_eq!(got, want, "{}: what {name} sees", app.engine);
    for c in all {
        let r = app.authed(Method::GET, &format!("/api/v1/connections/{c}"), &who.token).send().await.unwrap();
        let status = if expected.contains(c) { StatusCode::OK } else { StatusCode::NOT_FOUND };
        assert_eq!(r.status(), status, "{}: {name} reading {c}", app.engine);
    }
}

/// `GET /connections/{id}/access?viewer=` as the admin.
async fn access(app: &TestApp, admin: &str, connection: &str, viewer: &str) -> Value {
    app.get_ok(&format!("/api/v1/connections/{connection}/access?viewer={viewer}"), admin).await
}

#[tokio::test]
async fn each_role_sees_what_its_visibility_allows_and_the_access_endpoint_says_why() {
    for app in apps("visibility_roles").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let support = app.group(&admin, "Support", &root).await;
        let olga = app.member(&admin, "olga", &["operations"], &[&sales]).await;
        let pat = app.member(&admin, "pat", &["standard"], &[&support]).await;
        let una = app.member(&admin, "una", &["standard"], &[]).await;
        let lim = app.member(&admin, "lim", &["operations_limited"], &[&sales]).await;
        let ida = app.member(&admin, "ida", &["identified_only"], &[&sales]).await;
        let ro = app.member(&admin, "ro", &["read_only"], &[&sales]).await;
        let full = app.member(&admin, "full", &["full_member"], &[&support]).await;
        let lead = app.member(&admin, "lead", &["team_lead"], &[]).await;
        let analyst = app.member(&admin, "analyst", &["analyst"], &[&sales]).await;

        let c_sales =
            id(&app.connection(&olga.token, &json!({"email": "a@client.example", "name": "Alice Client"})).await);
        let c_support = id(&app
            .connection(&pat.token, &json!({"email": "b@client.example", "name": "Bert Client", "cc": [ida.id]}))
            .await);
        let c_org = id(&app
            .connection(&admin, &json!({"email": "c@client.example", "name": "Cleo Client", "group": "organization"}))
            .await);
        let c_lim = id(&app.connection(&lim.token, &json!({"email": "d@client.example", "name": "Dan Client"})).await);
        let all = [&c_sales, &c_support, &c_org, &c_lim];

        // All: admin, full_member, team_lead, analyst.
        for (who, name) in [(&full, "full_member"), (&lead, "team_lead"), (&analyst, "analyst")] {
            sees(&app, who, name, &all, &all).await;
        }
        // Groups: their groups' connections, their own, their cc; ungrouped: everything.
        sees(&app, &olga, "operations in Sales", &all, &[&c_sales, &c_lim]).await;
        sees(&app, &ro, "read_only in Sales", &all, &[&c_sales, &c_lim]).await;
        sees(&app, &pat, "standard in Support", &all, &[&c_support]).await;
        sees(&app, &una, "standard, ungrouped", &all, &all).await;
        // OwnInvites: what they invited and where they are cc'd.
        sees(&app, &lim, "operations_limited", &all, &[&c_lim]).await;
        sees(&app, &ida, "identified_only", &all, &[&c_support]).await;

        assert_eq!(access(&app, &admin, &c_sales, &full.id).await, json!({"visible": true, "rule": "all"}));
        assert_eq!(
            access(&app, &admin, &c_sales, &ro.id).await,
            json!({"visible": true, "rule": "group", "group_id": sales})
        );
        assert_eq!(access(&app, &admin, &c_sales, &olga.id).await["visible"], true);
        assert_eq!(access(&app, &admin, &c_lim, &lim.id).await, json!({"visible": true, "rule": "inviter"}));
        assert_eq!(access(&app, &admin, &c_support, &ida.id).await, json!({"visible": true, "rule": "cc"}));
        assert_eq!(access(&app, &admin, &c_org, &una.id).await, json!({"visible": true, "rule": "ungrouped"}));
        assert_eq!(access(&app, &admin, &c_org, &ro.id).await, json!({"visible": false, "rule": null}));
        // A member may ask about themself; about others they need manage_users.
        let own = app.get_ok(&format!("/api/v1/connections/{c_support}/access?viewer={}", ro.id), &ro.token).await;
        assert_eq!(own["visible"], false);
        let r = app
            .authed(Method::GET, &format!("/api/v1/connections/{c_support}/access?viewer={}", pat.id), &ro.token)
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // Extra group access (a per-user grant) widens a Groups member's view.
        let grants = json!({"permissions": [], "group_access": [support]});
        let user =
            app.send_ok(Method::PUT, &format!("/api/v1/users/{}/grants", ro.id), &admin, &grants, StatusCode::OK).await;
        assert_eq!(user["group_access"], json!([support]));
        sees(&app, &ro, "read_only with access to Support", &all, &[&c_sales, &c_support, &c_lim]).await;
        assert_eq!(
            access(&app, &admin, &c_support, &ro.id).await,
            json!({"visible": true, "rule": "group", "group_id": support})
        );

        // Who sees a connection, with the rule.
        let viewers = app.get_ok(&format!("/api/v1/connections/{c_lim}/viewers"), &admin).await;
        let who: Vec<&str> =
            viewers["items"].as_array().unwrap().iter().map(|v| v["user_id"].as_str().unwrap()).collect();
        for m in [&olga, &lim, &ro, &una, &full, &lead, &analyst] {
            assert!(who.contains(&m.id.as_str()), "{}: {} sees {c_lim}: {viewers}", app.engine, m.id);
        }
        for m in [&pat, &ida] {
            assert!(!who.contains(&m.id.as_str()), "{}: {} does not see {c_lim}", app.engine, m.id);
        }
        let r =
            app.authed(Method::GET, &format!("/api/v1/connections/{c_lim}/viewers"), &olga.token).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn the_dropdown_and_the_stamp_follow_the_inviters_groups_and_visibility() {
    for app in apps("visibility_stamping").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let support = app.group(&admin, "Support", &root).await;
        let olga = app.member(&admin, "olga", &["operations"], &[&sales]).await;
        let una = app.member(&admin, "una", &["operations"], &[]).await;

        let choices = app.get_ok("/api/v1/connections/group-choices", &olga.token).await;
        assert_eq!(choices["items"], json!([{"group": sales, "label": "Demo / Sales"}]), "{}", app.engine);
        let choices = app.get_ok("/api/v1/connections/group-choices", &una.token).await;
        assert_eq!(choices["items"], json!([{"group": "organization", "label": "Organization"}]));
        let choices = app.get_ok("/api/v1/connections/group-choices", &admin).await;
        assert_eq!(choices["total"], 3, "{}: Organization and every live group", app.engine);

        let r = app
            .send(
                Method::POST,
                "/api/v1/connections",
                &olga.token,
                &json!({"email": "a@c.example", "name": "A C", "group": support}),
            )
            .await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "group");
        let r = app
            .send(
                Method::POST,
                "/api/v1/connections",
                &olga.token,
                &json!({"email": "a@c.example", "name": "A C", "group": "organization"}),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = app
            .send(
                Method::POST,
                "/api/v1/connections",
                &olga.token,
                &json!({"email": "a@c.example", "name": "A C", "group": "sales"}),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(app.visible(&admin).await.is_empty(), "{}: refused creations left nothing", app.engine);

        let r = app
            .send(Method::POST, "/api/v1/connections", &olga.token, &json!({"email": "a@c.example", "name": "A C"}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = r.json().await.unwrap();
        assert_eq!(location, format!("/api/v1/connections/{}", created["id"].as_str().unwrap()));
        assert_eq!(created["groups"], json!([sales]));
        assert_eq!(created["inviter_id"], olga.id.as_str());
        assert!(created["user_token"].as_str().is_some_and(|t| t.len() >= 32), "{created}");
        let read = app.get_ok(&location, &olga.token).await;
        assert!(read.get("user_token").is_none(), "the token is answered by the creation only");

        // A read-only member holds no invite_connections.
        let ro = app.member(&admin, "ro", &["read_only"], &[&sales]).await;
        let r = app
            .send(Method::POST, "/api/v1/connections", &ro.token, &json!({"email": "b@c.example", "name": "B C"}))
            .await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn rule_1_joining_a_first_group_restamps_the_members_organization_invites() {
    for app in apps("visibility_rule_1").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let g = app.group(&admin, "Sales", &root).await;
        let x = app.member(&admin, "xena", &["operations"], &[]).await;
        let y = app.member(&admin, "yuri", &["operations"], &[&g]).await;
        let before = app.connection(&x.token, &json!({"email": "a@c.example", "name": "A C"})).await;
        assert_eq!(before["groups"], json!([]), "{}: an ungrouped inviter stamps Organization", app.engine);
        assert!(!app.visible(&y.token).await.contains(&id(&before)));

        app.send_ok(
            Method::POST,
            &format!("/api/v1/groups/{g}/members"),
            &admin,
            &json!({"user_ids": [x.id]}),
            StatusCode::OK,
        )
        .await;
        let now = app.get_ok(&format!("/api/v1/connections/{}", id(&before)), &admin).await;
        assert_eq!(now["groups"], json!([g]), "{}: restamped at once", app.engine);
        assert_eq!(app.visible(&y.token).await, [id(&before)], "{}: G's members see X's earlier invite", app.engine);
        let after = app.connection(&x.token, &json!({"email": "b@c.example", "name": "B C"})).await;
        assert_eq!(after["groups"], json!([g]), "{}: future invites carry X's groups", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn rule_2_leaving_a_group_restamps_nothing() {
    for app in apps("visibility_rule_2").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let g = app.group(&admin, "Sales", &root).await;
        let x = app.member(&admin, "xena", &["operations"], &[&g]).await;
        let y = app.member(&admin, "yuri", &["operations"], &[&g]).await;
        let before = app.connection(&x.token, &json!({"email": "a@c.example", "name": "A C"})).await;
        assert_eq!(before["groups"], json!([g]));

        let r =
            app.authed(Method::DELETE, &format!("/api/v1/groups/{g}/members/{}", x.id), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        let now = app.get_ok(&format!("/api/v1/connections/{}", id(&before)), &admin).await;
        assert_eq!(now["groups"], json!([g]), "{}: nothing restamped", app.engine);
        assert!(app.visible(&y.token).await.contains(&id(&before)), "{}: G still sees it", app.engine);
        let after = app.connection(&x.token, &json!({"email": "b@c.example", "name": "B C"})).await;
        assert_eq!(after["groups"], json!([]), "{}: X's future invites are not stamped G", app.engine);
        assert!(!app.visible(&y.token).await.contains(&id(&after)));
        app.finish().await;
    }
}

#[tokio::test]
async fn rule_3_joining_another_group_shows_only_future_invites_to_it() {
    for app in apps("visibility_rule_3").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let g = app.group(&admin, "Sales", &root).await;
        let h = app.group(&admin, "Support", &root).await;
        let x = app.member(&admin, "xena", &["operations"], &[&g]).await;
        let z = app.member(&admin, "zack", &["operations"], &[&h]).await;
        let before = app.connection(&x.token, &json!({"email": "a@c.example", "name": "A C"})).await;

        app.send_ok(
            Method::POST,
            &format!("/api/v1/groups/{h}/members"),
            &admin,
            &json!({"user_ids": [x.id]}),
            StatusCode::OK,
        )
        .await;
        let now = app.get_ok(&format!("/api/v1/connections/{}", id(&before)), &admin).await;
        assert_eq!(now["groups"], json!([g]), "{}: nothing restamped", app.engine);
        assert!(app.visible(&z.token).await.is_empty(), "{}: H does not see X's earlier invites", app.engine);
        let after = app.connection(&x.token, &json!({"email": "b@c.example", "name": "B C"})).await;
        let mut both = vec![g.clone(), h.clone()];
        both.sort();
        assert_eq!(after["groups"], json!(both));
        assert_eq!(app.visible(&z.token).await, [id(&after)], "{}: H sees the future ones", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn rule_4_deleting_a_group_restamps_nothing_and_its_filter_still_works() {
    for app in apps("visibility_rule_4").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let g = app.group(&admin, "Sales", &root).await;
        let x = app.member(&admin, "xena", &["operations"], &[&g]).await;
        let c = app.connection(&x.token, &json!({"email": "a@c.example", "name": "A C"})).await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/groups/{g}"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        let now = app.get_ok(&format!("/api/v1/connections/{}", id(&c)), &admin).await;
        assert_eq!(now["groups"], json!([g]), "{}: the stamp stays", app.engine);
        let filtered = app.get_ok(&format!("/api/v1/connections?group={g}"), &admin).await;
        assert_eq!(crate::tree_support::ids(&filtered), [id(&c)], "{}: filtering by a deleted group", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn rule_5_all_members_filter_by_any_group_and_groups_members_by_their_own() {
    for app in apps("visibility_rule_5").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let g = app.group(&admin, "Sales", &root).await;
        let h = app.group(&admin, "Support", &root).await;
        let x = app.member(&admin, "xena", &["operations"], &[&g]).await;
        let z = app.member(&admin, "zack", &["operations"], &[&h]).await;
        let full = app.member(&admin, "full", &["full_member"], &[]).await;
        let in_g = app.connection(&x.token, &json!({"email": "a@c.example", "name": "A C"})).await;
        let in_h = app.connection(&z.token, &json!({"email": "b@c.example", "name": "B C"})).await;

        let by_h = app.get_ok(&format!("/api/v1/connections?group={h}"), &full.token).await;
        assert_eq!(crate::tree_support::ids(&by_h), [id(&in_h)], "{}", app.engine);
        let own = app.get_ok(&format!("/api/v1/connections?group={g}"), &x.token).await;
        assert_eq!(crate::tree_support::ids(&own), [id(&in_g)]);
        let r = app.authed(Method::GET, &format!("/api/v1/connections?group={h}"), &x.token).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        // Deleted groups too, for All members.
        let r = app.authed(Method::DELETE, &format!("/api/v1/groups/{h}"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let by_h = app.get_ok(&format!("/api/v1/connections?group={h}"), &full.token).await;
        assert_eq!(crate::tree_support::ids(&by_h), [id(&in_h)], "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn the_connections_list_walks_by_cursor_newest_first() {
    for app in apps("connections_cursor").await {
        let admin = app.login().await;
        let mut made = Vec::new();
        for n in 0..5 {
            made.push(id(&app.connection(&admin, &json!({"email": format!("c{n}@c.example"), "name": "C C"})).await));
        }
        made.reverse();
        let mut seen = Vec::new();
        let mut path = "/api/v1/connections?limit=2".to_owned();
        loop {
            let page = app.get_ok(&path, &admin).await;
            assert!(page["items"].as_array().unwrap().len() <= 2);
            seen.extend(crate::tree_support::ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/connections?limit=2&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, made, "{}: every connection once, newest first", app.engine);
        app.finish().await;
    }
}
