//! A [`Store`] that behaves like the in-memory one except that the outbox of its first
//! transaction is a mockall [`MockOutbox`]: every repository call is delegated to the in-memory
//! transaction, `enqueue_mail` and `enqueue_mails` to the mock. It lets a test make mail queuing
//! fail in the middle of a use case and check that the whole transaction vanished.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use roster_domain::audit::{AuditEvent, AuditQuery};
use roster_domain::catalog::Catalog;
use roster_domain::connections::{ApiKey, Connection, Flow};
use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{
    ApiKeyId, ConnectionId, FlowId, GroupId, InviteId, JobId, MailId, OrgId, RoleId, ScheduledChangeId, UserId,
    WebhookId,
};
use roster_domain::invites::Invite;
use roster_domain::jobs::{Job, JobOutcome};
use roster_domain::mail::{DeliveryState, OutgoingMail, QueuedMail};
use roster_domain::org::Organization;
use roster_domain::password_resets::PasswordReset;
use roster_domain::ports::{Attempt, AttemptKind, Session, SessionRepository};
use roster_domain::ports::{
    AuditLog, ConnectionRepository, GroupRepository, InviteRepository, JobRepository, LicenseRepository, MockOutbox,
    OrgRepository, Outbox, PasswordHash, PasswordResetRepository, RoleRepository, ScheduleRepository, Store,
    StoreError, Tx, UserLookup, UserRepository, WebhookRepository,
};
use roster_domain::roles::Role;
use roster_domain::scheduling::{ScheduleState, ScheduledChange};
use roster_domain::seats::{LicenseAssignment, SeatPool, SeatReservation};
use roster_domain::user::User;
use roster_domain::users_query::{UserPage, UserPageFacts, UserQuery};
use roster_domain::values::{CrmId, Email, Key, Phone, Slug};
use roster_domain::visibility::ConnectionQuery;
use roster_domain::webhooks::{WebhookDelivery, WebhookEndpoint};
use roster_testkit::InMemoryStore;
use time::OffsetDateTime;

type R<T> = Result<T, StoreError>;

/// The in-memory store with a mocked outbox in its next transaction.
pub struct OutboxOverrideStore {
    inner: InMemoryStore,
    next_outbox: Mutex<Option<MockOutbox>>,
}

impl OutboxOverrideStore {
    pub fn new(inner: InMemoryStore, outbox: MockOutbox) -> Self {
        Self { inner, next_outbox: Mutex::new(Some(outbox)) }
    }
}

#[async_trait]
impl Store for OutboxOverrideStore {
    async fn begin(&self) -> R<Box<dyn Tx>> {
        let inner = self.inner.begin().await?;
        let outbox = self.next_outbox.lock().expect("not poisoned").take();
        Ok(Box::new(OverrideTx { inner, outbox }))
    }

    async fn begin_read(&self) -> R<Box<dyn Tx>> {
        self.inner.begin_read().await
    }
}

/// An in-memory transaction whose outbox may be a mock.
struct OverrideTx {
    inner: Box<dyn Tx>,
    outbox: Option<MockOutbox>,
}

#[async_trait]
impl Tx for OverrideTx {
    async fn commit(self: Box<Self>) -> R<()> {
        self.inner.commit().await
    }
}

