//! Black-box tests of the `roster` server over HTTP: one test binary, each test starting the
//! real server (`helpers::apps`) on SQLite and, when `ROSTER_TEST_DATABASE_URL` is set, on
//! PostgreSQL.

mod api_keys;
mod audit;
mod auth;
mod authority;
mod bad_input;
mod crm;
mod groups;
mod helpers;
mod idempotency;
mod impersonation;
mod inactive_reasons;
mod invites;
mod jobs;
mod journey;
mod metrics;
mod openapi_conformance;
mod org_settings;
mod restore;
mod roles;
mod saved_views;
mod scheduled;
mod scoped_reads;
mod secrets_at_rest;
mod security_headers;
mod sessions;
mod signup;
mod tenants;
mod tree_isolation;
mod tree_support;
mod users_bulk;
mod users_export;
mod users_sort;
mod visibility;
