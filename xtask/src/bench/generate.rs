//! The benchmark's organization: one customer shaped like a real one, generated from a seed and
//! written through the product's own store (`SeaOrmStore` → `Tx`) in large chunks, one
//! transaction per chunk, so the data is exactly what the product would have written.
//!
//! Shape (for `n` users): the default catalog (core, flow, dialer, sms) with seat pools large
//! enough for the data and the import; the ten built-in roles plus three custom ones; a group
//! tree of the root, [`REGIONS`] depth-2 groups and [`TEAMS_PER_REGION`] depth-3 teams under each
//! (§5 caps the depth at 3, root included); `n` users with a realistic mix of statuses (see
//! [`Status`]), names, emails, phones, nicknames, CRM and agent ids, memberships (most users in
//! one team, some in two or three, some in none) and licenses; then `n` connections, each
//! invited by a member who is neither an invitee nor deleted and stamped with that inviter's
//! teams, a few with a cc. Generation streams: only the users' ids
//! and team indexes (a few bytes each) stay in memory between chunks.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use roster_adapters_db::SeaOrmStore;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::connections::Connection;
use roster_domain::groups::{Group, GroupTree, Membership};
use roster_domain::ids::{ConnectionId, GroupId, OrgId, RoleId, UserId};
use roster_domain::org::OrgSettings;
use roster_domain::ports::{ConnectionRepository, GroupRepository, LicenseRepository, RoleRepository, UserRepository};
use roster_domain::roles::{Permission, Role, RoleGrant, Visibility};
use roster_domain::seats::LicenseAssignment;
use roster_domain::services::{NewOrganization, Services};
use roster_domain::user::{InactiveReason, User};
use roster_domain::values::{AgentId, CrmId, Email, GroupName, Key, Label, Nicknames, PersonName, Phone, Slug};
use roster_testkit::{FakeHasher, ManualClock, SequentialIds};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Depth-2 groups under the root.
pub(crate) const REGIONS: usize = 25;
/// Depth-3 teams under each region: 1,000 teams in all, about 1,000 users each at 1M users.
pub(crate) const TEAMS_PER_REGION: usize = 40;
/// Users (and connections) written per transaction.
const CHUNK: usize = 5_000;
/// The instant the benchmark's clock stands at: every generated time is before it.
pub(crate) const NOW: OffsetDateTime = time::macros::datetime!(2026-11-01 09:00:00 UTC);

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same organization.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        // The modulo bias is far below anything a benchmark could notice.
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// `true` with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A random (version 4 shaped) UUID.
    pub(crate) fn uuid(&mut self) -> Uuid {
        let bytes = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        uuid::Builder::from_random_bytes(bytes.to_be_bytes()).into_uuid()
    }

    /// An id that sorts after every earlier id of the same `kind` (`n` increasing), as the
    /// product's time-ordered UUIDv7 ids do: rows are appended to the end of their primary-key
    /// index instead of landing at random places in it.
    pub(crate) fn ordered_id(&mut self, kind: u8, n: usize) -> Uuid {
        Uuid::from_u64_pair((u64::from(kind) << 56) | n as u64, self.next_u64())
    }

    /// An index into a list of `n` items, skewed towards the front (a few names are common,
    /// most are rare, as in a real directory).
    pub(crate) fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "ro", "len", "mar", "ti", "son", "ber", "ga", "lo", "vin", "da", "rek", "sa", "mi", "tor", "el", "an", "bru",
    "ne", "ha", "ric", "os", "wen", "ju",
];

