//! The routes, one module per resource (`session`, `users`, `service`, …). Each module adds
//! its routes to a [`RouteTable`], which builds the axum router *and* records every
//! `(method, path)` it serves, so a test can check the OpenAPI document against what is really
//! routed (`openapi::tests`). A new resource — `/scim`, the console — is a new module with a
//! `routes(table)` function, listed in [`table`], and its handlers listed in `openapi::ApiDoc`.
//!
//! Where the specification leaves a choice, the decisions say what the routes do: groups, roles,
//! connections and flows in `docs/decisions/0016-groups-roles-connections-api.md`; audit,
//! exports, bulk actions and idempotency in `docs/decisions/0017-http-exports-bulk-idempotency.md`;
//! invites, sign-up and the CRM in `docs/decisions/0018-onboarding-http.md`.

pub mod api_keys;
pub mod audit;
pub mod crm;
pub mod impersonation;
pub mod invites;
pub mod jobs;
pub mod org;
pub mod passwords;
pub mod saved_views;
pub mod scheduled;
pub mod service;
pub mod session;
pub mod signup;
pub mod users;
pub mod users_bulk;
pub mod users_export;
pub mod users_import;
pub mod webhooks;

mod common;
pub mod connections;
pub mod flows;
pub mod groups;
pub mod roles;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use crate::state::AppState;

/// The routes being built, and the record of them.
#[derive(Debug, Default)]
pub struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl RouteTable {
    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Self {
        self.routes.push((method, path));
        self.router = self.router.route(path, route);
        self
    }

    /// Adds `GET path`.
    #[must_use]
    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::GET, path, get(handler))
    }

    /// Adds `POST path`.
    #[must_use]
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::POST, path, post(handler))
    }

    /// Adds `PUT path`.
    #[must_use]
    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PUT, path, put(handler))
    }

    /// Adds `PATCH path`.
    #[must_use]
    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PATCH, path, patch(handler))
    }

    /// Adds `DELETE path`.
    #[must_use]
    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::DELETE, path, delete(handler))
    }

    /// Every `(method, path)` routed, in the order added.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }

    /// The axum router.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Every route of the server.
pub fn table() -> RouteTable {
    let table = RouteTable::default();
    let table = service::routes(table);
    let table = session::routes(table);
    let table = users::routes(table);
    let table = groups::routes(table);
    let table = roles::routes(table);
    let table = connections::routes(table);
    let table = flows::routes(table);
    let table = users_export::routes(table);
    let table = users_bulk::routes(table);
    let table = users_import::routes(table);
    let table = audit::routes(table);
    let table = org::routes(table);
    let table = api_keys::routes(table);
    let table = impersonation::routes(table);
    let table = scheduled::routes(table);
    let table = jobs::routes(table);
    let table = invites::routes(table);
    let table = signup::routes(table);
    let table = passwords::routes(table);
    let table = crm::routes(table);
    let table = webhooks::routes(table);
    saved_views::routes(table)
}
