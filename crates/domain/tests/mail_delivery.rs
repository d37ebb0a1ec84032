//! The outbox delivery worker (§8.4): messages queued with their cause are sent after the
//! commit, retried with backoff on temporary failures, given up on permanent ones, and never
//! lost when a worker dies between claiming and sending.

use std::sync::Arc;

use roster_domain::Services;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::mail::{DeliveryState, MailKind, OutgoingMail, RetryPolicy};
use roster_domain::org::OrgSettings;
use roster_domain::ports::{MailError, MockMailer};
use roster_domain::services::{InviteRow, NewOrganization};
use roster_domain::values::{Email, Key, Label, PersonName, Slug};
use roster_testkit::{FakeHasher, InMemoryStore, ManualClock, SequentialIds};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2025-03-03 8:00 UTC);

/// An organization with one invitation queued.
async fn world_with_one_invite() -> (Services, InMemoryStore, ManualClock) {
    let store = InMemoryStore::new();
    let clock = ManualClock::new(T0);
    let services = Services::new(
        Arc::new(store.clone()),
        Arc::new(clock.clone()),
        Arc::new(SequentialIds::new()),
        Arc::new(FakeHasher),
    );
    let org = services
        .create_organization(
            Source::Cli,
            NewOrganization {
                name: Label::parse("Acme").unwrap(),
                slug: Slug::parse("acme").unwrap(),
                trial_ends_at: None,
                settings: OrgSettings { auto_signup: false, ..OrgSettings::default() },
            },
        )
        .await
        .unwrap();
    let operator = Actor::system(org.id, Source::Cli);
    let row = InviteRow {
        name: PersonName::parse("Ada Lovelace").unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
        roles: vec![Key::parse("standard").unwrap()],
        products: [Key::parse("core").unwrap()].into(),
        group_ids: Vec::new(),
    };
    services.invite_members(&operator, vec![row], false).await.unwrap();
    (services, store, clock)
}

async fn only_delivery(store: &InMemoryStore) -> DeliveryState {
    let state = store.snapshot().await;
    assert_eq!(state.deliveries.len(), 1);
    state.deliveries.into_values().next().unwrap()
}

#[tokio::test]
async fn a_queued_invitation_is_sent_once_and_marked_sent() {
    let (services, store, _) = world_with_one_invite().await;
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Ok(()));
    let report = services.deliver_due_mail(&mailer, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!(report.sent.len(), 1);
    assert_eq!(only_delivery(&store).await, DeliveryState::Sent { at: T0, attempts: 1 });
    // Nothing is due any more: a second tick sends nothing.
    let again = services.deliver_due_mail(&mailer, &RetryPolicy::default(), 10).await.unwrap();
    assert!(again.sent.is_empty());
}

#[tokio::test]
async fn a_temporary_failure_is_retried_after_the_backoff() {
    let (services, store, clock) = world_with_one_invite().await;
    let policy = RetryPolicy::default();
    let mut failing = MockMailer::new();
    failing.expect_send().times(1).returning(|_| Err(MailError::Transient("421 try later".into())));
    let report = services.deliver_due_mail(&failing, &policy, 10).await.unwrap();
    assert_eq!(report.retrying.len(), 1);
    let DeliveryState::Pending { attempts, next_attempt_at, .. } = only_delivery(&store).await else {
        panic!("the message must stay pending")
    };
    assert_eq!((attempts, next_attempt_at), (1, T0 + policy.first_delay));

    // Before the backoff has passed nothing is sent; after it, the message goes out.
    let mut idle = MockMailer::new();
    idle.expect_send().times(0);
    services.deliver_due_mail(&idle, &policy, 10).await.unwrap();
    clock.advance(policy.first_delay);
    let mut working = MockMailer::new();
    working.expect_send().times(1).returning(|_| Ok(()));
    assert_eq!(services.deliver_due_mail(&working, &policy, 10).await.unwrap().sent.len(), 1);
    assert!(matches!(only_delivery(&store).await, DeliveryState::Sent { attempts: 2, .. }));
}

#[tokio::test]
async fn a_permanent_failure_is_given_up_at_once() {
    let (services, store, _) = world_with_one_invite().await;
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Err(MailError::Permanent("550 no such mailbox".into())));
    let report = services.deliver_due_mail(&mailer, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(matches!(only_delivery(&store).await, DeliveryState::Failed { attempts: 1, .. }));
}

