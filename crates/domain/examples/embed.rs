//! Embedding Roster's domain in your own Rust service.
//!
//! `roster-domain` holds the rules and the use cases; you give it a store (here SQLite in memory
//! through `roster-adapters-db`), a clock, a source of ids and secrets, and a password hasher
//! (`roster-password`), then call the use cases on [`Services`]. Every call takes an [`Actor`] —
//! who acts, with which authority — and runs in one transaction of the store.
//!
//! Run it with `cargo run -p roster-domain --example embed`. It creates an organization and its
//! first admin as the operator would, signs the admin in, adds a member with a Core license, and
//! lists the organization's users with their status.

#![allow(clippy::print_stdout, reason = "the example shows its results on standard output")]

use std::collections::BTreeSet;
use std::sync::Arc;

use roster_adapters_db::{SeaOrmStore, connect, migrate};
use roster_domain::audit::Source;
use roster_domain::org::OrgSettings;
use roster_domain::ports::{Clock, IdGenerator};
use roster_domain::services::{LoginAttempt, NewAdmin, NewOrganization, NewUser, Services, SettingsPatch};
use roster_domain::users_query::UserQuery;
use roster_domain::values::{Email, Key, Label, Nicknames, Password, PersonName, Slug};
use roster_password::Argon2Hasher;
use time::OffsetDateTime;
use uuid::Uuid;

/// The system clock. The domain never reads the time itself: every "now" comes from this port,
/// which is what lets the tests run the rules at any instant.
struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "an embedder's Clock adapter reads the system clock")]
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        // Whole microseconds: what both databases store.
        now.replace_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now)
    }
}

/// Ids sorted by creation (UUIDv7) and 256-bit secrets for tokens, from the OS's randomness.
struct RandomIds;

impl IdGenerator for RandomIds {
    fn uuid(&self) -> Uuid {
        Uuid::now_v7()
    }

    fn secret(&self) -> String {
        rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Wire the ports. `migrate` creates the schema; PostgreSQL works the same with a
    //    `postgres://` URL.
    let db = connect("sqlite::memory:").await?;
    migrate(&db).await?;
    let services = Services::new(
        Arc::new(SeaOrmStore::new(db.clone())),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        Arc::new(Argon2Hasher::default()),
    );

    // 2. The operator's use cases: an organization with the default catalog and seats, and its
    //    first admin.
    let org = services
        .create_organization(
            Source::Cli,
            NewOrganization {
                name: Label::parse("Acme Inc.")?,
                slug: Slug::parse("acme")?,
                trial_ends_at: None,
                settings: OrgSettings::default(),
            },
        )
        .await?;
    let password = Password::parse("correct horse battery staple")?;
    services
        .create_admin(
            Source::Cli,
            NewAdmin {
                org: org.slug.clone(),
                email: Email::parse("grace@acme.example")?,
                first_name: PersonName::parse("Grace")?,
                last_name: PersonName::parse("Hopper")?,
                password: password.clone(),
            },
        )
        .await?;
    println!("organization {} ({}) created with its first admin", org.name, org.slug);

    // 3. A member signs in; the token authenticates later calls as an `Actor` with the
    //    member's current authority.
    let logged_in = services
        .log_in(&LoginAttempt {
            org: org.slug.clone(),
            email: Email::parse("grace@acme.example")?,
            password,
            address: "127.0.0.1".to_owned(),
            source: Source::Api,
        })
        .await?;
    let actor = services.authenticate(&logged_in.token, Source::Api).await?.actor;
    println!("{} signed in", logged_in.user.display_name());

    // 4. The admin adds a member holding a Core license: the seat is taken in the same
    //    transaction, under the organization's seat limit.
    let ada = services
        .create_user(
            &actor,
            NewUser {
                email: Email::parse("ada@acme.example")?,
                first_name: PersonName::parse("Ada")?,
                last_name: PersonName::parse("Lovelace")?,
                phone: None,
                nicknames: Nicknames::empty(),
                agent_id: None,
                crm_id: None,
                agent_ring_number: None,
                dialer_number: None,
                settings: SettingsPatch::default(),
                roles: vec![Key::parse("standard")?],
                group_ids: Vec::new(),
                products: BTreeSet::from([Key::parse("core")?]),
                password: None,
            },
        )
        .await?;
    let products: Vec<&str> = ada.products.iter().map(Key::as_str).collect();
    println!("{} added, holding {}", ada.user.label(), products.join(", "));

    // 5. The Users table: each row with the status derived from the member's facts.
    let page = services.list_users(&actor, UserQuery::new(org.id)).await?;
    println!("{} users:", page.items.len());
    for row in &page.items {
        // The status as the API writes it: `active`, `pending`, `invited`, `inactive` with its
        // reasons, …
        let status = serde_json::to_value(&row.status)?;
        let reasons: Vec<&str> =
            status["reasons"].as_array().into_iter().flatten().filter_map(|r| r.as_str()).collect();
        let reasons = if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) };
        println!("  {:<36} {}{reasons}", row.user.label(), status["status"].as_str().unwrap_or_default());
    }
    Ok(())
}
