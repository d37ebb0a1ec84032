//! Who is calling: the [`Authenticated`] extractor reads every request's credentials — a
//! session token (bearer header or the console's cookie) or an API key (`Authorization: Bearer
//! rk_…`) — and hands them to the domain's `Services::authenticate`, which resolves them into an
//! [`Actor`] (and slides the session). The organization always comes from the credentials,
//! never from the URL or the body.
//!
//! CSRF (`docs/decisions/0013-http-api-conventions.md`): the cookie is `HttpOnly;
//! SameSite=Strict`, and a cookie-authenticated request with an unsafe method must also carry
//! an `X-Requested-With` header, which a cross-site form cannot send and cross-origin script
//! cannot send without a CORS preflight that Roster never grants. Bearer-authenticated
//! requests carry no ambient credential and need no such header.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ports::Session;
use roster_domain::services::Authentication;

use crate::problem::ApiError;
use crate::state::AppState;

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "roster_session";

/// The header a cookie-authenticated write must carry (any value).
pub const CSRF_HEADER: &str = "x-requested-with";

/// An authenticated request: the actor and, for a session, the session itself.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    /// `None` for an API key.
    pub session: Option<Session>,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (token, via_cookie) = match bearer(&parts.headers) {
            Some(token) => (token, false),
            None => match cookie(&parts.headers, SESSION_COOKIE) {
                Some(token) => (token, true),
                None => return Err(ApiError::unauthenticated("send a bearer token or the session cookie")),
            },
        };
        if via_cookie && !is_safe(&parts.method) && !parts.headers.contains_key(CSRF_HEADER) {
            return Err(ApiError::forbidden(format!(
                "a cookie-authenticated {} needs the {CSRF_HEADER} header",
                parts.method
            )));
        }
        let source = if via_cookie { Source::Console } else { Source::Api };
        let Authentication { actor, session, .. } = state.services.authenticate(&token, source).await?;
        Ok(Self { actor, session })
    }
}

/// The `Set-Cookie` value carrying a session token to the console.
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let max_age = state.services.session_settings().ttl.whole_seconds();
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie(state: &AppState) -> String {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The session token of the console's cookie, if the request carries one.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// Whether a request carries credentials of any kind (an `Authorization` header or the session
/// cookie), valid or not: its answer is private.
pub fn carries_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || cookie(headers, SESSION_COOKIE).is_some()
}

/// The value of the cookie `name`, if the request carries it (and it is not empty).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn credentials_are_read_from_the_bearer_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; roster_session=xyz"));
        assert_eq!(bearer(&h).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
