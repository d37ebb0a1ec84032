//! The system under test: the real services over a store (in memory, or SQL), a manual clock and
//! sequential ids, with one organization set up as an admin would (two admins, a scoped admin,
//! members of every visibility, a three-level tree), and the runner that applies operations
//! and checks every invariant after each one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::{FakeHasher, InMemoryStore, ManualClock, MemoryState, SequentialIds};
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::connections::GroupChoice;
use roster_domain::ids::{GroupId, InviteId, OrgId, RoleId, UserId};
use roster_domain::invites::InvitePurpose;
use roster_domain::mail::MailKind;
use roster_domain::org::OrgSettings;
use roster_domain::ports::Store;
use roster_domain::roles::Permission;
use roster_domain::scheduling::ScheduledAction;
use roster_domain::services::{
    BulkLicenses, BulkOp, GroupPatch, InviteRow, InviteStatus, MoveUser, NewConnection, NewOrganization, NewUser,
    RoleAssignment, SettingsPatch,
};
use roster_domain::user::{InactiveReason, User};
use roster_domain::values::{Email, GroupName, Key, Label, Nicknames, Password, PersonName, Slug};
use roster_domain::visibility::can_see;
use roster_domain::{ErrorCode, ServiceError, ServiceResult, Services};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::StateReader;
use super::invariants::{self, Violation};
use super::ops::{EmailPick, GroupPick, Op, PRODUCT_KEYS, Products, ROLE_KEYS, Who, Whom};

const PASSWORD: &str = "correct horse battery staple";
const REASONS: [InactiveReason; 5] = [
    InactiveReason::InactiveInCrm,
    InactiveReason::InactiveInMailbox,
    InactiveReason::AccountFailure,
    InactiveReason::PackageExpired,
    InactiveReason::NoLicense,
];

/// What became of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The change was made.
    Done,
    /// An expected refusal (any error code but `internal`).
    Refused(ErrorCode),
    /// Nothing to apply it to (no pending invite, nobody who can act…).
    Skipped,
}

/// Why a run failed: the step, the operation and what went wrong.
pub type Failure = String;

/// The services and their test doubles, with one organization set up.
pub struct World {
    reader: Arc<dyn StateReader>,
    clock: ManualClock,
    services: Services,
    pub org: OrgId,
    trial_ends_at: OffsetDateTime,
    system: Actor,
    /// A counter for fresh emails and names.
    serial: u32,
}

fn key(s: &str) -> Key {
    Key::parse(s).expect("a valid key")
}

fn keys(p: Products) -> BTreeSet<Key> {
    p.keys().map(key).collect()
}

/// Turns a service result into an outcome. `internal` fails the run, and so does
/// `precondition_failed`: no operation sends an `If-Match` version, so a stale-version refusal
/// can only come from a use case writing the same row twice from different copies.
fn outcome<T>(result: ServiceResult<T>) -> Result<Outcome, Failure> {
    match result {
        Ok(_) => Ok(Outcome::Done),
        Err(e) => refused(&e),
    }
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World").field("org", &self.org).field("serial", &self.serial).finish_non_exhaustive()
    }
}

fn refused(e: &ServiceError) -> Result<Outcome, Failure> {
    match e.code() {
        ErrorCode::Internal | ErrorCode::PreconditionFailed => Err(format!("unexpected error {:?}: {e}", e.code())),
        code => Ok(Outcome::Refused(code)),
    }
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    if items.is_empty() { None } else { Some(items[i % items.len()]) }
}

/// Users of the organization, by id (ids increase with creation).
fn all_users(s: &MemoryState, org: OrgId) -> Vec<&User> {
    s.users.values().filter(|u| u.org_id == org).collect()
}

fn can_act(u: &User) -> bool {
    u.lifecycle.deleted_at.is_none() && u.lifecycle.deactivated_at.is_none() && !u.lifecycle.invited
}

fn admin_roles(s: &MemoryState, org: OrgId) -> BTreeSet<RoleId> {
    s.roles.values().filter(|r| r.org_id == org && r.key.as_str() == "admin").map(|r| r.id).collect()
}

fn live_groups(s: &MemoryState, org: OrgId) -> Vec<GroupId> {
    s.groups.values().filter(|g| g.org_id == org && g.deleted_at.is_none()).map(|g| g.id).collect()
}

