//! The operator's commands (SPEC §11): `org create|list`, `seats set`, `admin create`,
//! `trial set`, `products add`, `roles grant`, `reconcile` and `demo-data`. Each opens and migrates the database like `migrate`, calls the
//! domain's use cases as the operator (`Actor::system` with the `cli` source, so every change is
//! audited), and prints a human-readable answer or, with `--json`, one JSON document on standard
//! output. No rule lives here: refusals (a taken slug, seats below those in use, an unknown
//! organization…) are the use cases' errors, returned with the command's context.

use std::io::{BufRead as _, Write};
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use roster_adapters_db::{Db, SeaOrmStore};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::catalog::Product;
use roster_domain::org::{OrgSettings, Organization};
use roster_domain::ports::Clock as _;
use roster_domain::services::{NewAdmin, NewOrganization, ReconcileReport, RoleAssignment};
use roster_domain::values::{Label, Password, Slug};
use roster_domain::{ServiceError, Services};
use roster_password::Argon2Hasher;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::config::{
    AdminCreateArgs, CommonArgs, DemoDataArgs, OrgCreateArgs, ProductsAddArgs, ReconcileArgs, RolesGrantArgs,
    SeatsSetArgs, TrialSetArgs,
};
use crate::demo_data::{self, DemoSpec};
use crate::server::open_database;
use crate::system::{RandomIds, SystemClock, one_time_password};

/// The services of a command over a freshly migrated database.
struct Operator {
    db: Db,
    services: Services,
}

impl Operator {
    async fn open(common: &CommonArgs) -> anyhow::Result<Self> {
        let db = open_database(&common.database.database_url).await?;
        let services = Services::new(
            Arc::new(SeaOrmStore::new(db.clone())),
            Arc::new(SystemClock),
            Arc::new(RandomIds),
            Arc::new(Argon2Hasher::default()),
        );
        Ok(Self { db, services })
    }

    /// The organization named by `slug`, and the operator acting on it.
    async fn org(&self, slug: &Slug) -> anyhow::Result<(Organization, Actor)> {
        let org = self.services.organization_by_slug(slug).await.with_context(|| format!("organization `{slug}`"))?;
        let actor = Actor::system(org.id, Source::Cli);
        Ok((org, actor))
    }

    async fn close(self) -> anyhow::Result<()> {
        self.db.close().await.context("closing the database")
    }
}

/// Prints `value` as JSON when asked, else `text`.
fn print(out: &mut dyn Write, json_output: bool, value: &Value, text: &str) -> anyhow::Result<()> {
    if json_output {
        writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    } else {
        write!(out, "{text}")?;
    }
    Ok(())
}

/// A refusal of the domain in words for the operator: a validation error says which value was
/// wrong and why (its own message only says that some were).
fn in_words(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Validation(fields) => {
            anyhow!(fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))
        }
        other => anyhow::Error::new(other),
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// `roster org create <slug> [--name] [--seats] [--trial-days]`.
///
/// # Errors
/// The database, or the use case's refusal (`conflict` on a taken slug).
pub async fn org_create(args: OrgCreateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&args.common).await?;
    let name = match args.name {
        Some(name) => name,
        None => Label::parse(args.slug.as_str()).context("the slug as a name")?,
    };
    let settings = OrgSettings { default_seat_limit: args.seats, ..OrgSettings::default() };
    let trial_ends_at = args.trial_days.map(|days| SystemClock.now() + time::Duration::days(i64::from(days)));
    let new = NewOrganization { name, slug: args.slug.clone(), trial_ends_at, settings };
    let org = op
        .services
        .create_organization(Source::Cli, new)
        .await
        .with_context(|| format!("creating organization `{}`", args.slug))?;
    let value = json!({
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "created_at": rfc3339(org.created_at),
        "seats_per_product": org.settings.default_seat_limit,
        "trial_ends_at": org.trial_ends_at.map(rfc3339),
    });
    let trial = org.trial_ends_at.map(|end| format!(", in trial until {}", rfc3339(end))).unwrap_or_default();
    let text = format!(
        "Created organization `{}` ({}) with {} seats per product{trial}.\nNext: roster admin create --org {} --email <email>\n",
        org.slug, org.name, org.settings.default_seat_limit, org.slug
    );
    print(out, args.common.json, &value, &text)?;
    op.close().await
}

