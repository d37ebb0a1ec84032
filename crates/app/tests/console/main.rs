//! The web console, tested as people use it: a real Chromium (`browser`) on the real server
//! (the API tests' `helpers::apps`: SQLite and, when `ROSTER_TEST_DATABASE_URL` is set,
//! PostgreSQL), controls found by role and accessible name as SPEC §12's contract table names
//! them, axe-core on every page; and the console's HTTP rules (forgery, CSP, sessions,
//! isolation) checked on the wire (`security`).

#[allow(dead_code, reason = "shared with the API tests; the console's use only part of it")]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code, reason = "shared with the API tests; the console's use only part of it")]
#[path = "../api/tenants.rs"]
mod tenants;

mod actions;
mod browser;
mod crm;
mod drawer;
mod impersonation;
mod invite;
mod onboarding;
mod paging;
mod security;
mod sign_in;
mod support;
mod users_page;