/// A synthetic name of `parts` syllables, capitalized ("Marlenson").
fn name_of(mut index: usize, parts: usize) -> String {
    let mut out = String::new();
    for _ in 0..parts {
        out.push_str(SYLLABLES[index % SYLLABLES.len()]);
        index /= SYLLABLES.len();
    }
    let mut chars = out.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// Distinct first names (two syllables) and last names (three syllables).
pub(crate) const FIRST_NAMES: usize = SYLLABLES.len() * SYLLABLES.len();
pub(crate) const LAST_NAMES: usize = SYLLABLES.len() * SYLLABLES.len() * SYLLABLES.len();

pub(crate) fn first_name(index: usize) -> String {
    name_of(index, 2)
}

pub(crate) fn last_name(index: usize) -> String {
    name_of(index, 3)
}

const DOMAINS: [&str; 5] = ["acme-corp.com", "globex.io", "initech.net", "umbrella.org", "hooli.xyz"];

/// The lifecycle a generated user is in, with its share of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// 70%: Core held, CRM and mailbox connected.
    Active,
    /// 6%: Core held, not yet connected to the CRM.
    Pending,
    /// 6%: an invite not accepted yet, no license.
    Invited,
    /// 8%: deactivated, licenses returned.
    Deactivated,
    /// 5%: Core held, marked inactive in the CRM.
    Inactive,
    /// 3%: once held Core, holds none now.
    Revoked,
    /// 2%: deleted.
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
}

/// What the measurements need to know about the generated organization.
#[derive(Debug)]
pub(crate) struct Org {
    pub(crate) id: OrgId,
    pub(crate) roles: Vec<Role>,
    pub(crate) tree: GroupTree,
    /// An active member with the `operations` role in three teams (the visibility query's viewer).
    pub(crate) viewer: User,
    pub(crate) viewer_groups: BTreeSet<GroupId>,
    /// An active org-wide admin (who runs the import).
    pub(crate) admin: User,
    pub(crate) admin_groups: BTreeSet<GroupId>,
    /// How many generated users are active (the status filter's matches).
    pub(crate) active: usize,
    /// The span of the connections' `created_at`.
    pub(crate) first_connection_at: OffsetDateTime,
    pub(crate) last_connection_at: OffsetDateTime,
    /// Rows written, by table family (for the generation summary).
    pub(crate) rows_written: u64,
}

impl Org {
    /// The resolved authority of `user` with its `groups` in this organization.
    pub(crate) fn actor(&self, user: &User, groups: &BTreeSet<GroupId>) -> Actor {
        Actor::for_user(user, &self.roles, groups.clone(), &self.tree, Source::Console, None)
    }

    pub(crate) fn role(&self, key: &str) -> anyhow::Result<RoleId> {
        self.roles.iter().find(|r| r.key.as_str() == key).map(|r| r.id).ok_or_else(|| anyhow!("no role {key}"))
    }
}

/// The services over `store` with the benchmark's clock and ids (also used by the import).
pub(crate) fn services(store: &SeaOrmStore) -> Services {
    Services::new(
        Arc::new(store.clone()),
        Arc::new(ManualClock::new(NOW)),
        Arc::new(SequentialIds::new()),
        Arc::new(FakeHasher),
    )
}

fn parse<T, E: std::fmt::Display>(what: &str, value: &str, f: impl FnOnce(&str) -> Result<T, E>) -> anyhow::Result<T> {
    f(value).map_err(|e| anyhow!("generated {what} `{value}` is invalid: {e}"))
}

