//! The command line and environment of `roster` (SPEC §11), parsed and validated at start:
//! a bad value stops the binary with a message naming the flag and its variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use roster_adapters_crm::config::{DEFAULT_CSV_PATH, choose};
use roster_adapters_crm::{ConfigError, CrmChoice};
use roster_adapters_http::client_address::TrustedProxies;
use roster_adapters_mail::{PublicUrl, Sender, SmtpUrl};
use roster_domain::org::OrgSettings;
use roster_domain::services::JobPace;
use roster_domain::values::{Email, Key, Label, Password, PersonName, Slug};
use roster_domain::webhooks::DeliverySchedule;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::webhooks::WebhookConfig;
use crate::worker::WorkerSettings;

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
    /// Create or list organizations (the operator's, §2).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Set an organization's seat limits (org admins cannot raise their own, §2).
    #[command(subcommand)]
    Seats(SeatsCommand),
    /// Create an organization's admin.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Set or end an organization's trial (§4.4: every member entitled to every product).
    #[command(subcommand)]
    Trial(TrialCommand),
    /// Add products to an organization's catalog (§4.1).
    #[command(subcommand)]
    Products(ProductsCommand),
    /// Grant roles, the operator-only `scorer` among them (§5).
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Report and repair licenses held by deactivated, deleted or inactive users and seat
    /// counters that disagree with the assignments (§4.5). Repairs unless `--dry-run`.
    Reconcile(ReconcileArgs),
    /// Generate a realistic organization for demos and benchmarks: groups three levels deep,
    /// roles, flows, users in every status with licenses within seats, connections.
    DemoData(DemoDataArgs),
}

/// `roster org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization with its root group, the built-in roles, the default catalog and
    /// `--seats` seats per product.
    Create(OrgCreateArgs),
    /// List the organizations.
    List(CommonArgs),
}

/// `roster seats …`.
#[derive(Debug, Subcommand)]
pub enum SeatsCommand {
    /// Set the seats of one product; refused below the seats in use.
    Set(SeatsSetArgs),
}

/// `roster admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a member holding the `admin` role and no license, with a password: taken from
    /// `ROSTER_ADMIN_PASSWORD`, `--password` or `--password-stdin`, else generated and printed
    /// once.
    Create(AdminCreateArgs),
}

/// `roster trial …`.
#[derive(Debug, Subcommand)]
pub enum TrialCommand {
    /// Run the organization's trial until a date (`--until`), or end it now (`--none`).
    Set(TrialSetArgs),
}

/// `roster products …`.
#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// Add a product with its prerequisites and a seat pool; refused for a key the catalog
    /// has, an unknown prerequisite, or a prerequisite cycle.
    Add(ProductsAddArgs),
}

/// `roster roles …`.
#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Give a member one more role, organization-wide, keeping their others. The only way to
    /// grant a role admins cannot give (`scorer`).
    Grant(RolesGrantArgs),
}

