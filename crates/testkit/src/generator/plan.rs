//! The plan of a realistic organization, as plain data: its group tree, its people (status,
//! role, teams, licenses, names, contact details) and its connections. Every person and every
//! connection is a pure function of the seed and its index, so a caller streams millions of
//! them in chunks without keeping any, and recomputes one (an inviter) when it needs it.
//!
//! Shape: a root, regions (depth 2, one per city) and teams (depth 3), a tenth of the teams
//! with two of the three flows assigned; the ten built-in roles and [`CUSTOM_ROLES`]; people
//! 70% active, 6% pending, 6% invited, 8% deactivated, 5% inactive in the CRM, 3% revoked, 2%
//! deleted ([`Status`]); holders of Core also hold Flow (40%), Dialer (30%) and SMS (30% of
//! those with Dialer); invitees have an invite reserving Core (sometimes Flow); most people in
//! one team, some in two or three, some in none; 1% admins, half of them scoped to their
//! region; connections invited by a member who is neither invited nor deleted, stamped with
//! that member's teams, a few with a cc, some with a flow the stamp allows.
//!
//! The plan names roles, teams, regions, flows and people by index; [`PersonPlan::rows`] and
//! [`ConnectionPlan::connection`] turn them into the domain's values once the caller knows
//! their ids.

use std::collections::BTreeSet;

use roster_domain::connections::Connection;
use roster_domain::groups::Membership;
use roster_domain::ids::{ConnectionId, FlowId, GroupId, OrgId, RoleId, UserId};
use roster_domain::invites::hash_token;
use roster_domain::roles::{Permission, Role, RoleGrant, Visibility};
use roster_domain::seats::LicenseAssignment;
use roster_domain::user::{InactiveReason, User};
use roster_domain::values::{AgentId, CrmId, Email, Key, Nicknames, PersonName, Phone};
use time::{Duration, OffsetDateTime};

use super::Rng;
use super::names::{
    AREA_CODES, CITIES, FIRST_NAMES, FUNCTIONS, LAST_NAMES, MAIL_PROVIDERS, SYNTHETIC_FIRST_NAMES,
    SYNTHETIC_LAST_NAMES, synthetic_first_name, synthetic_last_name,
};

/// The products of the default catalog.
pub const PRODUCTS: [&str; 4] = ["core", "flow", "dialer", "sms"];

/// A role the organization adds beside the built-in ones.
#[derive(Debug, Clone, Copy)]
pub struct CustomRole {
    pub key: &'static str,
    pub name: &'static str,
    pub permissions: &'static [Permission],
    pub visibility: Visibility,
}

/// The three custom roles of a generated organization.
pub const CUSTOM_ROLES: [CustomRole; 3] = [
    CustomRole {
        key: "dispatcher",
        name: "Dispatcher",
        permissions: &[Permission::InviteConnections, Permission::ViewReporting],
        visibility: Visibility::Groups,
    },
    CustomRole {
        key: "auditor",
        name: "Auditor",
        permissions: &[Permission::ViewAudit, Permission::ViewReporting],
        visibility: Visibility::All,
    },
    CustomRole {
        key: "recruiter",
        name: "Recruiter",
        permissions: &[Permission::InviteConnections],
        visibility: Visibility::OwnInvites,
    },
];

/// Flows per organization; teams with flows have the first [`FLOWS_OF_A_FLOWED_TEAM`].
pub const FLOWS: [&str; 3] = ["Onboarding", "Renewal", "Support"];
pub const FLOWS_OF_A_FLOWED_TEAM: usize = 2;

/// A generated person's lifecycle, with its share of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 70%: Core held, CRM and mailbox connected.
    Active,
    /// 6%: Core held, not yet connected to the CRM.
    Pending,
    /// 6%: an invite not accepted yet, no license.
    Invited,
    /// 8%: deactivated, licenses returned.
    Deactivated,
    /// 5%: inactive in the CRM, holding nothing (their seats were released, §4.5).
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

    /// The status's name in the Users table (§3.1).
    pub fn name(self) -> &'static str {
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

    /// Whether a person in this status can have invited a connection.
    pub fn can_invite(self) -> bool {
        !matches!(self, Self::Invited | Self::Deleted)
    }
}

