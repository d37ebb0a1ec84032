//! Jobs (§10): a bulk action over more than 1,000 users is queued, worked in steps that each
//! commit their users' changes with their outcomes, and resumed — by the same runner or another
//! — without applying any user's change twice.

use std::collections::BTreeMap;

use roster_domain::ErrorCode;
use roster_domain::ids::UserId;
use roster_domain::jobs::{JOB_THRESHOLD, JobState};
use roster_domain::services::{
    BulkAction, BulkRequest, BulkSelection, BulkSubmission, ClaimedJob, JobPace, StepResult,
};
use roster_domain::users_query::UserQuery;
use time::Duration;

use crate::support::{World, failure, keys};

const PACE: JobPace = JobPace { lease: Duration::seconds(60), step: 400 };

async fn members(w: &World, n: usize) -> Vec<UserId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(w.member(&format!("u{i}"), &["standard"], &[]).await);
    }
    ids
}

fn assign_core(ids: &[UserId]) -> BulkRequest {
    BulkRequest {
        selection: BulkSelection::Ids(ids.to_vec()),
        action: BulkAction::AssignLicenses(keys(&["core"])),
        atomic: false,
        dry_run: false,
    }
}

/// A world with `n` members and seats for all of them, and the job assigning them `core`.
async fn queued(n: usize) -> (World, Vec<UserId>, roster_domain::jobs::Job) {
    let w = World::new().await;
    w.set_seats("core", 5_000).await;
    let ids = members(&w, n).await;
    let submitted = w.services.submit_bulk(&w.admin_actor().await, assign_core(&ids)).await.expect("accepted");
    let BulkSubmission::Queued(job) = submitted else { panic!("over {JOB_THRESHOLD} users: a job") };
    (w, ids, job)
}

async fn claim(w: &World, runner: &str) -> Option<ClaimedJob> {
    w.services.claim_job(runner, PACE).await.expect("claims")
}

/// How many times each user's licenses changed, from the audit log.
async fn changes_per_user(w: &World) -> BTreeMap<String, usize> {
    let mut per_user = BTreeMap::new();
    for event in w.events_named("user.licenses_changed").await {
        *per_user.entry(event.target_id.clone()).or_default() += 1;
    }
    per_user
}

#[tokio::test]
async fn a_bulk_action_over_a_thousand_users_is_queued_and_worked_in_steps() {
    let (w, ids, job) = queued(JOB_THRESHOLD + 1).await;
    assert_eq!((job.state.clone(), job.total, job.done), (JobState::Queued, 1_001, 0));
    assert_eq!(w.seats_used("core").await, 0, "nothing happens within the request");

    let mut claimed = claim(&w, "a").await.expect("a queued job");
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Continue);
    assert_eq!(claimed.job().done, 400);
    assert_eq!(w.seats_used("core").await, 400, "a step's changes are committed with it");
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Continue);
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Finished);

    let admin = w.admin_actor().await;
    let done = w.services.job(&admin, job.id).await.expect("reads");
    assert_eq!((done.state, done.done), (JobState::Done, 1_001));
    let first = w.services.job_outcomes(&admin, job.id, 0, 1_000).await.expect("outcomes");
    let rest = w.services.job_outcomes(&admin, job.id, 1_000, 1_000).await.expect("outcomes");
    assert_eq!((first.len(), rest.len()), (1_000, 1));
    let users: Vec<UserId> = first.iter().chain(&rest).map(|(_, o)| o.user_id).collect();
    assert_eq!(users, ids, "one outcome per user, in selection order");
    assert!(first.iter().chain(&rest).all(|(_, o)| o.is_ok()));
    let result = w.services.bulk_job_result(&admin, job.id).await.expect("reads").expect("done");
    assert!(result.applied);
    let core = |counts: &[roster_domain::seats::SeatCount]| {
        counts.iter().find(|c| c.product.as_str() == "core").map(|c| c.seats_used)
    };
    assert_eq!((core(&result.seats_before), core(&result.seats_after)), (Some(0), Some(1_001)));
    assert_eq!((result.succeeded, result.refused), (1_001, 0), "the tallies of every step");
    assert!(changes_per_user(&w).await.values().all(|n| *n == 1));
    assert!(claim(&w, "a").await.is_none(), "a finished job is not claimed again");
}

#[tokio::test]
async fn a_finished_job_tallies_its_refusals_once_even_when_a_step_failed_to_commit() {
    let (w, _, job) = queued(JOB_THRESHOLD + 1).await;
    w.set_seats("core", 1_000).await;
    let mut claimed = claim(&w, "a").await.expect("a queued job");
    w.services.work_job("a", &mut claimed, PACE).await.expect("step");
    w.store.fail_next_commit();
    w.services.work_job("a", &mut claimed, PACE).await.expect_err("the server fails mid-step");
    w.clock.advance(PACE.lease);
    let mut claimed = claim(&w, "b").await.expect("claimed again once the lease ended");
    while w.services.work_job("b", &mut claimed, PACE).await.expect("step") == StepResult::Continue {}
    let admin = w.admin_actor().await;
    let result = w.services.bulk_job_result(&admin, job.id).await.expect("reads").expect("done");
    assert_eq!((result.succeeded, result.refused), (1_000, 1), "the last user finds no seat left");
    let mut outcomes = w.services.job_outcomes(&admin, job.id, 0, 1_000).await.expect("outcomes");
    outcomes.extend(w.services.job_outcomes(&admin, job.id, 1_000, 1_000).await.expect("outcomes"));
    let refused: Vec<&str> = outcomes.iter().filter(|(_, o)| !o.is_ok()).map(|(_, o)| o.status.as_str()).collect();
    assert_eq!(refused, vec!["seat_limit_reached"], "the tallies agree with the outcomes");
}

