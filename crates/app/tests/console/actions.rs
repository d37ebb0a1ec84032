//! The Actions menu (SPEC §12, §10): users selected on the page, or all the users the filter
//! matches; an action previewed (outcomes and seat changes, nothing written), then applied.

use fantoccini::Locator;
use fantoccini::elements::Element;

use crate::browser::Browser;
use crate::helpers::{TestApp, apps};
use crate::support::{seed_users, sign_in};

/// The checkbox or radio labelled `label` in the dialog's group `legend`.
async fn choice(browser: &Browser, legend: &str, label: &str) -> Element {
    let xpath =
        format!("//dialog//fieldset[legend[normalize-space()='{legend}']]//label[normalize-space()='{label}']/input");
    let started = std::time::Instant::now();
    loop {
        if let Ok(e) = browser.client.find(Locator::XPath(&xpath)).await {
            return e;
        }
        assert!(started.elapsed().as_secs() < 30, "no {label} in {legend}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The heading of the outcomes ("Preview: 2 will change, 0 refused"), once shown.
async fn wait_outcome_heading(browser: &Browser, expected: &str) {
    let started = std::time::Instant::now();
    loop {
        let text = match browser.client.find(Locator::Css(".outcomes h3")).await {
            Ok(h) => h.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text == expected {
            return;
        }
        assert!(started.elapsed().as_secs() < 30, "the outcomes say {text:?}, not {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn core_seats_used(app: &TestApp) -> u64 {
    let token = app.login().await;
    let list = app.get_ok("/api/v1/licenses", &token).await;
    list["items"].as_array().unwrap().iter().find(|s| s["product"] == "core").unwrap()["seats_used"].as_u64().unwrap()
}

#[tokio::test]
async fn an_admin_previews_then_applies_an_action_to_selected_and_to_all_matching_users() {
    for app in apps("console_actions").await {
        let token = app.login().await;
        seed_users(&app, &token, 12).await;
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;

        // Two users of the page, a license each: previewed, then applied.
        browser.click("checkbox", "Select Person 001").await;
        browser.click("checkbox", "Select Person 002").await;
        browser.click("button", "Actions").await;
        browser.by_role("heading", "Actions").await;
        browser.assert_accessible("the Actions dialog").await;
        choice(&browser, "Action", "Assign licenses").await.click().await.unwrap();
        choice(&browser, "Licenses", "Core").await.click().await.unwrap();
        browser.click("button", "Preview").await;
        wait_outcome_heading(&browser, "Preview: 2 will change, 0 refused").await;
        let seats = browser.client.find(Locator::Css(".seat-changes li")).await.unwrap().text().await.unwrap();
        assert_eq!(seats, "core: 3 of 3 seats available → 1 of 3", "{}", app.engine);
        assert_eq!(core_seats_used(&app).await, 0, "{}: a preview changes nothing", app.engine);
        browser.assert_accessible("the Actions dialog with a preview").await;
        browser.click("button", "Apply").await;
        wait_outcome_heading(&browser, "Applied: 2 changed, 0 refused").await;
        assert_eq!(core_seats_used(&app).await, 2);

        // Every user the filter matches (13): one seat is left, so the preview refuses the
        // others for seats, in words.
        browser.goto(&format!("{}/users", app.base)).await;
        browser.click("checkbox", "Select all 13 matching").await;
        browser.click("button", "Actions").await;
        browser.by_role("heading", "Actions").await;
        choice(&browser, "Action", "Assign licenses").await.click().await.unwrap();
        choice(&browser, "Licenses", "Core").await.click().await.unwrap();
        browser.click("button", "Preview").await;
        wait_outcome_heading(&browser, "Preview: 3 will change, 10 refused").await;
        browser.wait_for_refusal("seat_limit_reached").await;

        // A setting for all of them, applied after its preview.
        choice(&browser, "Action", "Update flow settings").await.click().await.unwrap();
        choice(&browser, "Setting", "Off").await.click().await.unwrap();
        browser.click("button", "Preview").await;
        wait_outcome_heading(&browser, "Preview: 13 will change, 0 refused").await;
        browser.click("button", "Apply").await;
        wait_outcome_heading(&browser, "Applied: 13 changed, 0 refused").await;
        let list = app.get_ok("/api/v1/users?limit=50", &token).await;
        let flows: Vec<bool> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["settings"]["flow_enabled"].as_bool().unwrap())
            .collect();
        assert_eq!(flows, vec![false; 13], "{}", app.engine);
        browser.close().await;
        app.finish().await;
    }
}