fn current_groups_of(s: &MemoryState, user: UserId) -> Vec<GroupId> {
    let live: BTreeSet<GroupId> = s.groups.values().filter(|g| g.deleted_at.is_none()).map(|g| g.id).collect();
    let groups: BTreeSet<GroupId> = s
        .memberships
        .iter()
        .filter(|m| m.user_id == user && m.left_at.is_none() && live.contains(&m.group_id))
        .map(|m| m.group_id)
        .collect();
    groups.into_iter().collect()
}

impl World {
    /// The services over a fresh in-memory store, with the organization set up (see
    /// [`World::new`]); the checks read the store's raw snapshot.
    pub async fn in_memory() -> Self {
        let store = InMemoryStore::new();
        Self::new(Arc::new(store.clone()), Arc::new(store)).await
    }

    /// The services over `store`, which must be empty, with one organization: trial for three
    /// more days, auto sign-up off (so invites work), five seats per product; groups Sales
    /// (with East below it) and Support; two org-wide admins, an admin scoped to Sales, and
    /// members of the other roles. The checks read the committed state through `reader`.
    pub async fn new(store: Arc<dyn Store>, reader: Arc<dyn StateReader>) -> Self {
        let start = datetime!(2024-03-04 09:00 UTC);
        let clock = ManualClock::new(start);
        let ids = SequentialIds::new();
        let services = Services::new(store, Arc::new(clock.clone()), Arc::new(ids), Arc::new(FakeHasher));
        let trial_ends_at = start + Duration::days(3);
        let new = NewOrganization {
            name: Label::parse("Acme Corp").expect("valid"),
            slug: Slug::parse("acme").expect("valid"),
            trial_ends_at: Some(trial_ends_at),
            settings: OrgSettings { auto_signup: false, default_seat_limit: 5, ..OrgSettings::default() },
        };
        let org = services.create_organization(Source::Cli, new).await.expect("the organization is created");
        let system = Actor::system(org.id, Source::Cli);
        let world = Self { reader, clock, services, org: org.id, trial_ends_at, system, serial: 0 };

        let sales = world.setup_group(org.root_group_id, "Sales").await;
        let support = world.setup_group(org.root_group_id, "Support").await;
        let east = world.setup_group(sales, "East").await;
        world.setup_member("ada", "admin", &[], &["core"]).await;
        world.setup_member("grace", "admin", &[], &[]).await;
        let scoped = world.setup_member("sam", "standard", &[sales], &[]).await;
        let admin_of_sales = vec![RoleAssignment { role: key("admin").into(), scope: Some(sales) }];
        world
            .services
            .set_roles(&world.system, scoped, admin_of_sales, None)
            .await
            .expect("the scoped admin is set up");
        world.setup_member("olga", "operations", &[east], &["core", "dialer"]).await;
        world.setup_member("lim", "operations_limited", &[support], &[]).await;
        world.setup_member("fran", "full_member", &[], &[]).await;
        world.setup_member("stan", "standard", &[sales], &["core"]).await;
        world.setup_member("rita", "read_only", &[], &[]).await;
        world
    }

    async fn setup_group(&self, parent: GroupId, name: &str) -> GroupId {
        let name = GroupName::parse(name).expect("valid");
        self.services.create_group(&self.system, parent, name).await.expect("the group is created").id
    }

    async fn setup_member(&self, name: &str, role: &str, groups: &[GroupId], products: &[&str]) -> UserId {
        let new = NewUser {
            email: Email::parse(&format!("{name}@acme.test")).expect("valid"),
            first_name: PersonName::parse(name).expect("valid"),
            last_name: PersonName::parse("Setup").expect("valid"),
            phone: None,
            nicknames: Nicknames::empty(),
            agent_id: None,
            crm_id: None,
            agent_ring_number: None,
            dialer_number: None,
            settings: SettingsPatch::default(),
            roles: vec![key(role)],
            group_ids: groups.to_vec(),
            products: products.iter().map(|p| key(p)).collect(),
            password: None,
        };
        self.services.create_user(&self.system, new).await.expect("the member is created").user.id
    }

    /// The committed state of the organization, as the reader sees it.
    ///
    /// # Errors
    /// The store's failure, as a run failure.
    pub async fn snapshot(&self) -> Result<MemoryState, Failure> {
        self.reader.read_state(self.org).await.map_err(|e| format!("the state cannot be read: {e}"))
    }

    fn fresh(&mut self) -> u32 {
        self.serial += 1;
        self.serial
    }