#[async_trait]
impl Outbox for OverrideTx {
    async fn enqueue_mail(&mut self, mail: &OutgoingMail) -> R<()> {
        match &mut self.outbox {
            Some(mock) => mock.enqueue_mail(mail).await,
            None => self.inner.enqueue_mail(mail).await,
        }
    }
    async fn enqueue_mails(&mut self, mails: &[OutgoingMail]) -> R<()> {
        match &mut self.outbox {
            Some(mock) => mock.enqueue_mails(mails).await,
            None => self.inner.enqueue_mails(mails).await,
        }
    }
    async fn due_mail(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<QueuedMail>> {
        self.inner.due_mail(now, limit).await
    }
    async fn set_delivery(&mut self, id: MailId, state: &DeliveryState) -> R<()> {
        self.inner.set_delivery(id, state).await
    }
    async fn mail(&mut self, id: MailId) -> R<Option<QueuedMail>> {
        self.inner.mail(id).await
    }
}

#[async_trait]
impl SessionRepository for OverrideTx {
    async fn insert_session(&mut self, session: &Session) -> R<()> {
        self.inner.insert_session(session).await
    }
    async fn session(&mut self, token_hash: &str) -> R<Option<Session>> {
        self.inner.session(token_hash).await
    }
    async fn extend_session(&mut self, token_hash: &str, seen: OffsetDateTime, expires: OffsetDateTime) -> R<()> {
        self.inner.extend_session(token_hash, seen, expires).await
    }
    async fn delete_session(&mut self, token_hash: &str) -> R<bool> {
        self.inner.delete_session(token_hash).await
    }
    async fn delete_user_sessions<'a>(&mut self, org: OrgId, user: UserId, keep: Option<&'a str>) -> R<u64> {
        self.inner.delete_user_sessions(org, user, keep).await
    }
    async fn purge_expired_sessions(&mut self, now: OffsetDateTime) -> R<u64> {
        self.inner.purge_expired_sessions(now).await
    }
    async fn record_attempt(&mut self, attempt: &Attempt) -> R<()> {
        self.inner.record_attempt(attempt).await
    }
    async fn attempts_since<'a>(
        &mut self,
        kind: AttemptKind,
        address: &str,
        account: Option<&'a str>,
        since: OffsetDateTime,
    ) -> R<Vec<OffsetDateTime>> {
        self.inner.attempts_since(kind, address, account, since).await
    }
    async fn clear_attempts(&mut self, kind: AttemptKind, address: &str, account: &str) -> R<()> {
        self.inner.clear_attempts(kind, address, account).await
    }
    async fn purge_attempts(&mut self, before: OffsetDateTime) -> R<u64> {
        self.inner.purge_attempts(before).await
    }
    async fn account_attempts_since(
        &mut self,
        kind: AttemptKind,
        account: &str,
        since: OffsetDateTime,
    ) -> R<Vec<OffsetDateTime>> {
        self.inner.account_attempts_since(kind, account, since).await
    }
}

#[async_trait]
impl PasswordResetRepository for OverrideTx {
    async fn insert_password_reset(&mut self, reset: &PasswordReset) -> R<()> {
        self.inner.insert_password_reset(reset).await
    }
    async fn take_password_reset(&mut self, token_hash: &str) -> R<Option<PasswordReset>> {
        self.inner.take_password_reset(token_hash).await
    }
    async fn delete_password_resets(&mut self, org: OrgId, user: UserId) -> R<u64> {
        self.inner.delete_password_resets(org, user).await
    }
    async fn purge_expired_password_resets(&mut self, now: OffsetDateTime) -> R<u64> {
        self.inner.purge_expired_password_resets(now).await
    }
}

#[async_trait]
impl OrgRepository for OverrideTx {
    async fn insert_org(&mut self, org: &Organization) -> R<()> {
        self.inner.insert_org(org).await
    }
    async fn org(&mut self, id: OrgId) -> R<Option<Organization>> {
        self.inner.org(id).await
    }
    async fn org_by_slug(&mut self, slug: &Slug) -> R<Option<Organization>> {
        self.inner.org_by_slug(slug).await
    }
    async fn orgs(&mut self) -> R<Vec<Organization>> {
        self.inner.orgs().await
    }
    async fn update_org(&mut self, org: &Organization) -> R<()> {
        self.inner.update_org(org).await
    }
    async fn lock_org(&mut self, id: OrgId) -> R<()> {
        self.inner.lock_org(id).await
    }
    async fn catalog(&mut self, org: OrgId) -> R<Catalog> {
        self.inner.catalog(org).await
    }
    async fn save_catalog(&mut self, org: OrgId, catalog: &Catalog) -> R<()> {
        self.inner.save_catalog(org, catalog).await
    }
}

