//! `JobRepository`: jobs with their input and outcomes, written optimistically, claimable when
//! queued or when their lease ended; and the scheduler's claim of a scheduled change.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use async_lock::Barrier;

use serde_json::json;
use time::Duration;

use roster_domain::actor::Source;
use roster_domain::ids::{JobId, UserId};
use roster_domain::jobs::{Job, JobKind, JobOutcome, JobRequester};
use roster_domain::ports::{Store, StoreError};
use roster_domain::scheduling::ScheduleState;

use super::concurrency::join_all;
use super::seed::{T0, seed, uid};
use super::{Task, assert_missing, assert_stale, begin, commit};

fn job(org: roster_domain::ids::OrgId, n: u64, at: time::OffsetDateTime) -> Job {
    let requester = JobRequester::Member { user_id: UserId::from_uuid(uid(1, 100)), impersonator_id: None };
    Job::queued(JobId::from_uuid(uid(1, 700 + n)), org, JobKind::Bulk, requester, Source::Api, 3, at)
}

/// A job reads back as written, input apart; `update_job` needs the next version
/// (`StaleVersion { kind: "job" }`, `Missing { kind: "job" }` for an unknown job); a job of
/// another organization is absent; `claimable_jobs` spans organizations, oldest first, and
/// holds queued jobs and running ones whose lease ended at or before `now`.
pub async fn jobs_are_written_optimistically_and_claimable_when_queued_or_their_lease_ended(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let first = job(a.org.id, 1, T0);
    let second = job(b.org.id, 2, T0 + Duration::seconds(1));
    let mut settled = job(a.org.id, 3, T0 - Duration::days(1));
    let mut tx = begin(&store).await;
    tx.insert_job(&first, r#"{"user_ids":[]}"#).await.expect("inserts");
    tx.insert_job(&second, "{}").await.expect("inserts");
    tx.insert_job(&settled, "{}").await.expect("inserts");
    settled.finish(T0, Some(("forbidden".into(), "no longer allowed".into())));
    settled.next_version();
    tx.update_job(&settled).await.expect("updates");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.job(a.org.id, first.id).await.expect("reads"), Some(first.clone()), "every field");
    assert_eq!(tx.job_input(a.org.id, first.id).await.expect("reads").as_deref(), Some(r#"{"user_ids":[]}"#));
    assert_eq!(tx.job(b.org.id, first.id).await.expect("reads"), None, "another organization's");
    assert_eq!(tx.job_input(b.org.id, first.id).await.expect("reads"), None);
    assert_eq!(tx.job(a.org.id, settled.id).await.expect("reads"), Some(settled.clone()), "a failure reads back");
    let claimable = tx.claimable_jobs(T0, 10).await.expect("reads");
    assert_eq!(claimable.iter().map(|j| j.id).collect::<Vec<_>>(), [first.id, second.id], "oldest first");
    assert_eq!(tx.claimable_jobs(T0, 1).await.expect("reads").len(), 1, "at most `limit`");

    let mut held = first.clone();
    held.hold("runner", T0, Duration::seconds(30));
    held.advance(2);
    held.result = Some(json!({"seats_before": []}));
    held.version = first.version + 2;
    let mut stale = held.clone();
    tx.update_job(&held).await.expect_err("two versions ahead");
    held.version = first.version + 1;
    tx.update_job(&held).await.expect("the next version");
    stale.version = first.version + 1;
    assert_stale(tx.update_job(&stale).await, "job", "the same version twice");
    assert_missing(tx.update_job(&job(a.org.id, 9, T0)).await, "job", "an unknown job");
    assert_eq!(tx.job(a.org.id, first.id).await.expect("reads"), Some(held.clone()), "the lease and result");
    let claimable = tx.claimable_jobs(T0 + Duration::seconds(29), 10).await.expect("reads");
    assert_eq!(claimable.iter().map(|j| j.id).collect::<Vec<_>>(), [second.id], "held while the lease runs");
    let claimable = tx.claimable_jobs(T0 + Duration::seconds(30), 10).await.expect("reads");
    assert_eq!(claimable.iter().map(|j| j.id).collect::<Vec<_>>(), [first.id, second.id], "the lease ended");
}

/// Outcomes are kept per job in `seq` order and read after a position; they need their job in
/// the organization (`Missing { kind: "job" }`); a batch with a repeated `seq` is refused whole.
pub async fn job_outcomes_are_read_in_order_after_a_position_and_need_their_job(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let j = job(a.org.id, 1, T0);
    let mut tx = begin(&store).await;
    tx.insert_job(&j, "{}").await.expect("inserts");
    let outcomes: Vec<JobOutcome> =
        (1..=5).map(|seq| JobOutcome { seq, body: json!({"status": "ok", "n": seq}) }).collect();
    tx.insert_job_outcomes(a.org.id, j.id, &outcomes[..3]).await.expect("inserts");
    tx.insert_job_outcomes(a.org.id, j.id, &outcomes[3..]).await.expect("inserts");
    assert_missing(tx.insert_job_outcomes(b.org.id, j.id, &outcomes[..1]).await, "job", "another organization");
    let again = [JobOutcome { seq: 6, body: json!({}) }, outcomes[0].clone()];
    tx.insert_job_outcomes(a.org.id, j.id, &again).await.expect_err("a repeated seq");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.job_outcomes(a.org.id, j.id, 0, 10).await.expect("reads"), outcomes, "every outcome, in order");
    assert_eq!(tx.job_outcomes(a.org.id, j.id, 2, 2).await.expect("reads"), outcomes[2..4]);
    assert!(tx.job_outcomes(a.org.id, j.id, 5, 10).await.expect("reads").is_empty(), "nothing of the refused batch");
    assert!(tx.job_outcomes(b.org.id, j.id, 0, 10).await.expect("reads").is_empty());
}

/// `purge_jobs` removes the jobs of every organization that finished before the cutoff, with
/// their input and outcomes, and keeps the unfinished ones however old and the recent ones.
pub async fn finished_jobs_are_purged_with_their_outcomes_after_the_cutoff(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let old = |org, n| {
        let mut j = job(org, n, T0 - Duration::days(40));
        j.finish(T0 - Duration::days(31), None);
        j
    };
    let (old_a, old_b) = (old(a.org.id, 1), old(b.org.id, 2));
    let mut recent = job(a.org.id, 3, T0 - Duration::days(2));
    recent.finish(T0 - Duration::days(1), None);
    let unfinished = job(a.org.id, 4, T0 - Duration::days(90));
    let mut tx = begin(&store).await;
    for j in [&old_a, &old_b, &recent, &unfinished] {
        tx.insert_job(j, "{}").await.expect("inserts");
        tx.insert_job_outcomes(j.org_id, j.id, &[JobOutcome { seq: 1, body: json!({"status": "ok"}) }])
            .await
            .expect("inserts");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.purge_jobs(T0 - Duration::days(30)).await.expect("purges"), 2, "the two old finished jobs");
    commit(tx).await;
    let mut tx = begin(&store).await;
    for gone in [&old_a, &old_b] {
        assert_eq!(tx.job(gone.org_id, gone.id).await.expect("reads"), None);
        assert_eq!(tx.job_input(gone.org_id, gone.id).await.expect("reads"), None);
        assert!(tx.job_outcomes(gone.org_id, gone.id, 0, 10).await.expect("reads").is_empty());
    }
    for kept in [&recent, &unfinished] {
        assert_eq!(tx.job(kept.org_id, kept.id).await.expect("reads").as_ref(), Some(kept));
        assert_eq!(tx.job_outcomes(kept.org_id, kept.id, 0, 10).await.expect("reads").len(), 1);
    }
    assert_eq!(tx.purge_jobs(T0 - Duration::days(30)).await.expect("purges"), 0, "nothing twice");
}

/// `settle_scheduled` moves a pending change once: a second settle, a settled change and an
/// unknown or foreign one answer `false` and change nothing.
pub async fn a_scheduled_change_is_settled_once(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let change = a.scheduled[0].clone();
    let applied = ScheduleState::Applied { at: T0 };
    let failed = ScheduleState::Failed { at: T0, code: "last_admin".into() };
    let mut tx = begin(&store).await;
    assert!(!tx.settle_scheduled(b.org.id, change.id, &applied).await.expect("writes"), "another organization's");
    assert!(tx.settle_scheduled(a.org.id, change.id, &applied).await.expect("writes"));
    assert!(!tx.settle_scheduled(a.org.id, change.id, &failed).await.expect("writes"), "settled already");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.scheduled(a.org.id, change.id).await.expect("reads").expect("kept").state, applied);
    let other = &a.scheduled[1];
    assert!(tx.settle_scheduled(a.org.id, other.id, &failed).await.expect("writes"));
    assert_eq!(tx.scheduled(a.org.id, other.id).await.expect("reads").expect("kept").state, failed);
}

