//! Events and webhooks (§9.1) on the in-memory ports: the event feed in commit order, and
//! webhook delivery — signed, in order per endpoint, at least once, retried with backoff, with a
//! delivery log and replay — through a recording fake of the `WebhookSender` port.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::events::FeedEvent;
use roster_domain::ids::{GroupId, UserId, WebhookId};
use roster_domain::mail::MailKind;
use roster_domain::org::{OrgSettings, Organization};
use roster_domain::ports::{WebhookAnswer, WebhookError, WebhookSender};
use roster_domain::roles::Permission;
use roster_domain::services::{
    CreatedWebhook, EventsPage, NewApiKey, NewOrganization, NewUser, ReplayFrom, SettingsPatch, WebhookChanges,
    WebhookReport,
};
use roster_domain::values::{Email, GroupName, Key, Label, Nicknames, PersonName, Slug};
use roster_domain::webhooks::{
    DEFAULT_TOLERANCE, DeliverySchedule, DisabledReason, EventPattern, FAILING_LIMIT, ID_HEADER, ROTATION_OVERLAP,
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookDeliveryState, WebhookUrl, verify_signature,
};
use roster_domain::{ErrorCode, ServiceResult, Services};
use roster_testkit::{FakeHasher, InMemoryStore, ManualClock, SequentialIds};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2025-01-06 9:00 UTC);

// ---- the world ---------------------------------------------------------------------------------

/// One organization with an admin, on ports the test controls.
struct World {
    store: InMemoryStore,
    clock: ManualClock,
    services: Services,
    org: Organization,
    admin: UserId,
}

impl World {
    async fn new() -> Self {
        let store = InMemoryStore::new();
        let clock = ManualClock::new(T0);
        let services = Services::new(
            Arc::new(store.clone()),
            Arc::new(clock.clone()),
            Arc::new(SequentialIds::new()),
            Arc::new(FakeHasher),
        )
        .with_webhook_sender(Arc::new(Recorder::default()));
        let org = create_org(&services, "acme").await;
        let mut world = Self { store, clock, services, org, admin: UserId::from_uuid(uuid::Uuid::nil()) };
        world.admin = world.member("admin", "admin").await;
        world
    }

    /// A second organization with its own admin, on the same store and services.
    async fn other_org(&self, slug: &str) -> Self {
        let org = create_org(&self.services, slug).await;
        let mut other = Self {
            store: self.store.clone(),
            clock: self.clock.clone(),
            services: self.services.clone(),
            org,
            admin: self.admin,
        };
        other.admin = other.member("admin", "admin").await;
        other
    }

    fn system(&self) -> Actor {
        Actor::system(self.org.id, Source::Cli)
    }

    async fn actor(&self, user: UserId) -> Actor {
        self.services.resolve_actor(self.org.id, user, Source::Console, None).await.expect("the member resolves")
    }

    async fn admin(&self) -> Actor {
        self.actor(self.admin).await
    }

    /// Creates a member holding `role`, as the operator (one `user.created` event).
    async fn member(&self, local: &str, role: &str) -> UserId {
        let new = NewUser {
            email: Email::parse(&format!("{local}@{}.test", self.org.slug)).unwrap(),
            first_name: PersonName::parse(local).unwrap(),
            last_name: PersonName::parse("Tester").unwrap(),
            phone: None,
            nicknames: Nicknames::empty(),
            agent_id: None,
            crm_id: None,
            agent_ring_number: None,
            dialer_number: None,
            settings: SettingsPatch::default(),
            roles: vec![Key::parse(role).unwrap()],
            group_ids: Vec::new(),
            products: BTreeSet::new(),
            password: None,
        };
        self.services.create_user(&self.system(), new).await.expect("the operator creates the member").user.id
    }

    /// Creates a group under the root, as the operator (one `group.created` event).
    async fn group(&self, name: &str) -> GroupId {
        let name = GroupName::parse(name).unwrap();
        self.services.create_group(&self.system(), self.org.root_group_id, name).await.expect("creates").id
    }

    /// An endpoint created by the admin, subscribed to `patterns` (everything when empty).
    async fn webhook(&self, patterns: &[&str]) -> CreatedWebhook {
        self.services
            .create_webhook(&self.admin().await, url("https://hooks.example.com/roster"), patterns_of(patterns))
            .await
            .expect("the admin creates the webhook")
    }

    async fn feed(&self) -> Vec<FeedEvent> {
        self.page(None, &[], 200).await.events
    }

    /// A page of the feed as the admin reads it.
    async fn page(&self, after: Option<u64>, types: &[&str], limit: u32) -> EventsPage {
        let admin = self.admin().await;
        self.services.events(&admin, after, &patterns_of(types), limit).await.expect("the admin reads the feed")
    }

    async fn position_of_last_event(&self) -> u64 {
        self.feed().await.last().map_or(0, |e| e.position)
    }

    /// One worker tick with the default schedule, without jitter.
    async fn tick(&self, sender: &Recorder) -> WebhookReport {
        self.services.deliver_webhooks(sender, &schedule(), 10).await.expect("the tick runs")
    }

    /// Ticks until a tick finds nothing to do (bounded, so a bug cannot loop forever).
    async fn drain(&self, sender: &Recorder) {
        for _ in 0..100 {
            let r = self.tick(sender).await;
            if r.sent.is_empty() && r.failed.is_empty() && r.retrying.is_empty() {
                return;
            }
        }
        panic!("delivery never settled");
    }