#[async_trait]
impl UserRepository for OverrideTx {
    async fn insert_user(&mut self, user: &User) -> R<()> {
        self.inner.insert_user(user).await
    }
    async fn user(&mut self, org: OrgId, id: UserId) -> R<Option<User>> {
        self.inner.user(org, id).await
    }
    async fn users_by_ids(&mut self, org: OrgId, ids: &[UserId]) -> R<Vec<User>> {
        self.inner.users_by_ids(org, ids).await
    }
    async fn find_user<'a>(&mut self, org: OrgId, lookup: UserLookup<'a>) -> R<Option<User>> {
        self.inner.find_user(org, lookup).await
    }
    async fn insert_users(&mut self, users: &[User]) -> R<()> {
        self.inner.insert_users(users).await
    }
    async fn users_matching(
        &mut self,
        org: OrgId,
        emails: &[Email],
        phones: &[Phone],
        crm_ids: &[CrmId],
    ) -> R<Vec<User>> {
        self.inner.users_matching(org, emails, phones, crm_ids).await
    }
    async fn update_user(&mut self, user: &User) -> R<()> {
        self.inner.update_user(user).await
    }
    async fn purge_user(&mut self, org: OrgId, id: UserId) -> R<()> {
        self.inner.purge_user(org, id).await
    }
    async fn active_admins(&mut self, org: OrgId, admin_role: RoleId) -> R<Vec<UserId>> {
        self.inner.active_admins(org, admin_role).await
    }
    async fn count_billable(&mut self, org: OrgId) -> R<u64> {
        self.inner.count_billable(org).await
    }
    async fn list_users(&mut self, query: &UserQuery) -> R<UserPage> {
        self.inner.list_users(query).await
    }
    async fn count_users(&mut self, query: &UserQuery) -> R<u64> {
        self.inner.count_users(query).await
    }
    async fn page_facts(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<UserPageFacts>> {
        self.inner.page_facts(org, users).await
    }
    async fn set_password_hash(&mut self, org: OrgId, id: UserId, hash: &PasswordHash) -> R<()> {
        self.inner.set_password_hash(org, id, hash).await
    }
    async fn password_hash(&mut self, org: OrgId, id: UserId) -> R<Option<PasswordHash>> {
        self.inner.password_hash(org, id).await
    }
}

#[async_trait]
impl LicenseRepository for OverrideTx {
    async fn insert_seat_pool(&mut self, pool: &SeatPool) -> R<()> {
        self.inner.insert_seat_pool(pool).await
    }
    async fn seat_pools(&mut self, org: OrgId) -> R<Vec<SeatPool>> {
        self.inner.seat_pools(org).await
    }
    async fn set_seats_total(&mut self, org: OrgId, product: &Key, total: u32) -> R<SeatPool> {
        self.inner.set_seats_total(org, product, total).await
    }
    async fn take_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        self.inner.take_seats(org, product, n).await
    }
    async fn return_seats(&mut self, org: OrgId, product: &Key, n: u32) -> R<SeatPool> {
        self.inner.return_seats(org, product, n).await
    }
    async fn licenses_of(&mut self, org: OrgId, user: UserId) -> R<Vec<LicenseAssignment>> {
        self.inner.licenses_of(org, user).await
    }
    async fn all_licenses(&mut self, org: OrgId) -> R<Vec<LicenseAssignment>> {
        self.inner.all_licenses(org).await
    }
    async fn insert_license(&mut self, assignment: &LicenseAssignment) -> R<()> {
        self.inner.insert_license(assignment).await
    }
    async fn insert_licenses(&mut self, assignments: &[LicenseAssignment]) -> R<()> {
        self.inner.insert_licenses(assignments).await
    }
    async fn delete_license(&mut self, org: OrgId, user: UserId, product: &Key) -> R<bool> {
        self.inner.delete_license(org, user, product).await
    }
    async fn reservations_of(&mut self, org: OrgId, invite: InviteId) -> R<Vec<SeatReservation>> {
        self.inner.reservations_of(org, invite).await
    }
    async fn insert_reservation(&mut self, reservation: &SeatReservation) -> R<()> {
        self.inner.insert_reservation(reservation).await
    }
    async fn insert_reservations(&mut self, reservations: &[SeatReservation]) -> R<()> {
        self.inner.insert_reservations(reservations).await
    }
    async fn delete_reservations(&mut self, org: OrgId, invite: InviteId) -> R<()> {
        self.inner.delete_reservations(org, invite).await
    }
}

