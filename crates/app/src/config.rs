//! The command line and environment of `roster` (SPEC §11), parsed and validated at start:
//! a bad value stops the binary with a message naming the flag and its variable.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Roster, the admin back office for B2B SaaS products.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: migrates the database, creates the `demo` organization on first start,
    /// serves the API until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH?mode=rwc` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = "sqlite://./roster.db?mode=rwc")]
    pub database_url: String,
}

/// How the log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `roster serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The base URL used in links sent by email; `https://…` also marks cookies `Secure`.
    #[arg(long, env = "ROSTER_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// The log format.
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// The largest request body accepted, in bytes.
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", default_value_t = 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=64 * 1024 * 1024))]
    pub max_body_bytes: u32,
    /// The first admin's email on a first start (default `admin@demo.example`).
    #[arg(long, env = "ROSTER_BOOTSTRAP_ADMIN_EMAIL")]
    pub bootstrap_admin_email: Option<String>,
    /// The first admin's password on a first start (default: generated and printed once).
    #[arg(long, env = "ROSTER_BOOTSTRAP_ADMIN_PASSWORD", hide_env_values = true)]
    pub bootstrap_admin_password: Option<String>,
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let ok = text.starts_with("http://") || text.starts_with("https://");
    if ok && text.len() > "https://".len() {
        Ok(text.trim_end_matches('/').to_owned())
    } else {
        Err("expected an http:// or https:// URL".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_is_consistent_and_bad_values_are_refused() {
        Cli::command().debug_assert();
        assert!(Cli::try_parse_from(["roster", "serve", "--listen", "nowhere"]).is_err());
        assert!(Cli::try_parse_from(["roster", "serve", "--public-url", "ftp://x"]).is_err());
        assert!(Cli::try_parse_from(["roster", "serve", "--max-body-bytes", "10"]).is_err());
        let cli = Cli::try_parse_from(["roster", "serve", "--listen", "127.0.0.1:0"]).expect("valid");
        assert!(matches!(cli.command, Command::Serve(_)));
    }
}
