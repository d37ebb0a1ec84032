//! Importing members from an uploaded CSV file (§10 `POST /users/import`, decision 0036): each
//! row reported, the valid ones created through the chunks the CRM import uses (invited, seats
//! reserved, an invitation mailed, audited with the `import` source), a dry run equal to the real
//! run, and more than 1,000 rows as a job whose steps each commit their rows.

use roster_domain::ErrorCode;
use roster_domain::actor::Source;
use roster_domain::jobs::{JOB_THRESHOLD, JobKind, JobState};
use roster_domain::services::{
    ImportRowOutcome, ImportRowStatus, JobOutcomes, JobPace, JobResult, StepResult, UserImportRequest,
    UserImportResult, UserImportSubmission,
};
use roster_domain::user_csv::{UploadRow, parse_upload};
use time::Duration;

use crate::support::{World, crm_id, failure, key, keys};

const PACE: JobPace = JobPace { lease: Duration::seconds(60), step: 400 };

fn request(csv: &str, products: &[&str], dry_run: bool) -> UserImportRequest {
    let upload = parse_upload(csv.as_bytes()).expect("a readable file");
    UserImportRequest {
        rows: upload.rows,
        ignored_columns: upload.ignored_columns,
        products: keys(products),
        roles: vec![key("standard")],
        send_welcome_email: true,
        dry_run,
    }
}

async fn import(w: &World, request: UserImportRequest) -> UserImportResult {
    match w.services.import_users(&w.admin_actor().await, request).await.expect("imports") {
        UserImportSubmission::Done(result) => result,
        UserImportSubmission::Queued(job) => panic!("within the request, not {job:?}"),
    }
}

fn statuses(outcomes: &[ImportRowOutcome]) -> Vec<ImportRowStatus> {
    outcomes.iter().map(|o| o.status).collect()
}

/// Three `core` seats; a member `eee`; a member `crm` linked to CRM id `005C`.
async fn world() -> World {
    let w = World::new().await;
    w.set_seats("core", 3).await;
    w.member("eee", &["standard"], &[]).await;
    let mut linked = w.new_user("crm", &["standard"], &[]);
    linked.crm_id = Some(crm_id("005C"));
    w.create(linked).await;
    w
}

/// Rows: new, a repeat of row 1's email, invalid, a member by email, a member by CRM id, new,
/// a phone row 1 holds, new, and one more new row than the seats allow.
fn file(w: &World) -> String {
    let e = |local: &str| w.email(local).to_string();
    format!(
        "email,first_name,last_name,phone,crm_id\n\
         {a},Ann,One,+4915111111111,\n\
         {a_upper},Ann,Twice,,\n\
         not-an-address,Bad,,,\n\
         {eee},Eee,Member,,\n\
         someone.else@elsewhere.test,Crm,Linked,,005C\n\
         {bob},Bob,Two,,\n\
         {pia},Pia,SamePhone,+49 151 11111111,\n\
         {cid},Cid,Three,,\n\
         {dan},Dan,Four,,\n",
        a = e("ann"),
        a_upper = e("ann").to_uppercase(),
        eee = e("eee"),
        bob = e("bob"),
        pia = e("pia"),
        cid = e("cid"),
        dan = e("dan"),
    )
}

