//! Rows the contract cases start from, written through the port: entity builders with
//! deterministic ids, [`seed`] (one organization with a bit of everything), and [`dump`]
//! (everything of one organization, read back through the port, to compare before and after).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use roster_domain::audit::{AuditEvent, AuditQuery, Source, TargetKind};
use roster_domain::catalog::{Catalog, Product};
use roster_domain::connections::{ApiKey, Connection, Flow};
use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{
    ApiKeyId, AuditEventId, ConnectionId, FlowId, GroupId, InviteId, MailId, OrgId, RoleId, ScheduledChangeId, UserId,
    WebhookDeliveryId, WebhookId,
};
use roster_domain::invites::{Invite, InvitePurpose};
use roster_domain::mail::{MailKind, OutgoingMail, QueuedMail};
use roster_domain::org::{OrgSettings, Organization};
use roster_domain::ports::{PasswordHash, Store, StoreError, Tx};
use roster_domain::roles::{BUILTIN_ROLES, Permission, Role, RoleGrant, Visibility};
use roster_domain::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};
use roster_domain::seats::{LicenseAssignment, SeatPool, SeatReservation};
use roster_domain::user::{CallRecording, Homepage, InactiveReason, Lifecycle, MailboxProvider, User, UserSettings};
use roster_domain::users_query::UserQuery;
use roster_domain::values::{
    AgentId, CrmId, Email, EmailDomain, GroupName, Key, Label, Nicknames, PersonName, Phone, Slug,
};
use roster_domain::visibility::{ConnectionQuery, ConnectionScope};
use roster_domain::webhooks::{
    EventPattern, WebhookDelivery, WebhookDeliveryState, WebhookEndpoint, WebhookSecret, WebhookUrl,
};

use super::{begin, commit};

/// When the seeded world starts; every time of the suite is near it, in whole microseconds.
pub const T0: OffsetDateTime = datetime!(2024-03-04 09:00 UTC);

/// A deterministic id: `n` within organization number `org` (ids of different seeded
/// organizations never collide).
pub fn uid(org: u64, n: u64) -> Uuid {
    Uuid::from_u64_pair(org, n)
}

pub fn key(s: &str) -> Key {
    Key::parse(s).expect("a valid key")
}

pub fn email(s: &str) -> Email {
    Email::parse(s).expect("a valid email")
}

pub fn name(s: &str) -> PersonName {
    PersonName::parse(s).expect("a valid name")
}

pub fn group_name(s: &str) -> GroupName {
    GroupName::parse(s).expect("a valid group name")
}

pub fn label(s: &str) -> Label {
    Label::parse(s).expect("a valid label")
}

pub fn phone(s: &str) -> Phone {
    Phone::parse(s).expect("a valid phone")
}

/// An organization with default settings and no trial; its root group is `uid(n, 1)`.
pub fn org(n: u64, slug: &str) -> Organization {
    Organization {
        id: OrgId::from_uuid(uid(n, 0)),
        name: label(&format!("Org {n}")),
        slug: Slug::parse(slug).expect("a valid slug"),
        created_at: T0,
        trial_ends_at: None,
        root_group_id: GroupId::from_uuid(uid(n, 1)),
        settings: OrgSettings::default(),
        version: 1,
    }
}

/// Inserts `org` and its root group (named after the slug), as creating an organization does.
pub async fn insert_org_with_root(tx: &mut dyn Tx, org: &Organization) -> Group {
    let root = Group {
        id: org.root_group_id,
        org_id: org.id,
        parent_id: None,
        name: group_name(org.slug.as_str()),
        depth: 1,
        deleted_at: None,
        created_at: org.created_at,
        version: 1,
    };
    tx.insert_org(org).await.expect("inserts the organization");
    tx.insert_group(&root).await.expect("inserts the root group");
    root
}

/// A plain member: no optional facts, no role, created at [`T0`].
pub fn user(org: OrgId, id: Uuid, address: &str) -> User {
    User::new(UserId::from_uuid(id), org, email(address), name("Ada"), name("Lovelace"), BTreeSet::new(), T0)
}

