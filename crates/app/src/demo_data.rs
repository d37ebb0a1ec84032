//! `roster demo-data --users N`: a realistic organization for demos and benchmarks, written
//! through the domain's use cases — the structure one call at a time (organization, groups,
//! roles, flows, seat limits, the admin), the people and their records in chunks through
//! `Services::load_rows` (checked against the seat, lifecycle and group rules, then written
//! with the store's batch writes, one transaction and one audit event per chunk). Decisions:
//! `docs/decisions/0019-cli.md`.
//!
//! Memory stays bounded whatever N is: every generated user is a pure function of the seed, the
//! organization and their index ([`Generator::profile`]), so nothing about users is kept between
//! chunks; a connection recomputes its inviter's profile to stamp it with their teams.
//!
//! Shape: a root, 2–25 regions (depth 2) and 4–1,000 teams (depth 3, about 100 users each), a
//! tenth of them with flows assigned; the ten built-in roles and three custom ones; users 70%
//! active, 6% pending, 6% invited (each with a pending invite reserving Core, sometimes Flow),
//! 8% deactivated, 5% inactive in the CRM (holding nothing: their seats were released, §4.5), 3%
//! revoked, 2% deleted; holders of Core also hold Flow (40%), Dialer (30%) and SMS (30% of those
//! with Dialer); most users in one team, some in two or three, some in none; 1% admins, half of
//! them scoped to their region; seat totals 5% above what is used; connections stamped with
//! their inviter's teams, a few with a cc, some with a flow the stamp allows. The admin and four
//! members (operations, standard, team lead, analyst) get the password.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use roster_domain::Services;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::connections::Connection;
use roster_domain::groups::Membership;
use roster_domain::ids::{ConnectionId, FlowId, GroupId, InviteId, OrgId, RoleId, UserId};
use roster_domain::invites::{Invite, InvitePurpose, TOKEN_LIFETIME, hash_token};
use roster_domain::load::LoadBatch;
use roster_domain::org::OrgSettings;
use roster_domain::ports::Clock as _;
use roster_domain::roles::{Permission, RoleGrant, Visibility};
use roster_domain::seats::{LicenseAssignment, SeatCount};
use roster_domain::services::{NewAdmin, NewOrganization, NewRole};
use roster_domain::user::{InactiveReason, User};
use roster_domain::values::{
    AgentId, CrmId, Email, GroupName, Key, Label, Nicknames, Password, PersonName, Phone, Slug,
};
use serde::Serialize;
use time::{Duration, OffsetDateTime};
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
    let now = crate::system::SystemClock.now();

    // The tree: regions below the root, teams below the regions.
    let teams_total = (spec.users / 100).clamp(4, 1_000) as usize;
    let region_count = teams_total.div_ceil(40).clamp(2, CITIES.len());
    let teams_per_region = teams_total.div_ceil(region_count);
    let mut regions = Vec::with_capacity(region_count);
    let mut teams = Vec::with_capacity(region_count * teams_per_region);
    for city in CITIES.iter().take(region_count) {
        let region = services
            .create_group(&actor, org.root_group_id, GroupName::parse(city).context("a region's name")?)
            .await
            .context("creating a region")?;
        for t in 0..teams_per_region {
            let name = format!("{city} {} {}", FUNCTIONS[t % FUNCTIONS.len()], t / FUNCTIONS.len() + 1);
            let team = services
                .create_group(&actor, region.id, GroupName::parse(&name).context("a team's name")?)
                .await
                .context("creating a team")?;
            teams.push(team.id);
        }
        regions.push(region.id);
    }
    progress(&format!("{} regions and {} teams created", regions.len(), teams.len()));

    // Roles: three custom ones beside the built-in ten.
    for (key, name, permissions, visibility) in [
        (
            "dispatcher",
            "Dispatcher",
            vec![Permission::InviteConnections, Permission::ViewReporting],
            Visibility::Groups,
        ),
        ("auditor", "Auditor", vec![Permission::ViewAudit, Permission::ViewReporting], Visibility::All),
        ("recruiter", "Recruiter", vec![Permission::InviteConnections], Visibility::OwnInvites),
    ] {
        let new = NewRole {
            key: Key::parse(key).context("a role key")?,
            name: Label::parse(name).context("a role name")?,
            permissions: permissions.into_iter().collect(),
            visibility,
        };
        services.create_role(&actor, new).await.with_context(|| format!("creating the role {key}"))?;
    }
    let roles = services.list_roles(&actor).await.context("listing roles")?;
    let role =
        |key: &str| roles.iter().find(|r| r.key.as_str() == key).map(|r| r.id).ok_or_else(|| anyhow!("no role {key}"));
    let picker = RolePicker {
        admin: role("admin")?,
        standard: role("standard")?,
        operations: role("operations")?,
        team_lead: role("team_lead")?,
        analyst: role("analyst")?,
        custom: [role("dispatcher")?, role("auditor")?, role("recruiter")?],
    };

    // Flows: three, two of them assigned to every tenth team (the others accept any flow).
    let mut flows = Vec::new();
    for name in ["Onboarding", "Renewal", "Support"] {
        let flow = services
            .create_flow(&actor, Label::parse(name).context("a flow name")?)
            .await
            .context("creating a flow")?;
        flows.push(flow.id);
    }
    let flows: [FlowId; 3] = flows.try_into().map_err(|_| anyhow!("three flows"))?;
    let flowed: BTreeSet<usize> = (0..teams.len()).step_by(10).collect();
    for t in &flowed {
        services
            .set_group_flows(&actor, teams[*t], BTreeSet::from([flows[0], flows[1]]))
            .await
            .context("assigning flows to a team")?;
    }

    let generator = Generator {
        org_id: org.id,
        domain: format!("{}.example", spec.org),
        n: spec.users,
        seed: spec.seed,
        now,
        regions,
        teams,
        teams_per_region,
        flowed,
        flows,
        roles: picker,
    };

    // Seat limits: what the people will hold and reserve, and 5% more (at least 5).
    let mut demand: BTreeMap<&'static str, u32> = BTreeMap::new();
    // The admin holds no license (§11: they can assign themself one), so they are inactive
    // (`no_license`) like any member who never held Core.
    let mut statuses: BTreeMap<&'static str, u32> = BTreeMap::from([("inactive", 1)]);
    for i in 1..spec.users {
        let p = generator.profile(i);
        *statuses.entry(p.status.name()).or_default() += 1;
        for product in p.products.iter().chain(&p.invite_products) {
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

    let admin_email = format!("admin@{}", generator.domain);
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

    let (mut licenses, mut invites, mut memberships) = (0u64, 0u64, 0u64);
    let mut start = 1;
    while start < spec.users {
        let end = (start + CHUNK).min(spec.users);
        let mut batch = LoadBatch::default();
        for i in start..end {
            generator.user_rows(i, &spec.password, &mut batch)?;
        }
        let loaded =
            services.load_rows(&actor, batch).await.with_context(|| format!("loading users {start}..{end}"))?;
        licenses += loaded.licenses as u64;
        invites += loaded.invites as u64;
        memberships += loaded.memberships as u64;
        if end % 100_000 < CHUNK || end == spec.users {
            progress(&format!("{end} of {} users ({:.1} s)", spec.users, started.elapsed().as_secs_f64()));
        }
        start = end;
    }
    let mut start = 0;
    while start < spec.connections {
        let end = (start + CHUNK).min(spec.connections);
        let mut batch = LoadBatch::default();
        for j in start..end {
            batch.connections.push(generator.connection(j, spec.connections)?);
        }
        services.load_rows(&actor, batch).await.with_context(|| format!("loading connections {start}..{end}"))?;
        if end % 100_000 < CHUNK || end == spec.connections {
            progress(&format!("{end} of {} connections ({:.1} s)", spec.connections, started.elapsed().as_secs_f64()));
        }
        start = end;
    }

    let seats = services.license_counts(&actor).await.context("reading the seats")?;
    let mut accounts = vec![DemoAccount { email: admin_email, role: "admin" }];
    accounts.extend(
        ACCOUNTS.iter().map(|(local, role)| DemoAccount { email: format!("{local}@{}", generator.domain), role }),
    );
    Ok(DemoReport {
        org: spec.org.to_string(),
        org_id: org.id,
        users: spec.users,
        statuses,
        regions: generator.regions.len(),
        teams: generator.teams.len(),
        custom_roles: 3,
        flows: 3,
        licenses,
        invites,
        memberships,
        connections: spec.connections,
        seats,
        accounts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The demo members (users 1–4), each active with a password: local part and role.
const ACCOUNTS: [(&str, &str); 4] =
    [("operations", "operations"), ("standard", "standard"), ("lead", "team_lead"), ("analyst", "analyst")];

const PRODUCTS: [&str; 4] = ["core", "flow", "dialer", "sms"];

const CITIES: [&str; 25] = [
    "Boston",
    "Chicago",
    "Denver",
    "Austin",
    "Seattle",
    "Atlanta",
    "Toronto",
    "Montreal",
    "Mexico City",
    "Sao Paulo",
    "London",
    "Dublin",
    "Paris",
    "Berlin",
    "Madrid",
    "Milan",
    "Amsterdam",
    "Stockholm",
    "Warsaw",
    "Cape Town",
    "Dubai",
    "Mumbai",
    "Singapore",
    "Tokyo",
    "Sydney",
];

const FUNCTIONS: [&str; 5] = ["Sales", "Support", "Onboarding", "Renewals", "Outbound"];

const FIRST_NAMES: [&str; 64] = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Sofia",
    "Emily",
    "Andrew",
    "Michelle",
    "Joshua",
    "Amanda",
    "Kevin",
    "Melissa",
    "Brian",
    "Deborah",
    "Priya",
    "Stephanie",
    "Wei",
    "Rebecca",
    "Ahmed",
    "Laura",
    "Luca",
    "Emma",
    "Hiroshi",
    "Olivia",
    "Mateo",
    "Chloe",
    "Noah",
    "Fatima",
    "Liam",
    "Aisha",
    "Lucas",
    "Ingrid",
    "Omar",
    "Yuki",
    "Pierre",
    "Elena",
    "Diego",
    "Anna",
    "Raj",
    "Grace",
];

const LAST_NAMES: [&str; 64] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Kowalski",
    "Muller",
    "Rossi",
    "Tanaka",
    "Schmidt",
    "Dubois",
    "Singh",
    "Kim",
    "Chen",
    "Okafor",
    "Novak",
    "Larsen",
    "Silva",
    "Haddad",
];

const AREA_CODES: [u16; 8] = [212, 312, 415, 617, 646, 702, 206, 303];

/// `at` truncated to the microsecond, the precision both databases keep (and the clock's).
fn whole_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1000 * 1000).unwrap_or(at)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// A small seeded generator (SplitMix64), as the benchmark's.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut rng = Self(seed);
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// `true` with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// An index skewed towards the front (a few names are common, most are rare).
    fn skewed(&mut self, n: usize) -> usize {
        let (a, b) = (self.below(n), self.below(n));
        a.min(b)
    }
}

