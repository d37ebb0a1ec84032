//! The OpenAPI document tells the truth (decision 0021): every operation it lists is
//! called with requests built from the document itself — real ids, random ids and garbage in the
//! path; valid and invalid query parameters and headers; a valid body and its mutations; no or
//! wrong credentials — and every answer is checked against the document: never a 5xx, only
//! documented statuses, and a body of a documented content type that validates against the
//! documented schema. Every violation is collected; the test fails at the end with all of them.
//!
//! The requests come from a fixed seed, so a failure reproduces; `ROSTER_CONFORMANCE_SEED` runs
//! another seed (to explore, not in CI), and `ROSTER_CONFORMANCE_TRACE=1` prints every request
//! with its answer (with `--nocapture`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::{Method, StatusCode, Url};
use roster_adapters_crm::CrmChoice;
use roster_app::system::SystemClock;
use roster_domain::ports::Clock as _;
use roster_testkit::generator::Rng;
use serde_json::{Map, Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::crm::sample_csv;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, TestApp, apps_with};

/// The seed of the requests.
const SEED: u64 = 0x0A91_2026_C0FF_EE01;

/// Operations that end the session they are sent with. They are not skipped: each of their
/// requests that would carry the admin's session carries a session of its own instead (a fresh
/// login; for `DELETE /impersonation`, a fresh impersonation), so the run keeps its session.
const OWN_SESSION: [(&str, &str); 3] =
    [("DELETE", "/api/v1/session"), ("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/impersonation")];

/// Operations not exercised at all, each with its reason. None: no operation of the document
/// ends the organization or the run (the session-ending ones are in [`OWN_SESSION`]).
const SKIPPED: [(&str, &str, &str); 0] = [];

/// The operation that changes the caller's own password: it is sent with the session of a member
/// of its own ([`Fixtures::member_token`]), whose password it sets again, so that no fuzzed
/// body changes the admin's password under the run.
const OWN_PASSWORD: (&str, &str) = ("PUT", "/api/v1/me/password");

/// The password of that member.
const MEMBER_PASSWORD: &str = "the fixture member's password";

/// Fewer requests than this in a run means the generator lost its way (a test that cannot fail
/// is worth nothing).
const MIN_REQUESTS: usize = 500;