/// What every operator command takes: the database and the output format.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `roster org create`.
#[derive(Debug, Clone, Args)]
pub struct OrgCreateArgs {
    /// The organization's slug: 2–63 of `a-z`, `0-9`, `-` (used at login).
    #[arg(value_parser = parse_slug)]
    pub slug: Slug,
    /// Its display name (default: the slug).
    #[arg(long, value_parser = parse_label)]
    pub name: Option<Label>,
    /// Seats per product it starts with (`default_seat_limit`).
    #[arg(long, default_value_t = OrgSettings::default().default_seat_limit)]
    pub seats: u32,
    /// Start with a trial of this many days (1 to 3650): until then every member is entitled to
    /// every product (§4.4). Default: no trial.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub trial_days: Option<u16>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `roster trial set`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("end").required(true).args(["until", "none"])))]
pub struct TrialSetArgs {
    /// The organization's slug.
    #[arg(long, value_parser = parse_slug)]
    pub org: Slug,
    /// When the trial ends: an RFC 3339 date (`2027-01-31`, the trial ends as that day begins,
    /// UTC) or date-time (`2027-01-31T17:00:00+01:00`). It must be in the future.
    #[arg(long, value_parser = parse_trial_end)]
    pub until: Option<OffsetDateTime>,
    /// End the trial now (no trial).
    #[arg(long)]
    pub none: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `roster products add`.
#[derive(Debug, Clone, Args)]
pub struct ProductsAddArgs {
    /// The organization's slug.
    #[arg(long, value_parser = parse_slug)]
    pub org: Slug,
    /// The product's key (`voicemail`): `[a-z][a-z0-9_]*`, new to the catalog.
    #[arg(value_parser = parse_key)]
    pub key: Key,
    /// The name people see (`Voicemail`).
    #[arg(long, value_parser = parse_label)]
    pub name: Label,
    /// A product a member must hold to hold this one; repeat the flag or separate keys with
    /// commas.
    #[arg(long, value_parser = parse_key, value_delimiter = ',')]
    pub requires: Vec<Key>,
    /// Its seats (default: the organization's `default_seat_limit`).
    #[arg(long, allow_negative_numbers = true, value_parser = parse_seats)]
    pub seats: Option<u32>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `roster roles grant`.
#[derive(Debug, Clone, Args)]
pub struct RolesGrantArgs {
    /// The organization's slug.
    #[arg(long, value_parser = parse_slug)]
    pub org: Slug,
    /// The member's email.
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
    /// The role's key (`scorer`, `team_lead`, or a custom role's).
    #[arg(value_parser = parse_key)]
    pub role: Key,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `roster seats set`.
#[derive(Debug, Clone, Args)]
pub struct SeatsSetArgs {
    /// The organization's slug.
    #[arg(long, value_parser = parse_slug)]
    pub org: Slug,
    /// The product (`core`, `flow`, `dialer`, `sms` or one the operator added).
    #[arg(value_parser = parse_key)]
    pub product: Key,
    /// The new total: a whole number, at least the seats in use.
    #[arg(allow_negative_numbers = true, value_parser = parse_seats)]
    pub seats: u32,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `roster admin create`.
#[derive(Debug, Clone, Args)]
pub struct AdminCreateArgs {
    /// The organization's slug.
    #[arg(long, value_parser = parse_slug)]
    pub org: Slug,
    /// The admin's email (their login).
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
    #[arg(long, default_value = "Admin", value_parser = parse_person)]
    pub first_name: PersonName,
    #[arg(long, default_value = "Operator", value_parser = parse_person)]
    pub last_name: PersonName,
    /// The password (at least 12 characters). Prefer the variable or `--password-stdin`: a flag
    /// shows in the process list.
    #[arg(long, env = "ROSTER_ADMIN_PASSWORD", hide_env_values = true, value_parser = parse_password,
          conflicts_with = "password_stdin")]
    pub password: Option<Password>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `roster reconcile`.
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// Only this organization (default: every one).
    #[arg(long, value_parser = parse_slug)]
    pub org: Option<Slug>,
    /// Report only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `roster demo-data`.
#[derive(Debug, Clone, Args)]
pub struct DemoDataArgs {
    /// How many users the organization gets (its admin included).
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=10_000_000))]
    pub users: u32,
    /// The new organization's slug (it must not exist yet).
    #[arg(long, default_value = "demo", value_parser = parse_slug)]
    pub org: Slug,
    /// How many connections (default: as many as users).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=20_000_000))]
    pub connections: Option<u32>,
    /// The generator's seed: the same seed gives the same people, groups and licenses.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The password of the demo accounts (at least 12 characters; default: generated and
    /// printed once).
    #[arg(long, env = "ROSTER_DEMO_PASSWORD", hide_env_values = true, value_parser = parse_password)]
    pub password: Option<Password>,
    #[command(flatten)]
    pub common: CommonArgs,
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
    /// The reverse proxies whose `X-Forwarded-For` names the client, as a comma-separated list
    /// of CIDR blocks or addresses (`10.0.0.0/8,::1`). Unset: the TCP peer is the client. Only
    /// list proxies that overwrite or append to the header: a client's own header is believed
    /// when its request comes straight from a listed address.
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_parser = TrustedProxies::parse, default_value = "")]
    pub trusted_proxies: TrustedProxies,
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
    /// How often the scheduler applies due scheduled changes and the job runner looks for
    /// queued jobs, in milliseconds.
    #[arg(long, env = "ROSTER_WORKER_TICK_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub worker_tick_ms: u64,
    /// How long a server holds a job it works on without renewing its hold, in seconds: a job
    /// whose server died is taken up by another after this long.
    #[arg(long, env = "ROSTER_JOB_LEASE_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub job_lease_seconds: u64,
    /// How many users a job changes per step (one transaction each): a server that dies loses
    /// at most one step's work, which is done again by the next.
    #[arg(long, env = "ROSTER_JOB_STEP", default_value_t = 250,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub job_step: u32,
    /// Let webhooks go to plain `http` URLs and to loopback, private and link-local addresses
    /// (development and tests only: in production this is the SSRF defence of §9.1).
    /// The variable takes `1`, `true`, `yes` or `on` (and `0`, `false`, `no`, `off`).
    #[arg(long, env = "ROSTER_WEBHOOKS_ALLOW_INSECURE", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub webhooks_allow_insecure: bool,
    /// The waits between a failed webhook delivery's attempts, comma-separated (`5s`, `5m`,
    /// `2h`, `250ms`); after the last, the delivery is given up. Each wait moves by up to ±10 %.
    #[arg(long, env = "ROSTER_WEBHOOKS_RETRY_DELAYS", default_value = "5s,5m,30m,2h,5h,10h,10h",
          value_parser = parse_delays)]
    pub webhooks_retry_delays: Delays,
    /// How long one webhook request may take in all, answer included, in seconds (at most
    /// §9.1's 15).
    #[arg(long, env = "ROSTER_WEBHOOKS_TIMEOUT_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=15))]
    pub webhooks_timeout_seconds: u64,
    /// How long a server holds a webhook delivery it claimed, in seconds: the delivery of a
    /// server that died is sent again by another after this long. It must outlast one request
    /// (the 5 s connect timeout plus the whole-request timeout).
    #[arg(long, env = "ROSTER_WEBHOOKS_LEASE_SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub webhooks_lease_seconds: u64,
    #[command(flatten)]
    pub crm: CrmArgs,
}