    async fn endpoint(&self, id: WebhookId) -> roster_domain::webhooks::WebhookEndpoint {
        self.store.snapshot().await.webhooks[&id].clone()
    }
}

async fn create_org(services: &Services, slug: &str) -> Organization {
    let new = NewOrganization {
        name: Label::parse(slug).unwrap(),
        slug: Slug::parse(slug).unwrap(),
        trial_ends_at: None,
        settings: OrgSettings::default(),
    };
    services.create_organization(Source::Cli, new).await.expect("the operator creates the organization")
}

/// §9.1's schedule without jitter, so that due times are exact.
fn schedule() -> DeliverySchedule {
    DeliverySchedule { jitter: 0.0, ..DeliverySchedule::default() }
}

fn url(s: &str) -> WebhookUrl {
    WebhookUrl::parse(s).unwrap()
}

fn patterns_of(patterns: &[&str]) -> BTreeSet<EventPattern> {
    patterns.iter().map(|p| EventPattern::parse(p).unwrap()).collect()
}

#[track_caller]
fn code<T: std::fmt::Debug>(result: ServiceResult<T>) -> ErrorCode {
    result.expect_err("the call should have been refused").code()
}

// ---- a recording fake of the WebhookSender port ------------------------------------------------

/// One POST the worker made.
#[derive(Debug, Clone)]
struct Request {
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).expect("the header is set")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    fn action(&self) -> String {
        self.json()["action"].as_str().expect("an action").to_owned()
    }

    fn position(&self) -> u64 {
        self.json()["position"].as_u64().expect("a position")
    }

    /// The name of the group the event is about (labels are paths such as `acme / Sales`).
    fn group(&self) -> String {
        let label = self.json()["target"]["label"].as_str().expect("a label").to_owned();
        label.rsplit(" / ").next().unwrap_or_default().to_owned()
    }
}

/// Records every POST and answers with the queued answers, then `200`.
#[derive(Default)]
struct Recorder {
    answers: Mutex<VecDeque<Result<WebhookAnswer, WebhookError>>>,
    requests: Mutex<Vec<Request>>,
}

impl Recorder {
    fn answering(answers: impl IntoIterator<Item = Result<u16, WebhookError>>) -> Self {
        Self::answers(answers.into_iter().map(|a| a.map(WebhookAnswer::status)))
    }

    fn answers(answers: impl IntoIterator<Item = Result<WebhookAnswer, WebhookError>>) -> Self {
        Self { answers: Mutex::new(answers.into_iter().collect()), requests: Mutex::default() }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn positions(&self) -> Vec<u64> {
        self.requests().iter().map(Request::position).collect()
    }
}

#[async_trait]
impl WebhookSender for Recorder {
    async fn check(&self, url: &WebhookUrl) -> Result<(), WebhookError> {
        match url.host() {
            "internal.example.com" => Err(WebhookError::Permanent("it resolves to a private address".into())),
            "nowhere.example.com" => Err(WebhookError::Transient("the name does not resolve".into())),
            _ => Ok(()),
        }
    }

    async fn post(
        &self,
        url: &WebhookUrl,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookAnswer, WebhookError> {
        let request = Request { url: url.to_string(), headers: headers.to_vec(), body: body.to_vec() };
        self.requests.lock().unwrap().push(request);
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(WebhookAnswer::status(200)))
    }
}

// ---- the event feed ----------------------------------------------------------------------------

#[tokio::test]
async fn events_come_in_commit_order_with_consecutive_positions() {
    let w = World::new().await;
    w.group("Sales").await;
    w.member("bob", "standard").await;
    w.group("Support").await;
    let feed = w.feed().await;
    let positions: Vec<u64> = feed.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=feed.len() as u64).collect::<Vec<_>>());
    let actions: Vec<&str> = feed.iter().rev().take(3).rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["group.created", "user.created", "group.created"]);
    let appended: Vec<_> = w.store.snapshot().await.audit.into_iter().filter(|e| e.org_id == w.org.id).collect();
    assert_eq!(feed.iter().map(|e| e.id).collect::<Vec<_>>(), appended.iter().map(|e| e.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_feed_pages_by_the_position_of_the_last_event_read() {
    let w = World::new().await;
    for name in ["A", "B", "C", "D"] {
        w.group(name).await;
    }
    let all = w.feed().await;
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = w.page(after, &[], 2).await;
        assert!(page.events.len() <= 2);
        let Some(last) = page.events.last() else { break };
        assert_eq!(page.cursor, last.position);
        after = Some(page.cursor);
        walked.extend(page.events);
    }
    assert_eq!(walked, all);
    let end = w.page(Some(all.len() as u64), &[], 10).await;
    assert!(end.events.is_empty(), "up to date");
    assert_eq!(end.cursor, all.len() as u64, "the cursor stays");
}

#[tokio::test]
async fn another_organizations_events_never_appear_in_the_feed() {
    let w = World::new().await;
    let other = w.other_org("globex").await;
    w.group("Ours").await;
    other.group("Theirs").await;
    let ours = w.feed().await;
    let theirs = other.feed().await;
    assert!(ours.iter().any(|e| e.target.label.ends_with("Ours")));
    assert!(ours.iter().all(|e| !e.target.label.ends_with("Theirs")));
    assert!(theirs.iter().any(|e| e.target.label.ends_with("Theirs")));
    assert!(theirs.iter().all(|e| !e.target.label.ends_with("Ours")));
    assert_eq!(theirs[0].position, 1, "each organization's positions start at 1");
    let snapshot = w.store.snapshot().await;
    for e in &ours {
        assert!(snapshot.audit.iter().any(|a| a.id == e.id && a.org_id == w.org.id));
    }
}

#[tokio::test]
async fn reading_the_feed_requires_view_audit_and_a_limit_between_1_and_200() {
    let w = World::new().await;
    let bob = w.member("bob", "standard").await;
    let bob = w.actor(bob).await;
    let all = BTreeSet::new();
    assert_eq!(code(w.services.events(&bob, None, &all, 10).await), ErrorCode::Forbidden);
    let admin = w.admin().await;
    assert_eq!(code(w.services.events(&admin, None, &all, 0).await), ErrorCode::ValidationFailed);
    assert_eq!(code(w.services.events(&admin, None, &all, 201).await), ErrorCode::ValidationFailed);
    let key = NewApiKey {
        name: Label::parse("billing").unwrap(),
        group_id: None,
        permissions: [Permission::ViewAudit].into(),
    };
    let created = w.services.create_api_key(&admin, key).await.unwrap();
    let integration = w.services.authenticate_api_key(&created.secret).await.unwrap();
    let page = w.services.events(&integration, None, &all, 200).await.unwrap();
    assert!(!page.events.is_empty(), "a key with view_audit reads it");
}

// ---- delivery ----------------------------------------------------------------------------------

#[tokio::test]
async fn an_endpoint_receives_only_matching_events_in_order_each_once() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("Sales").await;
    w.member("bob", "standard").await;
    w.group("Support").await;
    w.member("cy", "standard").await;
    w.group("Ops").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    w.drain(&sender).await;
    let requests = sender.requests();
    let groups: Vec<String> = requests.iter().map(Request::group).collect();
    assert_eq!(groups, ["Sales", "Support", "Ops"]);
    assert!(requests.iter().all(|r| r.action() == "group.created"));
    assert!(sender.positions().windows(2).all(|p| p[0] < p[1]));
    assert!(requests.iter().all(|r| r.url == "https://hooks.example.com/roster"));
    let endpoint = w.endpoint(hook.endpoint.id).await;
    assert_eq!(endpoint.position, w.position_of_last_event().await, "non-matching events are passed over");
}

