//! The Salesforce REST directory: the `User` object read with SOQL over
//! `/services/data/vXX.X/query`, authenticated by an OAuth2 token from the login host.
//!
//! How it talks to Salesforce (docs/decisions/0015-crm-directories.md):
//! - A token is requested once (client credentials, refresh token or username-password; the
//!   answer's `instance_url` is where queries go) and kept. A `401` (Salesforce's
//!   `INVALID_SESSION_ID`) gets one new token and one retry; a second `401` is
//!   [`CrmError::Unauthorized`]. Concurrent callers share one token request.
//! - `REQUEST_LIMIT_EXCEEDED` (a `403`), `429` and `5xx` answers are retried with exponential
//!   backoff, at most [`RetryPolicy::max_retries`] times; then `RateLimited` or `Unavailable`.
//! - Every request has a timeout; a timeout is [`CrmError::Timeout`] at once, not retried, so a
//!   silent instance costs one timeout per call.
//! - Query answers are followed through `nextRecordsUrl` (only paths under `/services/data/` on
//!   the same instance, so the token never leaves it).
//! - A misconfigured instance says what is wrong: refused credentials
//!   ([`CrmError::Unauthorized`] with Salesforce's `error_description`), an unreachable host
//!   (`Unavailable` naming the URL), an API version the instance does not serve (`NotConfigured`
//!   naming the version).

mod config;
mod soql;
mod wire;

use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use reqwest::{Response, StatusCode, Url};
use roster_domain::ports::{CrmDirectory, CrmError, CrmPage, CrmUser};
use roster_domain::values::CrmId;
use time::OffsetDateTime;
use tokio::sync::Mutex;

pub use config::{
    DEFAULT_API_VERSION, DEFAULT_LOGIN_URL, DEFAULT_TIMEOUT, Grant, RetryPolicy, SalesforceConfig, Secret,
};
use wire::{QueryPage, TokenAnswer, TokenFailure, UserRecord};

pub use crate::fields::SEARCH_PAGE_SIZE;
/// SOQL refuses an `OFFSET` above 2,000, so search pages end there: refine the query instead.
const MAX_OFFSET: u32 = 2_000;
/// No name (121 characters in Salesforce) or address (80) is longer: a longer query matches
/// nothing, and is answered without a request.
const MAX_QUERY_CHARS: usize = 255;
/// A query answer is followed through at most this many `nextRecordsUrl` pages (2,000 records
/// each by default), a guard against an instance that keeps answering the same page.
const MAX_PAGES: usize = 10_000;

/// A CRM directory over a Salesforce org's `User` object.
pub struct SalesforceDirectory {
    config: SalesforceConfig,
    http: reqwest::Client,
    /// The current token, if one was obtained; the lock also serializes token requests.
    session: Mutex<Option<Arc<ApiSession>>>,
    /// How many tokens were obtained: the next one's generation.
    tokens_obtained: AtomicU64,
}

impl fmt::Debug for SalesforceDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceDirectory").field("config", &self.config).finish_non_exhaustive()
    }
}

/// An access token and the instance it is valid for.
struct ApiSession {
    access_token: String,
    instance_url: Url,
    /// A number no other token of this directory has, so a caller holding a stale token can
    /// tell whether someone already renewed it.
    generation: u64,
}

/// A transport failure with what was being reached: the source of [`CrmError::Unavailable`].
#[derive(Debug)]
struct Unreachable {
    what: String,
    source: Option<reqwest::Error>,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl StdError for Unreachable {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn StdError + 'static))
    }
}

fn unavailable(what: String, source: Option<reqwest::Error>) -> CrmError {
    CrmError::Unavailable(Box::new(Unreachable { what, source }))
}

/// A transport error (no HTTP answer, or an unreadable one) as a port error.
fn transport_error(error: reqwest::Error, url: &Url) -> CrmError {
    if error.is_timeout() {
        return CrmError::Timeout;
    }
    let target = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    let what = if error.is_connect() {
        format!("cannot connect to {target} (unknown host, refused or TLS failure)")
    } else {
        format!("the request to {target} failed")
    };
    unavailable(what, Some(error))
}