/// The waits of a retry schedule, as `ROSTER_WEBHOOKS_RETRY_DELAYS` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delays(pub Vec<time::Duration>);

/// Reads `5s,5m,30m,2h` (units `ms`, `s`, `m`, `h`; at most 20 waits of at most a day each).
fn parse_delays(text: &str) -> Result<Delays, String> {
    let mut delays = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let split = item.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| format!("`{item}` has no unit"))?;
        let (number, unit) = item.split_at(split);
        let n: i64 = number.parse().map_err(|_| format!("`{item}` is not a number and a unit"))?;
        let delay = match unit {
            "ms" => time::Duration::milliseconds(n),
            "s" => time::Duration::seconds(n),
            "m" => time::Duration::minutes(n),
            "h" => time::Duration::hours(n),
            _ => return Err(format!("`{item}`: the unit is ms, s, m or h")),
        };
        if delay > time::Duration::DAY {
            return Err(format!("`{item}` is longer than a day"));
        }
        delays.push(delay);
    }
    if delays.len() > 20 {
        return Err("at most 20 waits".to_owned());
    }
    Ok(Delays(delays))
}

impl ServeArgs {
    /// Webhook delivery's settings.
    pub fn webhook_config(&self) -> WebhookConfig {
        let schedule = DeliverySchedule {
            delays: self.webhooks_retry_delays.0.clone(),
            lease: time::Duration::seconds(i64::try_from(self.webhooks_lease_seconds).unwrap_or(i64::MAX)),
            ..DeliverySchedule::default()
        };
        WebhookConfig {
            allow_insecure: self.webhooks_allow_insecure,
            request_timeout: std::time::Duration::from_secs(self.webhooks_timeout_seconds),
            schedule,
            ..WebhookConfig::default()
        }
    }

