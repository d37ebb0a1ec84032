//! The console's pages, one module per page or family of pages.

pub mod actions;
pub mod auth;
pub mod crm;
pub mod drawer;
pub mod impersonation;
pub mod invite;
pub mod later;
pub mod users;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use roster_adapters_http::auth::session_token;

/// `GET /`: the Users page for a member with a session, sign-in otherwise. Whether the session
/// is live is the Users page's to find out (it sends an expired one to `/login`).
pub async fn home(headers: HeaderMap) -> Response {
    let to = if session_token(&headers).is_some() { "/users" } else { "/login" };
    Redirect::to(to).into_response()
}
