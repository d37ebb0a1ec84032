//! `/scim/v2` (SPEC §13): discovery, and the reads of Users as Okta and Entra ID send them —
//! the lookup by `userName` before every create, filtered paths, paging, sorting and attribute
//! selection — with SCIM errors for what the server does not understand, the `scim`
//! permission, and no reach into another organization.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps};
use crate::tenants::other_org;

/// An API key of the caller's organization holding `permissions`; its secret.
async fn key(app: &TestApp, token: &str, permissions: &[&str]) -> String {
    let r = app
        .authed(Method::POST, "/api/v1/api-keys", token)
        .json(&json!({"name": "okta", "permissions": permissions}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
    let body: Value = r.json().await.unwrap();
    body["secret"].as_str().unwrap().to_owned()
}

/// A SCIM `GET` with its query as an identity provider encodes it.
async fn scim_get(app: &TestApp, path: &str, query: &[(&str, &str)], secret: &str) -> Response {
    app.authed(Method::GET, &format!("/scim/v2{path}"), secret).query(query).send().await.unwrap()
}

/// The answer is SCIM JSON with `status`; its body.
async fn scim_body(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    let media = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(media.starts_with("application/scim+json"), "{media}");
    r.json().await.unwrap()
}

/// A SCIM error: the status as a string, the `scimType` when one is given.
async fn scim_error(r: Response, status: StatusCode, scim_type: Option<&str>) -> Value {
    let body = scim_body(r, status).await;
    assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(body["status"], json!(status.as_u16().to_string()));
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

#[tokio::test]
async fn okta_finds_a_user_by_user_name_before_creating_them() {
    for app in apps("scim_okta_lookup").await {
        let token = app.login().await;
        let ada = app.create_user(&token, "ada@example.com").await;
        app.create_user(&token, "bob@example.com").await;
        let secret = key(&app, &token, &["scim"]).await;

        // Okta's request, exactly: the filter, startIndex and count.
        let query = [("filter", r#"userName eq "Ada@Example.com""#), ("startIndex", "1"), ("count", "100")];
        let body = scim_body(scim_get(&app, "/Users", &query, &secret).await, StatusCode::OK).await;
        assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
        assert_eq!((body["totalResults"].as_u64(), body["startIndex"].as_u64()), (Some(1), Some(1)), "{}", app.engine);
        let user = &body["Resources"][0];
        assert_eq!(user["id"], ada["id"]);
        assert_eq!(user["userName"], "ada@example.com");
        assert_eq!(user["active"], true);
        assert_eq!(user["emails"], json!([{"value": "ada@example.com", "type": "work", "primary": true}]));
        let location = user["meta"]["location"].as_str().unwrap();
        assert_eq!(location, format!("{}/scim/v2/Users/{}", app.base, ada["id"].as_str().unwrap()));

        // Nobody by that name: an empty list, not an error and not everyone.
        let query = [("filter", r#"userName eq "nobody@example.com""#)];
        let body = scim_body(scim_get(&app, "/Users", &query, &secret).await, StatusCode::OK).await;
        assert_eq!((body["totalResults"].as_u64(), body["Resources"].as_array().map(Vec::len)), (Some(0), Some(0)));
        app.finish().await;
    }
}

#[tokio::test]
async fn entra_id_filters_with_filtered_paths_and_complex_filters() {
    for app in apps("scim_entra_filters").await {
        let token = app.login().await;
        let ada = app.create_user(&token, "ada@example.com").await;
        app.create_user(&token, "adam@example.com").await;
        let secret = key(&app, &token, &["scim"]).await;
        for (filter, want) in [
            (r#"emails[type eq "work"].value eq "ada@example.com""#, 1),
            (r#"emails[type eq "work" and value sw "ada"]"#, 2),
            (r#"emails[type eq "home"]"#, 0),
            (r#"userName sw "ada" and not (userName eq "adam@example.com")"#, 1),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName co "DAM""#, 1),
            (r#"active eq true and (name.familyName eq "ada" or name.familyName eq "adam")"#, 2),
            (r#"phoneNumbers pr"#, 0),
        ] {
            let body = scim_body(scim_get(&app, "/Users", &[("filter", filter)], &secret).await, StatusCode::OK).await;
            assert_eq!(body["totalResults"].as_u64(), Some(want), "{}: {filter}", app.engine);
        }
        let id = ada["id"].as_str().unwrap();
        let by_id = format!(r#"id eq "{id}""#);
        let body = scim_body(scim_get(&app, "/Users", &[("filter", &by_id)], &secret).await, StatusCode::OK).await;
        assert_eq!(body["Resources"][0]["id"], ada["id"]);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_user_is_read_with_its_version_as_etag_and_never_from_another_organization() {
    for app in apps("scim_get_user").await {
        let token = app.login().await;
        let ada = app.create_user(&token, "ada@example.com").await;
        let secret = key(&app, &token, &["scim"]).await;
        let id = ada["id"].as_str().unwrap();
        let r = scim_get(&app, &format!("/Users/{id}"), &[], &secret).await;
        let etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = scim_body(r, StatusCode::OK).await;
        assert_eq!(body["meta"]["version"].as_str(), Some(etag.as_str()), "{}", app.engine);
        assert_eq!(body["name"]["givenName"], "Test");

        // Another organization's member and their address are out of reach.
        let other = other_org(&app, "acme").await;
        let theirs = app.create_user(&other, "carol@acme.example").await;
        let r = scim_get(&app, &format!("/Users/{}", theirs["id"].as_str().unwrap()), &[], &secret).await;
        scim_error(r, StatusCode::NOT_FOUND, None).await;
        let query = [("filter", r#"userName eq "carol@acme.example""#)];
        let body = scim_body(scim_get(&app, "/Users", &query, &secret).await, StatusCode::OK).await;
        assert_eq!(body["totalResults"], 0);
        let body = scim_body(scim_get(&app, "/Users", &[], &secret).await, StatusCode::OK).await;
        assert_eq!(body["totalResults"], 2, "{}: the admin and Ada", app.engine);
        for bad in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
            scim_error(scim_get(&app, &format!("/Users/{bad}"), &[], &secret).await, StatusCode::NOT_FOUND, None).await;
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn pages_sort_and_attribute_selection_follow_the_rfc() {
    for app in apps("scim_paging").await {
        let token = app.login().await;
        for email in ["b@example.com", "c@example.com", "a@example.com"] {
            app.create_user(&token, email).await;
        }
        let secret = key(&app, &token, &["scim"]).await;
        let query = [
            ("filter", r#"userName ew "@example.com""#),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("startIndex", "2"),
            ("count", "1"),
            ("attributes", "userName"),
        ];
        let body = scim_body(scim_get(&app, "/Users", &query, &secret).await, StatusCode::OK).await;
        assert_eq!(
            (body["totalResults"].as_u64(), body["itemsPerPage"].as_u64()),
            (Some(3), Some(1)),
            "{}",
            app.engine
        );
        assert_eq!(body["startIndex"], 2);
        let user = body["Resources"][0].as_object().unwrap();
        let mut keys: Vec<&str> = user.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "schemas", "userName"]);
        assert_eq!(user["userName"], "b@example.com");

        let query = [("excludedAttributes", "emails,meta,name.familyName"), ("count", "0")];
        let body = scim_body(scim_get(&app, "/Users", &query, &secret).await, StatusCode::OK).await;
        assert_eq!((body["totalResults"].as_u64(), body["itemsPerPage"].as_u64()), (Some(4), Some(0)));
        let query = [("excludedAttributes", "emails,meta,name.familyName"), ("startIndex", "0"), ("count", "100000")];
        let body = scim_body(scim_get(&app, "/Users", &query, &secret).await, StatusCode::OK).await;
        assert_eq!((body["startIndex"].as_u64(), body["itemsPerPage"].as_u64()), (Some(1), Some(4)));
        let first = &body["Resources"][0];
        assert!(first.get("emails").is_none() && first.get("meta").is_none(), "{first}");
        assert!(first["name"].get("familyName").is_none() && first["name"]["givenName"].is_string());
        app.finish().await;
    }
}

#[tokio::test]
async fn what_the_server_does_not_understand_is_a_scim_error_never_an_unfiltered_answer() {
    for app in apps("scim_bad_input").await {
        let token = app.login().await;
        app.create_user(&token, "ada@example.com").await;
        let secret = key(&app, &token, &["scim"]).await;
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        for filter in [
            r#"shoeSize eq "42""#,
            r#"name.nick eq "x""#,
            r#"userName equals "ada@example.com""#,
            r#"userName eq "ada@example.com" or "1"="1""#,
            r#"userName eq ada@example.com"#,
            r#"active gt true"#,
            r#"meta.created gt "yesterday""#,
            r#"title eq "Engineer""#,
            r#"userName eq "a\u0000b""#,
            deep.as_str(),
        ] {
            let r = scim_get(&app, "/Users", &[("filter", filter)], &secret).await;
            scim_error(r, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
        }
        // Text that looks like SQL is a value like any other: it matches nobody.
        for filter in [r#"userName eq "x' OR '1'='1""#, r#"userName co "%""#, r#"userName sw "_""#] {
            let body = scim_body(scim_get(&app, "/Users", &[("filter", filter)], &secret).await, StatusCode::OK).await;
            assert_eq!(body["totalResults"], 0, "{}: {filter}", app.engine);
        }
        for query in [
            [("startIndex", "first")],
            [("count", "1.5")],
            [("sortBy", "shoeSize")],
            [("attributes", "shoeSize")],
            [("sortOrder", "sideways")],
        ] {
            let query: Vec<(&str, &str)> =
                if query[0].0 == "sortOrder" { vec![("sortBy", "userName"), query[0]] } else { query.to_vec() };
            let r = scim_get(&app, "/Users", &query, &secret).await;
            scim_error(r, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
        }
        // Nothing changed.
        let body = scim_body(scim_get(&app, "/Users", &[], &secret).await, StatusCode::OK).await;
        assert_eq!(body["totalResults"], 2);
        app.finish().await;
    }
}

#[tokio::test]
async fn scim_needs_a_key_holding_the_scim_permission() {
    for app in apps("scim_auth").await {
        let token = app.login().await;
        let r = app.request(Method::GET, "/scim/v2/Users").send().await.unwrap();
        scim_error(r, StatusCode::UNAUTHORIZED, None).await;
        let r = scim_get(&app, "/Users", &[], "rk_not_a_key").await;
        scim_error(r, StatusCode::UNAUTHORIZED, None).await;
        let licenses_only = key(&app, &token, &["manage_licenses"]).await;
        scim_error(scim_get(&app, "/Users", &[], &licenses_only).await, StatusCode::FORBIDDEN, None).await;
        // Discovery describes the server to any key of the organization.
        let config =
            scim_body(scim_get(&app, "/ServiceProviderConfig", &[], &licenses_only).await, StatusCode::OK).await;
        assert_eq!(config["filter"]["maxResults"], 200);
        // An admin's session holds `scim` (the admin role holds every permission).
        scim_body(scim_get(&app, "/Users", &[], &token).await, StatusCode::OK).await;
        app.finish().await;
    }
}

#[tokio::test]
async fn discovery_describes_users_groups_and_the_enterprise_extension() {
    for app in apps("scim_discovery").await {
        let token = app.login().await;
        let secret = key(&app, &token, &["scim"]).await;
        let config = scim_body(scim_get(&app, "/ServiceProviderConfig", &[], &secret).await, StatusCode::OK).await;
        assert_eq!(config["filter"]["supported"], true);
        assert_eq!(config["etag"]["supported"], true);
        assert_eq!(config["authenticationSchemes"][0]["type"], "oauthbearertoken");
        let types = scim_body(scim_get(&app, "/ResourceTypes", &[], &secret).await, StatusCode::OK).await;
        assert_eq!(types["totalResults"], 2);
        assert_eq!(
            types["Resources"][0]["schemaExtensions"][0]["schema"],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        );
        let schemas = scim_body(scim_get(&app, "/Schemas", &[], &secret).await, StatusCode::OK).await;
        let ids: Vec<&str> = schemas["Resources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:ietf:params:scim:schemas:core:2.0:Group"
            ]
        );
        let user = scim_body(
            scim_get(&app, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", &[], &secret).await,
            StatusCode::OK,
        )
        .await;
        let user_name = user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!((user_name["uniqueness"].as_str(), user_name["required"].as_bool()), (Some("server"), Some(true)));
        for path in ["/Schemas", "/ResourceTypes", "/ServiceProviderConfig"] {
            let r =
                app.authed(Method::POST, &format!("/scim/v2{path}"), &secret).json(&json!({})).send().await.unwrap();
            scim_error(r, StatusCode::METHOD_NOT_ALLOWED, None).await;
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn a_search_asked_in_a_body_answers_as_the_query_does_and_bad_bodies_are_scim_errors() {
    for app in apps("scim_search").await {
        let token = app.login().await;
        app.create_user(&token, "ada@example.com").await;
        app.create_user(&token, "bob@example.com").await;
        let secret = key(&app, &token, &["scim"]).await;
        let search = |body: String, media: &'static str| {
            app.authed(Method::POST, "/scim/v2/Users/.search", &secret).header("content-type", media).body(body).send()
        };
        let ask = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"ADA\"",
            "attributes": ["userName", "name.givenName"],
            "startIndex": 1,
            "count": 10,
        });
        let body = scim_body(search(ask.to_string(), "application/scim+json").await.unwrap(), StatusCode::OK).await;
        assert_eq!(body["totalResults"], 1, "{}", app.engine);
        assert_eq!(body["Resources"][0]["userName"], "ada@example.com");
        assert!(body["Resources"][0].get("emails").is_none());
        let body = scim_body(search(ask.to_string(), "application/json").await.unwrap(), StatusCode::OK).await;
        assert_eq!(body["totalResults"], 1);

        let wrong_schema = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "filter": "userName pr"});
        let r = search(wrong_schema.to_string(), "application/scim+json").await.unwrap();
        scim_error(r, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
        let unknown_field = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "where": "x"});
        let r = search(unknown_field.to_string(), "application/scim+json").await.unwrap();
        scim_error(r, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
        let r = search("{\"schemas\": [".to_owned(), "application/scim+json").await.unwrap();
        scim_error(r, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
        let r = search(ask.to_string(), "text/plain").await.unwrap();
        scim_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
        let bad_filter =
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "shoeSize pr"});
        let r = search(bad_filter.to_string(), "application/scim+json").await.unwrap();
        scim_error(r, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
        app.finish().await;
    }
}
