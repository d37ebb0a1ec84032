//! Jobs (§10): a bulk action over more than [`JOB_THRESHOLD`] users, or an import of more rows,
//! answers at once with a queued job, and the runners of `roster serve` work it through in steps
//! (`crate::jobs` has the model: input fixed at creation, one transaction per step, leases).

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::Duration;

use crate::actor::{Actor, Principal};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::ids::{ApiKeyId, JobId, UserId};
use crate::jobs::{JOB_THRESHOLD, Job, JobKind, JobOutcome, JobRequester, JobState};
use crate::ports::{StoreError, Tx};
use crate::roles::Permission;
use crate::seats::SeatCount;

use super::Services;
use super::bulk::{BulkAction, BulkOutcome, BulkRequest, BulkResult, BulkSelection};
use super::user_import::{ImportInput, ImportJobResult, ImportRowOutcome, require_import_rights};
use crate::user_csv::{RowVerdict, judge_rows};

/// The most outcomes one read of a job's outcomes answers.
pub const JOB_OUTCOMES_PAGE: u32 = 1_000;

/// What `POST /users/bulk` answers: the result, or a job when the selection is large.
#[derive(Debug, Clone)]
pub enum BulkSubmission {
    /// The selection was small enough to act on within the request.
    Done(BulkResult),
    /// More than [`JOB_THRESHOLD`] users: the work is queued.
    Queued(Job),
}

/// What a finished bulk job produced: the figures of [`BulkResult`] without the outcomes (they
/// are read page by page, [`Services::job_outcomes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkJobResult {
    /// Whether the changes were written (false for a dry run or a refused atomic job).
    pub applied: bool,
    /// The users whose step succeeded (or would, in a dry run).
    #[serde(default)]
    pub succeeded: u64,
    /// The users whose step was refused.
    #[serde(default)]
    pub refused: u64,
    /// Every seat pool before the first step.
    pub seats_before: Vec<SeatCount>,
    /// Every seat pool after the last step (as it would have been, when not applied).
    pub seats_after: Vec<SeatCount>,
}

/// A bulk job's input: the selection resolved to ids when the job was created.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BulkInput {
    user_ids: Vec<UserId>,
    action: BulkAction,
    atomic: bool,
    dry_run: bool,
}

/// A job's input as its runner holds it.
#[derive(Debug, Clone)]
enum JobInput {
    Bulk(BulkInput),
    /// An import's rows with their verdicts, judged once when the job is claimed (a row's
    /// verdict depends on the rows before it).
    Import {
        input: Box<ImportInput>,
        verdicts: Vec<RowVerdict>,
    },
}

impl JobInput {
    /// Reads the stored input of a job of `kind`.
    fn read(kind: JobKind, text: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            JobKind::Bulk => Self::Bulk(serde_json::from_str(text)?),
            JobKind::Import => {
                let input: ImportInput = serde_json::from_str(text)?;
                let verdicts = judge_rows(&input.rows);
                Self::Import { input: Box::new(input), verdicts }
            }
        })
    }
}

/// A job a runner holds, with its input read once.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    job: Job,
    input: JobInput,
}

/// A page of a job's outcomes, each with its position (from 1), as the job's kind words them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcomes {
    /// A bulk action's: one per user.
    Bulk(Vec<(u64, BulkOutcome)>),
    /// An import's: one per row.
    Import(Vec<(u64, ImportRowOutcome)>),
}

/// What a finished job produced, by its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// A bulk action's seat figures.
    Bulk(BulkJobResult),
    /// An import's seat figures and the columns it did not read.
    Import(ImportJobResult),
}

impl ClaimedJob {
    /// The job as last written by its runner.
    pub fn job(&self) -> &Job {
        &self.job
    }
}

/// How a runner works: how long its hold on a job lasts and how many users a step covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPace {
    /// The lease taken and renewed with each step; a step must end well within it.
    pub lease: Duration,
    /// Users per step (one transaction each) for jobs that are neither atomic nor dry runs.
    pub step: usize,
}

