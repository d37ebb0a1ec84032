//! Service-level tests: every use case of `Services` on the in-memory ports, one module per
//! area, each test named after the rule it proves (SPEC §2–§9). Failure injection and mockall
//! mocks prove that a failed use case leaves nothing behind.

mod credentials;
mod outbox_override;
mod support;

mod api_keys;
mod atomicity;
mod audit;
mod bulk;
mod connections;
mod crm;
mod crm_import_chunks;
mod groups;
mod impersonation;
mod invites;
mod jobs;
mod licenses;
mod load;
mod login;
mod orgs_settings;
mod passwords;
mod roles;
mod scheduling;
mod scim;
mod scoped_reads;
mod sessions;
mod signup;
mod tenancy;
mod user_import;
mod user_roles;
mod users_lifecycle;
mod users_screen;
