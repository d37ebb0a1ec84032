//! Roster's web console (SPEC §12): server-rendered pages at the site's root, beside the REST
//! API, calling the same use cases of [`roster_domain::Services`].
//!
//! A page handler reads its form or query, calls use cases, and renders a template (askama,
//! checked at compile time) from a view model built of their results. No rule, permission check
//! or session step is made here: sign-in, sessions, throttling and authority are the domain's
//! (`Services::log_in`, `Services::authenticate`), exactly as for the REST API. What the console
//! owns is how a person sees and sends things:
//!
//! - [`session`]: the [`session::Console`] extractor — the signed-in member from the session
//!   cookie, or a redirect to `/login` that brings the person back where they were;
//! - [`forgery`]: cross-site request forgery defence for every form (same origin, and a form
//!   token tied to the session);
//! - [`page`]: rendering, the chrome every signed-in page shares, and rule refusals as
//!   sentences beside the control that caused them (with the API's `code` in `data-code`);
//! - [`pages`]: one module per page;
//! - [`assets`]: the stylesheet and the script, compiled into the binary (no CDN, no build step).
//!
//! Every page works as plain links and forms; the script only adds conveniences (disclosure
//! panels, submitting the page-size choice). Pages answer with a Content-Security-Policy that
//! allows no inline script or style (`docs/decisions/0038-the-console.md`).

pub mod assets;
pub mod forgery;
pub mod page;
pub mod pages;
pub mod session;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use roster_adapters_http::AppState;

/// The console's Content-Security-Policy: everything from this origin, nothing inline, no
/// framing, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every console route, to be mounted at the site's root beside `/api/v1`
/// (`roster_adapters_http::router_with`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::auth::login_page).post(pages::auth::login))
        .route("/logout", post(pages::auth::logout))
        .route("/forgot-password", get(pages::auth::forgot_page).post(pages::auth::forgot))
        .route("/reset-password", get(pages::auth::reset_page).post(pages::auth::reset))
        .route("/accept-invite", get(pages::auth::accept_page).post(pages::auth::accept))
        .route("/verify-email", get(pages::auth::verify_page).post(pages::auth::verify))
        .route("/users", get(pages::users::users_page))
        .route("/users/actions", get(pages::actions::open).post(pages::actions::post))
        .route("/users/jobs/{id}", get(pages::actions::job))
        .route("/users/crm", get(pages::crm::open).post(pages::crm::post))
        .route("/users/invite", get(pages::invite::open).post(pages::invite::post))
        .route("/users/views", post(pages::users::save_view))
        .route("/users/{id}", get(pages::drawer::open).post(pages::drawer::save))
        .route("/users/{id}/licenses", post(pages::drawer::licenses))
        .route("/users/{id}/roles", post(pages::drawer::roles))
        .route("/users/{id}/teams", post(pages::drawer::teams))
        .route("/users/{id}/scheduled", post(pages::drawer::schedule))
        .route("/users/{id}/scheduled/{change}/cancel", post(pages::drawer::cancel_scheduled))
        .route("/users/{id}/deactivate", get(pages::drawer::confirm).post(pages::drawer::deactivate))
        .route("/users/{id}/reactivate", post(pages::drawer::reactivate))
        .route("/users/{id}/delete", get(pages::drawer::confirm_delete).post(pages::drawer::delete))
        .route("/users/{id}/restore", post(pages::drawer::restore))
        .route("/users/{id}/impersonate", post(pages::impersonation::start))
        .route("/impersonation/end", post(pages::impersonation::end))
        .route("/users/views/{id}/delete", post(pages::users::delete_view))
        .route("/groups", get(pages::later::groups))
        .route("/connections", get(pages::later::connections))
        .route("/licenses", get(pages::later::licenses))
        .route("/audit", get(pages::later::audit))
        .route("/settings", get(pages::later::settings))
        .route("/assets/{name}", get(assets::serve))
        .layer(axum::middleware::from_fn(page_headers))
}

/// The headers of every console answer: the CSP, no framing, no referrer leaving the site
/// (a reset or invite token is in the page's URL).
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