#[tokio::test]
async fn every_documented_operation_answers_as_the_document_says_with_the_fixed_seed() {
    let seed = std::env::var("ROSTER_CONFORMANCE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    conform("openapi_conformance", seed).await;
}

/// Another seed each run, printed, so the generator keeps exploring; a failure names its seed,
/// and `ROSTER_CONFORMANCE_SEED=<seed>` replays it in the test above.
#[tokio::test]
async fn every_documented_operation_answers_as_the_document_says_with_a_random_seed() {
    let now = SystemClock.now();
    let seed = u64::try_from(now.unix_timestamp_nanos() % i128::from(u64::MAX)).unwrap_or(SEED) ^ SEED;
    eprintln!("openapi_conformance: random seed {seed}");
    conform("openapi_conformance_random", seed).await;
}

async fn conform(name: &str, seed: u64) {
    let (_dir, csv) = sample_csv();
    let options = Options { crm: CrmChoice::Csv(csv), ..Options::default() };
    for app in apps_with(name, &options).await {
        let run = run(&app, seed).await;
        eprintln!(
            "{name} ({}, seed {seed}): {} operations, {} requests ({} valid by the document, {} breaking it), \
             {} violations",
            app.engine,
            run.operations,
            run.requests,
            run.valid,
            run.invalid,
            run.violations.len()
        );
        assert!(run.requests >= MIN_REQUESTS, "{}: only {} requests were sent", app.engine, run.requests);
        assert!(
            run.valid >= MIN_REQUESTS / 4,
            "{}: only {} requests were valid by the document",
            app.engine,
            run.valid
        );
        assert!(run.invalid >= MIN_REQUESTS / 4, "{}: only {} requests broke the document", app.engine, run.invalid);
        assert!(
            run.violations.is_empty(),
            "{}: {} of {} requests broke the OpenAPI document (seed {seed}):\n{}",
            app.engine,
            run.violations.len(),
            run.requests,
            report(&run.violations)
        );
        // Under the fixed seed every operation is answered with success at least once, so every
        // success schema is checked: an operation the generator can no longer build a good
        // request for is news too. (Another seed may miss one: a state-dependent success, like
        // a sign-up while a fuzzed settings change has closed sign-up, is luck there.)
        if seed == SEED {
            assert!(run.unsuccessful.is_empty(), "{}: never answered with success: {:?}", app.engine, run.unsuccessful);
        } else if !run.unsuccessful.is_empty() {
            eprintln!("{name} (seed {seed}): never answered with success: {:?}", run.unsuccessful);
        }
        app.finish().await;
    }
}

/// What a run saw.
#[derive(Debug)]
struct Run {
    operations: usize,
    requests: usize,
    /// Requests valid by the document: none may be refused for its shape.
    valid: usize,
    /// Requests that break the document: each must be refused.
    invalid: usize,
    violations: Vec<Violation>,
    /// The operations never answered with success (so their success schema went unchecked).
    unsuccessful: Vec<String>,
}

/// One answer that is not what the document says.
#[derive(Debug)]
struct Violation {
    operation: String,
    request: String,
    status: u16,
    what: String,
}

async fn run(app: &TestApp, seed: u64) -> Run {
    let admin = app.login().await;
    let fixtures = Fixtures::create(app, &admin).await;
    let doc = app.get_ok("/openapi.json", &admin).await;
    let operations = operations(&doc);
    let documented: BTreeSet<(String, String)> =
        operations.iter().map(|o| (o.method.to_string(), o.path.clone())).collect();
    for (method, path) in OWN_SESSION {
        assert!(documented.contains(&(method.to_owned(), path.to_owned())), "{method} {path} is documented");
    }
    let cookie = doc["components"]["securitySchemes"]["session_cookie"]["name"]
        .as_str()
        .expect("the session cookie's name is documented")
        .to_owned();

    let mut ctx = Ctx { doc: &doc, fixtures: &fixtures, rng: Rng::new(seed), counter: 0, operation: String::new() };
    let mut probes: Vec<Probe> = Vec::new();
    for op in &operations {
        if SKIPPED.iter().any(|(m, p, _)| *m == op.method.as_str() && *p == op.path) {
            continue;
        }
        probes.extend(ctx.probes(op));
    }
    // Reads first, then writes, deletions last and the deepest first (a group's members before
    // the group): the real ids stay real for as long as possible.
    probes.sort_by_key(|p| match p.method {
        Method::GET => (0, 0),
        Method::DELETE => (2, usize::MAX - p.template.len()),
        _ => (1, 0),
    });
    let exercised: BTreeSet<(String, String)> =
        probes.iter().map(|p| (p.method.to_string(), p.template.clone())).collect();
    let skipped: BTreeSet<(String, String)> = documented.difference(&exercised).cloned().collect();
    let expected: BTreeSet<(String, String)> =
        SKIPPED.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(skipped, expected, "{}: the operations not exercised are exactly SKIPPED", app.engine);

    // The sessions of the session-ending requests are made now, before the fuzzing can touch the
    // admin's account or the impersonated member, and those requests go first.
    for probe in &mut probes {
        match probe.auth {
            Auth::OwnSession => probe.auth = Auth::Bearer(app.login().await),
            Auth::OwnImpersonation => probe.auth = Auth::Bearer(impersonate(app, &admin, &fixtures.users[1]).await),
            _ => {}
        }
    }
    probes.sort_by_key(|p| !p.own_session);

    let mut validators = Validators::new(&doc);
    let mut violations = Vec::new();
    let mut requests = 0;
    let (mut valid, mut invalid) = (0, 0);
    let mut statuses: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    let trace = std::env::var_os("ROSTER_CONFORMANCE_TRACE").is_some();
    for probe in &probes {
        let op = operations
            .iter()
            .find(|o| o.method == probe.method && o.path == probe.template)
            .expect("a probe of a documented operation");
        let mut answers = vec![(probe.clone(), send(app, probe, &admin, &cookie).await)];
        // A list walked by its own cursor: the next page is asked with the cursor the first
        // page handed out.
        let cursor = answers[0].1.json.as_ref().and_then(|b| b["next_cursor"].as_str()).map(str::to_owned);
        if let Some(cursor) = cursor.filter(|_| probe.follow_cursor) {
            let mut next = probe.clone();
            next.query.retain(|(k, _)| k != "cursor");
            next.query.push(("cursor".to_owned(), cursor));
            next.what = format!("{} (next page by its cursor)", probe.what);
            let answer = send(app, &next, &admin, &cookie).await;
            answers.push((next, answer));
        }
        for (probe, answer) in answers {
            requests += 1;
            let expect = expectation(&mut validators, op, &probe);
            match expect {
                Expect::Accept => valid += 1,
                Expect::Refuse { .. } => invalid += 1,
                Expect::Either => {}
            }
            if trace {
                eprintln!(
                    "{} -> {} {}",
                    answer.request,
                    answer.status,
                    shorten(&String::from_utf8_lossy(&answer.bytes))
                );
            }
            *statuses
                .entry(format!("{} {}", op.method, op.path))
                .or_default()
                .entry(answer.status.as_u16())
                .or_default() += 1;
            for what in check(&doc, &mut validators, op, &expect, &answer) {
                violations.push(Violation {
                    operation: format!("{} {}", op.method, op.path),
                    request: answer.request.clone(),
                    status: answer.status.as_u16(),
                    what,
                });
            }
        }
    }
    for (op, counts) in &statuses {
        eprintln!("  {op}: {counts:?}");
    }
    let unsuccessful: Vec<String> =
        statuses.iter().filter(|(_, c)| !c.keys().any(|s| (200..300).contains(s))).map(|(op, _)| op.clone()).collect();
    // The run kept its session and its rights: the requests above were answered as an admin.
    let me = app.get_ok("/api/v1/me", &admin).await;
    assert_eq!(me["user"]["email"], ADMIN_EMAIL, "{}: still the admin", app.engine);
    app.get_ok("/api/v1/users?limit=1", &admin).await;
    Run { operations: exercised.len(), requests, valid, invalid, violations, unsuccessful }
}

/// The violations, grouped by operation, one line each.
fn report(violations: &[Violation]) -> String {
    let mut by_op: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
    for v in violations {
        by_op.entry(&v.operation).or_default().push(v);
    }
    let mut out = String::new();
    for (op, vs) in by_op {
        let _ = writeln!(out, "{op}:");
        for v in vs {
            let _ = writeln!(out, "  - [{}] {}\n      request: {}", v.status, v.what, v.request);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The data the requests refer to.

/// Real resources, made over the API before the run, so that paths and bodies can name them.
#[derive(Debug)]
struct Fixtures {
    root: String,
    groups: [String; 2],
    /// The first two are members of the first group; the first holds core; the second has a
    /// scheduled change and is the one impersonated; the third is the one deactivated.
    users: [String; 3],
    /// A deleted user, the one restored.
    deleted: String,
    role: String,
    flow: String,
    connection: String,
    api_key: String,
    /// A webhook endpoint (a public address literal: the run's servers check URLs as production
    /// does, and no name resolves here).
    webhook: String,
    /// The invite that is not accepted.
    invite: String,
    saved_view: String,
    scheduled: String,
    /// A finished bulk job (over every user of the organization: more than 1,000).
    job: String,
    crm_ids: Vec<String>,
    /// The token of the fixture invite's email, of a sign-up's verification email, and of a
    /// password reset link mailed to a member no other request names.
    invite_token: String,
    verify_token: String,
    reset_token: String,
    /// A session of a member made for `PUT /me/password` ([`OWN_PASSWORD`]).
    member_token: String,
}

impl Fixtures {
    async fn create(app: &TestApp, admin: &str) -> Self {
        let created = |v: Value| v["id"].as_str().expect("an id").to_owned();
        let root = app.root_group(admin).await;
        let g1 = app.group(admin, "Conformance One", &root).await;
        let g2 = app.group(admin, "Conformance Two", &root).await;
        let mut users = Vec::new();
        // Ada holds core from the start, so that `PUT /users/{id}/licenses` on her can succeed
        // however the run has spent the seats before it (setting what she holds is no change).
        for (email, groups, products) in [
            ("ada@demo.example", json!([g1]), json!(["core"])),
            ("grace@demo.example", json!([g1]), json!([])),
            ("alan@demo.example", json!([]), json!([])),
        ] {
            let body = json!({"email": email, "first_name": "Fixture", "last_name": "User", "group_ids": groups,
                "products": products});
            users.push(created(app.send_ok(Method::POST, "/api/v1/users", admin, &body, StatusCode::CREATED).await));
        }
        let [a, b, c] = <[String; 3]>::try_from(users).expect("three users");
        let body = json!({"email": "deleted@demo.example", "first_name": "Fixture", "last_name": "Deleted"});
        let deleted = created(app.send_ok(Method::POST, "/api/v1/users", admin, &body, StatusCode::CREATED).await);
        let path = format!("/api/v1/users/{deleted}?confirm=true");
        app.send_ok(Method::DELETE, &path, admin, &Value::Null, StatusCode::NO_CONTENT).await;
        // A sign-up waiting for its verification (auto sign-up is on in a new organization).
        let body = json!({"allowed_signup_domains": ["signup.example"]});
        app.send_ok(Method::PATCH, "/api/v1/org/settings", admin, &body, StatusCode::OK).await;
        let body = json!({"org": "demo", "email": "sam@signup.example", "first_name": "Sam", "last_name": "Signup",
            "password": ADMIN_PASSWORD});
        let r = app.request(Method::POST, "/api/v1/signup").json(&body).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}: signs up", app.engine);
        let body = json!({"key": "conformance", "name": "Conformance", "permissions": [], "visibility": "all"});
        let role = created(app.send_ok(Method::POST, "/api/v1/roles", admin, &body, StatusCode::CREATED).await);
        let body = json!({"name": "Conformance flow"});
        let flow = created(app.send_ok(Method::POST, "/api/v1/flows", admin, &body, StatusCode::CREATED).await);
        let body = json!({"email": "lead@client.example", "name": "A Lead", "group": g1});
        let connection = created(app.connection(admin, &body).await);
        let body = json!({"name": "Conformance key", "permissions": ["manage_users"]});
        let api_key = created(app.send_ok(Method::POST, "/api/v1/api-keys", admin, &body, StatusCode::CREATED).await);
        let body = json!({"url": "https://93.184.216.34/hooks/roster", "event_types": ["user.*"]});
        let webhook = created(app.send_ok(Method::POST, "/api/v1/webhooks", admin, &body, StatusCode::CREATED).await);
        // Invites need auto sign-up off.
        let body = json!({"auto_signup": false, "confirm": true});
        app.send_ok(Method::PATCH, "/api/v1/org/settings", admin, &body, StatusCode::OK).await;
        // Two invites: the first is accepted with its emailed token, the second resent and revoked.
        let body = json!({"invites": [
            {"name": "Katherine Johnson", "email": "katherine@demo.example", "roles": ["standard"], "products": ["core"]},
            {"name": "Dorothy Vaughan", "email": "dorothy@demo.example", "roles": ["standard"], "products": ["core"]}]});
        let invites = app.send_ok(Method::POST, "/api/v1/invites", admin, &body, StatusCode::CREATED).await;
        let invite = invites["results"][1]["invite_id"].as_str().expect("an invite id").to_owned();
        let body = json!({"name": "Conformance view", "per_page": 25});
        let saved_view =
            created(app.send_ok(Method::POST, "/api/v1/saved-views", admin, &body, StatusCode::CREATED).await);
        let body = json!({"action": "deactivate", "effective_at": in_days(30)});
        let path = format!("/api/v1/users/{b}/scheduled-changes");
        let scheduled = created(app.send_ok(Method::POST, &path, admin, &body, StatusCode::CREATED).await);
        let job = finished_job(app, admin).await;
        let crm_ids = ["005Hn00000B7k1aIAB", "005Hn00000B7k1bIAB", "005Hn00000B7k1cIAB"].map(str::to_owned).to_vec();
        // A member who asked for a password reset link, for `POST /password-reset/confirm`.
        let body = json!({"email": "margaret@demo.example", "first_name": "Fixture", "last_name": "Reset"});
        app.send_ok(Method::POST, "/api/v1/users", admin, &body, StatusCode::CREATED).await;
        // A member with an initial password, whose session changes its own password.
        let body = json!({"email": "pat@demo.example", "first_name": "Fixture", "last_name": "Own",
            "password": MEMBER_PASSWORD});
        app.send_ok(Method::POST, "/api/v1/users", admin, &body, StatusCode::CREATED).await;
        let member_token = app.login_to("demo", "pat@demo.example", MEMBER_PASSWORD).await;
        let body = json!({"org": "demo", "email": "margaret@demo.example"});
        let r = app.request(Method::POST, "/api/v1/password-reset").json(&body).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}: asks for a reset link", app.engine);
        let mail = app.mail().await;
        let token = |to: &str, link: &str| mail.iter().find(|m| m.to.contains(to)).expect("a message").token(link);
        let invite_token = token("katherine@demo.example", "/accept-invite");
        let verify_token = token("sam@signup.example", "/verify-email");
        let reset_token = token("margaret@demo.example", "/reset-password");
        Self {
            root,
            groups: [g1, g2],
            users: [a, b, c],
            deleted,
            role,
            flow,
            connection,
            api_key,
            webhook,
            invite,
            saved_view,
            scheduled,
            job,
            crm_ids,
            invite_token,
            verify_token,
            reset_token,
            member_token,
        }
    }

    /// The real resource a path parameter names: by the collection before it (`/users/{id}`),
    /// or by its own name (`{user_id}`).
    fn path_id(&self, template: &str, param: &str) -> Option<String> {
        if param == "user_id" {
            return Some(self.users[1].clone());
        }
        if template.ends_with("/deactivate") {
            return Some(self.users[2].clone());
        }
        if template.ends_with("/restore") {
            return Some(self.deleted.clone());
        }
        let marker = format!("/{{{param}}}");
        let before = &template[..template.find(&marker)?];
        let collection = before.rsplit('/').next()?;
        let id = match collection {
            "users" => &self.users[0],
            "groups" => &self.groups[0],
            "roles" => &self.role,
            "connections" => &self.connection,
            "api-keys" => &self.api_key,
            "webhooks" => &self.webhook,
            "invites" => &self.invite,
            "saved-views" => &self.saved_view,
            "scheduled-changes" => &self.scheduled,
            "flows" => &self.flow,
            "jobs" => &self.job,
            _ => return None,
        };
        Some(id.clone())
    }
}

/// A bulk job over more than 1,000 users, worked to its end by this test (the app's own runner
/// wakes once an hour); its id.
async fn finished_job(app: &TestApp, admin: &str) -> String {
    use futures::StreamExt as _;
    let creates = (0..1_001).map(|i| async move {
        let body = json!({"email": format!("job{i}@demo.example"), "first_name": "Job", "last_name": "User"});
        app.send_ok(Method::POST, "/api/v1/users", admin, &body, StatusCode::CREATED).await;
    });
    futures::stream::iter(creates).buffer_unordered(8).collect::<Vec<()>>().await;
    let body = json!({"filter": {}, "action": "set_flow_enabled", "flow_enabled": true, "dry_run": true});
    let queued = app.send_ok(Method::POST, "/api/v1/users/bulk", admin, &body, StatusCode::ACCEPTED).await;
    let pace = roster_domain::services::JobPace::default();
    let mut claimed = app.services.claim_job("conformance", pace).await.expect("claims").expect("the queued job");
    while app.services.work_job("conformance", &mut claimed, pace).await.expect("works")
        == roster_domain::services::StepResult::Continue
    {}
    queued["id"].as_str().expect("a job id").to_owned()
}

/// RFC 3339 text `days` from now.
fn in_days(days: i64) -> String {
    (SystemClock.now() + Duration::days(days)).format(&Rfc3339).expect("formats")
}

/// A session acting as `user`, started by `admin`; its token.
async fn impersonate(app: &TestApp, admin: &str, user: &str) -> String {
    let body = json!({"user_id": user, "reason": "conformance check of DELETE /impersonation"});
    let started = app.send_ok(Method::POST, "/api/v1/impersonation", admin, &body, StatusCode::OK).await;
    started["token"].as_str().expect("a token").to_owned()
}

// ---------------------------------------------------------------------------------------------
// The document.

/// One operation of the document.
#[derive(Debug)]
struct Operation {
    method: Method,
    path: String,
    op: Value,
}

impl Operation {
    fn parameters(&self, location: &str) -> Vec<&Value> {
        self.op["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter(|p| p["in"] == location).collect())
            .unwrap_or_default()
    }

    fn secured(&self) -> bool {
        self.op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|r| !r.is_empty())))
    }

    fn json_body_schema(&self) -> Option<&Value> {
        self.op["requestBody"]["content"]["application/json"].get("schema")
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (name, method) in [
            ("get", Method::GET),
            ("post", Method::POST),
            ("put", Method::PUT),
            ("patch", Method::PATCH),
            ("delete", Method::DELETE),
        ] {
            if let Some(op) = item.get(name) {
                out.push(Operation { method, path: path.clone(), op: op.clone() });
            }
        }
    }
    out
}

