//! Cross-site request forgery (SPEC §12): every state-changing request of the console must come
//! from one of its own pages.
//!
//! Two checks, both required where they apply:
//! - **Same origin.** A browser says where a request comes from: `Sec-Fetch-Site` (every current
//!   browser) must be `same-origin` or `none` (typed by the person); without it, an `Origin`
//!   header must name this host. A request with neither comes from no browser, which carries no
//!   ambient cookie to abuse; the form token below still guards it.
//! - **Form token.** Every form of a signed-in page carries `csrf`, a value derived from the
//!   session token (which script cannot read: the cookie is `HttpOnly`), so a forged form cannot
//!   know it. Forms without a session (sign in, forgot password, accept an invite) change no
//!   signed-in state and rely on the origin check.
//!
//! With `SameSite=Strict` on the cookie, a cross-site request carries no session at all; these
//! checks hold even where that attribute is not honoured.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// The form field carrying the token.
pub const FORM_FIELD: &str = "csrf";

/// Whether the request's headers show it came from this site (or say nothing of where it
/// came from).
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

/// The form token of a session.
pub fn token_for(session_token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"roster console form token\0");
    hash.update(session_token.as_bytes());
    hex::encode(hash.finalize())
}

/// Whether `sent` is the form token of the session, compared in constant time.
pub fn token_matches(session_token: &str, sent: &str) -> bool {
    let expected = token_for(session_token);
    expected.len() == sent.len() && expected.bytes().zip(sent.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_request_from_another_site_is_refused() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "none")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")])));
        assert!(!same_origin(&headers(&[("origin", "null"), ("host", "127.0.0.1:8080")])));
        assert!(same_origin(&HeaderMap::new()));
    }

    #[test]
    fn the_form_token_belongs_to_its_session() {
        let token = token_for("session-a");
        assert!(token_matches("session-a", &token));
        assert!(!token_matches("session-b", &token));
        assert!(!token_matches("session-a", ""));
        assert!(!token_matches("session-a", &token[1..]));
    }
}
