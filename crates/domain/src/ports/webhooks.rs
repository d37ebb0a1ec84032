//! The webhook sending port: one signed POST to an endpoint, as the delivery worker asks for it.

use async_trait::async_trait;
use thiserror::Error;

use crate::webhooks::WebhookUrl;

/// Why a POST got no HTTP answer worth reading.
#[derive(Debug, Error)]
pub enum WebhookError {
    /// Worth retrying: connection refused or reset, DNS failure, timeout.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Will never succeed: an invalid TLS certificate, an address the adapter refuses to reach
    /// (a private network, unless configured otherwise).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Sends one webhook request (an HTTP client in production).
///
/// The adapter POSTs `body` to `url` with exactly `headers` (content type, signature, event id)
/// plus its own `User-Agent`, does **not** follow redirects, applies a short timeout (10 s), and
/// refuses to connect to loopback, private or link-local addresses that the URL's name resolves
/// to unless the deployment allows them (the domain can only check IP literals).
///
/// # Errors
/// Any HTTP answer is `Ok(status)`, whatever the status: the domain decides what it means
/// (`WebhookDelivery::attempted`). [`WebhookError::Transient`] when no answer came but a retry
/// may get one, [`WebhookError::Permanent`] when no retry will.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs one signed event and answers the HTTP status, whatever it is (see the trait's
    /// contract).
    async fn post(&self, url: &WebhookUrl, headers: &[(String, String)], body: &[u8]) -> Result<u16, WebhookError>;
}