/// Creates the organization through `create_organization`, then its roles and groups, seat
/// totals for `seats` users, `n` users and `n` connections.
pub(crate) async fn generate(store: &SeaOrmStore, n: usize, seats: u32, seed: u64) -> anyhow::Result<Org> {
    let mut rng = Rng::new(seed);
    let services = services(store);
    let settings = OrgSettings { default_seat_limit: seats, ..OrgSettings::default() };
    let org = services
        .create_organization(
            Source::Cli,
            NewOrganization {
                name: parse("label", "Benchmark Customer", Label::parse)?,
                slug: parse("slug", "bench-customer", Slug::parse)?,
                trial_ends_at: None,
                settings,
            },
        )
        .await
        .map_err(|e| anyhow!("create_organization: {e}"))?;
    let org_id = org.id;
    let mut tx = store.begin_tx().await?;
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
        let role = Role {
            id: RoleId::from_uuid(rng.uuid()),
            org_id,
            key: parse("key", key, Key::parse)?,
            name: parse("label", name, Label::parse)?,
            permissions: permissions.into_iter().collect(),
            visibility,
            assignable: true,
            builtin: false,
        };
        tx.insert_role(&role).await?;
    }
    let roles = tx.roles(org_id).await?;
    let mut groups = tx.groups(org_id).await?;
    let mut teams = Vec::with_capacity(REGIONS * TEAMS_PER_REGION);
    let created = NOW - Duration::days(3 * 365);
    for r in 0..REGIONS {
        let region = Group {
            id: GroupId::from_uuid(rng.uuid()),
            org_id,
            parent_id: Some(org.root_group_id),
            name: parse("group name", &format!("Region {}", last_name(r * 7 + 3)), GroupName::parse)?,
            depth: 2,
            deleted_at: None,
            created_at: created,
            version: 1,
        };
        tx.insert_group(&region).await?;
        for t in 0..TEAMS_PER_REGION {
            let team = Group {
                id: GroupId::from_uuid(rng.uuid()),
                org_id,
                parent_id: Some(region.id),
                name: parse("group name", &format!("Team {} {t}", first_name(t * 5 + r)), GroupName::parse)?,
                depth: 3,
                deleted_at: None,
                created_at: created,
                version: 1,
            };
            tx.insert_group(&team).await?;
            teams.push(team.id);
            groups.push(team);
        }
        groups.push(region);
    }
    tx.commit().await?;
    let tree = GroupTree::new(groups);
    let roles_by_key = |key: &str| roles.iter().find(|r| r.key.as_str() == key).map(|r| r.id);
    let pick = RolePicker {
        standard: roles_by_key("standard").context("the built-in role standard")?,
        operations: roles_by_key("operations").context("the built-in role operations")?,
        team_lead: roles_by_key("team_lead").context("the built-in role team_lead")?,
        admin: roles_by_key("admin").context("the built-in role admin")?,
        custom: ["dispatcher", "auditor", "recruiter"].iter().filter_map(|k| roles_by_key(k)).collect(),
    };
    let mut people =
        People { ids: Vec::with_capacity(n), teams: Vec::with_capacity(n), inviters: Vec::new(), active: 0 };
    let mut rows_written = 0;
    let mut viewer = None;
    let mut admin = None;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mut chunk = UserChunk::default();
        for i in start..end {
            let user = user_row(&mut rng, org_id, i, n, &pick, &teams, &mut people, &mut chunk)?;
            if i == 0 {
                viewer = Some(user.clone());
            } else if i == 1 {
                admin = Some(user.clone());
            }
            chunk.users.push(user);
        }
        rows_written += chunk.write(store, org_id).await?;
        start = end;
    }
    let (first_connection_at, last_connection_at) = (NOW - Duration::days(365), NOW - Duration::minutes(1));
    let span = (last_connection_at - first_connection_at).whole_microseconds();
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mut connections = Vec::with_capacity(end - start);
        for i in start..end {
            let offset = span * i as i128 / n.max(1) as i128;
            let at = first_connection_at + Duration::microseconds(i64::try_from(offset).unwrap_or(0));
            connections.push(connection_row(&mut rng, org_id, i, at, &teams, &people)?);
        }
        rows_written += write_connections(store, &connections).await?;
        start = end;
    }
    let viewer = viewer.context("at least two users are needed")?;
    let admin = admin.context("at least two users are needed")?;
    let team_set = |i: usize| people.teams[i].iter().map(|t| teams[usize::from(*t)]).collect::<BTreeSet<_>>();
    Ok(Org {
        id: org_id,
        viewer_groups: team_set(0),
        admin_groups: team_set(1),
        roles,
        tree,
        viewer,
        admin,
        active: people.active,
        first_connection_at,
        last_connection_at,
        rows_written,
    })
}