/// A generated user's lifecycle, with its share of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Pending,
    Invited,
    Deactivated,
    Inactive,
    Revoked,
    Deleted,
}

impl Status {
    fn pick(rng: &mut Rng) -> Self {
        match rng.below(100) {
            0..70 => Self::Active,
            70..76 => Self::Pending,
            76..82 => Self::Invited,
            82..90 => Self::Deactivated,
            90..95 => Self::Inactive,
            95..98 => Self::Revoked,
            _ => Self::Deleted,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Invited => "invited",
            Self::Deactivated => "deactivated",
            Self::Inactive => "inactive",
            Self::Revoked => "revoked",
            Self::Deleted => "deleted",
        }
    }
}

#[derive(Debug)]
struct RolePicker {
    admin: RoleId,
    standard: RoleId,
    operations: RoleId,
    team_lead: RoleId,
    analyst: RoleId,
    custom: [RoleId; 3],
}

/// What the rows of user `i` are made from, drawn first so that a connection can recompute its
/// inviter's cheaply; `rng` goes on to draw the rest.
#[derive(Debug)]
struct Profile {
    status: Status,
    /// Team indexes.
    teams: Vec<usize>,
    grant: RoleGrant,
    products: Vec<&'static str>,
    invite_products: Vec<&'static str>,
    rng: Rng,
}