/// `schema` with its `$ref`s followed.
fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else { break };
        schema = doc.pointer(reference.trim_start_matches('#')).unwrap_or(&Value::Null);
    }
    schema
}

/// The first non-null type a schema names.
fn schema_type(schema: &Value) -> Option<&str> {
    match &schema["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ if schema.get("properties").is_some() => Some("object"),
        _ => None,
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema["type"] == "null"
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// Whose credentials a request carries.
#[derive(Debug, Clone)]
enum Auth {
    Admin,
    None,
    Bearer(String),
    /// The admin's session as the console's cookie, without `X-Requested-With`.
    Cookie,
    /// A session of its own (made before the run), for a request that ends its session.
    OwnSession,
    /// The session of the fixture member (for [`OWN_PASSWORD`]).
    Member(String),
    OwnImpersonation,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    Raw { content_type: &'static str, text: String },
}

/// One request to send.
#[derive(Debug, Clone)]
struct Probe {
    method: Method,
    template: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Body,
    auth: Auth,
    /// What makes this request what it is, for the report.
    what: String,
    /// Also ask the next page with the cursor the answer hands out.
    follow_cursor: bool,
    /// The path's ids are the fixtures' (not a random id, garbage or a NUL).
    real_path: bool,
    /// For a body the document gives no JSON schema for (a CSV file): whether it is valid by
    /// the document's description of it, as it was built.
    text_body_valid: Option<bool>,
    own_session: bool,
}

impl Probe {
    fn with(&self, what: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.what = what.into();
        p
    }

    /// `self` with another body, valid or not.
    fn with_body(&self, what: impl Into<String>, body: Body) -> Self {
        Self { body, ..self.with(what) }
    }

    fn summary(&self) -> String {
        let mut out = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={}", shorten(v))).collect();
            let _ = write!(out, "?{}", q.join("&"));
        }
        for (k, v) in &self.headers {
            let _ = write!(out, " [{k}: {}]", shorten(v));
        }
        match &self.body {
            Body::None => {}
            Body::Json(v) => {
                let _ = write!(out, " body {}", shorten(&v.to_string()));
            }
            Body::Raw { content_type, text } => {
                let _ = write!(out, " body ({content_type}) {}", shorten(text));
            }
        }
        let auth = match &self.auth {
            Auth::Admin => "",
            Auth::None => " (no credentials)",
            Auth::Bearer(_) if self.own_session => " (a session of its own)",
            Auth::Bearer(_) => " (a bearer token of no session)",
            Auth::Member(_) => " (the fixture member's session)",
            Auth::Cookie => " (the session cookie, no X-Requested-With)",
            Auth::OwnSession | Auth::OwnImpersonation => " (a session of its own)",
        };
        format!("{out}{auth} — {}", self.what)
    }
}

/// `text`, at most 160 characters of it, control characters escaped (a NUL shows as `\0`).
fn shorten(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(160)
        .flat_map(|c| if c.is_control() { c.escape_debug().collect::<Vec<_>>() } else { vec![c] })
        .collect();
    if text.chars().count() > 160 {
        out.push('…');
    }
    out
}

/// What generates requests: the document, the real data and the seeded generator.
struct Ctx<'a> {
    doc: &'a Value,
    fixtures: &'a Fixtures,
    rng: Rng,
    counter: u32,
    /// The path of the operation whose requests are being made.
    operation: String,
}

impl Ctx<'_> {
    /// The requests of one operation.
    fn probes(&mut self, op: &Operation) -> Vec<Probe> {
        self.operation.clone_from(&op.path);
        let key = (op.method.as_str(), op.path.as_str());
        let own_session = OWN_SESSION.contains(&key);
        let admin = if key == OWN_PASSWORD {
            Auth::Member(self.fixtures.member_token.clone())
        } else if !own_session {
            Auth::Admin
        } else if op.path.ends_with("/impersonation") {
            Auth::OwnImpersonation
        } else {
            Auth::OwnSession
        };
        let path_params: Vec<String> =
            op.parameters("path").iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect();
        let real: Vec<(String, String)> = path_params
            .iter()
            .map(|name| {
                let id = self.fixtures.path_id(&op.path, name).unwrap_or_else(|| self.rng.uuid().to_string());
                (name.clone(), id)
            })
            .collect();
        let required_query: Vec<(String, String)> = op
            .parameters("query")
            .iter()
            .filter(|p| p["required"] == true)
            .map(|p| {
                let name = p["name"].as_str().unwrap_or_default().to_owned();
                let value = self.valid_query(&name, &p["schema"]);
                (name, value)
            })
            .collect();
        let body_schema = op.json_body_schema().cloned();
        let body = match &body_schema {
            Some(schema) => Body::Json(self.value(schema, "", false, 0)),
            None => Body::None,
        };
        let base = Probe {
            method: op.method.clone(),
            template: op.path.clone(),
            path: fill(&op.path, &real),
            query: required_query,
            headers: Vec::new(),
            body,
            auth: admin,
            what: if path_params.is_empty() { "valid".into() } else { "valid, real ids".into() },
            follow_cursor: false,
            real_path: true,
            text_body_valid: None,
            own_session,
        };
        let mut out = vec![base.clone()];
        if own_session {
            // A second one: these operations have few shapes worth trying.
            out.push(base.with("valid, again"));
        }

        for name in &path_params {
            for (label, value) in [
                ("a random id", self.rng.uuid().to_string()),
                ("garbage", format!("{}-{}", self.rng.word(6), self.rng.word(3))),
                ("a NUL character", format!("{}\u{0}", self.fixtures.path_id(&op.path, name).unwrap_or_default())),
            ] {
                let ids: Vec<(String, String)> =
                    real.iter().map(|(n, v)| (n.clone(), if n == name { value.clone() } else { v.clone() })).collect();
                let mut p = base.with(format!("{label} as {{{name}}}"));
                p.path = fill(&op.path, &ids);
                p.real_path = false;
                out.push(p);
            }
        }

        let query = op.parameters("query");
        for param in &query {
            let name = param["name"].as_str().unwrap_or_default().to_owned();
            let schema = &param["schema"];
            // A valid cursor is one a list handed out: see the `follow_cursor` request below.
            // Every value of a boolean or an enum; one value of anything else.
            let resolved = resolve(self.doc, schema);
            let values: Vec<String> = if schema_type(resolved) == Some("boolean") {
                vec!["true".into(), "false".into()]
            } else if let Some(values) = resolved["enum"].as_array() {
                values.iter().filter(|v| !v.is_null()).map(text_of).collect()
            } else if name == "cursor" {
                Vec::new()
            } else {
                vec![self.valid_query(&name, schema)]
            };
            for valid in values {
                let mut p = base.with(format!("a valid {name}"));
                p.query.retain(|(k, _)| *k != name);
                p.query.push((name.clone(), valid));
                out.push(p);
            }
            // PostgreSQL refuses NUL in text: every text parameter gets one.
            if schema_type(resolve(self.doc, schema)).is_none_or(|t| t == "string") {
                let mut p = base.with(format!("a NUL character in {name}"));
                p.query.retain(|(k, _)| *k != name);
                p.query.push((name.clone(), format!("{}\u{0}", self.rng.word(3))));
                out.push(p);
            }
            let (label, invalid) = self.invalid_query(&name, schema);
            let mut p = base.with(format!("{label} as {name}"));
            p.query.retain(|(k, _)| *k != name);
            p.query.push((name.clone(), invalid));
            out.push(p);
        }
        if !query.is_empty() {
            // A few valid parameters together.
            let mut p = base.with("several valid parameters");
            for _ in 0..3 {
                let param = *self.rng.pick(&query);
                let name = param["name"].as_str().unwrap_or_default().to_owned();
                if name == "cursor" {
                    continue;
                }
                let value = self.valid_query(&name, &param["schema"]);
                p.query.retain(|(k, _)| *k != name);
                p.query.push((name, value));
            }
            out.push(p);
        }
        if query.iter().any(|p| p["name"] == "cursor") && query.iter().any(|p| p["name"] == "limit") {
            let mut p = base.with("limit=1, then its next cursor");
            p.query.push(("limit".into(), "1".into()));
            p.follow_cursor = true;
            out.push(p);
        }
        let mut p = base.with("an undocumented query parameter");
        p.query.push(("fuzz_unknown".into(), "1".into()));
        out.push(p);

        for param in op.parameters("header") {
            let name = param["name"].as_str().unwrap_or_default().to_owned();
            let (valid, invalid) = match name.to_ascii_lowercase().as_str() {
                "if-match" => ("*".to_owned(), format!("\"{}\"", 900 + self.rng.below(99))),
                "idempotency-key" => (self.rng.uuid().to_string(), "x".repeat(300)),
                _ => (self.rng.word(8), String::new()),
            };
            let mut p = base.with(format!("a valid {name}"));
            p.headers.push((name.clone(), valid));
            out.push(p);
            let mut p = base.with(format!("an invalid {name}"));
            p.headers.push((name.clone(), invalid));
            out.push(p);
            if name.eq_ignore_ascii_case("if-match") {
                // A version that is no entity tag at all (the one above is a stale one).
                let mut p = base.with(format!("a malformed {name}"));
                p.headers.push((name.clone(), format!("{}", 1 + self.rng.below(9))));
                out.push(p);
            }
        }

        if let Some(schema) = &body_schema {
            out.extend(self.body_mutations(&base, schema));
        }
        if op.op["requestBody"]["content"].get("text/csv").is_some() {
            out.extend(self.csv_bodies(&base));
        }

        if op.secured() {
            out.push(Probe { auth: Auth::None, ..base.with("no credentials") });
            let bogus = if self.rng.chance(50) { format!("rk_{}", self.rng.word(32)) } else { self.rng.word(43) };
            out.push(Probe { auth: Auth::Bearer(bogus), ..base.with("a token of no session") });
            if !own_session {
                out.push(Probe { auth: Auth::Cookie, ..base.with("the session cookie") });
            }
        }
        out
    }

    /// A valid body in full, and the body's mutations.
    fn body_mutations(&mut self, base: &Probe, schema: &Value) -> Vec<Probe> {
        let mut out = Vec::new();
        let json = |p: &Probe, what: String, v: Value| p.with_body(what, Body::Json(v));
        let raw = |p: &Probe, what: &str, content_type: &'static str, text: String| {
            p.with_body(what, Body::Raw { content_type, text })
        };
        let full = self.value(schema, "", true, 0);
        out.push(base.with_body("a valid body with every field", Body::Json(full.clone())));
        // Valid bodies with some of the optional fields: the combinations a handler refuses
        // by its rules rather than by the body's shape.
        for _ in 0..3 {
            let mut v = self.value(schema, "", false, 0);
            if let (Some(o), Some(all)) = (v.as_object_mut(), full.as_object()) {
                for (k, field) in all {
                    if self.rng.chance(50) {
                        o.entry(k.clone()).or_insert_with(|| field.clone());
                    }
                }
            }
            out.push(base.with_body("a valid body with some optional fields", Body::Json(v)));
        }
        // The document's own examples, with real ids.
        for example in resolved_examples(self.doc, schema) {
            let v = self.rehint(&example, "");
            out.push(base.with_body("the document's example", Body::Json(v)));
        }
        let minimal = match &base.body {
            Body::Json(v) => v.clone(),
            _ => Value::Null,
        };
        let resolved = resolve(self.doc, schema);
        let required: Vec<String> = resolved["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(name) = (!required.is_empty()).then(|| self.rng.pick(&required).clone()) {
            let mut v = minimal.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove(&name);
            }
            out.push(json(base, format!("required `{name}` missing"), v));
        }
        if let Some(fields) = full.as_object().filter(|o| !o.is_empty()) {
            let names: Vec<&String> = fields.keys().collect();
            let name = (*self.rng.pick(&names)).clone();
            let mut v = full.clone();
            let wrong = wrong_type(&v[&name]);
            v[&name] = wrong;
            out.push(json(base, format!("`{name}` of the wrong type"), v));
            // An element of an array field of the wrong type, or a nested field.
            if let Some((name, items)) =
                fields.iter().find_map(|(k, v)| v.as_array().filter(|a| !a.is_empty()).map(|a| (k, a)))
            {
                let mut v = full.clone();
                v[name] = Value::Array(items.iter().map(wrong_type).collect());
                out.push(json(base, format!("`{name}` items of the wrong type"), v));
            }
        }
        // A NUL character in every text field of the full body, one at a time (PostgreSQL
        // refuses NUL in text).
        if let Some(fields) = full.as_object() {
            for (name, value) in fields {
                let nul = match value {
                    Value::String(s) => json!(format!("{s}\u{0}")),
                    Value::Array(items) if items.iter().any(Value::is_string) => {
                        json!(items.iter().map(|i| format!("{}\u{0}", text_of(i))).collect::<Vec<_>>())
                    }
                    _ => continue,
                };
                let mut v = full.clone();
                v[name] = nul;
                out.push(json(base, format!("a NUL character in `{name}`"), v));
            }
        }
        let mut v = minimal.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert("fuzz_unknown".into(), json!(true));
            out.push(json(base, "an unknown field".into(), v));
        }
        out.push(json(base, "an empty object".into(), json!({})));
        out.push(json(base, "null".into(), Value::Null));
        out.push(raw(base, "a JSON array", "application/json", "[1, 2]".into()));
        out.push(raw(base, "text that is not JSON", "application/json", format!("{{\"{}\": ", self.rng.word(5))));
        out.push(raw(base, "JSON sent as text/plain", "text/plain", minimal.to_string()));
        out.push(raw(base, "a body over the size limit", "application/json", format!("\"{}\"", "x".repeat(70 * 1024))));
        out
    }

    /// The bodies of an operation that reads a CSV file (`POST /users/import`): valid files of
    /// fresh people (one naming a fixture CRM id, one in Salesforce's naming, one as a dry run),
    /// and files it must refuse: broken quoting, a header without the required columns, no data
    /// row, and a file sent as `text/plain`.
    fn csv_bodies(&mut self, base: &Probe) -> Vec<Probe> {
        let csv = |p: &Probe, what: &str, text: String, valid: bool| Probe {
            text_body_valid: Some(valid),
            ..p.with_body(what, Body::Raw { content_type: "text/csv; charset=utf-8", text })
        };
        let mut fresh = || {
            self.counter += 1;
            format!("csv{}.{}@conformance.example", self.counter, self.rng.word(4))
        };
        let (a, b, c, d) = (fresh(), fresh(), fresh(), fresh());
        let crm_id = &self.fixtures.crm_ids[0];
        let mut out = vec![
            csv(
                base,
                "a valid CSV file",
                format!("email,first_name,last_name,crm_id\r\n{a},Csv,Row,{crm_id}\r\n"),
                true,
            ),
            csv(
                base,
                "a valid CSV file in Salesforce's naming",
                format!("Id,FirstName,LastName,Email,Phone,Title\n,Sales,Force,{b},,Rep\n"),
                true,
            ),
        ];
        let mut dry =
            csv(base, "a valid CSV file, as a dry run", format!("email,first_name,last_name\n{c},Dry,Run\n"), true);
        dry.query.push(("dry_run".into(), "true".into()));
        out.push(dry);
        out.push(csv(base, "broken quoting", format!("email,first_name,last_name\n{d},O\"Brien,Row\n"), false));
        out.push(csv(base, "a header without the required columns", format!("email,name\n{d},Only Name\n"), false));
        out.push(csv(base, "a header and no row", "email,first_name,last_name\n".into(), false));
        out.push(Probe {
            text_body_valid: Some(false),
            ..base.with_body(
                "a CSV file sent as text/plain",
                Body::Raw { content_type: "text/plain", text: format!("email,first_name,last_name\n{d},Plain,Text\n") },
            )
        });
        out
    }

    /// A value `schema` accepts; `name` is the field's name, for the values the server's rules
    /// want (real ids, known keys, an address) where the schema says only "a string".
    /// `full`: every property of objects, not only the required ones.
    fn value(&mut self, schema: &Value, name: &str, full: bool, depth: u32) -> Value {
        let schema = resolve(self.doc, schema);
        if depth > 8 {
            return Value::Null;
        }
        if let Some(c) = schema.get("const") {
            return c.clone();
        }
        if let Some(values) = schema["enum"].as_array() {
            let values: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
            if !values.is_empty() {
                return (*self.rng.pick(&values)).clone();
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alternatives) = schema[key].as_array() {
                let alternatives: Vec<&Value> = alternatives.iter().filter(|a| !is_null_schema(a)).collect();
                if alternatives.is_empty() {
                    return Value::Null;
                }
                let chosen = *self.rng.pick(&alternatives);
                return self.value(chosen, name, full, depth + 1);
            }
        }
        if let Some(parts) = schema["allOf"].as_array() {
            let mut merged = Map::new();
            for part in parts.iter().filter(|p| !constraint_only(p)) {
                if let Value::Object(o) = self.value(part, name, full, depth + 1) {
                    merged.extend(o);
                }
            }
            if let Some(Value::Object(o)) =
                (schema.get("properties").is_some()).then(|| self.object(schema, full, depth))
            {
                merged.extend(o);
            }
            // The rules between fields come last: they pick among the fields made above.
            for part in parts.iter().filter(|p| constraint_only(p)) {
                self.constrain(schema, part, &mut merged, full, depth);
            }
            return Value::Object(merged);
        }
        match schema_type(schema) {
            Some("object") => self.object(schema, full, depth),
            // The empty set is a valid product set (and the only one once the seats are gone).
            Some("array") if name == "products" && !full && self.rng.below(3) == 0 => json!([]),
            Some("array") => {
                let items = schema.get("items").unwrap_or(&Value::Null);
                let n = schema["minItems"].as_u64().unwrap_or(1).max(1);
                let mut out: Vec<Value> = Vec::new();
                for _ in 0..n {
                    let v = self.value(items, name, full, depth + 1);
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            Some("string") => Value::String(self.string(schema, name)),
            Some("integer") => json!(self.integer(schema, name)),
            Some("number") => json!(1.5),
            Some("boolean") => json!(self.rng.chance(50)),
            Some("null") => Value::Null,
            _ => Value::String(self.string(schema, name)),
        }
    }

    /// Makes `out`, an object made from `schema`'s properties, meet `part`, a rule between
    /// fields: an alternative of a `oneOf` is picked, and the fields the others require are
    /// removed; the fields `required` are added, those under `not` removed, and `properties`
    /// (an `action` of this alternative) set.
    fn constrain(&mut self, schema: &Value, part: &Value, out: &mut Map<String, Value>, full: bool, depth: u32) {
        let part = resolve(self.doc, part);
        let required = |s: &Value| -> Vec<String> {
            s["required"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        for sub in part["allOf"].as_array().into_iter().flatten() {
            self.constrain(schema, sub, out, full, depth);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alternatives) = part[key].as_array().filter(|a| !a.is_empty()) {
                let chosen = self.rng.below(alternatives.len());
                if key == "oneOf" {
                    let keep = required(&alternatives[chosen]);
                    for (i, other) in alternatives.iter().enumerate() {
                        if i != chosen {
                            for field in required(other).into_iter().filter(|f| !keep.contains(f)) {
                                out.remove(&field);
                            }
                        }
                    }
                }
                self.constrain(schema, &alternatives[chosen], out, full, depth);
            }
        }
        for (field, field_schema) in part["properties"].as_object().into_iter().flatten() {
            let v = self.value(field_schema, field, full, depth + 1);
            out.insert(field.clone(), v);
        }
        for field in required(part) {
            if !out.contains_key(&field) {
                let v = self.value(&schema["properties"][&field], &field, full, depth + 1);
                out.insert(field, v);
            }
        }
        let not = &part["not"];
        for forbidden in not["anyOf"].as_array().into_iter().flatten().chain([not]) {
            for field in required(forbidden) {
                out.remove(&field);
            }
        }
    }

    fn object(&mut self, schema: &Value, full: bool, depth: u32) -> Value {
        let required: BTreeSet<&str> =
            schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let mut out = Map::new();
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                if full || required.contains(name.as_str()) {
                    out.insert(name.clone(), self.value(property, name, full, depth + 1));
                }
            }
        }
        Value::Object(out)
    }

    fn unique(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    fn string(&mut self, schema: &Value, name: &str) -> String {
        if let Some(v) = self.hint(name) {
            return v;
        }
        match schema["format"].as_str() {
            Some("uuid") => self.rng.uuid().to_string(),
            Some("date-time") => in_days(7),
            Some("date") => "2030-01-01".to_owned(),
            Some("email") => format!("fuzz{}@demo.example", self.unique()),
            _ => {
                let min = schema["minLength"].as_u64().unwrap_or(1);
                let max = schema["maxLength"].as_u64().unwrap_or(12).max(min);
                let len = usize::try_from(min.max(8).min(max)).unwrap_or(8);
                self.rng.word(len)
            }
        }
    }

    /// `example` with the ids it names replaced by real ones (and its time by one in the
    /// future).
    fn rehint(&mut self, example: &Value, name: &str) -> Value {
        match example {
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), self.rehint(v, k))).collect()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.rehint(v, name)).collect()),
            Value::String(_) if name.ends_with("_id") || name.ends_with("_ids") || name == "effective_at" => {
                self.hint(name).map_or_else(|| example.clone(), Value::String)
            }
            other => other.clone(),
        }
    }

    /// The value a field of this name wants, where its schema says only "a string".
    fn hint(&mut self, name: &str) -> Option<String> {
        let fx = self.fixtures;
        match name {
            // A selection of users (a bulk action, members added to a group) names Alan, whom
            // no path names but `/deactivate`: a bulk `remove_teams` on Ada would take her out
            // of the group `POST /users/{id}/move` moves her from.
            "user_ids" => Some(fx.users[2].clone()),
            "user_id" | "viewer" => Some(fx.users[0].clone()),
            "cc" => Some(fx.users[1].clone()),
            "group_id" | "group_ids" | "group" | "group_access" | "from_group_id" => Some(fx.groups[0].clone()),
            "to_group_id" => Some(fx.groups[1].clone()),
            "parent_id" => Some(if self.rng.chance(50) { fx.root.clone() } else { fx.groups[0].clone() }),
            "flow_id" | "flow_ids" | "flows" => Some(fx.flow.clone()),
            "role_id" => Some(fx.role.clone()),
            "crm_id" | "crm_ids" => Some(self.rng.pick(&fx.crm_ids).clone()),
            "org" => Some("demo".to_owned()),
            "token" if self.operation == "/api/v1/invites/accept" => Some(fx.invite_token.clone()),
            "token" if self.operation == "/api/v1/signup/verify" => Some(fx.verify_token.clone()),
            "token" if self.operation == "/api/v1/password-reset/confirm" => Some(fx.reset_token.clone()),
            // `PUT /me/password` sets the fixture member's password again.
            "current_password" => Some(MEMBER_PASSWORD.to_owned()),
            "password" if self.operation == OWN_PASSWORD.1 => Some(MEMBER_PASSWORD.to_owned()),
            "scope" => Some(fx.groups[0].clone()),
            "email" | "emails" if self.login_context() => Some(ADMIN_EMAIL.to_owned()),
            "email" | "emails" => Some(format!("fuzz{}@demo.example", self.unique())),
            "password" => Some(ADMIN_PASSWORD.to_owned()),
            "products" | "product" => Some("core".to_owned()),
            "roles" | "role" => Some("standard".to_owned()),
            "key" if self.rng.chance(50) => Some("standard".to_owned()),
            "key" => Some(format!("fuzz_{}", self.rng.word(6))),
            "permissions" => Some("view_reporting".to_owned()),
            "visibility" => Some("all".to_owned()),
            "reason" => Some("conformance check".to_owned()),
            // A public name (none resolves here, which registration accepts) and subscriptions.
            "url" => Some(format!("https://hooks{}.example.com/roster", self.unique())),
            "event_types" => Some("user.*".to_owned()),
            "types" => Some("user.*,group.created".to_owned()),
            "effective_at" => Some(in_days(7)),
            "created_from" => Some(in_days(-30)),
            "created_to" => Some(in_days(1)),
            "action" => Some((*self.rng.pick(&["deactivate", "remove_license"])).to_owned()),
            "allowed_signup_domains" => Some("demo.example".to_owned()),
            "phone" => Some("+14155550100".to_owned()),
            "agent_ring_number" | "dialer_number" | "voip_forward_to" => Some("+14155550199".to_owned()),
            "columns" => Some("email".to_owned()),
            "sort" => Some(String::new()),
            "text" => Some(format!("New Person <fuzz{}@demo.example>", self.unique())),
            "name" | "first_name" | "last_name" | "title" => {
                let mut w = self.rng.word(6);
                w[..1].make_ascii_uppercase();
                Some(if name == "name" { format!("{w} Person") } else { w })
            }
            _ => None,
        }
    }

    fn integer(&mut self, schema: &Value, name: &str) -> i64 {
        let min = schema["minimum"].as_i64().unwrap_or(0);
        let max = schema["maximum"].as_i64().unwrap_or(i64::MAX);
        let wanted = match name {
            "per_page" => 25,
            "page" => 1,
            "limit" => 10,
            "email_throttle_max_per_day" => 100,
            _ => min + i64::try_from(self.rng.below(10)).unwrap_or(0),
        };
        wanted.clamp(min, max)
    }

    /// Whether the body being generated is a login's, whose email must be a member's.
    fn login_context(&self) -> bool {
        matches!(self.operation.as_str(), "/api/v1/session" | "/api/v1/auth/login")
    }

    /// A valid value of a query parameter, as text.
    fn valid_query(&mut self, name: &str, schema: &Value) -> String {
        let v = self.value(schema, name, false, 0);
        let v = match (name, v) {
            ("group", _) => Value::String(self.fixtures.groups[0].clone()),
            ("viewer" | "user", _) => Value::String(self.fixtures.users[0].clone()),
            (_, v) => v,
        };
        match v {
            Value::String(s) => s,
            Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
            other => text_of(&other),
        }
    }

    /// An invalid value of a query parameter, and what is wrong with it.
    fn invalid_query(&mut self, name: &str, schema: &Value) -> (String, String) {
        let schema = resolve(self.doc, schema);
        if name == "cursor" {
            return if self.rng.chance(50) {
                ("a cursor of no list".into(), "eyJzIjoibm9wZSIsInAiOjF9".into())
            } else {
                ("a cursor that is not base64".into(), format!("%%{}", self.rng.word(10)))
            };
        }
        let ty = schema_type(schema).unwrap_or("string");
        let mut candidates: Vec<(String, String)> = Vec::new();
        match ty {
            "integer" | "number" => {
                candidates.push(("not a number".into(), self.rng.word(4)));
                candidates.push(("a negative number".into(), "-1".into()));
                candidates.push(("a number past u32".into(), "99999999999".into()));
                if let Some(max) = schema["maximum"].as_i64() {
                    candidates.push(("past the maximum".into(), (max + 1).to_string()));
                }
                if let Some(min) = schema["minimum"].as_i64() {
                    candidates.push(("below the minimum".into(), (min - 1).to_string()));
                }
            }
            "boolean" => candidates.push(("not a boolean".into(), "maybe".into())),
            _ => {
                if schema.get("enum").is_some() || schema["items"].get("enum").is_some() {
                    candidates.push(("a value outside the enum".into(), "fuzz".into()));
                }
                match schema["format"].as_str() {
                    Some("uuid") => candidates.push(("not a uuid".into(), self.rng.word(9))),
                    Some("date-time") => candidates.push(("not a time".into(), "yesterday".into())),
                    _ => {}
                }
                candidates.push(("odd characters".into(), "'; DROP TABLE users; -- %ff ☃".into()));
                candidates.push(("a long value".into(), "y".repeat(600)));
            }
        }
        self.rng.pick(&candidates).clone()
    }
}