/// `roster org list`: every organization with the end of its trial, its billable users and
/// seats.
///
/// # Errors
/// The database.
pub async fn org_list(common: CommonArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&common).await?;
    let mut items = Vec::new();
    let mut text = String::new();
    let orgs = op.services.list_organizations().await.context("listing organizations")?;
    if orgs.is_empty() {
        text.push_str("No organizations yet: roster org create <slug>\n");
    }
    for org in orgs {
        let actor = Actor::system(org.id, Source::Cli);
        let billing = op.services.billing(&actor).await.with_context(|| format!("billing of `{}`", org.slug))?;
        let seats: Vec<String> =
            billing.seats.iter().map(|s| format!("{} {}/{}", s.product, s.seats_used, s.seats_total)).collect();
        let trial =
            org.trial_ends_at.map_or_else(|| "no trial".to_owned(), |end| format!("trial until {}", rfc3339(end)));
        text.push_str(&format!(
            "{}\t{}\t{trial}\t{} billable users\tseats used/total: {}\n",
            org.slug,
            org.name,
            billing.billable_users,
            seats.join(", ")
        ));
        items.push(json!({
            "id": org.id,
            "slug": org.slug,
            "name": org.name,
            "created_at": rfc3339(org.created_at),
            "trial_ends_at": org.trial_ends_at.map(rfc3339),
            "billable_users": billing.billable_users,
            "seats": billing.seats,
        }));
    }
    print(out, common.json, &json!({ "items": items }), &text)?;
    op.close().await
}

/// `roster seats set --org <slug> <product> <n>`.
///
/// # Errors
/// An unknown organization or product, or a total below the seats in use.
pub async fn seats_set(args: SeatsSetArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&args.common).await?;
    let (org, actor) = op.org(&args.org).await?;
    let pool = op.services.set_seats(&actor, &args.product, args.seats).await.with_context(|| {
        format!(
            "setting the seats of `{}` in `{}` to {} (never below the seats in use)",
            args.product, org.slug, args.seats
        )
    })?;
    let value = json!({
        "org": org.slug,
        "product": pool.product(),
        "seats_total": pool.seats_total(),
        "seats_used": pool.seats_used(),
        "seats_available": pool.available(),
    });
    let text = format!(
        "{}: {} now has {} seats ({} used, {} available).\n",
        org.slug,
        pool.product(),
        pool.seats_total(),
        pool.seats_used(),
        pool.available()
    );
    print(out, args.common.json, &value, &text)?;
    op.close().await
}

/// `roster admin create --org <slug> --email <email>`.
///
/// # Errors
/// An unknown organization, a taken email, an unreadable or short password on standard input.
pub async fn admin_create(args: AdminCreateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (password, generated) = match (args.password, args.password_stdin) {
        (Some(p), _) => (p, false),
        (None, true) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
            let line = line.trim_end_matches(['\r', '\n']);
            (crate::config::parse_password(line).map_err(|e| anyhow!("--password-stdin: {e}"))?, false)
        }
        (None, false) => {
            let text = one_time_password();
            (Password::parse(&text).context("the generated password")?, true)
        }
    };
    let op = Operator::open(&args.common).await?;
    let (org, _) = op.org(&args.org).await?;
    let new = NewAdmin {
        org: org.slug.clone(),
        email: args.email.clone(),
        first_name: args.first_name,
        last_name: args.last_name,
        password: password.clone(),
    };
    let admin = op
        .services
        .create_admin(Source::Cli, new)
        .await
        .with_context(|| format!("creating the admin {} in `{}`", args.email, org.slug))?;
    let shown = generated.then(|| password.expose().to_owned());
    let value = json!({
        "org": org.slug,
        "user_id": admin.user.id,
        "email": admin.user.email,
        "generated_password": shown,
    });
    let mut text = format!("Created admin {} in `{}` (user {}).\n", admin.user.email, org.slug, admin.user.id);
    if let Some(p) = &shown {
        text.push_str(&format!("One-time password: {p}\n(shown once; it cannot be read back)\n"));
    }
    print(out, args.common.json, &value, &text)?;
    op.close().await
}