/// The role ids users are given.
struct RolePicker {
    standard: RoleId,
    operations: RoleId,
    team_lead: RoleId,
    admin: RoleId,
    custom: Vec<RoleId>,
}

/// What connections need to know about the users once they are written: ids, and each one's
/// teams (indexes into `Org::teams`), for the inviter's stamp.
struct People {
    ids: Vec<UserId>,
    teams: Vec<Vec<u16>>,
    /// The users who can have invited someone (not an invitee, not deleted), by index.
    inviters: Vec<u32>,
    active: usize,
}

/// One transaction's worth of users with their licenses and memberships.
#[derive(Default)]
struct UserChunk {
    users: Vec<User>,
    licenses: Vec<LicenseAssignment>,
    memberships: Vec<Membership>,
}

#[allow(clippy::too_many_arguments, reason = "one generated row needs all of this context")]
fn user_row(
    rng: &mut Rng,
    org_id: OrgId,
    i: usize,
    n: usize,
    roles: &RolePicker,
    teams: &[GroupId],
    people: &mut People,
    chunk: &mut UserChunk,
) -> anyhow::Result<User> {
    // User 0 is the visibility query's viewer, user 1 the importing admin: both active.
    let status = if i < 2 { Status::Active } else { Status::pick(rng) };
    let (first, last) = (first_name(rng.skewed(FIRST_NAMES)), last_name(rng.skewed(LAST_NAMES)));
    let domain = DOMAINS[rng.skewed(DOMAINS.len())];
    let email = format!("{}.{}.{i}@{domain}", first.to_lowercase(), last.to_lowercase());
    let span = 3 * 365 * 24 * 3600;
    let created_at = NOW - Duration::days(3 * 365) + Duration::seconds(i64::try_from(span * i / n.max(1))?);
    let role = match i {
        0 => roles.operations,
        1 => roles.admin,
        _ => match rng.below(100) {
            0..84 => roles.standard,
            84..92 => roles.operations,
            92..95 => roles.team_lead,
            95..99 => roles.custom[rng.below(roles.custom.len())],
            _ => roles.admin,
        },
    };
    let grants = BTreeSet::from([RoleGrant { role_id: role, scope: None }]);
    let mut user = User::new(
        UserId::from_uuid(rng.ordered_id(1, i)),
        org_id,
        parse("email", &email, Email::parse)?,
        parse("name", &first, PersonName::parse)?,
        parse("name", &last, PersonName::parse)?,
        grants,
        created_at,
    );
    if rng.chance(60) {
        user.phone = Some(parse("phone", &format!("+1555{i:07}"), Phone::parse)?);
    }
    if rng.chance(10) {
        user.nicknames = parse("nicknames", &first[..first.len().min(4)], |s| Nicknames::parse([s]))?;
    }
    if rng.chance(50) {
        user.crm_id = Some(parse("CRM id", &format!("003{i:012}"), CrmId::parse)?);
    }
    if rng.chance(30) {
        user.agent_id = Some(parse("agent id", &format!("AG{i:07}"), AgentId::parse)?);
    }
    let l = &mut user.lifecycle;
    let holds_core = matches!(status, Status::Active | Status::Pending | Status::Inactive);
    l.ever_held_core = holds_core || matches!(status, Status::Revoked | Status::Deactivated | Status::Deleted);
    l.crm_connected = status != Status::Pending && status != Status::Invited;
    l.mailbox_connected = l.crm_connected;
    match status {
        Status::Invited => l.invited = true,
        Status::Deactivated => l.deactivated_at = Some(created_at + Duration::days(30)),
        Status::Inactive => {
            l.inactive_reasons.insert(InactiveReason::InactiveInCrm);
        }
        Status::Deleted => l.deleted_at = Some(created_at + Duration::days(60)),
        Status::Active | Status::Pending | Status::Revoked => {}
    }
    user.has_password = !l.invited;
    if status == Status::Active {
        people.active += 1;
    }
    if holds_core {
        let mut products = vec!["core"];
        if rng.chance(40) {
            products.push("flow");
        }
        if rng.chance(30) {
            products.push("dialer");
            if rng.chance(30) {
                products.push("sms");
            }
        }
        for product in products {
            chunk.licenses.push(LicenseAssignment {
                org_id,
                user_id: user.id,
                product: parse("key", product, Key::parse)?,
                assigned_at: created_at,
            });
        }
    }
    let how_many = if i == 0 {
        3
    } else {
        match rng.below(100) {
            0..75 => 1,
            75..82 => 2,
            82..87 => 3,
            _ => 0,
        }
    };
    let mut mine: Vec<u16> = Vec::with_capacity(how_many);
    while mine.len() < how_many && status != Status::Deleted {
        let t = u16::try_from(rng.below(teams.len()))?;
        if !mine.contains(&t) {
            mine.push(t);
        }
    }
    for t in &mine {
        chunk.memberships.push(Membership {
            org_id,
            group_id: teams[usize::from(*t)],
            user_id: user.id,
            joined_at: created_at,
            left_at: None,
        });
    }
    if !matches!(status, Status::Invited | Status::Deleted) {
        people.inviters.push(u32::try_from(i)?);
    }
    people.ids.push(user.id);
    people.teams.push(mine);
    Ok(user)
}

