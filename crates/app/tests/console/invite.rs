//! The Invite dialog (SPEC §12): three people invited with a Core license each, the seats left
//! going down as licenses are ticked; the fourth refused for seats, in words; auto sign-up
//! refusing invites; the dialog's focus and Escape.

use fantoccini::Locator;
use fantoccini::elements::Element;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{TestApp, apps};
use crate::support::sign_in;

/// The element at `xpath`, waiting while the next page loads.
async fn wait_xpath(browser: &Browser, xpath: &str) -> Element {
    let started = std::time::Instant::now();
    loop {
        if let Ok(e) = browser.client.find(Locator::XPath(xpath)).await {
            return e;
        }
        assert!(started.elapsed().as_secs() < 30, "nothing at {xpath}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The field of person `n` (from 1) whose input is named `field` (`name`, `email`).
async fn row_field(browser: &Browser, n: usize, field: &str) -> Element {
    wait_xpath(browser, &format!("//fieldset[legend[normalize-space()='Person {n}']]//input[@name='{field}']")).await
}

/// The checkbox labelled `label` of person `n`.
async fn row_box(browser: &Browser, n: usize, label: &str) -> Element {
    wait_xpath(
        browser,
        &format!("//fieldset[legend[normalize-space()='Person {n}']]//label[normalize-space()='{label}']/input"),
    )
    .await
}

/// The "n of m seats available" of `product` next to person `n`'s box.
async fn seats_left(browser: &Browser, n: usize, product: &str) -> String {
    let id = row_box(browser, n, product).await.attr("aria-describedby").await.unwrap().expect("described");
    browser.client.find(Locator::Id(&id)).await.unwrap().text().await.unwrap()
}

async fn fill_row(browser: &Browser, n: usize, name: &str, email: &str) {
    row_field(browser, n, "name").await.send_keys(name).await.unwrap();
    row_field(browser, n, "email").await.send_keys(email).await.unwrap();
    row_box(browser, n, "Standard").await.click().await.unwrap();
    row_box(browser, n, "Core").await.click().await.unwrap();
}

async fn outcomes(browser: &Browser) -> Vec<String> {
    // Read in one script, so a page that reloads meanwhile gives all or nothing.
    let script = "return Array.from(document.querySelectorAll('.outcomes li')).map(li => li.dataset.code || '');";
    match browser.client.execute(script, vec![]).await {
        Ok(v) => serde_json::from_value(v).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

async fn allow_invites(app: &TestApp) {
    let token = app.login().await;
    let r = app
        .authed(Method::PATCH, "/api/v1/org/settings", &token)
        .json(&json!({"auto_signup": false, "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_invites_three_people_watching_seats_go_down_and_the_fourth_is_refused() {
    for app in apps("console_invite").await {
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;

        // Auto sign-up is on in a new organization: the dialog says invites are off.
        browser.click("button", "Invite").await;
        browser.by_role("heading", "Invite members").await;
        assert_eq!(browser.focused_name().await, "Name", "{}: focus moves into the dialog", app.engine);
        fill_row(&browser, 1, "Ada Lovelace", "ada@demo.example").await;
        browser.click("button", "Send invites").await;
        browser.by_role("heading", "Invite members").await;
        browser.wait_for_refusal("auto_signup_enabled").await;
        // Escape closes the dialog and gives the focus back to the Invite button.
        browser.keys("\u{E00C}").await;
        browser.wait_for_path("/users").await;
        let started = std::time::Instant::now();
        while browser.focused_name().await != "Invite" {
            assert!(started.elapsed().as_secs() < 30, "focus is on {:?}", browser.focused_name().await);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        allow_invites(&app).await;

        browser.click("button", "Invite").await;
        browser.by_role("heading", "Invite members").await;
        assert_eq!(seats_left(&browser, 1, "Core").await, "3 of 3 seats available");
        browser.assert_accessible("the Invite dialog").await;
        fill_row(&browser, 1, "Ada Lovelace", "ada@demo.example").await;
        assert_eq!(seats_left(&browser, 1, "Core").await, "2 of 3 seats available", "{}", app.engine);
        browser.click("button", "Add another").await;
        row_field(&browser, 2, "name").await;
        fill_row(&browser, 2, "Grace Hopper", "grace@demo.example").await;
        browser.click("button", "Add another").await;
        row_field(&browser, 3, "name").await;
        assert_eq!(seats_left(&browser, 3, "Core").await, "1 of 3 seats available", "counted on the server too");
        fill_row(&browser, 3, "Alan Turing", "alan@demo.example").await;
        assert_eq!(seats_left(&browser, 3, "Core").await, "0 of 3 seats available");
        browser.click("button", "Send invites").await;
        let started = std::time::Instant::now();
        while outcomes(&browser).await.len() != 3 {
            assert!(started.elapsed().as_secs() < 30, "{}: {:?}", app.engine, outcomes(&browser).await);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(outcomes(&browser).await, ["created", "created", "created"]);
        assert_eq!(seats_left(&browser, 1, "Core").await, "0 of 3 seats available");
        browser.assert_accessible("the Invite dialog with outcomes").await;

        // The fourth person: refused for seats, in words, and kept in the dialog.
        fill_row(&browser, 1, "Edsger Dijkstra", "edsger@demo.example").await;
        browser.click("button", "Send invites").await;
        let started = std::time::Instant::now();
        while outcomes(&browser).await != ["seat_limit_reached"] {
            assert!(started.elapsed().as_secs() < 30, "{}: {:?}", app.engine, outcomes(&browser).await);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let words = browser.client.find(Locator::Css(".outcomes li")).await.unwrap().text().await.unwrap();
        assert!(words.contains("No core seat is left: all 3 are taken."), "{words}");
        assert_eq!(
            row_field(&browser, 1, "email").await.prop("value").await.unwrap().as_deref(),
            Some("edsger@demo.example")
        );

        // The three are in the Users table as invited.
        browser.goto(&format!("{}/users?status=invited", app.base)).await;
        let rows = browser.rows().await;
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, ["Grace Hopper", "Ada Lovelace", "Alan Turing"], "{}", app.engine);
        browser.close().await;
        app.finish().await;
    }
}

#[tokio::test]
async fn a_pasted_list_is_invited_with_one_outcome_per_entry() {
    for app in apps("console_invite_paste").await {
        allow_invites(&app).await;
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;
        browser.click("button", "Invite").await;
        browser.by_role("heading", "Invite members").await;
        browser.fill("Paste a list", "Ada Lovelace <ada@demo.example>, not-an-address\ngrace@demo.example").await;
        let roles = browser
            .client
            .find(Locator::XPath("//fieldset[legend='Roles for the list']//label[normalize-space()='Standard']/input"))
            .await
            .unwrap();
        roles.click().await.unwrap();
        let core = browser
            .client
            .find(Locator::XPath("//fieldset[legend='Licenses for the list']//label[normalize-space()='Core']/input"))
            .await
            .unwrap();
        core.click().await.unwrap();
        browser.click("button", "Invite the list").await;
        let started = std::time::Instant::now();
        while outcomes(&browser).await.len() != 3 {
            assert!(started.elapsed().as_secs() < 30, "{}: {:?}", app.engine, outcomes(&browser).await);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(outcomes(&browser).await, ["created", "invalid_format", "created"], "{}", app.engine);
        browser.close().await;
        app.finish().await;
    }
}
