//! The Users page's paging and totals on the wire: a page is found by cursor, a cursor the page
//! did not hand out is refused beside the table, and the total follows every change (it is kept
//! per organization only until the next event).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, apps};
use crate::security::{client, form_sign_in};
use crate::support::seed_users;

/// The page's "Showing …" line.
fn summary(html: &str) -> String {
    let start = html.find("Showing ").or_else(|| html.find("No user matches")).expect("a summary");
    html[start..].split('<').next().unwrap_or_default().trim().to_owned()
}

/// The `href` of the pager's link `label`, unescaped.
fn link(html: &str, label: &str) -> String {
    let at = html.find(&format!("aria-label=\"{label}\"")).expect("the link");
    let start = html[..at].rfind("href=\"").expect("its href") + "href=\"".len();
    html[start..].split('"').next().unwrap().replace("&amp;", "&").replace("&#38;", "&")
}

#[tokio::test]
async fn pages_follow_cursors_a_foreign_cursor_is_refused_and_the_total_follows_changes() {
    for app in apps("console_paging_wire").await {
        let token = app.login().await;
        seed_users(&app, &token, 12).await;
        let client = client();
        form_sign_in(&app, &client, "demo", ADMIN_EMAIL).await;
        let get = |path: String| {
            let client = client.clone();
            let base = app.base.clone();
            async move {
                let r = client.get(format!("{base}{path}")).send().await.expect("sends");
                (r.status(), r.text().await.expect("a body"))
            }
        };

        let (status, html) = get("/users?per_page=10".to_owned()).await;
        assert_eq!(status, StatusCode::OK, "{}", app.engine);
        assert_eq!(summary(&html), "Showing 1–10 of 13 users.", "{}", app.engine);
        let next = link(&html, "Next page");
        assert!(next.contains("after=") && next.contains("from=11"), "{}: {next}", app.engine);
        let (_, html) = get(next.clone()).await;
        assert_eq!(summary(&html), "Showing 11–13 of 13 users.", "{}", app.engine);
        let (_, last) = get(link(&html, "Last page")).await;
        assert_eq!(summary(&last), "Showing 11–13 of 13 users.", "{}: the last page of the grid", app.engine);

        // A cursor edited by hand, or made for another sort: refused beside the table, with the
        // first page of everyone.
        let foreign = format!("{next}&sort=-email");
        for bad in ["/users?after=not-a-cursor".to_owned(), foreign] {
            let (status, html) = get(bad.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {bad}", app.engine);
            assert!(html.contains("data-code=\"invalid_cursor\""), "{}: {bad}", app.engine);
            assert!(summary(&html).starts_with("Showing 1–"), "{}: {bad}", app.engine);
        }

        // The total is counted again once anything changed: a new member, then a deactivation
        // under the status filter.
        let r = app
            .authed(reqwest::Method::POST, "/api/v1/users", &token)
            .json(&json!({"email": "late@demo.example", "first_name": "Late", "last_name": "Comer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let late = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let (_, html) = get("/users?per_page=10".to_owned()).await;
        assert_eq!(summary(&html), "Showing 1–10 of 14 users.", "{}", app.engine);
        let (_, html) = get("/users?status=deactivated".to_owned()).await;
        assert_eq!(summary(&html), "No user matches.", "{}", app.engine);
        let r = app
            .authed(reqwest::Method::POST, &format!("/api/v1/users/{late}/deactivate"), &token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}: deactivates ({})", app.engine, r.status());
        let (_, html) = get("/users?status=deactivated".to_owned()).await;
        assert_eq!(summary(&html), "Showing 1 user.", "{}: the filtered total moved", app.engine);
        app.finish().await;
    }
}
