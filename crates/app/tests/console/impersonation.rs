//! "Log in as this user" and back (SPEC §10, §12): a reason is asked; while it lasts every page
//! says whose session it is; "Log back in as myself" returns to the admin's own session.

use fantoccini::Locator;

use crate::browser::Browser;
use crate::helpers::apps;
use crate::support::{seed_users, sign_in};

async fn me(browser: &Browser) -> String {
    let started = std::time::Instant::now();
    loop {
        if let Ok(e) = browser.client.find(Locator::Css(".me")).await
            && let Ok(text) = e.text().await
        {
            return text;
        }
        assert!(started.elapsed().as_secs() < 30, "no signed-in member shown");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_admin_logs_in_as_a_member_with_a_reason_and_back_as_themself() {
    for app in apps("console_impersonation").await {
        let token = app.login().await;
        seed_users(&app, &token, 2).await;
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;
        browser.click("link", "Person 001").await;
        browser.by_role("heading", "Edit Person 001").await;

        // No reason: refused beside the field.
        browser.click("button", "Log in as this user").await;
        browser.wait_for_refusal("empty").await;
        browser.fill("Reason", "checking their setup").await;
        browser.click("button", "Log in as this user").await;

        // Acting as the member: the banner on the page, which a standard member may not see.
        browser.by_role("button", "Log back in as myself").await;
        let banner = browser.client.find(Locator::Css(".banner p")).await.unwrap().text().await.unwrap();
        assert_eq!(banner, "You are logged in as Person 001", "{}", app.engine);
        assert_eq!(me(&browser).await, "Person 001");
        browser.wait_for_refusal("forbidden").await;
        browser.assert_accessible("a page while impersonating").await;
        browser.click("link", "Settings").await;
        browser.wait_for_heading("Settings").await;
        browser.by_role("button", "Log back in as myself").await;

        browser.click("button", "Log back in as myself").await;
        browser.wait_for_heading("Users").await;
        assert_eq!(me(&browser).await, "Demo Admin", "{}", app.engine);
        assert!(browser.find_by_role("button", "Log back in as myself").await.is_none());
        let audit = app.get_ok("/api/v1/audit?action=impersonation.started", &token).await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{}: {audit}", app.engine);
        browser.close().await;
        app.finish().await;
    }
}