#[async_trait]
impl RoleRepository for OverrideTx {
    async fn roles(&mut self, org: OrgId) -> R<Vec<Role>> {
        self.inner.roles(org).await
    }
    async fn roles_version(&mut self, org: OrgId) -> R<u64> {
        self.inner.roles_version(org).await
    }
    async fn insert_role(&mut self, role: &Role) -> R<()> {
        self.inner.insert_role(role).await
    }
    async fn update_role(&mut self, role: &Role) -> R<()> {
        self.inner.update_role(role).await
    }
    async fn delete_role(&mut self, org: OrgId, id: RoleId) -> R<()> {
        self.inner.delete_role(org, id).await
    }
    async fn role_in_use(&mut self, org: OrgId, id: RoleId) -> R<bool> {
        self.inner.role_in_use(org, id).await
    }
}

#[async_trait]
impl GroupRepository for OverrideTx {
    async fn groups(&mut self, org: OrgId) -> R<Vec<Group>> {
        self.inner.groups(org).await
    }
    async fn groups_version(&mut self, org: OrgId) -> R<u64> {
        self.inner.groups_version(org).await
    }
    async fn insert_group(&mut self, group: &Group) -> R<()> {
        self.inner.insert_group(group).await
    }
    async fn update_group(&mut self, group: &Group) -> R<()> {
        self.inner.update_group(group).await
    }
    async fn memberships_of(&mut self, org: OrgId, user: UserId) -> R<Vec<Membership>> {
        self.inner.memberships_of(org, user).await
    }
    async fn current_members(&mut self, org: OrgId, group: GroupId) -> R<Vec<UserId>> {
        self.inner.current_members(org, group).await
    }
    async fn insert_membership(&mut self, membership: &Membership) -> R<()> {
        self.inner.insert_membership(membership).await
    }
    async fn insert_memberships(&mut self, memberships: &[Membership]) -> R<()> {
        self.inner.insert_memberships(memberships).await
    }
    async fn end_membership(&mut self, org: OrgId, group: GroupId, user: UserId, at: OffsetDateTime) -> R<bool> {
        self.inner.end_membership(org, group, user, at).await
    }
    async fn group_flows(&mut self, org: OrgId) -> R<BTreeMap<GroupId, BTreeSet<FlowId>>> {
        self.inner.group_flows(org).await
    }
    async fn set_group_flows(&mut self, org: OrgId, group: GroupId, flows: &BTreeSet<FlowId>) -> R<()> {
        self.inner.set_group_flows(org, group, flows).await
    }
}

