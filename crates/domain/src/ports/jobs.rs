//! Jobs and their outcomes (§10), as part of the unit of work: a step of a job commits its
//! users' changes, their outcomes and the job's progress together (`crate::jobs`).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::ids::{JobId, OrgId};
use crate::jobs::{Job, JobOutcome};

use super::StoreError;

type R<T> = Result<T, StoreError>;

/// Jobs, their input and their outcomes.
///
/// # What adapters MUST guarantee
/// - `update_job` is optimistic: the stored `version` must be `job.version - 1`, else
///   [`StoreError::StaleVersion`] with kind `"job"` (`UPDATE … WHERE id = ? AND version = ?`;
///   zero rows updated). Runners claim and renew jobs with it, so of two runners writing the same
///   version one fails; on PostgreSQL the second waits for the first's transaction to end and
///   then finds the version moved. It writes every field but the input, which never changes.
/// - `claimable_jobs` spans every organization (it feeds the runners): queued jobs, and running
///   ones whose lease ended at or before `now`, oldest first (by `created_at`, then id). Adapters
///   running several runners lock the rows they return (`FOR UPDATE SKIP LOCKED`) so that two
///   runners rarely pick the same job — the optimistic write makes it harmless when they do.
/// - Outcomes are keyed by `(job, seq)`: inserting a `seq` twice fails (`Unavailable`, a bug of
///   the caller), and `insert_job_outcomes` is all or nothing.
/// - A job of another organization is treated as absent.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobRepository: Send {
    /// Stores a new job with its input (JSON text, kept as given).
    async fn insert_job(&mut self, job: &Job, input: &str) -> R<()>;
    /// A job by id; `None` for an unknown one or another organization's.
    async fn job(&mut self, org: OrgId, id: JobId) -> R<Option<Job>>;
    /// The job's input as stored by [`JobRepository::insert_job`].
    async fn job_input(&mut self, org: OrgId, id: JobId) -> R<Option<String>>;
    /// Optimistic: the stored version must be `job.version - 1`.
    async fn update_job(&mut self, job: &Job) -> R<()>;
    /// Jobs a runner may claim at `now`, at most `limit` (see the trait's guarantees).
    async fn claimable_jobs(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<Job>>;
    /// Appends outcomes to a job, all or nothing; `Missing { kind: "job" }` for an unknown job.
    async fn insert_job_outcomes(&mut self, org: OrgId, job: JobId, outcomes: &[JobOutcome]) -> R<()>;
    /// The job's outcomes with `seq > after`, in `seq` order, at most `limit`.
    async fn job_outcomes(&mut self, org: OrgId, job: JobId, after: u64, limit: u32) -> R<Vec<JobOutcome>>;
    /// Removes the jobs of every organization that finished (done or failed) before
    /// `finished_before`, with their input and outcomes; answers how many jobs. Unfinished jobs
    /// stay whatever their age.
    async fn purge_jobs(&mut self, finished_before: OffsetDateTime) -> R<u64>;
}
