//! The pages an email links to (SPEC §12): accepting an invite and signing in as the new
//! member; a forgotten password, end to end.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{ADMIN_EMAIL, apps};
use crate::support::{on_server, sign_in_as};

const NEW_PASSWORD: &str = "a brand new long password";

#[tokio::test]
async fn an_invited_person_follows_the_emailed_link_accepts_and_signs_in() {
    for app in apps("console_accept_invite").await {
        let token = app.login().await;
        let r = app
            .authed(Method::PATCH, "/api/v1/org/settings", &token)
            .json(&json!({"auto_signup": false, "confirm": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app
            .authed(Method::POST, "/api/v1/invites", &token)
            .json(&json!({"invites": [{"name": "Grace Hopper", "email": "grace@demo.example", "roles": ["admin"], "products": ["core"]}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let mail = app.mail().await;
        let invite = mail.iter().find(|m| m.to.contains("grace@demo.example")).expect("the invitation");
        let link = on_server(&app, "/accept-invite", &invite.token("/accept-invite"));

        let browser = Browser::open().await;
        browser.goto(&link).await;
        assert_eq!(browser.heading().await, "Accept your invitation");
        browser.assert_accessible("the accept-invite page").await;
        // Two different passwords are refused beside the confirmation.
        browser.fill("Password", NEW_PASSWORD).await;
        browser.fill("Confirm password", "something else entirely").await;
        browser.click("button", "Accept invitation").await;
        let refusals = browser.wait_for_refusal("mismatch").await;
        assert_eq!(refusals.len(), 1, "{}: {refusals:?}", app.engine);
        browser.assert_accessible("the accept-invite page with a refusal").await;
        browser.fill("Password", NEW_PASSWORD).await;
        browser.fill("Confirm password", NEW_PASSWORD).await;
        browser.click("button", "Accept invitation").await;
        // The sign-in page knows the organization and the address.
        browser.wait_for_heading("Sign in").await;
        let org = browser.by_role("textbox", "Organization").await;
        assert_eq!(org.prop("value").await.unwrap().as_deref(), Some("demo"));
        let email = browser.by_role("textbox", "Email").await;
        assert_eq!(email.prop("value").await.unwrap().as_deref(), Some("grace@demo.example"));
        browser.fill("Password", NEW_PASSWORD).await;
        browser.click("button", "Sign in").await;
        browser.wait_for_heading("Users").await;
        let me = browser.client.find(fantoccini::Locator::Css(".me")).await.unwrap().text().await.unwrap();
        assert_eq!(me, "Grace Hopper", "{}", app.engine);

        // The link works once.
        browser.click("button", "Sign out").await;
        browser.wait_for_heading("Sign in").await;
        browser.goto(&link).await;
        browser.fill("Password", NEW_PASSWORD).await;
        browser.fill("Confirm password", NEW_PASSWORD).await;
        browser.click("button", "Accept invitation").await;
        browser.wait_for_refusal("invalid_token").await;
        browser.close().await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_the_emailed_link() {
    for app in apps("console_forgot_password").await {
        let browser = Browser::open().await;
        browser.goto(&format!("{}/login", app.base)).await;
        browser.fill("Organization", "demo").await;
        browser.fill("Email", ADMIN_EMAIL).await;
        browser.click("link", "Forgot password?").await;
        browser.wait_for_heading("Forgot your password?").await;
        // What was typed on the sign-in page came along.
        let email = browser.by_role("textbox", "Email").await;
        assert_eq!(email.prop("value").await.unwrap().as_deref(), Some(ADMIN_EMAIL), "{}", app.engine);
        browser.assert_accessible("the forgot-password page").await;
        browser.click("button", "Send reset link").await;
        let started = std::time::Instant::now();
        while browser.client.find(fantoccini::Locator::Css("[role=status]")).await.is_err() {
            assert!(started.elapsed().as_secs() < 30, "no confirmation");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }

        let mail = app.mail().await;
        let reset = mail.iter().find(|m| m.to.contains(ADMIN_EMAIL)).expect("the reset mail");
        browser.goto(&on_server(&app, "/reset-password", &reset.token("/reset-password"))).await;
        assert_eq!(browser.heading().await, "Set a new password");
        browser.assert_accessible("the reset-password page").await;
        browser.fill("Password", "short").await;
        browser.fill("Confirm password", "short").await;
        browser.click("button", "Set password").await;
        browser.wait_for_refusal("too_short").await;
        browser.fill("Password", NEW_PASSWORD).await;
        browser.fill("Confirm password", NEW_PASSWORD).await;
        browser.click("button", "Set password").await;
        browser.wait_for_heading("Sign in").await;
        sign_in_as(&browser, &app, "demo", ADMIN_EMAIL, NEW_PASSWORD).await;
        browser.close().await;
        app.finish().await;
    }
}
