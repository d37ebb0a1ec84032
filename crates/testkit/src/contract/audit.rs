//! `AuditLog`: the audit query (newest first) and the positioned event feed (§9.1).

use std::cmp::Reverse;
use std::sync::Arc;

use serde_json::json;
use time::Duration;

use roster_domain::audit::{AuditEvent, AuditQuery, Source, TargetKind};
use roster_domain::ids::{ApiKeyId, AuditEventId, OrgId, UserId};
use roster_domain::ports::Store;

use super::seed::{self, T0, uid};
use super::{begin, commit};
use crate::generator::Rng;

const ACTIONS: [&str; 4] = ["user.created", "user.deactivated", "license.assigned", "group.created"];
const KINDS: [TargetKind; 3] = [TargetKind::User, TargetKind::License, TargetKind::Group];
const TARGETS: [&str; 3] = ["t-1", "t-2", "t-3"];

/// The reference answer: matching events of the organization, newest first by `(at, id)`, at
/// most `limit` (0: all).
pub fn expected(all: &[AuditEvent], org: OrgId, query: &AuditQuery) -> Vec<AuditEvent> {
    let mut rows: Vec<&AuditEvent> = all.iter().filter(|e| e.org_id == org && query.matches(e)).collect();
    rows.sort_by_key(|e| Reverse((e.at, e.id)));
    let n = if query.limit == 0 { usize::MAX } else { usize::try_from(query.limit).unwrap_or(usize::MAX) };
    rows.into_iter().take(n).cloned().collect()
}

/// For 300 random audit queries (actor, target kind and id, action, time range, a `before`
/// cursor on and between events, limits including 0 for "no limit") over three organizations'
/// generated events, `audit` answers the reference: matching events, newest first, limited.
pub async fn the_audit_query_equals_filtering_every_event_newest_first_on_generated_events(store: Arc<dyn Store>) {
    let mut rng = Rng::new(0xA0D1);
    let mut all = Vec::new();
    let mut orgs = Vec::new();
    let mut tx = begin(&store).await;
    for n in 1..=3 {
        let org = seed::org(n, &format!("audit-{n}"));
        seed::insert_org_with_root(tx.as_mut(), &org).await;
        let users: Vec<UserId> = (0..4).map(|k| UserId::from_uuid(uid(n, 100 + k))).collect();
        for (k, u) in users.iter().enumerate() {
            tx.insert_user(&seed::user(org.id, u.as_uuid(), &format!("u{k}@example.com"))).await.expect("inserts");
        }
        for _ in 0..70 {
            let mut e = seed::event(org.id, rng.uuid(), rng.instant(T0, 6), rng.one(&ACTIONS));
            e.actor_id = rng.chance(80).then(|| *rng.pick(&users));
            e.impersonator_id = rng.chance(10).then(|| *rng.pick(&users));
            e.source = *rng.pick(&[Source::Console, Source::Api, Source::Scheduler]);
            e.target_kind = *rng.pick(&KINDS);
            e.target_id = (*rng.pick(&TARGETS)).to_owned();
            e.details = json!({ "k": rng.below(3) });
            tx.append_audit(&e).await.expect("appends");
            all.push(e);
        }
        orgs.push((org.id, users));
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    for (org, users) in &orgs {
        for i in 0..100 {
            let before = match rng.below(10) {
                0..=5 => None,
                6..=8 => {
                    let e = rng.pick(&all);
                    Some((e.at, e.id))
                }
                _ => Some((rng.instant(T0, 6), AuditEventId::from_uuid(rng.uuid()))),
            };
            let query = AuditQuery {
                actor_id: rng.chance(25).then(|| *rng.pick(users)),
                target_kind: rng.chance(25).then(|| *rng.pick(&KINDS)),
                target_id: rng.chance(20).then(|| (*rng.pick(&TARGETS)).to_owned()),
                action: rng.chance(25).then(|| (rng.one(&ACTIONS)).to_owned()),
                from: rng.chance(20).then(|| rng.instant(T0, 6)),
                to: rng.chance(20).then(|| rng.instant(T0, 6)),
                before,
                limit: *rng.pick(&[0, 1, 3, 10, 100]),
            };
            let want = expected(&all, *org, &query);
            let got = tx.audit(*org, &query).await.expect("reads");
            let ids = |es: &[AuditEvent]| es.iter().map(|e| e.id).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(&want), "query {i}:\n{query:#?}");
            assert_eq!(got, want, "query {i}: the events themselves");
        }
    }
}

