//! Roster's domain: every business rule of the product as pure code, and the ports through
//! which it reaches storage, mail, the CRM, time and randomness.
//!
//! This crate does no I/O and depends on no runtime, database or web framework (a tidy test in
//! `xtask` enforces it). Adapters translate to and from these types; they hold no rules.
//!
//! - Value types (`values`) cannot hold invalid data: parse, don't validate.
//! - Entities and pure rules: `org`, `user`, `catalog`, `seats`, `roles`, `groups`,
//!   `connections`, `visibility`, `invites`, `scheduling`, `audit`, `load` (the rules of rows
//!   loaded in bulk by the operator).
//! - Integration (§9.1): `events` (the audit log as a positioned feed), `webhooks` (endpoints,
//!   signatures, the delivery log).
//! - `actor`: authorization resolved once per request.
//! - `ports`: the traits adapters implement; `services`: one function per use case.
//!
//! Feature `mocks`: mockall mocks of the port traits (`ports::MockUserRepository`, …) for this
//! crate's integration tests. The in-memory implementation of every port, the fakes, the
//! persistence contract suite and the state machine live in the `roster-testkit` crate.

pub mod actor;
pub mod audit;
pub mod catalog;
pub mod connections;
pub mod error;
pub mod events;
pub mod groups;
pub mod ids;
pub mod invites;
pub mod load;
pub mod mail;
pub mod org;
pub mod ports;
pub mod roles;
pub mod saved_views;
pub mod scheduling;
pub mod seats;
pub mod services;
pub mod throttle;
pub mod user;
pub mod users_query;
pub mod values;
pub mod visibility;
pub mod webhooks;

pub use error::{ErrorCode, FieldError, ServiceError, ServiceResult};
pub use services::Services;
