//! Member invites (§8.1): seat reservations per row, bulk paste, accepting with a single-use
//! token, resending and revoking.

use roster_domain::audit::Source;
use roster_domain::invites::{TOKEN_LIFETIME, hash_token};
use roster_domain::mail::MailKind;
use roster_domain::roles::{Permission, Visibility};
use roster_domain::services::{InviteRow, InviteStatus, NewRole, PasteStatus, RoleAssignment};
use roster_domain::user::StatusKind;
use roster_domain::{ErrorCode, ServiceError};
use time::Duration;

use crate::credentials::log_in;
use crate::support::{T0, World, failure, key, keys, label, password, person, slug};

fn seats<'a>(counts: &'a [roster_domain::seats::SeatCount], product: &str) -> &'a roster_domain::seats::SeatCount {
    counts.iter().find(|c| c.product.as_str() == product).expect("the product is counted")
}

#[tokio::test]
async fn an_invite_creates_an_invited_user_reserves_seats_and_queues_an_email_with_a_hashed_token() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core", "dialer"]).await;
    assert_eq!(w.status(user).await, StatusKind::Invited);
    assert!(w.products(user).await.is_empty(), "reserved, not assigned");
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (1, 1));
    let state = w.store.snapshot().await;
    assert_eq!(state.reservations.keys().filter(|(i, _)| *i == invite).count(), 2);
    let stored = &state.invites[&invite];
    assert_eq!(stored.expires_at, T0 + TOKEN_LIFETIME);
    let mail = w.outbox().await.pop().expect("queued");
    assert_eq!(mail.to, w.email("ann"));
    let MailKind::Invitation { token, invited_by, .. } = mail.kind else { panic!("an invitation") };
    assert_eq!(stored.token_hash, hash_token(&token));
    assert_ne!(stored.token_hash, token);
    assert_eq!(invited_by, "Admin Tester");
    let event = w.events_named("invite.created").await.pop().expect("audited");
    assert_eq!(event.details["products"], serde_json::json!(["core", "dialer"]));
}

#[tokio::test]
async fn invites_are_refused_while_auto_signup_is_on() {
    let w = World::new().await;
    let before = w.store.snapshot().await;
    let err =
        failure(w.services.invite_members(&w.admin_actor().await, vec![w.invite_row("ann", &["core"])], false).await);
    assert_eq!(err.code(), ErrorCode::AutoSignupEnabled);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn every_invite_field_is_mandatory_with_per_field_errors() {
    let w = World::inviting().await;
    let mut row = w.invite_row("ann", &[]);
    row.roles.clear();
    let err = failure(
        w.services.invite_members(&w.admin_actor().await, vec![w.invite_row("bob", &["core"]), row], false).await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let roster_domain::ServiceError::Validation(fields) = err else { panic!("validation") };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["invites[1].roles", "invites[1].products"]);
    assert!(w.outbox().await.is_empty(), "no row of a refused request is invited");
    let err = failure(w.services.invite_members(&w.admin_actor().await, Vec::new(), false).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn rows_beyond_the_available_seats_are_refused_per_row_with_seat_counts_before_and_after() {
    let w = World::inviting().await;
    let rows: Vec<InviteRow> = ["ann", "bob", "cid", "dee"].iter().map(|n| w.invite_row(n, &["core"])).collect();
    let result = w.services.invite_members(&w.admin_actor().await, rows, false).await.expect("invites");
    let statuses: Vec<InviteStatus> = result.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            InviteStatus::Created,
            InviteStatus::Created,
            InviteStatus::Created,
            InviteStatus::Refused(ErrorCode::SeatLimitReached)
        ]
    );
    assert_eq!(result.results[3].status.as_str(), "seat_limit_reached");
    assert!(result.results[3].invite_id.is_none());
    assert_eq!(seats(&result.seats_before, "core").seats_available, 3);
    assert_eq!(seats(&result.seats_after, "core").seats_available, 0);
    assert_eq!(w.seats_used("core").await, 3);
    assert_eq!(w.outbox().await.len(), 3);
    let counts = w.services.license_counts(&w.admin_actor().await).await.expect("counts");
    assert_eq!(seats(&counts, "core").seats_available, 0, "the counts the invite screen shows");
}

#[tokio::test]
async fn a_row_refused_for_one_product_reserves_none_of_its_products() {
    let w = World::inviting().await;
    w.set_seats("dialer", 0).await;
    let result = w
        .services
        .invite_members(&w.admin_actor().await, vec![w.invite_row("ann", &["core", "dialer"])], false)
        .await
        .expect("invites");
    assert_eq!(result.results[0].status, InviteStatus::Refused(ErrorCode::SeatLimitReached));
    assert_eq!(w.seats_used("core").await, 0);
    assert!(w.store.snapshot().await.users.values().all(|u| u.email != w.email("ann")));
}

#[tokio::test]
async fn an_invite_for_a_members_email_or_with_a_missing_prerequisite_is_refused_per_row() {
    let w = World::inviting().await;
    w.member("ann", &["standard"], &[]).await;
    let rows = vec![w.invite_row("ann", &["core"]), w.invite_row("bob", &["sms"]), w.invite_row("cid", &["core"])];
    let result = w.services.invite_members(&w.admin_actor().await, rows, false).await.expect("invites");
    let statuses: Vec<&str> = result.results.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["conflict", "missing_prerequisite", "created"]);
}