/// What one HTTP answer means for the request loop.
enum Verdict {
    Renew(String),
    Retry { rate_limited: bool, detail: String },
    Fail(CrmError),
}

impl SalesforceDirectory {
    /// A directory over `config`. No request is made until the first call (see
    /// [`SalesforceDirectory::check`] to try the configuration at start).
    ///
    /// # Errors
    /// [`CrmError::NotConfigured`] if the HTTP client cannot be built (no TLS backend).
    pub fn new(config: SalesforceConfig) -> Result<Self, CrmError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            // Salesforce's APIs do not redirect; a redirect means a wrong URL (a login page, a
            // proxy), and following it would carry the request elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CrmError::NotConfigured(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { config, http, session: Mutex::new(None), tokens_obtained: AtomicU64::new(0) })
    }

    /// The configuration in use.
    pub fn config(&self) -> &SalesforceConfig {
        &self.config
    }

    /// Obtains a token and runs a one-row query: the credentials, the instance and the API
    /// version all work.
    ///
    /// # Errors
    /// What a real call would fail with.
    pub async fn check(&self) -> Result<(), CrmError> {
        self.query_all("SELECT Id FROM User LIMIT 1").await.map(drop)
    }

    fn token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.config.login_url.as_str().trim_end_matches('/'))
    }

    /// The current token, obtaining one if there is none.
    async fn current_session(&self) -> Result<Arc<ApiSession>, CrmError> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref() {
            return Ok(Arc::clone(session));
        }
        let session = Arc::new(self.request_token().await?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    /// A new token replacing `stale`, unless another caller already replaced it.
    async fn renew_session(&self, stale: &ApiSession) -> Result<Arc<ApiSession>, CrmError> {
        let mut slot = self.session.lock().await;
        if let Some(current) = slot.as_ref().filter(|c| c.generation != stale.generation) {
            return Ok(Arc::clone(current));
        }
        *slot = None;
        let session = Arc::new(self.request_token().await?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    /// `POST {login}/services/oauth2/token` with the configured grant.
    async fn request_token(&self) -> Result<ApiSession, CrmError> {
        let url_text = self.token_url();
        let url = Url::parse(&url_text)
            .map_err(|e| CrmError::NotConfigured(format!("bad token endpoint {url_text}: {e}")))?;
        let c = &self.config;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", c.grant.name()),
            ("client_id", &c.client_id),
            ("client_secret", c.client_secret.expose()),
        ];
        match &c.grant {
            Grant::ClientCredentials => {}
            Grant::RefreshToken(token) => form.push(("refresh_token", token.expose())),
            Grant::Password { username, password } => {
                form.push(("username", username));
                form.push(("password", password.expose()));
            }
        }
        let mut retry = 0;
        loop {
            let answer = self.http.post(url.clone()).form(&form).send().await.map_err(|e| transport_error(e, &url))?;
            let status = answer.status();
            let wait = retry_after(&answer);
            let body = answer.text().await.map_err(|e| transport_error(e, &url))?;
            if status.is_success() {
                return self.read_token(&body, self.tokens_obtained.fetch_add(1, Ordering::Relaxed));
            }
            if !status.is_server_error() {
                return Err(self.token_failure(status, &body, &url));
            }
            if retry >= c.retry.max_retries {
                return Err(unavailable(format!("the token endpoint {url} kept failing (HTTP {status})"), None));
            }
            tracing::warn!(%url, %status, retry, "Salesforce token request failed; retrying");
            tokio::time::sleep(self.wait(retry, wait)).await;
            retry += 1;
        }
    }

    /// A token request answered with a client error.
    fn token_failure(&self, status: StatusCode, body: &str, url: &Url) -> CrmError {
        if let Ok(failure) = serde_json::from_str::<TokenFailure>(body) {
            self.token_refused(&failure)
        } else if status.is_redirection() {
            CrmError::NotConfigured(format!(
                "{url} answered a redirect (HTTP {status}): ROSTER_SALESFORCE_LOGIN_URL does not look like a Salesforce login host"
            ))
        } else if status == StatusCode::NOT_FOUND {
            CrmError::NotConfigured(format!(
                "{url} answered 404: ROSTER_SALESFORCE_LOGIN_URL does not look like a Salesforce login host"
            ))
        } else {
            CrmError::Protocol(format!("the token endpoint {url} answered HTTP {status}: {}", excerpt(body)))
        }
    }

    fn read_token(&self, body: &str, generation: u64) -> Result<ApiSession, CrmError> {
        let answer: TokenAnswer = serde_json::from_str(body)
            .map_err(|e| CrmError::Protocol(format!("the token answer is not Salesforce's: {e}")))?;
        let instance_url = config::parse_base_url(&answer.instance_url).map_err(|reason| {
            CrmError::Protocol(format!(
                "the token answer's instance_url `{}` is unusable: {reason}",
                answer.instance_url
            ))
        })?;
        Ok(ApiSession { access_token: answer.access_token, instance_url, generation })
    }

    /// A refused token request as [`CrmError::Unauthorized`], with a hint for the mistakes
    /// Salesforce's own messages leave unexplained.
    fn token_refused(&self, failure: &TokenFailure) -> CrmError {
        let grant = self.config.grant.name();
        let mut message = format!(
            "the token request ({grant} grant at {}) was refused: {}: {}",
            self.token_url(),
            failure.error,
            failure.error_description
        );
        if failure.error_description.contains("not supported on this domain") {
            message.push_str(
                " (the client-credentials flow works only on the org's My Domain URL: set \
                 ROSTER_SALESFORCE_LOGIN_URL to https://<domain>.my.salesforce.com)",
            );
        } else if failure.error == "invalid_client_id" || failure.error == "invalid_client" {
            message.push_str(" (check ROSTER_SALESFORCE_CLIENT_ID and ROSTER_SALESFORCE_CLIENT_SECRET)");
        }
        CrmError::Unauthorized(message)
    }

    fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let policy = &self.config.retry;
        retry_after.map_or_else(|| policy.backoff(retry), |w| w.min(policy.max_backoff))
    }

    /// The first page of `soql`'s answer and every page after it, through `nextRecordsUrl`.
    async fn query_all(&self, soql: &str) -> Result<Vec<UserRecord>, CrmError> {
        let version = self.config.api_version.clone();
        let mut page: QueryPage = self
            .get_json(|instance| {
                let mut url = join(instance, &format!("/services/data/{version}/query"))?;
                url.query_pairs_mut().append_pair("q", soql);
                Ok(url)
            })
            .await?;
        let mut records = std::mem::take(&mut page.records);
        let mut seen = HashSet::new();
        while !page.done {
            let Some(next) = page.next_records_url.take() else {
                return Err(CrmError::Protocol("a query answer is not done but has no nextRecordsUrl".into()));
            };
            if !next.starts_with("/services/data/") || next.contains("..") || next.contains("://") {
                return Err(CrmError::Protocol(format!("nextRecordsUrl `{next}` is not a query path of the instance")));
            }
            if !seen.insert(next.clone()) || seen.len() > MAX_PAGES {
                return Err(CrmError::Protocol(format!("the query answer does not end (at {next})")));
            }
            page = self.get_json(|instance| join(instance, &next)).await?;
            records.append(&mut page.records);
        }
        Ok(records)
    }

    /// `GET` on the instance with the current token, renewing it once on `401` and retrying
    /// rate limits and server errors; `url` builds the address from the instance URL.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: impl Fn(&Url) -> Result<Url, CrmError>,
    ) -> Result<T, CrmError> {
        let mut session = self.current_session().await?;
        let mut renewed = false;
        let mut retry = 0;
        loop {
            let target = url(&session.instance_url)?;
            let answer = self
                .http
                .get(target.clone())
                .bearer_auth(&session.access_token)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| transport_error(e, &target))?;
            let status = answer.status();
            if status.is_success() {
                let body = answer.bytes().await.map_err(|e| transport_error(e, &target))?;
                return serde_json::from_slice(&body).map_err(|e| {
                    CrmError::Protocol(format!("the answer of {} is not a query result: {e}", target.path()))
                });
            }
            let wait = retry_after(&answer);
            let body = answer.text().await.map_err(|e| transport_error(e, &target))?;
            match self.judge(status, &body, &session.instance_url) {
                Verdict::Renew(detail) if !renewed => {
                    tracing::info!(%detail, "Salesforce refused the session; requesting a new token");
                    session = self.renew_session(&session).await?;
                    renewed = true;
                }
                Verdict::Renew(detail) => {
                    return Err(CrmError::Unauthorized(format!("Salesforce refused a freshly issued token: {detail}")));
                }
                Verdict::Retry { rate_limited, detail } if retry < self.config.retry.max_retries => {
                    tracing::warn!(path = target.path(), %detail, retry, rate_limited, "Salesforce query failed; retrying");
                    tokio::time::sleep(self.wait(retry, wait)).await;
                    retry += 1;
                }
                Verdict::Retry { rate_limited: true, .. } => return Err(CrmError::RateLimited),
                Verdict::Retry { detail, .. } => {
                    return Err(unavailable(
                        format!("Salesforce at {} kept failing ({detail})", session.instance_url),
                        None,
                    ));
                }
                Verdict::Fail(error) => return Err(error),
            }
        }
    }

    /// What a failed REST answer means (Salesforce's error array carries the `errorCode`).
    fn judge(&self, status: StatusCode, body: &str, instance: &Url) -> Verdict {
        let error = wire::first_error(body);
        let code = error.as_ref().map_or("", |e| e.error_code.as_str());
        let detail = error.as_ref().map_or_else(
            || format!("HTTP {status}: {}", excerpt(body)),
            |e| format!("HTTP {status} {}: {}", e.error_code, e.message),
        );
        match (status, code) {
            (StatusCode::UNAUTHORIZED, _) => Verdict::Renew(detail),
            (_, "REQUEST_LIMIT_EXCEEDED") | (StatusCode::TOO_MANY_REQUESTS, _) => {
                Verdict::Retry { rate_limited: true, detail }
            }
            (s, _) if s.is_server_error() => Verdict::Retry { rate_limited: false, detail },
            (s, _) if s.is_redirection() => Verdict::Fail(CrmError::NotConfigured(format!(
                "{instance} redirected the query ({detail}); it does not look like a Salesforce instance"
            ))),
            (StatusCode::NOT_FOUND, _) => Verdict::Fail(CrmError::NotConfigured(format!(
                "{instance} does not serve REST API {} ({detail}); check ROSTER_SALESFORCE_API_VERSION",
                self.config.api_version
            ))),
            (StatusCode::FORBIDDEN, _) => Verdict::Fail(CrmError::Unauthorized(format!(
                "Salesforce refused the query ({detail}); the integration user needs API access and read access to User"
            ))),
            _ => Verdict::Fail(CrmError::Protocol(format!("Salesforce refused the query: {detail}"))),
        }
    }

    /// One chunk of ids as records keyed by their 18-character id.
    async fn fetch_ids(&self, ids: Vec<String>) -> Result<Vec<UserRecord>, CrmError> {
        self.query_all(&soql::by_ids(ids.iter().map(String::as_str))).await
    }
}