#[async_trait]
impl ConnectionRepository for OverrideTx {
    async fn insert_connection(&mut self, connection: &Connection) -> R<()> {
        self.inner.insert_connection(connection).await
    }
    async fn insert_connections(&mut self, connections: &[Connection]) -> R<()> {
        self.inner.insert_connections(connections).await
    }
    async fn connection(&mut self, org: OrgId, id: ConnectionId) -> R<Option<Connection>> {
        self.inner.connection(org, id).await
    }
    async fn list_connections(&mut self, query: &ConnectionQuery) -> R<Vec<Connection>> {
        self.inner.list_connections(query).await
    }
    async fn restamp_unstamped(&mut self, org: OrgId, inviter: UserId, group: GroupId) -> R<u64> {
        self.inner.restamp_unstamped(org, inviter, group).await
    }
    async fn transfer_stamp(&mut self, org: OrgId, inviter: UserId, from: GroupId, to: GroupId) -> R<u64> {
        self.inner.transfer_stamp(org, inviter, from, to).await
    }
    async fn flows(&mut self, org: OrgId) -> R<Vec<Flow>> {
        self.inner.flows(org).await
    }
    async fn insert_flow(&mut self, flow: &Flow) -> R<()> {
        self.inner.insert_flow(flow).await
    }
    async fn api_keys(&mut self, org: OrgId) -> R<Vec<ApiKey>> {
        self.inner.api_keys(org).await
    }
    async fn api_key(&mut self, org: OrgId, id: ApiKeyId) -> R<Option<ApiKey>> {
        self.inner.api_key(org, id).await
    }
    async fn api_key_by_secret_hash(&mut self, hash: &str) -> R<Option<ApiKey>> {
        self.inner.api_key_by_secret_hash(hash).await
    }
    async fn insert_api_key(&mut self, key: &ApiKey) -> R<()> {
        self.inner.insert_api_key(key).await
    }
    async fn update_api_key(&mut self, key: &ApiKey) -> R<()> {
        self.inner.update_api_key(key).await
    }
    async fn touch_api_key(&mut self, org: OrgId, id: ApiKeyId, at: OffsetDateTime) -> R<()> {
        self.inner.touch_api_key(org, id, at).await
    }
}

#[async_trait]
impl InviteRepository for OverrideTx {
    async fn insert_invite(&mut self, invite: &Invite) -> R<()> {
        self.inner.insert_invite(invite).await
    }
    async fn insert_invites(&mut self, invites: &[Invite]) -> R<()> {
        self.inner.insert_invites(invites).await
    }
    async fn invite(&mut self, org: OrgId, id: InviteId) -> R<Option<Invite>> {
        self.inner.invite(org, id).await
    }
    async fn invite_by_token_hash(&mut self, hash: &str) -> R<Option<Invite>> {
        self.inner.invite_by_token_hash(hash).await
    }
    async fn pending_invites(&mut self, org: OrgId) -> R<Vec<Invite>> {
        self.inner.pending_invites(org).await
    }
    async fn update_invite(&mut self, invite: &Invite) -> R<()> {
        self.inner.update_invite(invite).await
    }
    async fn delete_invite(&mut self, org: OrgId, id: InviteId) -> R<()> {
        self.inner.delete_invite(org, id).await
    }
}

