//! [`JobRepository`]: jobs, their input and their outcomes.
//!
//! The state is `state` plus `failure_code`/`failure` (only when failed); the lease is
//! `lease_owner` plus `lease_until` (both or neither), as the schema's `CHECK`s pair them. Writes
//! of a job are optimistic on `version`.

use async_trait::async_trait;
use roster_domain::ids::{JobId, OrgId};
use roster_domain::jobs::{Job, JobKind, JobOutcome, JobState, Lease};
use roster_domain::ports::{JobRepository, StoreError};
use sea_orm::{QueryResult, Value};
use time::OffsetDateTime;

use super::SeaOrmTx;
use super::audit::{enum_name, get_enum};
use super::batch::Batch;
use super::convert::{
    corrupt, count, get, get_id, get_json, get_opt_time, get_time, get_unsigned, id, json, opt_time, time,
};
use super::errors;
use crate::Engine;

type R<T> = Result<T, StoreError>;

const JOB_COLUMNS: &str = "org_id, id, kind, requester, source, state, failure_code, failure, total, done, \
                           lease_owner, lease_until, result, created_at, finished_at, version";

/// `FOR UPDATE SKIP LOCKED` where several runners share the rows (PostgreSQL).
fn skip_locked(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    }
}

impl SeaOrmTx {
    fn job_from_row(&self, row: &QueryResult) -> R<Job> {
        let state = match (get::<String>(row, "state")?.as_str(), get::<Option<String>>(row, "failure_code")?) {
            ("queued", None) => JobState::Queued,
            ("running", None) => JobState::Running,
            ("done", None) => JobState::Done,
            ("failed", Some(code)) => {
                JobState::Failed { code, message: get::<Option<String>>(row, "failure")?.unwrap_or_default() }
            }
            (other, code) => {
                return Err(corrupt("state", format!("state `{other}` with failure code {code:?}")));
            }
        };
        let lease = match (get::<Option<String>>(row, "lease_owner")?, get_opt_time(self.engine, row, "lease_until")?) {
            (Some(owner), Some(until)) => Some(Lease { owner, until }),
            (None, None) => None,
            _ => return Err(corrupt("lease_owner", "a lease without its owner or end")),
        };
        let kind = get::<String>(row, "kind")?;
        Ok(Job {
            id: get_id(row, "id", JobId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            kind: JobKind::parse(&kind).ok_or_else(|| corrupt("kind", format!("unknown kind `{kind}`")))?,
            requester: get_json(self.engine, row, "requester")?,
            source: get_enum(row, "source")?,
            state,
            total: get_unsigned(row, "total")?,
            done: get_unsigned(row, "done")?,
            lease,
            result: self.get_opt_json(row, "result")?,
            created_at: get_time(self.engine, row, "created_at")?,
            finished_at: get_opt_time(self.engine, row, "finished_at")?,
            version: get_unsigned(row, "version")?,
        })
    }

    /// A nullable JSON column.
    fn get_opt_json(&self, row: &QueryResult, column: &str) -> R<Option<serde_json::Value>> {
        match self.engine {
            Engine::Postgres => get::<Option<serde_json::Value>>(row, column),
            Engine::Sqlite => get::<Option<String>>(row, column)?
                .map(|text| serde_json::from_str(&text).map_err(|e| corrupt(column, e)))
                .transpose(),
        }
    }

    async fn select_jobs(&self, filter: &str, values: Vec<Value>) -> R<Vec<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs {filter}");
        self.query_all(&sql, values).await?.iter().map(|row| self.job_from_row(row)).collect()
    }

    /// The columns every write of a job sets, in [`JOB_COLUMNS`] order after `org_id, id`.
    fn job_values(&self, job: &Job) -> R<Vec<Value>> {
        let (code, message) = match &job.state {
            JobState::Failed { code, message } => (Some(code.clone()), Some(message.clone())),
            _ => (None, None),
        };
        Ok(vec![
            job.kind.as_str().into(),
            json(self.engine, &job.requester)?,
            enum_name(&job.source)?.into(),
            job.state.name().into(),
            code.into(),
            message.into(),
            count(job.total)?,
            count(job.done)?,
            job.lease.as_ref().map(|l| l.owner.clone()).into(),
            opt_time(self.engine, job.lease.as_ref().map(|l| l.until))?,
            match &job.result {
                Some(result) => json(self.engine, result)?,
                None => match self.engine {
                    Engine::Postgres => Value::Json(None),
                    Engine::Sqlite => Value::String(None),
                },
            },
            time(self.engine, job.created_at)?,
            opt_time(self.engine, job.finished_at)?,
            count(job.version)?,
        ])
    }
}

