//! `WebhookRepository`: endpoints, their delivery log, the one-pending-delivery rule and the
//! worker's queries across organizations.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use roster_domain::ids::{WebhookDeliveryId, WebhookId};
use roster_domain::ports::Store;
use roster_domain::webhooks::{
    DisabledReason, EventPattern, RetiredSecret, WebhookDelivery, WebhookEndpoint, WebhookSecret, WebhookUrl,
};

use super::seed::{self, T0, seed, uid};
use super::{assert_missing, assert_stale, begin, commit};

fn ids(endpoints: &[WebhookEndpoint]) -> Vec<WebhookId> {
    endpoints.iter().map(|w| w.id).collect()
}

fn delivery_ids(deliveries: &[WebhookDelivery]) -> Vec<WebhookDeliveryId> {
    deliveries.iter().map(|d| d.id).collect()
}

/// `webhooks` lists an organization's endpoints, disabled ones included, oldest first
/// (`created_at`, then id); `update_webhook` needs the stored version plus one
/// (`StaleVersion { kind: "webhook" }`) of an endpoint of the organization (`Missing`); every
/// field reads back as written (the retired secret, the reason it is disabled, when it started
/// failing).
pub async fn endpoints_are_listed_oldest_first_and_updated_optimistically(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let newer = seed::webhook(o, uid(1, 130), s.admin.id, T0 + Duration::hours(1));
    let tied = seed::webhook(o, uid(1, 119), s.ada.id, T0);
    tx.insert_webhook(&newer).await.expect("inserts");
    tx.insert_webhook(&tied).await.expect("inserts");
    let mut changed = tied.clone();
    changed.url = WebhookUrl::parse("https://other.example.com/hook").expect("valid");
    changed.event_types = BTreeSet::from([
        EventPattern::parse("user.deactivated").expect("valid"),
        EventPattern::parse("*").expect("valid"),
    ]);
    changed.disabled_at = Some(T0 + Duration::days(1));
    changed.disabled_reason = Some(DisabledReason::Gone);
    changed.failing_since = Some(T0 + Duration::hours(3));
    changed.previous_secret =
        Some(RetiredSecret { secret: WebhookSecret::new("whsec_b2xk".to_owned()), until: T0 + Duration::days(2) });
    changed.position = 7;
    for stale in [1, 3] {
        changed.version = stale;
        assert_stale(tx.update_webhook(&changed).await, "webhook", "not the next version");
    }
    changed.version = 2;
    tx.update_webhook(&changed).await.expect("updates");
    let ghost = seed::webhook(o, uid(1, 999), s.admin.id, T0);
    assert_missing(tx.update_webhook(&WebhookEndpoint { version: 2, ..ghost }).await, "webhook", "unknown");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let listed = tx.webhooks(o).await.expect("reads");
    assert_eq!(listed, vec![changed.clone(), s.webhook.clone(), newer], "oldest first, id breaking the tie");
    assert_eq!(tx.webhook(o, changed.id).await.expect("reads"), Some(changed));
}

/// An endpoint has at most one pending delivery: inserting a second pending one, or making a
/// settled one pending again beside it, is `StaleVersion { kind: "webhook" }`; settled ones are
/// not limited, and other endpoints are not affected.
pub async fn an_endpoint_has_at_most_one_pending_delivery(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let w = &s.webhook;
    let other = seed::webhook(o, uid(1, 130), s.admin.id, T0);
    tx.insert_webhook(&other).await.expect("inserts");
    let first = seed::delivery(w, uid(1, 200), 2, T0, T0 + Duration::minutes(1));
    tx.insert_webhook_delivery(&first).await.expect("the first pending delivery");
    assert_stale(tx.insert_webhook_delivery(&seed::delivery(w, uid(1, 201), 3, T0, T0)).await, "webhook", "a second");
    tx.insert_webhook_delivery(&seed::delivery(&other, uid(1, 202), 2, T0, T0)).await.expect("another endpoint");
    let settled = seed::delivery(w, uid(1, 203), 1, T0, T0).abandoned("replayed");
    tx.insert_webhook_delivery(&settled).await.expect("a settled delivery beside a pending one");
    let reopened = WebhookDelivery { next_attempt_at: Some(T0), ..settled.leased(T0) };
    let reopened = WebhookDelivery { state: roster_domain::webhooks::WebhookDeliveryState::Pending, ..reopened };
    assert_stale(tx.update_webhook_delivery(&reopened).await, "webhook", "pending again beside a pending one");
    assert_eq!(tx.pending_webhook_delivery(o, w.id).await.expect("reads"), Some(first.clone()));
    let done = first.abandoned("test");
    tx.update_webhook_delivery(&done).await.expect("settles the first");
    assert_eq!(tx.pending_webhook_delivery(o, w.id).await.expect("reads"), None);
    let next = seed::delivery(w, uid(1, 204), 3, T0, T0);
    tx.insert_webhook_delivery(&next).await.expect("a pending delivery again");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.pending_webhook_delivery(o, w.id).await.expect("reads"), Some(next));
}