#[tokio::test]
async fn a_new_endpoint_receives_only_events_after_its_creation() {
    let w = World::new().await;
    w.group("Before").await;
    let hook = w.webhook(&[]).await;
    w.group("After").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    let actions: Vec<String> = sender.requests().iter().map(Request::action).collect();
    assert_eq!(actions, ["group.created"], "not even its own webhook.created");
    assert_eq!(sender.requests()[0].group(), "After");
    assert_eq!(w.endpoint(hook.endpoint.id).await.position, w.position_of_last_event().await);
}

#[tokio::test]
async fn a_webhook_body_is_the_event_as_the_feed_shows_it() {
    let w = World::new().await;
    w.webhook(&[]).await;
    w.group("Sales").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    let request = &sender.requests()[0];
    let in_feed = w.feed().await.into_iter().find(|e| e.position == request.position()).unwrap();
    assert_eq!(request.json(), serde_json::to_value(&in_feed).unwrap());
    assert_eq!(request.json()["source"], "cli", "the source lets consumers skip their own echoes");
}

#[tokio::test]
async fn the_signature_verifies_and_a_tampered_body_does_not() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    w.group("Sales").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    let request = &sender.requests()[0];
    let (id, timestamp, signature) =
        (request.header(ID_HEADER), request.header(TIMESTAMP_HEADER), request.header(SIGNATURE_HEADER));
    assert_eq!(timestamp, T0.unix_timestamp().to_string());
    assert!(signature.starts_with("v1,") && !signature.contains(' '), "one secret signs: {signature}");
    let verify = |secret: &str, id: &str, body: &[u8]| {
        verify_signature(secret, id, timestamp, signature, body, T0, DEFAULT_TOLERANCE)
    };
    assert!(verify(&hook.secret, id, &request.body));
    let tampered = String::from_utf8(request.body.clone()).unwrap().replace("Sales", "Sa1es");
    assert!(!verify(&hook.secret, id, tampered.as_bytes()));
    assert!(!verify("whsec_d3Jvbmc=", id, &request.body));
    assert!(!verify(&hook.secret, "another-id", &request.body));
    assert_eq!(id, request.json()["id"].as_str().unwrap(), "webhook-id is the event's id");
    assert_eq!(request.header("content-type"), "application/json");
}

#[tokio::test]
async fn a_server_error_is_retried_after_the_backoff_and_holds_back_later_events() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("First").await;
    w.group("Second").await;
    let sender = Recorder::answering([Ok(503)]);
    let report = w.tick(&sender).await;
    assert_eq!((report.retrying.len(), sender.requests().len()), (1, 1));

    // Until the backoff has passed, neither the failed event nor the next one is sent.
    w.tick(&sender).await;
    w.clock.advance(schedule().delays[0] - time::Duration::SECOND);
    w.tick(&sender).await;
    assert_eq!(sender.requests().len(), 1);

    w.clock.advance(time::Duration::SECOND);
    assert_eq!(w.tick(&sender).await.sent.len(), 1);
    w.tick(&sender).await;
    let groups: Vec<String> = sender.requests().iter().map(Request::group).collect();
    assert_eq!(groups, ["First", "First", "Second"]);
    let log = w.services.webhook_deliveries(&w.admin().await, hook.endpoint.id, 10).await.unwrap();
    let first = log.last().unwrap();
    assert_eq!((first.state, first.attempts, first.response_status), (WebhookDeliveryState::Sent, 2, Some(200)));
}

