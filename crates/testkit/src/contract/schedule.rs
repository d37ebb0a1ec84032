//! `ScheduleRepository`: scheduled changes, per user and due across organizations.

use std::sync::Arc;

use time::Duration;

use roster_domain::ids::ScheduledChangeId;
use roster_domain::ports::Store;
use roster_domain::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};

use super::seed::{self, T0, key, seed, uid};
use super::{assert_missing, begin, commit};

fn ids(changes: &[ScheduledChange]) -> Vec<ScheduledChangeId> {
    changes.iter().map(|c| c.id).collect()
}

/// `due_scheduled` answers the pending changes of every organization whose `effective_at` is at
/// or before `now`, oldest first (`id` breaking ties), at most `limit`; applied, cancelled and
/// failed ones never.
pub async fn due_scheduled_changes_come_oldest_first_from_every_organization(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let mut tx = begin(&store).await;
    let mut failed = seed::scheduled(&b.ada, uid(2, 300), ScheduledAction::Deactivate, T0);
    failed.state = ScheduleState::Failed { at: T0, code: "last_admin".to_owned() };
    let mut cancelled = seed::scheduled(&a.ada, uid(1, 300), ScheduledAction::Deactivate, T0);
    cancelled.state = ScheduleState::Cancelled { at: T0 };
    for c in [&failed, &cancelled] {
        tx.insert_scheduled(c).await.expect("inserts");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    let (ada, bob) = (&a.scheduled[1], &a.scheduled[0]);
    let (ada_b, bob_b) = (&b.scheduled[1], &b.scheduled[0]);
    let now = bob.effective_at;
    let due = tx.due_scheduled(now, 10).await.expect("reads");
    assert_eq!(ids(&due), [ada.id, ada_b.id, bob.id, bob_b.id], "oldest first, then by id; `now` included");
    assert_eq!(due[0], ada.clone(), "every field");
    assert_eq!(ids(&tx.due_scheduled(now, 3).await.expect("reads")), [ada.id, ada_b.id, bob.id]);
    let just_before = tx.due_scheduled(now - Duration::microseconds(1), 10).await.expect("reads");
    assert_eq!(ids(&just_before), [ada.id, ada_b.id]);
    assert!(tx.due_scheduled(T0 - Duration::days(1), 10).await.expect("reads").is_empty());
}

/// `scheduled_for_user` lists a user's changes in every state, by `effective_at` then id;
/// `update_scheduled` replaces one of the organization (`Missing { kind: "scheduled change" }`
/// otherwise); a change needs its user in the organization (`Missing { kind: "user" }`).
pub async fn scheduled_changes_are_listed_per_user_and_updated_in_their_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let sooner =
        seed::scheduled(&s.ada, uid(1, 90), ScheduledAction::RemoveLicense(key("core")), T0 + Duration::days(1));
    tx.insert_scheduled(&sooner).await.expect("inserts");
    let mut applied = s.scheduled[1].clone();
    applied.state = ScheduleState::Applied { at: T0 + Duration::days(5) };
    tx.update_scheduled(&applied).await.expect("updates");
    let ghost = seed::user(o, uid(1, 999), "ghost@example.com");
    let orphan = seed::scheduled(&ghost, uid(1, 91), ScheduledAction::Deactivate, T0);
    assert_missing(tx.insert_scheduled(&orphan).await, "user", "an unknown user");
    assert_missing(tx.update_scheduled(&orphan).await, "scheduled change", "an unknown change");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.scheduled_for_user(o, s.ada.id).await.expect("reads"), vec![sooner, applied.clone()]);
    assert_eq!(tx.scheduled(o, applied.id).await.expect("reads"), Some(applied));
    assert!(tx.scheduled_for_user(o, s.admin.id).await.expect("reads").is_empty());
}