#[tokio::test]
async fn delivery_gives_up_after_the_maximum_number_of_attempts() {
    let (services, store, clock) = world_with_one_invite().await;
    let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(3).returning(|_| Err(MailError::Transient("timeout".into())));
    for _ in 0..3 {
        services.deliver_due_mail(&mailer, &policy, 10).await.unwrap();
        clock.advance(policy.max_delay);
    }
    assert!(matches!(only_delivery(&store).await, DeliveryState::Failed { attempts: 3, .. }));
}

#[tokio::test]
async fn a_message_claimed_by_a_worker_that_died_is_sent_after_the_lease() {
    let (services, store, clock) = world_with_one_invite().await;
    let policy = RetryPolicy::default();
    // A worker claims the message (its lease is committed), sends it, and dies before recording
    // the outcome — simulated by failing the store write that records it.
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Ok(()));
    store.fail_after_writes(1);
    assert!(services.deliver_due_mail(&mailer, &policy, 10).await.is_err());
    let DeliveryState::Pending { next_attempt_at, .. } = only_delivery(&store).await else {
        panic!("an unrecorded delivery must stay pending")
    };
    assert_eq!(next_attempt_at, T0 + policy.lease);
    // Within the lease, nobody else takes it; after it, it is delivered again (at least once).
    let mut idle = MockMailer::new();
    idle.expect_send().times(0);
    services.deliver_due_mail(&idle, &policy, 10).await.unwrap();
    clock.advance(policy.lease);
    let mut again = MockMailer::new();
    again.expect_send().times(1).returning(|_| Ok(()));
    assert_eq!(services.deliver_due_mail(&again, &policy, 10).await.unwrap().sent.len(), 1);
}

#[test]
fn retry_delays_double_up_to_the_maximum() {
    let policy = RetryPolicy {
        max_attempts: 10,
        first_delay: Duration::seconds(30),
        max_delay: Duration::minutes(10),
        lease: Duration::minutes(5),
    };
    let delays: Vec<Duration> = (1..=6).map(|a| policy.next_attempt(a, T0).unwrap() - T0).collect();
    assert_eq!(
        delays,
        [30, 60, 120, 240, 480, 600].map(Duration::seconds).to_vec(),
        "30 s doubling, capped at 10 minutes"
    );
    assert_eq!(policy.next_attempt(10, T0), None);
}

/// The invitation's token, as the outbox keeps it now (empty once removed).
async fn stored_token(store: &InMemoryStore) -> String {
    let state = store.snapshot().await;
    match &state.outbox[..] {
        [OutgoingMail { kind: MailKind::Invitation { token, .. }, .. }] => token.clone(),
        other => panic!("one invitation expected, found {other:?}"),
    }
}

#[tokio::test]
async fn an_invitation_token_is_kept_for_each_redelivery_and_dropped_once_sent() {
    let (services, store, clock) = world_with_one_invite().await;
    let policy = RetryPolicy::default();
    let token = stored_token(&store).await;
    assert!(!token.is_empty(), "queued with its token");
    let mut failing = MockMailer::new();
    failing.expect_send().times(1).returning(|_| Err(MailError::Transient("421 try later".into())));
    services.deliver_due_mail(&failing, &policy, 10).await.unwrap();
    assert_eq!(stored_token(&store).await, token, "a retry must still carry the token");

    clock.advance(policy.first_delay);
    let mut working = MockMailer::new();
    let expected = token.clone();
    working
        .expect_send()
        .times(1)
        .withf(move |m| matches!(&m.kind, MailKind::Invitation { token, .. } if *token == expected))
        .returning(|_| Ok(()));
    assert_eq!(services.deliver_due_mail(&working, &policy, 10).await.unwrap().sent.len(), 1);
    assert_eq!(stored_token(&store).await, "", "sent: the outbox keeps the message without its token");
    let state = store.snapshot().await;
    assert_eq!(state.outbox[0].to.as_str(), "ada@example.com", "and still shows to whom it went");
}

#[tokio::test]
async fn a_message_given_up_keeps_no_token() {
    let (services, store, _) = world_with_one_invite().await;
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Err(MailError::Permanent("550 no such user".into())));
    services.deliver_due_mail(&mailer, &RetryPolicy::default(), 10).await.unwrap();
    assert!(matches!(only_delivery(&store).await, DeliveryState::Failed { .. }));
    assert_eq!(stored_token(&store).await, "");
}
