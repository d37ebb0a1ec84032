//! `roster demo-data --users N`: a realistic organization for demos and benchmarks, written
//! through the domain's use cases — the structure one call at a time (organization, groups,
//! roles, flows, seat limits, the admin), the people and their records in chunks through
//! `Services::load_rows` (checked against the seat, lifecycle and group rules, then written
//! with the store's batch writes, one transaction and one audit event per chunk). Decisions:
//! `docs/decisions/0019-cli.md`.
//!
//! What is generated is the test kit's organization plan (`roster_testkit::generator::OrgPlan`,
//! which describes the shape): every person and connection is a pure function of the seed and
//! their index, so memory stays bounded whatever N is. The admin is created through
//! `create_admin` beside the plan's people; the plan's first four people are the demo members
//! (operations, standard, team lead, analyst), who get the password with the admin. Seat totals
//! are 5% above what is used.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use roster_domain::Services;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ids::{ConnectionId, FlowId, GroupId, InviteId, OrgId, UserId};
use roster_domain::invites::{Invite, InvitePurpose, TOKEN_LIFETIME, hash_token};
use roster_domain::load::LoadBatch;
use roster_domain::org::OrgSettings;
use roster_domain::ports::Clock as _;
use roster_domain::seats::SeatCount;
use roster_domain::services::{NewAdmin, NewOrganization, NewRole};
use roster_domain::values::{Email, GroupName, Key, Label, Password, PersonName, Slug};
use roster_testkit::generator::{
    CUSTOM_ROLES, FLOWS, FLOWS_OF_A_FLOWED_TEAM, OrgPlan, PRODUCTS, Pinned, RoleChoice, RoleIds, Status, capitalized,
    whole_micros,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Users (or connections) per `load_rows` call: one transaction each.
pub const CHUNK: u32 = 5_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    /// The new organization (it must not exist).
    pub org: Slug,
    /// Users in all, the admin included (at least 10).
    pub users: u32,
    pub connections: u32,
    pub seed: u64,
    /// The password of the admin and the demo members.
    pub password: Password,
}

/// A generated organization, as `demo-data` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub org: String,
    pub org_id: OrgId,
    pub users: u32,
    /// Users by status (§3.1).
    pub statuses: BTreeMap<&'static str, u32>,
    pub regions: usize,
    pub teams: usize,
    pub custom_roles: usize,
    pub flows: usize,
    pub licenses: u64,
    pub invites: u64,
    pub memberships: u64,
    pub connections: u32,
    pub seats: Vec<SeatCount>,
    /// The accounts that can log in, with their role.
    pub accounts: Vec<DemoAccount>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoAccount {
    pub email: String,
    pub role: &'static str,
}

impl DemoReport {
    /// The human-readable summary.
    pub fn to_text(&self) -> String {
        let statuses: Vec<String> = self.statuses.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let seats: Vec<String> =
            self.seats.iter().map(|s| format!("{} {}/{}", s.product, s.seats_used, s.seats_total)).collect();
        let mut text = format!(
            "Generated organization `{}` in {:.1} s:\n  {} users: {}\n  {} regions, {} teams; {} custom roles; {} flows\n  {} licenses, {} pending invites, {} memberships, {} connections\n  seats used/total: {}\nLog in to `{}` as:\n",
            self.org,
            self.seconds,
            self.users,
            statuses.join(", "),
            self.regions,
            self.teams,
            self.custom_roles,
            self.flows,
            self.licenses,
            self.invites,
            self.memberships,
            self.connections,
            seats.join(", "),
            self.org,
        );
        for a in &self.accounts {
            text.push_str(&format!("  {} ({})\n", a.email, a.role));
        }
        text
    }
}

