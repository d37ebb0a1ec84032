//! The webhook sending port: one signed POST to an endpoint, as the delivery worker asks for it.

use async_trait::async_trait;
use thiserror::Error;
use time::Duration;

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

/// The most bytes of an answer's body kept in the delivery log.
pub const ANSWER_EXCERPT_MAX: usize = 256;

/// An HTTP answer of an endpoint, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The wait a `Retry-After` header asked for (seconds or an HTTP date, read by the adapter).
    pub retry_after: Option<Duration>,
    /// The first bytes of the body (at most [`ANSWER_EXCERPT_MAX`], cut on a character
    /// boundary, invalid UTF-8 replaced), for the delivery log.
    pub excerpt: String,
}

impl WebhookAnswer {
    /// An answer with this status and nothing else.
    pub fn status(status: u16) -> Self {
        Self { status, ..Self::default() }
    }
}

/// The first [`ANSWER_EXCERPT_MAX`] bytes of `body` as text, cut on a character boundary.
pub fn answer_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(ANSWER_EXCERPT_MAX + 4)]);
    let mut end = text.len().min(ANSWER_EXCERPT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Sends one webhook request (an HTTP client in production).
///
/// The adapter POSTs `body` to `url` with exactly `headers` (content type and the Standard
/// Webhooks headers) plus its own `User-Agent`, does **not** follow redirects, applies its
/// timeouts (connect 5 s, whole request 15 s), and refuses to connect to loopback, private or
/// link-local addresses that the URL's name resolves to — the address checked being the one
/// connected to — unless the deployment allows them (the domain can only check IP literals).
///
/// # Errors
/// Any HTTP answer is `Ok`, whatever the status: the domain decides what it means
/// (`WebhookDelivery::attempted`). [`WebhookError::Transient`] when no answer came but a retry
/// may get one, [`WebhookError::Permanent`] when no retry will.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Whether events may be sent to `url` under the deployment's rules: `https` only, and no
    /// address the host is or resolves to refused ([`refused_address`](crate::webhooks::refused_address)),
    /// unless insecure targets are allowed. Asked when an endpoint is registered or its URL
    /// changes; [`WebhookSender::post`] checks again at each connection.
    ///
    /// # Errors
    /// [`WebhookError::Permanent`] with the reason for a refused URL, [`WebhookError::Transient`]
    /// when the check cannot be made now (the name does not resolve): the service accepts the
    /// URL then, since every connection is checked again.
    async fn check(&self, url: &WebhookUrl) -> Result<(), WebhookError>;

    /// POSTs one signed event and answers the HTTP answer, whatever its status (see the trait's
    /// contract).
    async fn post(
        &self,
        url: &WebhookUrl,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookAnswer, WebhookError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_keeps_the_first_bytes_on_a_character_boundary() {
        assert_eq!(answer_excerpt(b"ok"), "ok");
        let long = "é".repeat(200);
        let cut = answer_excerpt(long.as_bytes());
        assert_eq!(cut.len(), ANSWER_EXCERPT_MAX);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(answer_excerpt(&[0xff, b'a']), "\u{fffd}a");
    }
}
