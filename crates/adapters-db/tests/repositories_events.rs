//! The audit log and event feed (`AuditLog`), the mail outbox (`Outbox`) and webhook endpoints
//! with their delivery log (`WebhookRepository`), on a fresh SQLite file and — when
//! `ROSTER_TEST_DATABASE_URL` is set — a fresh PostgreSQL schema.

#[allow(dead_code, reason = "shared with the other test files, which use the rest of it")]
mod support;

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use roster_adapters_db::SeaOrmStore;
use roster_domain::audit::{AuditEvent, AuditQuery, Source, TargetKind};
use roster_domain::ids::{AuditEventId, InviteId, MailId, OrgId, UserId, WebhookDeliveryId, WebhookId};
use roster_domain::mail::{DeliveryState, MailKind, OutgoingMail, QueuedMail};
use roster_domain::ports::{AuditLog, Outbox, StoreError, WebhookRepository};
use roster_domain::values::Email;
use roster_domain::webhooks::{
    EventPattern, WebhookDelivery, WebhookDeliveryState, WebhookEndpoint, WebhookSecret, WebhookUrl,
};
use support::{begin, stores};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn uid(n: u64, sub: u64) -> Uuid {
    Uuid::from_u64_pair(n, sub)
}

fn org_id(n: u64) -> OrgId {
    OrgId::from_uuid(uid(n, 0))
}

/// Event `n` of organization `org`, at `T0 + seconds`.
fn event(org: u64, n: u64, seconds: i64) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::from_uuid(uid(100 + org, n)),
        org_id: org_id(org),
        at: T0 + Duration::seconds(seconds),
        actor_id: Some(UserId::from_uuid(uid(org, 1))),
        impersonator_id: None,
        api_key_id: None,
        source: Source::Console,
        action: "user.updated".to_owned(),
        target_kind: TargetKind::User,
        target_id: format!("user-{n}"),
        target_label: format!("User {n}"),
        details: serde_json::json!({ "name": { "before": "a", "after": format!("b{n}") } }),
    }
}

async fn append(store: &SeaOrmStore, events: &[&AuditEvent]) {
    let mut tx = begin(store).await;
    for e in events {
        tx.append_audit(e).await.expect("appends");
    }
    tx.commit().await.expect("commits");
}

fn positions(events: &[(u64, AuditEvent)]) -> Vec<(u64, AuditEventId)> {
    events.iter().map(|(p, e)| (*p, e.id)).collect()
}