    fn email(&mut self, s: &MemoryState, pick: EmailPick, domain: &str) -> Email {
        match pick {
            EmailPick::SameAs(i) if !all_users(s, self.org).is_empty() => {
                let users = all_users(s, self.org);
                users[i % users.len()].email.clone()
            }
            _ => {
                let n = self.fresh();
                Email::parse(&format!("person{n}@{domain}")).expect("valid")
            }
        }
    }

    fn user(&self, s: &MemoryState, i: usize) -> Option<UserId> {
        pick(&all_users(s, self.org).iter().map(|u| u.id).collect::<Vec<_>>(), i)
    }

    fn whom(&self, s: &MemoryState, whom: Whom) -> Option<UserId> {
        match whom {
            Whom::Admin(i) => {
                let admin_roles = admin_roles(s, self.org);
                self.user_where(s, i, |u| u.roles.iter().any(|g| admin_roles.contains(&g.role_id)))
            }
            Whom::Any(i) => self.user(s, i),
        }
    }

    /// The user at `i` among those matching `filter`, or among all users when none does.
    fn user_where(&self, s: &MemoryState, i: usize, filter: impl Fn(&User) -> bool) -> Option<UserId> {
        let matching: Vec<UserId> = all_users(s, self.org).into_iter().filter(|u| filter(u)).map(|u| u.id).collect();
        pick(&matching, i).or_else(|| self.user(s, i))
    }

    fn live_group(&self, s: &MemoryState, i: usize) -> Option<GroupId> {
        pick(&live_groups(s, self.org), i)
    }

    /// The member behind `who`, resolved as a console request would be.
    async fn actor(&self, s: &MemoryState, who: Who) -> Result<Option<Actor>, Failure> {
        let active: Vec<&User> = all_users(s, self.org).into_iter().filter(|u| can_act(u)).collect();
        let admin_roles = admin_roles(s, self.org);
        let admins: Vec<UserId> =
            active.iter().filter(|u| u.roles.iter().any(|g| admin_roles.contains(&g.role_id))).map(|u| u.id).collect();
        let anyone: Vec<UserId> = active.iter().map(|u| u.id).collect();
        let id = match who {
            Who::Admin(i) => pick(&admins, i).or_else(|| pick(&anyone, i)),
            Who::Anyone(i) => pick(&anyone, i),
        };
        let Some(id) = id else { return Ok(None) };
        match self.services.resolve_actor(self.org, id, Source::Console, None).await {
            Ok(actor) => Ok(Some(actor)),
            Err(e) => refused(&e).map(|_| None),
        }
    }