impl Default for JobPace {
    fn default() -> Self {
        Self { lease: Duration::minutes(2), step: 250 }
    }
}

/// Where a job stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// More users remain.
    Continue,
    /// The job ended (done or failed).
    Finished,
    /// Another runner took the job over (this one's lease ran out); nothing of the step was kept.
    Lost,
}

impl JobRequester {
    /// Who an actor's request runs as.
    pub(crate) fn of(actor: &Actor) -> Self {
        match actor.principal() {
            Principal::User(user_id) => Self::Member { user_id: *user_id, impersonator_id: actor.impersonator_id() },
            Principal::ApiKey { id, created_by, .. } => Self::ApiKey { key_id: *id, created_by: *created_by },
            Principal::System => Self::System,
        }
    }
}

/// The member behind an actor or a requester, for reading one's own jobs.
fn member_of(principal: &Principal) -> Option<UserId> {
    match principal {
        Principal::User(id) | Principal::ApiKey { created_by: id, .. } => Some(*id),
        Principal::System => None,
    }
}

impl Services {
    /// A bulk action (`POST /users/bulk`): within the request for up to [`JOB_THRESHOLD`] users,
    /// as a queued job above (the selection of a filter is resolved now, so the job acts on the
    /// users the filter matched when it was asked).
    ///
    /// # Errors
    /// As [`Services::bulk_update`] for the request as a whole.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn submit_bulk(&self, actor: &Actor, request: BulkRequest) -> ServiceResult<BulkSubmission> {
        for permission in request.action.permissions() {
            actor.require(*permission)?;
        }
        request.action.check().map_err(|e| ServiceError::Validation(vec![e]))?;
        let ids = match &request.selection {
            BulkSelection::Ids(ids) if ids.len() <= JOB_THRESHOLD => None,
            selection => {
                let mut tx = self.begin_read().await?;
                Some(self.select(&mut *tx, actor, selection).await?)
            }
        };
        let Some(ids) = ids.filter(|ids| ids.len() > JOB_THRESHOLD) else {
            return self.bulk_update(actor, request).await.map(BulkSubmission::Done);
        };
        if matches!(request.action, BulkAction::CheckConnectionStatus) {
            self.require_crm_for_status()?;
        }
        let job = Job::queued(
            self.new_id(),
            actor.org_id(),
            JobKind::Bulk,
            JobRequester::of(actor),
            actor.source(),
            ids.len() as u64,
            self.now(),
        );
        let input =
            BulkInput { user_ids: ids, action: request.action, atomic: request.atomic, dry_run: request.dry_run };
        let input = serde_json::to_string(&input).map_err(unreadable)?;
        let mut tx = self.begin().await?;
        tx.insert_job(&job, &input).await?;
        tx.commit().await?;
        Ok(BulkSubmission::Queued(job))
    }

    /// A job, for its requester or a member managing users across the organization.
    ///
    /// # Errors
    /// `not_found` for an unknown job or one the actor may not read.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn job(&self, actor: &Actor, id: JobId) -> ServiceResult<Job> {
        let mut tx = self.store.single_read().await?;
        let job = tx.job(actor.org_id(), id).await?.ok_or(ServiceError::not_found("job"))?;
        let own = member_of(actor.principal()).is_some_and(|m| Some(m) == job.requester.member());
        if own || actor.require_org_wide(Permission::ManageUsers).is_ok() {
            Ok(job)
        } else {
            Err(ServiceError::not_found("job"))
        }
    }

    /// A job's outcomes after position `after` (0 for the first), in order, at most `limit`
    /// (capped at [`JOB_OUTCOMES_PAGE`]), each with its position (from 1).
    ///
    /// # Errors
    /// As [`Services::job`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn job_outcomes(
        &self,
        actor: &Actor,
        id: JobId,
        after: u64,
        limit: u32,
    ) -> ServiceResult<Vec<(u64, BulkOutcome)>> {
        let job = self.job(actor, id).await?;
        let mut tx = self.store.single_read().await?;
        let rows = tx.job_outcomes(job.org_id, job.id, after, limit.clamp(1, JOB_OUTCOMES_PAGE)).await?;
        rows.into_iter().map(|o| serde_json::from_value(o.body).map(|body| (o.seq, body)).map_err(unreadable)).collect()
    }

    /// What a finished bulk job produced; `None` while it runs or when it failed.
    ///
    /// # Errors
    /// As [`Services::job`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn bulk_job_result(&self, actor: &Actor, id: JobId) -> ServiceResult<Option<BulkJobResult>> {
        let job = self.job(actor, id).await?;
        match (&job.state, job.result) {
            (JobState::Done, Some(result)) => serde_json::from_value(result).map(Some).map_err(unreadable),
            _ => Ok(None),
        }
    }

    /// A page of a job's outcomes after position `after` (0 for the first), in order, at most
    /// `limit` (capped at [`JOB_OUTCOMES_PAGE`]), in the words of the job's kind.
    ///
    /// # Errors
    /// As [`Services::job`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn job_outcome_page(
        &self,
        actor: &Actor,
        id: JobId,
        after: u64,
        limit: u32,
    ) -> ServiceResult<JobOutcomes> {
        let job = self.job(actor, id).await?;
        let mut tx = self.store.single_read().await?;
        let rows = tx.job_outcomes(job.org_id, job.id, after, limit.clamp(1, JOB_OUTCOMES_PAGE)).await?;
        fn read<T: serde::de::DeserializeOwned>(rows: Vec<JobOutcome>) -> ServiceResult<Vec<(u64, T)>> {
            rows.into_iter()
                .map(|o| serde_json::from_value(o.body).map(|body| (o.seq, body)).map_err(unreadable))
                .collect()
        }
        Ok(match job.kind {
            JobKind::Bulk => JobOutcomes::Bulk(read(rows)?),
            JobKind::Import => JobOutcomes::Import(read(rows)?),
        })
    }

    /// What a finished job produced, in the words of its kind; `None` while it runs or when it
    /// failed.
    ///
    /// # Errors
    /// As [`Services::job`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn job_result(&self, actor: &Actor, id: JobId) -> ServiceResult<Option<JobResult>> {
        let job = self.job(actor, id).await?;
        let (JobState::Done, Some(result)) = (&job.state, job.result) else { return Ok(None) };
        Ok(Some(match job.kind {
            JobKind::Bulk => JobResult::Bulk(serde_json::from_value(result).map_err(unreadable)?),
            JobKind::Import => JobResult::Import(serde_json::from_value(result).map_err(unreadable)?),
        }))
    }

    /// Claims the oldest job no runner holds (queued, or its lease ended) for `runner`.
    ///
    /// # Errors
    /// Storage failures.
    #[tracing::instrument(skip_all)]
    pub async fn claim_job(&self, runner: &str, pace: JobPace) -> ServiceResult<Option<ClaimedJob>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        for mut job in tx.claimable_jobs(now, 8).await? {
            job.hold(runner, now, pace.lease);
            job.next_version();
            match tx.update_job(&job).await {
                Ok(()) => {}
                Err(StoreError::StaleVersion { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            let input = tx.job_input(job.org_id, job.id).await?.unwrap_or_default();
            match JobInput::read(job.kind, &input) {
                Ok(input) => {
                    tx.commit().await?;
                    return Ok(Some(ClaimedJob { job, input }));
                }
                Err(e) => {
                    // Unreadable input is a bug or a damaged row: the job ends rather than being
                    // claimed again and again.
                    tracing::error!(job = %job.id, error = %e, "a job's input cannot be read");
                    job.finish(now, Some(("internal".into(), "the job's input cannot be read".into())));
                    job.next_version();
                    tx.update_job(&job).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(None)
    }

    /// Works the next step of a claimed job: the next users (all of them for an atomic job or a
    /// dry run), their outcomes and the job's progress in one transaction.
    ///
    /// # Errors
    /// Storage and CRM failures; the step is then not kept and the job is taken up again when
    /// its lease ends.
    #[tracing::instrument(skip_all, fields(job = %claimed.job.id))]
    pub async fn work_job(&self, runner: &str, claimed: &mut ClaimedJob, pace: JobPace) -> ServiceResult<StepResult> {
        let actor = match self.job_actor(&claimed.job).await {
            Ok(actor) => actor,
            Err(e) if e.code() == ErrorCode::Internal => return Err(e),
            Err(e) => return self.fail_job(runner, claimed, pace, &e).await,
        };
        let input = match &claimed.input {
            JobInput::Bulk(input) => input.clone(),
            JobInput::Import { input, verdicts } => {
                let (input, verdicts) = (input.clone(), verdicts.clone());
                return self.work_import_step(runner, claimed, pace, &actor, &input, &verdicts).await;
            }
        };
        let input = &input;
        if let Some(refusal) = input.action.permissions().iter().find_map(|p| actor.require(*p).err()) {
            return self.fail_job(runner, claimed, pace, &refusal).await;
        }
        let whole = input.atomic || input.dry_run;
        let from = usize::try_from(claimed.job.done).unwrap_or(usize::MAX).min(input.user_ids.len());
        let to = if whole { input.user_ids.len() } else { (from + pace.step.max(1)).min(input.user_ids.len()) };
        let ids = &input.user_ids[from..to];
        let crm_states = match input.action {
            BulkAction::CheckConnectionStatus => {
                Some(self.crm_states(&actor, &BulkSelection::Ids(ids.to_vec())).await?)
            }
            _ => None,
        };
        let org = claimed.job.org_id;
        let mut job = claimed.job.clone();
        let mut tx = self.begin().await?;
        if !hold(&mut *tx, &mut job, runner, self.now(), pace.lease).await? {
            return Ok(StepResult::Lost);
        }
        let seats_before = match &job.result {
            Some(result) if from > 0 => result["seats_before"].clone(),
            _ => seats(&mut *tx, org).await?,
        };
        let outcomes = self.bulk_steps(&mut *tx, &actor, ids, &input.action, crm_states.as_deref()).await?;
        let seats_after = seats(&mut *tx, org).await?;
        let applied = !(input.dry_run || (input.atomic && outcomes.iter().any(|o| !o.is_ok())));
        let step = StepDone { from, outcomes: &outcomes, applied, seats_before, seats_after, extra: None };
        self.record_step(runner, claimed, pace, tx, job, step).await
    }

    /// One step of an import job: the next rows (all of them for a dry run) created through the
    /// same chunks as an import within the request, their outcomes and the job's progress in one
    /// transaction. The roles and products are planned again with the requester's authority of
    /// the moment: a requester who may no longer import, or hand out a role, stops the job.
    async fn work_import_step(
        &self,
        runner: &str,
        claimed: &mut ClaimedJob,
        pace: JobPace,
        actor: &Actor,
        input: &ImportInput,
        verdicts: &[RowVerdict],
    ) -> ServiceResult<StepResult> {
        if let Err(refusal) = require_import_rights(actor, &input.products) {
            return self.fail_job(runner, claimed, pace, &refusal).await;
        }
        let total = input.rows.len();
        let from = usize::try_from(claimed.job.done).unwrap_or(usize::MAX).min(total);
        let to = if input.dry_run { total } else { (from + pace.step.max(1)).min(total) };
        let org = claimed.job.org_id;
        let mut job = claimed.job.clone();
        let mut tx = self.begin().await?;
        if !hold(&mut *tx, &mut job, runner, self.now(), pace.lease).await? {
            return Ok(StepResult::Lost);
        }
        let plan =
            match self.plan_import(&mut *tx, actor, &input.products, &input.roles, input.send_welcome_email).await {
                Ok(plan) => plan,
                Err(e) if e.code() == ErrorCode::Internal => return Err(e),
                Err(e) => {
                    drop(tx);
                    return self.fail_job(runner, claimed, pace, &e).await;
                }
            };
        let seats_before = match &job.result {
            Some(result) if from > 0 => result["seats_before"].clone(),
            _ => seats(&mut *tx, org).await?,
        };
        let outcomes = self.import_rows(&mut *tx, &plan, &input.rows[from..to], &verdicts[from..to]).await?;
        let seats_after = seats(&mut *tx, org).await?;
        let extra = Some(("ignored_columns", json!(input.ignored_columns)));
        let step = StepDone { from, outcomes: &outcomes, applied: !input.dry_run, seats_before, seats_after, extra };
        self.record_step(runner, claimed, pace, tx, job, step).await
    }

    /// The end of every step: the outcomes of `step`, the job's progress and, once it is
    /// finished, its result, written in `tx` with the changes — or, when the changes are not
    /// kept (a dry run, a refused atomic bulk), `tx` is dropped and they are written in a
    /// transaction of their own that holds the lease again.
    async fn record_step<T: serde::Serialize + Settled>(
        &self,
        runner: &str,
        claimed: &mut ClaimedJob,
        pace: JobPace,
        mut tx: Box<dyn Tx>,
        mut job: Job,
        step: StepDone<'_, T>,
    ) -> ServiceResult<StepResult> {
        if !step.applied {
            drop(tx);
            job = claimed.job.clone();
            tx = self.begin().await?;
            if !hold(&mut *tx, &mut job, runner, self.now(), pace.lease).await? {
                return Ok(StepResult::Lost);
            }
        }
        let rows: Vec<JobOutcome> = (step.from as u64 + 1..)
            .zip(step.outcomes)
            .map(|(seq, o)| serde_json::to_value(o).map(|body| JobOutcome { seq, body }))
            .collect::<Result<_, _>>()
            .map_err(unreadable)?;
        tx.insert_job_outcomes(job.org_id, job.id, &rows).await?;
        job.advance(rows.len() as u64);
        let finished = job.done >= job.total;
        // The tallies so far, kept in the job's result with its outcomes, so that a finished
        // job says how many succeeded without reading them all again.
        let so_far = |key: &str| job.result.as_ref().and_then(|r| r[key].as_u64()).unwrap_or(0);
        let ok = step.outcomes.iter().filter(|o| o.succeeded()).count() as u64;
        let (succeeded, refused) = (so_far("succeeded") + ok, so_far("refused") + (rows.len() as u64 - ok));
        job.result = Some(if finished {
            let mut result = json!({"applied": step.applied, "seats_before": step.seats_before,
                "seats_after": step.seats_after, "succeeded": succeeded, "refused": refused});
            if let Some((key, value)) = step.extra {
                result[key] = value;
            }
            result
        } else {
            json!({"seats_before": step.seats_before, "succeeded": succeeded, "refused": refused})
        });
        if finished {
            job.finish(self.now(), None);
        }
        write(&mut *tx, &mut job).await?;
        tx.commit().await?;
        claimed.job = job;
        Ok(if finished { StepResult::Finished } else { StepResult::Continue })
    }

    /// Gives a claimed job back to the queue (a runner stopping), so that another runner takes it
    /// up at once rather than when the lease ends.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn release_job(&self, claimed: ClaimedJob) -> ServiceResult<()> {
        let mut job = claimed.job;
        job.release();
        job.next_version();
        let mut tx = self.begin().await?;
        match tx.update_job(&job).await {
            Ok(()) | Err(StoreError::StaleVersion { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends a job that cannot go on (its requester lost the authority), keeping its outcomes.
    async fn fail_job(
        &self,
        runner: &str,
        claimed: &mut ClaimedJob,
        pace: JobPace,
        why: &ServiceError,
    ) -> ServiceResult<StepResult> {
        let mut job = claimed.job.clone();
        let mut tx = self.begin().await?;
        if !hold(&mut *tx, &mut job, runner, self.now(), pace.lease).await? {
            return Ok(StepResult::Lost);
        }
        tracing::info!(job = %job.id, code = why.code().as_str(), "a job stops: {why}");
        job.finish(self.now(), Some((why.code().as_str().to_owned(), why.to_string())));
        write(&mut *tx, &mut job).await?;
        tx.commit().await?;
        claimed.job = job;
        Ok(StepResult::Finished)
    }

    /// The authority a job acts with now: its requester's, resolved as for a request.
    async fn job_actor(&self, job: &Job) -> ServiceResult<Actor> {
        match job.requester {
            JobRequester::Member { user_id, impersonator_id } => {
                self.resolve_actor(job.org_id, user_id, job.source, impersonator_id).await
            }
            JobRequester::ApiKey { key_id, .. } => {
                let key = self.api_key_for_job(job, key_id).await?;
                self.key_actor(&key).await
            }
            JobRequester::System => Ok(Actor::system(job.org_id, job.source)),
        }
    }

    async fn api_key_for_job(&self, job: &Job, key_id: ApiKeyId) -> ServiceResult<crate::connections::ApiKey> {
        let mut tx = self.store.single_read().await?;
        tx.api_key(job.org_id, key_id).await?.filter(|k| k.is_active()).ok_or(ServiceError::Unauthenticated)
    }
}

/// An item's outcome in a job, as its tallies count it.
pub(crate) trait Settled {
    /// Whether the item's step succeeded (or would, in a dry run).
    fn succeeded(&self) -> bool;
}

impl Settled for BulkOutcome {
    fn succeeded(&self) -> bool {
        self.is_ok()
    }
}

impl Settled for ImportRowOutcome {
    fn succeeded(&self) -> bool {
        self.status == super::user_import::ImportRowStatus::Created
    }
}

/// What one step of a job did, for [`Services::record_step`].
struct StepDone<'a, T> {
    /// The position of the step's first item in the job's input, from 0.
    from: usize,
    outcomes: &'a [T],
    /// Whether the step's changes are kept.
    applied: bool,
    seats_before: serde_json::Value,
    seats_after: serde_json::Value,
    /// A field of the kind's own in the finished job's result.
    extra: Option<(&'static str, serde_json::Value)>,
}

/// Renews `runner`'s lease in `tx` (locking the job row): `false` when another runner wrote the
/// job since it was read.
async fn hold(
    tx: &mut dyn Tx,
    job: &mut Job,
    runner: &str,
    now: time::OffsetDateTime,
    lease: Duration,
) -> ServiceResult<bool> {
    job.hold(runner, now, lease);
    job.next_version();
    match tx.update_job(job).await {
        Ok(()) => Ok(true),
        Err(StoreError::StaleVersion { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Writes the job with the next version (the lease is held in the same transaction, so no
/// other runner wrote it since).
async fn write(tx: &mut dyn Tx, job: &mut Job) -> ServiceResult<()> {
    job.next_version();
    Ok(tx.update_job(job).await?)
}

/// Every seat pool of the organization, as JSON.
async fn seats(tx: &mut dyn Tx, org: crate::ids::OrgId) -> ServiceResult<serde_json::Value> {
    let pools: Vec<SeatCount> = tx.seat_pools(org).await?.iter().map(SeatCount::from).collect();
    serde_json::to_value(pools).map_err(unreadable)
}

/// A job's JSON could not be written or read: a bug or a damaged row, an internal failure.
fn unreadable(e: serde_json::Error) -> ServiceError {
    ServiceError::Store(StoreError::unavailable(e))
}
