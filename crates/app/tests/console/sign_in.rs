//! Signing in and out (SPEC §12 `/login`), by keyboard and by mouse.

use crate::browser::Browser;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, apps};

#[tokio::test]
async fn an_admin_signs_in_with_the_keyboard_lands_on_users_and_signs_out() {
    for app in apps("console_sign_in").await {
        let browser = Browser::open().await;
        // The site's root sends a person without a session to sign in.
        browser.goto(&format!("{}/", app.base)).await;
        browser.wait_for_path("/login").await;
        assert_eq!(browser.heading().await, "Sign in");
        browser.by_role("link", "Forgot password?").await;
        browser.assert_accessible("the sign-in page").await;

        // A wrong password is refused in words, beside the form, with the API's code.
        browser.fill("Organization", "demo").await;
        browser.fill("Email", ADMIN_EMAIL).await;
        browser.fill("Password", "not the password at all").await;
        browser.click("button", "Sign in").await;
        let refusals = browser.wait_for_refusal("unauthenticated").await;
        assert_eq!(refusals.len(), 1, "{}: {refusals:?}", app.engine);
        assert_eq!(refusals[0].0, "unauthenticated");
        assert_eq!(refusals[0].1, "The organization, email or password is not right.");
        browser.assert_accessible("the sign-in page with a refusal").await;

        // Keyboard only: the fields keep what was typed but the password; Tab moves on, Enter
        // submits.
        let org = browser.by_role("textbox", "Organization").await;
        assert_eq!(org.prop("value").await.unwrap().as_deref(), Some("demo"));
        browser.by_role("textbox", "Password").await.click().await.expect("focuses the password");
        browser.keys(ADMIN_PASSWORD).await;
        browser.keys("\u{E004}").await;
        assert_eq!(browser.focused_name().await, "Sign in", "{}: Tab goes to the button", app.engine);
        browser.keys("\u{E007}").await;
        browser.wait_for_heading("Users").await;
        assert_eq!(browser.url().await.path(), "/users");
        browser.by_role("link", "Users").await;
        assert_eq!(browser.by_role("link", "Users").await.attr("aria-current").await.unwrap().as_deref(), Some("page"));

        // Signing out ends the session: the Users page sends to sign in again.
        browser.click("button", "Sign out").await;
        browser.wait_for_heading("Sign in").await;
        browser.goto(&format!("{}/users?page=2", app.base)).await;
        browser.wait_for_path("/login").await;
        let back = browser.url().await;
        assert_eq!(
            back.query_pairs().find(|(k, _)| k == "next").map(|(_, v)| v.into_owned()).as_deref(),
            Some("/users?page=2")
        );
        browser.close().await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_person_whose_session_ended_signs_in_and_comes_back_where_they_were() {
    for app in apps("console_session_return").await {
        let browser = Browser::open().await;
        browser.goto(&format!("{}/users?sort=-email&per_page=10", app.base)).await;
        browser.wait_for_path("/login").await;
        browser.fill("Organization", "demo").await;
        browser.fill("Email", ADMIN_EMAIL).await;
        browser.fill("Password", ADMIN_PASSWORD).await;
        browser.click("button", "Sign in").await;
        browser.wait_for_heading("Users").await;
        let url = browser.url().await;
        assert_eq!((url.path(), url.query()), ("/users", Some("sort=-email&per_page=10")), "{}", app.engine);
        // Each section of the navigation answers inside the console.
        for (link, heading) in [
            ("Groups", "Groups"),
            ("Connections", "Connections"),
            ("Licenses and billing", "Licenses and billing"),
            ("Audit log", "Audit log"),
            ("Settings", "Settings"),
        ] {
            browser.click("link", link).await;
            browser.wait_for_heading(heading).await;
        }
        browser.close().await;
        app.finish().await;
    }
}