/// Which role a person is given: 84% standard, 8% operations, 3% team lead, 4% a custom role,
/// 1% admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChoice {
    Standard,
    Operations,
    TeamLead,
    Analyst,
    Admin,
    /// An index into [`CUSTOM_ROLES`].
    Custom(usize),
}

impl RoleChoice {
    fn pick(rng: &mut Rng) -> Self {
        match rng.below(100) {
            0..84 => Self::Standard,
            84..92 => Self::Operations,
            92..95 => Self::TeamLead,
            95..99 => Self::Custom(rng.below(CUSTOM_ROLES.len())),
            _ => Self::Admin,
        }
    }
}

/// The ids of the roles a plan hands out, once the organization has them.
#[derive(Debug, Clone)]
pub struct RoleIds {
    pub standard: RoleId,
    pub operations: RoleId,
    pub team_lead: RoleId,
    pub analyst: RoleId,
    pub admin: RoleId,
    pub custom: [RoleId; 3],
}

impl RoleIds {
    /// Finds the built-in roles and [`CUSTOM_ROLES`] among `roles` by key; `Err` names the
    /// first one missing.
    pub fn find(roles: &[Role]) -> Result<Self, String> {
        let id = |key: &str| roles.iter().find(|r| r.key.as_str() == key).map(|r| r.id).ok_or_else(|| key.to_owned());
        Ok(Self {
            standard: id("standard")?,
            operations: id("operations")?,
            team_lead: id("team_lead")?,
            analyst: id("analyst")?,
            admin: id("admin")?,
            custom: [id(CUSTOM_ROLES[0].key)?, id(CUSTOM_ROLES[1].key)?, id(CUSTOM_ROLES[2].key)?],
        })
    }

    pub fn id(&self, choice: RoleChoice) -> RoleId {
        match choice {
            RoleChoice::Standard => self.standard,
            RoleChoice::Operations => self.operations,
            RoleChoice::TeamLead => self.team_lead,
            RoleChoice::Analyst => self.analyst,
            RoleChoice::Admin => self.admin,
            RoleChoice::Custom(i) => self.custom[i % self.custom.len()],
        }
    }
}

/// How people are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameStyle {
    /// Real first and last names (64 of each): what a demo shows.
    Common,
    /// Synthetic names, hundreds of first and thousands of last names: selective searches over
    /// a million people, as a benchmark needs.
    Synthetic,
}

impl NameStyle {
    /// A first and a last name, skewed towards the common ones.
    pub fn draw(self, rng: &mut Rng) -> (String, String) {
        match self {
            Self::Common => (
                FIRST_NAMES[rng.skewed(FIRST_NAMES.len())].to_owned(),
                LAST_NAMES[rng.skewed(LAST_NAMES.len())].to_owned(),
            ),
            Self::Synthetic => (
                synthetic_first_name(rng.skewed(SYNTHETIC_FIRST_NAMES)),
                synthetic_last_name(rng.skewed(SYNTHETIC_LAST_NAMES)),
            ),
        }
    }
}

/// A person whose status, role, teams and products the caller fixes (a demo account, the
/// benchmark's viewer): always active, in the first `teams` teams.
#[derive(Debug, Clone, Copy)]
pub struct Pinned {
    /// The local part of their email (`None`: generated like anyone's).
    pub local_part: Option<&'static str>,
    pub role: RoleChoice,
    pub teams: usize,
    pub products: &'static [&'static str],
}

/// A team: a depth-3 group under region `region`.
#[derive(Debug, Clone)]
pub struct TeamPlan {
    pub name: String,
    pub region: usize,
    /// Whether the team has the first [`FLOWS_OF_A_FLOWED_TEAM`] flows assigned.
    pub flowed: bool,
}

/// What a person's rows are drawn from, before any string: cheap to recompute (a connection
/// recomputes its inviter's).
#[derive(Debug, Clone)]
pub struct Sketch {
    pub status: Status,
    pub role: RoleChoice,
    /// For an admin: scoped to the region of their first team.
    pub regional: bool,
    /// Indexes into [`OrgPlan::teams`].
    pub teams: Vec<usize>,
    pub products: Vec<&'static str>,
    /// What a pending invite reserves (invitees only).
    pub invite_products: Vec<&'static str>,
}

