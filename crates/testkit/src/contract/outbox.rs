//! `Outbox`: queued mail and its delivery state.

use std::sync::Arc;

use time::Duration;

use roster_domain::ids::{InviteId, MailId};
use roster_domain::mail::{DeliveryState, MailKind, OutgoingMail, QueuedMail};
use roster_domain::ports::Store;

use super::seed::{self, T0, uid};
use super::{assert_missing, begin, commit};

fn ids(due: &[QueuedMail]) -> Vec<MailId> {
    due.iter().map(|q| q.mail.id).collect()
}

/// A queued message is pending and due at its `created_at`; `due_mail` answers the pending
/// messages of every organization whose `next_attempt_at` has come, oldest first (by
/// `created_at`, then id — not by enqueue order), at most `limit`, each with its state.
pub async fn due_mail_is_the_pending_mail_whose_time_has_come_oldest_first(store: Arc<dyn Store>) {
    let (a, b) = (seed::org(1, "alpha"), seed::org(2, "beta"));
    let mut tx = begin(&store).await;
    seed::insert_org_with_root(tx.as_mut(), &a).await;
    seed::insert_org_with_root(tx.as_mut(), &b).await;
    // Enqueued out of time order, with a tie on `created_at` broken by id.
    let later = seed::mail(a.id, uid(1, 5), "later@example.com", T0 + Duration::hours(1));
    let earlier = seed::mail(b.id, uid(2, 9), "earlier@example.com", T0);
    let tied = seed::mail(a.id, uid(1, 3), "tied@example.com", T0 + Duration::hours(1));
    let future = seed::mail(a.id, uid(1, 7), "future@example.com", T0 + Duration::hours(5));
    for m in [&later, &earlier, &tied, &future] {
        tx.enqueue_mail(m).await.expect("enqueues");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    let now = T0 + Duration::hours(1);
    let due = tx.due_mail(now, 10).await.expect("reads");
    assert_eq!(ids(&due), [earlier.id, tied.id, later.id], "oldest first across organizations");
    let fresh =
        |m: &OutgoingMail| DeliveryState::Pending { attempts: 0, next_attempt_at: m.created_at, last_error: None };
    assert_eq!(due[0], QueuedMail { mail: earlier.clone(), delivery: fresh(&earlier) });
    assert_eq!(ids(&tx.due_mail(now, 2).await.expect("reads")), [earlier.id, tied.id]);
    assert_eq!(ids(&tx.due_mail(T0 - Duration::microseconds(1), 10).await.expect("reads")), []);

    let retry = DeliveryState::Pending {
        attempts: 2,
        next_attempt_at: T0 + Duration::hours(3),
        last_error: Some("421 try later".to_owned()),
    };
    tx.set_delivery(earlier.id, &retry).await.expect("records a retry");
    tx.set_delivery(tied.id, &DeliveryState::Sent { at: now, attempts: 1 }).await.expect("records a send");
    let failed = DeliveryState::Failed { at: now, attempts: 8, error: "550 no such user".to_owned() };
    tx.set_delivery(future.id, &failed).await.expect("records a failure");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(ids(&tx.due_mail(now, 10).await.expect("reads")), [later.id], "the retry waits, sent is done");
    let at_retry = tx.due_mail(T0 + Duration::days(1), 10).await.expect("reads");
    assert_eq!(
        at_retry,
        vec![
            QueuedMail { mail: earlier, delivery: retry },
            QueuedMail { mail: later.clone(), delivery: fresh(&later) }
        ]
    );
}

/// `set_delivery` on a message that was never queued is `Missing { kind: "mail" }`.
pub async fn set_delivery_records_the_state_of_an_existing_message(store: Arc<dyn Store>) {
    let mut tx = begin(&store).await;
    let sent = DeliveryState::Sent { at: T0, attempts: 1 };
    assert_missing(tx.set_delivery(MailId::from_uuid(uid(1, 1)), &sent).await, "mail", "an unknown message");
}

/// A message keeps its token while it may still be sent — queued, claimed (a lease), waiting
/// for a retry — and loses it in the very write that records it sent or given up; the rest of
/// the message (recipient, kind, names, dates) stays, so the outbox still shows what was sent
/// to whom. `mail` reads a message in any state; `None` for one never queued.
pub async fn a_settled_message_keeps_no_token_and_a_pending_one_keeps_it(store: Arc<dyn Store>) {
    let org = seed::org(1, "alpha");
    let mut tx = begin(&store).await;
    seed::insert_org_with_root(tx.as_mut(), &org).await;
    let invitation = |n: u64, to: &str| OutgoingMail {
        kind: MailKind::Invitation {
            invite_id: InviteId::from_uuid(uid(1, 100 + n)),
            token: format!("secret-token-{n}"),
            org_name: "Alpha".to_owned(),
            invited_by: "Ada Admin".to_owned(),
            expires_at: T0 + Duration::days(7),
        },
        ..seed::mail(org.id, uid(1, n), to, T0)
    };
    let sent = invitation(1, "sent@example.com");
    let failed = OutgoingMail {
        kind: MailKind::SignupVerification { token: "secret-token-2".to_owned(), org_name: "Alpha".to_owned() },
        ..seed::mail(org.id, uid(1, 2), "failed@example.com", T0)
    };
    let retried = invitation(3, "retried@example.com");
    let welcome = seed::mail(org.id, uid(1, 4), "welcome@example.com", T0);
    tx.enqueue_mails(&[sent.clone(), failed.clone(), retried.clone(), welcome.clone()]).await.expect("enqueues");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let lease = DeliveryState::Pending { attempts: 0, next_attempt_at: T0 + Duration::minutes(5), last_error: None };
    tx.set_delivery(sent.id, &lease).await.expect("claims");
    assert_eq!(tx.mail(sent.id).await.expect("reads").map(|q| q.mail), Some(sent.clone()), "a lease keeps the token");
    let retry = DeliveryState::Pending {
        attempts: 1,
        next_attempt_at: T0 + Duration::minutes(1),
        last_error: Some("421 try later".to_owned()),
    };
    tx.set_delivery(retried.id, &retry).await.expect("records a retry");
    let done = DeliveryState::Sent { at: T0 + Duration::minutes(1), attempts: 1 };
    tx.set_delivery(sent.id, &done).await.expect("records a send");
    let gave_up = DeliveryState::Failed { at: T0 + Duration::minutes(1), attempts: 1, error: "550 no".to_owned() };
    tx.set_delivery(failed.id, &gave_up).await.expect("records a failure");
    tx.set_delivery(welcome.id, &done).await.expect("records a send");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let read = |q: Option<QueuedMail>| q.expect("a queued message");
    let got = read(tx.mail(sent.id).await.expect("reads"));
    assert_eq!(
        got,
        QueuedMail { mail: OutgoingMail { kind: sent.kind.without_secrets(), ..sent.clone() }, delivery: done.clone() }
    );
    assert!(!got.mail.kind.holds_secret(), "sent: no token at rest");
    let got = read(tx.mail(failed.id).await.expect("reads"));
    assert_eq!(got.mail, OutgoingMail { kind: failed.kind.without_secrets(), ..failed.clone() }, "given up: no token");
    assert_eq!(got.delivery, gave_up);
    let got = read(tx.mail(retried.id).await.expect("reads"));
    assert_eq!(got, QueuedMail { mail: retried.clone(), delivery: retry.clone() }, "a retry still carries its token");
    let due = tx.due_mail(T0 + Duration::hours(1), 10).await.expect("reads");
    assert_eq!(due, vec![QueuedMail { mail: retried, delivery: retry }], "and is redelivered with it");
    assert_eq!(read(tx.mail(welcome.id).await.expect("reads")).mail, welcome, "nothing else changes");
    assert_eq!(tx.mail(MailId::from_uuid(uid(1, 99))).await.expect("reads"), None);
}
