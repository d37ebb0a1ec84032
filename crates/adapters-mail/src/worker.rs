//! The outbox worker: calls `Services::deliver_due_mail` every [`WorkerSettings::interval`] (at
//! once again while a tick comes back full), until told to stop.
//!
//! Delivery is at least once and never lost (ADR 0007): a tick claims due messages with a lease,
//! sends them, and records each outcome; a worker that dies in between leaves its claimed
//! messages due again when the lease ends. Two guards keep a slow server from turning that into
//! duplicates: every send has a deadline ([`WorkerSettings::send_deadline`], a timeout is a
//! transient failure), and a tick claims at most [`WorkerSettings::batch`] messages, so that
//! `batch × send_deadline` stays under the lease — the last message of a tick is always sent
//! before another worker could claim it again.
//!
//! On shutdown the worker stops between ticks; a tick in progress gets
//! [`WorkerSettings::shutdown_grace`] to finish, after which its remaining claimed messages wait
//! for their lease to end and are sent by the next worker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use roster_domain::Services;
use roster_domain::mail::{OutgoingMail, RetryPolicy};
use roster_domain::ports::{MailError, Mailer};
use roster_domain::services::DeliveryReport;
use tokio::sync::watch;

use crate::error::MailSetupError;

/// How the worker paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// The pause between ticks that found less than a full batch.
    pub interval: Duration,
    /// The most messages one tick claims.
    pub batch: u32,
    /// The longest one message may take to send.
    pub send_deadline: Duration,
    /// How long shutdown waits for the tick in progress.
    pub shutdown_grace: Duration,
    /// Retries, backoff and the claim's lease.
    pub policy: RetryPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            batch: 10,
            send_deadline: Duration::from_secs(20),
            shutdown_grace: Duration::from_secs(10),
            policy: RetryPolicy::default(),
        }
    }
}

impl WorkerSettings {
    /// Checks that the settings keep delivery from duplicating messages (see the module docs).
    ///
    /// # Errors
    /// [`MailSetupError::Worker`] for a zero batch or interval, or a batch that could outlast the
    /// lease.
    pub fn check(&self) -> Result<(), MailSetupError> {
        if self.batch == 0 || self.interval.is_zero() || self.send_deadline.is_zero() {
            return Err(MailSetupError::Worker("the batch, interval and send deadline must not be zero".to_owned()));
        }
        let worst = self.send_deadline.saturating_mul(self.batch);
        let lease = Duration::try_from(self.policy.lease).unwrap_or(Duration::ZERO);
        if worst >= lease {
            return Err(MailSetupError::Worker(format!(
                "{} messages of up to {} each could outlast the {} lease",
                self.batch,
                seconds(self.send_deadline),
                seconds(lease)
            )));
        }
        Ok(())
    }
}

/// Delivers the outbox in the background.
#[derive(Debug, Clone)]
pub struct MailWorker {
    services: Services,
    mailer: Arc<Deadline>,
    settings: WorkerSettings,
    /// How many ticks have ended (delivered or not), for whoever waits for the worker's progress.
    ticks: Arc<watch::Sender<u64>>,
}

impl MailWorker {
    /// A worker sending through `mailer`.
    ///
    /// # Errors
    /// The settings fail [`WorkerSettings::check`].
    pub fn new(services: Services, mailer: Arc<dyn Mailer>, settings: WorkerSettings) -> Result<Self, MailSetupError> {
        settings.check()?;
        let mailer = Arc::new(Deadline { inner: mailer, limit: settings.send_deadline });
        Ok(Self { services, mailer, settings, ticks: Arc::new(watch::Sender::new(0)) })
    }

    /// The number of ticks ended so far, updated after each one. A tick that ends after a
    /// message was queued may have started before; the one after it has not.
    pub fn ticks(&self) -> watch::Receiver<u64> {
        self.ticks.subscribe()
    }

    /// One tick: sends up to a batch of due messages and logs what happened.
    ///
    /// # Errors
    /// Storage failures (delivery failures are recorded per message instead).
    pub async fn tick(&self) -> roster_domain::error::ServiceResult<DeliveryReport> {
        let outcome =
            self.services.deliver_due_mail(self.mailer.as_ref(), &self.settings.policy, self.settings.batch).await;
        self.ticks.send_modify(|n| *n += 1);
        let report = outcome?;
        if !report.sent.is_empty() {
            tracing::info!(sent = report.sent.len(), "mail delivered");
        }
        for id in &report.retrying {
            tracing::warn!(mail = %id, "mail delivery failed; it will be retried");
        }
        for id in &report.failed {
            tracing::error!(mail = %id, "mail delivery failed for good");
        }
        Ok(report)
    }

    /// Ticks until `shutdown` completes (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        tracing::info!(interval = ?self.settings.interval, batch = self.settings.batch, "mail worker started");
        loop {
            let tick = self.tick();
            tokio::pin!(tick);
            let outcome = tokio::select! {
                biased;
                () = &mut shutdown => {
                    if tokio::time::timeout(self.settings.shutdown_grace, tick).await.is_err() {
                        tracing::warn!("mail worker stopped mid-tick; its claimed messages are sent after their lease");
                    }
                    break;
                }
                outcome = &mut tick => outcome,
            };
            let full = match outcome {
                Ok(report) => report.sent.len() + report.retrying.len() + report.failed.len() >= self.batch_len(),
                Err(e) => {
                    tracing::warn!(error = %e, "mail delivery tick failed; trying again later");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.settings.interval) => {}
            }
        }
        tracing::info!("mail worker stopped");
    }

    fn batch_len(&self) -> usize {
        usize::try_from(self.settings.batch).unwrap_or(usize::MAX)
    }
}

/// A mailer whose sends end within `limit`: a send still running then is a transient failure.
#[derive(Clone)]
struct Deadline {
    inner: Arc<dyn Mailer>,
    limit: Duration,
}

impl std::fmt::Debug for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline").field("limit", &self.limit).finish_non_exhaustive()
    }
}

#[async_trait]
impl Mailer for Deadline {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        match tokio::time::timeout(self.limit, self.inner.send(mail)).await {
            Ok(result) => result,
            Err(_) => Err(MailError::Transient(format!("not sent within {}", seconds(self.limit)))),
        }
    }
}

/// A duration as people write it in a message: `2.5 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_keep_a_batch_inside_the_lease() {
        WorkerSettings::default().check().expect("the defaults are consistent");
        let too_slow = WorkerSettings { send_deadline: Duration::from_secs(60), ..WorkerSettings::default() };
        assert!(too_slow.check().is_err());
        assert!(WorkerSettings { batch: 0, ..WorkerSettings::default() }.check().is_err());
    }
}