/// Each organization's committed events hold positions 1, 2, 3… in append order (not time
/// order), across transactions; a rolled-back transaction's positions are taken again by the
/// next commit; an organization without events is at 0.
pub async fn event_positions_count_each_organizations_committed_events_without_gaps(store: Arc<dyn Store>) {
    let (a, b, c) = (seed::org(1, "alpha"), seed::org(2, "beta"), seed::org(3, "gamma"));
    let mut tx = begin(&store).await;
    for o in [&a, &b, &c] {
        seed::insert_org_with_root(tx.as_mut(), o).await;
    }
    commit(tx).await;
    let ev = |o: &roster_domain::org::Organization, n: u64, hours: i64| {
        seed::event(o.id, uid(9, n), T0 + Duration::hours(hours), "user.updated")
    };

    let mut tx = begin(&store).await;
    assert_eq!(tx.last_event_position(a.id).await.expect("reads"), 0);
    for e in [ev(&a, 1, 5), ev(&b, 2, 0), ev(&a, 3, 1)] {
        tx.append_audit(&e).await.expect("appends");
    }
    commit(tx).await;
    let mut tx = begin(&store).await;
    tx.append_audit(&ev(&a, 4, 2)).await.expect("appends");
    assert_eq!(tx.last_event_position(a.id).await.expect("reads"), 3, "its own uncommitted event");
    drop(tx);
    let mut tx = begin(&store).await;
    for e in [ev(&a, 5, 0), ev(&b, 6, 9)] {
        tx.append_audit(&e).await.expect("appends");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    let feed = |f: Vec<(u64, AuditEvent)>| f.into_iter().map(|(p, e)| (p, e.id)).collect::<Vec<_>>();
    let id = |n: u64| AuditEventId::from_uuid(uid(9, n));
    assert_eq!(feed(tx.events_after(a.id, None, 10).await.expect("reads")), [(1, id(1)), (2, id(3)), (3, id(5))]);
    assert_eq!(feed(tx.events_after(b.id, None, 10).await.expect("reads")), [(1, id(2)), (2, id(6))]);
    assert_eq!(tx.last_event_position(a.id).await.expect("reads"), 3);
    assert_eq!(tx.last_event_position(b.id).await.expect("reads"), 2);
    assert_eq!(tx.last_event_position(c.id).await.expect("reads"), 0);
    assert!(tx.events_after(c.id, None, 10).await.expect("reads").is_empty());
    let full = tx.events_after(a.id, None, 10).await.expect("reads");
    assert_eq!(full[1].1, ev(&a, 3, 1), "the event itself, with its position");
}

/// `events_after(after, limit)` answers the events with positions above `after` (all when
/// `None`, as with `Some(0)`), in position order, at most `limit` (0: none).
pub async fn events_after_pages_through_the_feed_in_position_order(store: Arc<dyn Store>) {
    let org = seed::org(1, "alpha");
    let mut tx = begin(&store).await;
    seed::insert_org_with_root(tx.as_mut(), &org).await;
    for n in 0..10 {
        // Times go backwards: positions follow appends.
        tx.append_audit(&seed::event(
            org.id,
            uid(9, n),
            T0 - Duration::minutes(i64::try_from(n).unwrap_or(0)),
            "user.updated",
        ))
        .await
        .expect("appends");
    }
    commit(tx).await;
    let mut tx = begin(&store).await;
    let positions = |f: Vec<(u64, AuditEvent)>| f.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let page = positions(tx.events_after(org.id, after, 3).await.expect("reads"));
        let Some(last) = page.last().copied() else { break };
        after = Some(last);
        pages.push(page);
    }
    assert_eq!(pages, [vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9], vec![10]]);
    assert_eq!(positions(tx.events_after(org.id, Some(0), 2).await.expect("reads")), [1, 2]);
    assert_eq!(positions(tx.events_after(org.id, Some(9), 5).await.expect("reads")), [10]);
    assert!(tx.events_after(org.id, Some(10), 5).await.expect("reads").is_empty());
    assert!(tx.events_after(org.id, Some(500), 5).await.expect("reads").is_empty());
    assert!(tx.events_after(org.id, None, 0).await.expect("reads").is_empty(), "a limit of 0 answers nothing");
    let first = tx.events_after(org.id, None, 1).await.expect("reads");
    assert_eq!(first[0].1.id, AuditEventId::from_uuid(uid(9, 0)));
}

/// `first_event_position_after(at)` answers the lowest position among the events whose time is
/// strictly after `at` (times need not follow positions), `None` when none is; an event's
/// `api_key_id` reads back.
pub async fn the_first_position_after_a_time_is_the_lowest_of_the_later_events(store: Arc<dyn Store>) {
    let (org, other) = (seed::org(1, "alpha"), seed::org(2, "beta"));
    let mut tx = begin(&store).await;
    seed::insert_org_with_root(tx.as_mut(), &org).await;
    seed::insert_org_with_root(tx.as_mut(), &other).await;
    // Positions 1..=4 at T0+1h, T0+3h, T0+2h, T0+4h; the other organization's event is later.
    let key = ApiKeyId::from_uuid(uid(9, 99));
    for (n, hours) in [(1, 1), (2, 3), (3, 2), (4, 4)] {
        let mut event = seed::event(org.id, uid(9, n), T0 + Duration::hours(hours), "user.updated");
        event.api_key_id = (n == 2).then_some(key);
        tx.append_audit(&event).await.expect("appends");
    }
    tx.append_audit(&seed::event(other.id, uid(9, 9), T0 + Duration::hours(9), "user.updated")).await.expect("appends");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let cases = [
        (0, Some(1), "every event is later"),
        (1, Some(2), "strictly after: the event at T0+1h is not"),
        (2, Some(2), "the lowest position among T0+3h and T0+4h"),
        (3, Some(4), "only the last"),
        (4, None, "none is later"),
    ];
    let keys: Vec<_> =
        tx.events_after(org.id, None, 10).await.expect("reads").into_iter().map(|(_, e)| e.api_key_id).collect();
    assert_eq!(keys, [None, Some(key), None, None], "the API key that made an event reads back");
    for (hours, expected, why) in cases {
        let found = tx.first_event_position_after(org.id, T0 + Duration::hours(hours)).await.expect("reads");
        assert_eq!(found, expected, "{why}");
    }
}
