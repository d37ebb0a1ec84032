//! Member invites over HTTP (SPEC §8.1, §10): invite → email in the outbox → accept with the
//! link's token; resend, revoke, seats per row, the auto sign-up rule, bulk paste, tokens that
//! must not work, bad input, tenancy, permissions and `Idempotency-Key`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{BODY_LIMIT, Options, TestApp, apps, apps_with, assert_problem};
use crate::tenants::{member, other_org};

const PASSWORD: &str = "a long enough password";

/// Turns auto sign-up off (it is on in a new organization, and refuses invites).
pub async fn allow_invites(app: &TestApp, token: &str) {
    let r = app
        .authed(Method::PATCH, "/api/v1/org/settings", token)
        .json(&json!({"auto_signup": false, "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
}

fn row(name: &str, email: &str, products: &[&str]) -> Value {
    json!({"name": name, "email": email, "roles": ["standard"], "products": products})
}

async fn invite(app: &TestApp, token: &str, rows: Vec<Value>) -> reqwest::Response {
    app.authed(Method::POST, "/api/v1/invites", token).json(&json!({"invites": rows})).send().await.unwrap()
}

/// `seats.before`/`seats.after` of `product`: (total, used, available).
fn seats(body: &Value, when: &str, product: &str) -> (u64, u64, u64) {
    let s = body["seats"][when].as_array().unwrap().iter().find(|s| s["product"] == product).expect("the product");
    (s["seats_total"].as_u64().unwrap(), s["seats_used"].as_u64().unwrap(), s["seats_available"].as_u64().unwrap())
}

async fn seats_used(app: &TestApp, token: &str, product: &str) -> u64 {
    let list = app.get_ok("/api/v1/licenses", token).await;
    list["items"].as_array().unwrap().iter().find(|s| s["product"] == product).unwrap()["seats_used"].as_u64().unwrap()
}

async fn accept(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/invites/accept")
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap()
}

fn statuses(results: &Value) -> Vec<&str> {
    results.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_admin_invites_three_people_who_get_an_email_and_one_accepts_with_its_link() {
    for app in apps("invite_journey").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let r = invite(
            &app,
            &token,
            vec![
                row("Ada Lovelace", "ada@example.com", &["core", "dialer"]),
                row("Grace Hopper", "grace@example.com", &["core"]),
                row("Alan Turing", "alan@example.com", &["core"]),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let body: Value = r.json().await.unwrap();
        assert_eq!(statuses(&body["results"]), ["created", "created", "created"], "{body}");
        assert_eq!(body["results"][0]["email"], "ada@example.com");
        assert!(body["results"].as_array().unwrap().iter().all(|r| r["invite_id"].is_string()));
        assert_eq!((seats(&body, "before", "core"), seats(&body, "after", "core")), ((3, 0, 3), (3, 3, 0)));
        assert_eq!(seats(&body, "after", "dialer"), (3, 1, 2));
        assert_eq!(body["applied"], true);

        // The Users table shows three invited users; the invite list shows the three invites.
        let invited = app.get_ok("/api/v1/users?status=invited&page=1&per_page=10", &token).await;
        assert_eq!(invited["total"], 3, "{}", app.engine);
        let list = app.get_ok("/api/v1/invites", &token).await;
        assert_eq!(list["total"], 3);
        let ada = list["items"].as_array().unwrap().iter().find(|i| i["email"] == "ada@example.com").unwrap().clone();
        assert_eq!((ada["first_name"].as_str(), ada["last_name"].as_str()), (Some("Ada"), Some("Lovelace")));
        assert_eq!(ada["products"], json!(["core", "dialer"]));

        // Three messages in the outbox, each with its accept link.
        let mail = app.mail().await;
        let to: Vec<&str> = mail.iter().map(|m| m.to.as_str()).collect();
        assert_eq!(to, ["ada@example.com", "alan@example.com", "grace@example.com"], "{}", app.engine);
        assert!(mail[0].subject.contains("invited you to Demo"), "{}", mail[0].subject);
        let link = mail[0].token("http://127.0.0.1:8080/accept-invite");

        let r = accept(&app, &link, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let accepted: Value = r.json().await.unwrap();
        assert_eq!(accepted["user_id"], ada["user_id"]);
        assert_eq!(accepted["products"], json!(["core", "dialer"]));

        // The reservations became licenses: the same seats used, the user holds them, and is
        // `pending` (holds Core, onboarding not complete).
        let user = app.get_ok(&format!("/api/v1/users/{}", ada["user_id"].as_str().unwrap()), &token).await;
        assert_eq!((user["status"].as_str(), user["invited"].as_bool()), (Some("pending"), Some(false)));
        assert_eq!(user["products"], json!(["core", "dialer"]));
        assert_eq!((seats_used(&app, &token, "core").await, seats_used(&app, &token, "dialer").await), (3, 1));
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 2);
        app.login_to("demo", "ada@example.com", PASSWORD).await;

        // The link works once.
        let r = accept(&app, &link, PASSWORD).await;
        assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;

        let audit = app.get_ok("/api/v1/audit?target_kind=invite&limit=200", &token).await;
        let actions: Vec<&str> =
            audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "invite.created").count(), 3, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| **a == "invite.accepted").count(), 1, "{actions:?}");
        app.finish().await;
    }
}

#[tokio::test]
async fn resending_sends_a_new_link_and_the_old_one_stops_working() {
    for app in apps("invite_resend").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let body: Value =
            invite(&app, &token, vec![row("Ada Lovelace", "ada@example.com", &["core"])]).await.json().await.unwrap();
        let id = body["results"][0]["invite_id"].as_str().unwrap().to_owned();
        let old = app.mail().await[0].token("/accept-invite");

        let r = app.authed(Method::POST, &format!("/api/v1/invites/{id}/resend"), &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let resent: Value = r.json().await.unwrap();
        assert_eq!((resent["id"].as_str(), resent["email"].as_str()), (Some(id.as_str()), Some("ada@example.com")));

        let mail = app.mail().await;
        assert_eq!(mail.len(), 2, "{}: a second message", app.engine);
        let new = mail[1].token("/accept-invite");
        assert_ne!(old, new);
        let r = accept(&app, &old, PASSWORD).await;
        assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;
        let r = accept(&app, &new, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        // An accepted invite can no longer be resent.
        let r = app.authed(Method::POST, &format!("/api/v1/invites/{id}/resend"), &token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        app.finish().await;
    }
}

#[tokio::test]
async fn revoking_releases_the_seats_removes_the_invited_user_and_kills_the_link() {
    for app in apps("invite_revoke").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let users = app.user_count(&token).await;
        let body: Value = invite(
            &app,
            &token,
            vec![
                row("Ada Lovelace", "ada@example.com", &["core", "dialer"]),
                row("Bob Stone", "bob@example.com", &["core"]),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
        let id = body["results"][0]["invite_id"].as_str().unwrap().to_owned();
        assert_eq!((seats_used(&app, &token, "core").await, seats_used(&app, &token, "dialer").await), (2, 1));
        let link = app.mail().await[0].token("/accept-invite");

        let r = app.authed(Method::DELETE, &format!("/api/v1/invites/{id}"), &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", app.engine);
        assert_eq!((seats_used(&app, &token, "core").await, seats_used(&app, &token, "dialer").await), (1, 0));
        assert_eq!(app.user_count(&token).await, users + 1, "{}: the invited user is gone", app.engine);
        let r = accept(&app, &link, PASSWORD).await;
        assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/invites/{id}"), &token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        // The address is free again.
        let r = invite(&app, &token, vec![row("Ada Lovelace", "ada@example.com", &["core"])]).await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(statuses(&body["results"]), ["created"], "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn rows_beyond_the_free_seats_and_taken_addresses_are_refused_one_by_one() {
    for app in apps("invite_seats").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        app.create_user(&token, "member@demo.example").await;
        // A dry run reports as a real request would and writes nothing.
        let r = app
            .authed(Method::POST, "/api/v1/invites", &token)
            .json(&json!({"invites": [row("Five Person", "five@example.com", &["core", "dialer"])], "dry_run": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!((statuses(&body["results"]), &body["applied"]), (vec!["created"], &json!(false)));
        assert_eq!(seats(&body, "after", "dialer"), (3, 1, 2));
        assert_eq!(seats_used(&app, &token, "dialer").await, 0);
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 0);

        let r = invite(
            &app,
            &token,
            vec![
                row("One Person", "one@example.com", &["core"]),
                row("Two Person", "two@example.com", &["core"]),
                row("Member Again", "member@demo.example", &["core"]),
                row("Three Person", "three@example.com", &["core"]),
                row("Four Person", "four@example.com", &["core"]),
                row("One Again", "ONE@example.com", &["core"]),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            statuses(&body["results"]),
            ["created", "created", "conflict", "created", "seat_limit_reached", "conflict"],
            "{}: {body}",
            app.engine
        );
        assert!(body["results"][4].get("invite_id").is_none());
        assert!(body["results"][4]["message"].as_str().unwrap().contains("3 of 3"), "{body}");
        assert_eq!((seats(&body, "before", "core"), seats(&body, "after", "core")), ((3, 0, 3), (3, 3, 0)));
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 3);
        assert_eq!(app.mail().await.len(), 3, "{}: one email per created row", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn invites_are_refused_while_auto_signup_is_on_and_nothing_is_sent() {
    for app in apps("invite_auto_signup").await {
        let token = app.login().await;
        let users = app.user_count(&token).await;
        let r = invite(&app, &token, vec![row("Ada Lovelace", "ada@example.com", &["core"])]).await;
        assert_problem(r, StatusCode::CONFLICT, "auto_signup_enabled").await;
        let r = app
            .authed(Method::POST, "/api/v1/invites/bulk", &token)
            .json(&json!({"text": "ada@example.com", "roles": ["standard"], "products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::CONFLICT, "auto_signup_enabled").await;
        assert_eq!(app.user_count(&token).await, users, "{}", app.engine);
        assert_eq!(seats_used(&app, &token, "core").await, 0);
        assert!(app.mail().await.is_empty(), "{}: no email", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_paste_reports_every_entry_and_never_loses_the_valid_ones() {
    for app in apps("invite_paste").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        app.create_user(&token, "member@demo.example").await;
        let text = "ada@example.com, Grace Hopper <grace@example.com>\nAlan Turing,alan@example.com\n\
                    not-an-address\nADA@example.com\nmember@demo.example\nkate@example.com\n\n";
        let r = app
            .authed(Method::POST, "/api/v1/invites/bulk", &token)
            .json(&json!({"text": text, "roles": ["standard"], "products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let body: Value = r.json().await.unwrap();
        let got: Vec<(&str, &str, Option<&str>)> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["entry"].as_str().unwrap(), r["status"].as_str().unwrap(), r["code"].as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("ada@example.com", "created", None),
                ("Grace Hopper <grace@example.com>", "created", None),
                ("Alan Turing,alan@example.com", "created", None),
                ("not-an-address", "invalid", None),
                ("ADA@example.com", "duplicate", None),
                ("member@demo.example", "duplicate", Some("conflict")),
                ("kate@example.com", "refused", Some("seat_limit_reached")),
            ],
            "{}",
            app.engine
        );
        assert_eq!(body["counts"], json!({"created": 3, "duplicate": 2, "invalid": 1, "refused": 1}));
        assert_eq!(seats(&body, "after", "core"), (3, 3, 0));
        let list = app.get_ok("/api/v1/invites", &token).await;
        let grace = list["items"].as_array().unwrap().iter().find(|i| i["email"] == "grace@example.com").unwrap();
        assert_eq!((grace["first_name"].as_str(), grace["last_name"].as_str()), (Some("Grace"), Some("Hopper")));
        assert_eq!(app.mail().await.len(), 3, "{}", app.engine);

        // A paste with nothing in it, or without roles or products, is refused whole.
        for (body, field) in [
            (json!({"text": " ,\n ", "roles": ["standard"], "products": ["core"]}), "text"),
            (json!({"text": "x@example.com", "roles": [], "products": ["core"]}), "roles"),
            (json!({"text": "x@example.com", "roles": ["standard"], "products": ["NOT A KEY"]}), "products[0]"),
        ] {
            let r = app.authed(Method::POST, "/api/v1/invites/bulk", &token).json(&body).send().await.unwrap();
            let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(p["errors"][0]["field"], field, "{p}");
        }
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 3);
        app.finish().await;
    }
}

/// Ten thousand pasted entries: most of them valid addresses (beyond the seats), some invalid,
/// some repeated.
fn ten_thousand_entries() -> String {
    let mut text = String::new();
    for i in 0..10_000 {
        match i % 100 {
            7 => text.push_str(&format!("broken-{i}\n")),
            8 => text.push_str("person0@example.com\n"),
            _ => text.push_str(&format!("person{i}@example.com\n")),
        }
    }
    text
}

#[tokio::test]
async fn a_ten_thousand_entry_paste_is_answered_entry_by_entry_within_the_default_body_limit() {
    // The server's default limit (1 MiB); the paste is some 220 KB.
    let options = Options { body_limit: 1024 * 1024, ..Options::default() };
    for app in apps_with("invite_paste_10k", &options).await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let users = app.user_count(&token).await;
        let started = std::time::Instant::now();
        let r = app
            .authed(Method::POST, "/api/v1/invites/bulk", &token)
            .json(&json!({"text": ten_thousand_entries(), "roles": ["standard"], "products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let body: Value = r.json().await.unwrap();
        eprintln!("{}: a 10,000-entry paste took {:?}", app.engine, started.elapsed());
        assert_eq!(body["results"].as_array().unwrap().len(), 10_000);
        assert_eq!(
            body["counts"],
            json!({"created": 3, "duplicate": 100, "invalid": 100, "refused": 9_797}),
            "{}",
            app.engine
        );
        assert_eq!(app.user_count(&token).await, users + 3);
        assert_eq!(app.mail().await.len(), 3, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_paste_larger_than_the_body_limit_is_refused_whole() {
    for app in apps("invite_paste_too_large").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let users = app.user_count(&token).await;
        let text = ten_thousand_entries();
        assert!(text.len() > BODY_LIMIT);
        let r = app
            .authed(Method::POST, "/api/v1/invites/bulk", &token)
            .json(&json!({"text": text, "roles": ["standard"], "products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        assert_eq!(app.user_count(&token).await, users, "{}", app.engine);
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 0);
        app.finish().await;
    }
}

#[tokio::test]
async fn bad_invite_bodies_are_refused_whole_naming_every_field_and_change_nothing() {
    for app in apps("invite_bad_input").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let users = app.user_count(&token).await;
        let post = |body: Value| app.authed(Method::POST, "/api/v1/invites", &token).json(&body).send();

        let r = post(json!({"invites": [
            row("Ada Lovelace", "ada@example.com", &["core"]),
            {"name": "Bad Address", "email": "ada@@example", "roles": ["standard"], "products": ["core"]},
            {"email": "nameless@example.com", "products": []},
            {"name": "", "email": "'; DROP TABLE users; --@x", "roles": ["NOT A KEY"], "products": ["core"]},
        ]}))
        .await
        .unwrap();
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<(&str, &str)> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
            .collect();
        assert_eq!(
            fields,
            [
                ("invites[1].email", "invalid_format"),
                ("invites[2].name", "required"),
                ("invites[2].roles", "required"),
                ("invites[3].name", "empty"),
                ("invites[3].email", "invalid_format"),
                ("invites[3].roles[0]", "invalid_format"),
            ],
            "{}: {p}",
            app.engine
        );
        // Empty lists are the domain's to refuse, also by field.
        let r = post(json!({"invites": [row("Ada Lovelace", "ada@example.com", &[])]})).await.unwrap();
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "invites[0].products");
        let r = post(json!({"invites": []})).await.unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r =
            post(json!({"invites": [row("Ada Lovelace", "ada@example.com", &["core"])], "admin": true})).await.unwrap();
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(
            (p["errors"][0]["field"].as_str(), p["errors"][0]["code"].as_str()),
            (Some("admin"), Some("unknown_field"))
        );
        let mut extra = row("Ada Lovelace", "ada@example.com", &["core"]);
        extra["phone"] = json!("+14155550100");
        let r = post(json!({"invites": [extra]})).await.unwrap();
        let p = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "invites[0].phone");
        let r = post(json!({"invites": "ada@example.com"})).await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        let r = post(json!({"invites": [row("Ada Lovelace", "ada@example.com", &["unknown_product"])]})).await.unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            statuses(&body["results"]),
            ["validation_failed"],
            "{}: an unknown product refuses its row",
            app.engine
        );

        assert_eq!(app.user_count(&token).await, users, "{}", app.engine);
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 0);
        assert_eq!(seats_used(&app, &token, "core").await, 0);
        assert!(app.mail().await.is_empty());
        app.finish().await;
    }
}

#[tokio::test]
async fn expired_used_forged_and_sign_up_tokens_cannot_accept_and_a_short_password_changes_nothing() {
    for app in apps("invite_tokens").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        invite(
            &app,
            &token,
            vec![row("Ada Lovelace", "ada@example.com", &["core"]), row("Bob Stone", "bob@example.com", &["core"])],
        )
        .await;
        let mail = app.mail().await;
        let (ada, bob) = (mail[0].token("/accept-invite"), mail[1].token("/accept-invite"));

        // A short password is refused before the token is spent.
        let r = accept(&app, &ada, "short").await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "password");
        let forged = format!("{}x", &ada[..ada.len() - 1]);
        for bad in [forged.as_str(), "", "not even base64 !"] {
            let r = accept(&app, bad, PASSWORD).await;
            assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;
        }
        let r = app
            .request(Method::POST, "/api/v1/invites/accept")
            .json(&json!({"token": ada, "password": PASSWORD, "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 2, "{}: nothing accepted", app.engine);
        assert_eq!(
            accept(&app, &ada, PASSWORD).await.status(),
            StatusCode::OK,
            "{}: the token still works",
            app.engine
        );

        // An invite whose week has passed (no API moves time: the row is aged in the database).
        app.execute_sql(
            "UPDATE invites SET expires_at = 0",
            "UPDATE invites SET expires_at = now() - interval '1 day'",
        )
        .await;
        let r = accept(&app, &bob, PASSWORD).await;
        assert_problem(r, StatusCode::BAD_REQUEST, "invalid_token").await;
        let list = app.get_ok("/api/v1/invites", &token).await;
        assert_eq!(list["total"], 1, "{}: still pending, to be resent", app.engine);
        let users = app.get_ok("/api/v1/users?status=invited&page=1&per_page=10", &token).await;
        assert_eq!(users["total"], 1);
        app.finish().await;
    }
}

#[tokio::test]
async fn invites_stay_in_their_organization_and_need_an_org_wide_user_manager() {
    for app in apps("invite_isolation").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let body: Value =
            invite(&app, &token, vec![row("Ada Lovelace", "ada@example.com", &["core"])]).await.json().await.unwrap();
        let id = body["results"][0]["invite_id"].as_str().unwrap().to_owned();

        let other = other_org(&app, "other").await;
        assert_eq!(app.get_ok("/api/v1/invites", &other).await["total"], 0, "{}", app.engine);
        let r = app.authed(Method::POST, &format!("/api/v1/invites/{id}/resend"), &other).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/invites/{id}"), &other).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        for path in ["/api/v1/invites/not-a-uuid", "/api/v1/invites/00000000-0000-0000-0000-000000000000"] {
            let r = app.authed(Method::DELETE, path, &token).send().await.unwrap();
            assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
        }

        let (standard, _) = member(&app, "demo", "standard@demo.example", "standard").await;
        let r = app.authed(Method::GET, "/api/v1/invites", &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = invite(&app, &standard, vec![row("Eve Intruder", "eve@example.com", &["core"])]).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app
            .authed(Method::POST, "/api/v1/invites/bulk", &standard)
            .json(&json!({"text": "eve@example.com", "roles": ["standard"], "products": ["core"]}))
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::POST, &format!("/api/v1/invites/{id}/resend"), &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.authed(Method::DELETE, &format!("/api/v1/invites/{id}"), &standard).send().await.unwrap();
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        // Inviting reserves seats: a user manager without `manage_licenses` cannot.
        let (lead, _) = member(&app, "demo", "lead@demo.example", "team_lead").await;
        let r = invite(&app, &lead, vec![row("Eve Intruder", "eve@example.com", &["core"])]).await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

        let r = app.request(Method::GET, "/api/v1/invites").send().await.unwrap();
        assert_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 1, "{}", app.engine);
        assert_eq!(app.mail().await.len(), 1, "{}: nothing resent", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_retried_invite_with_the_same_idempotency_key_invites_and_emails_once() {
    for app in apps("invite_idempotent").await {
        let token = app.login().await;
        allow_invites(&app, &token).await;
        let body = json!({"invites": [row("Ada Lovelace", "ada@example.com", &["core"])]});
        let send = |key: &'static str, path: &'static str, body: Value| {
            app.authed(Method::POST, path, &token).header("idempotency-key", key).json(&body).send()
        };
        let first = send("invite-1", "/api/v1/invites", body.clone()).await.unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        let first: Value = first.json().await.unwrap();
        let again = send("invite-1", "/api/v1/invites", body.clone()).await.unwrap();
        assert_eq!(
            (again.status(), again.headers()["idempotent-replayed"].to_str().unwrap()),
            (StatusCode::CREATED, "true")
        );
        assert_eq!(again.json::<Value>().await.unwrap(), first, "{}: the same answer", app.engine);

        let paste = json!({"text": "bob@example.com", "roles": ["standard"], "products": ["core"]});
        let pasted = send("paste-1", "/api/v1/invites/bulk", paste.clone()).await.unwrap();
        assert_eq!(pasted.status(), StatusCode::CREATED);
        let pasted: Value = pasted.json().await.unwrap();
        let again = send("paste-1", "/api/v1/invites/bulk", paste).await.unwrap();
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.unwrap(), pasted);

        let id = pasted["results"][0]["invite_id"].as_str().expect("an invite id").to_owned();
        let resend = |key: &'static str| {
            app.authed(Method::POST, &format!("/api/v1/invites/{id}/resend"), &token)
                .header("idempotency-key", key)
                .send()
        };
        assert_eq!(resend("resend-1").await.unwrap().status(), StatusCode::OK);
        assert_eq!(resend("resend-1").await.unwrap().headers()["idempotent-replayed"], "true");

        assert_eq!(app.get_ok("/api/v1/invites", &token).await["total"], 2, "{}", app.engine);
        assert_eq!(app.mail().await.len(), 3, "{}: two invitations and one resend", app.engine);
        app.finish().await;
    }
}
