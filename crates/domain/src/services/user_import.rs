//! Importing members from an uploaded CSV file (§10 `POST /users/import`): the rows read by
//! `crate::user_csv`, judged by its rules, and the valid ones created through the same chunks
//! as the CRM import (`Services::create_members_chunk`): invited users with reserved seats, a
//! welcome email and an `invite.created` event each, with the `import` source. One outcome per
//! row. Up to [`JOB_THRESHOLD`] rows run within the request, in one transaction; above, the rows
//! are a job's input and each of its steps is one transaction
//! (`docs/decisions/0036-csv-import.md`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::ids::UserId;
use crate::invites::NewMember;
use crate::jobs::{JOB_THRESHOLD, Job, JobKind, JobRequester};
use crate::ports::{StoreError, Tx};
use crate::roles::Permission;
use crate::seats::SeatCount;
use crate::user_csv::{RowFieldError, RowVerdict, UploadRow};
use crate::values::Key;

use super::Services;
use super::invites::{CRM_IMPORT_CHUNK, ImportPlan, MemberOutcome};

/// `POST /users/import`: the rows of an uploaded file and what every created member gets.
#[derive(Debug, Clone)]
pub struct UserImportRequest {
    /// The file's data rows, in order.
    pub rows: Vec<UploadRow>,
    /// The file's columns the import does not read, reported back.
    pub ignored_columns: Vec<String>,
    /// Products each created member gets a seat of (with their prerequisites); none by default.
    pub products: BTreeSet<Key>,
    /// Keys of the roles each created member gets (org-wide); `standard` when empty.
    pub roles: Vec<Key>,
    /// Whether each created member is sent an invitation to set their password.
    pub send_welcome_email: bool,
    /// Report what would happen, write nothing.
    pub dry_run: bool,
}

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportRowStatus {
    /// A member was created (or would be, in a dry run), `invited` until they accept.
    Created,
    /// A live member already has the row's CRM id or email (named in `user_id`).
    AlreadyMember,
    /// An earlier valid row of the file has the same email or CRM id (`duplicate_of`).
    Duplicate,
    /// A value breaks a rule (`errors` names each), or another member holds the phone.
    Invalid,
    /// A product had no free seat left for this row.
    SeatRefused,
}

impl ImportRowStatus {
    /// The status on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AlreadyMember => "already_member",
            Self::Duplicate => "duplicate",
            Self::Invalid => "invalid",
            Self::SeatRefused => "seat_refused",
        }
    }
}

/// The outcome of one row of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRowOutcome {
    /// The row's position among the data rows, from 1.
    pub row: u64,
    /// The line of the file the row starts on.
    pub line: u64,
    /// The row's email: normalized when valid, else as written (trimmed).
    pub email: String,
    /// What became of the row.
    pub status: ImportRowStatus,
    /// The member created, or the member who already has the CRM id or email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// For a duplicate: the earlier row it repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
    /// For an invalid row: every value at fault.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<RowFieldError>,
    /// Why the row was not created, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What an import within the request answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserImportResult {
    /// Whether the members were created (false for a dry run).
    pub applied: bool,
    /// One outcome per data row, in file order.
    pub outcomes: Vec<ImportRowOutcome>,
    /// The file's columns the import did not read.
    pub ignored_columns: Vec<String>,
    /// Every seat pool before the import.
    pub seats_before: Vec<SeatCount>,
    /// Every seat pool after it (as it would be, for a dry run).
    pub seats_after: Vec<SeatCount>,
}

/// What `POST /users/import` answers: the result, or a job when the file is large.
#[derive(Debug, Clone)]
pub enum UserImportSubmission {
    /// Up to [`JOB_THRESHOLD`] rows: imported within the request.
    Done(UserImportResult),
    /// More rows: the import is queued.
    Queued(Job),
}

/// What a finished import job produced, without the outcomes (read page by page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJobResult {
    /// Whether the members were created (false for a dry run).
    pub applied: bool,
    /// The rows that created a member (or would, in a dry run).
    #[serde(default)]
    pub succeeded: u64,
    /// The rows that created no member (already a member, duplicate, invalid, refused a seat).
    #[serde(default)]
    pub refused: u64,
    /// Every seat pool before the first step.
    pub seats_before: Vec<SeatCount>,
    /// Every seat pool after the last step (as it would have been, for a dry run).
    pub seats_after: Vec<SeatCount>,
    /// The file's columns the import did not read.
    pub ignored_columns: Vec<String>,
}

/// An import job's input: the request, rows included, fixed when the job is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImportInput {
    pub rows: Vec<UploadRow>,
    pub ignored_columns: Vec<String>,
    pub products: BTreeSet<Key>,
    pub roles: Vec<Key>,
    pub send_welcome_email: bool,
    pub dry_run: bool,
}

/// The permissions an import needs, whoever runs it and whenever: `manage_users` over the whole
/// organization (a created member is in no group yet), and `manage_licenses` with products.
pub(crate) fn require_import_rights(actor: &Actor, products: &BTreeSet<Key>) -> ServiceResult<()> {
    actor.require_org_wide(Permission::ManageUsers)?;
    if !products.is_empty() {
        actor.require_org_wide(Permission::ManageLicenses)?;
    }
    Ok(())
}