#[tokio::test]
async fn event_positions_are_gap_free_per_organization_across_commits_and_rollbacks() {
    for (t, store) in stores("event_positions").await {
        let engine = t.engine();
        let (a1, a2, a3, a4) = (event(1, 1, 50), event(1, 2, 10), event(1, 3, 30), event(1, 4, 20));
        let (b1, b2) = (event(2, 1, 5), event(2, 2, 6));

        let mut tx = begin(&store).await;
        assert_eq!(tx.last_event_position(org_id(1)).await.expect("reads"), 0, "no events yet");
        assert_eq!(tx.events_after(org_id(1), None, 10).await.expect("reads"), vec![]);
        tx.append_audit(&a1).await.expect("appends");
        tx.append_audit(&b1).await.expect("appends");
        tx.append_audit(&a2).await.expect("appends");
        assert_eq!(tx.last_event_position(org_id(1)).await.expect("reads"), 2, "its own appends");
        // A duplicate id fails, changes nothing, and leaves the transaction usable.
        let duplicate = tx.append_audit(&a1).await;
        assert!(matches!(duplicate, Err(StoreError::Unavailable(_))), "{engine:?}: {duplicate:?}");
        assert_eq!(tx.last_event_position(org_id(1)).await.expect("reads"), 2, "the position is given back");
        tx.commit().await.expect("commits");

        // A rolled-back append gives its position back.
        let mut tx = begin(&store).await;
        tx.append_audit(&event(1, 9, 0)).await.expect("appends");
        assert_eq!(tx.last_event_position(org_id(1)).await.expect("reads"), 3);
        tx.rollback().await.expect("rolls back");
        let mut tx = begin(&store).await;
        tx.append_audit(&event(1, 8, 0)).await.expect("appends");
        drop(tx);
        append(&store, &[&a3]).await;

        // A concurrent append waits for the first to end, then takes the position it gave back.
        let mut first = begin(&store).await;
        first.append_audit(&event(1, 7, 0)).await.expect("appends");
        let second = {
            let store = store.clone();
            let a4 = a4.clone();
            tokio::spawn(async move {
                let mut tx = store.begin_tx().await.expect("begins");
                tx.append_audit(&a4).await.expect("appends after the first ends");
                tx.commit().await.expect("commits");
            })
        };
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        first.rollback().await.expect("rolls back");
        second.await.expect("the second append completes");
        append(&store, &[&b2]).await;

        let mut tx = begin(&store).await;
        let feed = tx.events_after(org_id(1), None, 10).await.expect("reads");
        assert_eq!(positions(&feed), vec![(1, a1.id), (2, a2.id), (3, a3.id), (4, a4.id)], "{engine:?}");
        assert_eq!(feed[0].1, a1, "the event round trips");
        assert_eq!(tx.events_after(org_id(1), Some(0), 10).await.expect("reads"), feed, "Some(0) is None");
        let page = tx.events_after(org_id(1), Some(1), 2).await.expect("reads");
        assert_eq!(positions(&page), vec![(2, a2.id), (3, a3.id)], "after, in position order, limited");
        assert_eq!(tx.events_after(org_id(1), Some(4), 10).await.expect("reads"), vec![]);
        assert_eq!(tx.events_after(org_id(1), None, 0).await.expect("reads"), vec![], "limit 0 answers none");
        assert_eq!(tx.last_event_position(org_id(1)).await.expect("reads"), 4);
        let other = tx.events_after(org_id(2), None, 10).await.expect("reads");
        assert_eq!(positions(&other), vec![(1, b1.id), (2, b2.id)], "positions per organization");
        assert_eq!(tx.last_event_position(org_id(2)).await.expect("reads"), 2);
        assert_eq!(tx.last_event_position(org_id(3)).await.expect("reads"), 0);
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn audit_queries_filter_order_newest_first_and_limit() {
    for (t, store) in stores("audit_queries").await {
        let engine = t.engine();
        let mut e1 = event(1, 1, 10);
        let mut e2 = event(1, 2, 20);
        let mut e3 = event(1, 3, 20); // same time as e2: the id breaks the tie
        let mut e4 = event(1, 4, 30);
        e1.action = "user.created".to_owned();
        e2.actor_id = None;
        e2.source = Source::Scim;
        e3.target_kind = TargetKind::Group;
        e3.target_id = "group-1".to_owned();
        e3.impersonator_id = Some(UserId::from_uuid(uid(1, 2)));
        e4.actor_id = Some(UserId::from_uuid(uid(1, 3)));
        let other = event(2, 1, 15);
        append(&store, &[&e4, &e1, &other, &e3, &e2]).await;

        let mut tx = begin(&store).await;
        let ids = |events: Vec<AuditEvent>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
        let all = tx.audit(org_id(1), &AuditQuery::default()).await.expect("reads");
        assert_eq!(all, vec![e4.clone(), e3.clone(), e2.clone(), e1.clone()], "{engine:?}: newest first, round trip");

        let query = |f: fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            q
        };
        let cases: Vec<(AuditQuery, Vec<AuditEventId>)> = vec![
            (query(|q| q.limit = 2), vec![e4.id, e3.id]),
            (query(|q| q.actor_id = Some(UserId::from_uuid(uid(1, 1)))), vec![e3.id, e1.id]),
            (query(|q| q.target_kind = Some(TargetKind::Group)), vec![e3.id]),
            (query(|q| q.target_id = Some("user-2".to_owned())), vec![e2.id]),
            (query(|q| q.action = Some("user.created".to_owned())), vec![e1.id]),
            (query(|q| q.from = Some(T0 + Duration::seconds(20))), vec![e4.id, e3.id, e2.id]),
            (query(|q| q.to = Some(T0 + Duration::seconds(20))), vec![e1.id]),
            (
                query(|q| {
                    q.from = Some(T0 + Duration::seconds(10));
                    q.to = Some(T0 + Duration::seconds(30));
                    q.limit = 2;
                }),
                vec![e3.id, e2.id],
            ),
        ];
        for (q, expected) in cases {
            assert_eq!(ids(tx.audit(org_id(1), &q).await.expect("reads")), expected, "{engine:?}: {q:?}");
        }
        // The keyset: strictly before `(at, id)`, also within the same `at`.
        let page = AuditQuery { before: Some((e3.at, e3.id)), limit: 1, ..AuditQuery::default() };
        assert_eq!(ids(tx.audit(org_id(1), &page).await.expect("reads")), vec![e2.id]);
        let page = AuditQuery { before: Some((e2.at, e2.id)), ..AuditQuery::default() };
        assert_eq!(ids(tx.audit(org_id(1), &page).await.expect("reads")), vec![e1.id]);
        assert_eq!(ids(tx.audit(org_id(2), &AuditQuery::default()).await.expect("reads")), vec![other.id]);
        assert_eq!(tx.audit(org_id(3), &AuditQuery::default()).await.expect("reads"), vec![]);
        drop(tx);
        t.finish().await;
    }
}

fn mail(n: u64, created_seconds: i64) -> OutgoingMail {
    OutgoingMail {
        id: MailId::from_uuid(uid(200, n)),
        org_id: org_id(1),
        to: Email::parse(&format!("user{n}@example.com")).expect("a valid email"),
        kind: if n.is_multiple_of(2) {
            MailKind::Welcome { org_name: "Org".to_owned(), first_name: "Ada".to_owned() }
        } else {
            MailKind::Invitation {
                invite_id: InviteId::from_uuid(uid(300, n)),
                token: "tok".to_owned(),
                org_name: "Org".to_owned(),
                invited_by: "Grace".to_owned(),
                expires_at: datetime!(2026-02-01 00:00:00.123456 UTC),
            }
        },
        created_at: T0 + Duration::seconds(created_seconds),
    }
}

fn pending_at(m: &OutgoingMail) -> DeliveryState {
    DeliveryState::Pending { attempts: 0, next_attempt_at: m.created_at, last_error: None }
}

#[tokio::test]
async fn outbox_returns_due_mail_oldest_first_and_records_delivery_states() {
    for (t, store) in stores("outbox").await {
        let engine = t.engine();
        let (m1, m2, m3, m4) = (mail(1, 30), mail(2, 10), mail(3, 20), mail(4, 20));
        let mut tx = begin(&store).await;
        for m in [&m1, &m2, &m3, &m4] {
            tx.enqueue_mail(m).await.expect("enqueues");
        }
        let duplicate = tx.enqueue_mail(&m1).await;
        assert!(matches!(duplicate, Err(StoreError::Unavailable(_))), "{engine:?}: {duplicate:?}");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        let queued = |m: &OutgoingMail, d: DeliveryState| QueuedMail { mail: m.clone(), delivery: d };
        let due = tx.due_mail(T0 + Duration::seconds(60), 10).await.expect("reads");
        let expected: Vec<QueuedMail> = [&m2, &m3, &m4, &m1].into_iter().map(|m| queued(m, pending_at(m))).collect();
        assert_eq!(due, expected, "{engine:?}: by created_at then id, round trip");
        let due = tx.due_mail(T0 + Duration::seconds(20), 10).await.expect("reads");
        assert_eq!(
            due.iter().map(|q| q.mail.id).collect::<Vec<_>>(),
            vec![m2.id, m3.id, m4.id],
            "due at or before now"
        );
        assert_eq!(tx.due_mail(T0 + Duration::seconds(60), 1).await.expect("reads").len(), 1);
        assert_eq!(tx.due_mail(T0 + Duration::seconds(60), 0).await.expect("reads"), vec![], "limit 0");

        let retry = DeliveryState::Pending {
            attempts: 2,
            next_attempt_at: datetime!(2026-01-01 00:05:00.000001 UTC),
            last_error: Some("421 try later".to_owned()),
        };
        let sent = DeliveryState::Sent { at: T0 + Duration::seconds(61), attempts: 1 };
        let failed = DeliveryState::Failed { at: T0 + Duration::seconds(62), attempts: 8, error: "550 no".to_owned() };
        tx.set_delivery(m2.id, &retry).await.expect("records a retry");
        tx.set_delivery(m3.id, &sent).await.expect("records a send");
        tx.set_delivery(m4.id, &failed).await.expect("records a failure");
        let missing = tx.set_delivery(MailId::from_uuid(uid(9, 9)), &sent).await;
        assert!(matches!(missing, Err(StoreError::Missing { kind: "mail" })), "{missing:?}");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        let due = tx.due_mail(T0 + Duration::seconds(60), 10).await.expect("reads");
        assert_eq!(due, vec![queued(&m1, pending_at(&m1))], "{engine:?}: the retry is not due yet");
        let due = tx.due_mail(datetime!(2026-01-01 00:05:00.000001 UTC), 10).await.expect("reads");
        assert_eq!(due, vec![queued(&m2, retry.clone()), queued(&m1, pending_at(&m1))], "the retry round trips");
        // Settled messages are never due again; their state is stored as written.
        tx.set_delivery(m3.id, &retry).await.expect("back to pending");
        let due = tx.due_mail(datetime!(2026-01-01 01:00:00 UTC), 10).await.expect("reads");
        assert_eq!(due.iter().map(|q| q.mail.id).collect::<Vec<_>>(), vec![m2.id, m3.id, m1.id]);
        drop(tx);
        t.finish().await;
    }
}

fn endpoint(org: u64, n: u64, created_seconds: i64) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::from_uuid(uid(400 + org, n)),
        org_id: org_id(org),
        url: WebhookUrl::parse("https://hooks.example.com/roster").expect("a valid url"),
        event_types: BTreeSet::from([
            EventPattern::parse("user.*").expect("valid"),
            EventPattern::parse("group.created").expect("valid"),
        ]),
        secret: WebhookSecret::new(format!("whsec_{n}")),
        previous_secret: None,
        created_at: T0 + Duration::seconds(created_seconds),
        disabled_at: None,
        disabled_reason: None,
        position: 0,
        created_by: UserId::from_uuid(uid(org, 1)),
        failing_since: None,
        version: 1,
    }
}

