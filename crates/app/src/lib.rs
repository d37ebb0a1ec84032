//! The `roster` binary's library: configuration ([`config`]), the operator's commands
//! ([`cli`], with the generator of [`demo_data`]), the real clock and ids
//! ([`system`]), logging ([`telemetry`]), outbound mail ([`mail`]: the mailer and the outbox
//! worker) and the server ([`server`]: config → database → adapters → services → router).
//! `main` only parses the command line and calls these; the black-box tests call them too, so
//! they run the real server.

pub mod cli;
pub mod config;
pub mod demo_data;
pub mod mail;
pub mod server;
pub mod system;
pub mod telemetry;
pub mod webhooks;
pub mod worker;