/// `path` (which starts with `/`) on the instance.
fn join(instance: &Url, path: &str) -> Result<Url, CrmError> {
    let base = instance.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}{path}")).map_err(|e| CrmError::Protocol(format!("bad URL {base}{path}: {e}")))
}

/// A `Retry-After` header in seconds, if the answer has one.
fn retry_after(answer: &Response) -> Option<Duration> {
    let value = answer.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The start of a body for an error message.
fn excerpt(body: &str) -> String {
    let mut text: String = body.chars().take(200).collect();
    if body.chars().nth(200).is_some() {
        text.push('…');
    }
    text
}

/// A Salesforce record id: 15 or 18 ASCII letters and digits. Anything else cannot name a
/// Salesforce user, and Salesforce refuses the whole query if one is in `Id IN (…)`.
fn is_salesforce_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Maps records to users, leaving out (and logging) those that cannot be Roster users.
fn to_users<'a>(records: impl IntoIterator<Item = &'a UserRecord>) -> Vec<CrmUser> {
    records
        .into_iter()
        .filter_map(|record| match record.to_crm_user() {
            Ok(user) => Some(user),
            Err(reason) => {
                tracing::warn!(id = %record.id, %reason, "Salesforce user left out: it cannot be a Roster user");
                None
            }
        })
        .collect()
}

