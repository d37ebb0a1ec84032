//! Roster's domain: the back office of a B2B product — users and their lifecycle, per-product
//! licenses with hard seat limits, roles and permissions, a group tree, group-based visibility,
//! invites, CRM import and an audit log — as rules in pure code, and the ports through which it
//! reaches storage, mail, the CRM, time and randomness.
//!
//! # Embedding it
//!
//! A vendor's service builds one [`Services`] and calls its methods, one per use case:
//!
//! 1. **Give it its ports.** A [`ports::Store`] (the unit of work: `roster-adapters-db` gives
//!    SQLite and PostgreSQL through sea-orm, after `migrate`), a [`ports::Clock`], a
//!    [`ports::IdGenerator`] (ids and token secrets) and a [`ports::PasswordHasher`]
//!    (`roster-password`'s Argon2id). Optional: a CRM directory (`with_crm`), saved views, the
//!    session settings.
//! 2. **Say who acts.** Every use case takes an [`actor::Actor`]: a member's authority,
//!    resolved from a session token or API key by [`Services::authenticate`], or
//!    [`actor::Actor::system`] for the operator and background work. Nothing else decides
//!    permissions.
//! 3. **Call use cases and read their errors.** Each runs in one transaction of the store (its
//!    audit event and any mail it queues included) and answers a value or a [`ServiceError`]
//!    whose [`ErrorCode`] is stable: map it to your protocol's status once.
//! 4. **Run the workers** your deployment needs: mail delivery ([`Services::deliver_due_mail`]
//!    with a [`ports::Mailer`]), scheduled changes ([`Services::apply_due_changes`]), session
//!    purging.
//!
//! `examples/embed.rs` does steps 1–3 on SQLite in memory: `cargo run -p roster-domain
//! --example embed`. Every public use case opens a `tracing` span named after it, with the
//! organization's and the actor's ids (never personal data); install a subscriber to see them.
//!
//! # What is here
//!
//! This crate does no I/O and depends on no runtime, database or web framework (a tidy test in
//! `xtask` enforces it). Adapters translate to and from these types; they hold no rules.
//!
//! - Value types (`values`) cannot hold invalid data: parse, don't validate.
//! - Entities and pure rules: `org`, `user`, `catalog`, `seats`, `roles`, `groups`,
//!   `connections`, `visibility`, `invites`, `password_resets`, `scheduling`, `audit`, `load` (the rules of rows
//!   loaded in bulk by the operator).
//! - Integration (§9.1): `events` (the audit log as a positioned feed), `webhooks` (endpoints,
//!   signatures, the delivery log).
//! - `user_csv`: a CSV file of users (an upload, the CRM's file) read into rows, and the rules
//!   each row must meet.
//! - `actor`: authorization resolved once per request.
//! - `ports`: the traits adapters implement; `services`: one function per use case.
//!
//! Feature `mocks`: mockall mocks of the port traits (`ports::MockUserRepository`, …) for this
//! crate's integration tests. The in-memory implementation of every port, the fakes, the
//! persistence contract suite and the state machine live in the `roster-testkit` crate.

#![warn(missing_docs)]

pub mod actor;
pub mod audit;
pub mod catalog;
pub mod connections;
pub mod error;
pub mod events;
pub mod groups;
pub mod ids;
pub mod invites;
pub mod jobs;
pub mod load;
pub mod mail;
pub mod org;
pub mod password_resets;
pub mod ports;
pub mod roles;
pub mod saved_views;
pub mod scheduling;
pub mod scim;
pub mod seats;
pub mod services;
pub mod throttle;
pub mod user;
pub mod user_csv;
pub mod user_filter;
pub mod users_query;
pub mod values;
pub mod visibility;
pub mod webhooks;

pub use error::{ErrorCode, FieldError, ServiceError, ServiceResult};
pub use services::Services;