    /// Applies one operation to the system.
    pub async fn apply(&mut self, op: &Op) -> Result<Outcome, Failure> {
        let s = self.snapshot().await?;
        let svc = self.services.clone();
        macro_rules! actor {
            ($who:expr) => {
                match self.actor(&s, $who).await? {
                    Some(a) => a,
                    None => return Ok(Outcome::Skipped),
                }
            };
        }
        macro_rules! some {
            ($e:expr) => {
                match $e {
                    Some(v) => v,
                    None => return Ok(Outcome::Skipped),
                }
            };
        }
        match op {
            Op::CreateUser { by, email, role, group, products } => {
                let actor = actor!(*by);
                let email = self.email(&s, *email, "acme.test");
                let n = self.fresh();
                let new = NewUser {
                    email,
                    first_name: PersonName::parse("Member").expect("valid"),
                    last_name: PersonName::parse(&format!("Number {n}")).expect("valid"),
                    phone: None,
                    nicknames: Nicknames::empty(),
                    agent_id: None,
                    crm_id: None,
                    agent_ring_number: None,
                    dialer_number: None,
                    settings: SettingsPatch::default(),
                    roles: vec![key(ROLE_KEYS[*role])],
                    group_ids: group.and_then(|g| self.live_group(&s, g)).into_iter().collect(),
                    products: keys(*products),
                    password: None,
                };
                outcome(svc.create_user(&actor, new).await)
            }
            Op::Invite { by, email, role, products } => {
                let actor = actor!(*by);
                let email = self.email(&s, *email, "acme.test");
                let n = self.fresh();
                let row = InviteRow {
                    name: PersonName::parse(&format!("Invitee {n}")).expect("valid"),
                    email,
                    roles: vec![key(ROLE_KEYS[*role])],
                    products: keys(*products),
                    group_ids: Vec::new(),
                };
                match svc.invite_members(&actor, vec![row], false).await {
                    Ok(result) => match result.results[0].status {
                        InviteStatus::Created => Ok(Outcome::Done),
                        InviteStatus::Refused(code) => Ok(Outcome::Refused(code)),
                    },
                    Err(e) => refused(&e),
                }
            }
            Op::AcceptInvite { invite } => {
                let pending: Vec<InviteId> = s
                    .invites
                    .values()
                    .filter(|i| i.org_id == self.org && i.purpose == InvitePurpose::Member && i.is_pending())
                    .map(|i| i.id)
                    .collect();
                let id = some!(pick(&pending, *invite));
                let token = some!(s.outbox.iter().rev().find_map(|m| match &m.kind {
                    MailKind::Invitation { invite_id, token, .. } if *invite_id == id => Some(token.clone()),
                    _ => None,
                }));
                let password = Password::parse(PASSWORD).expect("valid");
                let result = outcome(svc.accept_invite(&token, &password).await)?;
                // The one operation whose answer the spec fixes in every state (§8.1): the
                // latest token of a pending, unexpired invite activates a user who may log in.
                let invite = &s.invites[&id];
                let user = &s.users[&invite.user_id];
                let acceptable = invite.expires_at > self.now()
                    && user.lifecycle.deleted_at.is_none()
                    && user.lifecycle.deactivated_at.is_none();
                let expected = if acceptable { Outcome::Done } else { Outcome::Refused(ErrorCode::InvalidToken) };
                if result != expected {
                    return Err(format!("accepting answered {result:?}, expected {expected:?}"));
                }
                Ok(result)
            }
            Op::RevokeInvite { by, invite } => {
                let actor = actor!(*by);
                let pending: Vec<InviteId> =
                    s.invites.values().filter(|i| i.org_id == self.org && i.is_pending()).map(|i| i.id).collect();
                let id = some!(pick(&pending, *invite));
                outcome(svc.revoke_invite(&actor, id).await)
            }
            Op::SetLicenses { by, user, products } => {
                let actor = actor!(*by);
                let user = some!(self.whom(&s, *user));
                outcome(svc.set_licenses(&actor, user, keys(*products)).await)
            }
            Op::BulkLicenses { by, users, products, assign, atomic } => {
                let actor = actor!(*by);
                let user_ids: Vec<UserId> = users.iter().filter_map(|i| self.user(&s, *i)).collect();
                let request = BulkLicenses {
                    user_ids,
                    products: keys(*products),
                    op: if *assign { BulkOp::Assign } else { BulkOp::Unassign },
                    atomic: *atomic,
                    dry_run: false,
                };
                match svc.bulk_licenses(&actor, request).await {
                    Ok(r) if r.applied => Ok(Outcome::Done),
                    Ok(r) => {
                        let code = r.outcomes.iter().find(|o| !o.is_ok()).map(|o| o.status.clone()).unwrap_or_default();
                        Ok(Outcome::Refused(code_of(&code)))
                    }
                    Err(e) => refused(&e),
                }
            }
            Op::Deactivate { by, user } => {
                let actor = actor!(*by);
                let user = some!(self.whom(&s, *user));
                outcome(svc.deactivate_user(&actor, user, None).await)
            }
            Op::Reactivate { by, user, products } => {
                let actor = actor!(*by);
                let user = some!(self.user_where(&s, *user, |u| u.lifecycle.deactivated_at.is_some()));
                outcome(svc.reactivate_user(&actor, user, keys(*products), None).await)
            }
            Op::Delete { by, user } => {
                let actor = actor!(*by);
                let user = some!(self.whom(&s, *user));
                outcome(svc.delete_user(&actor, user, true).await)
            }
            Op::Restore { by, user } => {
                let actor = actor!(*by);
                let user = some!(self.user_where(&s, *user, |u| u.lifecycle.deleted_at.is_some()));
                outcome(svc.restore_user(&actor, user).await)
            }
            Op::CreateGroup { by, parent } => {
                let actor = actor!(*by);
                let parent = some!(self.live_group(&s, *parent));
                let n = self.fresh();
                let name = GroupName::parse(&format!("Team {n}")).expect("valid");
                outcome(svc.create_group(&actor, parent, name).await)
            }
            Op::MoveGroup { by, group, parent } => {
                let actor = actor!(*by);
                let group = some!(self.live_group(&s, *group));
                let parent = some!(self.live_group(&s, *parent));
                let patch = GroupPatch { name: None, parent_id: Some(parent) };
                outcome(svc.update_group(&actor, group, patch, None).await)
            }
            Op::DeleteGroup { by, group, cascade } => {
                let actor = actor!(*by);
                let group = some!(self.live_group(&s, *group));
                outcome(svc.delete_group(&actor, group, *cascade).await)
            }
            Op::Join { by, group, users } => {
                let actor = actor!(*by);
                let group = some!(self.live_group(&s, *group));
                let user_ids: Vec<UserId> = users.iter().filter_map(|i| self.user(&s, *i)).collect();
                outcome(svc.add_members(&actor, group, &user_ids).await)
            }
            Op::Leave { by, user, group } => {
                let actor = actor!(*by);
                let user = some!(self.user(&s, *user));
                let group = some!(pick(&current_groups_of(&s, user), *group).or_else(|| self.live_group(&s, *group)));
                outcome(svc.remove_member(&actor, group, user).await)
            }
            Op::MoveUser { by, user, from, to, transfer } => {
                let actor = actor!(*by);
                let user = some!(self.user(&s, *user));
                let from = some!(pick(&current_groups_of(&s, user), *from).or_else(|| self.live_group(&s, *from)));
                let to = some!(self.live_group(&s, *to));
                let request = MoveUser { from_group_id: from, to_group_id: to, transfer_records: *transfer };
                outcome(svc.move_user(&actor, user, request).await)
            }
            Op::CreateConnection { by, group, cc } => {
                let actor = actor!(*by);
                let all_groups: Vec<GroupId> =
                    s.groups.values().filter(|g| g.org_id == self.org).map(|g| g.id).collect();
                let group = match group {
                    GroupPick::Default => None,
                    GroupPick::Organization => Some(GroupChoice::Organization),
                    GroupPick::Group(i) => Some(GroupChoice::Group(some!(pick(&all_groups, *i)))),
                };
                let email = self.email(&s, EmailPick::Fresh, "customer.test");
                let new = NewConnection {
                    email,
                    name: PersonName::parse("A Customer").expect("valid"),
                    flow_id: None,
                    group,
                    cc: cc.iter().filter_map(|i| self.user(&s, *i)).collect(),
                };
                outcome(svc.create_connection(&actor, new).await)
            }
            Op::SetSeats { product, total } => {
                outcome(svc.set_seats(&self.system, &key(PRODUCT_KEYS[*product]), *total).await)
            }
            Op::SetRoles { by, user, roles } => {
                let actor = actor!(*by);
                let user = some!(self.whom(&s, *user));
                let roles = roles
                    .iter()
                    .map(|(r, scope)| RoleAssignment {
                        role: key(ROLE_KEYS[*r]).into(),
                        scope: scope.and_then(|g| self.live_group(&s, g)),
                    })
                    .collect();
                outcome(svc.set_roles(&actor, user, roles, None).await)
            }
            Op::SetGrants { by, user, groups, reporting } => {
                let actor = actor!(*by);
                let user = some!(self.user(&s, *user));
                let access = groups.iter().filter_map(|g| self.live_group(&s, *g)).collect();
                let permissions =
                    if *reporting { BTreeSet::from([Permission::ViewReporting]) } else { BTreeSet::new() };
                outcome(svc.set_grants(&actor, user, permissions, access).await)
            }
            Op::SetInactiveReason { user, reason, on } => {
                let user = some!(self.user(&s, *user));
                let sync = self.system.clone().with_source(Source::CrmSync);
                outcome(svc.set_inactive_reason(&sync, user, REASONS[*reason], *on).await)
            }
            Op::ScheduleDeactivation { by, user, in_hours } => {
                let actor = actor!(*by);
                let user = some!(self.whom(&s, *user));
                let at = self.now() + Duration::hours(i64::from(*in_hours));
                outcome(svc.schedule_change(&actor, user, ScheduledAction::Deactivate, at).await)
            }
            Op::ScheduleLicenseRemoval { by, user, product, in_hours } => {
                let actor = actor!(*by);
                let user = some!(self.user(&s, *user));
                let at = self.now() + Duration::hours(i64::from(*in_hours));
                let action = ScheduledAction::RemoveLicense(key(PRODUCT_KEYS[*product]));
                outcome(svc.schedule_change(&actor, user, action, at).await)
            }
            Op::Tick { hours } => {
                self.clock.advance(Duration::hours(i64::from(*hours)));
                self.run_worker().await
            }
            Op::EndTrial => {
                if self.now() >= self.trial_ends_at {
                    return Ok(Outcome::Skipped);
                }
                self.clock.set(self.trial_ends_at + Duration::minutes(1));
                self.run_worker().await
            }
        }
    }

