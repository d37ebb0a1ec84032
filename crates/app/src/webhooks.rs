//! Webhook delivery in `roster serve` (SPEC §9.1, decision 0039): the HTTP adapter of the
//! `WebhookSender` port, and the worker that runs `Services::deliver_webhooks` beside the API.
//!
//! **The sender** POSTs with reqwest: connect timeout 5 s, whole request 15 s, no redirects, no
//! proxy from the environment (a proxy would connect in Roster's place, past the checks below).
//! Unless insecure targets are allowed (`ROSTER_WEBHOOKS_ALLOW_INSECURE=1`, for development and
//! tests), it refuses any URL that is not `https` and any address `refused_address` names
//! (loopback, private, link-local…): an IP literal before connecting, and a name through its
//! own DNS resolver, which answers reqwest only the addresses it checked — so the address
//! connected to is the address checked, and a name that resolves to a public address when the
//! endpoint is registered and to a private one later (DNS rebinding) is still refused.
//!
//! **The worker** runs up to `lanes` endpoints side by side (`Services::claim_webhook_lanes`):
//! each lane sends one endpoint's events one at a time, in order, claiming the next in the
//! transaction that records the last (`Services::step_webhook_lane`), for at most `lane_budget`
//! events before it makes room for the endpoints waiting behind it. A lane that ends frees its
//! place at once; without free work the worker looks again every `interval`. Each claim is
//! leased just before its request, so the lease must outlast one request (connect timeout plus
//! whole-request timeout): another server never sends the same attempt while this one still
//! may. On shutdown the lanes finish the request they are in and stop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use roster_domain::Services;
use roster_domain::ports::{WebhookAnswer, WebhookError, WebhookSender, answer_excerpt};
use roster_domain::services::{WebhookLane, WebhookReport};
use roster_domain::webhooks::{DeliverySchedule, WebhookUrl, refused_address};
use time::format_description::well_known::Rfc2822;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::system::SystemClock;
use roster_domain::ports::Clock as _;

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long resolving a name may take when an endpoint is registered.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How webhooks are sent and how the worker paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// Allow plain `http` and loopback, private and link-local addresses (development, tests).
    pub allow_insecure: bool,
    /// The longest one request may take ([`REQUEST_TIMEOUT`] in production).
    pub request_timeout: Duration,
    /// How often the worker looks for work while it has a free lane.
    pub interval: Duration,
    /// The most endpoints delivered to at once (one request in flight each).
    pub lanes: u32,
    /// The most events a lane sends in a row before its endpoint waits its turn again.
    pub lane_budget: u32,
    /// Retries and the claim's lease.
    pub schedule: DeliverySchedule,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_insecure: false,
            request_timeout: REQUEST_TIMEOUT,
            interval: Duration::from_secs(1),
            lanes: 10,
            lane_budget: 200,
            schedule: DeliverySchedule::default(),
        }
    }
}

impl WebhookConfig {
    /// Checks that one request cannot outlast the claim's lease (see the module docs).
    ///
    /// # Errors
    /// A zero lane count, lane budget, interval or timeout, a timeout over [`REQUEST_TIMEOUT`],
    /// or a lease that one request could outlast.
    pub fn check(&self) -> Result<(), String> {
        if self.lanes == 0 || self.lane_budget == 0 || self.interval.is_zero() || self.request_timeout.is_zero() {
            return Err("the webhook lanes, lane budget, interval and timeout must not be zero".to_owned());
        }
        if self.request_timeout > REQUEST_TIMEOUT {
            return Err(format!("the webhook timeout may be at most {REQUEST_TIMEOUT:?} (SPEC §9.1)"));
        }
        let worst = self.request_timeout + CONNECT_TIMEOUT;
        let lease = Duration::try_from(self.schedule.lease).unwrap_or(Duration::ZERO);
        if worst >= lease {
            return Err(format!(
                "a webhook request of up to {worst:?} (connect and whole-request timeouts) could outlast the \
                 {lease:?} lease: make the lease longer"
            ));
        }
        Ok(())
    }
}

/// The reason a checked address is refused, for the error chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, {reason}, which webhooks may not reach")]
struct RefusedAddress {
    host: String,
    address: IpAddr,
    reason: &'static str,
}

/// Resolves names for reqwest and answers only the addresses webhooks may reach.
#[derive(Debug)]
struct CheckingResolver;