#[tokio::test]
async fn a_client_error_gives_up_on_that_event_and_moves_on() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("Refused").await;
    w.group("Accepted").await;
    let sender = Recorder::answering([Ok(422)]);
    assert_eq!(w.tick(&sender).await.failed.len(), 1);
    assert_eq!(w.tick(&sender).await.sent.len(), 1);
    assert_eq!(sender.requests().len(), 2, "the refused event is not retried");
    let log = w.services.webhook_deliveries(&w.admin().await, hook.endpoint.id, 10).await.unwrap();
    let states: Vec<_> = log.iter().map(|d| (d.state, d.attempts, d.response_status)).collect();
    assert_eq!(
        states,
        [(WebhookDeliveryState::Sent, 1, Some(200)), (WebhookDeliveryState::Failed, 1, Some(422))],
        "newest first"
    );
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    w.group("Sales").await;
    let sender = Recorder::answering([Ok(410)]);
    let report = w.tick(&sender).await;
    assert_eq!(report.disabled, [hook.endpoint.id]);
    assert_eq!(w.endpoint(hook.endpoint.id).await.disabled_at, Some(T0));
    let disabled = w.feed().await.into_iter().find(|e| e.action == "webhook.disabled").expect("audited");
    assert_eq!(disabled.source, Source::Scheduler);
    w.group("Later").await;
    w.drain(&sender).await;
    assert_eq!(sender.requests().len(), 1, "a disabled endpoint receives nothing more");
}

#[tokio::test]
async fn a_worker_that_dies_after_claiming_redelivers_after_the_lease() {
    let w = World::new().await;
    w.webhook(&[]).await;
    w.group("Sales").await;
    let policy = schedule();
    let sender = Recorder::default();
    // The claim is two writes (the endpoint, the new delivery) and commits; the worker then
    // sends and dies before recording the outcome — simulated by failing that third write.
    w.store.fail_after_writes(2);
    assert!(w.services.deliver_webhooks(&sender, &policy, 10).await.is_err());
    assert_eq!(sender.requests().len(), 1);

    // Within the lease nobody sends it again; after it, it goes out again: at least once.
    w.clock.advance(policy.lease - time::Duration::SECOND);
    w.tick(&sender).await;
    assert_eq!(sender.requests().len(), 1);
    w.clock.advance(time::Duration::SECOND);
    assert_eq!(w.tick(&sender).await.sent.len(), 1);
    let requests = sender.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header(ID_HEADER), requests[1].header(ID_HEADER), "the same event");
}

#[tokio::test]
async fn replay_sends_the_events_again_from_a_position() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    for name in ["A", "B", "C"] {
        w.group(name).await;
    }
    let sender = Recorder::default();
    w.drain(&sender).await;
    let first_round = sender.positions();
    assert_eq!(first_round.len(), 3);

    let endpoint = w
        .services
        .replay_webhook(&w.admin().await, hook.endpoint.id, ReplayFrom::Position(first_round[1]))
        .await
        .unwrap();
    assert_eq!(endpoint.position, first_round[1] - 1);
    w.drain(&sender).await;
    assert_eq!(sender.positions()[3..], first_round[1..], "B and C again, in order");
    assert!(w.feed().await.iter().any(|e| e.action == "webhook.replayed"));
}

#[tokio::test]
async fn a_replay_during_a_retry_restarts_delivery_from_the_replayed_position() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("A").await;
    w.group("B").await;
    let sender = Recorder::answering([Ok(503)]);
    w.tick(&sender).await;
    let a = sender.positions()[0];
    w.services.replay_webhook(&w.admin().await, hook.endpoint.id, ReplayFrom::Position(a)).await.unwrap();
    w.drain(&sender).await;
    assert_eq!(sender.positions()[1..].len(), 2);
    let log = w.services.webhook_deliveries(&w.admin().await, hook.endpoint.id, 10).await.unwrap();
    let closed = log.last().unwrap();
    assert_eq!(closed.state, WebhookDeliveryState::Failed);
    assert_eq!(closed.last_error.as_deref(), Some("superseded by a replay"));
}

/// A sender that, while the POST is in flight, has the admin replay the endpoint — the claim
/// the worker holds is then superseded.
struct ReplayingSender<'a> {
    world: &'a World,
    endpoint: WebhookId,
    from: u64,
}

#[async_trait]
impl WebhookSender for ReplayingSender<'_> {
    async fn check(&self, _: &WebhookUrl) -> Result<(), WebhookError> {
        Ok(())
    }

    async fn post(&self, _: &WebhookUrl, _: &[(String, String)], _: &[u8]) -> Result<WebhookAnswer, WebhookError> {
        let admin = self.world.admin().await;
        let from = ReplayFrom::Position(self.from);
        self.world.services.replay_webhook(&admin, self.endpoint, from).await.expect("replays");
        Ok(WebhookAnswer::status(200))
    }
}

#[tokio::test]
async fn an_attempt_whose_claim_was_superseded_records_nothing() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("A").await;
    let from = w.endpoint(hook.endpoint.id).await.position;
    let sender = ReplayingSender { world: &w, endpoint: hook.endpoint.id, from };
    let report = w.services.deliver_webhooks(&sender, &schedule(), 10).await.unwrap();
    assert_eq!((report.superseded.len(), report.sent.len()), (1, 0));
    assert_eq!(w.endpoint(hook.endpoint.id).await.position, from - 1, "the replay's cursor stands");
}

