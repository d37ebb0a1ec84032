//! `FileDropMailer`: one valid `.eml` per message, named by the mail id, written whole, and a
//! redelivery replaces the file instead of adding one.

mod support;

use std::path::Path;
use std::sync::Arc;

use roster_adapters_mail::{FileDropMailer, MailSetupError, MailTransport, MailWorker, WorkerSettings, build_mailer};
use roster_domain::mail::DeliveryState;
use roster_domain::ports::Mailer;
use support::{PUBLIC_URL, composer, read_back, token, world};

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a readable folder")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_worker_writes_each_queued_message_as_a_valid_eml_named_by_its_id() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let outbox = dir.path().join("outbox");
    let mailer = FileDropMailer::new(outbox.clone(), composer()).expect("creates the folder");
    let w = world("Acme <Labs>").await;
    let ada = w.invite("Ada Lovelace", "ada@example.com").await;
    let grace = w.invite("Grace Hopper", "grace@example.com").await;
    let worker =
        MailWorker::new(w.services.clone(), Arc::new(mailer.clone()), WorkerSettings::default()).expect("a worker");

    let mut sent = worker.tick().await.expect("a tick").sent;
    sent.sort();
    let mut expected = vec![ada.id, grace.id];
    expected.sort();
    assert_eq!(sent, expected);
    let mut files = vec![format!("{}.eml", ada.id), format!("{}.eml", grace.id)];
    files.sort();
    assert_eq!(names(&outbox), files, "one file per message and no temporary file left");

    let message = read_back(&std::fs::read(mailer.path_of(ada.id)).expect("the file"));
    assert_eq!(message.to, "ada@example.com");
    assert_eq!(message.from, "Roster <roster@acme.test>");
    assert_eq!(message.message_id, format!("<{}@acme.test>", ada.id));
    let link = format!("{PUBLIC_URL}/accept-invite?token={}", token(&ada));
    assert!(message.text.contains(&link));
    assert!(message.html.contains(&format!("href=\"{link}\"")));
    assert!(message.html.contains("Acme &lt;Labs&gt;") && !message.html.contains("<Labs>"));
    assert!(matches!(w.delivery(ada.id).await, DeliveryState::Sent { attempts: 1, .. }));
    // The file has the link; the outbox no longer keeps the token, only what went to whom.
    let kept = w.store.snapshot().await.outbox;
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|m| !m.kind.holds_secret()), "{kept:?}");
    assert!(kept.iter().any(|m| m.id == ada.id && m.to.as_str() == "ada@example.com"));
}

#[tokio::test]
async fn delivering_the_same_message_again_replaces_its_file() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mailer = FileDropMailer::new(dir.path().to_owned(), composer()).expect("a mailer");
    let w = world("Acme").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    mailer.send(&mail).await.expect("written");
    mailer.send(&mail).await.expect("written again");
    assert_eq!(names(dir.path()), vec![format!("{}.eml", mail.id)]);
    let message = read_back(&std::fs::read(mailer.path_of(mail.id)).expect("the file"));
    assert!(message.text.contains(token(&mail)));
}

#[tokio::test]
async fn a_folder_removed_while_running_is_created_again() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let outbox = dir.path().join("outbox");
    let mailer = FileDropMailer::new(outbox.clone(), composer()).expect("a mailer");
    std::fs::remove_dir(&outbox).expect("removed");
    let w = world("Acme").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    mailer.send(&mail).await.expect("written");
    assert!(mailer.path_of(mail.id).is_file());
}

#[test]
fn an_outbox_folder_that_cannot_be_created_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").expect("written");
    let Err(error) = build_mailer(&MailTransport::FileDrop(file.join("outbox")), composer()) else {
        panic!("a folder inside a file must be refused")
    };
    assert!(matches!(error, MailSetupError::OutboxDir { .. }), "{error:?}");
    assert!(error.to_string().contains("a-file"), "{error}");
}
