//! `roster serve`'s mail: the file drop by default, a worker started with the server and stopped
//! with it, and mail settings checked before anything is served.

use roster_adapters_mail::MailTransport;
use roster_app::server;
use tokio::sync::oneshot;

use crate::support::{PUBLIC_URL, WAIT, databases, file_drop, invite, organization, summary, ticks_after};

#[tokio::test]
async fn roster_serve_writes_each_invitation_as_an_eml_file_and_stops_its_worker_on_shutdown() {
    for t in databases("serve_file_drop").await {
        let app = server::build(&t.serve_config(file_drop(t.scratch.path()))).await.expect("builds");
        let services = app.state.services.clone();
        let mut ticks = app.mail_worker.ticks();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server::serve(app, async {
            stopped.await.ok();
        }));

        // The demo organization has auto sign-up on, which refuses invites: a second one.
        let operator = organization(&services, "acme", 10).await;
        invite(&services, &operator, &["ada@example.com".to_owned()]).await;
        // The tick after the one running now started after the invitation was committed.
        let now = *ticks.borrow();
        ticks_after(&mut ticks, now, 2).await;

        let outbox = t.scratch.path().join("outbox");
        let files: Vec<_> =
            std::fs::read_dir(&outbox).expect("the folder").map(|e| e.expect("an entry").path()).collect();
        assert_eq!(files.len(), 1, "{}: {files:?}", t.engine);
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        let (message_id, to, text) = summary(&std::fs::read(&files[0]).expect("readable"));
        let stem = files[0].file_stem().and_then(|s| s.to_str()).expect("a name").to_owned();
        assert_eq!(message_id, format!("<{stem}@acme.test>"), "named by the mail id");
        assert_eq!(to, "ada@example.com");
        assert!(text.contains(&format!("{PUBLIC_URL}/accept-invite?token=")), "{text}");

        stop.send(()).expect("the server listens");
        tokio::time::timeout(WAIT, serving).await.expect("stops").expect("no panic").expect("stops cleanly");
        t.finish().await;
    }
}

#[tokio::test]
async fn an_unusable_outbox_folder_stops_roster_serve_before_it_serves() {
    for t in databases("serve_bad_outbox").await {
        let file = t.scratch.path().join("a-file");
        std::fs::write(&file, b"not a folder").expect("written");
        let config = t.serve_config(MailTransport::FileDrop(file.join("outbox")));
        let error = server::build(&config).await.expect_err("refused");
        let text = format!("{error:#}");
        assert!(text.contains("ROSTER_OUTBOX_DIR") && text.contains("a-file"), "{text}");
        t.finish().await;
    }
}
