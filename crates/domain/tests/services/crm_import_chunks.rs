//! The CRM import in chunks (ADR 0010): chunk boundaries change no outcome, a dry run reports
//! what a real run does, and a failure in a later chunk keeps the earlier ones.

use roster_domain::ErrorCode;
use roster_domain::services::{CrmImportOutcome, CrmImportRequest, CrmImportStatus};

use crate::support::{World, crm_id, key, keys, phone};

fn request(ids: &[&str], dry_run: bool) -> CrmImportRequest {
    CrmImportRequest {
        crm_ids: ids.iter().map(|i| crm_id(i)).collect(),
        products: keys(&["core"]),
        roles: vec![key("standard")],
        send_welcome_email: true,
        dry_run,
    }
}

/// A world with 4 core seats, a member holding `eee`'s email, and a directory where `005X`
/// shares `ann`'s email and `005P` shares `005A`'s phone.
async fn world() -> World {
    let w = World::new().await;
    w.set_seats("core", 4).await;
    let mut ann = w.crm_user("005A", "ann");
    ann.phone = Some(phone("+4915111111111"));
    let mut pia = w.crm_user("005P", "pia");
    pia.phone = ann.phone.clone();
    w.crm_has([
        ann,
        w.crm_user("005B", "bob"),
        w.crm_user("005C", "cid"),
        w.crm_user("005D", "dan"),
        w.crm_user("005E", "eee"),
        w.crm_user("005F", "fay"),
        w.crm_user("005G", "gus"),
        w.crm_user("005X", "ann"),
        pia,
    ]);
    w.member("eee", &["standard"], &[]).await;
    w
}

/// Ids in chunks of 3: [A B C] [D E P] [F B X] [Z G] once B's repeat is dropped — the seat
/// limit is crossed inside the second chunk, an email taken before the import, a phone and an
/// email taken by earlier rows (the latter in another chunk), an unknown id.
const IDS: [&str; 11] = ["005A", "005B", "005C", "005D", "005E", "005P", "005F", "005B", "005X", "005Z", "005G"];

async fn import(w: &World, chunk: usize, dry_run: bool) -> Vec<CrmImportOutcome> {
    let actor = w.admin_actor().await;
    w.services.import_from_crm_in_chunks(&actor, request(&IDS, dry_run), chunk).await.expect("imports")
}

#[tokio::test]
async fn chunk_boundaries_change_no_outcome_and_seats_run_out_inside_a_chunk_as_row_by_row() {
    let chunked = world().await;
    let got = import(&chunked, 3, false).await;
    let statuses: Vec<(&str, CrmImportStatus)> = got.iter().map(|o| (o.crm_id.as_str(), o.status)).collect();
    assert_eq!(
        statuses,
        [
            ("005A", CrmImportStatus::Created),
            ("005B", CrmImportStatus::Created),
            ("005C", CrmImportStatus::Created),
            ("005D", CrmImportStatus::Created),
            ("005E", CrmImportStatus::AlreadyMember),
            ("005P", CrmImportStatus::AlreadyMember),
            ("005F", CrmImportStatus::SeatRefused),
            ("005X", CrmImportStatus::AlreadyMember),
            ("005Z", CrmImportStatus::NotFound),
            ("005G", CrmImportStatus::SeatRefused),
        ],
        "a repeated id is reported once"
    );
    assert_eq!(got[7].user_id, got[0].user_id, "005X shares ann's email, created in the first chunk");
    assert!(got[5].message.as_deref().is_some_and(|m| m.contains("phone")), "{:?}", got[5].message);
    assert!(got[6].message.as_deref().is_some_and(|m| m.contains("4 of 4")), "{:?}", got[6].message);
    assert_eq!(chunked.seats_used("core").await, 4);
    assert_eq!(chunked.events_named("invite.created").await.len(), 4);
    assert_eq!(chunked.outbox().await.len(), 4, "one invitation per created user");
    let state = chunked.store.snapshot().await;
    assert_eq!(state.invites.values().filter(|i| i.org_id == chunked.org.id).count(), 4);
    assert_eq!(state.reservations.values().filter(|r| r.org_id == chunked.org.id).count(), 4);

    let whole = world().await;
    assert_eq!(import(&whole, 1_000, false).await, got, "one chunk or four: the same outcomes, ids included");
    let single = world().await;
    assert_eq!(import(&single, 1, false).await, got, "a transaction per id: the same again");
}

#[tokio::test]
async fn a_chunked_dry_run_reports_what_the_real_run_does_and_changes_nothing() {
    let dry = world().await;
    let before = dry.store.snapshot().await;
    let reported = import(&dry, 3, true).await;
    assert_eq!(dry.store.snapshot().await, before, "a dry run changes nothing");
    let real = world().await;
    assert_eq!(import(&real, 3, false).await, reported);
}

#[tokio::test]
async fn a_store_failure_in_the_second_chunk_keeps_the_first_and_a_retry_reports_it_as_already_member() {
    let w = world().await;
    let actor = w.admin_actor().await;
    let ids = ["005A", "005B", "005C", "005D"];
    // A chunk writes six times: one take_seats, then users, invites, reservations, mails, events.
    w.store.fail_after_writes(6 + 2);
    let failed = w.services.import_from_crm_in_chunks(&actor, request(&ids, false), 2).await;
    assert_eq!(failed.expect_err("the second chunk fails").code(), ErrorCode::Internal);
    assert_eq!(w.seats_used("core").await, 2, "the first chunk's seats, none of the second's");
    assert_eq!(w.events_named("invite.created").await.len(), 2);
    let state = w.store.snapshot().await;
    let imported: Vec<&str> =
        state.users.values().filter_map(|u| u.crm_id.as_ref()).map(|c| c.as_str()).collect::<Vec<_>>();
    assert_eq!(imported.len(), 2);
    assert!(imported.contains(&"005A") && imported.contains(&"005B"));

    let retried = w.services.import_from_crm_in_chunks(&actor, request(&ids, false), 2).await.expect("imports");
    let statuses: Vec<CrmImportStatus> = retried.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        [
            CrmImportStatus::AlreadyMember,
            CrmImportStatus::AlreadyMember,
            CrmImportStatus::Created,
            CrmImportStatus::Created
        ]
    );
    assert_eq!(w.seats_used("core").await, 4);
    assert_eq!(w.events_named("invite.created").await.len(), 4);
}