#[tokio::test]
async fn a_step_that_fails_to_commit_keeps_nothing_and_the_job_resumes_where_it_was() {
    let (w, _, job) = queued(JOB_THRESHOLD + 1).await;
    let mut claimed = claim(&w, "a").await.expect("a queued job");
    w.services.work_job("a", &mut claimed, PACE).await.expect("step");
    w.store.fail_next_commit();
    w.services.work_job("a", &mut claimed, PACE).await.expect_err("the server fails mid-step");
    assert_eq!(w.seats_used("core").await, 400, "nothing of the failed step is kept");
    let admin = w.admin_actor().await;
    assert_eq!(w.services.job_outcomes(&admin, job.id, 0, 1_000).await.expect("outcomes").len(), 400);

    // The runner is gone; its lease holds the job until it ends.
    assert!(claim(&w, "b").await.is_none());
    w.clock.advance(PACE.lease);
    let mut claimed = claim(&w, "b").await.expect("claimed again once the lease ended");
    assert_eq!(claimed.job().done, 400, "resumed where the last committed step left it");
    while w.services.work_job("b", &mut claimed, PACE).await.expect("step") == StepResult::Continue {}
    assert_eq!(w.seats_used("core").await, 1_001);
    let changes = changes_per_user(&w).await;
    assert_eq!(changes.len(), 1_001);
    assert!(changes.values().all(|n| *n == 1), "no user's change applied twice");
}

#[tokio::test]
async fn a_runner_whose_job_was_taken_over_keeps_nothing_of_its_next_step() {
    let (w, _, _) = queued(JOB_THRESHOLD + 1).await;
    let mut slow = claim(&w, "slow").await.expect("a queued job");
    w.services.work_job("slow", &mut slow, PACE).await.expect("step");
    w.clock.advance(PACE.lease);
    let mut other = claim(&w, "other").await.expect("the lease ended");
    assert_eq!(w.services.work_job("slow", &mut slow, PACE).await.expect("step"), StepResult::Lost);
    assert_eq!(w.seats_used("core").await, 400);
    while w.services.work_job("other", &mut other, PACE).await.expect("step") == StepResult::Continue {}
    assert!(changes_per_user(&w).await.values().all(|n| *n == 1));
    assert_eq!(w.seats_used("core").await, 1_001);
}

#[tokio::test]
async fn a_job_stops_when_its_requester_loses_the_authority() {
    let w = World::new().await;
    w.set_seats("core", 5_000).await;
    let ids = members(&w, JOB_THRESHOLD + 1).await;
    let lee = w.member("lee", &["admin"], &[]).await;
    let submitted = w.services.submit_bulk(&w.actor(lee).await, assign_core(&ids)).await.expect("accepted");
    let BulkSubmission::Queued(_) = submitted else { panic!("a job") };
    w.services.deactivate_user(&w.admin_actor().await, lee, None).await.expect("deactivates");

    let mut claimed = claim(&w, "a").await.expect("a queued job");
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Finished);
    let JobState::Failed { code, .. } = &claimed.job().state else { panic!("failed: {:?}", claimed.job().state) };
    assert_eq!(code, "unauthenticated");
    assert_eq!(w.seats_used("core").await, 0, "nothing was done with authority the requester no longer has");
}

#[tokio::test]
async fn a_job_is_read_by_its_requester_or_by_whoever_manages_users_across_the_organization() {
    let (w, _, job) = queued(JOB_THRESHOLD + 1).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let refused = failure(w.services.job(&w.actor(ann).await, job.id).await);
    assert_eq!(refused.code(), ErrorCode::NotFound, "another member does not learn that it exists");
    w.services.job(&w.admin_actor().await, job.id).await.expect("the requester reads it");
    let other = w.other_org("other").await;
    let refused = failure(other.services.job(&other.admin_actor().await, job.id).await);
    assert_eq!(refused.code(), ErrorCode::NotFound, "never across organizations");
}

#[tokio::test]
async fn a_thousand_users_or_fewer_are_acted_on_within_the_request_and_a_large_filter_becomes_a_job() {
    let w = World::new().await;
    w.set_seats("core", 5_000).await;
    let ids = members(&w, JOB_THRESHOLD).await;
    let admin = w.admin_actor().await;
    let submitted = w.services.submit_bulk(&admin, assign_core(&ids)).await.expect("runs");
    let BulkSubmission::Done(result) = submitted else { panic!("within the request") };
    assert_eq!(result.outcomes.len(), JOB_THRESHOLD);

    w.member("one-more", &["standard"], &[]).await;
    let by_filter = BulkRequest {
        selection: BulkSelection::Filter(Box::new(UserQuery::new(w.org.id))),
        action: BulkAction::UnassignLicenses(keys(&["core"])),
        atomic: true,
        dry_run: true,
    };
    let BulkSubmission::Queued(job) = w.services.submit_bulk(&admin, by_filter).await.expect("accepted") else {
        panic!("the filter matches more than {JOB_THRESHOLD} users")
    };
    assert_eq!(job.total, JOB_THRESHOLD as u64 + 2, "everyone the filter matched, the admin included");
    let mut claimed = claim(&w, "a").await.expect("a queued job");
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Finished);
    assert_eq!(claimed.job().done, job.total, "a dry run is one step over everyone");
    let result = w.services.bulk_job_result(&admin, job.id).await.expect("reads").expect("done");
    assert!(!result.applied, "a dry run changes nothing");
    assert_eq!(w.seats_used("core").await, JOB_THRESHOLD as u32);
}