fn delivery(e: &WebhookEndpoint, n: u64, created_seconds: i64) -> WebhookDelivery {
    WebhookDelivery {
        id: WebhookDeliveryId::from_uuid(uid(500, n)),
        endpoint_id: e.id,
        org_id: e.org_id,
        event_position: n,
        event_id: AuditEventId::from_uuid(uid(600, n)),
        attempts: 0,
        state: WebhookDeliveryState::Pending,
        response_status: None,
        last_error: None,
        response_excerpt: None,
        duration_ms: None,
        next_attempt_at: Some(T0 + Duration::seconds(created_seconds)),
        created_at: T0 + Duration::seconds(created_seconds),
        last_attempt_at: None,
        version: 1,
    }
}

fn settle(d: &WebhookDelivery, state: WebhookDeliveryState, status: u16) -> WebhookDelivery {
    WebhookDelivery {
        attempts: d.attempts + 1,
        state,
        response_status: Some(status),
        last_error: (state == WebhookDeliveryState::Failed).then(|| "refused".to_owned()),
        next_attempt_at: None,
        last_attempt_at: Some(d.created_at + Duration::microseconds(1_500_001)),
        version: d.version + 1,
        ..d.clone()
    }
}

#[tokio::test]
async fn webhook_endpoints_round_trip_with_optimistic_updates() {
    for (t, store) in stores("webhook_endpoints").await {
        let engine = t.engine();
        let (w1, w2, w3) = (endpoint(1, 1, 20), endpoint(1, 2, 10), endpoint(2, 3, 0));
        let mut tx = begin(&store).await;
        for w in [&w1, &w2, &w3] {
            tx.insert_webhook(w).await.expect("inserts");
        }
        let duplicate = tx.insert_webhook(&w1).await;
        assert!(matches!(duplicate, Err(StoreError::Unavailable(_))), "{engine:?}: {duplicate:?}");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        assert_eq!(tx.webhooks(org_id(1)).await.expect("lists"), vec![w2.clone(), w1.clone()], "{engine:?}");
        assert_eq!(tx.webhook(org_id(1), w1.id).await.expect("reads"), Some(w1.clone()));
        assert_eq!(tx.webhook(org_id(2), w1.id).await.expect("reads"), None, "scoped to the organization");

        let mut changed = w1.clone();
        changed.event_types = BTreeSet::new();
        changed.disabled_at = Some(datetime!(2026-01-02 03:04:05.678901 UTC));
        changed.position = 7;
        changed.url = WebhookUrl::parse("https://other.example.com/x").expect("valid");
        for stale in [0, 1, 3] {
            changed.version = stale;
            let result = tx.update_webhook(&changed).await;
            assert!(matches!(result, Err(StoreError::StaleVersion { kind: "webhook" })), "v{stale}: {result:?}");
        }
        changed.version = 2;
        tx.update_webhook(&changed).await.expect("the next version");
        let mut elsewhere = changed.clone();
        elsewhere.org_id = org_id(2);
        elsewhere.version = 3;
        let result = tx.update_webhook(&elsewhere).await;
        assert!(matches!(result, Err(StoreError::Missing { kind: "webhook" })), "{result:?}");
        tx.commit().await.expect("commits");
        let mut tx = begin(&store).await;
        assert_eq!(tx.webhook(org_id(1), w1.id).await.expect("reads"), Some(changed), "{engine:?}");
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn webhook_deliveries_keep_one_pending_per_endpoint() {
    for (t, store) in stores("webhook_deliveries").await {
        let engine = t.engine();
        let (w1, w2, w3) = (endpoint(1, 1, 0), endpoint(1, 2, 0), endpoint(2, 3, 0));
        let mut tx = begin(&store).await;
        for w in [&w1, &w2, &w3] {
            tx.insert_webhook(w).await.expect("inserts");
        }
        let d1 = delivery(&w1, 1, 10);
        tx.insert_webhook_delivery(&d1).await.expect("inserts");
        let second = tx.insert_webhook_delivery(&delivery(&w1, 2, 11)).await;
        assert!(matches!(second, Err(StoreError::StaleVersion { kind: "webhook" })), "{engine:?}: {second:?}");
        let mut stray = delivery(&w3, 3, 12);
        stray.org_id = org_id(1);
        let result = tx.insert_webhook_delivery(&stray).await;
        assert!(matches!(result, Err(StoreError::Missing { kind: "webhook" })), "{engine:?}: {result:?}");
        let mut nowhere = delivery(&w1, 4, 12);
        nowhere.endpoint_id = WebhookId::from_uuid(uid(9, 9));
        let result = tx.insert_webhook_delivery(&nowhere).await;
        assert!(matches!(result, Err(StoreError::Missing { kind: "webhook" })), "{result:?}");
        assert_eq!(tx.pending_webhook_delivery(org_id(1), w1.id).await.expect("reads"), Some(d1.clone()));
        assert_eq!(tx.pending_webhook_delivery(org_id(1), w2.id).await.expect("reads"), None);
        assert_eq!(tx.pending_webhook_delivery(org_id(2), w1.id).await.expect("reads"), None);

        // Settling the first frees the endpoint; settled deliveries are not limited.
        let sent = settle(&d1, WebhookDeliveryState::Sent, 204);
        tx.update_webhook_delivery(&sent).await.expect("settles");
        let stale = tx.update_webhook_delivery(&sent).await;
        assert!(matches!(stale, Err(StoreError::StaleVersion { kind: "webhook delivery" })), "{stale:?}");
        let mut gone = sent.clone();
        gone.id = WebhookDeliveryId::from_uuid(uid(9, 8));
        let missing = tx.update_webhook_delivery(&gone).await;
        assert!(matches!(missing, Err(StoreError::Missing { kind: "webhook delivery" })), "{missing:?}");
        let d2 = delivery(&w1, 2, 20);
        tx.insert_webhook_delivery(&d2).await.expect("a new pending delivery");
        let failed = settle(&delivery(&w1, 5, 15), WebhookDeliveryState::Failed, 410);
        tx.insert_webhook_delivery(&failed).await.expect("a settled delivery beside the pending one");
        // Back to pending beside another pending one: refused, nothing changed.
        let mut revived = sent.clone();
        revived.state = WebhookDeliveryState::Pending;
        revived.next_attempt_at = Some(T0);
        revived.version = sent.version + 1;
        let result = tx.update_webhook_delivery(&revived).await;
        assert!(matches!(result, Err(StoreError::StaleVersion { kind: "webhook" })), "{engine:?}: {result:?}");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        let log = tx.webhook_deliveries(org_id(1), w1.id, 10).await.expect("reads");
        assert_eq!(log, vec![d2.clone(), failed.clone(), sent.clone()], "{engine:?}: newest first, round trip");
        let log = tx.webhook_deliveries(org_id(1), w1.id, 1).await.expect("reads");
        assert_eq!(log, vec![d2.clone()]);
        assert_eq!(tx.webhook_deliveries(org_id(2), w1.id, 10).await.expect("reads"), vec![]);

        let d3 = delivery(&w3, 3, 5);
        let mut d4 = delivery(&w2, 4, 20);
        d4.id = WebhookDeliveryId::from_uuid(uid(499, 0)); // same time as d2, lower id
        tx.insert_webhook_delivery(&d3).await.expect("inserts");
        tx.insert_webhook_delivery(&d4).await.expect("inserts");
        let ids = |ds: Vec<WebhookDelivery>| ds.into_iter().map(|d| d.id).collect::<Vec<_>>();
        let due = tx.due_webhook_deliveries(T0 + Duration::seconds(20), 10).await.expect("reads");
        assert_eq!(ids(due), vec![d3.id, d4.id, d2.id], "{engine:?}: every organization, earliest first, then id");
        let due = tx.due_webhook_deliveries(T0 + Duration::seconds(19), 10).await.expect("reads");
        assert_eq!(ids(due), vec![d3.id]);
        let due = tx.due_webhook_deliveries(T0 + Duration::seconds(20), 1).await.expect("reads");
        assert_eq!(ids(due), vec![d3.id]);
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn webhooks_behind_are_active_idle_endpoints_ordered_by_their_next_event() {
    for (t, store) in stores("webhooks_behind").await {
        let engine = t.engine();
        // Organization 1: events at 50, 10; organization 2: events at 30, 40.
        append(&store, &[&event(1, 1, 50), &event(2, 1, 30), &event(1, 2, 10), &event(2, 2, 40)]).await;
        let at_start = endpoint(1, 1, 0); // next event: org 1 #1 at 50
        let mut halfway = endpoint(1, 2, 0); // next event: org 1 #2 at 10
        halfway.position = 1;
        let mut caught_up = endpoint(1, 3, 0);
        caught_up.position = 2;
        let mut disabled = endpoint(1, 4, 0);
        disabled.disabled_at = Some(T0);
        let busy = endpoint(2, 5, 0); // has a pending delivery
        let other = endpoint(2, 6, 0); // next event: org 2 #1 at 30
        let mut tx = begin(&store).await;
        for w in [&at_start, &halfway, &caught_up, &disabled, &busy, &other] {
            tx.insert_webhook(w).await.expect("inserts");
        }
        tx.insert_webhook_delivery(&delivery(&busy, 1, 0)).await.expect("inserts");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        let ids = |ws: Vec<WebhookEndpoint>| ws.into_iter().map(|w| w.id).collect::<Vec<_>>();
        let behind = tx.webhooks_behind(10).await.expect("reads");
        assert_eq!(behind[0], halfway, "{engine:?}: round trip");
        assert_eq!(ids(behind), vec![halfway.id, other.id, at_start.id], "{engine:?}");
        assert_eq!(ids(tx.webhooks_behind(2).await.expect("reads")), vec![halfway.id, other.id]);
        assert_eq!(tx.webhooks_behind(0).await.expect("reads"), vec![]);
        drop(tx);
        t.finish().await;
    }
}
