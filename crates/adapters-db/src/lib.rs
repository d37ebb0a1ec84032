//! Roster's persistence: the sea-orm entities, the migrations, and the implementations of the
//! domain's repository ports on SQLite (the embedded default) and PostgreSQL (production).
//!
//! This crate turns database failures (unique violations, serialization failures) into the ports'
//! own errors, so no sea-orm type ever reaches the domain or the HTTP layer. It depends on
//! `roster-domain` and nothing depends on it but `roster-app`.
//!
//! Issue 3 (persistence) builds it; until then it is deliberately empty.
