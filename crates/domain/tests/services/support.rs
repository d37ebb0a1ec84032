//! The `World` every service test starts from: one in-memory store, a clock and ids the test
//! controls, the services over them, an organization created by the operator with an admin
//! member, and helpers that create members, groups and licenses through the services themselves.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

use roster_domain::actor::Actor;
use roster_domain::audit::{AuditEvent, Source};
use roster_domain::connections::{Connection, GroupChoice};
use roster_domain::ids::{GroupId, InviteId, UserId};
use roster_domain::mail::{MailKind, OutgoingMail};
use roster_domain::org::{OrgSettings, Organization, SettingsChange};
use roster_domain::ports::{Clock, CrmUser, IdGenerator, PasswordHasher, Store};
use roster_domain::seats::SeatPool;
use roster_domain::services::{
    InviteRow, NewConnection, NewOrganization, NewUser, RoleAssignment, SettingsPatch, UserDetails,
};
use roster_domain::user::StatusKind;
use roster_domain::values::{
    CrmId, Email, EmailDomain, GroupName, Key, Label, Nicknames, Password, PersonName, Phone, Reason, Slug,
};
use roster_domain::{ServiceError, ServiceResult, Services};
use roster_testkit::{FakeHasher, InMemoryCrmDirectory, InMemoryStore, ManualClock, SequentialIds};
use time::OffsetDateTime;
use time::macros::datetime;

/// When every test starts (a Monday morning).
pub const T0: OffsetDateTime = datetime!(2025-01-06 9:00 UTC);

/// One organization on shared ports. [`World::other_org`] adds a second tenant on the same store.
#[derive(Clone)]
pub struct World {
    pub store: InMemoryStore,
    pub clock: ManualClock,
    pub ids: SequentialIds,
    pub crm: InMemoryCrmDirectory,
    pub services: Services,
    pub org: Organization,
    /// A member holding the `admin` role org-wide, in no group, with no license.
    pub admin: UserId,
}

impl World {
    /// An organization with the default settings (auto sign-up on, no trial).
    pub async fn new() -> Self {
        Self::build(OrgSettings::default(), None).await
    }

    /// An organization where admins can invite members (auto sign-up off).
    pub async fn inviting() -> Self {
        Self::build(OrgSettings { auto_signup: false, ..OrgSettings::default() }, None).await
    }

    /// An organization whose trial ends at `trial_ends_at`.
    pub async fn in_trial_until(trial_ends_at: OffsetDateTime) -> Self {
        Self::build(OrgSettings::default(), Some(trial_ends_at)).await
    }

    pub async fn build(settings: OrgSettings, trial_ends_at: Option<OffsetDateTime>) -> Self {
        let store = InMemoryStore::new();
        let clock = ManualClock::new(T0);
        let ids = SequentialIds::new();
        let crm = InMemoryCrmDirectory::default();
        let services = services_over(&store, &clock, &ids, Arc::new(FakeHasher)).with_crm(Arc::new(crm.clone()));
        let org = create_org(&services, "acme", settings, trial_ends_at).await;
        let mut world = Self { store, clock, ids, crm, services, org, admin: UserId::from_uuid(uuid::Uuid::nil()) };
        world.admin = world.create(world.new_user("admin", &["admin"], &[])).await;
        world
    }

    /// A second organization (`slug`) with its own admin, on the same store and services.
    pub async fn other_org(&self, slug: &str) -> Self {
        let org =
            create_org(&self.services, slug, OrgSettings { auto_signup: false, ..OrgSettings::default() }, None).await;
        let mut other = Self { org, ..self.clone() };
        other.admin = other.create(other.new_user("admin", &["admin"], &[])).await;
        other
    }

    /// Services over the same store, clock and ids, with another password hasher.
    pub fn services_with_hasher(&self, hasher: Arc<dyn PasswordHasher>) -> Services {
        services_over(&self.store, &self.clock, &self.ids, hasher)
    }

    // ---- actors ------------------------------------------------------------------------------

    /// The operator (CLI).
    pub fn system(&self) -> Actor {
        Actor::system(self.org.id, Source::Cli)
    }

    /// A member's authority in the console.
    pub async fn actor(&self, user: UserId) -> Actor {
        self.services.resolve_actor(self.org.id, user, Source::Console, None).await.expect("the member resolves")
    }

    pub async fn admin_actor(&self) -> Actor {
        self.actor(self.admin).await
    }

    /// `impersonator` acting as `user` (the session an impersonation issues).
    pub async fn impersonating(&self, impersonator: UserId, user: UserId) -> Actor {
        self.services
            .resolve_actor(self.org.id, user, Source::Console, Some(impersonator))
            .await
            .expect("the impersonated member resolves")
    }