/// `update_webhook_delivery` needs the stored version plus one (`StaleVersion { kind: "webhook
/// delivery" }`) of a delivery of the organization (`Missing { kind: "webhook delivery" }`); a
/// delivery needs its endpoint in the same organization (`Missing { kind: "webhook" }`).
pub async fn delivery_updates_are_optimistic_and_need_an_endpoint_of_the_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let d = seed::delivery(&s.webhook, uid(1, 200), 2, T0, T0 + Duration::minutes(1));
    tx.insert_webhook_delivery(&d).await.expect("inserts");
    assert_stale(tx.update_webhook_delivery(&d).await, "webhook delivery", "the same version");
    let leased = WebhookDelivery {
        duration_ms: Some(15_000),
        response_excerpt: Some("busy – come back later".to_owned()),
        ..d.leased(T0 + Duration::minutes(2))
    };
    tx.update_webhook_delivery(&leased).await.expect("a new lease, with the last answer's duration and excerpt");
    assert_stale(
        tx.update_webhook_delivery(&d.leased(T0 + Duration::minutes(3))).await,
        "webhook delivery",
        "superseded",
    );
    let unknown = seed::delivery(&s.webhook, uid(1, 201), 2, T0, T0).leased(T0);
    assert_missing(tx.update_webhook_delivery(&unknown).await, "webhook delivery", "an unknown delivery");
    let nowhere = seed::webhook(o, uid(1, 999), s.admin.id, T0);
    assert_missing(
        tx.insert_webhook_delivery(&seed::delivery(&nowhere, uid(1, 202), 1, T0, T0)).await,
        "webhook",
        "endpoint",
    );
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.pending_webhook_delivery(o, s.webhook.id).await.expect("reads"), Some(leased));
}

/// `webhooks_behind` answers, across organizations, the active endpoints with no pending
/// delivery whose position is below their organization's last event position, ordered by the
/// time (`at`) of each one's next event, then id, at most `limit`.
pub async fn webhooks_behind_are_active_idle_endpoints_oldest_waiting_event_first(store: Arc<dyn Store>) {
    let (a, b) = (seed::org(1, "alpha"), seed::org(2, "beta"));
    let mut tx = begin(&store).await;
    let mut owners = Vec::new();
    for o in [&a, &b] {
        seed::insert_org_with_root(tx.as_mut(), o).await;
        let owner = seed::user(o.id, uid(o.id.as_uuid().as_u64_pair().0, 100), "owner@example.com");
        tx.insert_user(&owner).await.expect("inserts");
        owners.push(owner.id);
    }
    // A's events: positions 1, 2, 3 at times out of order; B's: one event.
    for (n, hours) in [(1, 2), (2, 0), (3, 3)] {
        tx.append_audit(&seed::event(
            a.id,
            uid(9, n),
            T0 + Duration::hours(hours) + Duration::minutes(30),
            "user.updated",
        ))
        .await
        .expect("appends");
    }
    tx.append_audit(&seed::event(b.id, uid(9, 4), T0 + Duration::hours(1), "user.updated")).await.expect("appends");
    let hook = |o: &roster_domain::org::Organization, owner, n, position| WebhookEndpoint {
        position,
        ..seed::webhook(o.id, uid(8, n), owner, T0)
    };
    let up_to_date = hook(&a, owners[0], 1, 3);
    let from_start = hook(&a, owners[0], 2, 0); // next event: position 1 at T0+2h30
    let from_one = hook(&a, owners[0], 3, 1); // next event: position 2 at T0+0h30
    let b_waiting = hook(&b, owners[1], 4, 0); // next event at T0+1h
    let b_busy = hook(&b, owners[1], 5, 0);
    let disabled = WebhookEndpoint { disabled_at: Some(T0), ..hook(&a, owners[0], 6, 0) };
    let tie = hook(&a, owners[0], 0, 0); // same next event as from_start, smaller id
    for w in [&up_to_date, &from_start, &from_one, &b_waiting, &b_busy, &disabled, &tie] {
        tx.insert_webhook(w).await.expect("inserts");
    }
    tx.insert_webhook_delivery(&seed::delivery(&b_busy, uid(8, 50), 1, T0, T0)).await.expect("inserts");
    let mut settled = seed::delivery(&up_to_date, uid(8, 51), 3, T0, T0);
    settled = settled.abandoned("done");
    tx.insert_webhook_delivery(&settled).await.expect("a settled delivery does not make an endpoint busy");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let behind = tx.webhooks_behind(10).await.expect("reads");
    assert_eq!(ids(&behind), [from_one.id, b_waiting.id, tie.id, from_start.id]);
    assert_eq!(behind[0], from_one, "every field");
    assert_eq!(ids(&tx.webhooks_behind(2).await.expect("reads")), [from_one.id, b_waiting.id]);
}