    /// The scheduler's and the job runner's settings.
    pub fn worker_settings(&self) -> WorkerSettings {
        let lease = time::Duration::seconds(i64::try_from(self.job_lease_seconds).unwrap_or(i64::MAX));
        WorkerSettings {
            tick: std::time::Duration::from_millis(self.worker_tick_ms),
            pace: JobPace { lease, step: usize::try_from(self.job_step).unwrap_or(usize::MAX) },
        }
    }
}

/// The CRM directory (SPEC §8.3, §11): Salesforce when its client id and secret are set, else
/// a CSV file, else none (the CRM routes then answer 503 `crm_not_configured`). The rules of
/// the choice are `roster_adapters_crm::config::choose` (decision 0015).
#[derive(Debug, Clone, Default, Args)]
pub struct CrmArgs {
    /// A CSV export of the CRM's users (`Id, FirstName, LastName, Email, Phone, IsActive,
    /// Title` or `crm_id, first_name, …`). Default: `./crm-users.csv` when it exists.
    #[arg(long, env = "ROSTER_CRM_CSV")]
    pub crm_csv: Option<String>,
    /// The Salesforce connected app's client id; with the secret, selects Salesforce.
    #[arg(long, env = "ROSTER_SALESFORCE_CLIENT_ID")]
    pub salesforce_client_id: Option<String>,
    /// The Salesforce connected app's client secret.
    #[arg(long, env = "ROSTER_SALESFORCE_CLIENT_SECRET", hide_env_values = true)]
    pub salesforce_client_secret: Option<String>,
    /// The OAuth2 host (default `https://login.salesforce.com`; a My Domain URL for the
    /// client-credentials grant).
    #[arg(long, env = "ROSTER_SALESFORCE_LOGIN_URL")]
    pub salesforce_login_url: Option<String>,
    /// Use the refresh-token grant with this token (else client credentials).
    #[arg(long, env = "ROSTER_SALESFORCE_REFRESH_TOKEN", hide_env_values = true)]
    pub salesforce_refresh_token: Option<String>,
    /// Use the username-password grant with this user (and `--salesforce-password`).
    #[arg(long, env = "ROSTER_SALESFORCE_USERNAME")]
    pub salesforce_username: Option<String>,
    /// The username-password grant's password (with the security token appended).
    #[arg(long, env = "ROSTER_SALESFORCE_PASSWORD", hide_env_values = true)]
    pub salesforce_password: Option<String>,
    /// The REST API version (default `v62.0`).
    #[arg(long, env = "ROSTER_SALESFORCE_API_VERSION")]
    pub salesforce_api_version: Option<String>,
    /// The limit of one Salesforce request, 1 to 300 seconds (default 30).
    #[arg(long, env = "ROSTER_SALESFORCE_TIMEOUT_SECONDS")]
    pub salesforce_timeout_seconds: Option<String>,
}

impl CrmArgs {
    /// The value given for the variable `name`, by flag or environment.
    fn value(&self, name: &str) -> Option<String> {
        match name {
            "ROSTER_CRM_CSV" => self.crm_csv.clone(),
            "ROSTER_SALESFORCE_CLIENT_ID" => self.salesforce_client_id.clone(),
            "ROSTER_SALESFORCE_CLIENT_SECRET" => self.salesforce_client_secret.clone(),
            "ROSTER_SALESFORCE_LOGIN_URL" => self.salesforce_login_url.clone(),
            "ROSTER_SALESFORCE_REFRESH_TOKEN" => self.salesforce_refresh_token.clone(),
            "ROSTER_SALESFORCE_USERNAME" => self.salesforce_username.clone(),
            "ROSTER_SALESFORCE_PASSWORD" => self.salesforce_password.clone(),
            "ROSTER_SALESFORCE_API_VERSION" => self.salesforce_api_version.clone(),
            "ROSTER_SALESFORCE_TIMEOUT_SECONDS" => self.salesforce_timeout_seconds.clone(),
            _ => None,
        }
    }

