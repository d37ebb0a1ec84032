//! Black-box tests of the `roster` server over HTTP: one test binary, each test starting the
//! real server (`helpers::apps`) on SQLite and, when `ROSTER_TEST_DATABASE_URL` is set, on
//! PostgreSQL.

mod auth;
mod bad_input;
mod helpers;
mod journey;
