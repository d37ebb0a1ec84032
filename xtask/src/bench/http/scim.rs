//! The SCIM scenarios of `bench http`, as an identity provider drives `/scim/v2` with an API key
//! holding the `scim` permission:
//!
//! - `scim_user_by_username` — `GET /scim/v2/Users?filter=userName eq "…"` over 2,000 emails of
//!   the organization: Okta's lookup before every create. Compared with the REST API's reads of
//!   one user: `GET /api/v1/users/{id}` (`user_by_id`, an indexed read) and the REST way to find
//!   a user by email, `GET /api/v1/users?q=<email>` (`user_by_email`). That one is the Users
//!   table's substring search, a scan of the organization's users: it runs with one client, as
//!   32 concurrent scans of a million rows only measure the connection pool's queue.
//! - `scim_initial_sync` — a 10,000-user first sync into the same organization, as Okta sends
//!   it: for each user, the `userName eq` lookup (no one yet) and `POST /Users`, by 8 clients
//!   at once; then 10 `POST /Groups` and their members added by `PATCH /Groups/{id}`, 100 per
//!   request. Timed from the first request to the last answer; every answer is checked.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::load::{self, LoadReport, Outcome};
use super::urlencode;

/// Users of the initial sync, clients sending them, groups and members per `PATCH`.
pub(super) const SYNC_USERS: usize = 10_000;
const SYNC_CLIENTS: usize = 8;
const SYNC_GROUPS: usize = 10;
const SYNC_MEMBERS_PER_PATCH: usize = 100;

const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCIM_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The lookups: SCIM's `userName eq` and the REST API's `?q=<email>`.
pub(super) struct Lookups {
    pub(super) scim: LoadReport,
    pub(super) rest_by_email: LoadReport,
}

/// What the initial sync measured.
pub(super) struct SyncReport {
    pub(super) users: usize,
    pub(super) seconds: f64,
    /// The users' part alone (lookups and creates), seconds.
    pub(super) users_seconds: f64,
    pub(super) create_p50_ms: f64,
    pub(super) create_p99_ms: f64,
    pub(super) lookup_p99_ms: f64,
    pub(super) groups: usize,
    pub(super) memberships: usize,
    pub(super) patch_p99_ms: f64,
    /// Answers that were not the expected ones, by kind and status.
    pub(super) unexpected: BTreeMap<String, usize>,
    /// `totalResults` of `userName ew "@scim-sync.example"` afterwards.
    pub(super) found_after: u64,
}

/// A new API key holding only `scim`, made by the admin; its secret.
pub(super) async fn scim_key(client: &reqwest::Client, base: &str, admin: &str) -> anyhow::Result<String> {
    let r = client
        .post(format!("{base}/api/v1/api-keys"))
        .bearer_auth(admin)
        .json(&json!({"name": "bench-idp", "permissions": ["scim"]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("creating the SCIM key: {} {}", r.status(), r.text().await.unwrap_or_default());
    }
    let body: Value = r.json().await?;
    Ok(body["secret"].as_str().context("the key's secret")?.to_owned())
}

fn filter_url(base: &str, filter: &str) -> String {
    format!("{base}/scim/v2/Users?filter={}", urlencode(filter))
}

/// GET with a bearer token; the status and the body's `totalResults`.
async fn get_total(client: &reqwest::Client, url: &str, token: &str) -> (u16, Option<u64>) {
    match client.get(url).bearer_auth(token).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let total = r.json::<Value>().await.ok().and_then(|b| b["totalResults"].as_u64());
            (status, total)
        }
        Err(_) => (0, None),
    }
}

/// Both lookups over `emails`, each `clients` closed loops for `window` after `warmup`. Before
/// timing, the first emails are looked up once and must each find exactly one user.
pub(super) async fn lookups(
    client: &reqwest::Client,
    base: &str,
    (scim_token, admin): (&str, &str),
    emails: Vec<String>,
    (clients, warmup, window, pid): (usize, Duration, Duration, u32),
) -> anyhow::Result<Lookups> {
    if emails.is_empty() {
        bail!("no emails to look up");
    }
    for email in emails.iter().take(5) {
        let (status, total) =
            get_total(client, &filter_url(base, &format!("userName eq \"{email}\"")), scim_token).await;
        if status != 200 || total != Some(1) {
            bail!("SCIM userName eq \"{email}\" answered {status} with totalResults {total:?}, not one user");
        }
    }
    let emails = Arc::new(emails);
    let scim = {
        let (emails, base, token, client) = (emails.clone(), base.to_owned(), scim_token.to_owned(), client.clone());
        load::run(clients, warmup, window, pid, move |c, n, _| {
            let email = &emails[(c * 7919 + usize::try_from(n).unwrap_or(0)) % emails.len()];
            let url = filter_url(&base, &format!("userName eq \"{email}\""));
            let (client, token) = (client.clone(), token.clone());
            async move { status_only(&client, &url, &token).await }
        })
        .await
    };
    let rest_by_email = {
        let (emails, base, token, client) = (emails.clone(), base.to_owned(), admin.to_owned(), client.clone());
        load::run(1, warmup, window, pid, move |c, n, _| {
            let email = &emails[(c * 7919 + usize::try_from(n).unwrap_or(0)) % emails.len()];
            let url = format!("{base}/api/v1/users?q={}&limit=1", urlencode(email));
            let (client, token) = (client.clone(), token.clone());
            async move { status_only(&client, &url, &token).await }
        })
        .await
    };
    Ok(Lookups { scim, rest_by_email })
}