/// Whether `schema` only states rules between fields (`required`, `not`, alternatives of such
/// rules) rather than a value of its own.
fn constraint_only(schema: &Value) -> bool {
    const RULES: [&str; 6] = ["required", "not", "oneOf", "anyOf", "allOf", "properties"];
    schema.as_object().is_some_and(|o| !o.is_empty() && o.keys().all(|k| RULES.contains(&k.as_str())))
}

/// The `examples` of a schema (through `$ref`).
fn resolved_examples(doc: &Value, schema: &Value) -> Vec<Value> {
    resolve(doc, schema)["examples"].as_array().cloned().unwrap_or_default()
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value of another JSON type than `v`.
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(_) => json!(42),
        Value::Number(_) => json!("forty-two"),
        Value::Bool(_) => json!("yes"),
        Value::Array(_) => json!({"a": 1}),
        Value::Object(_) => json!([1]),
        Value::Null => json!({"a": [true]}),
    }
}

/// `template` with its `{name}`s replaced (percent-encoded).
fn fill(template: &str, values: &[(String, String)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        let encoded: String = url_segment(value);
        out = out.replace(&format!("{{{name}}}"), &encoded);
    }
    out
}

fn url_segment(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Answers.

/// What came back.
#[derive(Debug)]
struct Answer {
    request: String,
    status: StatusCode,
    content_type: Option<String>,
    bytes: Vec<u8>,
    json: Option<Value>,
}

async fn send(app: &TestApp, probe: &Probe, admin: &str, cookie: &str) -> Answer {
    let mut url = Url::parse(&format!("{}{}", app.base, probe.path)).expect("a URL");
    if !probe.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &probe.query {
            pairs.append_pair(k, v);
        }
    }
    let mut request = app.client.request(probe.method.clone(), url);
    request = match &probe.auth {
        Auth::Admin => request.bearer_auth(admin),
        Auth::Bearer(token) | Auth::Member(token) => request.bearer_auth(token),
        Auth::Cookie => request.header(COOKIE, format!("{cookie}={admin}")),
        Auth::None | Auth::OwnSession | Auth::OwnImpersonation => request,
    };
    for (k, v) in &probe.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    request = match &probe.body {
        Body::None => request,
        Body::Json(v) => request.json(v),
        Body::Raw { content_type, text } => request.header(CONTENT_TYPE, *content_type).body(text.clone()),
    };
    let response = request.send().await.unwrap_or_else(|e| panic!("{}: {}: {e}", app.engine, probe.summary()));
    let status = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    let json = serde_json::from_slice(&bytes).ok();
    Answer { request: probe.summary(), status, content_type, bytes, json }
}