#[async_trait]
impl ScheduleRepository for OverrideTx {
    async fn insert_scheduled(&mut self, change: &ScheduledChange) -> R<()> {
        self.inner.insert_scheduled(change).await
    }
    async fn scheduled_for_user(&mut self, org: OrgId, user: UserId) -> R<Vec<ScheduledChange>> {
        self.inner.scheduled_for_user(org, user).await
    }
    async fn pending_scheduled_for_users(&mut self, org: OrgId, users: &[UserId]) -> R<Vec<ScheduledChange>> {
        self.inner.pending_scheduled_for_users(org, users).await
    }
    async fn due_scheduled(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<ScheduledChange>> {
        self.inner.due_scheduled(now, limit).await
    }
    async fn update_scheduled(&mut self, change: &ScheduledChange) -> R<()> {
        self.inner.update_scheduled(change).await
    }
    async fn scheduled(&mut self, org: OrgId, id: ScheduledChangeId) -> R<Option<ScheduledChange>> {
        self.inner.scheduled(org, id).await
    }
    async fn settle_scheduled(&mut self, org: OrgId, id: ScheduledChangeId, state: &ScheduleState) -> R<bool> {
        self.inner.settle_scheduled(org, id, state).await
    }
}

#[async_trait]
impl JobRepository for OverrideTx {
    async fn insert_job(&mut self, job: &Job, input: &str) -> R<()> {
        self.inner.insert_job(job, input).await
    }
    async fn job(&mut self, org: OrgId, id: JobId) -> R<Option<Job>> {
        self.inner.job(org, id).await
    }
    async fn job_input(&mut self, org: OrgId, id: JobId) -> R<Option<String>> {
        self.inner.job_input(org, id).await
    }
    async fn update_job(&mut self, job: &Job) -> R<()> {
        self.inner.update_job(job).await
    }
    async fn claimable_jobs(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<Job>> {
        self.inner.claimable_jobs(now, limit).await
    }
    async fn insert_job_outcomes(&mut self, org: OrgId, job: JobId, outcomes: &[JobOutcome]) -> R<()> {
        self.inner.insert_job_outcomes(org, job, outcomes).await
    }
    async fn job_outcomes(&mut self, org: OrgId, job: JobId, after: u64, limit: u32) -> R<Vec<JobOutcome>> {
        self.inner.job_outcomes(org, job, after, limit).await
    }
    async fn purge_jobs(&mut self, finished_before: OffsetDateTime) -> R<u64> {
        self.inner.purge_jobs(finished_before).await
    }
}

#[async_trait]
impl AuditLog for OverrideTx {
    async fn append_audit(&mut self, event: &AuditEvent) -> R<()> {
        self.inner.append_audit(event).await
    }
    async fn append_audits(&mut self, events: &[AuditEvent]) -> R<()> {
        self.inner.append_audits(events).await
    }
    async fn audit(&mut self, org: OrgId, query: &AuditQuery) -> R<Vec<AuditEvent>> {
        self.inner.audit(org, query).await
    }
    async fn events_after(&mut self, org: OrgId, after: Option<u64>, limit: u32) -> R<Vec<(u64, AuditEvent)>> {
        self.inner.events_after(org, after, limit).await
    }
    async fn last_event_position(&mut self, org: OrgId) -> R<u64> {
        self.inner.last_event_position(org).await
    }
    async fn first_event_position_after(&mut self, org: OrgId, at: OffsetDateTime) -> R<Option<u64>> {
        self.inner.first_event_position_after(org, at).await
    }
}

#[async_trait]
impl WebhookRepository for OverrideTx {
    async fn insert_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()> {
        self.inner.insert_webhook(endpoint).await
    }
    async fn webhooks(&mut self, org: OrgId) -> R<Vec<WebhookEndpoint>> {
        self.inner.webhooks(org).await
    }
    async fn webhook(&mut self, org: OrgId, id: WebhookId) -> R<Option<WebhookEndpoint>> {
        self.inner.webhook(org, id).await
    }
    async fn update_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()> {
        self.inner.update_webhook(endpoint).await
    }
    async fn webhooks_behind(&mut self, limit: u32) -> R<Vec<WebhookEndpoint>> {
        self.inner.webhooks_behind(limit).await
    }
    async fn insert_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()> {
        self.inner.insert_webhook_delivery(delivery).await
    }
    async fn update_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()> {
        self.inner.update_webhook_delivery(delivery).await
    }
    async fn pending_webhook_delivery(&mut self, org: OrgId, endpoint: WebhookId) -> R<Option<WebhookDelivery>> {
        self.inner.pending_webhook_delivery(org, endpoint).await
    }
    async fn webhook_deliveries(&mut self, org: OrgId, endpoint: WebhookId, limit: u32) -> R<Vec<WebhookDelivery>> {
        self.inner.webhook_deliveries(org, endpoint, limit).await
    }
    async fn due_webhook_deliveries(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<WebhookDelivery>> {
        self.inner.due_webhook_deliveries(now, limit).await
    }
    async fn purge_webhook_deliveries(&mut self, created_before: OffsetDateTime, limit: u32) -> R<u64> {
        self.inner.purge_webhook_deliveries(created_before, limit).await
    }
}