/// Person number `index` of a plan.
#[derive(Debug, Clone)]
pub struct PersonPlan {
    pub index: u32,
    pub sketch: Sketch,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub phone: Option<String>,
    pub nickname: Option<String>,
    pub crm_id: Option<String>,
    pub agent_id: Option<String>,
    /// The raw token of an invitee's pending invite. Like everything in the plan it depends
    /// only on the seed and the index: a caller writing several organizations from one seed
    /// makes it each organization's own (tokens are unique across organizations).
    pub invite_token: Option<String>,
}

/// A person's rows in the domain's types.
#[derive(Debug, Clone)]
pub struct PersonRows {
    pub user: User,
    pub licenses: Vec<LicenseAssignment>,
    pub memberships: Vec<Membership>,
}

/// Connection number `index` of a plan.
#[derive(Debug, Clone)]
pub struct ConnectionPlan {
    pub index: u32,
    /// The inviting person's index; the connection is stamped with their teams.
    pub inviter: u32,
    pub stamp: Vec<usize>,
    /// People copied, by index.
    pub cc: BTreeSet<u32>,
    /// An index into [`FLOWS`], one the stamp allows.
    pub flow: Option<usize>,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    /// The raw user token (stored hashed); see [`PersonPlan::invite_token`] on several
    /// organizations from one seed.
    pub token: String,
}

