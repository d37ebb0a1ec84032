//! The console's other sections (groups, connections, licenses, audit, settings): each answers
//! a page saying it is coming, inside the navigation, until it is built. Their data is already
//! reachable through the REST API, which each page names.

use askama::Template;
use axum::response::Response;

use crate::page::{Chrome, Section, render};
use crate::session::Console;

/// A section that is not in the console yet.
#[derive(Debug, Template)]
#[template(path = "later.html")]
pub struct LaterPage {
    pub chrome: Chrome,
    pub heading: &'static str,
    /// The REST API's routes for the same work.
    pub api: &'static str,
}

fn later(console: &Console, section: Section, heading: &'static str, api: &'static str) -> Response {
    render(&LaterPage { chrome: Chrome::new(console, section), heading, api })
}

/// `GET /groups`.
pub async fn groups(console: Console) -> Response {
    later(&console, Section::Groups, "Groups", "/api/v1/groups")
}

/// `GET /connections`.
pub async fn connections(console: Console) -> Response {
    later(&console, Section::Connections, "Connections", "/api/v1/connections")
}

/// `GET /licenses`.
pub async fn licenses(console: Console) -> Response {
    later(&console, Section::Licenses, "Licenses and billing", "/api/v1/licenses and /api/v1/billing")
}

/// `GET /audit`.
pub async fn audit(console: Console) -> Response {
    later(&console, Section::Audit, "Audit log", "/api/v1/audit")
}

/// `GET /settings`.
pub async fn settings(console: Console) -> Response {
    later(&console, Section::Settings, "Settings", "/api/v1/org/settings")
}