#[tokio::test]
async fn a_dry_run_invite_reports_outcomes_and_seats_and_changes_nothing() {
    let w = World::inviting().await;
    let before = w.store.snapshot().await;
    let result = w
        .services
        .invite_members(&w.admin_actor().await, vec![w.invite_row("ann", &["core"])], true)
        .await
        .expect("invites");
    assert!(!result.applied);
    assert_eq!(result.results[0].status, InviteStatus::Created);
    assert_eq!(seats(&result.seats_after, "core").seats_used, 1);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn inviting_requires_manage_users_over_the_whole_organization() {
    let w = World::inviting().await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err = failure(w.services.invite_members(&lead, vec![w.invite_row("ann", &["core"])], false).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn an_invited_user_is_not_billable_and_cannot_log_in() {
    let w = World::inviting().await;
    let (_, user) = w.invite("ann", &["core"]).await;
    assert_eq!(w.services.billing(&w.admin_actor().await).await.expect("reads").billable_users, 1);
    let err = failure(w.services.resolve_actor(w.org.id, user, Source::Console, None).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
}

// ---- bulk paste ----------------------------------------------------------------------------------

#[tokio::test]
async fn pasting_reports_each_entry_created_duplicate_or_invalid_without_losing_the_valid_ones() {
    let w = World::inviting().await;
    w.member("old", &["standard"], &[]).await;
    let body = "ann@acme.test, Bob Builder <bob@acme.test>\nCid Cook,cid@acme.test\nnot-an-address\nANN@acme.test\nold@acme.test";
    let pasted = w
        .services
        .invite_pasted(&w.admin_actor().await, body, vec![key("standard")], keys(&["core"]), Vec::new(), false)
        .await
        .expect("invites");
    let got: Vec<(&str, PasteStatus)> = pasted.results.iter().map(|o| (o.entry.as_str(), o.status)).collect();
    assert_eq!(
        got,
        [
            ("ann@acme.test", PasteStatus::Created),
            ("Bob Builder <bob@acme.test>", PasteStatus::Created),
            ("Cid Cook,cid@acme.test", PasteStatus::Created),
            ("not-an-address", PasteStatus::Invalid),
            ("ANN@acme.test", PasteStatus::Duplicate),
            ("old@acme.test", PasteStatus::Duplicate),
        ]
    );
    let state = w.store.snapshot().await;
    let bob = state.users.values().find(|u| u.email == w.email("bob")).expect("invited");
    assert_eq!((bob.first_name.as_str(), bob.last_name.as_str()), ("Bob", "Builder"));
    let cid = state.users.values().find(|u| u.email == w.email("cid")).expect("invited");
    assert_eq!(cid.first_name.as_str(), "Cid");
    assert_eq!(w.seats_used("core").await, 3);
    // A member already holding the address is a duplicate with the refusing code.
    assert_eq!(pasted.results[5].code, Some(ErrorCode::Conflict));
    assert_eq!(pasted.results[4].code, None, "listed twice in the paste");
    assert_eq!((seats(&pasted.seats_before, "core").seats_used, seats(&pasted.seats_after, "core").seats_used), (0, 3));
    assert!(pasted.applied);
}

#[tokio::test]
async fn pasted_entries_beyond_the_seats_are_refused_with_their_code_and_the_rest_invited() {
    let w = World::inviting().await;
    w.set_seats("core", 1).await;
    let pasted = w
        .services
        .invite_pasted(
            &w.admin_actor().await,
            "a@acme.test\nb@acme.test",
            vec![key("standard")],
            keys(&["core"]),
            Vec::new(),
            false,
        )
        .await
        .expect("invites");
    assert_eq!(
        pasted.results.iter().map(|o| o.status).collect::<Vec<_>>(),
        [PasteStatus::Created, PasteStatus::Refused]
    );
    assert_eq!(pasted.results[1].code, Some(ErrorCode::SeatLimitReached));
}

#[tokio::test]
async fn a_dry_run_paste_reports_the_outcomes_and_writes_nothing() {
    let w = World::inviting().await;
    let before = w.store.snapshot().await;
    let pasted = w
        .services
        .invite_pasted(
            &w.admin_actor().await,
            "a@acme.test, nope",
            vec![key("standard")],
            keys(&["core"]),
            Vec::new(),
            true,
        )
        .await
        .expect("reports");
    assert_eq!(
        pasted.results.iter().map(|o| o.status).collect::<Vec<_>>(),
        [PasteStatus::Created, PasteStatus::Invalid]
    );
    assert_eq!(seats(&pasted.seats_after, "core").seats_used, 1);
    assert!(!pasted.applied);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn a_paste_is_judged_as_a_whole_before_its_entries() {
    let w = World::inviting().await;
    let admin = w.admin_actor().await;
    let paste = |text: &'static str, roles: Vec<roster_domain::values::Key>, products| {
        let services = w.services.clone();
        let admin = admin.clone();
        async move { services.invite_pasted(&admin, text, roles, products, Vec::new(), false).await }
    };
    let err = failure(paste(" \n , ", vec![key("standard")], keys(&["core"])).await);
    let ServiceError::Validation(fields) = err else { panic!("{err:?}") };
    assert_eq!(fields.iter().map(|f| (f.field.as_str(), f.code)).collect::<Vec<_>>(), [("text", "required")]);
    let err = failure(paste("a@acme.test", vec![], keys(&[])).await);
    let ServiceError::Validation(fields) = err else { panic!("{err:?}") };
    assert_eq!(fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["roles", "products"]);
    // Only invalid entries: still refused while auto sign-up is on, and for a member.
    w.set_auto_signup(true).await;
    let err = failure(paste("nope", vec![key("standard")], keys(&["core"])).await);
    assert_eq!(err.code(), ErrorCode::AutoSignupEnabled);
    w.set_auto_signup(false).await;
    let member = w.member("bob", &["standard"], &[]).await;
    let err = failure(
        w.services
            .invite_pasted(&w.actor(member).await, "nope", vec![key("standard")], keys(&["core"]), Vec::new(), false)
            .await,
    );
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert!(w.events_named("invite.created").await.is_empty());
}

// ---- accepting -----------------------------------------------------------------------------------

#[tokio::test]
async fn accepting_activates_the_account_and_turns_reserved_seats_into_assignments() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core", "dialer"]).await;
    let token = w.token_of(invite).await;
    let accepted = w.services.accept_invite(&token, &password("correct horse battery")).await.expect("accepts");
    assert_eq!(accepted.user_id, user);
    assert_eq!(accepted.products, keys(&["core", "dialer"]));
    assert_eq!(w.status(user).await, StatusKind::Pending);
    assert_eq!(w.products(user).await, keys(&["core", "dialer"]));
    assert_eq!(
        (w.seats_used("core").await, w.seats_used("dialer").await),
        (1, 1),
        "the seats stay taken, now as assignments"
    );
    let state = w.store.snapshot().await;
    assert!(state.reservations.keys().all(|(i, _)| *i != invite));
    assert!(state.users[&user].has_password);
    let logged_in =
        log_in(&w.services, &slug("acme"), &w.email("ann"), &password("correct horse battery"), Source::Console).await;
    assert_eq!(logged_in.expect("logs in").id, user);
    let event = w.events_named("invite.accepted").await.pop().expect("audited");
    assert_eq!(event.actor_id, Some(user), "the invitee is named as the actor");
}

#[tokio::test]
async fn an_invite_token_is_single_use() {
    let w = World::inviting().await;
    let (invite, _) = w.invite("ann", &["core"]).await;
    let token = w.token_of(invite).await;
    w.services.accept_invite(&token, &password("correct horse battery")).await.expect("accepts");
    let before = w.store.snapshot().await;
    let err = failure(w.services.accept_invite(&token, &password("another long password")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn an_expired_invite_token_is_refused() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core"]).await;
    let token = w.token_of(invite).await;
    w.clock.advance(TOKEN_LIFETIME);
    let err = failure(w.services.accept_invite(&token, &password("correct horse battery")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
    assert_eq!(w.status(user).await, StatusKind::Invited);
}

#[tokio::test]
async fn a_token_accepted_just_before_it_expires_still_works() {
    let w = World::inviting().await;
    let (invite, _) = w.invite("ann", &["core"]).await;
    let token = w.token_of(invite).await;
    w.clock.advance(TOKEN_LIFETIME - Duration::seconds(1));
    w.services.accept_invite(&token, &password("correct horse battery")).await.expect("accepts");
}

#[tokio::test]
async fn a_forged_token_is_refused() {
    let w = World::inviting().await;
    let (invite, _) = w.invite("ann", &["core"]).await;
    let token = w.token_of(invite).await;
    let forged = format!("{}0", &token[..token.len() - 1]);
    let forged = if forged == token { format!("{}1", &token[..token.len() - 1]) } else { forged };
    for bad in [forged.as_str(), "", hash_token(&token).as_str()] {
        let err = failure(w.services.accept_invite(bad, &password("correct horse battery")).await);
        assert_eq!(err.code(), ErrorCode::InvalidToken, "{bad:?}");
    }
}

#[tokio::test]
async fn a_sign_up_token_cannot_accept_a_member_invite() {
    let w = World::new().await;
    let change = roster_domain::org::SettingsChange {
        allowed_signup_domains: Some(vec![crate::support::domain("acme.test")]),
        ..Default::default()
    };
    w.services.update_settings(&w.system(), change).await.expect("changes");
    let request = roster_domain::services::SignupRequest {
        org: slug("acme"),
        email: w.email("ann"),
        first_name: person("Ann"),
        last_name: person("Self"),
        password: password("correct horse battery"),
    };
    w.services.sign_up(request).await.expect("signs up");
    let MailKind::SignupVerification { token, .. } = w.outbox().await.pop().expect("queued").kind else {
        panic!("verification")
    };
    let err = failure(w.services.accept_invite(&token, &password("correct horse battery")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
    // Nor is a sign-up an invite an admin lists, resends or revokes.
    let admin = w.admin_actor().await;
    assert!(w.services.list_invites(&admin).await.expect("lists").is_empty());
    let pending = w.store.snapshot().await.invites.keys().copied().next().expect("the verification");
    assert_eq!(failure(w.services.resend_invite(&admin, pending).await).code(), ErrorCode::NotFound);
    assert_eq!(failure(w.services.revoke_invite(&admin, pending).await).code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn listing_invites_shows_each_pending_one_with_the_person_invited() {
    let w = World::inviting().await;
    let (ann, _) = w.invite("ann", &["core"]).await;
    let (bob, _) = w.invite("bob", &["core", "dialer"]).await;
    let listed = w.services.list_invites(&w.admin_actor().await).await.expect("lists");
    let got: Vec<_> = listed.iter().map(|p| (p.invite.id, p.email.clone(), p.invite.products.len())).collect();
    assert_eq!(got, [(ann, w.email("ann"), 1), (bob, w.email("bob"), 2)]);
    let member = w.member("cid", &["standard"], &[]).await;
    assert_eq!(failure(w.services.list_invites(&w.actor(member).await).await).code(), ErrorCode::Forbidden);
}

// ---- resend and revoke ---------------------------------------------------------------------------

#[tokio::test]
async fn resending_issues_a_new_token_and_the_old_one_stops_working() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core"]).await;
    let old = w.token_of(invite).await;
    w.clock.advance(Duration::days(6));
    w.services.resend_invite(&w.admin_actor().await, invite).await.expect("resends");
    let new = w.token_of(invite).await;
    assert_ne!(old, new);
    assert_eq!(
        w.store.snapshot().await.invites[&invite].expires_at,
        T0 + Duration::days(6) + TOKEN_LIFETIME,
        "a fresh week"
    );
    let err = failure(w.services.accept_invite(&old, &password("correct horse battery")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
    w.clock.advance(Duration::days(3));
    w.services.accept_invite(&new, &password("correct horse battery")).await.expect("the new token works");
    assert_eq!(w.status(user).await, StatusKind::Pending);
    assert_eq!(w.events_named("invite.resent").await.len(), 1);
}

#[tokio::test]
async fn revoking_releases_the_seats_and_removes_the_invited_user() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core", "dialer"]).await;
    let token = w.token_of(invite).await;
    w.services.revoke_invite(&w.admin_actor().await, invite).await.expect("revokes");
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (0, 0));
    let state = w.store.snapshot().await;
    assert!(!state.users.contains_key(&user));
    assert!(!state.invites.contains_key(&invite));
    assert!(state.reservations.is_empty());
    let err = failure(w.services.accept_invite(&token, &password("correct horse battery")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
    w.invite("ann", &["core"]).await;
}

#[tokio::test]
async fn an_accepted_invite_can_be_neither_resent_nor_revoked() {
    let w = World::inviting().await;
    let (invite, _) = w.invite("ann", &["core"]).await;
    w.services.accept_invite(&w.token_of(invite).await, &password("correct horse battery")).await.expect("accepts");
    let admin = w.admin_actor().await;
    let err = failure(w.services.resend_invite(&admin, invite).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
    let err = failure(w.services.revoke_invite(&admin, invite).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(w.services.list_invites(&admin).await.expect("lists").is_empty());
}

#[tokio::test]
async fn a_scoped_admin_can_neither_resend_nor_revoke_invites() {
    let w = World::inviting().await;
    let sales = w.group("Sales", None).await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.services
        .set_roles(&w.system(), boss, vec![RoleAssignment { role: key("admin").into(), scope: Some(sales) }], None)
        .await
        .expect("grants");
    let (invite, _) = w.invite("ann", &["core"]).await;
    let boss = w.actor(boss).await;
    let err = failure(w.services.revoke_invite(&boss, invite).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "an invitee has no group: only org-wide admins manage them");
    let err = failure(w.services.resend_invite(&boss, invite).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn deleting_an_invited_user_withdraws_the_invite_and_its_reservations() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core"]).await;
    let token = w.token_of(invite).await;
    w.services.delete_user(&w.admin_actor().await, user, true).await.expect("deletes");
    assert_eq!(w.seats_used("core").await, 0);
    let err = failure(w.services.accept_invite(&token, &password("correct horse battery")).await);
    assert_eq!(err.code(), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn deactivating_an_invited_user_releases_the_seats_reserved_for_them() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core", "dialer"]).await;
    let token = w.token_of(invite).await;
    w.services.deactivate_user(&w.admin_actor().await, user, None).await.expect("deactivates");
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (0, 0));
    // Accepting afterwards never gives a deactivated user a license.
    let _ = w.services.accept_invite(&token, &password("correct horse battery")).await;
    assert!(w.products(user).await.is_empty());
    assert_eq!(w.status(user).await, StatusKind::Deactivated);
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (0, 0));
}

#[tokio::test]
async fn an_invite_row_joins_its_groups_at_once_and_the_invite_keeps_them() {
    let w = World::inviting().await;
    let (sales, east, _) = w.sales_east_support().await;
    let mut ann = w.invite_row("ann", &["core"]);
    ann.group_ids = vec![east, sales, east];
    let result = w.services.invite_members(&w.admin_actor().await, vec![ann], false).await.expect("invites");
    let invite = result.results[0].invite_id.expect("created");
    let state = w.store.snapshot().await;
    let stored = &state.invites[&invite];
    assert_eq!(stored.group_ids, [sales, east].into(), "each group once");
    let user = stored.user_id;
    assert_eq!(w.details(user).await.groups, [sales, east].into(), "joined while invited");
    assert_eq!(w.status(user).await, StatusKind::Invited);
    assert_eq!(w.events_named("membership.joined").await.len(), 2);
    let event = w.events_named("invite.created").await.pop().expect("audited");
    assert_eq!(event.details["group_ids"].as_array().map(Vec::len), Some(2));

    // Accepting keeps the memberships; revoking another invite takes its user's with the user.
    let token = w.token_of(invite).await;
    w.services.accept_invite(&token, &password("a long enough password")).await.expect("accepts");
    assert_eq!(w.details(user).await.groups, [sales, east].into());
    let mut bob = w.invite_row("bob", &["core"]);
    bob.group_ids = vec![sales];
    let result = w.services.invite_members(&w.admin_actor().await, vec![bob], false).await.expect("invites");
    let bob_invite = result.results[0].invite_id.expect("created");
    let bob_user = w.store.snapshot().await.invites[&bob_invite].user_id;
    w.services.revoke_invite(&w.admin_actor().await, bob_invite).await.expect("revokes");
    let state = w.store.snapshot().await;
    assert!(!state.users.contains_key(&bob_user));
    assert!(state.memberships.iter().all(|m| m.user_id != bob_user), "the memberships went with the user");
}

#[tokio::test]
async fn a_bad_group_in_any_row_refuses_every_row_and_writes_nothing() {
    let w = World::inviting().await;
    let (sales, _, _) = w.sales_east_support().await;
    let gone = w.group("Gone", None).await;
    w.services.delete_group(&w.system(), gone, false).await.expect("deletes");
    let other = w.other_org("beta").await;
    let theirs = other.group("Theirs", None).await;
    let before = w.store.snapshot().await;
    let mut good = w.invite_row("ann", &["core"]);
    good.group_ids = vec![sales];
    let mut bad = w.invite_row("bob", &["core"]);
    bad.group_ids = vec![sales, gone, w.root(), theirs];
    let err = failure(w.services.invite_members(&w.admin_actor().await, vec![good, bad], false).await);
    let ServiceError::Validation(fields) = err else { panic!("{err:?}") };
    assert_eq!(
        fields.iter().map(|f| (f.field.as_str(), f.code)).collect::<Vec<_>>(),
        [
            ("invites[1].group_ids[1]", "unknown_group"),
            ("invites[1].group_ids[2]", "root_group"),
            ("invites[1].group_ids[3]", "unknown_group"),
        ]
    );
    let err = failure(
        w.services
            .invite_pasted(
                &w.admin_actor().await,
                "cy@acme.test",
                vec![key("standard")],
                keys(&["core"]),
                vec![gone],
                false,
            )
            .await,
    );
    let ServiceError::Validation(fields) = err else { panic!("{err:?}") };
    assert_eq!(
        fields.iter().map(|f| (f.field.as_str(), f.code)).collect::<Vec<_>>(),
        [("group_ids[0]", "unknown_group")]
    );
    // Also a paste of only invalid entries.
    let err = failure(
        w.services
            .invite_pasted(&w.admin_actor().await, "nope", vec![key("standard")], keys(&["core"]), vec![gone], false)
            .await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn an_inviter_needs_manage_groups_over_every_group_of_every_row() {
    let w = World::inviting().await;
    let (sales, east, support) = w.sales_east_support().await;
    let recruiter = NewRole {
        key: key("recruiter"),
        name: label("Recruiter"),
        permissions: [Permission::ManageUsers, Permission::ManageLicenses, Permission::InviteConnections].into(),
        visibility: Visibility::All,
    };
    w.services.create_role(&w.system(), recruiter).await.expect("creates the role");
    let rita = w.member("rita", &["recruiter"], &[]).await;
    let roles = vec![
        RoleAssignment::org_wide(key("recruiter")),
        RoleAssignment { role: key("admin").into(), scope: Some(sales) },
    ];
    w.services.set_roles(&w.system(), rita, roles, None).await.expect("scopes");
    let rita = w.actor(rita).await;
    let before = w.store.snapshot().await;
    let mut row = w.invite_row("ann", &["core"]);
    row.group_ids = vec![east, support];
    let err = failure(w.services.invite_members(&rita, vec![row.clone()], false).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert_eq!(w.store.snapshot().await, before);
    row.group_ids = vec![east];
    let result = w.services.invite_members(&rita, vec![row], false).await.expect("invites");
    assert_eq!(result.results[0].status, InviteStatus::Created);
}