/// Generates the organization; `progress` receives a line now and then.
///
/// # Errors
/// An organization with that slug exists; a use case refused (which would be a bug of the
/// generator: the message names the row); the database.
pub async fn generate(
    services: &Services,
    spec: &DemoSpec,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    if spec.users < 10 {
        bail!("--users: at least 10");
    }
    if services.organization_by_slug(&spec.org).await.is_ok() {
        bail!(
            "organization `{}` already exists: demo-data creates a new organization (choose another with --org)",
            spec.org
        );
    }
    let name = Label::parse(&format!("{} Inc.", capitalized(spec.org.as_str()))).context("the organization's name")?;
    let org = services
        .create_organization(
            Source::Cli,
            NewOrganization { name, slug: spec.org.clone(), trial_ends_at: None, settings: OrgSettings::default() },
        )
        .await
        .context("creating the organization")?;
    let actor = Actor::system(org.id, Source::Cli);
    let domain = format!("{}.example", spec.org);
    // The plan's people are everyone but the admin, who is created through `create_admin`.
    let mut plan = OrgPlan::new(spec.seed, spec.users - 1, whole_micros(crate::system::SystemClock.now()));
    plan.connections = spec.connections;
    plan.email_domains = vec![domain.clone()];
    plan.pinned = MEMBERS.to_vec();

    // The tree: regions below the root, teams below the regions.
    let mut regions = Vec::with_capacity(plan.regions.len());
    for city in &plan.regions {
        let region = services
            .create_group(&actor, org.root_group_id, GroupName::parse(city).context("a region's name")?)
            .await
            .context("creating a region")?;
        regions.push(region.id);
    }
    let mut teams = Vec::with_capacity(plan.teams.len());
    for team in &plan.teams {
        let group = services
            .create_group(&actor, regions[team.region], GroupName::parse(&team.name).context("a team's name")?)
            .await
            .context("creating a team")?;
        teams.push(group.id);
    }
    progress(&format!("{} regions and {} teams created", regions.len(), teams.len()));

    // Roles: the custom ones beside the built-in ten.
    for role in CUSTOM_ROLES {
        let new = NewRole {
            key: Key::parse(role.key).context("a role key")?,
            name: Label::parse(role.name).context("a role name")?,
            permissions: role.permissions.iter().copied().collect(),
            visibility: role.visibility,
        };
        services.create_role(&actor, new).await.with_context(|| format!("creating the role {}", role.key))?;
    }
    let roles = services.list_roles(&actor).await.context("listing roles")?;
    let roles = RoleIds::find(&roles).map_err(|key| anyhow!("no role {key}"))?;

    // Flows, the first ones assigned to the teams the plan says (the others accept any flow).
    let mut flows = Vec::new();
    for name in FLOWS {
        let flow = services
            .create_flow(&actor, Label::parse(name).context("a flow name")?)
            .await
            .context("creating a flow")?;
        flows.push(flow.id);
    }
    let assigned: BTreeSet<FlowId> = flows.iter().take(FLOWS_OF_A_FLOWED_TEAM).copied().collect();
    for (team, id) in plan.teams.iter().zip(&teams) {
        if team.flowed {
            services.set_group_flows(&actor, *id, assigned.clone()).await.context("assigning flows to a team")?;
        }
    }

    // Seat limits: what the people will hold and reserve, and 5% more (at least 5).
    let mut demand: BTreeMap<&'static str, u32> = BTreeMap::new();
    // The admin holds no license (§11: they can assign themself one), so they are inactive
    // (`no_license`) like any member who never held Core.
    let mut statuses: BTreeMap<&'static str, u32> = BTreeMap::from([("inactive", 1)]);
    for k in 0..plan.people {
        let sketch = plan.sketch(k);
        *statuses.entry(sketch.status.name()).or_default() += 1;
        for product in sketch.products.iter().chain(&sketch.invite_products) {
            *demand.entry(product).or_default() += 1;
        }
    }
    for product in PRODUCTS {
        let used = demand.get(product).copied().unwrap_or(0);
        let total = used + (used / 20).max(5);
        services
            .set_seats(&actor, &Key::parse(product).context("a product")?, total)
            .await
            .with_context(|| format!("setting the seats of {product}"))?;
    }

    let admin_email = format!("admin@{domain}");
    services
        .create_admin(
            Source::Cli,
            NewAdmin {
                org: spec.org.clone(),
                email: Email::parse(&admin_email).context("the admin's email")?,
                first_name: PersonName::parse("Avery").context("a name")?,
                last_name: PersonName::parse("Admin").context("a name")?,
                password: spec.password.clone(),
            },
        )
        .await
        .context("creating the admin")?;

    let ids = Ids { org_id: org.id, plan: &plan };
    let (mut licenses, mut invites, mut memberships) = (0u64, 0u64, 0u64);
    let mut start = 0;
    while start < plan.people {
        let end = (start + CHUNK).min(plan.people);
        let mut batch = LoadBatch::default();
        for k in start..end {
            person_rows(&ids, k, &roles, &regions, &teams, &spec.password, &mut batch)?;
        }
        let loaded = services
            .load_rows(&actor, batch)
            .await
            .with_context(|| format!("loading users {}..{}", start + 1, end + 1))?;
        licenses += loaded.licenses as u64;
        invites += loaded.invites as u64;
        memberships += loaded.memberships as u64;
        let done = end + 1;
        if done % 100_000 < CHUNK || done == spec.users {
            progress(&format!("{done} of {} users ({:.1} s)", spec.users, started.elapsed().as_secs_f64()));
        }
        start = end;
    }
    let mut start = 0;
    while start < spec.connections {
        let end = (start + CHUNK).min(spec.connections);
        let mut batch = LoadBatch::default();
        for j in start..end {
            let mut planned = plan.connection(j);
            planned.token = ids.token(&planned.token);
            let id = ConnectionId::from_uuid(ids.id(2, j, planned.created_at));
            let connection = planned
                .connection(id, org.id, |k| ids.user(k), &teams, &flows)
                .with_context(|| format!("connection {j}"))?;
            batch.connections.push(connection);
        }
        services.load_rows(&actor, batch).await.with_context(|| format!("loading connections {start}..{end}"))?;
        if end % 100_000 < CHUNK || end == spec.connections {
            progress(&format!("{end} of {} connections ({:.1} s)", spec.connections, started.elapsed().as_secs_f64()));
        }
        start = end;
    }

    let seats = services.license_counts(&actor).await.context("reading the seats")?;
    let mut accounts = vec![DemoAccount { email: admin_email, role: "admin" }];
    accounts.extend(MEMBERS.iter().zip(ROLE_NAMES).filter_map(|(member, role)| {
        member.local_part.map(|local| DemoAccount { email: format!("{local}@{domain}"), role })
    }));
    Ok(DemoReport {
        org: spec.org.to_string(),
        org_id: org.id,
        users: spec.users,
        statuses,
        regions: regions.len(),
        teams: teams.len(),
        custom_roles: CUSTOM_ROLES.len(),
        flows: flows.len(),
        licenses,
        invites,
        memberships,
        connections: spec.connections,
        seats,
        accounts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The demo members (the plan's first four people), each active with a password.
const MEMBERS: [Pinned; 4] = [
    Pinned { local_part: Some("operations"), role: RoleChoice::Operations, teams: 3, products: &["core", "flow"] },
    Pinned { local_part: Some("standard"), role: RoleChoice::Standard, teams: 1, products: &["core"] },
    Pinned { local_part: Some("lead"), role: RoleChoice::TeamLead, teams: 1, products: &["core", "dialer"] },
    Pinned { local_part: Some("analyst"), role: RoleChoice::Analyst, teams: 0, products: &["core"] },
];
/// The roles of [`MEMBERS`], as the report names them.
const ROLE_NAMES: [&str; 4] = ["operations", "standard", "team_lead", "analyst"];

/// The ids of the generated rows.
#[derive(Debug)]
struct Ids<'a> {
    org_id: OrgId,
    plan: &'a OrgPlan,
}

impl Ids<'_> {
    /// A time-ordered (UUIDv7) id at `at`: kind, four bytes of the organization's id and the
    /// index fill the random part, so ids are unique across kinds, organizations and indexes.
    fn id(&self, kind: u8, index: u32, at: OffsetDateTime) -> Uuid {
        let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let org = self.org_id.as_uuid();
        let o = &org.as_bytes()[12..16];
        let i = index.to_be_bytes();
        // The builder keeps the low 4 bits of byte 0 and the low 6 of byte 2 (the version and
        // variant take the rest), the other bytes whole.
        let bytes = [kind & 0x0f, i[0], 0, o[0], o[1], o[2], o[3], i[1], i[2], i[3]];
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }

    /// Person `k`'s user id.
    fn user(&self, k: u32) -> UserId {
        UserId::from_uuid(self.id(1, k, self.plan.slot(k)))
    }

    /// A plan's token made this organization's: the plan draws the same tokens for the same
    /// seed, and an invite's token hash is unique across organizations.
    fn token(&self, planned: &str) -> String {
        format!("{planned}-{}", self.org_id)
    }
}

/// The rows of the plan's person `k`: the user, their licenses, memberships, invite and (for
/// the demo members) password.
fn person_rows(
    ids: &Ids<'_>,
    k: u32,
    roles: &RoleIds,
    regions: &[GroupId],
    teams: &[GroupId],
    password: &Password,
    batch: &mut LoadBatch,
) -> anyhow::Result<()> {
    let plan = ids.plan;
    let person = plan.person(k);
    let rows =
        person.rows(ids.org_id, ids.user(k), roles, plan, regions, teams).with_context(|| format!("user {k}"))?;
    let mut user = rows.user;
    if (k as usize) < plan.pinned.len() {
        user.has_password = true;
        batch.passwords.push((user.id, password.clone()));
    }
    if let (Status::Invited, Some(token)) = (person.sketch.status, &person.invite_token) {
        batch.invites.push(Invite {
            id: InviteId::from_uuid(ids.id(3, k, plan.slot(k))),
            org_id: ids.org_id,
            user_id: user.id,
            purpose: InvitePurpose::Member,
            products: person
                .sketch
                .invite_products
                .iter()
                .map(|p| Key::parse(p))
                .collect::<Result<_, _>>()
                .context("a product")?,
            group_ids: Default::default(),
            token_hash: hash_token(&ids.token(token)),
            expires_at: person.created_at + TOKEN_LIFETIME,
            created_by: None,
            created_at: person.created_at,
            accepted_at: None,
        });
    }
    batch.users.push(user);
    batch.licenses.extend(rows.licenses);
    batch.memberships.extend(rows.memberships);
    Ok(())
}