/// `due_webhook_deliveries` answers, across organizations, the pending deliveries whose
/// `next_attempt_at` is at or before `now`, earliest first (then id), at most `limit`.
pub async fn due_deliveries_are_pending_ones_whose_time_has_come_earliest_first(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let mut tx = begin(&store).await;
    let a_other = seed::webhook(a.org.id, uid(1, 130), a.admin.id, T0);
    tx.insert_webhook(&a_other).await.expect("inserts");
    let late = seed::delivery(&a.webhook, uid(1, 200), 2, T0, T0 + Duration::minutes(10));
    let early = seed::delivery(&b.webhook, uid(2, 200), 2, T0, T0 + Duration::minutes(5));
    let tied = seed::delivery(&a_other, uid(1, 199), 1, T0, T0 + Duration::minutes(10));
    for d in [&late, &early, &tied] {
        tx.insert_webhook_delivery(d).await.expect("inserts");
    }
    commit(tx).await;
    let mut tx = begin(&store).await;
    let now = T0 + Duration::minutes(10);
    assert_eq!(delivery_ids(&tx.due_webhook_deliveries(now, 10).await.expect("reads")), [early.id, tied.id, late.id]);
    assert_eq!(delivery_ids(&tx.due_webhook_deliveries(now, 1).await.expect("reads")), [early.id]);
    let before = tx.due_webhook_deliveries(now - Duration::microseconds(1), 10).await.expect("reads");
    assert_eq!(delivery_ids(&before), [early.id]);
    assert_eq!(before[0], early, "every field");
    tx.update_webhook_delivery(&early.abandoned("gone")).await.expect("settles");
    assert_eq!(delivery_ids(&tx.due_webhook_deliveries(now, 10).await.expect("reads")), [tied.id, late.id]);
}

/// `webhook_deliveries` is one endpoint's log, newest first (`created_at`, then id), at most
/// `limit`.
pub async fn the_delivery_log_is_newest_first_and_limited(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let other = seed::webhook(o, uid(1, 130), s.admin.id, T0);
    tx.insert_webhook(&other).await.expect("inserts");
    let at = |minutes: i64| T0 + Duration::minutes(minutes);
    let rows = [
        seed::delivery(&s.webhook, uid(1, 200), 2, at(5), at(6)).abandoned("one"),
        seed::delivery(&s.webhook, uid(1, 202), 3, at(7), at(8)).abandoned("two"),
        seed::delivery(&s.webhook, uid(1, 201), 4, at(7), at(8)),
        seed::delivery(&other, uid(1, 203), 1, at(9), at(9)),
    ];
    for d in &rows {
        tx.insert_webhook_delivery(d).await.expect("inserts");
    }
    commit(tx).await;
    let mut tx = begin(&store).await;
    let log = tx.webhook_deliveries(o, s.webhook.id, 10).await.expect("reads");
    assert_eq!(delivery_ids(&log), [rows[1].id, rows[2].id, rows[0].id, s.delivery.id]);
    assert_eq!(log[0], rows[1], "every field");
    assert_eq!(
        delivery_ids(&tx.webhook_deliveries(o, s.webhook.id, 2).await.expect("reads")),
        [rows[1].id, rows[2].id]
    );
}

/// `purge_webhook_deliveries` removes, across organizations, settled deliveries created before
/// the cutoff, the oldest first, at most `limit`; a pending delivery stays however old.
pub async fn settled_deliveries_older_than_the_cutoff_are_purged_oldest_first(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let days_ago = |days: i64| T0 - Duration::days(days);
    let mut tx = begin(&store).await;
    let idle = seed::webhook(a.org.id, uid(1, 130), a.admin.id, T0);
    tx.insert_webhook(&idle).await.expect("inserts");
    let oldest = seed::delivery(&a.webhook, uid(1, 210), 2, days_ago(40), days_ago(40)).abandoned("given up");
    let old = seed::delivery(&b.webhook, uid(2, 211), 2, days_ago(35), days_ago(35)).abandoned("given up");
    let pending = seed::delivery(&idle, uid(1, 212), 3, days_ago(50), days_ago(50));
    let recent = seed::delivery(&a.webhook, uid(1, 213), 4, days_ago(29), days_ago(29)).abandoned("given up");
    for d in [&oldest, &old, &pending, &recent] {
        tx.insert_webhook_delivery(d).await.expect("inserts");
    }
    commit(tx).await;

    let cutoff = days_ago(30);
    let mut tx = begin(&store).await;
    assert_eq!(tx.purge_webhook_deliveries(cutoff, 1).await.expect("purges"), 1, "at most the limit");
    assert_eq!(delivery_ids(&tx.webhook_deliveries(a.org.id, a.webhook.id, 10).await.expect("reads")).len(), 2);
    assert_eq!(tx.purge_webhook_deliveries(cutoff, 10).await.expect("purges"), 1, "the other organization's");
    assert_eq!(tx.purge_webhook_deliveries(cutoff, 10).await.expect("purges"), 0, "nothing twice");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(
        delivery_ids(&tx.webhook_deliveries(a.org.id, a.webhook.id, 10).await.expect("reads")),
        [a.delivery.id, recent.id],
        "the oldest went first; the recent one and the seed's stay"
    );
    assert_eq!(delivery_ids(&tx.webhook_deliveries(b.org.id, b.webhook.id, 10).await.expect("reads")), [b.delivery.id]);
    assert_eq!(tx.pending_webhook_delivery(a.org.id, idle.id).await.expect("reads"), Some(pending), "pending stays");
}
