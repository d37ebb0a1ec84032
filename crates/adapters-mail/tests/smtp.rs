//! `SmtpMailer` through the outbox worker against a real SMTP server on 127.0.0.1 (the
//! `SmtpSink` this crate ships for tests): what arrives, and how 4xx, 5xx, refused connections
//! and silent servers read for the retry policy.

mod support;

use std::sync::Arc;
use std::time::Duration;

use roster_adapters_mail::testing::{SmtpSink, Stage};
use roster_adapters_mail::{MailWorker, SmtpMailer, SmtpUrl, WorkerSettings};
use roster_domain::mail::{DeliveryState, RetryPolicy};
use roster_domain::ports::{MailError, Mailer};
use support::{PUBLIC_URL, T0, composer, read_back, token, world};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(10);

fn smtp(url: &str) -> Arc<dyn Mailer> {
    Arc::new(SmtpMailer::new(&SmtpUrl::parse(url).expect("a valid URL"), composer()).expect("a mailer"))
}

fn worker(w: &support::World, mailer: Arc<dyn Mailer>, settings: WorkerSettings) -> MailWorker {
    MailWorker::new(w.services.clone(), mailer, settings).expect("valid settings")
}

#[tokio::test]
async fn a_queued_invitation_arrives_with_its_headers_both_parts_and_the_accept_link() {
    let sink = SmtpSink::start().await;
    let w = world("Acme & Sons").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    let worker = worker(&w, smtp(&sink.url()), WorkerSettings::default());

    let report = worker.tick().await.expect("a tick");
    assert_eq!(report.sent, vec![mail.id]);
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].from, "roster@acme.test");
    assert_eq!(received[0].to, vec!["ada@example.com".to_owned()]);

    let message = read_back(&received[0].data);
    assert_eq!(message.from, "Roster <roster@acme.test>");
    assert_eq!(message.to, "ada@example.com");
    assert_eq!(message.subject, "Acme & Sons invited you to Acme & Sons on Roster");
    assert_eq!(message.message_id, format!("<{}@acme.test>", mail.id));
    assert_eq!(mailparse::dateparse(&message.date).expect("an RFC 5322 date"), T0.unix_timestamp());
    let link = format!("{PUBLIC_URL}/accept-invite?token={}", token(&mail));
    assert!(message.text.contains(&link), "{}", message.text);
    assert!(message.html.contains(&format!("<a href=\"{link}\">")), "{}", message.html);
    // The organization's name is data: escaped in HTML, as it is in plain text.
    assert!(message.html.contains("Acme &amp; Sons") && !message.html.contains("Acme & Sons"));
    assert!(message.text.contains("Acme & Sons"));

    assert!(matches!(w.delivery(mail.id).await, DeliveryState::Sent { attempts: 1, .. }));
    assert_eq!(worker.tick().await.expect("a tick"), Default::default(), "nothing is due any more");
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_4xx_reply_is_retried_after_the_backoff_and_the_message_arrives_once() {
    let sink = SmtpSink::start().await;
    let w = world("Acme").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    let policy = RetryPolicy::default();
    let worker = worker(&w, smtp(&sink.url()), WorkerSettings::default());

    sink.fail_next(Stage::Data, 451, "4.3.0 try again later");
    let report = worker.tick().await.expect("a tick");
    assert_eq!(report.retrying, vec![mail.id]);
    assert_eq!((sink.refused(), sink.received().len()), (1, 0), "transmitted, then refused");
    let DeliveryState::Pending { attempts, next_attempt_at, last_error } = w.delivery(mail.id).await else {
        panic!("a 4xx keeps the message pending")
    };
    assert_eq!((attempts, next_attempt_at), (1, T0 + policy.first_delay));
    assert!(last_error.as_deref().is_some_and(|e| e.contains("451")), "{last_error:?}");

    // Not before the backoff; after it, once.
    assert_eq!(worker.tick().await.expect("a tick"), Default::default());
    w.clock.advance(policy.first_delay);
    assert_eq!(worker.tick().await.expect("a tick").sent, vec![mail.id]);
    w.clock.advance(policy.max_delay);
    assert_eq!(worker.tick().await.expect("a tick"), Default::default());
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert!(read_back(&received[0].data).text.contains(token(&mail)));
    assert!(matches!(w.delivery(mail.id).await, DeliveryState::Sent { attempts: 2, .. }));
}