/// The addresses `host` resolves to, every one checked; refused when any is refused (a name
/// with one private address among public ones is a rebinding risk too).
async fn resolve_checked(host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    if addresses.is_empty() {
        return Err(format!("{host} resolves to no address").into());
    }
    for address in &addresses {
        if let Some(reason) = refused_address(address.ip()) {
            return Err(Box::new(RefusedAddress { host: host.to_owned(), address: address.ip(), reason }));
        }
    }
    Ok(addresses)
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addresses = resolve_checked(name.as_str()).await?;
            let addrs: Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP adapter of the [`WebhookSender`] port.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    allow_insecure: bool,
    request_timeout: Duration,
}

impl HttpWebhookSender {
    /// A sender with the given whole-request timeout.
    ///
    /// # Errors
    /// The TLS backend cannot start.
    pub fn new(allow_insecure: bool, request_timeout: Duration) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_insecure {
            builder = builder.dns_resolver(Arc::new(CheckingResolver)).https_only(true);
        }
        Ok(Self { client: builder.build()?, allow_insecure, request_timeout })
    }

    /// The URL's own refusals: its scheme, and an IP literal (which no resolver sees).
    fn check_literal(&self, url: &WebhookUrl) -> Result<(), WebhookError> {
        if self.allow_insecure {
            return Ok(());
        }
        if !url.is_https() {
            return Err(WebhookError::Permanent("webhook URLs must be https".to_owned()));
        }
        if let Some(ip) = url.ip_literal()
            && let Some(reason) = refused_address(ip)
        {
            return Err(WebhookError::Permanent(format!("{ip} is {reason}, which webhooks may not reach")));
        }
        Ok(())
    }
}

/// Whether an error chain holds a refused address.
fn refused(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<RefusedAddress>() {
            return Some(refused.to_string());
        }
        current = e.source();
    }
    None
}

