//! "Log in as this user" and "Log back in as myself" (SPEC §10, §12): the drawer asks for a
//! reason and starts an impersonation (`Services::impersonate`, with the admin's session as its
//! parent, so ending that session ends this one); the console then carries the impersonating
//! session in the session cookie and the admin's own in `roster_parent`, and every page shows
//! the banner. Logging back ends the impersonating session (`Services::end_impersonation`) and
//! puts the admin's session back.
//!
//! The admin's token stays in an `HttpOnly; SameSite=Strict` cookie for at most the hour an
//! impersonation lasts: the server keeps sessions only hashed, so the browser is where it can
//! be kept without a second kind of credential.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use roster_adapters_http::AppState;
use roster_adapters_http::auth::{cookie, session_cookie};
use roster_domain::ServiceError;
use roster_domain::ids::UserId;
use roster_domain::values::Reason;

use super::drawer::DrawerForm;
use super::users::{Ask, Overlay, build};
use crate::page::{Fields, Refusal, Refusals, problem, sentence_case};
use crate::session::SignedForm;

/// The cookie holding the admin's own session while they impersonate.
pub const PARENT_COOKIE: &str = "roster_parent";

/// How long the parent cookie lasts: an impersonation ends within the hour.
const PARENT_MAX_AGE: u32 = 3600;

fn parent_cookie(state: &AppState, token: &str, max_age: u32) -> String {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!("{PARENT_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// `POST /users/{id}/impersonate`: starts acting as the member, with the reason given.
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Ok(user_id) = id.parse::<UserId>() else { return problem(&ServiceError::not_found("user")) };
    let refused = |refusal: Refusal| {
        let form = DrawerForm { user_id: Some(user_id), refusals: Refusals::one(refusal), ..DrawerForm::default() };
        let ask = Ask::read(&Fields::parse(uri.query().unwrap_or_default().as_bytes()));
        build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Drawer(form))
    };
    let reason = match Reason::parse(fields.text("reason").trim()) {
        Ok(r) => r,
        Err(e) => return refused(Refusal::new("reason", e.code(), sentence_case(&e.to_string()))).await,
    };
    let parent = console.session.token_hash.clone();
    match state.services.impersonate(&console.actor, Some(&parent), user_id, reason).await {
        Ok(started) => with_cookies(
            Redirect::to("/users").into_response(),
            &[session_cookie(&state, &started.token), parent_cookie(&state, console.token(), PARENT_MAX_AGE)],
        ),
        Err(e) => refused(Refusal::new("reason", e.code().as_str(), crate::page::in_words(&e))).await,
    }
}

/// `POST /impersonation/end`: "Log back in as myself".
pub async fn end(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedForm { console, .. }: SignedForm,
) -> Response {
    if let Err(e) = state.services.end_impersonation(&console.actor, Some(&console.session.token_hash)).await {
        return problem(&e);
    }
    let cleared = parent_cookie(&state, "", 0);
    match cookie(&headers, PARENT_COOKIE) {
        Some(parent) => {
            with_cookies(Redirect::to("/users").into_response(), &[session_cookie(&state, &parent), cleared])
        }
        None => with_cookies(
            Redirect::to("/login").into_response(),
            &[roster_adapters_http::auth::cleared_cookie(&state), cleared],
        ),
    }
}