#[tokio::test]
async fn a_4xx_at_any_stage_is_transient_and_repeated_ones_exhaust_the_policy() {
    let sink = SmtpSink::start().await;
    let w = world("Acme").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
    let worker = worker(&w, smtp(&sink.url()), WorkerSettings { policy, ..WorkerSettings::default() });
    sink.fail_next(Stage::Mail, 421, "4.7.0 too busy");
    sink.fail_next(Stage::Rcpt, 450, "4.2.1 mailbox busy");
    sink.fail_next(Stage::Data, 452, "4.3.1 out of space");
    for attempt in 1..=3 {
        let report = worker.tick().await.expect("a tick");
        let expected = if attempt < 3 { &report.retrying } else { &report.failed };
        assert_eq!(expected, &vec![mail.id], "attempt {attempt}: {report:?}");
        w.clock.advance(policy.max_delay);
    }
    let DeliveryState::Failed { attempts, error, .. } = w.delivery(mail.id).await else { panic!("given up") };
    assert_eq!(attempts, 3);
    assert!(error.contains("452"), "{error}");
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_5xx_reply_fails_the_message_at_once_and_it_is_never_sent_again() {
    let sink = SmtpSink::start().await;
    let w = world("Acme").await;
    let refused = w.invite("Ada Lovelace", "nobody@example.com").await;
    let worker = worker(&w, smtp(&sink.url()), WorkerSettings::default());
    sink.fail_next(Stage::Rcpt, 550, "5.1.1 no such mailbox");

    let report = worker.tick().await.expect("a tick");
    assert_eq!(report.failed, vec![refused.id]);
    let DeliveryState::Failed { attempts, error, .. } = w.delivery(refused.id).await else { panic!("given up") };
    assert_eq!(attempts, 1);
    assert!(error.contains("550") && error.contains("no such mailbox"), "{error}");

    // The next message goes through on the same server; the refused one is not retried.
    let next = w.invite("Grace Hopper", "grace@example.com").await;
    w.clock.advance(time::Duration::days(1));
    assert_eq!(worker.tick().await.expect("a tick").sent, vec![next.id]);
    assert_eq!(worker.tick().await.expect("a tick"), Default::default());
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, vec!["grace@example.com".to_owned()]);
}

#[tokio::test]
async fn a_5xx_to_the_message_content_is_permanent_too() {
    let sink = SmtpSink::start().await;
    let w = world("Acme").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    let worker = worker(&w, smtp(&sink.url()), WorkerSettings::default());
    sink.fail_next(Stage::Data, 554, "5.6.0 content refused");
    assert_eq!(worker.tick().await.expect("a tick").failed, vec![mail.id]);
    assert_eq!(sink.refused(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").await.expect("binds").local_addr().expect("an address").port();
    let mailer = smtp(&format!("smtp://127.0.0.1:{port}"));
    let w = world("Acme").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    match mailer.send(&mail).await {
        Err(MailError::Transient(text)) => assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}"),
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_transient_failure_after_the_send_deadline() {
    // Accepts connections and says nothing: the client waits for a greeting that never comes.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = silent.local_addr().expect("an address");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let w = world("Acme").await;
    let mail = w.invite("Ada Lovelace", "ada@example.com").await;
    let settings = WorkerSettings { send_deadline: Duration::from_millis(300), ..WorkerSettings::default() };
    let worker = worker(&w, smtp(&format!("smtp://{address}")), settings);
    let report = tokio::time::timeout(WAIT, worker.tick()).await.expect("the deadline ends the send").expect("a tick");
    assert_eq!(report.retrying, vec![mail.id]);
    let DeliveryState::Pending { last_error, .. } = w.delivery(mail.id).await else { panic!("pending") };
    assert!(last_error.as_deref().is_some_and(|e| e.contains("not sent within")), "{last_error:?}");
    held.abort();
}

#[tokio::test]
async fn the_running_worker_delivers_new_mail_and_stops_on_shutdown() {
    let sink = SmtpSink::start().await;
    let w = world("Acme").await;
    let settings = WorkerSettings { interval: Duration::from_millis(50), batch: 2, ..WorkerSettings::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker(&w, smtp(&sink.url()), settings).run(async {
        stopped.await.ok();
    }));
    // Five messages with a batch of two: the worker keeps ticking while batches come back full.
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(w.invite("Ada Lovelace", &format!("ada{i}@example.com")).await.id);
    }
    let received = sink.wait_for(5, WAIT).await;
    let mut recipients: Vec<_> = received.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    assert_eq!(recipients, (0..5).map(|i| format!("ada{i}@example.com")).collect::<Vec<_>>());
    stop.send(()).expect("the worker listens");
    tokio::time::timeout(WAIT, running).await.expect("the worker stops").expect("without panicking");
    for id in ids {
        assert!(matches!(w.delivery(id).await, DeliveryState::Sent { attempts: 1, .. }));
    }
}
