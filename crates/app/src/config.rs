//! The command line and environment of `roster` (SPEC §11), parsed and validated at start:
//! a bad value stops the binary with a message naming the flag and its variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use roster_adapters_mail::{PublicUrl, Sender, SmtpUrl};

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
    Serve(Box<ServeArgs>),
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
    /// The base URL used in links sent by email (default `http://<listen>`); `https://…` also
    /// marks cookies `Secure`.
    #[arg(long, env = "ROSTER_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// The SMTP server, in lettre's URL form: `smtp://[user:pass@]host:port[?tls=required|opportunistic]`
    /// or `smtps://…`. Unset: messages are written as `.eml` files into the outbox folder.
    #[arg(long, env = "ROSTER_SMTP_URL", value_parser = SmtpUrl::parse, hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,
    /// The file-drop folder, used when no SMTP server is set.
    #[arg(long, env = "ROSTER_OUTBOX_DIR", default_value = crate::mail::DEFAULT_OUTBOX_DIR)]
    pub outbox_dir: PathBuf,
    /// The sender of every message: `address` or `Name <address>`.
    #[arg(long, env = "ROSTER_MAIL_FROM", default_value = crate::mail::DEFAULT_MAIL_FROM, value_parser = Sender::parse)]
    pub mail_from: Sender,
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
    PublicUrl::parse(text).map(|url| url.as_str().to_owned()).map_err(|e| e.to_string())
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

    #[test]
    fn mail_settings_default_to_the_file_drop_and_bad_ones_are_refused() {
        let Command::Serve(args) = Cli::try_parse_from(["roster", "serve"]).expect("valid").command else {
            panic!("serve")
        };
        assert_eq!(args.smtp_url, None);
        assert_eq!(args.outbox_dir, PathBuf::from("./outbox"));
        assert_eq!(args.mail_from, Sender::parse("roster@localhost").expect("valid"));
        for bad in [
            ["--smtp-url", "http://mail.example.com"],
            ["--smtp-url", "smtp://mail.example.com?tls=sometimes"],
            ["--mail-from", "not an address"],
            ["--public-url", "https://roster.example.com/?x=1"],
        ] {
            let error = Cli::try_parse_from(["roster", "serve", bad[0], bad[1]]).expect_err(bad[1]).to_string();
            assert!(error.contains(bad[0]), "{error}");
        }
        let Command::Serve(args) =
            Cli::try_parse_from(["roster", "serve", "--smtp-url", "smtp://u:secret@mail.example.com?tls=required"])
                .expect("valid")
                .command
        else {
            panic!("serve")
        };
        assert_eq!(args.smtp_url.expect("set").to_string(), "smtp://u:***@mail.example.com:587?tls=required");
    }
}
