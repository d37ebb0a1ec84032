//! The `roster` binary: parses the command line (and environment), then runs the server or a
//! command. Everything else lives in the library (`roster_app`).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use roster_adapters_http::HttpConfig;
use roster_adapters_mail::PublicUrl;
use roster_app::cli;
use roster_app::config::{
    AdminCommand, Cli, Command, LogFormat, OrgCommand, ProductsCommand, RolesCommand, SeatsCommand, TrialCommand,
};
use roster_app::mail::MailConfig;
use roster_app::server::{self, ServeConfig};
use roster_app::telemetry;

/// mimalloc rather than the system allocator: under load the server spent about a sixth of its
/// time in glibc's malloc and free (a `perf record` of `cargo xtask bench http`'s Users page,
/// ADR 0022) — many small, short-lived allocations across the runtime's and SQLite's threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roster: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate(db) => {
            telemetry::init(LogFormat::Text);
            let db = server::open_database(&db.database_url).await?;
            db.close().await?;
            tracing::info!("the database is up to date");
            Ok(())
        }
        Command::Org(OrgCommand::Create(args)) => {
            telemetry::init_quiet();
            cli::org_create(args, &mut std::io::stdout().lock()).await
        }
        Command::Org(OrgCommand::List(args)) => {
            telemetry::init_quiet();
            cli::org_list(args, &mut std::io::stdout().lock()).await
        }
        Command::Seats(SeatsCommand::Set(args)) => {
            telemetry::init_quiet();
            cli::seats_set(args, &mut std::io::stdout().lock()).await
        }
        Command::Admin(AdminCommand::Create(args)) => {
            telemetry::init_quiet();
            cli::admin_create(args, &mut std::io::stdout().lock()).await
        }
        Command::Trial(TrialCommand::Set(args)) => {
            telemetry::init_quiet();
            cli::trial_set(args, &mut std::io::stdout().lock()).await
        }
        Command::Products(ProductsCommand::Add(args)) => {
            telemetry::init_quiet();
            cli::products_add(args, &mut std::io::stdout().lock()).await
        }
        Command::Roles(RolesCommand::Grant(args)) => {
            telemetry::init_quiet();
            cli::roles_grant(args, &mut std::io::stdout().lock()).await
        }
        Command::Reconcile(args) => {
            telemetry::init_quiet();
            cli::reconcile(args, &mut std::io::stdout().lock()).await
        }
        Command::DemoData(args) => {
            telemetry::init_quiet();
            cli::demo_data(args, &mut std::io::stdout().lock()).await
        }
        Command::Serve(args) => {
            telemetry::init(args.log_format);
            let http = HttpConfig {
                body_limit: usize::try_from(args.max_body_bytes)?,
                secure_cookies: args.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
                trusted_proxies: args.trusted_proxies.clone(),
                ..HttpConfig::default()
            };
            let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.listen));
            let public_url = PublicUrl::parse(&public_url).context("ROSTER_PUBLIC_URL")?;
            let worker = args.worker_settings();
            let webhooks = args.webhook_config();
            let mail = MailConfig::new(args.smtp_url, args.outbox_dir, args.mail_from, public_url);
            let crm = args.crm.choice().context("the CRM directory")?;
            let config = ServeConfig {
                database_url: args.database.database_url,
                listen: args.listen,
                http,
                bootstrap_email: args.bootstrap_admin_email,
                bootstrap_password: args.bootstrap_admin_password,
                mail,
                crm,
                worker,
                webhooks,
            };
            let app = server::build(&config).await?;
            let address = app.listener.local_addr()?;
            if let Some(b) = &app.bootstrapped {
                server::announce(b, address);
            }
            server::serve(app, server::shutdown_signal()).await
        }
    }
}