/// A generated value the domain refused: a bug of the generator.
#[derive(Debug, Clone, thiserror::Error)]
#[error("generated {what} `{value}` is invalid: {reason}")]
pub struct InvalidValue {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

fn parse<T, E: std::fmt::Display>(
    what: &'static str,
    value: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, InvalidValue> {
    f(value).map_err(|e| InvalidValue { what, value: value.to_owned(), reason: e.to_string() })
}

const PEOPLE: u64 = 0x5045_4f50_4c45;
const CONNECTIONS: u64 = 0xC0FF_EE00;

/// The plan of one organization: [`OrgPlan::new`], adjusted through its public fields.
#[derive(Debug, Clone)]
pub struct OrgPlan {
    pub seed: u64,
    /// People, numbered `0..people`.
    pub people: u32,
    /// Connections, numbered `0..connections`.
    pub connections: u32,
    /// Every generated time is before this instant; people were created over the three years
    /// before it, connections over the last year.
    pub now: OffsetDateTime,
    pub regions: Vec<String>,
    pub teams: Vec<TeamPlan>,
    pub names: NameStyle,
    /// Email domains, the first most common.
    pub email_domains: Vec<String>,
    /// People `0..pinned.len()`.
    pub pinned: Vec<Pinned>,
}

impl OrgPlan {
    /// An organization of `people` people and as many connections, sized like a real one:
    /// about 100 people a team (4 to 1,000 teams), up to 40 teams a region (2 to 25 regions).
    pub fn new(seed: u64, people: u32, now: OffsetDateTime) -> Self {
        let teams = (people / 100).clamp(4, 1_000) as usize;
        let regions = teams.div_ceil(40).clamp(2, CITIES.len());
        let mut plan = Self {
            seed,
            people,
            connections: people,
            now,
            regions: Vec::new(),
            teams: Vec::new(),
            names: NameStyle::Common,
            email_domains: vec!["example.com".to_owned()],
            pinned: Vec::new(),
        };
        plan.set_tree(regions, teams.div_ceil(regions));
        plan
    }

    /// Replaces the tree with `regions` regions (at most 25) of `teams_per_region` teams each.
    pub fn set_tree(&mut self, regions: usize, teams_per_region: usize) {
        self.regions = CITIES.iter().take(regions).map(|c| (*c).to_owned()).collect();
        self.teams = (0..self.regions.len() * teams_per_region)
            .map(|t| {
                let (region, k) = (t / teams_per_region, t % teams_per_region);
                let name =
                    format!("{} {} {}", self.regions[region], FUNCTIONS[k % FUNCTIONS.len()], k / FUNCTIONS.len() + 1);
                TeamPlan { name, region, flowed: t % 10 == 0 }
            })
            .collect();
    }

    /// Person `i`'s place in the organization's history: spread over the three years before
    /// `now`, in index order. It is when they were created, except for invitees (invited in
    /// the last two weeks); time-ordered ids can be built from it.
    pub fn slot(&self, i: u32) -> OffsetDateTime {
        let span = Duration::days(3 * 365);
        whole_micros(self.now - span + span * (f64::from(i) / f64::from(self.people.max(1))))
    }

    /// Person `i`'s status, role, teams and products.
    pub fn sketch(&self, i: u32) -> Sketch {
        self.sketch_with(i, &mut self.person_rng(i))
    }

    fn person_rng(&self, i: u32) -> Rng {
        Rng::for_item(self.seed, PEOPLE, u64::from(i))
    }

    fn sketch_with(&self, i: u32, rng: &mut Rng) -> Sketch {
        if let Some(pin) = self.pinned.get(i as usize) {
            return Sketch {
                status: Status::Active,
                role: pin.role,
                regional: false,
                teams: (0..pin.teams.min(self.teams.len())).collect(),
                products: pin.products.to_vec(),
                invite_products: Vec::new(),
            };
        }
        let status = Status::pick(rng);
        let role = RoleChoice::pick(rng);
        let how_many = match (status, rng.below(100)) {
            (Status::Deleted, _) => 0,
            (_, 0..75) => 1,
            (_, 75..82) => 2,
            (_, 82..87) => 3,
            _ => 0,
        };
        let mut teams = Vec::with_capacity(how_many);
        while teams.len() < how_many.min(self.teams.len()) {
            let team = rng.below(self.teams.len());
            if !teams.contains(&team) {
                teams.push(team);
            }
        }
        let regional = role == RoleChoice::Admin && !teams.is_empty() && rng.chance(50);
        let mut products = Vec::new();
        if matches!(status, Status::Active | Status::Pending) {
            products.push("core");
            if rng.chance(40) {
                products.push("flow");
            }
            if rng.chance(30) {
                products.push("dialer");
                if rng.chance(30) {
                    products.push("sms");
                }
            }
        }
        let mut invite_products = Vec::new();
        if status == Status::Invited {
            invite_products.push("core");
            if rng.chance(30) {
                invite_products.push("flow");
            }
        }
        Sketch { status, role, regional, teams, products, invite_products }
    }

    /// Person `i` (`< people`).
    pub fn person(&self, i: u32) -> PersonPlan {
        let mut rng = self.person_rng(i);
        let sketch = self.sketch_with(i, &mut rng);
        let (first_name, last_name) = self.names.draw(&mut rng);
        let domain = &self.email_domains[rng.skewed(self.email_domains.len())];
        let local = match self.pinned.get(i as usize).and_then(|p| p.local_part) {
            Some(local) => local.to_owned(),
            None => format!("{}.{}.{i}", first_name.to_lowercase(), last_name.to_lowercase()),
        };
        let created_at = if sketch.status == Status::Invited {
            // Invitees were invited in the last two weeks.
            let minutes = i64::try_from(rng.below(14 * 24 * 60)).unwrap_or(0) + 1;
            self.now - Duration::minutes(minutes)
        } else {
            self.slot(i)
        };
        let phone = rng.chance(60).then(|| format!("+1{}{i:07}", AREA_CODES[rng.below(AREA_CODES.len())]));
        let nickname = rng.chance(10).then(|| first_name[..first_name.len().min(3)].to_owned());
        let crm_id = rng.chance(50).then(|| format!("005{i:012}"));
        let agent_id = rng.chance(30).then(|| format!("AG{i:07}"));
        let invite_token =
            (sketch.status == Status::Invited).then(|| format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()));
        PersonPlan {
            index: i,
            sketch,
            email: format!("{local}@{domain}"),
            first_name,
            last_name,
            created_at,
            phone,
            nickname,
            crm_id,
            agent_id,
            invite_token,
        }
    }

    /// Connection `j` (`< connections`): created over the last year in index order, invited by
    /// a person who can invite (people `0..people` must include one).
    pub fn connection(&self, j: u32) -> ConnectionPlan {
        let mut rng = Rng::for_item(self.seed, CONNECTIONS, u64::from(j));
        let year = Duration::days(365);
        let share = f64::from(j) / f64::from(self.connections.max(1));
        let created_at = whole_micros(self.now - year + (year - Duration::minutes(1)) * share);
        let draw = |rng: &mut Rng| u32::try_from(rng.below(self.people as usize)).unwrap_or(0);
        let (inviter, stamp) = loop {
            let k = draw(&mut rng);
            let sketch = self.sketch(k);
            if sketch.status.can_invite() {
                break (k, sketch.teams);
            }
        };
        let mut cc = BTreeSet::new();
        if rng.chance(5) {
            for _ in 0..=rng.below(2) {
                let k = draw(&mut rng);
                if k != inviter && self.sketch(k).status != Status::Deleted {
                    cc.insert(k);
                }
            }
        }
        let flow = rng.chance(40).then(|| {
            let flowed = stamp.iter().any(|t| self.teams[*t].flowed);
            rng.below(if flowed { FLOWS_OF_A_FLOWED_TEAM } else { FLOWS.len() })
        });
        let (first, last) = self.names.draw(&mut rng);
        let provider = MAIL_PROVIDERS[rng.skewed(MAIL_PROVIDERS.len())];
        let email = format!("{}.{}.{j}@{provider}", first.to_lowercase(), last.to_lowercase());
        let token = format!("ut_{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        ConnectionPlan { index: j, inviter, stamp, cc, flow, name: format!("{first} {last}"), email, created_at, token }
    }
}

impl PersonPlan {
    /// The person's user, licenses and memberships, for `user_id` in `org_id`; `regions` and
    /// `teams` are the ids of the plan's regions and teams, in order. `has_password` is left
    /// `false`: whether a person can log in is the caller's choice.
    ///
    /// # Errors
    /// A generated value the domain refuses (a bug of the generator).
    pub fn rows(
        &self,
        org_id: OrgId,
        user_id: UserId,
        roles: &RoleIds,
        plan: &OrgPlan,
        regions: &[GroupId],
        teams: &[GroupId],
    ) -> Result<PersonRows, InvalidValue> {
        let s = &self.sketch;
        let scope = s.regional.then(|| s.teams.first().map(|t| regions[plan.teams[*t].region])).flatten();
        let grant = RoleGrant { role_id: roles.id(s.role), scope };
        let mut user = User::new(
            user_id,
            org_id,
            parse("email", &self.email, Email::parse)?,
            parse("first name", &self.first_name, PersonName::parse)?,
            parse("last name", &self.last_name, PersonName::parse)?,
            BTreeSet::from([grant]),
            self.created_at,
        );
        user.phone = self.phone.as_deref().map(|p| parse("phone", p, Phone::parse)).transpose()?;
        if let Some(nickname) = &self.nickname {
            user.nicknames = parse("nickname", nickname, |n| Nicknames::parse([n]))?;
        }
        user.crm_id = self.crm_id.as_deref().map(|c| parse("CRM id", c, CrmId::parse)).transpose()?;
        user.agent_id = self.agent_id.as_deref().map(|a| parse("agent id", a, AgentId::parse)).transpose()?;
        let later = |days: i64| (self.created_at + Duration::days(days)).min(plan.now);
        let l = &mut user.lifecycle;
        l.ever_held_core = s.status != Status::Invited;
        l.crm_connected = !matches!(s.status, Status::Pending | Status::Invited);
        l.mailbox_connected = l.crm_connected;
        match s.status {
            Status::Invited => l.invited = true,
            Status::Deactivated => l.deactivated_at = Some(later(30)),
            Status::Inactive => {
                l.inactive_reasons.insert(InactiveReason::InactiveInCrm);
            }
            Status::Deleted => l.deleted_at = Some(later(60)),
            Status::Active | Status::Pending | Status::Revoked => {}
        }
        let licenses = s
            .products
            .iter()
            .map(|p| {
                Ok(LicenseAssignment {
                    org_id,
                    user_id,
                    product: parse("product", p, Key::parse)?,
                    assigned_at: self.created_at,
                })
            })
            .collect::<Result<_, InvalidValue>>()?;
        let memberships = s
            .teams
            .iter()
            .map(|t| Membership { org_id, group_id: teams[*t], user_id, joined_at: self.created_at, left_at: None })
            .collect();
        Ok(PersonRows { user, licenses, memberships })
    }
}

impl ConnectionPlan {
    /// The connection as `id` in `org_id`: `user_id` gives a person's id by index, `teams`
    /// and `flows` the ids of the plan's teams and [`FLOWS`] (`flows` empty: no flow).
    ///
    /// # Errors
    /// A generated value the domain refuses (a bug of the generator).
    pub fn connection(
        &self,
        id: ConnectionId,
        org_id: OrgId,
        user_id: impl Fn(u32) -> UserId,
        teams: &[GroupId],
        flows: &[FlowId],
    ) -> Result<Connection, InvalidValue> {
        Ok(Connection {
            id,
            org_id,
            email: parse("email", &self.email, Email::parse)?,
            name: parse("connection name", &self.name, PersonName::parse)?,
            flow_id: self.flow.and_then(|f| flows.get(f).copied()),
            inviter_id: user_id(self.inviter),
            groups: self.stamp.iter().map(|t| teams[*t]).collect(),
            cc: self.cc.iter().map(|k| user_id(*k)).collect(),
            via_api_key: None,
            user_token_hash: hash_token(&self.token),
            created_at: self.created_at,
        })
    }
}

/// `at` truncated to the microsecond, the precision both databases keep.
pub fn whole_micros(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1000 * 1000).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-01 09:00:00 UTC);