/// Compiled response schemas, by their place in the document.
struct Validators<'a> {
    doc: &'a Value,
    compiled: HashMap<String, Result<jsonschema::Validator, String>>,
}

impl<'a> Validators<'a> {
    fn new(doc: &'a Value) -> Self {
        Self { doc, compiled: HashMap::new() }
    }

    /// The errors of `instance` against `schema` (found at `place`), `$ref`s resolved in the
    /// whole document.
    fn errors(&mut self, place: &str, schema: &Value, instance: &Value) -> Vec<String> {
        let doc = self.doc;
        let validator = self.compiled.entry(place.to_owned()).or_insert_with(|| {
            let mut root = json!({"allOf": [schema]});
            root["components"] = doc["components"].clone();
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .map_err(|e| format!("the documented schema does not compile: {e}"))
        });
        match validator {
            Ok(v) => v.iter_errors(instance).take(5).map(|e| format!("{} at `{}`", e, e.instance_path())).collect(),
            Err(e) => vec![e.clone()],
        }
    }
}

/// The field codes of a refusal for a request's shape: each is a rule the document can state
/// (a type, a length, a count, a pattern, a format, an enum, a required or an exclusive field).
/// Not `conflicting_parameters`: OpenAPI cannot say that two query parameters exclude each
/// other (the parameter's description says it).
const SHAPE_CODES: [&str; 14] = [
    "malformed_json",
    "invalid_type",
    "unknown_field",
    "required",
    "empty",
    "too_short",
    "too_long",
    "too_many",
    "invalid_format",
    "duplicate",
    "unexpected",
    "conflicting",
    "invalid_parameter",
    "out_of_range",
];