pub fn group(org: OrgId, id: Uuid, parent: Option<&Group>, title: &str) -> Group {
    Group {
        id: GroupId::from_uuid(id),
        org_id: org,
        parent_id: parent.map(|p| p.id),
        name: group_name(title),
        depth: parent.map_or(1, |p| p.depth + 1),
        deleted_at: None,
        created_at: T0,
        version: 1,
    }
}

pub fn role(org: OrgId, id: Uuid, role_key: &str) -> Role {
    Role {
        id: RoleId::from_uuid(id),
        org_id: org,
        key: key(role_key),
        name: label("Custom role"),
        permissions: BTreeSet::from([Permission::ViewAudit]),
        visibility: Visibility::Groups,
        assignable: true,
        builtin: false,
    }
}

pub fn pool(org: OrgId, product: &str, total: u32, used: u32) -> SeatPool {
    SeatPool::restore(org, key(product), total, used)
}

pub fn license(user: &User, product: &str) -> LicenseAssignment {
    LicenseAssignment { org_id: user.org_id, user_id: user.id, product: key(product), assigned_at: T0 }
}

pub fn membership(
    group: &Group,
    user: &User,
    joined_at: OffsetDateTime,
    left_at: Option<OffsetDateTime>,
) -> Membership {
    Membership { org_id: group.org_id, group_id: group.id, user_id: user.id, joined_at, left_at }
}

pub fn connection(org: OrgId, id: Uuid, inviter: UserId, at: OffsetDateTime, groups: &[GroupId]) -> Connection {
    Connection {
        id: ConnectionId::from_uuid(id),
        org_id: org,
        email: email(&format!("c-{}@example.org", id.simple())),
        name: name("Carl Client"),
        flow_id: None,
        inviter_id: inviter,
        groups: groups.iter().copied().collect(),
        cc: BTreeSet::new(),
        via_api_key: None,
        user_token_hash: format!("tok-{}", id.simple()),
        created_at: at,
    }
}

pub fn flow(org: OrgId, id: Uuid, flow_name: &str) -> Flow {
    Flow { id: FlowId::from_uuid(id), org_id: org, name: label(flow_name), created_at: T0 }
}

pub fn api_key(org: OrgId, id: Uuid, created_by: UserId, secret_hash: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(id),
        org_id: org,
        name: label("Integration"),
        group_id: None,
        permissions: BTreeSet::from([Permission::InviteConnections]),
        created_by,
        secret_hash: secret_hash.to_owned(),
        created_at: T0,
        last_used_at: None,
        revoked_at: None,
    }
}

pub fn invite(user: &User, id: Uuid, token_hash: &str, products: &[&str]) -> Invite {
    Invite {
        id: InviteId::from_uuid(id),
        org_id: user.org_id,
        user_id: user.id,
        purpose: InvitePurpose::Member,
        products: products.iter().map(|p| key(p)).collect(),
        group_ids: Default::default(),
        token_hash: token_hash.to_owned(),
        expires_at: T0 + Duration::days(7),
        created_by: None,
        created_at: T0,
        accepted_at: None,
    }
}

pub fn scheduled(user: &User, id: Uuid, action: ScheduledAction, at: OffsetDateTime) -> ScheduledChange {
    ScheduledChange {
        id: ScheduledChangeId::from_uuid(id),
        org_id: user.org_id,
        user_id: user.id,
        action,
        effective_at: at,
        created_by: None,
        created_at: T0,
        state: ScheduleState::Pending,
    }
}

pub fn event(org: OrgId, id: Uuid, at: OffsetDateTime, action: &str) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::from_uuid(id),
        org_id: org,
        at,
        actor_id: None,
        impersonator_id: None,
        api_key_id: None,
        source: Source::Cli,
        action: action.to_owned(),
        target_kind: TargetKind::User,
        target_id: "target".to_owned(),
        target_label: "Target".to_owned(),
        details: json!({}),
    }
}

pub fn mail(org: OrgId, id: Uuid, to: &str, at: OffsetDateTime) -> OutgoingMail {
    OutgoingMail {
        id: MailId::from_uuid(id),
        org_id: org,
        to: email(to),
        kind: MailKind::Welcome { org_name: "Org".to_owned(), first_name: "Ada".to_owned() },
        created_at: at,
    }
}