impl Services {
    /// Imports the rows of an uploaded file (§10): within the request up to [`JOB_THRESHOLD`]
    /// rows (one transaction, or none kept for a dry run), as a queued job above. Each row is
    /// `created`, `already_member`, `duplicate`, `invalid` or `seat_refused`, on its own; the
    /// roles and products are checked before any row, so a bad one refuses the whole file.
    ///
    /// # Errors
    /// `forbidden`; `validation_failed` for a file without rows (`body`, `no_rows`), an unknown
    /// role or product; storage failures.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id(), rows = request.rows.len()))]
    pub async fn import_users(&self, actor: &Actor, request: UserImportRequest) -> ServiceResult<UserImportSubmission> {
        require_import_rights(actor, &request.products)?;
        if request.rows.is_empty() {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "body",
                "no_rows",
                "the file has a header but no rows",
            )]));
        }
        if request.rows.len() > JOB_THRESHOLD {
            return self.queue_import(actor, request).await.map(UserImportSubmission::Queued);
        }
        let verdicts = crate::user_csv::judge_rows(&request.rows);
        let mut tx = self.begin().await?;
        let plan =
            self.plan_import(&mut *tx, actor, &request.products, &request.roles, request.send_welcome_email).await?;
        let seats_before = seat_counts(&mut *tx, plan.org.id).await?;
        let outcomes = self.import_rows(&mut *tx, &plan, &request.rows, &verdicts).await?;
        let seats_after = seat_counts(&mut *tx, plan.org.id).await?;
        if !request.dry_run {
            tx.commit().await?;
        }
        Ok(UserImportSubmission::Done(UserImportResult {
            applied: !request.dry_run,
            outcomes,
            ignored_columns: request.ignored_columns,
            seats_before,
            seats_after,
        }))
    }

    /// Queues an import job after checking what refuses the whole file (roles, products).
    async fn queue_import(&self, actor: &Actor, request: UserImportRequest) -> ServiceResult<Job> {
        let mut tx = self.begin().await?;
        self.plan_import(&mut *tx, actor, &request.products, &request.roles, request.send_welcome_email).await?;
        let job = Job::queued(
            self.new_id(),
            actor.org_id(),
            JobKind::Import,
            JobRequester::of(actor),
            actor.source(),
            request.rows.len() as u64,
            self.now(),
        );
        let input = ImportInput {
            rows: request.rows,
            ignored_columns: request.ignored_columns,
            products: request.products,
            roles: request.roles,
            send_welcome_email: request.send_welcome_email,
            dry_run: request.dry_run,
        };
        let input = serde_json::to_string(&input).map_err(|e| ServiceError::Store(StoreError::unavailable(e)))?;
        tx.insert_job(&job, &input).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// The outcomes of `rows` (judged as `verdicts`) inside `tx`, in chunks of
    /// [`CRM_IMPORT_CHUNK`]: the valid rows of each chunk go through
    /// `Services::create_members_chunk`, the others keep their verdict.
    pub(crate) async fn import_rows(
        &self,
        tx: &mut dyn Tx,
        plan: &ImportPlan,
        rows: &[UploadRow],
        verdicts: &[RowVerdict],
    ) -> ServiceResult<Vec<ImportRowOutcome>> {
        let mut out = Vec::with_capacity(rows.len());
        for (rows, verdicts) in rows.chunks(CRM_IMPORT_CHUNK).zip(verdicts.chunks(CRM_IMPORT_CHUNK)) {
            let people: Vec<NewMember> = verdicts
                .iter()
                .filter_map(|v| match v {
                    RowVerdict::Valid(member) => Some(member.clone()),
                    _ => None,
                })
                .collect();
            let mut made = self.create_members_chunk(tx, plan, &people).await?.into_iter();
            for (row, verdict) in rows.iter().zip(verdicts) {
                let mut outcome = ImportRowOutcome {
                    row: row.row,
                    line: row.line,
                    email: row.email.trim().to_owned(),
                    status: ImportRowStatus::Invalid,
                    user_id: None,
                    duplicate_of: None,
                    errors: Vec::new(),
                    message: None,
                };
                match verdict {
                    RowVerdict::Invalid(errors) => {
                        outcome.errors.clone_from(errors);
                        outcome.message = Some(
                            errors.iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
                        );
                    }
                    RowVerdict::Duplicate { of_row, field } => {
                        outcome.status = ImportRowStatus::Duplicate;
                        outcome.duplicate_of = Some(*of_row);
                        outcome.message = Some(format!("the same {field} as row {of_row}"));
                    }
                    RowVerdict::Valid(member) => {
                        outcome.email = member.email.to_string();
                        let Some(made) = made.next() else {
                            return Err(StoreError::Missing { kind: "import outcome" }.into());
                        };
                        match made {
                            MemberOutcome::Created(id) => {
                                outcome.status = ImportRowStatus::Created;
                                outcome.user_id = Some(id);
                            }
                            MemberOutcome::AlreadyMember(id) => {
                                outcome.status = ImportRowStatus::AlreadyMember;
                                outcome.user_id = Some(id);
                            }
                            MemberOutcome::PhoneTaken(e) => {
                                outcome.errors.push(RowFieldError {
                                    field: "phone".into(),
                                    code: "taken".into(),
                                    message: "another member already has this phone".into(),
                                });
                                outcome.message = Some(e.to_string());
                            }
                            MemberOutcome::SeatRefused(e) => {
                                outcome.status = ImportRowStatus::SeatRefused;
                                outcome.message = Some(e.to_string());
                            }
                            MemberOutcome::NoPool(e) => outcome.message = Some(e.to_string()),
                        }
                    }
                }
                out.push(outcome);
            }
        }
        Ok(out)
    }
}

/// Every seat pool of the organization.
async fn seat_counts(tx: &mut dyn Tx, org: crate::ids::OrgId) -> ServiceResult<Vec<SeatCount>> {
    Ok(tx.seat_pools(org).await?.iter().map(SeatCount::from).collect())
}
