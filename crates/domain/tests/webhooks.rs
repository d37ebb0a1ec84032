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
use roster_domain::mail::RetryPolicy;
use roster_domain::org::{OrgSettings, Organization};
use roster_domain::ports::{WebhookError, WebhookSender};
use roster_domain::roles::Permission;
use roster_domain::services::{CreatedWebhook, NewApiKey, NewOrganization, NewUser, SettingsPatch, WebhookReport};
use roster_domain::values::{Email, GroupName, Key, Label, Nicknames, PersonName, Slug};
use roster_domain::webhooks::{
    DEFAULT_TOLERANCE, EVENT_ID_HEADER, EventPattern, SIGNATURE_HEADER, WebhookDeliveryState, WebhookUrl,
    verify_signature,
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
        );
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
        self.services.events(&self.admin().await, None, 200).await.expect("the admin reads the feed")
    }

    async fn position_of_last_event(&self) -> u64 {
        self.feed().await.last().map_or(0, |e| e.position)
    }

    /// One worker tick with the default policy.
    async fn tick(&self, sender: &Recorder) -> WebhookReport {
        self.services.deliver_webhooks(sender, &RetryPolicy::default(), 10).await.expect("the tick runs")
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
    answers: Mutex<VecDeque<Result<u16, WebhookError>>>,
    requests: Mutex<Vec<Request>>,
}

impl Recorder {
    fn answering(answers: impl IntoIterator<Item = Result<u16, WebhookError>>) -> Self {
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
    async fn post(&self, url: &WebhookUrl, headers: &[(String, String)], body: &[u8]) -> Result<u16, WebhookError> {
        let request = Request { url: url.to_string(), headers: headers.to_vec(), body: body.to_vec() };
        self.requests.lock().unwrap().push(request);
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(200))
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
    let admin = w.admin().await;
    let all = w.feed().await;
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = w.services.events(&admin, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.position);
        walked.extend(page);
    }
    assert_eq!(walked, all);
    assert!(w.services.events(&admin, Some(all.len() as u64), 10).await.unwrap().is_empty(), "up to date");
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
    assert_eq!(code(w.services.events(&bob, None, 10).await), ErrorCode::Forbidden);
    let admin = w.admin().await;
    assert_eq!(code(w.services.events(&admin, None, 0).await), ErrorCode::ValidationFailed);
    assert_eq!(code(w.services.events(&admin, None, 201).await), ErrorCode::ValidationFailed);
    let key = NewApiKey {
        name: Label::parse("billing").unwrap(),
        group_id: None,
        permissions: [Permission::ViewAudit].into(),
    };
    let created = w.services.create_api_key(&admin, key).await.unwrap();
    let integration = w.services.authenticate_api_key(&created.secret).await.unwrap();
    assert!(!w.services.events(&integration, None, 200).await.unwrap().is_empty(), "a key with view_audit reads it");
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
    let signature = request.header(SIGNATURE_HEADER);
    assert!(signature.starts_with(&format!("t={},v1=", T0.unix_timestamp())));
    assert!(verify_signature(&hook.secret, signature, &request.body, T0, DEFAULT_TOLERANCE));
    let tampered = String::from_utf8(request.body.clone()).unwrap().replace("Sales", "Sa1es");
    assert!(!verify_signature(&hook.secret, signature, tampered.as_bytes(), T0, DEFAULT_TOLERANCE));
    assert!(!verify_signature("whsec_wrong", signature, &request.body, T0, DEFAULT_TOLERANCE));
    assert_eq!(request.header(EVENT_ID_HEADER), request.json()["id"].as_str().unwrap());
    assert_eq!(request.header("Content-Type"), "application/json");
}

#[tokio::test]
async fn a_server_error_is_retried_after_the_backoff_and_holds_back_later_events() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("First").await;
    w.group("Second").await;
    let policy = RetryPolicy::default();
    let sender = Recorder::answering([Ok(503)]);
    let report = w.tick(&sender).await;
    assert_eq!((report.retrying.len(), sender.requests().len()), (1, 1));

    // Until the backoff has passed, neither the failed event nor the next one is sent.
    w.tick(&sender).await;
    w.clock.advance(policy.first_delay - time::Duration::SECOND);
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
    let policy = RetryPolicy::default();
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
    assert_eq!(requests[0].header(EVENT_ID_HEADER), requests[1].header(EVENT_ID_HEADER), "the same event");
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

    let endpoint = w.services.replay_webhook(&w.admin().await, hook.endpoint.id, first_round[1]).await.unwrap();
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
    w.services.replay_webhook(&w.admin().await, hook.endpoint.id, a).await.unwrap();
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
    async fn post(&self, _: &WebhookUrl, _: &[(String, String)], _: &[u8]) -> Result<u16, WebhookError> {
        let admin = self.world.admin().await;
        self.world.services.replay_webhook(&admin, self.endpoint, self.from).await.expect("replays");
        Ok(200)
    }
}

#[tokio::test]
async fn an_attempt_whose_claim_was_superseded_records_nothing() {
    let w = World::new().await;
    let hook = w.webhook(&["group.*"]).await;
    w.group("A").await;
    let from = w.endpoint(hook.endpoint.id).await.position;
    let sender = ReplayingSender { world: &w, endpoint: hook.endpoint.id, from };
    let report = w.services.deliver_webhooks(&sender, &RetryPolicy::default(), 10).await.unwrap();
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
    w.services.delete_webhook(&w.admin().await, hook.endpoint.id).await.unwrap();
    w.services.delete_webhook(&w.admin().await, hook.endpoint.id).await.expect("deleting twice changes nothing");
    w.clock.advance(time::Duration::hours(2));
    w.group("B").await;
    w.drain(&sender).await;
    assert_eq!(sender.requests().len(), 1);
    assert!(w.endpoint(hook.endpoint.id).await.disabled_at.is_some());
    let log = w.services.webhook_deliveries(&w.admin().await, hook.endpoint.id, 10).await.unwrap();
    assert_eq!(log[0].state, WebhookDeliveryState::Failed);
    let actions: Vec<String> = w.feed().await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "webhook.deleted").count(), 1);
    assert_eq!(code(w.services.replay_webhook(&w.admin().await, hook.endpoint.id, 1).await), ErrorCode::Conflict);
}

#[tokio::test]
async fn webhook_changes_are_audited_in_the_same_transaction() {
    let w = World::new().await;
    let hook = w.webhook(&["user.*"]).await;
    w.services.replay_webhook(&w.admin().await, hook.endpoint.id, 1).await.unwrap();
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
    assert_eq!(code(w.services.replay_webhook(&bob, id, 1).await), ErrorCode::Forbidden);
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
    assert_eq!(code(w.services.replay_webhook(&session, hook.endpoint.id, 1).await), ErrorCode::Forbidden);
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
    assert_eq!(code(w.services.replay_webhook(&theirs, hook.endpoint.id, 1).await), ErrorCode::NotFound);
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
    assert_eq!(code(w.services.replay_webhook(&admin, hook.endpoint.id, 0).await), ErrorCode::ValidationFailed);
    assert_eq!(code(w.services.replay_webhook(&admin, hook.endpoint.id, next + 1).await), ErrorCode::ValidationFailed);
    assert_eq!(code(w.services.webhook_deliveries(&admin, hook.endpoint.id, 0).await), ErrorCode::ValidationFailed);
    let system = w.system();
    assert_eq!(
        code(w.services.create_webhook(&system, url("https://example.com/"), BTreeSet::new()).await),
        ErrorCode::Forbidden,
        "an endpoint belongs to a member who created it"
    );
}