/// What the document says of a request, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Valid by the document: it may be refused by a rule (a seat, a taken email, a stale
    /// version), never for its shape.
    Accept,
    /// It breaks the document (`how`): the server must refuse it with one of `statuses` — for
    /// its shape (400, 413, 415, 422), or, when only its `If-Match` names no entity tag, as a
    /// precondition that cannot hold (412, as the document's 412 says).
    Refuse { how: String, statuses: &'static [u16] },
    /// The document cannot tell: other credentials, an id of nothing in the path, an opaque
    /// cursor, an undocumented parameter.
    Either,
}

/// How [`expectation`] names an `If-Match` that breaks the header's pattern.
const IF_MATCH_BROKEN: &str = "header `If-Match` names no entity tag";

/// What the document says of `probe` (see [`Expect`]), by the document's own schemas.
fn expectation(validators: &mut Validators<'_>, op: &Operation, probe: &Probe) -> Expect {
    let credentialed = probe.own_session || matches!(probe.auth, Auth::Admin | Auth::Member(_));
    if !credentialed || !probe.real_path {
        return Expect::Either;
    }
    let name = format!("{} {}", op.method, op.path);
    let mut broken: Vec<String> = Vec::new();
    let mut unknown = false;
    let body_required = op.op["requestBody"]["required"] == true;
    match (&probe.body, op.json_body_schema()) {
        (Body::None, _) if body_required => broken.push("no body".into()),
        (Body::None, _) => {}
        (Body::Json(sent), Some(schema)) => {
            if let Some(e) = validators.errors(&format!("{name} request"), schema, sent).into_iter().next() {
                broken.push(format!("the body: {e}"));
            }
        }
        // A body where the document takes none, or of a media type it does not list.
        (Body::Json(_), None) => unknown = true,
        (Body::Raw { content_type, text }, schema) => {
            let parsed = serde_json::from_str::<Value>(text).ok();
            match (schema, parsed) {
                (Some(_), _) if *content_type != "application/json" => {
                    broken.push(format!("a {content_type} body"));
                }
                (Some(schema), Some(sent)) => {
                    if let Some(e) = validators.errors(&format!("{name} request"), schema, &sent).into_iter().next() {
                        broken.push(format!("the body: {e}"));
                    }
                }
                (Some(_), None) => broken.push("a body that is not JSON".into()),
                (None, _) => match probe.text_body_valid {
                    Some(true) => {}
                    Some(false) => broken.push(format!("a {content_type} body the operation refuses")),
                    None => unknown = true,
                },
            }
        }
    }
    let documented = |location: &str, wanted: &str| {
        op.parameters(location)
            .into_iter()
            .find(|p| p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(wanted)))
            .cloned()
    };
    for (param, value) in &probe.query {
        match documented("query", param) {
            // A cursor is opaque: only the list that handed it out knows it.
            Some(_) if param == "cursor" => unknown = true,
            Some(p) => {
                let schema = &p["schema"];
                let instance = query_instance(validators.doc, schema, value);
                if let Some(e) =
                    validators.errors(&format!("{name} query {param}"), schema, &instance).into_iter().next()
                {
                    broken.push(format!("query `{param}`: {e}"));
                }
            }
            None => unknown = true,
        }
    }
    for (header, value) in &probe.headers {
        match documented("header", header) {
            Some(p) => {
                let schema = &p["schema"];
                let instance = Value::String(value.clone());
                if let Some(e) =
                    validators.errors(&format!("{name} header {header}"), schema, &instance).into_iter().next()
                {
                    if header.eq_ignore_ascii_case("if-match") {
                        broken.push(format!("{IF_MATCH_BROKEN}: {e}"));
                    } else {
                        broken.push(format!("header `{header}`: {e}"));
                    }
                }
            }
            None => unknown = true,
        }
    }
    if !broken.is_empty() {
        const SHAPE: &[u16] = &[400, 413, 415, 422];
        let statuses = if broken.iter().all(|b| b.starts_with(IF_MATCH_BROKEN)) { &[412] } else { SHAPE };
        Expect::Refuse { how: broken.join("; "), statuses }
    } else if unknown {
        Expect::Either
    } else {
        Expect::Accept
    }
}

