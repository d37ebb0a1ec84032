//! The writes of `/scim/v2/Users` (SPEC §13, decision 0041), replayed as Okta and Microsoft
//! Entra ID send them: create with `Location`, Okta's full PUT without `active`, PATCH with and
//! without `path`, Entra ID's capitalised `op`s, string booleans, filtered and extension paths
//! and bare `manager`; deactivation releasing licenses as an admin's does, reactivation and
//! creation giving `scim_products` through the seat limit (a full pool a 409 naming the
//! product, the user kept); `If-Match`; soft delete; every change audited with source `scim`;
//! and bad input a SCIM error that changes nothing.

use reqwest::{Method, Response, StatusCode};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::values::{Key, Slug};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An API key holding `scim` only; its secret.
async fn scim_key(app: &TestApp, token: &str) -> String {
    let r = app
        .authed(Method::POST, "/api/v1/api-keys", token)
        .json(&json!({"name": "okta", "permissions": ["scim"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
    r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned()
}

/// A SCIM request with a JSON body, as `application/scim+json`.
async fn send(app: &TestApp, method: Method, path: &str, secret: &str, body: &Value) -> Response {
    app.authed(method, &format!("/scim/v2{path}"), secret)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The answer's status is `status`; its body (SCIM JSON).
async fn expect(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let media = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        return Value::Null;
    }
    assert!(media.starts_with("application/scim+json"), "{media}");
    serde_json::from_str(&text).unwrap()
}

/// A SCIM error with `status` and `scim_type`; its body.
async fn expect_error(r: Response, status: StatusCode, scim_type: Option<&str>) -> Value {
    let body = expect(r, status).await;
    assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(body["status"], json!(status.as_u16().to_string()), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    body
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Okta's create request (its SCIM 2.0 test app sends these attributes).
fn okta_user(email: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": "00u1a2b3c4D5e6F7g8h9",
        "groups": [],
        "password": "xK8#rT2!pL9vQw",
        "active": true
    })
}

/// The member as the REST API shows them (status, products).
async fn member(app: &TestApp, token: &str, id: &str) -> Value {
    app.get_ok(&format!("/api/v1/users/{id}"), token).await
}

/// The audit events of `action`, newest first.
async fn events(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let page = app.get_ok(&format!("/api/v1/audit?action={action}&limit=200"), token).await;
    page["items"].as_array().unwrap().clone()
}

async fn set_seats(app: &TestApp, product: &str, seats: u32) {
    let org = app.services.organization_by_slug(&Slug::parse("demo").unwrap()).await.unwrap().id;
    let operator = Actor::system(org, Source::Cli);
    app.services.set_seats(&operator, &Key::parse(product).unwrap(), seats).await.unwrap();
}

async fn set_scim_products(app: &TestApp, token: &str, products: &[&str]) {
    let r = app
        .authed(Method::PATCH, "/api/v1/org/settings", token)
        .json(&json!({"scim_products": products}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn okta_creates_a_user_answered_with_its_location_and_a_second_create_is_a_uniqueness_error() {
    for app in apps("scim_okta_create").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let r = send(&app, Method::POST, "/Users", &secret, &okta_user("Ada@Example.com", "Ada", "Lovelace")).await;
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let created = expect(r, StatusCode::CREATED).await;
        assert_eq!(created["meta"]["location"].as_str(), Some(location.as_str()), "{}", app.engine);
        assert_eq!(created["meta"]["version"].as_str(), Some(etag.as_str()));
        assert_eq!(created["userName"], "ada@example.com");
        assert_eq!(created["externalId"], "00u1a2b3c4D5e6F7g8h9");
        assert_eq!(created["active"], true);
        assert!(created.get("password").is_none(), "never returned");
        let id = created["id"].as_str().unwrap();
        assert_eq!(location, format!("{}/scim/v2/Users/{id}", app.base));

        let path = location.strip_prefix(app.base.as_str()).unwrap();
        let fetched = expect(app.authed(Method::GET, path, &secret).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(fetched, created);
        let by_external = app
            .authed(Method::GET, "/scim/v2/Users", &secret)
            .query(&[("filter", r#"externalId eq "00u1a2b3c4D5e6F7g8h9""#)])
            .send()
            .await
            .unwrap();
        assert_eq!(expect(by_external, StatusCode::OK).await["Resources"][0]["id"], id);

        let again = send(&app, Method::POST, "/Users", &secret, &okta_user("ada@example.com", "Ada", "L")).await;
        expect_error(again, StatusCode::CONFLICT, Some("uniqueness")).await;

        let rest = member(&app, &token, id).await;
        assert_eq!((rest["first_name"].as_str(), rest["email"].as_str()), (Some("Ada"), Some("ada@example.com")));
        let audit = events(&app, &token, "user.created").await;
        let event = audit.iter().find(|e| e["target_id"] == id).expect("audited");
        assert_eq!(event["source"], "scim", "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn oktas_full_put_without_active_keeps_it_and_its_patch_deactivates_releasing_licenses() {
    for app in apps("scim_okta_put_patch").await {
        let token = app.login().await;
        set_scim_products(&app, &token, &["core"]).await;
        let secret = scim_key(&app, &token).await;
        let created = expect(
            send(&app, Method::POST, "/Users", &secret, &okta_user("ada@example.com", "Ada", "Lovelace")).await,
            StatusCode::CREATED,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(member(&app, &token, &id).await["products"], json!(["core"]), "{}", app.engine);

        // Okta's profile push: the whole user, `active` left out.
        let mut put = okta_user("ada@example.com", "Augusta", "Lovelace");
        put.as_object_mut().unwrap().remove("active");
        put["id"] = json!(id);
        put["title"] = json!("Countess");
        let replaced =
            expect(send(&app, Method::PUT, &format!("/Users/{id}"), &secret, &put).await, StatusCode::OK).await;
        assert_eq!(
            (replaced["active"].as_bool(), replaced["name"]["givenName"].as_str()),
            (Some(true), Some("Augusta"))
        );
        assert_eq!(replaced["title"], "Countess");
        assert_eq!(member(&app, &token, &id).await["products"], json!(["core"]), "PUT kept the member active");

        // Okta's deactivation: a PATCH without a path.
        let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
        let patched =
            expect(send(&app, Method::PATCH, &format!("/Users/{id}"), &secret, &off).await, StatusCode::OK).await;
        assert_eq!(patched["active"], false);
        let rest = member(&app, &token, &id).await;
        assert_eq!((rest["status"].as_str(), rest["products"].clone()), (Some("deactivated"), json!([])));
        let deactivated = events(&app, &token, "user.deactivated").await;
        let event = deactivated.iter().find(|e| e["target_id"] == id.as_str()).expect("audited");
        assert_eq!((event["source"].as_str(), event["details"]["released"].clone()), (Some("scim"), json!(["core"])));

        // Reactivation gives `scim_products` again.
        let on = patch(json!([{"op": "replace", "value": {"active": true}}]));
        expect(send(&app, Method::PATCH, &format!("/Users/{id}"), &secret, &on).await, StatusCode::OK).await;
        let rest = member(&app, &token, &id).await;
        assert_eq!(rest["products"], json!(["core"]), "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn entra_ids_patch_with_capitalised_ops_string_booleans_filtered_and_extension_paths_applies() {
    for app in apps("scim_entra_patch").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        // Entra ID's create request (its provisioning service's default attribute mappings).
        let create = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "externalId": "ada",
            "userName": "ada@contoso.com",
            "active": true,
            "displayName": "Ada Lovelace",
            "emails": [{"primary": true, "type": "work", "value": "ada@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
            "roles": [],
            ENTERPRISE: {"employeeNumber": "1701", "department": "Engines"}
        });
        // `roles` is no attribute Roster serves: refused, nothing created.
        expect_error(
            send(&app, Method::POST, "/Users", &secret, &create).await,
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
        )
        .await;
        let mut create = create;
        create.as_object_mut().unwrap().remove("roles");
        let created = expect(send(&app, Method::POST, "/Users", &secret, &create).await, StatusCode::CREATED).await;
        assert_eq!(created[ENTERPRISE]["department"], "Engines", "{}", app.engine);
        let id = created["id"].as_str().unwrap().to_owned();

        let ops = patch(json!([
            {"op": "Replace", "path": "title", "value": "Analyst"},
            {"op": "Add", "path": "addresses[type eq \"work\"].formatted", "value": "12 St James's Square, London"},
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+14155550100"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Analytical Engines"},
            {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "b0b-1d"},
            {"op": "Replace", "path": "name.familyName", "value": "King"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada@contoso.com"},
        ]));
        let patched =
            expect(send(&app, Method::PATCH, &format!("/Users/{id}"), &secret, &ops).await, StatusCode::OK).await;
        assert_eq!(patched["title"], "Analyst");
        assert_eq!(patched["phoneNumbers"], json!([{"value": "+14155550100", "type": "work", "primary": true}]));
        assert_eq!(
            patched[ENTERPRISE],
            json!({"employeeNumber": "1701", "department": "Analytical Engines", "manager": {"value": "b0b-1d"}})
        );
        assert_eq!(patched["name"]["familyName"], "King");

        // Entra ID's disable: `"False"` as a string.
        let off = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        let patched =
            expect(send(&app, Method::PATCH, &format!("/Users/{id}"), &secret, &off).await, StatusCode::OK).await;
        assert_eq!(patched["active"], false);
        assert_eq!(member(&app, &token, &id).await["status"], "deactivated");

        // Removing an attribute clears it.
        let remove = patch(
            json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager")}, {"op": "Remove", "path": "title"}]),
        );
        let patched =
            expect(send(&app, Method::PATCH, &format!("/Users/{id}"), &secret, &remove).await, StatusCode::OK).await;
        assert!(patched.get("title").is_none() && patched[ENTERPRISE].get("manager").is_none(), "{patched}");
        let updates = events(&app, &token, "user.updated").await;
        assert!(updates.iter().filter(|e| e["target_id"] == id.as_str()).all(|e| e["source"] == "scim"));
        app.finish().await;
    }
}

#[tokio::test]
async fn a_full_pool_still_creates_the_user_and_answers_409_naming_the_product_with_the_refusal_audited() {
    for app in apps("scim_seats").await {
        let token = app.login().await;
        set_seats(&app, "core", 1).await;
        set_scim_products(&app, &token, &["core"]).await;
        let secret = scim_key(&app, &token).await;
        let first = send(&app, Method::POST, "/Users", &secret, &okta_user("ada@example.com", "Ada", "L")).await;
        let first = expect(first, StatusCode::CREATED).await;
        assert_eq!(member(&app, &token, first["id"].as_str().unwrap()).await["products"], json!(["core"]));

        let second = send(&app, Method::POST, "/Users", &secret, &okta_user("bob@example.com", "Bob", "B")).await;
        let error = expect_error(second, StatusCode::CONFLICT, None).await;
        let detail = error["detail"].as_str().unwrap();
        assert!(detail.contains("core") && detail.contains("bob@example.com"), "{}: {detail}", app.engine);

        let found = app
            .authed(Method::GET, "/scim/v2/Users", &secret)
            .query(&[("filter", r#"userName eq "bob@example.com""#)])
            .send()
            .await
            .unwrap();
        let found = expect(found, StatusCode::OK).await;
        assert_eq!(found["totalResults"], 1, "the user is created all the same");
        let bob = found["Resources"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(member(&app, &token, &bob).await["products"], json!([]));
        let refused = events(&app, &token, "user.licenses_refused").await;
        assert_eq!(refused.len(), 1, "{}", app.engine);
        assert_eq!(
            (refused[0]["target_id"].as_str(), refused[0]["source"].as_str()),
            (Some(bob.as_str()), Some("scim"))
        );
        assert_eq!(refused[0]["details"]["products"], json!(["core"]));
        app.finish().await;
    }
}

#[tokio::test]
async fn a_stale_if_match_is_412_a_delete_is_the_soft_delete_and_frees_the_address() {
    for app in apps("scim_etag_delete").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let created = expect(
            send(&app, Method::POST, "/Users", &secret, &okta_user("ada@example.com", "Ada", "L")).await,
            StatusCode::CREATED,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let version = created["meta"]["version"].as_str().unwrap().to_owned();
        let rename = patch(json!([{"op": "replace", "path": "name.givenName", "value": "Augusta"}]));
        let r = app
            .authed(Method::PATCH, &format!("/scim/v2/Users/{id}"), &secret)
            .header("content-type", "application/scim+json")
            .header("if-match", &version)
            .body(rename.to_string())
            .send()
            .await
            .unwrap();
        let renamed = expect(r, StatusCode::OK).await;
        assert_ne!(renamed["meta"]["version"].as_str(), Some(version.as_str()));
        let stale = app
            .authed(Method::PUT, &format!("/scim/v2/Users/{id}"), &secret)
            .header("content-type", "application/scim+json")
            .header("if-match", &version)
            .body(okta_user("ada@example.com", "Ada", "Again").to_string())
            .send()
            .await
            .unwrap();
        expect_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
        assert_eq!(member(&app, &token, &id).await["first_name"], "Augusta", "{}: nothing changed", app.engine);

        let r = app.authed(Method::DELETE, &format!("/scim/v2/Users/{id}"), &secret).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let gone = app.authed(Method::GET, &format!("/scim/v2/Users/{id}"), &secret).send().await.unwrap();
        expect_error(gone, StatusCode::NOT_FOUND, None).await;
        let again = app.authed(Method::DELETE, &format!("/scim/v2/Users/{id}"), &secret).send().await.unwrap();
        expect_error(again, StatusCode::NOT_FOUND, None).await;
        let deleted = events(&app, &token, "user.deleted").await;
        assert_eq!(deleted[0]["source"], "scim");
        // The address is free again.
        expect(
            send(&app, Method::POST, "/Users", &secret, &okta_user("ada@example.com", "Ada", "L")).await,
            StatusCode::CREATED,
        )
        .await;
        app.finish().await;
    }
}

#[tokio::test]
async fn bad_writes_are_scim_errors_with_their_type_and_change_nothing() {
    for app in apps("scim_bad_writes").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let created = expect(
            send(&app, Method::POST, "/Users", &secret, &okta_user("ada@example.com", "Ada", "L")).await,
            StatusCode::CREATED,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let users = app.user_count(&token).await;

        let raw = app
            .authed(Method::POST, "/scim/v2/Users", &secret)
            .header("content-type", "application/scim+json")
            .body("{\"schemas\": [")
            .send()
            .await
            .unwrap();
        expect_error(raw, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
        for (body, scim_type) in [
            (
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x@example.com"}),
                "invalidSyntax",
            ),
            (json!({"userName": "x@example.com", "name": {"givenName": "X", "familyName": "Y"}}), "invalidSyntax"),
            (json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", "shoeSize": 42}), "invalidSyntax"),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "not an address", "name": {"givenName": "X", "familyName": "Y"}}),
                "invalidValue",
            ),
            (json!({"schemas": [USER_SCHEMA], "userName": "x@example.com"}), "invalidValue"),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", "name": {"givenName": "X", "familyName": "Y"}, "active": "maybe"}),
                "invalidValue",
            ),
        ] {
            let r = send(&app, Method::POST, "/Users", &secret, &body).await;
            expect_error(r, StatusCode::BAD_REQUEST, Some(scim_type)).await;
        }
        for (ops, scim_type) in [
            (json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}), "invalidSyntax"),
            (patch(json!([{"op": "deactivate", "path": "active"}])), "invalidSyntax"),
            (patch(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])), "invalidPath"),
            (patch(json!([{"op": "replace", "path": "shoeSize", "value": 42}])), "invalidPath"),
            (patch(json!([{"op": "remove"}])), "noTarget"),
            (patch(json!([{"op": "replace", "path": "id", "value": "mine"}])), "mutability"),
            (patch(json!([{"op": "replace", "path": "active", "value": "maybe"}])), "invalidValue"),
            // The first operation is valid: nothing of the request is kept.
            (
                patch(
                    json!([{"op": "replace", "path": "title", "value": "Kept?"}, {"op": "replace", "path": "userName", "value": "nope"}]),
                ),
                "invalidValue",
            ),
            (patch(json!([{"op": "remove", "path": "userName"}])), "invalidValue"),
        ] {
            let r = send(&app, Method::PATCH, &format!("/Users/{id}"), &secret, &ops).await;
            expect_error(r, StatusCode::BAD_REQUEST, Some(scim_type)).await;
        }
        let r = app
            .authed(Method::PATCH, &format!("/scim/v2/Users/{id}"), &secret)
            .header("content-type", "text/plain")
            .body("active=false")
            .send()
            .await
            .unwrap();
        expect_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;

        let now = expect(
            app.authed(Method::GET, &format!("/scim/v2/Users/{id}"), &secret).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(now, created, "{}: nothing changed", app.engine);
        assert_eq!(app.user_count(&token).await, users);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_identity_provider_cannot_deactivate_a_member_holding_more_than_provisioning() {
    for app in apps("scim_dominance").await {
        let token = app.login().await;
        let secret = scim_key(&app, &token).await;
        let me = app.get_ok("/api/v1/me", &token).await;
        let admin = me["user"]["id"].as_str().unwrap().to_owned();
        let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
        let r = send(&app, Method::PATCH, &format!("/Users/{admin}"), &secret, &off).await;
        expect_error(r, StatusCode::FORBIDDEN, None).await;
        assert_ne!(member(&app, &token, &admin).await["status"], "deactivated", "{}", app.engine);

        // `scim_products` holds products of the catalog only.
        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &token)
            .json(&json!({"scim_products": ["core", "nonesuch"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "an unknown product is refused");
        let settings = app.get_ok("/api/v1/org/settings", &token).await;
        assert_eq!(settings["scim_products"], json!([]));
        app.finish().await;
    }
}
