//! The signed-in member of a console request.
//!
//! [`Console`] reads the session cookie and hands the token to `Services::authenticate`, as the
//! REST API's extractor does: the domain decides whether the session is live, slides it, and
//! resolves the [`Actor`]. A request without a live session is sent to `/login`, which brings
//! the person back to the page they asked for once signed in. A state-changing request must
//! come from this site ([`crate::forgery`]); [`SignedForm`] also checks its form token.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use roster_adapters_http::AppState;
use roster_adapters_http::auth::{cleared_cookie, session_token};
use roster_domain::ServiceError;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ports::Session;
use roster_domain::services::Authentication;

use crate::forgery;
use crate::page::{Fields, problem};

/// A request of a signed-in member.
#[derive(Debug, Clone)]
pub struct Console {
    pub actor: Actor,
    pub session: Session,
    /// The session's token, from the cookie (the form token derives from it).
    token: String,
    /// The member's full name, for the chrome.
    pub full_name: String,
}

impl Console {
    /// The form token of this session.
    pub fn form_token(&self) -> String {
        forgery::token_for(&self.token)
    }

    /// The session's token (for the parent cookie of an impersonation).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether an admin acts as this member ("log in as user").
    pub fn impersonating(&self) -> bool {
        self.actor.impersonator_id().is_some()
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let safe = matches!(parts.method, Method::GET | Method::HEAD);
        if !safe && !forgery::same_origin(&parts.headers) {
            return Err(forbidden_cross_site());
        }
        let Some(token) = session_token(&parts.headers) else {
            return Err(to_login(parts, state, false));
        };
        let authentication = match state.services.authenticate(&token, Source::Console).await {
            Ok(a) => a,
            Err(ServiceError::Unauthenticated) => return Err(to_login(parts, state, true)),
            Err(e) => return Err(problem(&e)),
        };
        let Authentication { actor, session: Some(session), name: full_name } = authentication else {
            return Err(to_login(parts, state, true));
        };
        Ok(Self { actor, session, token, full_name })
    }
}

/// A form posted by a signed-in member: the member, and the form's fields once its token was
/// checked.
#[derive(Debug)]
pub struct SignedForm {
    pub console: Console,
    pub fields: Fields,
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, state.config.body_limit)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response())?;
        let fields = Fields::parse(&bytes);
        let sent = fields.get(forgery::FORM_FIELD).unwrap_or_default();
        if !forgery::token_matches(&console.token, sent) {
            return Err(forbidden_cross_site());
        }
        Ok(Self { console, fields })
    }
}

/// The answer to a form that did not come from a page of this site.
fn forbidden_cross_site() -> Response {
    let page = crate::page::ProblemPage {
        title: "Not allowed".to_owned(),
        message: "This form did not come from a page of Roster, or the page is out of date. Go back, reload the page and try again.".to_owned(),
        code: "forbidden".to_owned(),
    };
    crate::page::render_with(StatusCode::FORBIDDEN, &page)
}

/// Sends the person to sign in, then back to where they were: the page asked for, or for a
/// form, the page the form was on.
fn to_login(parts: &Parts, state: &AppState, expired: bool) -> Response {
    let back = if matches!(parts.method, Method::GET | Method::HEAD) {
        parts.uri.path_and_query().map_or("/users", |p| p.as_str()).to_owned()
    } else {
        referer_path(parts).unwrap_or_else(|| "/users".to_owned())
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("next", &back);
    if expired {
        query.append_pair("expired", "1");
    }
    let mut response = Redirect::to(&format!("/login?{}", query.finish())).into_response();
    if expired && let Ok(v) = HeaderValue::from_str(&cleared_cookie(state)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// The path and query of the page a form was posted from, when it is a page of this site.
fn referer_path(parts: &Parts) -> Option<String> {
    let referer = parts.headers.get(header::REFERER)?.to_str().ok()?;
    let host = parts.headers.get(header::HOST)?.to_str().ok()?;
    let rest = referer.split_once("://")?.1;
    let path = rest.strip_prefix(host)?;
    local_path(path).map(str::to_owned)
}

/// `path` if it is a path of this site (`/users?page=2`), never another site (`//evil`,
/// `/\evil`) or a scheme.
pub fn local_path(path: &str) -> Option<&str> {
    let ok =
        path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") && !path.contains(['\r', '\n']);
    ok.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(local_path("/users?page=2"), Some("/users?page=2"));
        assert_eq!(local_path("//evil.example/x"), None);
        assert_eq!(local_path("/\\evil.example"), None);
        assert_eq!(local_path("https://evil.example"), None);
        assert_eq!(local_path("users"), None);
    }
}
