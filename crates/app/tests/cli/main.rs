//! The operator's commands of the built `roster` binary (SPEC §11) — `org create|list`, `seats
//! set`, `admin create`, `trial set`, `products add`, `roles grant`, `reconcile`, `demo-data` —
//! run as processes on a fresh SQLite file and, when `ROSTER_TEST_DATABASE_URL` is set, a fresh
//! PostgreSQL schema: their output (text and
//! `--json`), exit codes, messages on bad input, and the state they leave, read back through the
//! library or by logging in to a real `serve` on the same database.

mod demo_data;
mod orgs;
mod products;
mod reconcile;
mod roles;
mod support;
mod trial;
mod workers;