#[tokio::test]
async fn deleting_an_endpoint_stops_its_deliveries() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    w.group("A").await;
    let sender = Recorder::answering([Err(WebhookError::Transient("connection refused".into()))]);
    w.tick(&sender).await;
    let admin = w.admin().await;
    w.services.delete_webhook(&admin, hook.endpoint.id).await.unwrap();
    assert_eq!(code(w.services.delete_webhook(&admin, hook.endpoint.id).await), ErrorCode::NotFound, "gone");
    w.clock.advance(time::Duration::hours(2));
    w.group("B").await;
    w.drain(&sender).await;
    assert_eq!(sender.requests().len(), 1);
    let stored = w.endpoint(hook.endpoint.id).await;
    assert_eq!((stored.disabled_at.is_some(), stored.disabled_reason), (true, Some(DisabledReason::Deleted)));
    let log: Vec<_> = w.store.snapshot().await.webhook_deliveries.into_values().collect();
    assert_eq!(log.iter().map(|d| d.state).collect::<Vec<_>>(), [WebhookDeliveryState::Failed], "the row stays");
    let actions: Vec<String> = w.feed().await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "webhook.deleted").count(), 1);
    let replay = w.services.replay_webhook(&admin, hook.endpoint.id, ReplayFrom::Position(1)).await;
    assert_eq!(code(replay), ErrorCode::NotFound);
    assert!(w.services.list_webhooks(&admin).await.unwrap().is_empty(), "not listed");
}

#[tokio::test]
async fn webhook_changes_are_audited_in_the_same_transaction() {
    let w = World::new().await;
    let hook = w.webhook(&["user.*"]).await;
    w.services.replay_webhook(&w.admin().await, hook.endpoint.id, ReplayFrom::Position(1)).await.unwrap();
    w.services.delete_webhook(&w.admin().await, hook.endpoint.id).await.unwrap();
    let feed = w.feed().await;
    let ours: Vec<_> = feed.iter().filter(|e| e.target.id == hook.endpoint.id.to_string()).collect();
    let actions: Vec<&str> = ours.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["webhook.created", "webhook.replayed", "webhook.deleted"]);
    assert!(ours.iter().all(|e| e.actor_id == Some(w.admin)));
    assert_eq!(ours[0].details["event_types"], serde_json::json!(["user.*"]));
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    assert!(hook.secret.starts_with("whsec_"));
    let listed = w.services.list_webhooks(&w.admin().await).await.unwrap();
    let printed = format!("{hook:?} {listed:?} {:?}", w.store.snapshot().await.webhooks);
    assert!(!printed.contains(&hook.secret), "{printed}");
    assert!(!printed.contains(hook.secret.trim_start_matches("whsec_")));
    assert_eq!(listed[0].secret.expose(), hook.secret, "kept, to sign");
}

#[tokio::test]
async fn managing_webhooks_requires_manage_api_keys() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    let bob = w.member("bob", "standard").await;
    let bob = w.actor(bob).await;
    let id = hook.endpoint.id;
    assert_eq!(
        code(w.services.create_webhook(&bob, url("https://example.com/"), BTreeSet::new()).await),
        ErrorCode::Forbidden
    );
    assert_eq!(code(w.services.list_webhooks(&bob).await), ErrorCode::Forbidden);
    assert_eq!(code(w.services.delete_webhook(&bob, id).await), ErrorCode::Forbidden);
    assert_eq!(code(w.services.webhook_deliveries(&bob, id, 10).await), ErrorCode::Forbidden);
    assert_eq!(code(w.services.replay_webhook(&bob, id, ReplayFrom::Position(1)).await), ErrorCode::Forbidden);
}

#[tokio::test]
async fn an_impersonating_session_cannot_manage_webhooks() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    let other_admin = w.member("ada", "admin").await;
    let session = w.services.resolve_actor(w.org.id, other_admin, Source::Console, Some(w.admin)).await.unwrap();
    assert_eq!(
        code(w.services.create_webhook(&session, url("https://example.com/"), BTreeSet::new()).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(w.services.replay_webhook(&session, hook.endpoint.id, ReplayFrom::Position(1)).await),
        ErrorCode::Forbidden
    );
    assert_eq!(code(w.services.delete_webhook(&session, hook.endpoint.id).await), ErrorCode::Forbidden);
}

#[tokio::test]
async fn another_organizations_webhooks_are_not_found() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    let other = w.other_org("globex").await;
    let theirs = other.admin().await;
    assert!(w.services.list_webhooks(&theirs).await.unwrap().is_empty());
    assert_eq!(code(w.services.delete_webhook(&theirs, hook.endpoint.id).await), ErrorCode::NotFound);
    assert_eq!(code(w.services.webhook_deliveries(&theirs, hook.endpoint.id, 10).await), ErrorCode::NotFound);
    assert_eq!(
        code(w.services.replay_webhook(&theirs, hook.endpoint.id, ReplayFrom::Position(1)).await),
        ErrorCode::NotFound
    );
}

#[tokio::test]
async fn an_endpoint_never_receives_another_organizations_events() {
    let w = World::new().await;
    let other = w.other_org("globex").await;
    w.webhook(&[]).await;
    other.group("Theirs").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    assert!(sender.requests().is_empty());
}

