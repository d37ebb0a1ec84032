//! Secrets at rest (ADR 0027): the outbox keeps a mailed token only until the message is sent,
//! and a connection's `user_token` is kept only as its hash. Read straight from the database,
//! since no API shows either.

use reqwest::{Method, StatusCode};
use roster_domain::invites::hash_token;
use serde_json::json;

use crate::helpers::apps;
use crate::invites::allow_invites;

#[tokio::test]
async fn mail_tokens_do_not_outlive_delivery() {
    for app in apps("mail_tokens_at_rest").await {
        let admin = app.login().await;
        allow_invites(&app, &admin).await;
        let rows = json!({"invites": [{"name": "Ada Lovelace", "email": "ada@example.com", "roles": ["standard"], "products": ["core"]}]});
        app.send_ok(Method::POST, "/api/v1/invites", &admin, &rows, StatusCode::CREATED).await;
        let mail = app.mail().await;
        let token =
            mail.iter().find(|m| m.to.contains("ada@example.com")).expect("the invitation").token("/accept-invite");

        let kept = app
            .query_texts(
                "SELECT state || ' ' || recipient || ' ' || message FROM outbox",
                "SELECT state || ' ' || recipient || ' ' || message::text FROM outbox",
            )
            .await;
        let ada: Vec<&String> = kept.iter().filter(|m| m.contains("ada@example.com")).collect();
        assert_eq!(ada.len(), 1, "{}: {kept:?}", app.engine);
        assert!(
            ada[0].starts_with("sent ") && ada[0].contains("invitation"),
            "{}: what was sent, to whom: {ada:?}",
            app.engine
        );
        assert!(kept.iter().all(|m| !m.contains(&token)), "{}: the token outlived delivery: {kept:?}", app.engine);

        // The link in the mail still works: the invite keeps the token's hash.
        let accept = json!({"token": token, "password": "a long enough password"});
        let r = app.request(Method::POST, "/api/v1/invites/accept").json(&accept).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn connection_tokens_are_stored_hashed() {
    for app in apps("connection_tokens_at_rest").await {
        let admin = app.login().await;
        let body = json!({"email": "carl@customer.example", "name": "Carl Client"});
        let created = app.send_ok(Method::POST, "/api/v1/connections", &admin, &body, StatusCode::CREATED).await;
        let token = created["user_token"].as_str().expect("the token, answered once").to_owned();
        assert!(token.len() >= 32, "{created}");

        let stored =
            app.query_texts("SELECT user_token_hash FROM connections", "SELECT user_token_hash FROM connections").await;
        assert_eq!(stored, [hash_token(&token)], "{}: only the token's hash is kept", app.engine);
        let id = created["id"].as_str().unwrap();
        let read = app.get_ok(&format!("/api/v1/connections/{id}"), &admin).await;
        assert!(!read.to_string().contains(&token) && read.get("user_token").is_none(), "{read}");
        app.finish().await;
    }
}
