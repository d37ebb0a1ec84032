//! Roster's CRM directory: the implementations of the domain's CRM directory port
//! ([`roster_domain::ports::CrmDirectory`], SPEC §8.3), used to search and import users from
//! the CRM and to sync their `active` flag.
//!
//! - [`salesforce`]: [`SalesforceDirectory`], the `User` object over Salesforce's REST API
//!   (OAuth2, SOQL, pagination, token renewal, retries, timeouts).
//! - [`csv`]: [`CsvDirectory`], a file exported from any CRM.
//! - [`config`]: which one the environment selects ([`directory_from_env`], SPEC §11);
//!   [`error`]: what building one fails with ([`ConfigError`]).
//!
//! The wire formats stay private to this crate; HTTP and CSV failures become the port's own
//! errors ([`roster_domain::ports::CrmError`]). It depends on `roster-domain` and nothing
//! depends on it but `roster-app`. It holds no business rule: which users are imported, and
//! what an inactive CRM user means, is decided by the domain's services.

pub mod config;
pub mod csv;
pub mod error;
mod fields;
pub mod salesforce;

pub use config::{CrmChoice, directory_from_env};
pub use csv::{CsvDirectory, CsvError, RowProblem};
pub use error::ConfigError;
pub use salesforce::{Grant, RetryPolicy, SalesforceConfig, SalesforceDirectory, Secret};