#[tokio::test]
async fn invalid_webhook_requests_are_refused() {
    let w = World::new().await;
    let admin = w.admin().await;
    let too_many: BTreeSet<EventPattern> =
        (0..51).map(|i| EventPattern::parse(&format!("user.action_{i}")).unwrap()).collect();
    assert_eq!(
        code(w.services.create_webhook(&admin, url("https://example.com/"), too_many).await),
        ErrorCode::ValidationFailed
    );
    let hook = w.webhook(&[]).await;
    let next = w.position_of_last_event().await + 1;
    assert_eq!(
        code(w.services.replay_webhook(&admin, hook.endpoint.id, ReplayFrom::Position(0)).await),
        ErrorCode::ValidationFailed
    );
    assert_eq!(
        code(w.services.replay_webhook(&admin, hook.endpoint.id, ReplayFrom::Position(next + 1)).await),
        ErrorCode::ValidationFailed
    );
    assert_eq!(code(w.services.webhook_deliveries(&admin, hook.endpoint.id, 0).await), ErrorCode::ValidationFailed);
    let system = w.system();
    assert_eq!(
        code(w.services.create_webhook(&system, url("https://example.com/"), BTreeSet::new()).await),
        ErrorCode::Forbidden,
        "an endpoint belongs to a member who created it"
    );
}

// ---- Standard Webhooks secrets, rotation, test events, changes ---------------------------------

#[tokio::test]
async fn a_secret_is_whsec_and_the_standard_base64_of_the_generated_bytes() {
    let w = World::new().await;
    let hook = w.webhook(&[]).await;
    let encoded = hook.secret.strip_prefix("whsec_").expect("the prefix");
    let key = roster_domain::webhooks::secret_key(&hook.secret);
    assert!(!key.is_empty());
    assert_eq!(roster_domain::webhooks::new_secret(&key), hook.secret, "padded standard base64 of the key");
    assert!(encoded.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)), "{encoded}");
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_a_day_then_only_the_new_one() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    let rotated = w.services.rotate_webhook_secret(&w.admin().await, hook.endpoint.id).await.unwrap();
    assert_ne!(rotated.secret, hook.secret);
    w.group("During").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    let during = &sender.requests()[0];
    let signatures = during.header(SIGNATURE_HEADER);
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    for secret in [&hook.secret, &rotated.secret] {
        let ts = during.header(TIMESTAMP_HEADER);
        assert!(verify_signature(
            secret,
            during.header(ID_HEADER),
            ts,
            signatures,
            &during.body,
            T0,
            DEFAULT_TOLERANCE
        ));
    }
    w.clock.advance(ROTATION_OVERLAP);
    w.group("After").await;
    w.drain(&sender).await;
    let after = &sender.requests()[1];
    let (id, ts, signatures) =
        (after.header(ID_HEADER), after.header(TIMESTAMP_HEADER), after.header(SIGNATURE_HEADER));
    let now = T0 + ROTATION_OVERLAP;
    assert!(verify_signature(&rotated.secret, id, ts, signatures, &after.body, now, DEFAULT_TOLERANCE));
    assert!(!verify_signature(&hook.secret, id, ts, signatures, &after.body, now, DEFAULT_TOLERANCE), "retired");
    let audited = w.feed().await.into_iter().filter(|e| e.action == "webhook.secret_rotated").count();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_test_event_goes_to_its_endpoint_only_and_stays_out_of_the_feed() {
    let w = World::new().await;
    let tested = w.webhook(&["user.*"]).await;
    let other = w.webhook(&["*"]).await;
    let event = w.services.test_webhook(&w.admin().await, tested.endpoint.id).await.unwrap();
    assert_eq!((event.action.as_str(), event.target.id.clone()), ("webhook.test", tested.endpoint.id.to_string()));
    let sender = Recorder::default();
    w.drain(&sender).await;
    let requests = sender.requests();
    assert_eq!(requests.len(), 1, "only the tested endpoint receives it");
    assert_eq!((requests[0].action(), requests[0].position()), ("webhook.test".to_owned(), event.position));
    assert_eq!(w.endpoint(other.endpoint.id).await.position, event.position, "the other passes over it");
    assert!(w.feed().await.iter().all(|e| e.action != "webhook.test"), "not a change: not in the feed");
}

#[tokio::test]
async fn an_endpoint_is_changed_paused_and_resumed_from_its_cursor() {
    let w = World::new().await;
    let admin = w.admin().await;
    let hook = w.webhook(&["user.*"]).await;
    let changes = WebhookChanges {
        url: Some(url("https://new.example.com/in")),
        event_types: Some(patterns_of(&["group.created"])),
        enabled: Some(false),
    };
    let changed = w.services.update_webhook(&admin, hook.endpoint.id, changes).await.unwrap();
    assert_eq!(changed.url.as_str(), "https://new.example.com/in");
    assert_eq!((changed.is_active(), changed.disabled_reason), (false, Some(DisabledReason::Paused)));
    w.group("While paused").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    assert!(sender.requests().is_empty(), "a paused endpoint receives nothing");
    let resume = WebhookChanges { enabled: Some(true), ..WebhookChanges::default() };
    w.services.update_webhook(&admin, hook.endpoint.id, resume).await.unwrap();
    w.drain(&sender).await;
    assert_eq!(sender.requests().iter().map(Request::group).collect::<Vec<_>>(), ["While paused"], "nothing lost");
    assert_eq!(sender.requests()[0].url, "https://new.example.com/in");
    let updated = w.feed().await.into_iter().filter(|e| e.action == "webhook.updated").collect::<Vec<_>>();
    assert_eq!(updated.len(), 2);
    assert_eq!(updated[0].details["enabled"], serde_json::json!({ "before": true, "after": false }));
    let same = w.services.update_webhook(&admin, hook.endpoint.id, WebhookChanges::default()).await.unwrap();
    assert_eq!(same.version, w.endpoint(hook.endpoint.id).await.version, "no change, no write");
}