    #[test]
    fn the_same_seed_plans_the_same_organization() {
        let (a, b) = (OrgPlan::new(7, 500, NOW), OrgPlan::new(7, 500, NOW));
        for i in [0, 1, 250, 499] {
            assert_eq!(format!("{:?}", a.person(i)), format!("{:?}", b.person(i)));
            assert_eq!(format!("{:?}", a.connection(i)), format!("{:?}", b.connection(i)));
        }
        let other = OrgPlan::new(8, 500, NOW);
        assert!((0..50).any(|i| a.person(i).email != other.person(i).email));
    }

    #[test]
    fn the_tree_is_sized_by_the_people() {
        let small = OrgPlan::new(1, 10, NOW);
        assert_eq!((small.regions.len(), small.teams.len()), (2, 4));
        let large = OrgPlan::new(1, 1_000_000, NOW);
        assert_eq!((large.regions.len(), large.teams.len()), (25, 1_000));
        let names: BTreeSet<&str> = large.teams.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 1_000, "team names are unique");
    }

    #[test]
    fn the_statuses_have_their_shares() {
        let plan = OrgPlan::new(3, 10_000, NOW);
        let active = (0..10_000).filter(|i| plan.sketch(*i).status == Status::Active).count();
        assert!((6_700..7_300).contains(&active), "{active}");
        let deleted = (0..10_000).map(|i| plan.sketch(i)).filter(|s| s.status == Status::Deleted);
        assert!(deleted.clone().count() > 100);
        assert!(deleted.into_iter().all(|s| s.teams.is_empty() && s.products.is_empty()));
    }

    #[test]
    fn a_sketch_is_the_start_of_its_person() {
        let plan = OrgPlan::new(5, 1_000, NOW);
        for i in 0..200 {
            assert_eq!(format!("{:?}", plan.sketch(i)), format!("{:?}", plan.person(i).sketch));
        }
    }

    #[test]
    fn pinned_people_are_active_in_the_first_teams() {
        let mut plan = OrgPlan::new(5, 100, NOW);
        plan.pinned = vec![Pinned {
            local_part: Some("operations"),
            role: RoleChoice::Operations,
            teams: 3,
            products: &["core", "flow"],
        }];
        let person = plan.person(0);
        assert_eq!((person.sketch.status, person.sketch.role), (Status::Active, RoleChoice::Operations));
        assert_eq!(person.sketch.teams, vec![0, 1, 2]);
        assert!(person.email.starts_with("operations@"));
    }

    #[test]
    fn connections_are_invited_by_people_who_can_invite_and_carry_their_teams() {
        let plan = OrgPlan::new(9, 300, NOW);
        for j in 0..300 {
            let c = plan.connection(j);
            let inviter = plan.sketch(c.inviter);
            assert!(inviter.status.can_invite());
            assert_eq!(c.stamp, inviter.teams);
            assert!(!c.cc.contains(&c.inviter));
            assert!(c.created_at < NOW);
        }
    }
}