    /// Which directory these settings choose, with `./crm-users.csv` as the default file.
    ///
    /// # Errors
    /// A half or conflicting configuration, naming the variable.
    pub fn choice(&self) -> Result<CrmChoice, ConfigError> {
        choose(|name| self.value(name), Path::new(DEFAULT_CSV_PATH))
    }
}

fn parse_slug(text: &str) -> Result<Slug, String> {
    Slug::parse(text).map_err(|e| format!("{e} (2–63 of a-z, 0-9 and -, not at either end)"))
}

fn parse_label(text: &str) -> Result<Label, String> {
    Label::parse(text).map_err(|e| e.to_string())
}

fn parse_key(text: &str) -> Result<Key, String> {
    Key::parse(text).map_err(|e| e.to_string())
}

fn parse_email(text: &str) -> Result<Email, String> {
    Email::parse(text).map_err(|e| e.to_string())
}

fn parse_person(text: &str) -> Result<PersonName, String> {
    PersonName::parse(text).map_err(|e| e.to_string())
}

/// Also used for `--password-stdin`.
pub fn parse_password(text: &str) -> Result<Password, String> {
    Password::parse(text).map_err(|e| format!("{e} (at least 12 characters)"))
}

fn parse_seats(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| format!("`{text}` is not a seat count: a whole number from 0 to {}", u32::MAX))
}