#[tokio::test]
async fn a_url_the_sender_refuses_is_a_validation_error_on_create_and_change_an_unresolved_one_is_not() {
    let w = World::new().await;
    let admin = w.admin().await;
    let refused = w.services.create_webhook(&admin, url("https://internal.example.com/"), BTreeSet::new()).await;
    assert_eq!(code(refused), ErrorCode::ValidationFailed);
    let unresolved = w.services.create_webhook(&admin, url("https://nowhere.example.com/"), BTreeSet::new()).await;
    assert!(unresolved.is_ok(), "a name that does not resolve now is checked again at each connection");
    let hook = w.webhook(&[]).await;
    let change = WebhookChanges { url: Some(url("https://internal.example.com/")), ..WebhookChanges::default() };
    assert_eq!(code(w.services.update_webhook(&admin, hook.endpoint.id, change).await), ErrorCode::ValidationFailed);
    assert_eq!(w.services.list_webhooks(&admin).await.unwrap().len(), 2, "nothing stored for the refused ones");
}

#[tokio::test]
async fn replay_since_a_time_sends_exactly_the_events_after_it() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("Early").await;
    w.clock.advance(time::Duration::minutes(10));
    let since = T0 + time::Duration::minutes(5);
    w.group("Late 1").await;
    w.group("Late 2").await;
    let sender = Recorder::default();
    w.drain(&sender).await;
    assert_eq!(sender.requests().len(), 3);
    w.services.replay_webhook(&w.admin().await, hook.endpoint.id, ReplayFrom::Since(since)).await.unwrap();
    w.drain(&sender).await;
    let groups: Vec<String> = sender.requests()[3..].iter().map(Request::group).collect();
    assert_eq!(groups, ["Late 1", "Late 2"]);
    let future = ReplayFrom::Since(T0 + time::Duration::days(1));
    let endpoint = w.services.replay_webhook(&w.admin().await, hook.endpoint.id, future).await.unwrap();
    assert_eq!(endpoint.position, w.position_of_last_event().await - 1, "nothing after: nothing re-sent");
}

#[tokio::test]
async fn retry_after_sets_the_next_attempt_and_the_log_keeps_the_answer() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("A").await;
    let busy =
        WebhookAnswer { status: 429, retry_after: Some(time::Duration::minutes(2)), excerpt: "slow down".into() };
    let sender = Recorder::answers([Ok(busy)]);
    w.tick(&sender).await;
    let log = w.services.webhook_deliveries(&w.admin().await, hook.endpoint.id, 10).await.unwrap();
    assert_eq!(log[0].next_attempt_at, Some(T0 + time::Duration::minutes(2)));
    assert_eq!((log[0].response_status, log[0].response_excerpt.as_deref()), (Some(429), Some("slow down")));
    assert_eq!(log[0].duration_ms, Some(0), "the manual clock does not move during the POST");
    w.clock.advance(time::Duration::minutes(2));
    assert_eq!(w.tick(&sender).await.sent.len(), 1);
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_its_admins_are_mailed() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    let refused = || Err(WebhookError::Transient("connection refused".into()));
    let sender = Recorder::answers(std::iter::repeat_with(refused).take(200));
    let mut day = 0;
    while w.endpoint(hook.endpoint.id).await.is_active() {
        assert!(day < 10, "never disabled");
        w.group(&format!("Day {day}")).await;
        for _ in 0..8 {
            w.tick(&sender).await;
            w.clock.advance(time::Duration::hours(11));
        }
        day += 1;
    }
    let endpoint = w.endpoint(hook.endpoint.id).await;
    assert_eq!(endpoint.disabled_reason, Some(DisabledReason::Failing));
    let since = endpoint.failing_since.expect("failing");
    assert!(endpoint.disabled_at.expect("disabled") - since >= FAILING_LIMIT);
    let disabled = w.feed().await.into_iter().find(|e| e.action == "webhook.disabled").expect("audited");
    assert_eq!(disabled.source, Source::Scheduler);
    let mails = w.store.snapshot().await.outbox;
    let to_admins: Vec<_> =
        mails.iter().filter(|m| matches!(m.kind, MailKind::WebhookDisabled { .. })).map(|m| m.to.to_string()).collect();
    assert_eq!(to_admins, ["admin@acme.test"]);
}

#[tokio::test]
async fn a_delivered_event_clears_the_failure_count() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("Refused").await;
    w.group("Taken").await;
    let sender = Recorder::answering([Ok(400)]);
    w.tick(&sender).await;
    assert_eq!(w.endpoint(hook.endpoint.id).await.failing_since, Some(T0));
    w.tick(&sender).await;
    assert_eq!(w.endpoint(hook.endpoint.id).await.failing_since, None);
}