#[derive(Debug)]
struct Generator {
    org_id: OrgId,
    domain: String,
    n: u32,
    seed: u64,
    now: OffsetDateTime,
    regions: Vec<GroupId>,
    teams: Vec<GroupId>,
    teams_per_region: usize,
    /// Teams with flows 0 and 1 assigned.
    flowed: BTreeSet<usize>,
    flows: [FlowId; 3],
    roles: RolePicker,
}

impl Generator {
    /// When user `i` was created in the three years of the organization's history (invited
    /// users were invited in the last two weeks).
    fn slot(&self, i: u32) -> OffsetDateTime {
        let span = Duration::days(3 * 365);
        whole_micros(self.now - span + span * (f64::from(i) / f64::from(self.n)))
    }

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

    fn user_id(&self, i: u32) -> UserId {
        UserId::from_uuid(self.id(1, i, self.slot(i)))
    }

    fn profile(&self, i: u32) -> Profile {
        let mut rng = Rng::new(self.seed ^ u64::from(i).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let t = &self.roles;
        // Users 1–4 are the demo members.
        let (status, role) = match i {
            1 => (Status::Active, t.operations),
            2 => (Status::Active, t.standard),
            3 => (Status::Active, t.team_lead),
            4 => (Status::Active, t.analyst),
            _ => {
                let status = Status::pick(&mut rng);
                let role = match rng.below(100) {
                    0..84 => t.standard,
                    84..92 => t.operations,
                    92..95 => t.team_lead,
                    95..99 => t.custom[rng.below(t.custom.len())],
                    _ => t.admin,
                };
                (status, role)
            }
        };
        let how_many = match i {
            1 => 3,
            2 | 3 => 1,
            4 => 0,
            _ if status == Status::Deleted => 0,
            _ => match rng.below(100) {
                0..75 => 1,
                75..82 => 2,
                82..87 => 3,
                _ => 0,
            },
        };
        let mut teams = Vec::with_capacity(how_many);
        if i <= 4 {
            teams.extend(0..how_many);
        }
        while teams.len() < how_many {
            let team = rng.below(self.teams.len());
            if !teams.contains(&team) {
                teams.push(team);
            }
        }
        // Half of the admins are regional admins: scoped to the region of their first team.
        let scope = (role == t.admin && rng.chance(50))
            .then(|| teams.first().map(|team| self.regions[team / self.teams_per_region]))
            .flatten();
        let mut products = Vec::new();
        let mut invite_products = Vec::new();
        if matches!(status, Status::Active | Status::Pending) {
            products.push("core");
            if rng.chance(40) || i == 1 {
                products.push("flow");
            }
            if rng.chance(30) || i == 3 {
                products.push("dialer");
                if rng.chance(30) {
                    products.push("sms");
                }
            }
        }
        if status == Status::Invited {
            invite_products.push("core");
            if rng.chance(30) {
                invite_products.push("flow");
            }
        }
        Profile { status, teams, grant: RoleGrant { role_id: role, scope }, products, invite_products, rng }
    }

    /// The rows of user `i` (1..n): the user, their licenses, memberships, invite, password.
    fn user_rows(&self, i: u32, password: &Password, batch: &mut LoadBatch) -> anyhow::Result<()> {
        let Profile { status, teams, grant, products, invite_products, mut rng } = self.profile(i);
        let org = self.org_id;
        let (first, last) = (FIRST_NAMES[rng.skewed(FIRST_NAMES.len())], LAST_NAMES[rng.skewed(LAST_NAMES.len())]);
        let local = match i {
            1..=4 => ACCOUNTS[(i - 1) as usize].0.to_owned(),
            _ => format!("{}.{}{i}", first.to_lowercase(), last.to_lowercase()),
        };
        let email = format!("{local}@{}", self.domain);
        let created_at = if status == Status::Invited {
            self.now - Duration::minutes(i64::try_from(rng.below(14 * 24 * 60))? + 1)
        } else {
            self.slot(i)
        };
        let mut user = User::new(
            self.user_id(i),
            org,
            Email::parse(&email).with_context(|| format!("generated email {email}"))?,
            PersonName::parse(first).context("a first name")?,
            PersonName::parse(last).context("a last name")?,
            BTreeSet::from([grant]),
            created_at,
        );
        if rng.chance(60) {
            let phone = format!("+1{}{i:07}", AREA_CODES[rng.below(AREA_CODES.len())]);
            user.phone = Some(Phone::parse(&phone).with_context(|| format!("generated phone {phone}"))?);
        }
        if rng.chance(10) {
            user.nicknames = Nicknames::parse([&first[..first.len().min(3)]]).context("a nickname")?;
        }
        if rng.chance(50) {
            user.crm_id = Some(CrmId::parse(&format!("005{i:012}")).context("a CRM id")?);
        }
        if rng.chance(30) {
            user.agent_id = Some(AgentId::parse(&format!("AG{i:07}")).context("an agent id")?);
        }
        let later = |days: i64| (created_at + Duration::days(days)).min(self.now);
        let l = &mut user.lifecycle;
        l.ever_held_core = !matches!(status, Status::Invited);
        l.crm_connected = !matches!(status, Status::Pending | Status::Invited);
        l.mailbox_connected = l.crm_connected;
        match status {
            Status::Invited => l.invited = true,
            Status::Deactivated => l.deactivated_at = Some(later(30)),
            Status::Inactive => {
                l.inactive_reasons.insert(InactiveReason::InactiveInCrm);
            }
            Status::Deleted => l.deleted_at = Some(later(60)),
            Status::Active | Status::Pending | Status::Revoked => {}
        }
        if i <= 4 {
            user.has_password = true;
            batch.passwords.push((user.id, password.clone()));
        }
        for product in products {
            batch.licenses.push(LicenseAssignment {
                org_id: org,
                user_id: user.id,
                product: Key::parse(product).context("a product")?,
                assigned_at: created_at,
            });
        }
        for team in teams {
            batch.memberships.push(Membership {
                org_id: org,
                group_id: self.teams[team],
                user_id: user.id,
                joined_at: created_at,
                left_at: None,
            });
        }
        if status == Status::Invited {
            let token = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
            batch.invites.push(Invite {
                id: InviteId::from_uuid(self.id(3, i, self.slot(i))),
                org_id: org,
                user_id: user.id,
                purpose: InvitePurpose::Member,
                products: invite_products
                    .iter()
                    .map(|p| Key::parse(p))
                    .collect::<Result<_, _>>()
                    .context("a product")?,
                token_hash: hash_token(&token),
                expires_at: created_at + TOKEN_LIFETIME,
                created_by: None,
                created_at,
                accepted_at: None,
            });
        }
        batch.users.push(user);
        Ok(())
    }

    /// Connection `j` of `m`, created over the last year, invited by a member who is neither
    /// invited nor deleted and stamped with that member's teams.
    fn connection(&self, j: u32, m: u32) -> anyhow::Result<Connection> {
        let mut rng = Rng::new(self.seed ^ 0xC0FF_EE00 ^ u64::from(j).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let year = Duration::days(365);
        let at = whole_micros(self.now - year + (year - Duration::minutes(1)) * (f64::from(j) / f64::from(m.max(1))));
        let (inviter, stamp) = loop {
            let k = 1 + u32::try_from(rng.below(usize::try_from(self.n - 1)?))?;
            let p = self.profile(k);
            if !matches!(p.status, Status::Invited | Status::Deleted) {
                break (k, p.teams);
            }
        };
        let mut cc = BTreeSet::new();
        if rng.chance(5) {
            for _ in 0..=rng.below(2) {
                let k = 1 + u32::try_from(rng.below(usize::try_from(self.n - 1)?))?;
                if k != inviter && self.profile(k).status != Status::Deleted {
                    cc.insert(self.user_id(k));
                }
            }
        }
        let flow_id = rng.chance(40).then(|| {
            let allowed = if stamp.iter().any(|t| self.flowed.contains(t)) { 2 } else { 3 };
            self.flows[rng.below(allowed)]
        });
        let name =
            format!("{} {}", FIRST_NAMES[rng.skewed(FIRST_NAMES.len())], LAST_NAMES[rng.skewed(LAST_NAMES.len())]);
        let domains = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"];
        let email = format!("{}.{j}@{}", name.to_lowercase().replace(' ', "."), domains[rng.skewed(domains.len())]);
        Ok(Connection {
            id: ConnectionId::from_uuid(self.id(2, j, at)),
            org_id: self.org_id,
            email: Email::parse(&email).with_context(|| format!("generated email {email}"))?,
            name: PersonName::parse(&name).context("a connection's name")?,
            flow_id,
            inviter_id: self.user_id(inviter),
            groups: stamp.iter().map(|t| self.teams[*t]).collect(),
            cc,
            via_api_key: None,
            user_token_hash: roster_domain::invites::hash_token(&format!(
                "ut_{:016x}{:016x}",
                rng.next_u64(),
                rng.next_u64()
            )),
            created_at: at,
        })
    }
}