pub fn webhook(org: OrgId, id: Uuid, created_by: UserId, at: OffsetDateTime) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::from_uuid(id),
        org_id: org,
        url: WebhookUrl::parse("https://hooks.example.com/roster").expect("a valid url"),
        event_types: BTreeSet::new(),
        secret: WebhookSecret::new(format!("whsec_{}", id.simple())),
        previous_secret: None,
        created_at: at,
        disabled_at: None,
        disabled_reason: None,
        position: 0,
        created_by,
        failing_since: None,
        version: 1,
    }
}

/// A pending delivery of the event at `position`, claimed until `lease_until`.
pub fn delivery(
    endpoint: &WebhookEndpoint,
    id: Uuid,
    position: u64,
    at: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> WebhookDelivery {
    let event = AuditEventId::from_uuid(Uuid::from_u64_pair(u64::MAX, position));
    WebhookDelivery::claimed(WebhookDeliveryId::from_uuid(id), endpoint, position, event, at, lease_until)
}

/// One organization with a bit of everything, as [`seed`] wrote it.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The organization's number in [`uid`].
    pub n: u64,
    pub org: Organization,
    pub catalog: Catalog,
    /// core 5 (3 used: ada, bob, cy's reservation), flow 3 (1 used: ada), dialer, sms, voice.
    pub pools: Vec<SeatPool>,
    /// The built-in roles and a custom `auditor` role.
    pub roles: Vec<Role>,
    /// Depth 1.
    pub root: Group,
    /// Depth 2, with `flow` assigned.
    pub sales: Group,
    /// Depth 3, below `sales`.
    pub east: Group,
    /// Depth 2.
    pub support: Group,
    /// Depth 2, deleted at `T0 + 1 day`; ada was a member until then.
    pub old: Group,
    /// Holds `admin` org-wide, has a password, no license, in no group.
    pub admin: User,
    /// `standard`; every optional fact and setting; core and flow; member of sales; extra
    /// access to support; has a password.
    pub ada: User,
    /// `operations_limited` and `admin` scoped to east; core; member of east, left support.
    pub bob: User,
    /// Invited: a pending invite reserving core.
    pub cy: User,
    /// Deactivated, inactive in the CRM, once in sales.
    pub dee: User,
    /// Deleted.
    pub eve: User,
    pub memberships: Vec<Membership>,
    pub licenses: Vec<LicenseAssignment>,
    pub flow: Flow,
    /// Bound to sales, created by admin.
    pub api_key: ApiKey,
    /// ada's (sales, with flow, cc bob), ada's "Organization", bob's via the key (east),
    /// admin's (sales and support).
    pub connections: Vec<Connection>,
    /// cy's.
    pub invite: Invite,
    pub reservation: SeatReservation,
    /// bob's deactivation (pending), ada's flow removal (pending), an applied one.
    pub scheduled: Vec<ScheduledChange>,
    /// Three events, in append order.
    pub events: Vec<AuditEvent>,
    pub mail: OutgoingMail,
    pub webhook: WebhookEndpoint,
    /// A settled (sent) delivery of the webhook.
    pub delivery: WebhookDelivery,
    pub password_hashes: BTreeMap<UserId, PasswordHash>,
}

impl Seed {
    pub fn role(&self, role_key: &str) -> &Role {
        self.roles.iter().find(|r| r.key.as_str() == role_key).expect("a seeded role")
    }

    pub fn users(&self) -> [&User; 6] {
        [&self.admin, &self.ada, &self.bob, &self.cy, &self.dee, &self.eve]
    }

    pub fn user_ids(&self) -> Vec<UserId> {
        self.users().iter().map(|u| u.id).collect()
    }

    pub fn groups(&self) -> [&Group; 5] {
        [&self.root, &self.sales, &self.east, &self.support, &self.old]
    }
}

