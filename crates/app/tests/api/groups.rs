//! The group tree over HTTP (§6): three levels and no fourth, rename under `If-Match`, delete
//! with and without `cascade`, members added and removed, a move with record transfer, flows
//! per group and the CSV export.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{apps, assert_problem};
use crate::tree_support::ids;

#[tokio::test]
async fn groups_nest_three_levels_deep_and_a_fourth_is_refused() {
    for app in apps("groups_three_levels").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let r = app.send(Method::POST, "/api/v1/groups", &admin, &json!({"name": "Sales", "parent_id": root})).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let sales: Value = r.json().await.unwrap();
        assert_eq!(sales["depth"], 2);
        assert_eq!(sales["parent_id"], root.as_str());
        assert_eq!(location, format!("/api/v1/groups/{}", sales["id"].as_str().unwrap()));
        assert_eq!(etag, "\"1\"");
        let sales = sales["id"].as_str().unwrap().to_owned();

        let east = app
            .send_ok(
                Method::POST,
                "/api/v1/groups",
                &admin,
                &json!({"name": "East", "parent_id": sales}),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(east["depth"], 3);
        let east = east["id"].as_str().unwrap().to_owned();
        let r = app.send(Method::POST, "/api/v1/groups", &admin, &json!({"name": "Boston", "parent_id": east})).await;
        assert_problem(r, StatusCode::CONFLICT, "group_depth_exceeded").await;
        let r = app.send(Method::POST, "/api/v1/groups", &admin, &json!({"name": "sales", "parent_id": root})).await;
        let problem = assert_problem(r, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(problem["errors"][0]["field"], "name");

        let support = app.group(&admin, "Support", &root).await;
        let tree = app.get_ok("/api/v1/groups", &admin).await;
        assert_eq!(
            ids(&tree),
            [root.clone(), sales.clone(), east.clone(), support.clone()],
            "{}: tree order",
            app.engine
        );
        assert_eq!(tree["total"], 4);
        let depths: Vec<&Value> = tree["items"].as_array().unwrap().iter().map(|g| &g["depth"]).collect();
        assert_eq!(depths, [1, 2, 3, 2]);

        let one = app.get_ok(&format!("/api/v1/groups/{east}"), &admin).await;
        assert_eq!(one["path"], "Demo / Sales / East", "{}", app.engine);
        assert_eq!(one["member_ids"], json!([]));
        app.finish().await;
    }
}

#[tokio::test]
async fn a_rename_with_a_stale_if_match_is_412_and_changes_nothing() {
    for app in apps("groups_if_match").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let path = format!("/api/v1/groups/{sales}");
        let r = app.authed(Method::GET, &path, &admin).send().await.unwrap();
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();

        let r = app
            .authed(Method::PATCH, &path, &admin)
            .header("if-match", &etag)
            .json(&json!({"name": "Field sales"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let fresh = r.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(fresh, etag);

        let r = app
            .authed(Method::PATCH, &path, &admin)
            .header("if-match", &etag)
            .json(&json!({"name": "Inside sales"}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(r, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        assert_eq!(problem["version"], 2);
        let now = app.get_ok(&path, &admin).await;
        assert_eq!(now["name"], "Field sales", "{}: the stale write changed nothing", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn deleting_a_group_with_subgroups_needs_cascade_and_the_root_is_never_deleted() {
    for app in apps("groups_delete").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let east = app.group(&admin, "East", &sales).await;
        let ann = app.create_user(&admin, "ann@demo.example").await;
        let ann = ann["id"].as_str().unwrap().to_owned();
        app.send_ok(
            Method::POST,
            &format!("/api/v1/groups/{east}/members"),
            &admin,
            &json!({"user_ids": [ann]}),
            StatusCode::OK,
        )
        .await;

        let r = app.authed(Method::DELETE, &format!("/api/v1/groups/{sales}"), &admin).send().await.unwrap();
        assert_problem(r, StatusCode::CONFLICT, "group_has_subgroups").await;
        let r =
            app.authed(Method::DELETE, &format!("/api/v1/groups/{root}?cascade=true"), &admin).send().await.unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r =
            app.authed(Method::DELETE, &format!("/api/v1/groups/{sales}?cascade=maybe"), &admin).send().await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert!(
            app.get_ok("/api/v1/groups", &admin).await["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["deleted_at"].is_null())
        );

        let r =
            app.authed(Method::DELETE, &format!("/api/v1/groups/{sales}?cascade=true"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        let tree = app.get_ok("/api/v1/groups", &admin).await;
        assert_eq!(ids(&tree).len(), 3, "{}: deleted groups stay in the tree", app.engine);
        let deleted: Vec<&Value> =
            tree["items"].as_array().unwrap().iter().filter(|g| !g["deleted_at"].is_null()).map(|g| &g["id"]).collect();
        assert_eq!(deleted, [&json!(sales), &json!(east)]);
        let user = app.get_ok(&format!("/api/v1/users/{ann}"), &admin).await;
        assert_eq!(user["group_ids"], json!([]), "{}: memberships ended", app.engine);
        let r = app.authed(Method::DELETE, &format!("/api/v1/groups/{east}"), &admin).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn members_are_added_and_removed() {
    for app in apps("groups_members").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let ann = app.create_user(&admin, "ann@demo.example").await["id"].as_str().unwrap().to_owned();
        let bob = app.create_user(&admin, "bob@demo.example").await["id"].as_str().unwrap().to_owned();
        let members = format!("/api/v1/groups/{sales}/members");

        let group = app.send_ok(Method::POST, &members, &admin, &json!({"user_ids": [ann, bob]}), StatusCode::OK).await;
        let mut expected = vec![ann.clone(), bob.clone()];
        expected.sort();
        assert_eq!(group["member_ids"], json!(expected), "{}", app.engine);
        // Adding a current member again changes nothing.
        let again = app.send_ok(Method::POST, &members, &admin, &json!({"user_ids": [ann]}), StatusCode::OK).await;
        assert_eq!(again["member_ids"], json!(expected));
        assert_eq!(app.get_ok(&format!("/api/v1/users/{ann}"), &admin).await["group_ids"], json!([sales]));

        let r = app.authed(Method::DELETE, &format!("{members}/{ann}"), &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        let group = app.get_ok(&format!("/api/v1/groups/{sales}"), &admin).await;
        assert_eq!(group["member_ids"], json!([bob]));
        let r = app.authed(Method::DELETE, &format!("{members}/{ann}"), &admin).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

        // The root group has no members: it stands for the organization.
        let r = app
            .send(Method::POST, &format!("/api/v1/groups/{root}/members"), &admin, &json!({"user_ids": [ann]}))
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        // An unknown user is named, and nobody is added.
        let ghost = "018f0000-0000-7000-8000-000000000000";
        let r = app.send(Method::POST, &members, &admin, &json!({"user_ids": [ann, ghost]})).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(app.get_ok(&format!("/api/v1/groups/{sales}"), &admin).await["member_ids"], json!([bob]));
        app.finish().await;
    }
}

#[tokio::test]
async fn a_move_with_transfer_restamps_the_users_records_and_without_it_keeps_them() {
    for app in apps("groups_move").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let support = app.group(&admin, "Support", &root).await;
        let ann = app.member(&admin, "ann", &["operations"], &[&sales]).await;
        let bob = app.member(&admin, "bob", &["operations"], &[&sales]).await;
        let anns = app.connection(&ann.token, &json!({"email": "carl@client.example", "name": "Carl Client"})).await;
        assert_eq!(anns["groups"], json!([sales]), "{}: stamped with the inviter's group", app.engine);
        let bobs = app.connection(&bob.token, &json!({"email": "dora@client.example", "name": "Dora Client"})).await;

        let body = json!({"from_group_id": sales, "to_group_id": support, "transfer_records": true});
        let r = app.send(Method::POST, &format!("/api/v1/users/{}/move", ann.id), &admin, &body).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert!(r.headers().contains_key("etag"));
        let user: Value = r.json().await.unwrap();
        assert_eq!(user["id"], ann.id.as_str());
        assert_eq!(user["group_ids"], json!([support]));
        let moved = app.get_ok(&format!("/api/v1/connections/{}", anns["id"].as_str().unwrap()), &admin).await;
        assert_eq!(moved["groups"], json!([support]), "{}: the record followed its owner", app.engine);

        let body = json!({"from_group_id": sales, "to_group_id": support, "transfer_records": false});
        app.send_ok(Method::POST, &format!("/api/v1/users/{}/move", bob.id), &admin, &body, StatusCode::OK).await;
        let kept = app.get_ok(&format!("/api/v1/connections/{}", bobs["id"].as_str().unwrap()), &admin).await;
        assert_eq!(kept["groups"], json!([sales]), "{}: without transfer the stamp stays", app.engine);

        // Not a member of `from` any more: not found; the same group twice: invalid.
        let r = app
            .send(
                Method::POST,
                &format!("/api/v1/users/{}/move", ann.id),
                &admin,
                &json!({"from_group_id": sales, "to_group_id": support}),
            )
            .await;
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app
            .send(
                Method::POST,
                &format!("/api/v1/users/{}/move", ann.id),
                &admin,
                &json!({"from_group_id": support, "to_group_id": support}),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        // A member without manage_groups may not move anyone.
        let r = app
            .send(
                Method::POST,
                &format!("/api/v1/users/{}/move", bob.id),
                &ann.token,
                &json!({"from_group_id": support, "to_group_id": sales}),
            )
            .await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_groups_flows_limit_the_flows_of_its_new_connections() {
    for app in apps("groups_flows").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales", &root).await;
        let onboarding = app
            .send_ok(Method::POST, "/api/v1/flows", &admin, &json!({"name": "Onboarding"}), StatusCode::CREATED)
            .await;
        let renewal =
            app.send_ok(Method::POST, "/api/v1/flows", &admin, &json!({"name": "Renewal"}), StatusCode::CREATED).await;
        let (onboarding, renewal) = (onboarding["id"].as_str().unwrap(), renewal["id"].as_str().unwrap());
        let flows = app.get_ok("/api/v1/flows", &admin).await;
        assert_eq!(flows["total"], 2, "{}", app.engine);

        let set = app
            .send_ok(
                Method::PUT,
                &format!("/api/v1/groups/{sales}/flows"),
                &admin,
                &json!({"flow_ids": [onboarding]}),
                StatusCode::OK,
            )
            .await;
        assert_eq!(set, json!({"group_id": sales, "flow_ids": [onboarding]}));
        assert_eq!(app.get_ok(&format!("/api/v1/groups/{sales}"), &admin).await["flow_ids"], json!([onboarding]));

        let refused = json!({"email": "e@client.example", "name": "Eve Client", "group": sales, "flow_id": renewal});
        let r = app.send(Method::POST, "/api/v1/connections", &admin, &refused).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "flow_not_allowed").await;
        let allowed = json!({"email": "e@client.example", "name": "Eve Client", "group": sales, "flow_id": onboarding});
        let c = app.connection(&admin, &allowed).await;
        assert_eq!(c["flow_id"], onboarding);
        // "Organization" has no flow list: any flow.
        let org =
            json!({"email": "f@client.example", "name": "Fay Client", "group": "organization", "flow_id": renewal});
        assert_eq!(app.connection(&admin, &org).await["groups"], json!([]));

        let ghost = "018f0000-0000-7000-8000-000000000000";
        let r = app
            .send(Method::PUT, &format!("/api/v1/groups/{sales}/flows"), &admin, &json!({"flow_ids": [ghost]}))
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(app.get_ok(&format!("/api/v1/groups/{sales}"), &admin).await["flow_ids"], json!([onboarding]));
        app.finish().await;
    }
}

#[tokio::test]
async fn the_group_export_is_csv_in_tree_order() {
    for app in apps("groups_export").await {
        let admin = app.login().await;
        let root = app.root_group(&admin).await;
        let sales = app.group(&admin, "Sales, North", &root).await;
        app.group(&admin, "=cmd", &sales).await;
        let r = app.authed(Method::GET, "/api/v1/groups/export.csv", &admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let text = r.text().await.unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "id,parent_id,name,path,depth,members,flows,deleted_at,created_at");
        assert!(lines[1].starts_with(&format!("{root},,Demo,Demo,1,0,0,,")), "{}", lines[1]);
        assert!(lines[2].contains(",\"Sales, North\",\"Demo / Sales, North\",2,"), "{}", lines[2]);
        assert!(lines[3].contains(",'=cmd,"), "{}: formulas are defused: {}", app.engine, lines[3]);

        let analyst = app.member(&admin, "ana", &["analyst"], &[]).await;
        let r = app.authed(Method::GET, "/api/v1/groups/export.csv", &analyst.token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}: analysts hold export_data", app.engine);
        let standard = app.member(&admin, "stan", &["standard"], &[]).await;
        let r = app.authed(Method::GET, "/api/v1/groups/export.csv", &standard.token).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        app.finish().await;
    }
}
