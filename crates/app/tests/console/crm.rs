//! The Import from CRM dialog (SPEC §12, §8.3): search the directory, select people, choose
//! licenses and roles, preview, import; one outcome per person.

use fantoccini::Locator;

use crate::browser::Browser;
use crate::helpers::{Options, apps_with};
use crate::support::sign_in;

/// The sample CRM export (`examples/crm-users.csv`) in a folder of its own.
fn sample_csv() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("crm-users.csv");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/crm-users.csv");
    std::fs::copy(&sample, &path).expect("copies examples/crm-users.csv");
    (dir, path)
}

async fn outcome_codes(browser: &Browser) -> Vec<String> {
    let script = "return Array.from(document.querySelectorAll('.outcomes li')).map(li => li.dataset.code || '');";
    match browser.client.execute(script, vec![]).await {
        Ok(v) => serde_json::from_value(v).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

async fn wait_codes(browser: &Browser, expected: &[&str]) {
    let started = std::time::Instant::now();
    loop {
        let codes = outcome_codes(browser).await;
        if codes == expected {
            return;
        }
        assert!(started.elapsed().as_secs() < 30, "outcomes {codes:?}, not {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_admin_searches_the_crm_previews_and_imports_two_people() {
    let (_dir, csv) = sample_csv();
    let options = Options { crm: roster_adapters_crm::CrmChoice::Csv(csv.clone()), ..Options::default() };
    for app in apps_with("console_crm", &options).await {
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;
        browser.click("button", "Import from CRM").await;
        browser.by_role("heading", "Import from CRM").await;
        browser.assert_accessible("the Import from CRM dialog").await;

        browser.fill("Search the CRM", "hopper").await;
        browser.keys("\u{E007}").await;
        browser.click("checkbox", "Select Grace Hopper").await;
        // A second search keeps Grace selected.
        browser.fill("Search the CRM", "turing").await;
        browser.keys("\u{E007}").await;
        browser.click("checkbox", "Select Alan Turing").await;
        let core = browser
            .client
            .find(Locator::XPath("//dialog//fieldset[legend='Licenses']//label[normalize-space()='Core']/input"))
            .await
            .unwrap();
        core.click().await.unwrap();
        browser.click("button", "Preview").await;
        wait_codes(&browser, &["created", "created"]).await;
        let words = browser.client.find(Locator::Css(".outcomes li")).await.unwrap().text().await.unwrap();
        assert!(words.ends_with("Will be imported."), "{}: {words}", app.engine);
        browser.assert_accessible("the Import from CRM dialog with a preview").await;
        let token = app.login().await;
        assert_eq!(app.get_ok("/api/v1/users?status=invited&limit=10", &token).await["items"], serde_json::json!([]));

        browser.click("button", "Import").await;
        let started = std::time::Instant::now();
        loop {
            let heading = match browser.client.find(Locator::Css(".outcomes h3")).await {
                Ok(h) => h.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if heading == "What happened" {
                break;
            }
            assert!(started.elapsed().as_secs() < 30, "no outcome of the import");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        wait_codes(&browser, &["created", "created"]).await;
        let invited = app.get_ok("/api/v1/users?status=invited&limit=10&sort=email", &token).await;
        let emails: Vec<&str> =
            invited["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["alan.turing@example.com", "grace.hopper@example.com"], "{}", app.engine);
        browser.close().await;
        app.finish().await;
    }
}