/// Writes organization number `n` (slug `org-{n}`) with [`Seed`]'s rows in one committed
/// transaction. Distinct `n` give distinct ids, slugs and unique values' holders (the same
/// emails and phones, in another organization).
pub async fn seed(store: &Arc<dyn Store>, n: u64) -> Seed {
    let mut tx = begin(store).await;
    let seed = write_seed(tx.as_mut(), n).await;
    commit(tx).await;
    seed
}

/// [`seed`] inside a transaction the caller owns.
pub async fn write_seed(tx: &mut dyn Tx, n: u64) -> Seed {
    let id = |k: u64| uid(n, k);
    let mut organization = org(n, &format!("org-{n}"));
    organization.trial_ends_at = Some(T0 + Duration::days(30));
    organization.settings = OrgSettings {
        auto_signup: false,
        allowed_signup_domains: vec![EmailDomain::parse("example.com").expect("a valid domain")],
        release_seats_when_inactive: false,
        default_seat_limit: 5,
        scim_products: vec![key("core"), key("flow")],
    };
    let o = organization.id;

    let catalog = Catalog::default_catalog()
        .with_product(Product { key: key("voice"), name: label("Voice"), requires: BTreeSet::from([key("dialer")]) })
        .expect("a DAG");
    let pools = vec![
        pool(o, "core", 5, 3),
        pool(o, "dialer", 3, 0),
        pool(o, "flow", 3, 1),
        pool(o, "sms", 3, 0),
        pool(o, "voice", 2, 0),
    ];
    let mut roles: Vec<Role> =
        (10..).zip(BUILTIN_ROLES.iter()).map(|(k, b)| b.to_role(RoleId::from_uuid(id(k)), o)).collect();
    roles.push(role(o, id(30), "auditor"));
    let role_id = |k: &str| roles.iter().find(|r| r.key.as_str() == k).expect("a built-in role").id;

    let root = group(o, id(1), None, &format!("Org {n}"));
    let sales = group(o, id(40), Some(&root), "Sales");
    let east = group(o, id(41), Some(&sales), "East");
    let support = group(o, id(42), Some(&root), "Support");
    let mut old = group(o, id(43), Some(&root), "Old");
    old.deleted_at = Some(T0 + Duration::days(1));
    old.version = 2;

    let mut admin = user(o, id(100), "admin@example.com");
    admin.first_name = name("Grace");
    admin.last_name = name("Hopper");
    admin.roles = BTreeSet::from([RoleGrant::org_wide(role_id("admin"))]);
    admin.has_password = true;

    let mut ada = user(o, id(101), "ada@example.com");
    ada.phone = Some(phone("+14155550101"));
    ada.nicknames = Nicknames::parse(["Countess", "AL"]).expect("valid nicknames");
    ada.crm_id = Some(CrmId::parse("005Ada").expect("a valid crm id"));
    ada.agent_id = Some(AgentId::parse("agent-ada").expect("a valid agent id"));
    ada.agent_ring_number = Some(phone("+14155550201"));
    ada.dialer_number = Some(phone("+14155550301"));
    ada.roles = BTreeSet::from([RoleGrant::org_wide(role_id("standard"))]);
    ada.extra_permissions = BTreeSet::from([Permission::ViewReporting]);
    ada.group_access = BTreeSet::from([support.id]);
    ada.settings = UserSettings {
        mailbox_provider: MailboxProvider::Google,
        email_throttle_max_per_day: 1_000,
        flow_enabled: false,
        email_sync: true,
        calendar_sync: true,
        call_recording: CallRecording::Enforced,
        homepage: Homepage::Leads,
        round_robin: true,
        scoring_enabled: true,
        roaming_agent: true,
        voip_forward_to: Some(phone("+14155550401")),
    };
    ada.lifecycle =
        Lifecycle { ever_held_core: true, crm_connected: true, mailbox_connected: true, ..Lifecycle::default() };
    ada.has_password = true;
    ada.created_at = T0 + Duration::microseconds(1);
    ada.updated_at = T0 + Duration::hours(1);
    ada.version = 3;

    let mut bob = user(o, id(102), "bob@example.com");
    bob.first_name = name("Bob");
    bob.last_name = name("Byte");
    bob.phone = Some(phone("+14155550102"));
    bob.roles = BTreeSet::from([
        RoleGrant::org_wide(role_id("operations_limited")),
        RoleGrant { role_id: role_id("admin"), scope: Some(east.id) },
    ]);
    bob.lifecycle.ever_held_core = true;

    let mut cy = user(o, id(103), "cy@example.com");
    cy.first_name = name("Cy");
    cy.roles = BTreeSet::from([RoleGrant::org_wide(role_id("standard"))]);
    cy.lifecycle.invited = true;

    let mut dee = user(o, id(104), "dee@example.com");
    dee.first_name = name("Dee");
    dee.lifecycle.deactivated_at = Some(T0 + Duration::days(2));
    dee.lifecycle.inactive_reasons = BTreeSet::from([InactiveReason::InactiveInCrm]);
    dee.roles = BTreeSet::from([RoleGrant::org_wide(role_id("auditor"))]);

    let mut eve = user(o, id(105), "eve@example.com");
    eve.first_name = name("Eve");
    eve.phone = Some(phone("+14155550105"));
    eve.lifecycle.deleted_at = Some(T0 + Duration::days(3));
    eve.roles = BTreeSet::from([RoleGrant::org_wide(role_id("team_lead"))]);

    let memberships = vec![
        membership(&sales, &ada, T0, None),
        membership(&old, &ada, T0, old.deleted_at),
        membership(&east, &bob, T0 + Duration::minutes(5), None),
        membership(&support, &bob, T0, Some(T0 + Duration::hours(2))),
        membership(&sales, &dee, T0, Some(T0 + Duration::days(2))),
    ];
    let licenses = vec![license(&ada, "core"), license(&ada, "flow"), license(&bob, "core")];
    let flow = flow(o, id(50), "Onboarding");
    let mut key_row = api_key(o, id(60), admin.id, &format!("key-hash-{n}"));
    key_row.group_id = Some(sales.id);
    key_row.last_used_at = Some(T0 + Duration::hours(3));

    let mut with_flow = connection(o, id(200), ada.id, T0 + Duration::hours(1), &[sales.id]);
    with_flow.flow_id = Some(flow.id);
    with_flow.cc = BTreeSet::from([bob.id]);
    let unstamped = connection(o, id(201), ada.id, T0 + Duration::hours(2), &[]);
    let mut via_key = connection(o, id(202), bob.id, T0 + Duration::hours(2), &[east.id]);
    via_key.via_api_key = Some(key_row.id);
    let two_groups = connection(o, id(203), admin.id, T0 + Duration::hours(3), &[sales.id, support.id]);
    let connections = vec![with_flow, unstamped, via_key, two_groups];

    let invite = invite(&cy, id(70), &format!("token-hash-{n}"), &["core"]);
    let reservation = SeatReservation { org_id: o, invite_id: invite.id, product: key("core") };
    let mut applied = scheduled(&dee, id(82), ScheduledAction::Deactivate, T0 + Duration::days(2));
    applied.state = ScheduleState::Applied { at: T0 + Duration::days(2) };
    let scheduled_changes = vec![
        scheduled(&bob, id(80), ScheduledAction::Deactivate, T0 + Duration::days(10)),
        scheduled(&ada, id(81), ScheduledAction::RemoveLicense(key("flow")), T0 + Duration::days(5)),
        applied,
    ];
    let mut created = event(o, id(90), T0, "user.created");
    created.actor_id = Some(admin.id);
    created.source = Source::Console;
    created.target_id = ada.id.to_string();
    created.target_label = ada.label();
    created.details = json!({ "email": { "before": null, "after": "ada@example.com" }, "n": 1.5, "list": [1, "two"] });
    let mut impersonated = event(o, id(91), T0 + Duration::hours(1), "license.assigned");
    impersonated.actor_id = Some(ada.id);
    impersonated.impersonator_id = Some(admin.id);
    impersonated.source = Source::Api;
    impersonated.target_kind = TargetKind::License;
    let events = vec![created, impersonated, event(o, id(92), T0 + Duration::hours(1), "group.created")];
    let mut mail = mail(o, id(110), "cy@example.com", T0);
    mail.kind = MailKind::Invitation {
        invite_id: invite.id,
        token: "clear-token".to_owned(),
        org_name: organization.name.as_str().to_owned(),
        invited_by: admin.label(),
        expires_at: invite.expires_at,
    };
    let mut hook = webhook(o, id(120), admin.id, T0);
    hook.event_types = BTreeSet::from([EventPattern::parse("user.*").expect("a valid pattern")]);
    hook.position = 1;
    hook.version = 2;
    let mut sent = delivery(&hook, id(121), 1, T0, T0 + Duration::minutes(1));
    sent.event_id = events[0].id;
    sent.state = WebhookDeliveryState::Sent;
    sent.attempts = 1;
    sent.response_status = Some(204);
    sent.next_attempt_at = None;
    sent.last_attempt_at = Some(T0 + Duration::seconds(2));
    sent.version = 2;
    let password_hashes = BTreeMap::from([
        (admin.id, PasswordHash::new(format!("$argon2id$admin-{n}"))),
        (ada.id, PasswordHash::new(format!("$argon2id$ada-{n}"))),
    ]);

    // Written in an order that respects every reference a schema may enforce.
    tx.insert_org(&organization).await.expect("inserts the organization");
    tx.insert_group(&root).await.expect("inserts the root group");
    tx.save_catalog(o, &catalog).await.expect("saves the catalog");
    for p in &pools {
        tx.insert_seat_pool(p).await.expect("inserts a seat pool");
    }
    for r in &roles {
        tx.insert_role(r).await.expect("inserts a role");
    }
    for g in [&sales, &east, &support, &old] {
        tx.insert_group(g).await.expect("inserts a group");
    }
    for u in [&admin, &ada, &bob, &cy, &dee, &eve] {
        tx.insert_user(u).await.expect("inserts a user");
    }
    for (u, h) in &password_hashes {
        tx.set_password_hash(o, *u, h).await.expect("sets a password hash");
    }
    for m in &memberships {
        tx.insert_membership(m).await.expect("inserts a membership");
    }
    for l in &licenses {
        tx.insert_license(l).await.expect("inserts a license");
    }
    tx.insert_flow(&flow).await.expect("inserts a flow");
    tx.set_group_flows(o, sales.id, &BTreeSet::from([flow.id])).await.expect("assigns flows");
    tx.insert_api_key(&key_row).await.expect("inserts an api key");
    for c in &connections {
        tx.insert_connection(c).await.expect("inserts a connection");
    }
    tx.insert_invite(&invite).await.expect("inserts an invite");
    tx.insert_reservation(&reservation).await.expect("inserts a reservation");
    for s in &scheduled_changes {
        tx.insert_scheduled(s).await.expect("inserts a scheduled change");
    }
    for e in &events {
        tx.append_audit(e).await.expect("appends an event");
    }
    tx.enqueue_mail(&mail).await.expect("enqueues a message");
    tx.insert_webhook(&hook).await.expect("inserts a webhook");
    tx.insert_webhook_delivery(&sent).await.expect("inserts a delivery");

    Seed {
        n,
        org: organization,
        catalog,
        pools,
        roles,
        root,
        sales,
        east,
        support,
        old,
        admin,
        ada,
        bob,
        cy,
        dee,
        eve,
        memberships,
        licenses,
        flow,
        api_key: key_row,
        connections,
        invite,
        reservation,
        scheduled: scheduled_changes,
        events,
        mail,
        webhook: hook,
        delivery: sent,
        password_hashes,
    }
}

