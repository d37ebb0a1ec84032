//! Headers that keep answers where they belong: no answer is sniffed into another content type,
//! and no answer that may hold private data or a credential is stored by a browser or a proxy.

use reqwest::header::{CACHE_CONTROL, HeaderMap};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps};

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The answer is neither sniffed nor stored.
fn assert_private(r: &Response, what: &str, engine: &str) {
    assert_eq!(header(r.headers(), "x-content-type-options"), Some("nosniff"), "{engine}: {what}");
    assert_eq!(header(r.headers(), "cache-control"), Some("no-store"), "{engine}: {what}");
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str) -> Response {
    app.authed(method, path, token).send().await.unwrap()
}

#[tokio::test]
async fn authenticated_answers_are_not_cached_or_sniffed() {
    for app in apps("security_headers").await {
        let engine = app.engine;
        // The answers that carry a token.
        let login = json!({"org": "demo", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        let r = app.request(Method::POST, "/api/v1/session").json(&login).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_private(&r, "POST /session", engine);
        let token = r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let r = app.request(Method::POST, "/api/v1/auth/login").json(&login).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_private(&r, "POST /auth/login", engine);
        let cookie = header(r.headers(), "set-cookie").unwrap().split(';').next().unwrap().to_owned();

        // Answers to authenticated requests: reads, refusals, by bearer and by cookie.
        for path in ["/api/v1/me", "/api/v1/users", "/api/v1/users/not-a-uuid", "/api/v1/users?status=sleeping"] {
            let r = send(&app, Method::GET, path, &token).await;
            assert_private(&r, path, engine);
        }
        let r = app.request(Method::GET, "/api/v1/me").header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_private(&r, "GET /me by cookie", engine);
        let r = send(&app, Method::GET, "/api/v1/users", "not-a-session").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_private(&r, "a bad token", engine);

        // A handler's own Cache-Control stays: the CSV export says no-store itself.
        let r = send(&app, Method::GET, "/api/v1/users/export.csv", &token).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers().get_all(CACHE_CONTROL).iter().count(), 1, "{engine}: one Cache-Control");
        assert_private(&r, "the CSV export", engine);

        // Anonymous reads of public documents may be cached, but are never sniffed.
        for path in ["/openapi.json", "/healthz", "/no-such-page"] {
            let r = app.request(Method::GET, path).send().await.unwrap();
            assert_eq!(header(r.headers(), "x-content-type-options"), Some("nosniff"), "{engine}: {path}");
            assert_eq!(header(r.headers(), "cache-control"), None, "{engine}: {path}");
        }
        app.finish().await;
    }
}
