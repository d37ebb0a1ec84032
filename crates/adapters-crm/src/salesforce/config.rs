//! What the Salesforce directory needs to know: where to log in, as whom, which API version,
//! and how patient to be. Secrets never appear in `Debug` output or error messages.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use crate::error::ConfigError;

/// A secret string (client secret, refresh token, password): `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The OAuth2 grant the directory asks for a token with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// `grant_type=client_credentials`: the connected app's run-as user. Salesforce serves it
    /// only on the org's My Domain URL, not on `login.salesforce.com`.
    ClientCredentials,
    /// `grant_type=refresh_token` with a refresh token issued to the connected app.
    RefreshToken(Secret),
    /// `grant_type=password` (username-password flow; the password includes the security token
    /// where the org asks for one). Salesforce disables it in new orgs; prefer the others.
    Password { username: String, password: Secret },
}

impl Grant {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken(_) => "refresh_token",
            Self::Password { .. } => "password",
        }
    }
}

/// Bounded retries with exponential backoff for `REQUEST_LIMIT_EXCEEDED` and 5xx answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` requests at most).
    pub max_retries: u32,
    /// The wait before the first retry; each later one doubles it.
    pub first_backoff: Duration,
    /// No wait is longer than this (a `Retry-After` header included).
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 3, first_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(8) }
    }
}

/// The default API version (SPEC §11).
pub const DEFAULT_API_VERSION: &str = "v62.0";
/// The default OAuth2 host (SPEC §11).
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// The default time one HTTP request (connect, send, read the answer) may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the Salesforce directory is built from.
#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    pub(crate) login_url: Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) grant: Grant,
    pub(crate) api_version: String,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) ids_per_query: usize,
    pub(crate) parallel_queries: usize,
}

impl SalesforceConfig {
    /// A configuration with the defaults: API [`DEFAULT_API_VERSION`], a [`DEFAULT_TIMEOUT`]
    /// per request, [`RetryPolicy::default`], 200 ids per `get` query, 4 such queries at once.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] if the login URL is not an `https` URL (plain `http` is allowed
    /// for a loopback host, for tests) or the client id is blank.
    pub fn new(login_url: &str, client_id: &str, client_secret: Secret, grant: Grant) -> Result<Self, ConfigError> {
        let login_url = parse_base_url(login_url).map_err(|reason| ConfigError::Invalid {
            var: "ROSTER_SALESFORCE_LOGIN_URL",
            value: login_url.to_owned(),
            reason,
        })?;
        if client_id.trim().is_empty() {
            return Err(ConfigError::Invalid {
                var: "ROSTER_SALESFORCE_CLIENT_ID",
                value: String::new(),
                reason: "must not be blank".into(),
            });
        }
        Ok(Self {
            login_url,
            client_id: client_id.trim().to_owned(),
            client_secret,
            grant,
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            ids_per_query: 200,
            parallel_queries: 4,
        })
    }

    /// Uses REST API `version`, written `v62.0` or `62.0`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] unless it reads as `vNN.N`.
    pub fn with_api_version(mut self, version: &str) -> Result<Self, ConfigError> {
        self.api_version = parse_api_version(version).ok_or_else(|| ConfigError::Invalid {
            var: "ROSTER_SALESFORCE_API_VERSION",
            value: version.to_owned(),
            reason: "expected a REST API version such as v62.0".into(),
        })?;
        Ok(self)
    }

    /// Each HTTP request (token or query) fails with a timeout after `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries `REQUEST_LIMIT_EXCEEDED` and 5xx answers by `retry`.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// `get` asks for at most `ids` ids per query (at least 1) and runs up to `parallel`
    /// queries at once (at least 1).
    #[must_use]
    pub fn with_batches(mut self, ids: usize, parallel: usize) -> Self {
        self.ids_per_query = ids.max(1);
        self.parallel_queries = parallel.max(1);
        self
    }

    /// The REST API version in use, e.g. `v62.0`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The OAuth2 host.
    pub fn login_url(&self) -> &Url {
        &self.login_url
    }
}

/// `v62.0` for `v62.0`, `V62.0` or `62.0`; `None` for anything else.
fn parse_api_version(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let digits = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
    let (major, minor) = digits.split_once('.')?;
    let numeric = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(major) && numeric(minor)).then(|| format!("v{major}.{minor}"))
}

/// An `https` base URL without query or fragment (or `http` on a loopback host). A trailing
/// path is kept; a trailing slash is dropped so paths can be appended.
pub(crate) fn parse_base_url(input: &str) -> Result<Url, String> {
    let url = Url::parse(input.trim()).map_err(|e| format!("not a URL: {e}"))?;
    let host = url.host_str().ok_or("the URL names no host")?.to_owned();
    let loopback = host == "localhost"
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => return Err(format!("the scheme must be https (got {other}; http only for a loopback host)")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must not carry a query or a fragment".into());
    }
    let mut url = url;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_normalized_and_checked() {
        assert_eq!(parse_api_version("62.0").as_deref(), Some("v62.0"));
        assert_eq!(parse_api_version(" v59.0 ").as_deref(), Some("v59.0"));
        assert_eq!(parse_api_version("v62"), None);
        assert_eq!(parse_api_version("latest"), None);
        assert_eq!(parse_api_version("v62.0/../x"), None);
    }

    #[test]
    fn base_urls_must_be_https_except_on_loopback() {
        assert!(parse_base_url("https://acme.my.salesforce.com/").is_ok());
        assert!(parse_base_url("http://127.0.0.1:8081").is_ok());
        assert!(parse_base_url("http://[::1]:8081").is_ok());
        assert!(parse_base_url("http://localhost").is_ok());
        assert!(parse_base_url("http://acme.my.salesforce.com").is_err());
        assert!(parse_base_url("login.salesforce.com").is_err());
        assert!(parse_base_url("https://x.io/?a=1").is_err());
        assert_eq!(parse_base_url("https://x.io/sso/").map(|u| u.path().to_owned()), Ok("/sso".to_owned()));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_retries: 10,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        };
        let waits: Vec<u128> = (0..5).map(|r| policy.backoff(r).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(policy.backoff(64), Duration::from_millis(500));
    }

    #[test]
    fn secrets_do_not_print() {
        let grant = Grant::RefreshToken(Secret::new("5Aep861-very-secret"));
        let config = SalesforceConfig::new("https://x.io", "client", Secret::new("shh"), grant).expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("very-secret") && !printed.contains("shh"), "{printed}");
    }
}
