//! Jobs (SPEC §10): long work kept as rows so that it survives a restart and runs once across
//! servers (`roster_domain::jobs`). A job row carries its state, progress, lease and version
//! (optimistic writes); its input is written once; its outcomes are rows of their own, written
//! with the step that produced them.

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["jobs", "job_outcomes"];

const UP: &[&str] = &[
    // `requester` is the domain's JSON (member, API key or system); `input` the job's input as
    // written, read once by the runner that claims the job; `result` what the finished job
    // produced. The lease is `lease_owner` + `lease_until`, both set while running.
    r#"CREATE TABLE jobs (
        org_id        {uuid} NOT NULL,
        id            {uuid} NOT NULL,
        kind          text NOT NULL,
        requester     {json} NOT NULL,
        source        text NOT NULL,
        state         text NOT NULL,
        failure_code  text,
        failure       text,
        total         bigint NOT NULL,
        done          bigint NOT NULL DEFAULT 0,
        lease_owner   text,
        lease_until   {time},
        result        {json},
        created_at    {time} NOT NULL,
        finished_at   {time},
        version       bigint NOT NULL DEFAULT 1,
        input         text NOT NULL,
        PRIMARY KEY (org_id, id),
        CONSTRAINT jobs_state_known CHECK (state IN ('queued', 'running', 'done', 'failed')),
        CONSTRAINT jobs_failure_when_failed CHECK ((state = 'failed') = (failure_code IS NOT NULL)),
        CONSTRAINT jobs_done_within_total CHECK (done >= 0 AND done <= total),
        CONSTRAINT jobs_lease_whole CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
        CONSTRAINT jobs_version_positive CHECK (version >= 1)
    )"#,
    // The runners' claim: unsettled jobs, oldest first.
    "CREATE INDEX jobs_claimable ON jobs (created_at, id) WHERE state IN ('queued', 'running')",
    r#"CREATE TABLE job_outcomes (
        org_id  {uuid} NOT NULL,
        job_id  {uuid} NOT NULL,
        seq     bigint NOT NULL,
        body    {json} NOT NULL,
        PRIMARY KEY (org_id, job_id, seq),
        CONSTRAINT job_outcomes_job_fk FOREIGN KEY (org_id, job_id) REFERENCES jobs (org_id, id) ON DELETE CASCADE
    )"#,
];

ddl::migration!(UP, TABLES);