#[tokio::test]
async fn each_row_is_reported_and_the_valid_ones_are_created_as_invited_members_by_the_import() {
    let w = world().await;
    let result = import(&w, request(&file(&w), &["core"], false)).await;
    use ImportRowStatus::{AlreadyMember, Created, Duplicate, Invalid, SeatRefused};
    assert_eq!(
        statuses(&result.outcomes),
        [Created, Duplicate, Invalid, AlreadyMember, AlreadyMember, Created, Invalid, Created, SeatRefused]
    );
    assert!(result.applied);
    let o = &result.outcomes;
    assert_eq!(o[1].duplicate_of, Some(1));
    let bad: Vec<(&str, &str)> = o[2].errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
    assert_eq!(bad, [("email", "invalid_format"), ("last_name", "required")]);
    assert_eq!(o[4].status, AlreadyMember, "matched by CRM id whatever the email");
    assert!(o[4].user_id.is_some());
    assert_eq!(o[6].errors[0].code, "taken", "row 1 took the phone");
    assert!(o[8].message.as_deref().is_some_and(|m| m.contains("3 of 3")), "{:?}", o[8].message);
    assert_eq!(w.seats_used("core").await, 3);
    let events = w.events_named("invite.created").await;
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.source == Source::Import), "audited as an import");
    assert_eq!(w.outbox().await.len(), 3, "one invitation per created member, queued with it");
    let created = w.details(o[0].user_id.expect("an id")).await;
    assert_eq!(created.user.phone.as_ref().map(|p| p.as_str()), Some("+4915111111111"));
}

#[tokio::test]
async fn a_dry_run_reports_what_the_real_run_does_and_changes_nothing() {
    let dry = world().await;
    let before = dry.store.snapshot().await;
    let reported = import(&dry, request(&file(&dry), &["core"], true)).await;
    assert!(!reported.applied);
    assert_eq!(dry.store.snapshot().await, before, "a dry run changes nothing");
    let real = world().await;
    let done = import(&real, request(&file(&real), &["core"], false)).await;
    let without_ids = |r: &UserImportResult| -> Vec<(u64, ImportRowStatus, bool, Option<u64>)> {
        r.outcomes.iter().map(|o| (o.row, o.status, o.user_id.is_some(), o.duplicate_of)).collect()
    };
    assert_eq!(without_ids(&reported), without_ids(&done));
    assert_eq!(reported.seats_after, done.seats_after);
}

#[tokio::test]
async fn what_refuses_the_whole_file_is_checked_before_any_row() {
    let w = world().await;
    let before = w.store.snapshot().await;
    let admin = w.admin_actor().await;
    let mut bad_role = request(&file(&w), &[], false);
    bad_role.roles = vec![key("no_such_role")];
    assert_eq!(failure(w.services.import_users(&admin, bad_role).await).code(), ErrorCode::ValidationFailed);
    let bad_product = request(&file(&w), &["no_such_product"], false);
    assert_eq!(failure(w.services.import_users(&admin, bad_product).await).code(), ErrorCode::ValidationFailed);
    let empty = request("email,first_name,last_name\n", &[], false);
    assert_eq!(failure(w.services.import_users(&admin, empty).await).code(), ErrorCode::ValidationFailed);
    let ann = w.member("ann", &["standard"], &[]).await;
    let refused = w.services.import_users(&w.actor(ann).await, request(&file(&w), &[], false)).await;
    assert_eq!(failure(refused).code(), ErrorCode::Forbidden);
    let mut after = w.store.snapshot().await;
    after.users.retain(|_, u| u.email != w.email("ann"));
    assert_eq!(after.users, before.users, "no row was imported");
}

/// `n` rows of new people, and one repeating the first.
fn big_file(n: usize) -> String {
    let mut csv = String::from("email,first_name,last_name,Department\n");
    for i in 0..n {
        csv.push_str(&format!("row{i}@big.test,Row,Number{i},Sales\n"));
    }
    csv.push_str("row0@big.test,Row,Again,Sales\n");
    csv
}

