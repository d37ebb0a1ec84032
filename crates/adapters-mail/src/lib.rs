//! Roster's outbound mail: the implementations of the domain's mail port — SMTP (with lettre) and
//! a file drop for development and tests — and the outbox worker that sends queued mail.
//!
//! It depends on `roster-domain` and nothing depends on it but `roster-app`.
//!
//! Issue 5 builds it; until then it is deliberately empty.
