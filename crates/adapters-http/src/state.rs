//! What every handler shares: the domain's [`Services`], time and secrets, a readiness probe
//! and the HTTP configuration.

use std::sync::Arc;

use async_trait::async_trait;
use roster_domain::Services;
use roster_domain::ports::{Clock, IdGenerator, IdempotencyRepository};
use time::Duration;

use crate::client_address::TrustedProxies;

/// HTTP-level settings, validated by the caller (`roster serve`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The largest request body accepted, in bytes (413 beyond).
    pub body_limit: usize,
    /// Sliding lifetime of a session (§10: 12 h): the cookie's `Max-Age`; `roster serve` gives
    /// the same to the domain's `SessionSettings`, which decides the expiry.
    pub session_ttl: Duration,
    /// Whether the session cookie carries `Secure` (set when the public URL is `https`).
    pub secure_cookies: bool,
    /// The proxies whose `X-Forwarded-For` names the client (none by default).
    pub trusted_proxies: TrustedProxies,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            session_ttl: Duration::hours(12),
            secure_cookies: false,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// Whether the server can serve requests (`/readyz`): the database answers.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// # Errors
    /// A sentence saying what is not ready.
    async fn check(&self) -> Result<(), String>;

    /// The database pool's figures for `/metrics`, when the database has a pool.
    fn pool(&self) -> Option<PoolGauges> {
        None
    }
}

/// Connections of the database pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGauges {
    pub open: u64,
    pub idle: u64,
    pub max: u64,
}

/// The state of the router. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    /// `Idempotency-Key` records (`crate::idempotency`).
    pub idempotency: Arc<dyn IdempotencyRepository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub readiness: Arc<dyn Readiness>,
    /// Request counts and latencies (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    pub config: HttpConfig,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("services", &self.services).field("config", &self.config).finish()
    }
}