/// A query parameter's text as the JSON value its schema describes (`"7"` as 7 for an integer,
/// a comma-separated list as an array), or as a string when it is not one.
fn query_instance(doc: &Value, schema: &Value, text: &str) -> Value {
    let schema = resolve(doc, schema);
    match schema_type(schema) {
        Some("integer") => text.parse::<i64>().map_or_else(|_| Value::String(text.to_owned()), |n| json!(n)),
        Some("number") => text.parse::<f64>().map_or_else(|_| Value::String(text.to_owned()), |n| json!(n)),
        Some("boolean") => match text {
            "true" => json!(true),
            "false" => json!(false),
            _ => Value::String(text.to_owned()),
        },
        // `style: form, explode: false`: `a,b`; nothing is the empty list.
        Some("array") if text.is_empty() => json!([]),
        Some("array") => {
            let items = schema.get("items").unwrap_or(&Value::Null);
            Value::Array(text.split(',').map(|part| query_instance(doc, items, part)).collect())
        }
        _ => Value::String(text.to_owned()),
    }
}

/// The ways `answer` to `probe` breaks the document's word for `op`.
fn check(
    doc: &Value,
    validators: &mut Validators<'_>,
    op: &Operation,
    expect: &Expect,
    answer: &Answer,
) -> Vec<String> {
    let mut out = Vec::new();
    let status = answer.status.as_u16();
    let body_text = || shorten(&String::from_utf8_lossy(&answer.bytes));
    if answer.status.is_server_error() {
        out.push(format!("a server error: {}", body_text()));
    }
    let problem_code = answer.json.as_ref().and_then(|b| b["code"].as_str()).unwrap_or("");
    match expect {
        // A request valid by the document is not refused for its shape: not unreadable (400;
        // a token that is unknown or used is a rule, `invalid_token`), not of a refused size
        // or media type, and no field of a 422 refused for a rule the document could state.
        Expect::Accept => {
            let shape_fields: Vec<String> = answer
                .json
                .as_ref()
                .and_then(|b| b["errors"].as_array())
                .into_iter()
                .flatten()
                .filter(|e| e["code"].as_str().is_some_and(|c| SHAPE_CODES.contains(&c)))
                .map(|e| format!("`{}` {}", e["field"].as_str().unwrap_or("?"), e["code"].as_str().unwrap_or("?")))
                .collect();
            let refused = match status {
                400 => problem_code != "invalid_token",
                413 | 415 => true,
                422 => !shape_fields.is_empty(),
                _ => false,
            };
            if refused {
                out.push(format!(
                    "a request valid by the document was refused for its shape ({}): {}",
                    shape_fields.join(", "),
                    body_text()
                ));
            }
        }
        // A request that breaks the document is refused, for its shape, before anything else
        // (a precondition, a conflict, the throttle) is looked at.
        Expect::Refuse { how, statuses } => {
            if !statuses.contains(&status) && !answer.status.is_server_error() {
                out.push(format!("a request that breaks the document ({how}) was answered {status}: {}", body_text()));
            }
        }
        Expect::Either => {}
    }
    let responses = &op.op["responses"];
    let key = status.to_string();
    let range = format!("{}XX", status / 100);
    let Some((documented_as, response)) = [key.as_str(), range.as_str(), "default"]
        .into_iter()
        .find_map(|k| responses.get(k).map(|r| (k.to_owned(), resolve(doc, r))))
    else {
        let listed: Vec<&String> = responses.as_object().map(|r| r.keys().collect()).unwrap_or_default();
        out.push(format!("an undocumented status (documented: {listed:?}): {}", body_text()));
        return out;
    };
    let content = response["content"].as_object().filter(|c| !c.is_empty());
    let essence =
        answer.content_type.as_deref().map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let Some(content) = content else {
        if !answer.bytes.is_empty() {
            out.push(format!(
                "a body ({}) where the document says none: {}",
                essence.as_deref().unwrap_or("no content type"),
                body_text()
            ));
        }
        return out;
    };
    let Some(essence) = essence else {
        out.push(format!("no Content-Type (documented: {:?})", content.keys().collect::<Vec<_>>()));
        return out;
    };
    let Some(media) = content.get(&essence) else {
        out.push(format!(
            "Content-Type {essence} is not documented (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        ));
        return out;
    };
    if essence == "application/json" || essence.ends_with("+json") {
        let Some(body) = &answer.json else {
            out.push(format!("a {essence} body that is not JSON: {}", body_text()));
            return out;
        };
        if let Some(schema) = media.get("schema") {
            let place = format!("{} {} {documented_as} {essence}", op.method, op.path);
            for e in validators.errors(&place, schema, body) {
                out.push(format!("the body breaks its schema: {e}; body: {}", shorten(&body.to_string())));
            }
            let mut extra = Vec::new();
            undocumented(doc, schema, body, "", &mut extra);
            extra.dedup();
            if !extra.is_empty() {
                out.push(format!("fields the schema does not document: {}", extra.join(", ")));
            }
        }
        if essence == "application/problem+json" && body["status"] != status {
            out.push(format!("a problem whose `status` is {} on a {status} answer", body["status"]));
        }
    }
    out
}

/// The fields of `instance` that `schema` does not name, where it names its fields (a schema
/// that allows any field, like a problem's extra facts, names none). JSON Schema lets an object
/// carry fields it does not list; a client generated from the document would not see them.
fn undocumented(doc: &Value, schema: &Value, instance: &Value, at: &str, out: &mut Vec<String>) {
    match instance {
        Value::Object(fields) => {
            let mut known = BTreeMap::new();
            let open = properties(doc, schema, &mut known);
            for (name, value) in fields {
                let here = format!("{at}/{name}");
                match known.get(name.as_str()) {
                    Some(field_schema) => undocumented(doc, field_schema, value, &here, out),
                    None if !open => out.push(format!("`{here}`")),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = items_schema(doc, schema) {
                for item in items {
                    // Indices would make every row a separate finding; the field is the news.
                    undocumented(doc, item_schema, item, &format!("{at}/*"), out);
                }
            }
        }
        _ => {}
    }
}

/// Collects the properties `schema` names (through `$ref`, `allOf`, `oneOf`, `anyOf`) into
/// `known`; whether it also allows fields it does not name.
fn properties<'a>(doc: &'a Value, schema: &'a Value, known: &mut BTreeMap<&'a str, &'a Value>) -> bool {
    let schema = resolve(doc, schema);
    let mut open = false;
    let mut composed = false;
    if let Some(props) = schema["properties"].as_object() {
        for (name, s) in props {
            known.entry(name.as_str()).or_insert(s);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema[key].as_array().into_iter().flatten().filter(|p| !is_null_schema(p)) {
            composed = true;
            open |= properties(doc, part, known);
        }
    }
    match schema.get("additionalProperties") {
        None | Some(Value::Bool(false)) => {}
        Some(_) => open = true,
    }
    // An object schema that names no field at all is a free-form object.
    open || (!composed && schema.get("properties").is_none())
}

/// The schema of `schema`'s array items, through `$ref` and compositions.
fn items_schema<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let schema = resolve(doc, schema);
    if let Some(items) = schema.get("items") {
        return Some(items);
    }
    ["allOf", "oneOf", "anyOf"]
        .into_iter()
        .flat_map(|key| schema[key].as_array().into_iter().flatten())
        .find_map(|part| items_schema(doc, part))
}

/// The check itself: each kind of violation is caught, and a good answer passes.
#[test]
fn the_check_reports_each_kind_of_violation() {
    let problem = json!({"$ref": "#/components/responses/Problem"});
    let doc = json!({
        "paths": {"/x": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}},
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}},
                "204": {"description": "nothing"},
                "400": problem, "422": problem, "500": problem,
            }
        }}},
        "components": {
            "schemas": {
                "In": {"type": "object", "properties": {"mode": {"type": "string"}}},
                "Out": {"allOf": [{"$ref": "#/components/schemas/Id"}, {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}]},
                "Id": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}, "required": ["id"]},
                "Problem": {"allOf": [{"type": "object"}, {"type": "object", "properties": {"status": {"type": "integer"}, "code": {"type": "string"}}, "required": ["status", "code"]}]},
            },
            "responses": {"Problem": {"description": "a problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
        },
    });
    let op = Operation { method: Method::POST, path: "/x".into(), op: doc["paths"]["/x"]["post"].clone() };
    let probe = Probe {
        method: Method::POST,
        template: "/x".into(),
        path: "/x".into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Body::Json(json!({"mode": "fast"})),
        auth: Auth::Admin,
        what: "valid".into(),
        follow_cursor: false,
        real_path: true,
        text_body_valid: None,
        own_session: false,
    };
    let answer = |status: u16, content_type: Option<&str>, body: &str| Answer {
        request: "POST /x".into(),
        status: StatusCode::from_u16(status).expect("a status"),
        content_type: content_type.map(str::to_owned),
        bytes: body.as_bytes().to_vec(),
        json: serde_json::from_str(body).ok(),
    };
    let id = "0190f3c4-5b6a-7c8d-9e0f-1a2b3c4d5e6f";
    let json_ct = Some("application/json");
    let problem_ct = Some("application/problem+json");
    let cases = [
        (answer(200, json_ct, &format!(r#"{{"id": "{id}", "tags": ["a"]}}"#)), None),
        (answer(204, None, ""), None),
        (answer(200, json_ct, r#"{"id": "not a uuid"}"#), Some("breaks its schema")),
        (answer(200, json_ct, r#"{"tags": []}"#), Some("breaks its schema")),
        (answer(200, json_ct, &format!(r#"{{"id": "{id}", "secret": 1}}"#)), Some("does not document: `/secret`")),
        (answer(200, json_ct, &format!(r#"{{"id": "{id}", "tags": [{{"x": 1}}]}}"#)), Some("breaks its schema")),
        (answer(200, Some("text/csv"), "id\n"), Some("text/csv is not documented")),
        (answer(200, json_ct, "{"), Some("not JSON")),
        (answer(204, Some("text/plain"), "hello"), Some("where the document says none")),
        (answer(418, problem_ct, r#"{"status": 418, "code": "teapot"}"#), Some("an undocumented status")),
        (answer(500, problem_ct, r#"{"status": 500, "code": "internal"}"#), Some("a server error")),
        (answer(400, problem_ct, r#"{"status": 401, "code": "validation_failed"}"#), Some("whose `status` is 401")),
    ];
    let mut validators = Validators::new(&doc);
    for (answer, expected) in cases {
        let found = check(&doc, &mut validators, &op, &Expect::Either, &answer);
        match expected {
            None => {
                assert!(found.is_empty(), "{} {:?}: {found:?}", answer.status, String::from_utf8_lossy(&answer.bytes))
            }
            Some(what) => assert!(
                found.iter().any(|f| f.contains(what)),
                "{} {:?}: expected `{what}`, found {found:?}",
                answer.status,
                String::from_utf8_lossy(&answer.bytes)
            ),
        }
    }
    // The two directions: a body the request schema accepts is not refused for its shape, and
    // one it refuses is refused.
    let unreadable = answer(
        400,
        problem_ct,
        r#"{"status": 400, "code": "validation_failed", "errors": [{"field": "mode", "code": "invalid_type"}]}"#,
    );
    let too_long = answer(
        422,
        problem_ct,
        r#"{"status": 422, "code": "validation_failed", "errors": [{"field": "mode", "code": "too_long"}]}"#,
    );
    let by_rule = answer(
        422,
        problem_ct,
        r#"{"status": 422, "code": "validation_failed", "errors": [{"field": "mode", "code": "unknown_product"}]}"#,
    );
    let ok = answer(200, json_ct, &format!(r#"{{"id": "{id}"}}"#));
    assert_eq!(expectation(&mut validators, &op, &probe), Expect::Accept);
    let refused = Probe { body: Body::Json(json!({"mode": 7})), ..probe.clone() };
    let breaks = expectation(&mut validators, &op, &refused);
    assert!(matches!(breaks, Expect::Refuse { .. }), "{breaks:?}");
    for (expect, answer, expected) in [
        (Expect::Accept, &unreadable, Some("valid by the document was refused for its shape")),
        (Expect::Accept, &too_long, Some("valid by the document was refused for its shape")),
        (Expect::Accept, &by_rule, None),
        (Expect::Accept, &ok, None),
        (breaks.clone(), &ok, Some("breaks the document")),
        (breaks.clone(), &unreadable, None),
        (breaks, &too_long, None),
    ] {
        let found = check(&doc, &mut validators, &op, &expect, answer);
        match expected {
            None => assert!(found.is_empty(), "{expect:?} {}: {found:?}", answer.status),
            Some(what) => assert!(found.iter().any(|f| f.contains(what)), "{expect:?} {}: {found:?}", answer.status),
        }
    }
    // A probe with other credentials or an id of nothing: the document cannot tell.
    let stranger = Probe { auth: Auth::None, ..probe.clone() };
    assert_eq!(expectation(&mut validators, &op, &stranger), Expect::Either);
    let elsewhere = Probe { real_path: false, ..probe };
    assert_eq!(expectation(&mut validators, &op, &elsewhere), Expect::Either);
}
