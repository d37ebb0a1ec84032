//! The benchmark's organization: one customer shaped like a real one, planned by the test kit's
//! seeded generator (`roster_testkit::generator::OrgPlan`, which describes the shape) and
//! written through the product's own store (`SeaOrmStore` → `Tx`) in large chunks, one
//! transaction per chunk, so the data is exactly what the product would have written.
//!
//! What the benchmark sets on the plan: a fixed tree of [`REGIONS`] depth-2 groups and
//! [`TEAMS_PER_REGION`] depth-3 teams under each (§5 caps the depth at 3, root included) whatever
//! `n`; synthetic names (many distinct last names, so a name search is selective) and a few
//! company domains; person 0 is the visibility query's viewer (operations, three teams), person
//! 1 the importing admin; `n` users and `n` connections; seat pools large enough for the data
//! and the import; no flows. Generation streams: every row is a pure function of the seed and
//! its index (ids included), so nothing is kept between chunks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::anyhow;
use roster_adapters_db::SeaOrmStore;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::connections::Connection;
use roster_domain::groups::{Group, GroupTree, Membership};
use roster_domain::ids::{ConnectionId, GroupId, OrgId, RoleId, UserId};
use roster_domain::org::OrgSettings;
use roster_domain::ports::{ConnectionRepository, GroupRepository, LicenseRepository, RoleRepository, UserRepository};
use roster_domain::roles::Role;
use roster_domain::seats::LicenseAssignment;
use roster_domain::services::{NewOrganization, Services};
use roster_domain::user::User;
use roster_domain::values::{GroupName, Key, Label, Slug};
use roster_testkit::generator::{CUSTOM_ROLES, NameStyle, OrgPlan, Pinned, Rng, RoleChoice, RoleIds, Status};
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

const DOMAINS: [&str; 5] = ["acme-corp.com", "globex.io", "initech.net", "umbrella.org", "hooli.xyz"];

/// Person 0, the visibility query's viewer, and person 1, the importing admin: both active.
const PINNED: [Pinned; 2] = [
    Pinned { local_part: None, role: RoleChoice::Operations, teams: 3, products: &["core"] },
    Pinned { local_part: None, role: RoleChoice::Admin, teams: 1, products: &["core"] },
];

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
    let people = u32::try_from(n)?;
    let mut plan = OrgPlan::new(seed, people, NOW);
    plan.set_tree(REGIONS, TEAMS_PER_REGION);
    plan.names = NameStyle::Synthetic;
    plan.email_domains = DOMAINS.iter().map(|d| (*d).to_owned()).collect();
    plan.pinned = PINNED.to_vec();
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
    for custom in CUSTOM_ROLES {
        let role = Role {
            id: RoleId::from_uuid(rng.uuid()),
            org_id,
            key: parse("key", custom.key, Key::parse)?,
            name: parse("label", custom.name, Label::parse)?,
            permissions: custom.permissions.iter().copied().collect(),
            visibility: custom.visibility,
            assignable: true,
            builtin: false,
        };
        tx.insert_role(&role).await?;
    }
    let roles = tx.roles(org_id).await?;
    let mut groups = tx.groups(org_id).await?;
    let created = NOW - Duration::days(3 * 365);
    let group = |rng: &mut Rng, parent_id, name: &str, depth| -> anyhow::Result<Group> {
        Ok(Group {
            id: GroupId::from_uuid(rng.uuid()),
            org_id,
            parent_id: Some(parent_id),
            name: parse("group name", name, GroupName::parse)?,
            depth,
            deleted_at: None,
            created_at: created,
            version: 1,
        })
    };
    let mut regions = Vec::with_capacity(plan.regions.len());
    for name in &plan.regions {
        let region = group(&mut rng, org.root_group_id, name, 2)?;
        tx.insert_group(&region).await?;
        regions.push(region.id);
        groups.push(region);
    }
    let mut teams = Vec::with_capacity(plan.teams.len());
    for planned in &plan.teams {
        let team = group(&mut rng, regions[planned.region], &planned.name, 3)?;
        tx.insert_group(&team).await?;
        teams.push(team.id);
        groups.push(team);
    }
    tx.commit().await?;
    let tree = GroupTree::new(groups);
    let role_ids = RoleIds::find(&roles).map_err(|key| anyhow!("no role {key}"))?;
    let mut rows_written = 0;
    let (mut viewer, mut admin, mut active) = (None, None, 0);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mut chunk = UserChunk::default();
        for k in start as u32..end as u32 {
            let person = plan.person(k);
            let rows = person.rows(org_id, user_id(seed, k), &role_ids, &plan, &regions, &teams)?;
            let mut user = rows.user;
            user.has_password = !user.lifecycle.invited;
            active += usize::from(person.sketch.status == Status::Active);
            match k {
                0 => viewer = Some(user.clone()),
                1 => admin = Some(user.clone()),
                _ => {}
            }
            chunk.users.push(user);
            chunk.licenses.extend(rows.licenses);
            chunk.memberships.extend(rows.memberships);
        }
        rows_written += chunk.write(store, org_id).await?;
        start = end;
    }
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mut connections = Vec::with_capacity(end - start);
        for j in start as u32..end as u32 {
            let id = ConnectionId::from_uuid(ordered_id(seed, 2, j));
            connections.push(plan.connection(j).connection(id, org_id, |k| user_id(seed, k), &teams, &[])?);
        }
        rows_written += write_connections(store, &connections).await?;
        start = end;
    }
    let viewer = viewer.ok_or_else(|| anyhow!("at least two users are needed"))?;
    let admin = admin.ok_or_else(|| anyhow!("at least two users are needed"))?;
    let team_set = |k: u32| plan.sketch(k).teams.iter().map(|t| teams[*t]).collect::<BTreeSet<_>>();
    Ok(Org {
        id: org_id,
        viewer_groups: team_set(0),
        admin_groups: team_set(1),
        roles,
        tree,
        viewer,
        admin,
        active,
        // The plan spreads the connections over the last year, the last a minute before now.
        first_connection_at: NOW - Duration::days(365),
        last_connection_at: NOW - Duration::minutes(1),
        rows_written,
    })
}

/// An id that sorts after every earlier id of the same `kind` (`index` increasing), as the
/// product's time-ordered UUIDv7 ids do (rows are appended to the end of their primary-key
/// index instead of landing at random places in it); a pure function of the seed, so a
/// connection names its inviter without a table of ids.
fn ordered_id(seed: u64, kind: u8, index: u32) -> Uuid {
    Rng::for_item(seed, u64::from(kind), u64::from(index)).ordered_id(kind, index as usize)
}

/// Person `k`'s user id.
fn user_id(seed: u64, k: u32) -> UserId {
    UserId::from_uuid(ordered_id(seed, 1, k))
}

/// One transaction's worth of users with their licenses and memberships.
#[derive(Default)]
struct UserChunk {
    users: Vec<User>,
    licenses: Vec<LicenseAssignment>,
    memberships: Vec<Membership>,
}

impl UserChunk {
    /// Writes the chunk in one transaction with the port's batch methods: users, licenses
    /// (taking their seats, one `take_seats(n)` per product), memberships.
    async fn write(self, store: &SeaOrmStore, org_id: OrgId) -> anyhow::Result<u64> {
        let mut tx = store.begin_tx().await?;
        let mut per_product: BTreeMap<&Key, u32> = BTreeMap::new();
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