#[async_trait]
impl JobRepository for SeaOrmTx {
    async fn insert_job(&mut self, job: &Job, input: &str) -> R<()> {
        let mut values = vec![id(job.org_id.as_uuid()), id(job.id.as_uuid())];
        values.extend(self.job_values(job)?);
        values.push(input.to_owned().into());
        let sql = format!(
            "INSERT INTO jobs ({JOB_COLUMNS}, input) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "job"))?;
        Ok(())
    }

    async fn job(&mut self, org: OrgId, job: JobId) -> R<Option<Job>> {
        Ok(self.select_jobs("WHERE org_id = ? AND id = ?", vec![id(org.as_uuid()), id(job.as_uuid())]).await?.pop())
    }

    async fn job_input(&mut self, org: OrgId, job: JobId) -> R<Option<String>> {
        let row = self
            .query_one("SELECT input FROM jobs WHERE org_id = ? AND id = ?", vec![id(org.as_uuid()), id(job.as_uuid())])
            .await?;
        row.map(|row| get::<String>(&row, "input")).transpose()
    }

    async fn update_job(&mut self, job: &Job) -> R<()> {
        let updated = match job.version.checked_sub(1) {
            None => false,
            Some(stored) => {
                let mut values = self.job_values(job)?;
                values.extend([id(job.org_id.as_uuid()), id(job.id.as_uuid()), count(stored)?]);
                let sql = "UPDATE jobs SET kind = ?, requester = ?, source = ?, state = ?, failure_code = ?, \
                           failure = ?, total = ?, done = ?, lease_owner = ?, lease_until = ?, result = ?, \
                           created_at = ?, finished_at = ?, version = ? WHERE org_id = ? AND id = ? AND version = ?";
                self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "job"))?.rows_affected() > 0
            }
        };
        if updated {
            return Ok(());
        }
        let exists = self
            .query_one(
                "SELECT 1 AS found FROM jobs WHERE org_id = ? AND id = ?",
                vec![id(job.org_id.as_uuid()), id(job.id.as_uuid())],
            )
            .await?
            .is_some();
        Err(if exists { StoreError::StaleVersion { kind: "job" } } else { StoreError::Missing { kind: "job" } })
    }

    async fn claimable_jobs(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<Job>> {
        // Every organization: the `jobs_claimable` index, in its order.
        let filter = format!(
            "WHERE (state = 'queued' OR (state = 'running' AND lease_until <= ?)) \
             ORDER BY created_at, id LIMIT ?{}",
            skip_locked(self.engine)
        );
        self.select_jobs(&filter, vec![time(self.engine, now)?, count(limit)?]).await
    }

    async fn insert_job_outcomes(&mut self, org: OrgId, job: JobId, outcomes: &[JobOutcome]) -> R<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut values = Vec::with_capacity(outcomes.len() * 4);
        for outcome in outcomes {
            values.extend([
                id(org.as_uuid()),
                id(job.as_uuid()),
                count(outcome.seq)?,
                json(self.engine, &outcome.body)?,
            ]);
        }
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "job_outcomes", "org_id, job_id, seq, body", "(?, ?, ?, ?)", values);
        self.run_batch(batch).await.map_err(|e| errors::write_error(e, "job"))
    }

    async fn job_outcomes(&mut self, org: OrgId, job: JobId, after: u64, limit: u32) -> R<Vec<JobOutcome>> {
        let rows = self
            .query_all(
                "SELECT seq, body FROM job_outcomes WHERE org_id = ? AND job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                vec![id(org.as_uuid()), id(job.as_uuid()), count(after)?, count(limit)?],
            )
            .await?;
        rows.iter()
            .map(|row| Ok(JobOutcome { seq: get_unsigned(row, "seq")?, body: get_json(self.engine, row, "body")? }))
            .collect()
    }

    async fn purge_jobs(&mut self, finished_before: OffsetDateTime) -> R<u64> {
        // The outcomes go with their job (`ON DELETE CASCADE`).
        let done = self
            .exec(
                "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?",
                vec![time(self.engine, finished_before)?],
            )
            .await?;
        Ok(done.rows_affected())
    }
}
