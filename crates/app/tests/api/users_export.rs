//! `GET /users/export.csv` (SPEC §10): the current filter or the selected ids, as valid CSV,
//! with formula-like cells defused, scoped to the organization, permission-checked.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};
use crate::tenants::{member, other_org};

/// The export at `query`: header and rows, after checking it is a 200 CSV attachment.
async fn export(app: &TestApp, token: &str, query: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let r = app.authed(Method::GET, &format!("/api/v1/users/export.csv{query}"), token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}: {query}", app.engine);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"users.csv\"");
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("a header row").iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.expect("a valid CSV record").iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
}

#[tokio::test]
async fn the_export_holds_every_user_of_the_filter_quoted_and_defused() {
    for app in apps("users_export").await {
        let token = app.login().await;
        let r = app
            .authed(Method::POST, "/api/v1/users", &token)
            .json(&json!({
                "email": "formula@demo.example",
                "first_name": "=HYPERLINK(\"http://evil.example\",\"click\")",
                "last_name": "Comma, \"Quoted\"",
                "phone": "+14155550100",
                "nicknames": ["@boss", "-1+1"],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let tricky: Value = r.json().await.unwrap();
        for n in 0..7 {
            app.create_user(&token, &format!("row{n}@demo.example")).await;
        }

        let (header, rows) = export(&app, &token, "?sort=email").await;
        assert_eq!(header[..4], ["id", "email", "first_name", "last_name"]);
        assert_eq!(rows.len(), 9, "{}: seven users, the tricky one and the admin", app.engine);
        let email = column(&header, "email");
        let emails: Vec<&str> = rows.iter().map(|r| r[email].as_str()).collect();
        let mut sorted = emails.clone();
        sorted.sort_unstable();
        assert_eq!(emails, sorted, "{}: in the filter's sort", app.engine);
        let row = rows.iter().find(|r| r[0] == tricky["id"].as_str().unwrap()).expect("the tricky row");
        assert_eq!(row[column(&header, "first_name")], "'=HYPERLINK(\"http://evil.example\",\"click\")");
        assert_eq!(row[column(&header, "last_name")], "Comma, \"Quoted\"", "quoted, not defused");
        assert_eq!(row[column(&header, "phone")], "+14155550100", "a phone is a number, kept as is");
        assert_eq!(row[column(&header, "nicknames")], "'@boss; -1+1");
        assert_eq!(row[column(&header, "roles")], "standard");
        assert_eq!(row[column(&header, "deactivated")], "false");

        let (_, rows) = export(&app, &token, "?q=row3").await;
        assert_eq!(rows.len(), 1, "{}", app.engine);
        assert_eq!(rows[0][email], "row3@demo.example");
        let (_, rows) = export(&app, &token, "?role=admin").await;
        assert_eq!(rows.len(), 1, "{}: only the admin", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_export_larger_than_a_page_is_streamed_whole() {
    for app in apps("users_export_pages").await {
        let token = app.login().await;
        // More users than one export page (500), created through the services for speed.
        let organization =
            app.services.organization_by_slug(&roster_domain::values::Slug::parse("demo").unwrap()).await.unwrap();
        let operator = roster_domain::actor::Actor::system(organization.id, roster_domain::audit::Source::Cli);
        for n in 0..520 {
            let new = roster_domain::services::NewUser {
                email: roster_domain::values::Email::parse(&format!("bulk{n:04}@demo.example")).unwrap(),
                first_name: roster_domain::values::PersonName::parse("Bulk").unwrap(),
                last_name: roster_domain::values::PersonName::parse(&format!("User {n:04}")).unwrap(),
                phone: None,
                nicknames: roster_domain::values::Nicknames::default(),
                agent_id: None,
                crm_id: None,
                agent_ring_number: None,
                dialer_number: None,
                settings: roster_domain::services::SettingsPatch::default(),
                roles: Vec::new(),
                group_ids: Vec::new(),
                products: std::collections::BTreeSet::new(),
                password: None,
            };
            app.services.create_user(&operator, new).await.expect("creates");
        }
        let (header, rows) = export(&app, &token, "?sort=-email").await;
        assert_eq!(rows.len(), 521, "{}: every user once, across pages", app.engine);
        let email = column(&header, "email");
        let mut unique: Vec<&str> = rows.iter().map(|r| r[email].as_str()).collect();
        let in_order = unique.windows(2).all(|w| w[0] > w[1]);
        assert!(in_order, "{}: descending across the page boundary", app.engine);
        unique.dedup();
        assert_eq!(unique.len(), 521);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_export_of_selected_ids_holds_those_users_of_the_organization_only() {
    for app in apps("users_export_ids").await {
        let token = app.login().await;
        let a = app.create_user(&token, "picked-a@demo.example").await;
        let b = app.create_user(&token, "picked-b@demo.example").await;
        app.create_user(&token, "not-picked@demo.example").await;
        let other = other_org(&app, "other").await;
        let foreign = app.create_user(&other, "foreign@other.example").await;
        let ids = [&a, &b, &foreign].map(|u| u["id"].as_str().unwrap().to_owned());

        let (header, rows) = export(&app, &token, &format!("?ids={}", ids.join(","))).await;
        let email = column(&header, "email");
        let mut emails: Vec<&str> = rows.iter().map(|r| r[email].as_str()).collect();
        emails.sort_unstable();
        assert_eq!(emails, ["picked-a@demo.example", "picked-b@demo.example"], "{}", app.engine);

        // The other organization's admin sees only their own users, by filter or by ids.
        let (_, rows) = export(&app, &other, &format!("?ids={}", ids.join(","))).await;
        let emails: Vec<&str> = rows.iter().map(|r| r[email].as_str()).collect();
        assert_eq!(emails, ["foreign@other.example"], "{}", app.engine);
        let (_, rows) = export(&app, &other, "").await;
        assert!(rows.iter().all(|r| r[email].ends_with("@other.example")), "{}", app.engine);
        assert_eq!(rows.len(), 2, "{}: their admin and their user", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn exporting_users_needs_manage_users_and_export_data_and_sane_parameters() {
    for app in apps("users_export_refusals").await {
        let token = app.login().await;
        for role in ["standard", "analyst", "full_member", "read_only"] {
            let (member_token, _) = member(&app, "demo", &format!("{role}@demo.example"), role).await;
            let r = app.authed(Method::GET, "/api/v1/users/export.csv", &member_token).send().await.unwrap();
            assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
        let r = app.request(Method::GET, "/api/v1/users/export.csv").send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        for (query, field) in [
            ("ids=not-a-uuid", "ids[0]"),
            ("ids=", "ids"),
            ("ids=00000000-0000-0000-0000-000000000001&q=x", "ids"),
            ("sort=password", "sort"),
            ("status=happy", "status"),
            ("limit=10", "limit"),
            ("created_from=today", "created_from"),
        ] {
            let r = app.authed(Method::GET, &format!("/api/v1/users/export.csv?{query}"), &token).send().await.unwrap();
            let body = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
            assert_eq!(body["errors"][0]["field"], field, "{}: {query}: {body}", app.engine);
        }
        let r = app.authed(Method::GET, "/api/v1/users/export.csv?role=emperor", &token).send().await.unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        app.finish().await;
    }
}
