//! What the console's journeys share: signing in through the page, and seeding users.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

/// Signs in through the sign-in page as `email` of `org`, and waits for the Users page.
pub async fn sign_in_as(browser: &Browser, app: &TestApp, org: &str, email: &str, password: &str) {
    browser.goto(&format!("{}/login", app.base)).await;
    browser.fill("Organization", org).await;
    browser.fill("Email", email).await;
    browser.fill("Password", password).await;
    browser.click("button", "Sign in").await;
    browser.wait_for_heading("Users").await;
}

/// Signs in as the bootstrap admin of `demo`.
pub async fn sign_in(browser: &Browser, app: &TestApp) {
    sign_in_as(browser, app, "demo", ADMIN_EMAIL, ADMIN_PASSWORD).await;
}

/// Creates `n` users named `Person NNN` (`personNNN@demo.example`) through the API.
pub async fn seed_users(app: &TestApp, token: &str, n: usize) {
    for i in 0..n {
        let r = app
            .authed(Method::POST, "/api/v1/users", token)
            .json(&json!({
                "email": format!("person{i:03}@demo.example"),
                "first_name": "Person",
                "last_name": format!("{i:03}"),
                "agent_id": format!("agent-{i:03}"),
            }))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::CREATED, "{}: seeding user {i}", app.engine);
    }
}

/// A message's link to `path` with its `token` (as the message wrote it), on the test server:
/// mail links name the configured public URL.
pub fn on_server(app: &TestApp, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", app.base)
}
