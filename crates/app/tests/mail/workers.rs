//! Two workers — two pools, two SMTP connection pools, as two `roster` processes would have — on
//! one database deliver each message exactly once between them.

use std::collections::BTreeSet;
use std::time::Duration;

use roster_adapters_mail::testing::SmtpSink;
use roster_adapters_mail::{MailWorker, WorkerSettings};
use roster_domain::ids::MailId;

use crate::support::{WAIT, clock, databases, invite, organization, smtp, summary, worker};

const MESSAGES: usize = 40;

/// Ticks until a tick finds nothing due; the messages this worker sent.
async fn drain(worker: MailWorker) -> Vec<MailId> {
    let mut sent = Vec::new();
    loop {
        let report = worker.tick().await.expect("a tick");
        assert!(report.retrying.is_empty() && report.failed.is_empty(), "{report:?}");
        if report.sent.is_empty() {
            return sent;
        }
        sent.extend(report.sent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_database_deliver_each_message_once() {
    for t in databases("two_workers").await {
        let sink = SmtpSink::start().await;
        let clock = clock();
        let (services_a, db_a) = t.process(&clock).await;
        let (services_b, db_b) = t.process(&clock).await;
        let operator = organization(&services_a, "acme", 1000).await;
        let emails: Vec<String> = (0..MESSAGES).map(|i| format!("member{i:02}@example.com")).collect();
        invite(&services_a, &operator, &emails).await;
        let queued: BTreeSet<MailId> = t.pending(&clock).await.into_iter().map(|q| q.mail.id).collect();
        assert_eq!(queued.len(), MESSAGES);

        let settings = WorkerSettings { batch: 3, interval: Duration::from_millis(10), ..WorkerSettings::default() };
        let a = worker(&services_a, smtp(&sink.url()), settings);
        let b = worker(&services_b, smtp(&sink.url()), settings);
        let (sent_a, sent_b) = tokio::time::timeout(WAIT, async { tokio::join!(drain(a), drain(b)) })
            .await
            .expect("the workers empty the outbox");

        let (set_a, set_b): (BTreeSet<_>, BTreeSet<_>) =
            (sent_a.iter().copied().collect(), sent_b.iter().copied().collect());
        assert_eq!(set_a.len() + set_b.len(), sent_a.len() + sent_b.len(), "{}: no worker sent twice", t.engine);
        assert!(set_a.is_disjoint(&set_b), "{}: no message sent by both", t.engine);
        assert_eq!(set_a.union(&set_b).copied().collect::<BTreeSet<_>>(), queued, "{}: every message sent", t.engine);

        let received = sink.received();
        assert_eq!(received.len(), MESSAGES, "{}", t.engine);
        let ids: BTreeSet<String> = received.iter().map(|m| summary(&m.data).0).collect();
        assert_eq!(ids.len(), MESSAGES, "{}: each Message-ID once", t.engine);
        let recipients: BTreeSet<String> = received.iter().map(|m| summary(&m.data).1).collect();
        assert_eq!(recipients, emails.iter().cloned().collect(), "{}", t.engine);
        assert!(t.pending(&clock).await.is_empty(), "{}", t.engine);
        eprintln!("{}: worker A sent {}, worker B sent {}", t.engine, sent_a.len(), sent_b.len());
        db_a.close().await.expect("closes");
        db_b.close().await.expect("closes");
        t.finish().await;
    }
}