/// `roster trial set --org <slug> (--until <date> | --none)`.
///
/// # Errors
/// An unknown organization, or a time not in the future.
pub async fn trial_set(args: TrialSetArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&args.common).await?;
    let (org, actor) = op.org(&args.org).await?;
    let until = if args.none { None } else { args.until };
    let org = op.services.set_trial(&actor, until).await.map_err(in_words).with_context(|| match until {
        Some(at) => format!("setting the trial of `{}` to end at {}", org.slug, rfc3339(at)),
        None => format!("ending the trial of `{}`", org.slug),
    })?;
    let value = json!({
        "org": org.slug,
        "trial_ends_at": org.trial_ends_at.map(rfc3339),
        "in_trial": org.trial_ends_at.is_some(),
    });
    let text = match org.trial_ends_at {
        Some(end) => format!(
            "{}: in trial until {} (every member is entitled to every product until then).\n",
            org.slug,
            rfc3339(end)
        ),
        None => format!("{}: no trial.\n", org.slug),
    };
    print(out, args.common.json, &value, &text)?;
    op.close().await
}

/// `roster products add --org <slug> <key> --name <name> [--requires <key>…] [--seats n]`.
///
/// # Errors
/// An unknown organization, a key the catalog has, an unknown prerequisite, a cycle.
pub async fn products_add(args: ProductsAddArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&args.common).await?;
    let (org, actor) = op.org(&args.org).await?;
    let product = Product { key: args.key.clone(), name: args.name, requires: args.requires.into_iter().collect() };
    let added = op
        .services
        .add_product(&actor, product, args.seats)
        .await
        .map_err(in_words)
        .with_context(|| format!("adding product `{}` to `{}`", args.key, org.slug))?;
    let product = added.catalog.get(&args.key).context("the product just added")?;
    let requires: Vec<&str> = product.requires.iter().map(|k| k.as_str()).collect();
    let value = json!({
        "org": org.slug,
        "key": product.key,
        "name": product.name,
        "requires": requires,
        "seats_total": added.pool.seats_total(),
    });
    let needs = if requires.is_empty() { String::new() } else { format!(", requiring {}", requires.join(", ")) };
    let text = format!(
        "{}: added product {} ({}){needs}, with {} seats.\n",
        org.slug,
        product.key,
        product.name,
        added.pool.seats_total()
    );
    print(out, args.common.json, &value, &text)?;
    op.close().await
}

/// `roster roles grant --org <slug> --email <e> <role>`.
///
/// # Errors
/// An unknown organization, member or role.
pub async fn roles_grant(args: RolesGrantArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&args.common).await?;
    let (org, actor) = op.org(&args.org).await?;
    let assignment = RoleAssignment::org_wide(args.role.clone());
    let granted = op
        .services
        .grant_role(&actor, &args.email, assignment)
        .await
        .map_err(in_words)
        .with_context(|| format!("granting the {} role to {} in `{}`", args.role, args.email, org.slug))?;
    let user = &granted.details.user;
    let value = json!({
        "org": org.slug,
        "user_id": user.id,
        "email": user.email,
        "role": granted.role.key,
        "granted": granted.newly_granted,
    });
    let text = if granted.newly_granted {
        format!("{}: {} now holds the {} role.\n", org.slug, user.email, granted.role.key)
    } else {
        format!("{}: {} already holds the {} role; nothing changed.\n", org.slug, user.email, granted.role.key)
    };
    print(out, args.common.json, &value, &text)?;
    op.close().await
}

