//! The console's HTTP rules (SPEC §12), on the wire: the Content-Security-Policy, the session
//! cookie's attributes, forgery refused (another site's form, a form without its token), an
//! ended session sent to sign in, and one organization never shown another's members.

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode, header};
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps};
use crate::tenants::other_org;

pub(crate) fn client() -> Client {
    Client::builder().cookie_store(true).redirect(Policy::none()).build().expect("a client")
}

/// Signs in through the console's form; the client keeps the cookie. The `Set-Cookie` value.
pub(crate) async fn form_sign_in(app: &TestApp, client: &Client, org: &str, email: &str) -> String {
    let r = client
        .post(format!("{}/login", app.base))
        .header("sec-fetch-site", "same-origin")
        .form(&[("org", org), ("email", email), ("password", ADMIN_PASSWORD), ("next", "")])
        .send()
        .await
        .expect("sends");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}: signing in", app.engine);
    assert_eq!(r.headers()[header::LOCATION], "/users");
    r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned()
}

/// The form token of the Users page (every form of it carries the same).
async fn form_token(app: &TestApp, client: &Client) -> String {
    let html = client.get(format!("{}/users", app.base)).send().await.unwrap().text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn pages_carry_a_strict_policy_and_the_cookie_is_http_only_and_same_site_strict() {
    for app in apps("console_headers").await {
        let client = client();
        let r = client.get(format!("{}/login", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"), "{csp}");
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style");

        let cookie = form_sign_in(&app, &client, "demo", ADMIN_EMAIL).await;
        assert!(cookie.starts_with("roster_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(!cookie.contains("Secure"), "the test server's public URL is http");
        let r = client.get(format!("{}/users", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store", "a page with members' data is not cached");
        for asset in ["/assets/console.css", "/assets/console.js"] {
            let r = client.get(format!("{}{asset}", app.base)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{asset}");
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn a_form_from_another_site_or_without_its_token_is_refused_and_changes_nothing() {
    for app in apps("console_forgery").await {
        let client = client();
        // Another site's sign-in form: refused, no session.
        let r = client
            .post(format!("{}/login", app.base))
            .header("sec-fetch-site", "cross-site")
            .form(&[("org", "demo"), ("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", app.engine);
        assert!(r.headers().get(header::SET_COOKIE).is_none());
        let r = client
            .post(format!("{}/login", app.base))
            .header(header::ORIGIN, "https://evil.example")
            .form(&[("org", "demo"), ("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        form_sign_in(&app, &client, "demo", ADMIN_EMAIL).await;
        let token = form_token(&app, &client).await;
        let save = |csrf: &str, site: &'static str| {
            client
                .post(format!("{}/users/views", app.base))
                .header("sec-fetch-site", site)
                .form(&[("name", "Forged"), ("view", "role=admin"), ("csrf", csrf)])
                .send()
        };
        let r = save("", "same-origin").await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}: no token", app.engine);
        let r = save("0000", "same-origin").await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "a wrong token");
        let r = save(&token, "cross-site").await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "the right token from another site");
        let api = app.login().await;
        assert_eq!(app.get_ok("/api/v1/saved-views", &api).await["items"], json!([]), "nothing was saved");
        // The same form from the page itself is taken.
        let r = save(&token, "same-origin").await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.get_ok("/api/v1/saved-views", &api).await["items"][0]["name"], "Forged");
        app.finish().await;
    }
}

#[tokio::test]
async fn an_ended_session_is_sent_to_sign_in_with_the_way_back() {
    for app in apps("console_session_end").await {
        let client = client();
        let r = client
            .get(format!("{}/users?sort=email", app.base))
            .header(header::COOKIE, "roster_session=not-a-session")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", app.engine);
        assert_eq!(r.headers()[header::LOCATION], "/login?next=%2Fusers%3Fsort%3Demail&expired=1");
        let cleared = r.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cleared.starts_with("roster_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
        // Without any cookie: to sign in, nothing to clear.
        let r = Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
            .get(format!("{}/users", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()[header::LOCATION], "/login?next=%2Fusers");
        // A return path to another site is not followed.
        let r = client.get(format!("{}/login?next=//evil.example/x", app.base)).send().await.unwrap();
        assert!(!r.text().await.unwrap().contains("evil.example"));
        app.finish().await;
    }
}

#[tokio::test]
async fn the_console_shows_an_organization_only_its_own_members() {
    for app in apps("console_isolation").await {
        other_org(&app, "other").await;
        let demo = client();
        form_sign_in(&app, &demo, "demo", ADMIN_EMAIL).await;
        let html = demo.get(format!("{}/users", app.base)).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(ADMIN_EMAIL) && !html.contains("boss@other.example"), "{}", app.engine);
        // A view of demo's admin, which the other organization's admin cannot delete.
        let token = form_token(&app, &demo).await;
        let r = demo
            .post(format!("{}/users/views", app.base))
            .header("sec-fetch-site", "same-origin")
            .form(&[("name", "Mine"), ("view", ""), ("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let api = app.login().await;
        let view_id = app.get_ok("/api/v1/saved-views", &api).await["items"][0]["id"].as_str().unwrap().to_owned();

        let other = client();
        form_sign_in(&app, &other, "other", "boss@other.example").await;
        let html = other.get(format!("{}/users", app.base)).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("boss@other.example") && !html.contains(ADMIN_EMAIL), "{}", app.engine);
        assert!(!html.contains("Mine"), "another admin's views are not listed");
        let token = form_token(&app, &other).await;
        let r = other
            .post(format!("{}/users/views/{view_id}/delete", app.base))
            .header("sec-fetch-site", "same-origin")
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get_ok("/api/v1/saved-views", &api).await["items"].as_array().unwrap().len(), 1);
        app.finish().await;
    }
}

#[tokio::test]
async fn another_organizations_member_is_not_found_by_any_console_route_and_nothing_changes() {
    for app in apps("console_isolation_routes").await {
        let demo_token = app.login().await;
        let target = app.create_user(&demo_token, "target@demo.example").await;
        let id = target["id"].as_str().unwrap().to_owned();
        let version = target["version"].as_u64().unwrap().to_string();
        other_org(&app, "other").await;
        let other = client();
        form_sign_in(&app, &other, "other", "boss@other.example").await;
        let token = form_token(&app, &other).await;
        let r = other.get(format!("{}/users/{id}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{}: the drawer", app.engine);
        let r = other.get(format!("{}/users/{id}/deactivate", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "the confirmation");
        let forms: [(&str, Vec<(&str, &str)>); 5] = [
            (
                "",
                vec![
                    ("first_name", "Hacked"),
                    ("last_name", "User"),
                    ("email", "target@demo.example"),
                    ("version", &version),
                ],
            ),
            ("/licenses", vec![("products", "core")]),
            ("/deactivate", vec![("version", &version)]),
            ("/reactivate", vec![("version", &version)]),
            ("/impersonate", vec![("reason", "curiosity")]),
        ];
        for (path, mut fields) in forms {
            fields.push(("csrf", token.as_str()));
            let r = other
                .post(format!("{}/users/{id}{path}", app.base))
                .header("sec-fetch-site", "same-origin")
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{}: POST /users/{{id}}{path}", app.engine);
        }
        // A bulk action naming the member: refused for them, nothing written.
        let r = other
            .post(format!("{}/users/actions", app.base))
            .header("sec-fetch-site", "same-origin")
            .form(&[
                ("csrf", token.as_str()),
                ("ids", id.as_str()),
                ("action", "set_flow_enabled"),
                ("switch", "off"),
                ("step", "apply"),
            ])
            .send()
            .await
            .unwrap();
        let html = r.text().await.unwrap();
        assert!(html.contains("data-code=\"not_found\""), "{}: {html}", app.engine);
        let after = app.get_ok(&format!("/api/v1/users/{id}"), &demo_token).await;
        assert_eq!(after["first_name"], "Test");
        assert_eq!(after["version"], target["version"], "{}: nothing changed", app.engine);
        assert_eq!(after["status"], target["status"]);
        assert_eq!(after["settings"]["flow_enabled"], target["settings"]["flow_enabled"]);
        app.finish().await;
    }
}