#[tokio::test]
async fn over_a_thousand_rows_the_import_is_a_job_whose_steps_each_commit_their_rows() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let submitted = w.services.import_users(&admin, request(&big_file(JOB_THRESHOLD), &[], false)).await;
    let UserImportSubmission::Queued(job) = submitted.expect("accepted") else { panic!("a job") };
    assert_eq!((job.kind, job.total, job.state.clone()), (JobKind::Import, 1_001, JobState::Queued));
    assert_eq!(w.events_named("invite.created").await.len(), 0, "nothing happens within the request");

    let mut claimed = w.services.claim_job("a", PACE).await.expect("claims").expect("the queued job");
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Continue);
    assert_eq!(w.events_named("invite.created").await.len(), 400, "a step's rows are committed with it");
    while w.services.work_job("a", &mut claimed, PACE).await.expect("step") == StepResult::Continue {}
    assert_eq!(claimed.job().state, JobState::Done);
    assert_eq!(w.events_named("invite.created").await.len(), 1_000);

    let first = w.services.job_outcome_page(&admin, job.id, 0, 1_000).await.expect("outcomes");
    let rest = w.services.job_outcome_page(&admin, job.id, 1_000, 1_000).await.expect("outcomes");
    let (JobOutcomes::Import(first), JobOutcomes::Import(rest)) = (first, rest) else { panic!("an import's") };
    assert_eq!((first.len(), rest.len()), (1_000, 1));
    assert!(first.iter().all(|(seq, o)| *seq == o.row && o.status == ImportRowStatus::Created));
    assert_eq!((rest[0].1.status, rest[0].1.duplicate_of), (ImportRowStatus::Duplicate, Some(1)));
    let Some(JobResult::Import(result)) = w.services.job_result(&admin, job.id).await.expect("reads") else {
        panic!("an import's result")
    };
    assert!(result.applied);
    assert_eq!(result.ignored_columns, ["Department"]);
}

#[tokio::test]
async fn an_import_job_dry_run_records_its_outcomes_and_changes_nothing() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let submitted = w.services.import_users(&admin, request(&big_file(JOB_THRESHOLD), &[], true)).await;
    let UserImportSubmission::Queued(job) = submitted.expect("accepted") else { panic!("a job") };
    let mut claimed = w.services.claim_job("a", PACE).await.expect("claims").expect("the queued job");
    let before_users = w.store.snapshot().await.users;
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Finished);
    assert_eq!(w.store.snapshot().await.users, before_users, "no member was created");
    let JobOutcomes::Import(outcomes) = w.services.job_outcome_page(&admin, job.id, 0, 1_000).await.expect("reads")
    else {
        panic!("an import's")
    };
    assert_eq!(outcomes.len(), 1_000);
    let Some(JobResult::Import(result)) = w.services.job_result(&admin, job.id).await.expect("reads") else {
        panic!("an import's result")
    };
    assert!(!result.applied);
}

#[tokio::test]
async fn an_import_job_stops_when_its_requester_loses_the_authority() {
    let w = World::new().await;
    let lee = w.member("lee", &["admin"], &[]).await;
    let submitted = w.services.import_users(&w.actor(lee).await, request(&big_file(JOB_THRESHOLD), &[], false)).await;
    let UserImportSubmission::Queued(_) = submitted.expect("accepted") else { panic!("a job") };
    w.services.deactivate_user(&w.admin_actor().await, lee, None).await.expect("deactivates");
    let mut claimed = w.services.claim_job("a", PACE).await.expect("claims").expect("the queued job");
    assert_eq!(w.services.work_job("a", &mut claimed, PACE).await.expect("step"), StepResult::Finished);
    let JobState::Failed { code, .. } = &claimed.job().state else { panic!("failed: {:?}", claimed.job().state) };
    assert_eq!(code, "unauthenticated");
    assert_eq!(w.events_named("invite.created").await.len(), 0);
}

#[test]
fn an_upload_row_keeps_its_cells_as_written_for_a_job_to_judge_later() {
    let rows: Vec<UploadRow> = parse_upload(b"email,first_name,last_name\n  A@X.test ,Ann,One\n").expect("reads").rows;
    assert_eq!(rows[0].email, "  A@X.test ");
    let json = serde_json::to_string(&rows).expect("serializes");
    assert_eq!(serde_json::from_str::<Vec<UploadRow>>(&json).expect("reads back"), rows);
}