/// An RFC 3339 date (the start of that day, UTC) or date-time.
fn parse_trial_end(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let date_only = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &date_only)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("`{text}` is not an RFC 3339 date (2027-01-31) or date-time (2027-01-31T17:00:00Z)"))
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
    fn the_webhook_settings_are_read_and_checked() {
        let serve = |extra: &[&str]| {
            let argv = ["roster", "serve"].iter().chain(extra).copied();
            match Cli::try_parse_from(argv).map(|cli| cli.command) {
                Ok(Command::Serve(args)) => Ok(args.webhook_config()),
                Ok(_) => panic!("serve"),
                Err(e) => Err(e),
            }
        };
        let defaults = serve(&[]).expect("valid");
        assert_eq!(defaults, WebhookConfig::default());
        let quick = serve(&[
            "--webhooks-allow-insecure",
            "--webhooks-timeout-seconds",
            "2",
            "--webhooks-lease-seconds",
            "8",
            "--webhooks-retry-delays",
            "200ms,1s",
        ])
        .expect("valid");
        assert!(quick.allow_insecure);
        assert_eq!(
            (quick.request_timeout, quick.schedule.lease),
            (std::time::Duration::from_secs(2), time::Duration::seconds(8))
        );
        assert!(quick.check().is_ok());
        let outlasted = serve(&["--webhooks-lease-seconds", "20"]).expect("parses");
        assert!(outlasted.check().is_err(), "a 15 s request and a 5 s connect could outlast a 20 s lease");
        assert!(serve(&["--webhooks-timeout-seconds", "16"]).is_err(), "§9.1's 15 s is the most");
        assert!(serve(&["--webhooks-lease-seconds", "0"]).is_err());
    }

    #[test]
    fn the_operator_commands_parse_their_values_and_refuse_bad_ones_naming_the_argument() {
        let cli =
            Cli::try_parse_from(["roster", "seats", "set", "--org", "acme", "core", "12", "--json"]).expect("valid");
        let Command::Seats(SeatsCommand::Set(args)) = cli.command else { panic!("seats set") };
        assert_eq!(
            (args.org.as_str(), args.product.as_str(), args.seats, args.common.json),
            ("acme", "core", 12, true)
        );
        for (argv, named) in [
            (vec!["seats", "set", "--org", "acme", "core", "-1"], "<SEATS>"),
            (vec!["seats", "set", "--org", "ACME!", "core", "1"], "--org"),
            (vec!["org", "create", "a"], "<SLUG>"),
            (vec!["admin", "create", "--org", "acme", "--email", "nope"], "--email"),
            (vec!["demo-data", "--users", "9"], "--users"),
            (vec!["demo-data", "--users", "10", "--password", "short"], "--password"),
        ] {
            let error =
                Cli::try_parse_from(std::iter::once("roster").chain(argv.clone())).expect_err("refused").to_string();
            assert!(error.contains(named), "{argv:?}: {error}");
        }
        for (argv, named) in [
            (vec!["org", "create", "acme", "--trial-days", "0"], "--trial-days"),
            (vec!["trial", "set", "--org", "acme"], "--until"),
            (vec!["trial", "set", "--org", "acme", "--until", "2027-01-31", "--none"], "--none"),
            (vec!["trial", "set", "--org", "acme", "--until", "next week"], "--until"),
            (vec!["products", "add", "--org", "acme", "Voice Mail", "--name", "Voicemail"], "<KEY>"),
            (vec!["products", "add", "--org", "acme", "voicemail"], "--name"),
            (vec!["products", "add", "--org", "acme", "voicemail", "--name", "V", "--seats", "-1"], "--seats"),
            (vec!["roles", "grant", "--org", "acme", "--email", "nope", "scorer"], "--email"),
            (vec!["roles", "grant", "--org", "acme", "--email", "a@acme.test", "Scorer"], "<ROLE>"),
        ] {
            let error =
                Cli::try_parse_from(std::iter::once("roster").chain(argv.clone())).expect_err("refused").to_string();
            assert!(error.contains(named), "{argv:?}: {error}");
        }
        let Command::Trial(TrialCommand::Set(args)) =
            Cli::try_parse_from(["roster", "trial", "set", "--org", "acme", "--until", "2027-01-31"])
                .expect("valid")
                .command
        else {
            panic!("trial set")
        };
        assert_eq!(args.until, Some(time::macros::datetime!(2027-01-31 0:00 UTC)));
        let Command::Trial(TrialCommand::Set(args)) =
            Cli::try_parse_from(["roster", "trial", "set", "--org", "acme", "--until", "2027-01-31T17:00:00+01:00"])
                .expect("valid")
                .command
        else {
            panic!("trial set")
        };
        assert_eq!(args.until, Some(time::macros::datetime!(2027-01-31 16:00 UTC)));
        let Command::Products(ProductsCommand::Add(args)) = Cli::try_parse_from([
            "roster",
            "products",
            "add",
            "--org",
            "acme",
            "sms_plus",
            "--name",
            "SMS Plus",
            "--requires",
            "sms,dialer",
            "--requires",
            "core",
        ])
        .expect("valid")
        .command
        else {
            panic!("products add")
        };
        let requires: Vec<&str> = args.requires.iter().map(Key::as_str).collect();
        assert_eq!((requires, args.seats), (vec!["sms", "dialer", "core"], None));
        let Command::DemoData(args) =
            Cli::try_parse_from(["roster", "demo-data", "--users", "10"]).expect("valid").command
        else {
            panic!("demo-data")
        };
        assert_eq!((args.org.as_str(), args.connections, args.seed), ("demo", None, 1));
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

    #[test]
    fn crm_flags_choose_the_directory_and_half_a_salesforce_configuration_is_refused() {
        let serve = |extra: &[&str]| {
            let mut argv = vec!["roster", "serve"];
            argv.extend_from_slice(extra);
            let Command::Serve(args) = Cli::try_parse_from(argv).expect("valid").command else { panic!("serve") };
            args.crm
        };
        let csv = serve(&["--crm-csv", "/data/users.csv"]).choice().expect("a choice");
        assert!(matches!(csv, CrmChoice::Csv(ref p) if p == Path::new("/data/users.csv")), "{csv:?}");
        let salesforce = serve(&["--salesforce-client-id", "id", "--salesforce-client-secret", "s3cret"]);
        assert!(matches!(salesforce.choice().expect("a choice"), CrmChoice::Salesforce(_)));
        let half = serve(&["--salesforce-client-id", "id"]).choice().expect_err("refused").to_string();
        assert!(half.contains("ROSTER_SALESFORCE_CLIENT_SECRET"), "{half}");
        let both = serve(&["--salesforce-client-id", "id", "--salesforce-client-secret", "s", "--crm-csv", "x.csv"]);
        assert!(both.choice().is_err());
    }
}