async fn status_only(client: &reqwest::Client, url: &str, token: &str) -> Outcome {
    let status = match client.get(url).bearer_auth(token).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            // Read the whole answer, as a client does.
            r.bytes().await.map_or(0, |_| status)
        }
        Err(_) => 0,
    };
    Outcome { status, next_cursor: None }
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    f64::from(sorted[i]) / 1_000.0
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// The initial sync of [`SYNC_USERS`] users and [`SYNC_GROUPS`] groups.
pub(super) async fn initial_sync(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<SyncReport> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..SYNC_CLIENTS {
        let (client, base, token) = (client.clone(), base.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut created: Vec<(usize, String)> = Vec::new();
            let (mut lookups, mut creates) = (Vec::new(), Vec::new());
            let mut unexpected: BTreeMap<String, usize> = BTreeMap::new();
            for i in (c..SYNC_USERS).step_by(SYNC_CLIENTS) {
                let email = format!("sync-{i:05}@scim-sync.example");
                let sent = Instant::now();
                let (status, total) =
                    get_total(&client, &filter_url(&base, &format!("userName eq \"{email}\"")), &token).await;
                lookups.push(micros(sent));
                if status != 200 || total != Some(0) {
                    *unexpected.entry(format!("lookup {status}")).or_default() += 1;
                }
                let user = json!({
                    "schemas": [SCIM_USER],
                    "userName": email,
                    "externalId": format!("00u{i:017}"),
                    "name": {"givenName": format!("Sync{i}"), "familyName": "Provisioned"},
                    "emails": [{"value": email, "type": "work", "primary": true}],
                    "active": true,
                });
                let sent = Instant::now();
                let answer = client
                    .post(format!("{base}/scim/v2/Users"))
                    .bearer_auth(&token)
                    .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
                    .body(user.to_string())
                    .send()
                    .await;
                let (status, id) = match answer {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        (status, body["id"].as_str().map(str::to_owned))
                    }
                    Err(_) => (0, None),
                };
                creates.push(micros(sent));
                match (status, id) {
                    (201, Some(id)) => created.push((i, id)),
                    _ => *unexpected.entry(format!("create {status}")).or_default() += 1,
                }
            }
            (created, lookups, creates, unexpected)
        }));
    }
    let mut created = Vec::new();
    let (mut lookups, mut creates) = (Vec::new(), Vec::new());
    let mut unexpected: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let (c, l, k, u) = task.await?;
        created.extend(c);
        lookups.extend(l);
        creates.extend(k);
        for (kind, n) in u {
            *unexpected.entry(kind).or_default() += n;
        }
    }
    let users_seconds = started.elapsed().as_secs_f64();
    created.sort_unstable();

    // The groups: created empty, then their members added 100 per PATCH, as Okta pushes them.
    let mut patches = Vec::new();
    let mut memberships = 0;
    let per_group = created.len().div_ceil(SYNC_GROUPS).max(1);
    let mut groups = 0;
    for (g, members) in created.chunks(per_group).enumerate() {
        let r = client
            .post(format!("{base}/scim/v2/Groups"))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
            .body(json!({"schemas": [SCIM_GROUP], "displayName": format!("Sync group {g}")}).to_string())
            .send()
            .await?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let Some(group) = body["id"].as_str().filter(|_| status == 201) else {
            *unexpected.entry(format!("group create {status}")).or_default() += 1;
            continue;
        };
        groups += 1;
        for batch in members.chunks(SYNC_MEMBERS_PER_PATCH) {
            let value: Vec<Value> = batch.iter().map(|(_, id)| json!({"value": id})).collect();
            let patch =
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": value}]});
            let sent = Instant::now();
            let r = client
                .patch(format!("{base}/scim/v2/Groups/{group}"))
                .bearer_auth(token)
                .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
                .body(patch.to_string())
                .send()
                .await?;
            let status = r.status().as_u16();
            r.bytes().await.ok();
            patches.push(micros(sent));
            if (200..300).contains(&status) {
                memberships += batch.len();
            } else {
                *unexpected.entry(format!("group patch {status}")).or_default() += 1;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let (status, found) =
        get_total(client, &format!("{}&count=1", filter_url(base, "userName ew \"@scim-sync.example\"")), token).await;
    if status != 200 {
        bail!("counting the synced users answered {status}");
    }
    lookups.sort_unstable();
    creates.sort_unstable();
    patches.sort_unstable();
    Ok(SyncReport {
        users: created.len(),
        seconds,
        users_seconds,
        create_p50_ms: percentile(&creates, 0.5),
        create_p99_ms: percentile(&creates, 0.99),
        lookup_p99_ms: percentile(&lookups, 0.99),
        groups,
        memberships,
        patch_p99_ms: percentile(&patches, 0.99),
        unexpected,
        found_after: found.unwrap_or(0),
    })
}