/// Two schedulers settling the same change at once (each in its own transaction, released
/// together): exactly one is told it was pending. On PostgreSQL the second `UPDATE` waits for
/// the first transaction and then finds the change settled.
pub async fn of_two_schedulers_settling_one_change_exactly_one_wins<S, H, E>(store: Arc<dyn Store>, spawn: S)
where
    S: Fn(Task<Result<bool, StoreError>>) -> H,
    H: Future<Output = Result<Result<bool, StoreError>, E>>,
    E: Debug,
{
    let a = seed(&store, 1).await;
    let change = a.scheduled[0].clone();
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<H> = (0..2)
        .map(|_| {
            let (store, barrier, change) = (Arc::clone(&store), Arc::clone(&barrier), change.clone());
            spawn(Box::pin(async move {
                barrier.wait().await;
                let mut tx = store.begin().await?;
                let won = tx.settle_scheduled(change.org_id, change.id, &ScheduleState::Applied { at: T0 }).await?;
                tx.commit().await?;
                Ok(won)
            }))
        })
        .collect();
    let outcomes: Vec<bool> = join_all(handles).await.into_iter().map(|r| r.expect("the store answered")).collect();
    assert_eq!(outcomes.iter().filter(|won| **won).count(), 1, "exactly one claims it: {outcomes:?}");
}