#[async_trait]
impl CrmDirectory for SalesforceDirectory {
    async fn search(&self, query: &str, page: u32) -> Result<CrmPage, CrmError> {
        let query = query.trim();
        let offset = page.checked_mul(SEARCH_PAGE_SIZE).filter(|o| *o <= MAX_OFFSET);
        let Some(offset) = offset.filter(|_| query.chars().count() <= MAX_QUERY_CHARS) else {
            return Ok(CrmPage { users: Vec::new(), next_page: None });
        };
        let records = self.query_all(&soql::search(query, offset, SEARCH_PAGE_SIZE)).await?;
        let page_size = SEARCH_PAGE_SIZE as usize;
        let more = records.len() > page_size && offset + SEARCH_PAGE_SIZE <= MAX_OFFSET;
        let users = to_users(records.iter().take(page_size));
        Ok(CrmPage { users, next_page: more.then_some(page + 1) })
    }

    async fn get(&self, ids: &[CrmId]) -> Result<Vec<CrmUser>, CrmError> {
        let mut seen = HashSet::new();
        let wanted: Vec<&CrmId> = ids.iter().filter(|id| seen.insert(id.as_str())).collect();
        let queried: Vec<String> =
            wanted.iter().map(|id| id.as_str()).filter(|id| is_salesforce_id(id)).map(str::to_owned).collect();
        let chunks: Vec<Vec<String>> = queried.chunks(self.config.ids_per_query).map(<[String]>::to_vec).collect();
        let answers: Vec<Vec<UserRecord>> = futures::stream::iter(chunks)
            .map(|chunk| self.fetch_ids(chunk))
            .buffered(self.config.parallel_queries)
            .try_collect()
            .await?;
        // Salesforce answers 18-character ids; a stored 15-character id is their
        // case-sensitive prefix.
        let mut by_id: HashMap<&str, &UserRecord> = HashMap::new();
        for record in answers.iter().flatten() {
            by_id.insert(record.id.as_str(), record);
            if let Some(short) = record.id.get(..15) {
                by_id.insert(short, record);
            }
        }
        let mut out = Vec::with_capacity(wanted.len());
        for id in wanted {
            let Some(record) = by_id.get(id.as_str()) else { continue };
            if let Some(mut user) = to_users([*record]).pop() {
                // The id as the caller knows it, so they can match the answer to their ids.
                user.crm_id = id.clone();
                out.push(user);
            }
        }
        Ok(out)
    }

    async fn list_changed_since(&self, since: OffsetDateTime) -> Result<Vec<CrmUser>, CrmError> {
        let records = self.query_all(&soql::changed_since(since)).await?;
        // The query's bound is rounded down to the second; a record without a readable stamp
        // passed Salesforce's own filter and stays.
        Ok(to_users(records.iter().filter(|r| r.modified_at().is_none_or(|at| at >= since))))
    }
}
