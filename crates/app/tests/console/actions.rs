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

/// The heading of the outcomes once one is shown: `(verb, succeeded, refused)` of
/// "Preview: 1049 will change, 1 refused" / "Applied: 1049 changed, 1 refused".
async fn outcome_counts(browser: &Browser, verb: &str) -> (u64, u64) {
    let started = std::time::Instant::now();
    loop {
        let text = match browser.client.find(Locator::Css(".outcomes h3")).await {
            Ok(h) => h.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if let Some(rest) = text.strip_prefix(&format!("{verb}: ")) {
            let numbers: Vec<u64> = rest.split([' ', ',']).filter_map(|w| w.parse().ok()).collect();
            if let [ok, refused] = numbers[..] {
                return (ok, refused);
            }
        }
        assert!(started.elapsed().as_secs() < 300, "no {verb} outcomes: {text:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn over_a_thousand_users_an_action_runs_as_a_job_with_its_progress_then_can_be_applied() {
    use roster_app::demo_data::{DemoSpec, generate};
    use roster_app::worker::WorkerSettings;
    use roster_domain::values::{Password, Slug};

    use crate::helpers::{ADMIN_PASSWORD, Options, apps_with};
    use crate::support::sign_in_as;

    let worker = WorkerSettings { tick: std::time::Duration::from_millis(50), ..WorkerSettings::default() };
    for app in apps_with("console_job", &Options { worker, ..Options::default() }).await {
        let spec = DemoSpec {
            org: Slug::parse("big").unwrap(),
            users: 1_050,
            connections: 0,
            seed: 11,
            password: Password::parse(ADMIN_PASSWORD).unwrap(),
        };
        let report = generate(&app.services, &spec, &mut |_| {}).await.expect("generates the organization");
        let admin = report.accounts[0].email.clone();
        let token = app.login_to("big", &admin, ADMIN_PASSWORD).await;
        let total = app.user_count(&token).await;
        assert!(total > 1_000, "{}: {total} users", app.engine);
        let browser = Browser::open().await;
        sign_in_as(&browser, &app, "big", &admin, ADMIN_PASSWORD).await;

        browser.click("checkbox", &format!("Select all {total} matching")).await;
        browser.click("button", "Actions").await;
        browser.by_role("heading", "Actions").await;
        choice(&browser, "Action", "Update flow settings").await.click().await.unwrap();
        choice(&browser, "Setting", "Off").await.click().await.unwrap();
        browser.click("button", "Preview").await;

        // The preview is a job: its page shows the progress, then the outcomes and Apply.
        browser.wait_for_path_prefix("/users/jobs/").await;
        let progress = browser.by_role("progressbar", "Progress").await;
        assert_eq!(progress.attr("max").await.unwrap(), Some(total.to_string()), "{}", app.engine);
        let (ok, refused) = outcome_counts(&browser, "Preview").await;
        assert_eq!(ok + refused, total, "{}: one outcome per user", app.engine);
        let progress = browser.by_role("progressbar", "Progress").await;
        assert_eq!(progress.attr("value").await.unwrap(), Some(total.to_string()), "{}: all done", app.engine);
        browser.assert_accessible("a finished job's progress and outcomes").await;
        let flows_on = |list: serde_json::Value| {
            list["items"].as_array().unwrap().iter().filter(|u| u["settings"]["flow_enabled"] == true).count()
        };
        let before = flows_on(app.get_ok("/api/v1/users?limit=200", &token).await);
        assert!(before > 0, "{}: the generated members have Flow on", app.engine);

        browser.click("button", "Apply").await;
        let (applied_ok, applied_refused) = outcome_counts(&browser, "Applied").await;
        assert_eq!((applied_ok, applied_refused), (ok, refused), "{}: as the preview said", app.engine);
        assert!(browser.url().await.path().starts_with("/users/jobs/"), "{}", app.engine);
        let after = flows_on(app.get_ok("/api/v1/users?limit=200", &token).await);
        assert!(after < before, "{}: Flow turned off ({before} → {after} of the first 200)", app.engine);
        browser.close().await;
        app.finish().await;
    }
}
