//! Roster's CRM directory: the implementations of the domain's CRM directory port, used to import
//! users from the CRM — the Salesforce REST adapter and a CSV-file directory.
//!
//! The wire formats stay private to this crate; HTTP and CSV failures become the port's own errors.
//! It depends on `roster-domain` and nothing depends on it but `roster-app`.
//!
//! Issue 5 builds it; until then it is deliberately empty.