    fn now(&self) -> OffsetDateTime {
        roster_domain::ports::Clock::now(&self.clock)
    }

    /// The scheduler's tick: applies every due change through the ordinary use cases. A change
    /// the rules refuse is marked failed, which is an ordinary outcome.
    async fn run_worker(&self) -> Result<Outcome, Failure> {
        match self.services.apply_due_changes(100).await {
            Ok(_) => Ok(Outcome::Done),
            Err(e) => refused(&e),
        }
    }

    /// Every invariant on the committed state, including the listing of every member who can
    /// act through `Services::list_connections` (the query specification SQL adapters follow).
    pub async fn violations(&self) -> Result<Vec<Violation>, Failure> {
        self.violations_in(&self.snapshot().await?).await
    }

    /// [`World::violations`] of a snapshot just taken.
    async fn violations_in(&self, s: &MemoryState) -> Result<Vec<Violation>, Failure> {
        let mut out = invariants::check(s, self.org, can_see);
        let listers: Vec<UserId> =
            invariants::viewers(s, self.org).filter(|u| !u.lifecycle.invited).map(|u| u.id).collect();
        for id in listers {
            let actor = self
                .services
                .resolve_actor(self.org, id, Source::Console, None)
                .await
                .map_err(|e| format!("member {id} cannot act: {e}"))?;
            let listed = self
                .services
                .list_connections(&actor, None, None, 200)
                .await
                .map_err(|e| format!("member {id} cannot list connections: {e}"))?;
            let listed = listed.into_iter().map(|c| c.id).collect();
            out.extend(invariants::check_listing(s, self.org, id, &listed));
        }
        for c in s.connections.values().filter(|c| c.org_id == self.org) {
            let viewers = self
                .services
                .connection_viewers(&self.system, c.id)
                .await
                .map_err(|e| format!("the viewers of connection {} cannot be listed: {e}", c.id))?;
            let viewers = viewers.into_iter().map(|(id, _)| id).collect();
            out.extend(invariants::check_viewers(s, self.org, c, &viewers));
        }
        Ok(out)
    }

