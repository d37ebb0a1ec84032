//! `GET /licenses`, `GET /billing`, `GET|PATCH /org/settings` (SPEC §2, §4.4, §10): the
//! figures, the confirmation rule, isolation, permissions and bad input.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{apps, assert_problem};
use crate::tenants::{member, other_org};

/// The settings' signup domains, sorted (their order is not part of the contract).
fn domains(settings: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        settings["allowed_signup_domains"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

fn seats<'a>(list: &'a Value, product: &str) -> &'a Value {
    list.as_array().unwrap().iter().find(|s| s["product"] == product).unwrap_or_else(|| panic!("no {product}"))
}

#[tokio::test]
async fn licenses_and_billing_count_seats_and_billable_users_of_the_organization() {
    for app in apps("licenses_billing").await {
        let token = app.login().await;
        let user = app.create_user(&token, "seated@demo.example").await;
        let r = app
            .authed(Method::PUT, &format!("/api/v1/users/{}/licenses", user["id"].as_str().unwrap()), &token)
            .json(&json!({"products": ["core", "dialer"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        let licenses = app.get_ok("/api/v1/licenses", &token).await;
        assert_eq!(
            seats(&licenses["items"], "core"),
            &json!({"product": "core", "seats_total": 3, "seats_used": 1, "seats_available": 2}),
            "{}",
            app.engine
        );
        assert_eq!(seats(&licenses["items"], "sms")["seats_used"], 0);
        assert_eq!(licenses["total"], 4, "{}: the default catalog", app.engine);

        let billing = app.get_ok("/api/v1/billing", &token).await;
        assert_eq!(billing["billable_users"], 2, "{}: the admin and the user", app.engine);
        assert_eq!(seats(&billing["seats"], "dialer")["seats_used"], 1);
        assert_eq!((billing["in_trial"].as_bool(), &billing["trial_ends_at"]), (Some(false), &Value::Null));

        // Another organization sees its own figures only.
        let other = other_org(&app, "other").await;
        let theirs = app.get_ok("/api/v1/licenses", &other).await;
        assert_eq!(seats(&theirs["items"], "core")["seats_used"], 0, "{}", app.engine);
        assert_eq!(app.get_ok("/api/v1/billing", &other).await["billable_users"], 1);

        let (standard, _) = member(&app, "demo", "standard@demo.example", "standard").await;
        for path in ["/api/v1/licenses", "/api/v1/billing"] {
            let r = app.authed(Method::GET, path, &standard).send().await.unwrap();
            assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
        // view_reporting reads billing, not the invite screen's counts.
        let (analyst, _) = member(&app, "demo", "analyst@demo.example", "analyst").await;
        app.get_ok("/api/v1/billing", &analyst).await;
        let r = app.authed(Method::GET, "/api/v1/licenses", &analyst).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn settings_change_with_confirmation_and_stay_in_their_organization() {
    for app in apps("org_settings").await {
        let token = app.login().await;
        let settings = app.get_ok("/api/v1/org/settings", &token).await;
        assert_eq!(
            settings,
            json!({"auto_signup": true, "allowed_signup_domains": [], "release_seats_when_inactive": true, "default_seat_limit": 3, "scim_products": []}),
            "{}",
            app.engine
        );
        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &token)
            .json(&json!({"auto_signup": false}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "confirmation_required").await;
        assert_eq!(app.get_ok("/api/v1/org/settings", &token).await["auto_signup"], true, "{}: unchanged", app.engine);

        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &token)
            .json(&json!({"auto_signup": false, "confirm": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["auto_signup"], false);
        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &token)
            .json(&json!({"allowed_signup_domains": ["Demo.Example", "@corp.example"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(domains(&r.json::<Value>().await.unwrap()), ["corp.example", "demo.example"], "{}", app.engine);
        let events = app.get_ok("/api/v1/audit?action=settings.updated", &token).await;
        assert_eq!(events["items"].as_array().unwrap().len(), 2, "{}: audited", app.engine);

        let other = other_org(&app, "other").await;
        assert_eq!(app.get_ok("/api/v1/org/settings", &other).await["auto_signup"], true, "{}", app.engine);

        let (standard, _) = member(&app, "demo", "standard@demo.example", "standard").await;
        assert_eq!(app.get_ok("/api/v1/org/settings", &standard).await["auto_signup"], false, "members may read");
        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &standard)
            .json(&json!({"auto_signup": true}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        for (body, status, field) in [
            (json!({"allowed_signup_domains": ["not a domain"]}), 422, "allowed_signup_domains[0]"),
            (json!({"default_seat_limit": 1000}), 400, "default_seat_limit"),
            (json!({"auto_signup": "yes"}), 400, "auto_signup"),
        ] {
            let r = app.authed(Method::PATCH, "/api/v1/org/settings", &token).json(&body).send().await.unwrap();
            let problem = assert_problem(r, StatusCode::from_u16(status).unwrap(), "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], field, "{}: {body}", app.engine);
        }
        let settings = app.get_ok("/api/v1/org/settings", &token).await;
        assert_eq!(domains(&settings), ["corp.example", "demo.example"], "{}: unchanged", app.engine);
        assert_eq!(settings["default_seat_limit"], 3);
        app.finish().await;
    }
}
