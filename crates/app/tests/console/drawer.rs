//! The edit drawer (SPEC §12): a member's profile saved, a license refused for its
//! prerequisite, the Active switch with its confirmation, and deactivating yourself refused
//! beside the switch.

use fantoccini::Locator;

use crate::browser::Browser;
use crate::helpers::apps;
use crate::support::{seed_users, sign_in};

async fn switch_state(browser: &Browser) -> String {
    browser.by_role("switch", "Active").await.attr("aria-checked").await.unwrap().unwrap_or_default()
}

#[tokio::test]
async fn an_admin_edits_a_member_and_deactivates_them_after_confirming_but_not_themself() {
    for app in apps("console_drawer").await {
        let token = app.login().await;
        seed_users(&app, &token, 3).await;
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;

        browser.click("link", "Person 001").await;
        browser.by_role("heading", "Edit Person 001").await;
        assert_eq!(browser.focused_name().await, "First name", "{}: focus moves into the drawer", app.engine);
        let title = browser.client.title().await.unwrap();
        assert_eq!(title, "Users · Roster", "{}: the window's title is the page's, dialog or not", app.engine);
        browser.assert_accessible("the edit drawer").await;

        // A profile change, saved.
        browser.fill("Agent ID", "agent-renamed").await;
        browser.click("button", "Save").await;
        let started = std::time::Instant::now();
        while browser.client.find(Locator::Css(".drawer [role=status]")).await.is_err() {
            assert!(started.elapsed().as_secs() < 30, "no confirmation of the save");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let agent = browser.by_role("textbox", "Agent ID").await;
        assert_eq!(agent.prop("value").await.unwrap().as_deref(), Some("agent-renamed"), "{}", app.engine);

        // A bad value is refused beside its field, and what was typed stays.
        browser.fill("Phone", "not a phone").await;
        browser.click("button", "Save").await;
        browser.wait_for_refusal("invalid_format").await;
        let phone = browser.by_role("textbox", "Phone").await;
        assert_eq!(phone.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
        assert_eq!(phone.prop("value").await.unwrap().as_deref(), Some("not a phone"));

        // Dialer requires Core: refused in words.
        browser.click("checkbox", "Dialer").await;
        browser.click("button", "Update licenses").await;
        browser.wait_for_refusal("missing_prerequisite").await;

        // The Active switch asks first; Deactivate turns it off.
        assert_eq!(switch_state(&browser).await, "true");
        browser.click("switch", "Active").await;
        browser.by_role("heading", "Deactivate Person 001?").await;
        browser.assert_accessible("the deactivation's confirmation").await;
        browser.click("button", "Deactivate").await;
        let started = std::time::Instant::now();
        while switch_state(&browser).await != "false" {
            assert!(started.elapsed().as_secs() < 30, "{}: still active", app.engine);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let api = app.login().await;
        let list = app.get_ok("/api/v1/users?status=deactivated", &api).await;
        assert_eq!(list["items"][0]["email"], "person001@demo.example", "{}", app.engine);

        // Deleting asks first too; the member leaves the table, and their drawer offers Restore.
        browser.goto(&format!("{}/users", app.base)).await;
        browser.click("link", "Person 002").await;
        browser.by_role("heading", "Edit Person 002").await;
        let drawer_url = browser.url().await;
        browser.click("button", "Delete").await;
        browser.by_role("heading", "Delete Person 002?").await;
        browser.assert_accessible("the deletion's confirmation").await;
        browser.click("button", "Delete").await;
        browser.by_role("heading", "Person 002 was deleted").await;
        browser.assert_accessible("a deleted member's drawer").await;
        assert!(
            !browser.rows().await.iter().any(|r| r[0] == "Person 002"),
            "{}: Person 002 is still listed behind the drawer",
            app.engine
        );
        let list = app.get_ok("/api/v1/users?q=person002", &api).await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{}: deleted", app.engine);

        // Someone took the address meanwhile: Restore is refused beside the button, in words.
        let taken = app.create_user(&api, "person002@demo.example").await;
        browser.click("button", "Restore").await;
        let refusals = browser.wait_for_refusal("conflict").await;
        assert!(
            refusals.iter().any(|(code, words)| code == "conflict" && words.to_lowercase().contains("email")),
            "{}: the refusal names the address: {refusals:?}",
            app.engine
        );
        let r = app
            .authed(
                reqwest::Method::DELETE,
                &format!("/api/v1/users/{}?confirm=true", taken["id"].as_str().unwrap()),
                &api,
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}: deleting the newcomer: {}", app.engine, r.status());

        // Once free, Restore brings the member back (from the drawer's own address, as a link or
        // the audit log opens it), without licenses or teams.
        browser.goto(drawer_url.as_str()).await;
        browser.by_role("heading", "Person 002 was deleted").await;
        browser.click("button", "Restore").await;
        browser.by_role("heading", "Edit Person 002").await;
        let notice = browser.client.find(Locator::Css(".drawer [role=status]")).await.unwrap().text().await.unwrap();
        assert!(notice.starts_with("Restored."), "{}: {notice}", app.engine);
        let list = app.get_ok("/api/v1/users?q=person002", &api).await;
        assert_eq!(list["items"][0]["products"], serde_json::json!([]), "{}", app.engine);

        // Deactivating yourself is refused beside the switch.
        browser.goto(&format!("{}/users", app.base)).await;
        browser.click("link", "Demo Admin").await;
        browser.by_role("heading", "Edit Demo Admin").await;
        browser.click("switch", "Active").await;
        browser.click("button", "Deactivate").await;
        browser.wait_for_refusal("self_deactivation").await;
        assert_eq!(switch_state(&browser).await, "true");
        browser.assert_accessible("the edit drawer with a refusal").await;

        // The only admin taking their own admin role away: refused beside the roles.
        let admin = browser
            .client
            .find(Locator::XPath("//dialog//fieldset[legend='Roles']//label[normalize-space()='Admin']/input"))
            .await
            .unwrap();
        admin.click().await.unwrap();
        let standard = browser
            .client
            .find(Locator::XPath("//dialog//fieldset[legend='Roles']//label[normalize-space()='Standard']/input"))
            .await
            .unwrap();
        standard.click().await.unwrap();
        browser.click("button", "Update roles").await;
        browser.wait_for_refusal("last_admin").await;
        let words = browser.refusals().await.into_iter().find(|r| r.0 == "last_admin").unwrap().1;
        assert_eq!(words, "The organization must keep at least one active admin.", "{}", app.engine);
        browser.close().await;
        app.finish().await;
    }
}
