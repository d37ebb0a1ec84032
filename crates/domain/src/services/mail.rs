//! Delivering the outbox (§8.4): messages written in the same transaction as their cause are
//! sent after the commit by a worker, with retries and backoff, at least once.
//!
//! A tick claims due messages by pushing their next attempt one lease ahead (so a second worker
//! or process skips them), commits, sends each through the `Mailer`, and records the outcome.
//! A worker that dies after claiming leaves the messages due again when the lease runs out.

use serde::Serialize;

use crate::error::ServiceResult;
use crate::ids::MailId;
use crate::mail::{DeliveryState, RetryPolicy};
use crate::ports::{MailError, Mailer};

use super::Services;

/// What one delivery tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Delivered this time.
    pub sent: Vec<MailId>,
    /// Failed this time, to be retried.
    pub retrying: Vec<MailId>,
    /// Given up.
    pub failed: Vec<MailId>,
}

impl Services {
    /// Sends up to `limit` due messages.
    ///
    /// # Errors
    /// Storage failures only; delivery failures are recorded per message.
    #[tracing::instrument(skip_all)]
    pub async fn deliver_due_mail(
        &self,
        mailer: &dyn Mailer,
        policy: &RetryPolicy,
        limit: u32,
    ) -> ServiceResult<DeliveryReport> {
        let now = self.now();
        let claimed = {
            let mut tx = self.begin().await?;
            let due = tx.due_mail(now, limit).await?;
            for q in &due {
                let DeliveryState::Pending { attempts, last_error, .. } = &q.delivery else { continue };
                let lease = DeliveryState::Pending {
                    attempts: *attempts,
                    next_attempt_at: now + policy.lease,
                    last_error: last_error.clone(),
                };
                tx.set_delivery(q.mail.id, &lease).await?;
            }
            tx.commit().await?;
            due
        };
        let mut report = DeliveryReport::default();
        for q in claimed {
            let DeliveryState::Pending { attempts, .. } = q.delivery else { continue };
            let attempts = attempts + 1;
            let result = mailer.send(&q.mail).await;
            let at = self.now();
            let state = match result {
                Ok(()) => {
                    report.sent.push(q.mail.id);
                    DeliveryState::Sent { at, attempts }
                }
                Err(MailError::Permanent(error)) => {
                    report.failed.push(q.mail.id);
                    DeliveryState::Failed { at, attempts, error }
                }
                Err(MailError::Transient(error)) => match policy.next_attempt(attempts, at) {
                    Some(next_attempt_at) => {
                        report.retrying.push(q.mail.id);
                        DeliveryState::Pending { attempts, next_attempt_at, last_error: Some(error) }
                    }
                    None => {
                        report.failed.push(q.mail.id);
                        DeliveryState::Failed { at, attempts, error }
                    }
                },
            };
            let mut tx = self.begin().await?;
            tx.set_delivery(q.mail.id, &state).await?;
            tx.commit().await?;
        }
        Ok(report)
    }
}