/// Everything of one seeded organization, read through the port. Two dumps compare equal when
/// nothing of the organization changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    pub org: Option<Organization>,
    pub catalog: Option<Catalog>,
    pub pools: Vec<SeatPool>,
    pub roles: Vec<Role>,
    pub groups: Vec<Group>,
    pub users: Vec<User>,
    pub listed_users: Vec<User>,
    pub password_hashes: Vec<Option<PasswordHash>>,
    pub memberships: Vec<Vec<Membership>>,
    pub current_members: Vec<Vec<UserId>>,
    pub group_flows: BTreeMap<GroupId, BTreeSet<FlowId>>,
    pub licenses: Vec<LicenseAssignment>,
    pub flows: Vec<Flow>,
    pub api_keys: Vec<ApiKey>,
    pub connections: Vec<Connection>,
    pub invites: Vec<Option<Invite>>,
    pub pending_invites: Vec<Invite>,
    pub reservations: Vec<SeatReservation>,
    pub scheduled: Vec<Vec<ScheduledChange>>,
    pub audit: Vec<AuditEvent>,
    pub feed: Vec<(u64, AuditEvent)>,
    pub last_position: u64,
    pub mail: Vec<QueuedMail>,
    pub webhooks: Vec<WebhookEndpoint>,
    pub deliveries: Vec<Vec<WebhookDelivery>>,
    pub active_admins: Vec<UserId>,
    pub billable: u64,
}

