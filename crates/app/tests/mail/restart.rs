//! Mail queued before a crash or a stop is delivered after the restart, once.

use roster_adapters_mail::testing::SmtpSink;
use roster_adapters_mail::{MailTransport, SmtpUrl, WorkerSettings};
use roster_app::server;
use roster_domain::mail::RetryPolicy;
use roster_domain::ports::Clock as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::{
    PUBLIC_URL, WAIT, clock, databases, file_drop, invite, organization, smtp, summary, ticks_after, token, worker,
};

/// A worker claims the message and dies while sending it (its task is aborted while the SMTP
/// server it talks to stays silent); the process stops. After a restart on the same database,
/// the message is hidden until the dead worker's lease ends, then a new worker delivers it —
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_claimed_by_a_worker_that_crashed_is_delivered_once_after_a_restart() {
    for t in databases("crash_restart").await {
        let sink = SmtpSink::start().await;
        // The server the doomed worker talks to: it accepts, says when, and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let silent_url = format!("smtp://{}", silent.local_addr().expect("an address"));
        let (connected, on_connect) = oneshot::channel::<()>();
        let held = tokio::spawn(async move {
            let (stream, _) = silent.accept().await.expect("a connection");
            connected.send(()).ok();
            std::future::pending::<()>().await;
            drop(stream);
        });

        let first_clock = clock();
        let (services, db) = t.process(&first_clock).await;
        let operator = organization(&services, "acme", 10).await;
        invite(&services, &operator, &["ada@example.com".to_owned()]).await;
        let queued = t.pending(&first_clock).await;
        assert_eq!(queued.len(), 1, "{}", t.engine);

        let doomed = worker(&services, smtp(&silent_url), WorkerSettings::default());
        let tick = tokio::spawn(async move { doomed.tick().await });
        // The send has started, so the claim is committed: now the worker dies.
        tokio::time::timeout(WAIT, on_connect).await.expect("the worker connects").expect("connected");
        tick.abort();
        assert!(tick.await.expect_err("aborted").is_cancelled());
        held.abort();
        db.close().await.expect("the first process closes its pool");

        // The restart: a new pool and a new worker, a minute later.
        let later = roster_testkit::ManualClock::new(first_clock.now() + time::Duration::minutes(1));
        let (services, db) = t.process(&later).await;
        let survivor = worker(&services, smtp(&sink.url()), WorkerSettings::default());
        assert_eq!(survivor.tick().await.expect("a tick"), Default::default(), "{}: hidden by the lease", t.engine);
        later.advance(RetryPolicy::default().lease);
        assert_eq!(survivor.tick().await.expect("a tick").sent, vec![queued[0].mail.id], "{}", t.engine);
        later.advance(time::Duration::days(1));
        assert_eq!(survivor.tick().await.expect("a tick"), Default::default(), "{}: sent once", t.engine);

        let received = sink.received();
        assert_eq!(received.len(), 1, "{}", t.engine);
        let (message_id, to, text) = summary(&received[0].data);
        assert_eq!(message_id, format!("<{}@acme.test>", queued[0].mail.id));
        assert_eq!(to, "ada@example.com");
        assert!(text.contains(&format!("{PUBLIC_URL}/accept-invite?token={}", token(&queued[0]))), "{text}");
        assert!(t.pending(&later).await.is_empty(), "{}: nothing left pending", t.engine);
        db.close().await.expect("closes");
        t.finish().await;
    }
}

/// Invitations queued by a process that stopped before its worker ever ran (here: built but
/// never served) are delivered by the next `roster serve` on the same database, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_before_a_stop_is_delivered_once_by_the_next_roster_serve() {
    for t in databases("stop_restart").await {
        let sink = SmtpSink::start().await;
        let first = server::build(&t.serve_config(file_drop(t.scratch.path()))).await.expect("builds");
        let services = first.state.services.clone();
        // The demo organization has auto sign-up on, which refuses invites: a second one.
        let operator = organization(&services, "acme", 10).await;
        let emails: Vec<String> = (0..3).map(|i| format!("member{i}@example.com")).collect();
        invite(&services, &operator, &emails).await;
        let server::Application { db, .. } = first;
        db.close().await.expect("the first process stops");
        assert!(
            std::fs::read_dir(t.scratch.path().join("outbox")).expect("the folder").next().is_none(),
            "{}: the first process never delivered anything",
            t.engine
        );

        let smtp = MailTransport::Smtp(SmtpUrl::parse(&sink.url()).expect("a URL"));
        let second = server::build(&t.serve_config(smtp)).await.expect("builds");
        let mut ticks = second.mail_worker.ticks();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server::serve(second, async {
            stopped.await.ok();
        }));
        let received = sink.wait_for(3, WAIT).await;
        // Two more ticks: a duplicate would have shown by now.
        let now = *ticks.borrow();
        ticks_after(&mut ticks, now, 2).await;
        stop.send(()).expect("the server listens");
        tokio::time::timeout(WAIT, serving).await.expect("stops").expect("no panic").expect("stops cleanly");

        assert_eq!(sink.received().len(), 3, "{}", t.engine);
        let mut recipients: Vec<String> = received.iter().map(|m| summary(&m.data).1).collect();
        recipients.sort();
        assert_eq!(recipients, emails, "{}", t.engine);
        for m in &received {
            let (_, _, text) = summary(&m.data);
            assert!(text.contains(&format!("{PUBLIC_URL}/accept-invite?token=")), "{text}");
        }
        assert!(t.pending(&clock()).await.is_empty(), "{}", t.engine);
        t.finish().await;
    }
}