fn connection_row(
    rng: &mut Rng,
    org_id: OrgId,
    i: usize,
    at: OffsetDateTime,
    teams: &[GroupId],
    people: &People,
) -> anyhow::Result<Connection> {
    let inviter = people.inviters[rng.below(people.inviters.len())] as usize;
    let mut cc = BTreeSet::new();
    if rng.chance(5) {
        for _ in 0..=rng.below(2) {
            cc.insert(people.ids[rng.below(people.ids.len())]);
        }
    }
    let name = format!("{} {}", first_name(rng.skewed(FIRST_NAMES)), last_name(rng.skewed(LAST_NAMES)));
    Ok(Connection {
        id: ConnectionId::from_uuid(rng.ordered_id(2, i)),
        org_id,
        email: parse("email", &format!("client{i}@example.org"), Email::parse)?,
        name: parse("name", &name, PersonName::parse)?,
        flow_id: None,
        inviter_id: people.ids[inviter],
        groups: people.teams[inviter].iter().map(|t| teams[usize::from(*t)]).collect(),
        cc,
        via_api_key: None,
        user_token_hash: format!("tok-{:016x}", rng.next_u64()),
        created_at: at,
    })
}

impl UserChunk {
    /// Writes the chunk in one transaction with the port's batch methods: users, licenses
    /// (taking their seats, one `take_seats(n)` per product), memberships.
    async fn write(self, store: &SeaOrmStore, org_id: OrgId) -> anyhow::Result<u64> {
        let mut tx = store.begin_tx().await?;
        let mut per_product: std::collections::BTreeMap<&Key, u32> = std::collections::BTreeMap::new();
        for license in &self.licenses {
            *per_product.entry(&license.product).or_default() += 1;
        }
        for (product, count) in per_product {
            tx.take_seats(org_id, product, count).await?;
        }
        tx.insert_users(&self.users).await?;
        tx.insert_licenses(&self.licenses).await?;
        tx.insert_memberships(&self.memberships).await?;
        tx.commit().await?;
        let roles: usize = self.users.iter().map(|u| u.roles.len()).sum();
        Ok(u64::try_from(self.users.len() + roles + self.licenses.len() + self.memberships.len())?)
    }
}

/// Writes connections (with their stamp and cc rows) in one transaction, with the port's batch
/// method.
async fn write_connections(store: &SeaOrmStore, connections: &[Connection]) -> anyhow::Result<u64> {
    let mut tx = store.begin_tx().await?;
    tx.insert_connections(connections).await?;
    tx.commit().await?;
    let sets: usize = connections.iter().map(|c| c.groups.len() + c.cc.len()).sum();
    Ok(u64::try_from(connections.len() + sets)?)
}