#[tokio::test]
async fn the_feed_filters_by_types_with_a_cursor_past_what_it_skipped() {
    let w = World::new().await;
    for name in ["A", "B"] {
        w.group(name).await;
        w.member(&name.to_lowercase(), "standard").await;
    }
    let groups = w.page(None, &["group.*"], 200).await;
    assert_eq!(groups.events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["group.created", "group.created"]);
    assert_eq!(groups.cursor, w.position_of_last_event().await, "the cursor passes the skipped events");
    let first = w.page(None, &["user.created"], 1).await;
    let rest = w.page(Some(first.cursor), &["user.created"], 200).await;
    let users: Vec<_> = first.events.iter().chain(&rest.events).map(|e| e.action.clone()).collect();
    let expected = w.feed().await.into_iter().filter(|e| e.action == "user.created").count();
    assert_eq!(users.len(), expected);
}

// ---- lanes: an endpoint's backlog drained in order, one request at a time ----------------------

/// Records each POST with how many deliveries of the endpoint were pending meanwhile.
struct Watching<'a> {
    world: &'a World,
    requests: Recorder,
    pending_meanwhile: Mutex<Vec<usize>>,
}

#[async_trait]
impl WebhookSender for Watching<'_> {
    async fn check(&self, url: &WebhookUrl) -> Result<(), WebhookError> {
        self.requests.check(url).await
    }

    async fn post(
        &self,
        url: &WebhookUrl,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookAnswer, WebhookError> {
        let pending = self.world.store.snapshot().await.webhook_deliveries.values().filter(|d| d.is_pending()).count();
        self.pending_meanwhile.lock().unwrap().push(pending);
        self.requests.post(url, headers, body).await
    }
}

#[tokio::test]
async fn a_lane_drains_an_endpoints_backlog_in_order_with_one_request_in_flight() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    for i in 0..30 {
        w.group(&format!("G{i}")).await;
        w.member(&format!("m{i}"), "standard").await;
    }
    let sender =
        Watching { world: &w, requests: Recorder::answering([Ok(500), Ok(422)]), pending_meanwhile: Mutex::default() };
    let mut lanes = w.services.claim_webhook_lanes(&schedule(), 10).await.unwrap();
    assert_eq!(lanes.len(), 1);
    let mut report = WebhookReport::default();
    let mut lane = lanes.pop();
    let mut steps = 0;
    while let Some(current) = lane.take() {
        lane = w.services.step_webhook_lane(&sender, &schedule(), current, true, &mut report).await.unwrap();
        steps += 1;
    }
    assert_eq!((steps, report.retrying.len()), (1, 1), "a retry ends the lane: later events wait");
    w.clock.advance(schedule().delays[0]);
    let mut lane = w.services.claim_webhook_lanes(&schedule(), 10).await.unwrap().pop();
    while let Some(current) = lane.take() {
        lane = w.services.step_webhook_lane(&sender, &schedule(), current, true, &mut report).await.unwrap();
    }
    let groups: Vec<String> = sender.requests.requests().iter().map(Request::group).collect();
    let expected: Vec<String> = (0..30).map(|i| format!("G{i}")).collect();
    assert_eq!(groups[0], "G0");
    assert_eq!(groups[1..], expected, "G0 again (given up on its 422), then the rest in order, in one lane");
    assert_eq!((report.sent.len(), report.failed.len()), (29, 1));
    assert!(sender.pending_meanwhile.lock().unwrap().iter().all(|n| *n == 1), "one delivery in flight");
    assert_eq!(w.endpoint(hook.endpoint.id).await.position, w.position_of_last_event().await);
    assert!(w.services.claim_webhook_lanes(&schedule(), 10).await.unwrap().is_empty(), "nothing left");
}

#[tokio::test]
async fn a_lane_told_to_stop_leaves_the_rest_to_the_next_claim() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    for name in ["A", "B", "C"] {
        w.group(name).await;
    }
    let sender = Recorder::default();
    let mut report = WebhookReport::default();
    let lane = w.services.claim_webhook_lanes(&schedule(), 10).await.unwrap().pop().expect("a lane");
    let first = lane.delivery_id();
    let next = w.services.step_webhook_lane(&sender, &schedule(), lane, true, &mut report).await.unwrap();
    let next = next.expect("B is claimed with A's record");
    assert_ne!(next.delivery_id(), first);
    assert_eq!(next.endpoint_id(), hook.endpoint.id);
    assert!(w.services.claim_webhook_lanes(&schedule(), 10).await.unwrap().is_empty(), "claimed: nobody else takes B");
    let end = w.services.step_webhook_lane(&sender, &schedule(), next, false, &mut report).await.unwrap();
    assert!(end.is_none());
    w.drain(&sender).await;
    let groups: Vec<String> = sender.requests().iter().map(Request::group).collect();
    assert_eq!(groups, ["A", "B", "C"]);
}

#[tokio::test]
async fn the_delivery_log_keeps_settled_rows_thirty_days_and_pending_ones_until_they_settle() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("Old").await;
    w.drain(&Recorder::default()).await;
    w.group("Waiting").await;
    w.tick(&Recorder::answering([Ok(503)])).await;
    w.clock.advance(roster_domain::webhooks::DELIVERY_LOG_RETENTION);
    assert_eq!(w.services.purge_webhook_deliveries().await.unwrap(), 0, "kept for 30 days");
    w.clock.advance(time::Duration::SECOND);
    assert_eq!(w.services.purge_webhook_deliveries().await.unwrap(), 1, "the settled one");
    let log = w.services.webhook_deliveries(&w.admin().await, hook.endpoint.id, 10).await.unwrap();
    assert_eq!(log.iter().map(|d| d.state).collect::<Vec<_>>(), [WebhookDeliveryState::Pending]);
}