/// The wait a `Retry-After` value asks for: seconds, or an HTTP date (RFC 2822's form).
fn retry_after(value: &str) -> Option<time::Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(time::Duration::seconds(i64::from(seconds)));
    }
    let at = time::OffsetDateTime::parse(value, &Rfc2822).ok()?;
    Some((at - SystemClock.now()).max(time::Duration::ZERO))
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn check(&self, url: &WebhookUrl) -> Result<(), WebhookError> {
        self.check_literal(url)?;
        if self.allow_insecure || url.ip_literal().is_some() {
            return Ok(());
        }
        match tokio::time::timeout(RESOLVE_TIMEOUT, resolve_checked(url.host())).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => match refused(e.as_ref()) {
                Some(why) => Err(WebhookError::Permanent(why)),
                None => Err(WebhookError::Transient(format!("{} does not resolve: {e}", url.host()))),
            },
            Err(_) => Err(WebhookError::Transient(format!("{} did not resolve in time", url.host()))),
        }
    }

    async fn post(
        &self,
        url: &WebhookUrl,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookAnswer, WebhookError> {
        self.check_literal(url)?;
        let mut request = self.client.post(url.as_str()).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut response = request.send().await.map_err(|e| match refused(&e) {
            Some(why) => WebhookError::Permanent(why),
            None if e.is_timeout() => WebhookError::Transient(format!("no answer within {:?}", self.request_timeout)),
            None => WebhookError::Transient(format!("{e}: {}", source_chain(&e))),
        })?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
        // The first bytes only: a large answer is not read through.
        let mut first = Vec::new();
        while first.len() <= roster_domain::ports::ANSWER_EXCERPT_MAX {
            match response.chunk().await {
                Ok(Some(chunk)) => first.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(WebhookAnswer { status, retry_after, excerpt: answer_excerpt(&first) })
    }
}

/// The causes under an error, for the delivery log.
fn source_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut causes = Vec::new();
    let mut current = error.source();
    while let Some(e) = current {
        causes.push(e.to_string());
        current = e.source();
    }
    causes.join(": ")
}

/// Delivers webhooks until `stop` turns true, then lets the lanes finish their requests.
pub async fn run(
    services: Services,
    sender: Arc<dyn WebhookSender>,
    config: WebhookConfig,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!(lanes = config.lanes, lane_budget = config.lane_budget, "webhook worker started");
    let mut lanes = JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let busy = u32::try_from(lanes.len()).unwrap_or(u32::MAX);
        let free = config.lanes.saturating_sub(busy);
        if free > 0 {
            match services.claim_webhook_lanes(&config.schedule, free).await {
                Ok(claimed) => {
                    for lane in claimed {
                        let (services, sender, config, stop) =
                            (services.clone(), sender.clone(), config.clone(), stop.clone());
                        lanes.spawn(drive(services, sender, config, lane, stop));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed; tried again after the interval")
                }
            }
        }
        tokio::select! {
            Some(_) = lanes.join_next(), if !lanes.is_empty() => {}
            () = tokio::time::sleep(config.interval) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
    while lanes.join_next().await.is_some() {}
}

/// Drives one lane: its endpoint's events one at a time, until nothing is left to send now,
/// its budget is spent or the worker stops.
async fn drive(
    services: Services,
    sender: Arc<dyn WebhookSender>,
    config: WebhookConfig,
    lane: WebhookLane,
    stop: watch::Receiver<bool>,
) {
    let webhook = lane.endpoint_id();
    let mut report = WebhookReport::default();
    let mut next = Some(lane);
    let mut attempts = 0_u32;
    while let Some(lane) = next.take() {
        attempts += 1;
        let go_on = attempts < config.lane_budget && !*stop.borrow();
        match services.step_webhook_lane(sender.as_ref(), &config.schedule, lane, go_on, &mut report).await {
            Ok(lane) => next = lane,
            Err(e) => {
                tracing::warn!(%webhook, error = %e, "recording a webhook delivery failed; it is sent again when its lease ends")
            }
        }
    }
    for id in &report.retrying {
        tracing::warn!(%webhook, delivery = %id, "webhook delivery failed; it will be retried");
    }
    for id in &report.failed {
        tracing::warn!(%webhook, delivery = %id, "webhook delivery given up");
    }
    for id in &report.disabled {
        tracing::warn!(webhook = %id, "webhook endpoint disabled");
    }
    tracing::debug!(%webhook, sent = report.sent.len(), "webhook lane ended");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> WebhookUrl {
        WebhookUrl::parse(s).unwrap()
    }

    #[tokio::test]
    async fn without_the_switch_http_and_private_literals_and_loopback_names_are_refused() {
        let sender = HttpWebhookSender::new(false, REQUEST_TIMEOUT).unwrap();
        for refused_url in [
            "http://localhost:9000/",
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://[::1]/",
            "https://192.168.0.10:8443/x",
            "https://localhost/",
        ] {
            let result = sender.check(&url(refused_url)).await;
            assert!(matches!(result, Err(WebhookError::Permanent(_))), "{refused_url}: {result:?}");
        }
        let posted = sender.post(&url("https://localhost:1/"), &[], b"{}").await;
        assert!(
            matches!(posted, Err(WebhookError::Permanent(ref why)) if why.contains("127.0.0.1") || why.contains("::1")),
            "{posted:?}"
        );
    }

    #[tokio::test]
    async fn with_the_switch_loopback_http_is_allowed() {
        let sender = HttpWebhookSender::new(true, REQUEST_TIMEOUT).unwrap();
        sender.check(&url("http://127.0.0.1:9/")).await.expect("allowed");
        let refused_connection = sender.post(&url("http://127.0.0.1:9/"), &[], b"{}").await;
        assert!(matches!(refused_connection, Err(WebhookError::Transient(_))), "{refused_connection:?}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("120"), Some(time::Duration::minutes(2)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(time::Duration::ZERO), "a past date: at once");
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn a_lease_that_one_request_could_outlast_is_refused() {
        assert!(WebhookConfig::default().check().is_ok());
        let short = DeliverySchedule { lease: time::Duration::seconds(20), ..DeliverySchedule::default() };
        assert!(WebhookConfig { schedule: short, ..WebhookConfig::default() }.check().is_err());
        let quick = DeliverySchedule { lease: time::Duration::seconds(10), ..DeliverySchedule::default() };
        let config =
            WebhookConfig { request_timeout: Duration::from_secs(2), schedule: quick, ..WebhookConfig::default() };
        assert!(config.check().is_ok());
        assert!(WebhookConfig { lanes: 0, ..WebhookConfig::default() }.check().is_err());
        let slow = WebhookConfig { request_timeout: Duration::from_secs(16), ..WebhookConfig::default() };
        assert!(slow.check().is_err(), "§9.1's 15 s is the most");
    }
}
