//! Jobs (§10): long work — a bulk action or an import over more than [`JOB_THRESHOLD`] users —
//! kept as rows in the database and worked through by whichever server claims them.
//!
//! A job's input is fixed when it is created (the selection of a filter is resolved to user
//! ids then), so a job does the same thing whoever runs it and whenever. It is worked in
//! **steps**: each step is one transaction that applies the next users' changes, records their
//! outcomes and advances [`Job::done`], all or nothing. A server killed mid-step leaves nothing
//! of that step, and the next owner starts at `done`, so no user's change is applied twice.
//!
//! Ownership is a **lease** ([`Job::lease`]): a runner claims a queued job, or one whose lease
//! ran out, with an optimistic write of the job row ([`Job::version`]), and renews it in every
//! step's transaction with the same write. A runner whose lease was taken over meets a stale
//! version in its next step and rolls that step back, so two runners never both commit a step.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::actor::Source;
use crate::ids::{ApiKeyId, JobId, OrgId, UserId};

/// Above this many users (or rows) a bulk action or an import runs as a job (§10); at or below
/// it, within the request.
pub const JOB_THRESHOLD: usize = 1_000;

/// How long a finished job (done or failed), with its input and outcomes, is kept after it ends
/// before the hourly purge removes it: long enough to read the outcomes of a night's work a week
/// later, short enough that a job of 100,000 outcomes does not stay forever.
pub const JOB_RETENTION: Duration = Duration::days(30);

/// What kind of work a job does; its input and outcomes follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A bulk action on a selection of users (`POST /users/bulk`).
    Bulk,
    /// An import of the rows of an uploaded file (`POST /users/import`).
    Import,
}

impl JobKind {
    /// The name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bulk => "bulk",
            Self::Import => "import",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "bulk" => Some(Self::Bulk),
            "import" => Some(Self::Import),
            _ => None,
        }
    }
}

/// Whose authority a job acts with. It is resolved again for every step, so a job does no more
/// than its requester could do at that moment: a requester who was deactivated or demoted
/// meanwhile, or whose API key was revoked, stops the job (`failed`, with the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobRequester {
    /// A member, logged in or impersonated (then held to both members' authority).
    Member {
        /// The member the request acted as.
        user_id: UserId,
        /// The impersonator, for an impersonating session.
        impersonator_id: Option<UserId>,
    },
    /// An API key, held to its creator's current authority.
    ApiKey {
        /// The key that made the request.
        key_id: ApiKeyId,
        /// The member who created the key.
        created_by: UserId,
    },
    /// The operator (`roster` commands).
    System,
}

impl JobRequester {
    /// The member behind the request (a key's creator), if a member made it.
    pub fn member(&self) -> Option<UserId> {
        match self {
            Self::Member { user_id, .. } => Some(*user_id),
            Self::ApiKey { created_by, .. } => Some(*created_by),
            Self::System => None,
        }
    }
}

/// Where a job stands (`GET /jobs/{id}`'s `state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a runner.
    Queued,
    /// A runner works on it (or did, until its lease ran out: then it is claimed again).
    Running,
    /// Every user or row has its outcome.
    Done,
    /// The job stopped before the end; the outcomes recorded so far stand.
    Failed {
        /// Why, as an error code on the wire (`unauthenticated`, `forbidden`, …).
        code: String,
        /// The reason in words.
        message: String,
    },
}

impl JobState {
    /// The state's name on the wire and in storage.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed { .. } => "failed",
        }
    }

    /// Whether the job has ended (done or failed).
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Done | Self::Failed { .. })
    }
}

/// A runner's hold on a job until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The runner that holds it (a random name per server process).
    pub owner: String,
    /// When the hold ends unless renewed; after it, another runner may claim the job.
    pub until: OffsetDateTime,
}

