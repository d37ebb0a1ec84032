//! `/scim/v2/Groups` (SPEC §13, decision 0041): teams at depth 2 created, looked up by
//! `displayName`, renamed, given and relieved of members — Okta's `members` add and remove by
//! filtered path, Entra ID's removal by a value list that removes only those members — and
//! deleted, through the groups use cases, audited with source `scim`; a group deeper in the
//! tree is no SCIM Group; bad input changes nothing.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn scim_key(app: &TestApp, token: &str) -> String {
    let r = app
        .authed(Method::POST, "/api/v1/api-keys", token)
        .json(&json!({"name": "entra", "permissions": ["scim"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
    r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, method: Method, path: &str, secret: &str, body: &Value) -> Response {
    app.authed(method, &format!("/scim/v2{path}"), secret)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn expect(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        group["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn entra_creates_a_group_finds_it_by_display_name_and_removes_only_the_members_it_lists() {
    for app in apps("scim_groups_entra").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let mut ids = Vec::new();
        for email in ["ada@example.com", "bob@example.com", "cy@example.com"] {
            ids.push(app.create_user(&token, email).await["id"].as_str().unwrap().to_owned());
        }
        let (ada, bob, cy) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());

        // Entra ID creates the group empty, then adds members by PATCH.
        let create =
            json!({"schemas": [GROUP_SCHEMA], "externalId": "8aa1a0c0", "displayName": "Sales", "members": []});
        let r = send(&app, Method::POST, "/Groups", &secret, &create).await;
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let group = expect(r, StatusCode::CREATED).await;
        assert_eq!(group["meta"]["location"].as_str(), Some(location.as_str()), "{}", app.engine);
        let id = group["id"].as_str().unwrap().to_owned();
        let rest = app.get_ok(&format!("/api/v1/groups/{id}"), &token).await;
        assert_eq!(rest["depth"], 2, "a team right below the root");

        let found = app
            .authed(Method::GET, "/scim/v2/Groups", &secret)
            .query(&[("filter", r#"displayName eq "sales""#), ("excludedAttributes", "members")])
            .send()
            .await
            .unwrap();
        let found = expect(found, StatusCode::OK).await;
        assert_eq!(
            (found["totalResults"].as_u64(), found["Resources"][0]["id"].as_str()),
            (Some(1), Some(id.as_str()))
        );
        assert!(found["Resources"][0].get("members").is_none());

        let add =
            patch(json!([{"op": "Add", "path": "members", "value": [{"value": ada}, {"value": bob}, {"value": cy}]}]));
        let group =
            expect(send(&app, Method::PATCH, &format!("/Groups/{id}"), &secret, &add).await, StatusCode::OK).await;
        assert_eq!(member_ids(&group), sorted(&[ada, bob, cy]));

        // Entra ID's removal by a value list: only Ada and Cy leave.
        let remove = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": ada}, {"value": cy}]}]));
        let group =
            expect(send(&app, Method::PATCH, &format!("/Groups/{id}"), &secret, &remove).await, StatusCode::OK).await;
        assert_eq!(member_ids(&group), sorted(&[bob]), "{}", app.engine);
        let rest = app.get_ok(&format!("/api/v1/groups/{id}"), &token).await;
        assert_eq!(rest["member_ids"].as_array().map(Vec::len), Some(1));

        // Okta's removal by filtered path, and a rename.
        let okta = patch(json!([
            {"op": "remove", "path": format!("members[value eq \"{bob}\"]")},
            {"op": "replace", "value": {"id": id, "displayName": "Field sales"}},
        ]));
        let group =
            expect(send(&app, Method::PATCH, &format!("/Groups/{id}"), &secret, &okta).await, StatusCode::OK).await;
        assert_eq!(
            (group["displayName"].as_str(), group["members"].as_array().map(Vec::len)),
            (Some("Field sales"), Some(0))
        );

        let page = app.get_ok("/api/v1/audit?action=membership.left&limit=50", &token).await;
        let left = page["items"].as_array().unwrap();
        assert_eq!(left.len(), 3, "{}", app.engine);
        assert!(left.iter().all(|e| e["source"] == "scim"));

        let r = app.authed(Method::DELETE, &format!("/scim/v2/Groups/{id}"), &secret).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.authed(Method::GET, &format!("/scim/v2/Groups/{id}"), &secret).send().await.unwrap();
        expect(r, StatusCode::NOT_FOUND).await;
        app.finish().await;
    }
}

#[tokio::test]
async fn okta_pushes_a_group_with_members_and_a_put_replaces_them() {
    for app in apps("scim_groups_okta").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let ada = app.create_user(&token, "ada@example.com").await["id"].as_str().unwrap().to_owned();
        let bob = app.create_user(&token, "bob@example.com").await["id"].as_str().unwrap().to_owned();
        let create = json!({"schemas": [GROUP_SCHEMA], "displayName": "Support", "members": [{"value": ada, "display": "ada@example.com"}]});
        let group = expect(send(&app, Method::POST, "/Groups", &secret, &create).await, StatusCode::CREATED).await;
        let id = group["id"].as_str().unwrap().to_owned();
        assert_eq!(member_ids(&group), sorted(&[&ada]), "{}", app.engine);
        let again = send(&app, Method::POST, "/Groups", &secret, &create).await;
        let error = expect(again, StatusCode::CONFLICT).await;
        assert_eq!(error["scimType"], "uniqueness");

        let put = json!({"schemas": [GROUP_SCHEMA], "id": id, "displayName": "Support", "members": [{"value": bob}]});
        let group =
            expect(send(&app, Method::PUT, &format!("/Groups/{id}"), &secret, &put).await, StatusCode::OK).await;
        assert_eq!(member_ids(&group), sorted(&[&bob]));
        let me = app.get_ok(&format!("/api/v1/users/{bob}"), &token).await;
        assert_eq!(me["group_ids"], json!([id]));
        app.finish().await;
    }
}

#[tokio::test]
async fn deeper_groups_are_no_scim_groups_and_bad_group_writes_change_nothing() {
    for app in apps("scim_groups_bad").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let ada = app.create_user(&token, "ada@example.com").await["id"].as_str().unwrap().to_owned();
        let create = json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": ada}]});
        let group = expect(send(&app, Method::POST, "/Groups", &secret, &create).await, StatusCode::CREATED).await;
        let id = group["id"].as_str().unwrap().to_owned();
        let r = app
            .authed(Method::POST, "/api/v1/groups", &token)
            .json(&json!({"name": "East", "parent_id": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let east: Value = r.json().await.unwrap();
        let east_id = east["id"].as_str().unwrap();
        let r = app.authed(Method::GET, &format!("/scim/v2/Groups/{east_id}"), &secret).send().await.unwrap();
        expect(r, StatusCode::NOT_FOUND).await;
        let all =
            expect(app.authed(Method::GET, "/scim/v2/Groups", &secret).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(all["totalResults"], 1, "{}: only the team at depth 2", app.engine);

        let nobody = "00000000-0000-0000-0000-000000000000";
        for (ops, scim_type) in [
            (patch(json!([{"op": "add", "path": "members", "value": [{"value": nobody}]}])), "invalidValue"),
            (patch(json!([{"op": "add", "path": "members", "value": [{"value": "not-an-id"}]}])), "invalidValue"),
            (patch(json!([{"op": "replace", "path": "owner", "value": "x"}])), "invalidPath"),
            (patch(json!([{"op": "replace", "path": "displayName", "value": "a/b"}])), "invalidValue"),
            (patch(json!([{"op": "remove", "path": "displayName"}])), "invalidValue"),
        ] {
            let r = send(&app, Method::PATCH, &format!("/Groups/{id}"), &secret, &ops).await;
            let error = expect(r, StatusCode::BAD_REQUEST).await;
            assert_eq!(error["scimType"], scim_type, "{}: {ops}", app.engine);
        }
        let bad = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "X"});
        let error = expect(send(&app, Method::POST, "/Groups", &secret, &bad).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["scimType"], "invalidSyntax");
        let r = app
            .authed(Method::GET, "/scim/v2/Groups", &secret)
            .query(&[("filter", r#"userName eq "x""#)])
            .send()
            .await
            .unwrap();
        assert_eq!(expect(r, StatusCode::BAD_REQUEST).await["scimType"], "invalidFilter");
        // A team with a subgroup an admin made is not the provider's to delete.
        let r = app.authed(Method::DELETE, &format!("/scim/v2/Groups/{id}"), &secret).send().await.unwrap();
        expect(r, StatusCode::CONFLICT).await;

        let now = expect(
            app.authed(Method::GET, &format!("/scim/v2/Groups/{id}"), &secret).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(now, group, "{}: nothing changed", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_bulk_request_resolves_bulk_ids_runs_in_order_and_stops_after_fail_on_errors() {
    for app in apps("scim_bulk").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let user = |email: &str| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
            })
        };
        let request = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "ada", "data": user("ada@example.com")},
                {"method": "POST", "path": "/Groups", "bulkId": "team",
                 "data": {"schemas": [GROUP_SCHEMA], "displayName": "Engines", "members": [{"value": "bulkId:ada"}]}},
                {"method": "PATCH", "path": "/Users/bulkId:ada",
                 "data": patch(json!([{"op": "replace", "path": "title", "value": "Analyst"}]))},
                {"method": "POST", "path": "/Users", "bulkId": "bad", "data": user("not an address")},
                {"method": "POST", "path": "/Users", "bulkId": "never", "data": user("never@example.com")},
            ]
        });
        let answer = expect(send(&app, Method::POST, "/Bulk", &secret, &request).await, StatusCode::OK).await;
        let ops = answer["Operations"].as_array().unwrap();
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["201", "201", "200", "400"], "{}: {answer}", app.engine);
        assert_eq!(ops[3]["response"]["scimType"], "invalidValue");
        let ada = ops[0]["location"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let team = ops[1]["location"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let group = expect(
            app.authed(Method::GET, &format!("/scim/v2/Groups/{team}"), &secret).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(member_ids(&group), vec![ada.clone()]);
        let user = expect(
            app.authed(Method::GET, &format!("/scim/v2/Users/{ada}"), &secret).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(user["title"], "Analyst");
        let never = app
            .authed(Method::GET, "/scim/v2/Users", &secret)
            .query(&[("filter", r#"userName eq "never@example.com""#)])
            .send()
            .await
            .unwrap();
        assert_eq!(expect(never, StatusCode::OK).await["totalResults"], 0, "not run after the first error");

        let unknown = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "PATCH", "path": "/Users/bulkId:nobody", "data": patch(json!([{"op": "remove", "path": "title"}]))}]
        });
        let answer = expect(send(&app, Method::POST, "/Bulk", &secret, &unknown).await, StatusCode::OK).await;
        assert_eq!(answer["Operations"][0]["status"], "400");
        let wrong = json!({"schemas": ["urn:x"], "Operations": []});
        let error = expect(send(&app, Method::POST, "/Bulk", &secret, &wrong).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["scimType"], "invalidSyntax");
        app.finish().await;
    }
}

#[tokio::test]
async fn a_search_at_the_root_answers_users_and_groups_each_as_the_filter_is_theirs() {
    for app in apps("scim_root_search").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        app.create_user(&token, "ada@example.com").await;
        let create = json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales"});
        expect(send(&app, Method::POST, "/Groups", &secret, &create).await, StatusCode::CREATED).await;
        let search = |filter: Option<&str>| {
            let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 10});
            if let Some(f) = filter {
                body["filter"] = json!(f);
            }
            body
        };
        let all = expect(send(&app, Method::POST, "/.search", &secret, &search(None)).await, StatusCode::OK).await;
        assert_eq!(all["totalResults"], 3, "{}: the admin, Ada and Sales", app.engine);
        let users = search(Some(r#"userName sw "ada""#));
        let users = expect(send(&app, Method::POST, "/.search", &secret, &users).await, StatusCode::OK).await;
        assert_eq!(
            (users["totalResults"].as_u64(), users["Resources"][0]["userName"].as_str()),
            (Some(1), Some("ada@example.com"))
        );
        let groups = search(Some(r#"displayName eq "sales""#));
        let groups = expect(send(&app, Method::POST, "/.search", &secret, &groups).await, StatusCode::OK).await;
        assert_eq!(
            (groups["totalResults"].as_u64(), groups["Resources"][0]["displayName"].as_str()),
            (Some(1), Some("Sales"))
        );
        let neither = search(Some(r#"shoeSize eq "42""#));
        let error =
            expect(send(&app, Method::POST, "/.search", &secret, &neither).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["scimType"], "invalidFilter");
        app.finish().await;
    }
}
