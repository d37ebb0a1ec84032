//! The Users page (SPEC §12): paging through 120 users, sorting by a header, searching,
//! filtering, the column chooser, saved views and reset to default — all kept in the URL.

use crate::browser::Browser;
use crate::helpers::apps;
use crate::support::{seed_users, sign_in};

/// The row headers (full names) of the table.
async fn names(browser: &Browser) -> Vec<String> {
    browser.rows().await.into_iter().map(|r| r[0].clone()).collect()
}

/// The `aria-sort` of the column whose header button is named `name`.
async fn sort_state(browser: &Browser, name: &str) -> String {
    let button = browser.by_role("button", name).await;
    let header = button.find(fantoccini::Locator::XPath("./ancestor::th")).await.expect("the button's header");
    header.attr("aria-sort").await.expect("reads").unwrap_or_default()
}

/// Waits until the page's address holds `part` in its query (the next page has loaded).
async fn wait_query(browser: &Browser, part: &str) {
    let started = std::time::Instant::now();
    while !browser.url().await.query().unwrap_or_default().contains(part) {
        assert!(started.elapsed().as_secs() < 30, "{} has no {part}", browser.url().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.by_role("heading", "Users").await;
}

/// The page's "Showing …" line, or nothing while a page loads.
async fn summary(browser: &Browser) -> String {
    match browser.client.find(fantoccini::Locator::Css(".summary")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the page says `expected` (the next page has loaded).
async fn wait_summary(browser: &Browser, expected: &str) {
    let started = std::time::Instant::now();
    loop {
        let now = summary(browser).await;
        if now == expected {
            return;
        }
        assert!(started.elapsed().as_secs() < 30, "the page says {now:?}, not {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_admin_pages_through_120_users_sorts_and_changes_the_page_size() {
    for app in apps("console_users_paging").await {
        let token = app.login().await;
        seed_users(&app, &token, 120).await;
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;
        browser.assert_accessible("the Users page").await;
        // 121 users: the admin and the 120; 25 a page by default, sorted by last name.
        wait_summary(&browser, "Showing 1–25 of 121 users.").await;
        assert_eq!(names(&browser).await[0], "Person 000");
        browser.click("link", "Next page").await;
        browser.wait_for_path("/users").await;
        wait_summary(&browser, "Showing 26–50 of 121 users.").await;
        assert_eq!(names(&browser).await[0], "Person 025");
        browser.click("link", "Last page").await;
        wait_summary(&browser, "Showing 101–121 of 121 users.").await;
        assert_eq!(names(&browser).await.len(), 21);
        let next = browser.by_role("link", "Next page").await;
        assert_eq!(next.attr("aria-disabled").await.unwrap().as_deref(), Some("true"));
        browser.click("link", "Previous page").await;
        wait_summary(&browser, "Showing 76–100 of 121 users.").await;
        assert_eq!(names(&browser).await[0], "Person 075");
        // Walking back by cursor meets the pages walked forward, down to the first.
        browser.click("link", "Previous page").await;
        wait_summary(&browser, "Showing 51–75 of 121 users.").await;
        assert_eq!(names(&browser).await[0], "Person 050");
        browser.click("link", "Previous page").await;
        wait_summary(&browser, "Showing 26–50 of 121 users.").await;
        browser.click("link", "Previous page").await;
        wait_summary(&browser, "Showing 1–25 of 121 users.").await;
        let previous = browser.by_role("link", "Previous page").await;
        assert_eq!(previous.attr("aria-disabled").await.unwrap().as_deref(), Some("true"));
        browser.click("link", "Last page").await;
        wait_summary(&browser, "Showing 101–121 of 121 users.").await;
        browser.click("link", "First page").await;
        wait_summary(&browser, "Showing 1–25 of 121 users.").await;

        // 50 rows a page: choosing the size shows the first page of 50.
        browser.click("link", "Next page").await;
        browser.choose("Rows per page", "50").await;
        browser.wait_for_path("/users").await;
        wait_summary(&browser, "Showing 1–50 of 121 users.").await;
        assert!(browser.url().await.query().unwrap_or_default().contains("per_page=50"));

        // Sorting by a header: Email, then Email again (descending); the header says so.
        browser.click("button", "Email").await;
        wait_query(&browser, "sort=email").await;
        assert_eq!(sort_state(&browser, "Email").await, "ascending", "{}", app.engine);
        assert_eq!(names(&browser).await[0], "Demo Admin", "admin@… sorts before person…");
        browser.click("button", "Email").await;
        wait_query(&browser, "sort=-email").await;
        assert_eq!(sort_state(&browser, "Email").await, "descending");
        assert_eq!(names(&browser).await[0], "Person 119");
        let query = browser.url().await.query().unwrap_or_default().to_owned();
        assert!(query.contains("sort=-email") && query.contains("per_page=50"), "{query}");
        browser.close().await;
        app.finish().await;
    }
}

#[tokio::test]
async fn an_admin_searches_filters_chooses_columns_saves_a_view_and_resets_it() {
    for app in apps("console_users_views").await {
        let token = app.login().await;
        seed_users(&app, &token, 30).await;
        let browser = Browser::open().await;
        sign_in(&browser, &app).await;

        // Search, from the page 2 of the table: the first page of what matches.
        browser.click("link", "Next page").await;
        browser.fill("Search", "agent-01").await;
        browser.keys("\u{E007}").await;
        browser.wait_for_path("/users").await;
        wait_summary(&browser, "Showing 1–10 of 10 users.").await;
        assert!(!browser.url().await.query().unwrap_or_default().contains("after="), "back to the first page");

        // A filter: admins only (the role), applied from the Filters panel.
        // The panel starts closed (no filter but the search is set) and the button opens it.
        let filters = browser.by_role("button", "Filters").await;
        assert_eq!(filters.attr("aria-expanded").await.unwrap().as_deref(), Some("false"), "{}", app.engine);
        let panel = browser.client.find(fantoccini::Locator::Id("filter-panel")).await.unwrap();
        assert!(!panel.is_displayed().await.unwrap(), "{}: the panel is closed", app.engine);
        browser.click("button", "Filters").await;
        assert_eq!(filters.attr("aria-expanded").await.unwrap().as_deref(), Some("true"));
        assert_eq!(browser.focused_name().await, "Active", "focus moves into the panel");
        browser.assert_accessible("the Users page with its filters open").await;
        browser.by_role("searchbox", "Search").await.click().await.unwrap();
        browser.fill("Search", "").await;
        browser.keys("\u{E007}").await;
        wait_summary(&browser, "Showing 1–25 of 31 users.").await;
        browser.click("button", "Filters").await;
        browser.choose("Role", "Admin").await;
        browser.click("button", "Apply filters").await;
        browser.wait_for_path("/users").await;
        wait_summary(&browser, "Showing 1 user.").await;
        assert_eq!(names(&browser).await, ["Demo Admin"]);
        assert!(browser.url().await.query().unwrap_or_default().contains("role=admin"));

        // Columns: add Agent ID, drop Teams.
        browser.click("button", "Columns").await;
        browser.click("checkbox", "Agent ID").await;
        browser.click("checkbox", "Teams").await;
        browser.click("button", "Apply columns").await;
        wait_query(&browser, "cols=").await;
        let headers = browser.column_headers().await;
        assert!(headers.contains(&"Agent ID".to_owned()) && !headers.contains(&"Teams".to_owned()), "{headers:?}");

        // Save the view, reset to default, then come back to the view by its link.
        browser.fill("View name", "Admins").await;
        browser.click("button", "Save view").await;
        browser.wait_for_path("/users").await;
        browser.by_role("link", "Admins").await;
        browser.click("button", "Reset to default").await;
        browser.wait_for_path("/users").await;
        wait_summary(&browser, "Showing 1–25 of 31 users.").await;
        assert!(browser.column_headers().await.contains(&"Teams".to_owned()));
        browser.click("link", "Admins").await;
        wait_summary(&browser, "Showing 1 user.").await;
        assert!(browser.column_headers().await.contains(&"Agent ID".to_owned()));

        // A second view of the same name is refused beside the name field.
        browser.fill("View name", "Admins").await;
        browser.click("button", "Save view").await;
        browser.wait_for_refusal("conflict").await;
        browser.assert_accessible("the Users page with a refusal").await;

        // The CSV download link carries the filter.
        let csv = browser.by_role("link", "Download CSV").await;
        let href = csv.attr("href").await.unwrap().unwrap_or_default();
        assert!(href.starts_with("/api/v1/users/export.csv?") && href.contains("role=admin"), "{href}");
        browser.close().await;
        app.finish().await;
    }
}