/// `roster reconcile [--org <slug>] [--dry-run]`.
///
/// # Errors
/// The database, or an unknown organization.
pub async fn reconcile(args: ReconcileArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&args.common).await?;
    let orgs = match &args.org {
        Some(slug) => vec![op.org(slug).await?.0],
        None => op.services.list_organizations().await.context("listing organizations")?,
    };
    let repair = !args.dry_run;
    let mut items = Vec::new();
    let mut text = String::new();
    let (mut licenses, mut pools) = (0, 0);
    for org in orgs {
        let actor = Actor::system(org.id, Source::Cli);
        let report: ReconcileReport =
            op.services.reconcile(&actor, repair).await.with_context(|| format!("reconciling `{}`", org.slug))?;
        licenses += report.licenses.len();
        pools += report.seats.len();
        text.push_str(&reconcile_text(&org, &report));
        items.push(json!({ "org": org.slug, "licenses": report.licenses, "seats": report.seats }));
    }
    let verb = if repair { "repaired" } else { "found (dry run: nothing changed)" };
    text.push_str(&format!("{licenses} license(s) and {pools} seat counter(s) {verb}.\n"));
    let value = json!({
        "dry_run": args.dry_run,
        "organizations": items,
        "licenses": licenses,
        "seat_counters": pools,
    });
    print(out, args.common.json, &value, &text)?;
    op.close().await
}

fn reconcile_text(org: &Organization, report: &ReconcileReport) -> String {
    if report.is_clean() {
        return format!("{}: clean\n", org.slug);
    }
    let mut text = format!("{}:\n", org.slug);
    for f in &report.licenses {
        let what = if f.repaired { "released" } else { "held" };
        text.push_str(&format!("  license {} {what}: user {} is {}\n", f.product, f.user_id, f.reason));
    }
    for s in &report.seats {
        let d = &s.drift;
        let what = if s.repaired {
            "set to the count".to_owned()
        } else if !d.repairable() {
            format!("NOT repaired: the rows hold more than the {} seats", d.seats_total)
        } else {
            "would be set to the count".to_owned()
        };
        text.push_str(&format!(
            "  seats of {}: counter {} but assignments and reservations hold {}: {what}\n",
            d.product, d.seats_used, d.counted
        ));
    }
    text
}

/// `roster demo-data --users N [--org demo]`.
///
/// # Errors
/// An existing organization of that slug, the database, or a refused batch.
pub async fn demo_data(args: DemoDataArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = Operator::open(&args.common).await?;
    let (password, generated) = match args.password {
        Some(p) => (p, false),
        None => (Password::parse(&one_time_password()).context("the generated password")?, true),
    };
    let spec = DemoSpec {
        org: args.org.clone(),
        users: args.users,
        connections: args.connections.unwrap_or(args.users),
        seed: args.seed,
        password: password.clone(),
    };
    let report = demo_data::generate(&op.services, &spec, &mut |line| eprintln!("roster demo-data: {line}"))
        .await
        .with_context(|| format!("generating `{}`", args.org))?;
    eprintln!("roster demo-data: updating the database's planner statistics");
    op.db.refresh_planner_statistics().await.context("updating the planner statistics (ANALYZE)")?;
    let shown = generated.then(|| password.expose().to_owned());
    let mut value = serde_json::to_value(&report)?;
    value["generated_password"] = json!(shown);
    let mut text = report.to_text();
    if let Some(p) = &shown {
        text.push_str(&format!("Password of these accounts: {p}\n(shown once; it cannot be read back)\n"));
    }
    print(out, args.common.json, &value, &text)?;
    op.close().await
}