    // ---- members, groups, licenses --------------------------------------------------------------

    /// A `POST /users` body for `local@<slug>.test`, named "<Local> Tester".
    pub fn new_user(&self, local: &str, roles: &[&str], groups: &[GroupId]) -> NewUser {
        NewUser {
            email: self.email(local),
            first_name: person(&capitalized(local)),
            last_name: person("Tester"),
            phone: None,
            nicknames: Nicknames::empty(),
            agent_id: None,
            crm_id: None,
            agent_ring_number: None,
            dialer_number: None,
            settings: SettingsPatch::default(),
            roles: roles.iter().map(|r| key(r)).collect(),
            group_ids: groups.to_vec(),
            products: BTreeSet::new(),
            password: None,
        }
    }

    /// The address of `local` in this organization's test domain.
    pub fn email(&self, local: &str) -> Email {
        email(&format!("{local}@{}.test", self.org.slug))
    }

    /// Creates a member as the operator.
    pub async fn create(&self, new: NewUser) -> UserId {
        self.services.create_user(&self.system(), new).await.expect("the operator creates the member").user.id
    }

    /// Creates a member with roles and current groups.
    pub async fn member(&self, local: &str, roles: &[&str], groups: &[GroupId]) -> UserId {
        self.create(self.new_user(local, roles, groups)).await
    }

    /// The root group ("Organization").
    pub fn root(&self) -> GroupId {
        self.org.root_group_id
    }

    /// Creates a group below `parent` (the root when `None`) as the operator.
    pub async fn group(&self, name: &str, parent: Option<GroupId>) -> GroupId {
        self.services
            .create_group(&self.system(), parent.unwrap_or(self.root()), group_name(name))
            .await
            .expect("the operator creates the group")
            .id
    }

    /// Makes `user` an admin scoped to `group`'s subtree (their only role), as the operator.
    pub async fn scope_admin(&self, user: UserId, group: GroupId) {
        let grant = vec![RoleAssignment { role: key("admin").into(), scope: Some(group) }];
        self.services.set_roles(&self.system(), user, grant, None).await.expect("the operator scopes the admin");
    }

    /// The tree of the scope tests: `Sales` with `East` below it, and `Support` beside it.
    pub async fn sales_east_support(&self) -> (GroupId, GroupId, GroupId) {
        let sales = self.group("Sales", None).await;
        let east = self.group("East", Some(sales)).await;
        (sales, east, self.group("Support", None).await)
    }

    /// Sets the products `user` holds, as the operator.
    pub async fn assign(&self, user: UserId, products: &[&str]) {
        self.services.set_licenses(&self.system(), user, keys(products)).await.expect("the operator assigns licenses");
    }

    /// Sets the seats of a product, as the operator.
    pub async fn set_seats(&self, product: &str, total: u32) {
        self.services.set_seats(&self.system(), &key(product), total).await.expect("the operator sets seats");
    }

    /// Turns auto sign-up on or off (confirmed), as the operator.
    pub async fn set_auto_signup(&self, on: bool) {
        let change = SettingsChange { auto_signup: Some(on), confirm: true, ..SettingsChange::default() };
        self.services.update_settings(&self.system(), change).await.expect("the operator changes settings");
    }

    /// Creates a connection `actor` invites, with an optional group choice.
    pub async fn connection(&self, actor: &Actor, local: &str, group: Option<GroupChoice>) -> Connection {
        self.services
            .create_connection(actor, self.new_connection(local, group))
            .await
            .expect("the connection is created")
            .connection
    }

    pub fn new_connection(&self, local: &str, group: Option<GroupChoice>) -> NewConnection {
        NewConnection {
            email: email(&format!("{local}@customer.test")),
            name: person(&capitalized(local)),
            flow_id: None,
            group,
            cc: Vec::new(),
        }
    }

    /// An invite row for `local` with the `standard` role.
    pub fn invite_row(&self, local: &str, products: &[&str]) -> InviteRow {
        InviteRow {
            name: person(&format!("{} Invitee", capitalized(local))),
            email: self.email(local),
            roles: vec![key("standard")],
            products: keys(products),
            group_ids: Vec::new(),
        }
    }

    /// Invites `local` as the admin; answers the invite and the invited user.
    pub async fn invite(&self, local: &str, products: &[&str]) -> (InviteId, UserId) {
        let result = self
            .services
            .invite_members(&self.admin_actor().await, vec![self.invite_row(local, products)], false)
            .await
            .expect("the admin invites");
        let invite = result.results[0].invite_id.expect("the row is created");
        let user = self.store.snapshot().await.invites[&invite].user_id;
        (invite, user)
    }