    /// Runs the steps from a fresh world, checking every invariant after setup and after each
    /// step. Answers the outcome of each operation, or the first
    /// failure with the operations that led to it.
    pub async fn run(mut self, steps: &[Op]) -> Result<Vec<Outcome>, Failure> {
        let world = &mut self;
        let mut done: Vec<String> = Vec::new();
        let fail = |done: &[String], what: String| -> Failure {
            format!("{what}\nafter these operations:\n  {}", done.join("\n  "))
        };
        let report = |done: &[String], violations: Vec<Violation>| -> Result<(), Failure> {
            if violations.is_empty() {
                return Ok(());
            }
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            Err(fail(done, format!("invariants broken:\n  {}", list.join("\n  "))))
        };
        let mut before = world.snapshot().await?;
        report(&done, world.violations_in(&before).await?)?;
        let mut outcomes = Vec::with_capacity(steps.len());
        for op in steps {
            // The acting member as the operation will resolve them, for the rule of dominance
            // (a transition, not a state, invariant).
            let by = match op.by() {
                Some(who) => world.actor(&before, who).await?.map(|a| a.authority().clone()),
                None => None,
            };
            let outcome = world.apply(op).await.map_err(|e| fail(&done, format!("{op:?} failed: {e}")))?;
            done.push(format!("{op:?} => {outcome:?}"));
            let after = world.snapshot().await?;
            let mut violations = world.violations_in(&after).await?;
            if let Some(actor) = &by {
                violations.extend(invariants::check_dominance(&before, &after, world.org, actor));
            }
            report(&done, violations)?;
            before = after;
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

/// The error code of a bulk outcome's status string.
fn code_of(status: &str) -> ErrorCode {
    ErrorCode::ALL.iter().copied().find(|c| c.as_str() == status).unwrap_or(ErrorCode::Internal)
}

/// Counts, per operation kind, how often it was applied and how often refused.
pub fn tally(steps: &[Op], outcomes: &[Outcome], into: &mut BTreeMap<&'static str, (u32, u32)>) {
    for (op, outcome) in steps.iter().zip(outcomes) {
        let entry = into.entry(op.kind()).or_default();
        match outcome {
            Outcome::Done => entry.0 += 1,
            Outcome::Refused(_) => entry.1 += 1,
            Outcome::Skipped => {}
        }
    }
}