/// Reads everything of `seed`'s organization (and its mail, among every organization's).
pub async fn dump(tx: &mut dyn Tx, seed: &Seed) -> Dump {
    let o = seed.org.id;
    let ids = seed.user_ids();
    let mut password_hashes = Vec::new();
    let mut memberships = Vec::new();
    let mut scheduled = Vec::new();
    for u in &ids {
        password_hashes.push(tx.password_hash(o, *u).await.expect("reads a hash"));
        let mut m = tx.memberships_of(o, *u).await.expect("reads memberships");
        m.sort_by_key(|m| (m.group_id, m.joined_at, m.left_at));
        memberships.push(m);
        scheduled.push(tx.scheduled_for_user(o, *u).await.expect("reads scheduled changes"));
    }
    let mut current_members = Vec::new();
    for g in seed.groups() {
        current_members.push(tx.current_members(o, g.id).await.expect("reads members"));
    }
    let all = ConnectionQuery { org_id: o, scope: ConnectionScope::All, group: None, after: None, limit: 200 };
    let webhooks = tx.webhooks(o).await.expect("reads webhooks");
    let mut deliveries = Vec::new();
    for w in &webhooks {
        deliveries.push(tx.webhook_deliveries(o, w.id, 100).await.expect("reads deliveries"));
    }
    let far = T0 + Duration::days(3_650);
    Dump {
        org: tx.org(o).await.expect("reads the org"),
        catalog: match tx.catalog(o).await {
            Ok(c) => Some(c),
            Err(StoreError::Missing { .. }) => None,
            Err(e) => panic!("reads the catalog: {e}"),
        },
        pools: tx.seat_pools(o).await.expect("reads pools"),
        roles: tx.roles(o).await.expect("reads roles"),
        groups: tx.groups(o).await.expect("reads groups"),
        users: tx.users_by_ids(o, &ids).await.expect("reads users"),
        listed_users: tx.list_users(&UserQuery::new(o)).await.expect("lists users").items,
        password_hashes,
        memberships,
        current_members,
        group_flows: tx.group_flows(o).await.expect("reads group flows"),
        licenses: tx.all_licenses(o).await.expect("reads licenses"),
        flows: tx.flows(o).await.expect("reads flows"),
        api_keys: tx.api_keys(o).await.expect("reads api keys"),
        connections: tx.list_connections(&all).await.expect("lists connections"),
        invites: vec![tx.invite(o, seed.invite.id).await.expect("reads an invite")],
        pending_invites: tx.pending_invites(o).await.expect("reads invites"),
        reservations: tx.reservations_of(o, seed.invite.id).await.expect("reads reservations"),
        scheduled,
        audit: tx.audit(o, &AuditQuery::default()).await.expect("reads the audit log"),
        feed: tx.events_after(o, None, 1_000).await.expect("reads the feed"),
        last_position: tx.last_event_position(o).await.expect("reads the last position"),
        mail: tx.due_mail(far, 1_000).await.expect("reads mail").into_iter().filter(|m| m.mail.org_id == o).collect(),
        webhooks,
        deliveries,
        active_admins: tx.active_admins(o, seed.role("admin").id).await.expect("reads admins"),
        billable: tx.count_billable(o).await.expect("counts billable users"),
    }
}