    /// The token of the last invitation mail queued for `invite`.
    pub async fn token_of(&self, invite: InviteId) -> String {
        self.outbox()
            .await
            .into_iter()
            .rev()
            .find_map(|m| match m.kind {
                MailKind::Invitation { invite_id, token, .. } if invite_id == invite => Some(token),
                _ => None,
            })
            .expect("an invitation was queued")
    }

    // ---- reading the state -----------------------------------------------------------------------

    /// A user as the operator sees them.
    pub async fn details(&self, user: UserId) -> UserDetails {
        self.services.get_user(&self.system(), user).await.expect("the user exists")
    }

    pub async fn status(&self, user: UserId) -> StatusKind {
        self.details(user).await.status.kind()
    }

    pub async fn products(&self, user: UserId) -> BTreeSet<Key> {
        self.details(user).await.products
    }

    /// The committed seat pool of a product.
    pub async fn pool(&self, product: &str) -> SeatPool {
        self.store.snapshot().await.seat_pools.get(&(self.org.id, key(product))).cloned().expect("the pool exists")
    }

    pub async fn seats_used(&self, product: &str) -> u32 {
        self.pool(product).await.seats_used()
    }

    /// This organization's audit events in append order.
    pub async fn events(&self) -> Vec<AuditEvent> {
        self.store.snapshot().await.audit.into_iter().filter(|e| e.org_id == self.org.id).collect()
    }

    /// This organization's audit events with `action`, in append order.
    pub async fn events_named(&self, action: &str) -> Vec<AuditEvent> {
        self.events().await.into_iter().filter(|e| e.action == action).collect()
    }

    /// This organization's queued mail, in enqueue order.
    pub async fn outbox(&self) -> Vec<OutgoingMail> {
        self.store.snapshot().await.outbox.into_iter().filter(|m| m.org_id == self.org.id).collect()
    }

    /// A CRM user of this organization's domain, active, modified at `T0`.
    pub fn crm_user(&self, id: &str, local: &str) -> CrmUser {
        CrmUser {
            crm_id: crm_id(id),
            first_name: person(&capitalized(local)),
            last_name: person("Crm"),
            email: self.email(local),
            phone: None,
            active: true,
            title: None,
        }
    }

    /// Puts `users` into the organization's CRM directory.
    pub fn crm_has(&self, users: impl IntoIterator<Item = CrmUser>) {
        for u in users {
            self.crm.upsert(u, T0);
        }
    }
}

fn services_over(
    store: &InMemoryStore,
    clock: &ManualClock,
    ids: &SequentialIds,
    hasher: Arc<dyn PasswordHasher>,
) -> Services {
    let store: Arc<dyn Store> = Arc::new(store.clone());
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let ids: Arc<dyn IdGenerator> = Arc::new(ids.clone());
    Services::new(store, clock, ids, hasher)
}

async fn create_org(
    services: &Services,
    slug_text: &str,
    settings: OrgSettings,
    trial_ends_at: Option<OffsetDateTime>,
) -> Organization {
    let new = NewOrganization { name: label(&capitalized(slug_text)), slug: slug(slug_text), trial_ends_at, settings };
    services.create_organization(Source::Cli, new).await.expect("the operator creates the organization")
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The error of a call the test expects to fail.
#[track_caller]
pub fn failure<T: Debug>(result: ServiceResult<T>) -> ServiceError {
    result.expect_err("the call should have been refused")
}

// ---- value constructors for literals the tests know to be valid ---------------------------------

pub fn email(s: &str) -> Email {
    Email::parse(s).expect("a valid email")
}

pub fn person(s: &str) -> PersonName {
    PersonName::parse(s).expect("a valid name")
}

pub fn key(s: &str) -> Key {
    Key::parse(s).expect("a valid key")
}

pub fn keys(items: &[&str]) -> BTreeSet<Key> {
    items.iter().map(|s| key(s)).collect()
}

pub fn label(s: &str) -> Label {
    Label::parse(s).expect("a valid label")
}

pub fn group_name(s: &str) -> GroupName {
    GroupName::parse(s).expect("a valid group name")
}

pub fn password(s: &str) -> Password {
    Password::parse(s).expect("a valid password")
}

pub fn reason(s: &str) -> Reason {
    Reason::parse(s).expect("a valid reason")
}

pub fn crm_id(s: &str) -> CrmId {
    CrmId::parse(s).expect("a valid CRM id")
}

pub fn slug(s: &str) -> Slug {
    Slug::parse(s).expect("a valid slug")
}

pub fn domain(s: &str) -> EmailDomain {
    EmailDomain::parse(s).expect("a valid domain")
}

pub fn phone(s: &str) -> Phone {
    Phone::parse(s).expect("a valid phone")
}