/// A job, without its input (read separately: it can be large).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Unique; `GET /jobs/{id}`.
    pub id: JobId,
    /// The organization the job works in.
    pub org_id: OrgId,
    /// What the job does.
    pub kind: JobKind,
    /// Whose authority it acts with.
    pub requester: JobRequester,
    /// The door the request came through; the job's audit events carry it.
    pub source: Source,
    /// Where the job stands.
    pub state: JobState,
    /// How many users (or rows) the job covers.
    pub total: u64,
    /// How many have their outcome (and their change, when it succeeded) committed.
    pub done: u64,
    /// The runner holding the job while it runs.
    pub lease: Option<Lease>,
    /// What the whole job produced (a bulk action's seat figures), once done; JSON.
    pub result: Option<serde_json::Value>,
    /// When it was requested.
    pub created_at: OffsetDateTime,
    /// When it ended.
    pub finished_at: Option<OffsetDateTime>,
    /// Bumped by every write ([`Job::next_version`]); writes are optimistic (the stored
    /// version must be one less).
    pub version: u64,
}

impl Job {
    /// A queued job of `total` users or rows.
    #[allow(clippy::too_many_arguments)]
    pub fn queued(
        id: JobId,
        org_id: OrgId,
        kind: JobKind,
        requester: JobRequester,
        source: Source,
        total: u64,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            org_id,
            kind,
            requester,
            source,
            state: JobState::Queued,
            total,
            done: 0,
            lease: None,
            result: None,
            created_at: now,
            finished_at: None,
            version: 1,
        }
    }

    /// Readies the job for its next write: the version the store expects after the stored one.
    pub fn next_version(&mut self) {
        self.version += 1;
    }

    /// Whether a runner may claim the job at `now`: it is queued, or running under a lease that
    /// has ended.
    pub fn is_claimable(&self, now: OffsetDateTime) -> bool {
        match self.state {
            JobState::Queued => true,
            JobState::Running => self.lease.as_ref().is_none_or(|l| l.until <= now),
            JobState::Done | JobState::Failed { .. } => false,
        }
    }

    /// Takes (or renews) the lease for `owner` until `now + lease`: the job runs. The caller
    /// writes it back (with the next version), which fails if anyone else wrote the job
    /// meanwhile.
    pub fn hold(&mut self, owner: &str, now: OffsetDateTime, lease: Duration) {
        self.state = JobState::Running;
        self.lease = Some(Lease { owner: owner.to_owned(), until: now + lease });
    }

    /// Records `n` more outcomes.
    pub fn advance(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
    }

    /// Ends the job: done when `failure` is `None`, failed with it otherwise.
    pub fn finish(&mut self, now: OffsetDateTime, failure: Option<(String, String)>) {
        self.state = match failure {
            None => JobState::Done,
            Some((code, message)) => JobState::Failed { code, message },
        };
        self.lease = None;
        self.finished_at = Some(now);
    }

    /// Gives the job back to the queue (a runner stopping), so another claims it at once.
    pub fn release(&mut self) {
        self.state = JobState::Queued;
        self.lease = None;
    }
}

/// The outcome of one user or row, in job order (`seq` from 1). Its body is the kind's outcome
/// (a bulk action's [`BulkOutcome`](crate::services::BulkOutcome), an import's
/// [`ImportRowOutcome`](crate::services::ImportRowOutcome)) as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// The position in the job's input, from 1.
    pub seq: u64,
    /// The outcome, as the kind's JSON.
    pub body: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn job() -> Job {
        Job::queued(
            JobId::from_uuid(Uuid::nil()),
            OrgId::from_uuid(Uuid::nil()),
            JobKind::Bulk,
            JobRequester::System,
            Source::Cli,
            10,
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn a_job_is_claimable_when_queued_or_when_its_lease_has_ended() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let mut j = job();
        assert!(j.is_claimable(start));
        j.hold("a", start, Duration::seconds(30));
        assert!(!j.is_claimable(start + Duration::seconds(29)));
        assert!(j.is_claimable(start + Duration::seconds(30)));
        j.release();
        assert!(j.is_claimable(start));
        j.finish(start, None);
        assert!(!j.is_claimable(start + Duration::days(1)));
    }

    #[test]
    fn done_never_passes_total_and_only_a_write_moves_the_version() {
        let mut j = job();
        j.hold("a", OffsetDateTime::UNIX_EPOCH, Duration::seconds(1));
        j.advance(7);
        j.advance(7);
        assert_eq!((j.done, j.version), (10, 1));
        j.next_version();
        assert_eq!(j.version, 2);
        j.finish(OffsetDateTime::UNIX_EPOCH, Some(("forbidden".into(), "no".into())));
        assert_eq!(j.state.name(), "failed");
        assert!(j.lease.is_none());
    }
}
