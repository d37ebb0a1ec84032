//! The Salesforce directory against a stub Salesforce on 127.0.0.1 (`support`): the SOQL it
//! sends, the OAuth2 grants, pagination, token renewal, retries, timeouts and the errors of a
//! misconfigured instance.

mod support;

use std::time::{Duration, Instant};

use roster_adapters_crm::{Grant, SalesforceDirectory, Secret};
use roster_domain::ports::{CrmDirectory, CrmError};
use roster_domain::values::CrmId;
use serde_json::json;
use support::{Reply, Stub, VERSION, page, sf_id, user};
use time::macros::datetime;

fn session_expired() -> Reply {
    Reply::Json(401, json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]))
}

fn request_limit() -> Reply {
    Reply::Json(403, json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]))
}

fn server_error() -> Reply {
    Reply::Json(
        500,
        json!([{"message": "An unexpected error occurred. Please include this ErrorId if you contact support: 1234-5678 (-1)", "errorCode": "UNKNOWN_EXCEPTION"}]),
    )
}

fn one_user() -> Reply {
    Reply::Json(
        200,
        page(
            vec![user(&sf_id(1), Some("Sean"), "O'Brien", "sean@acme.io", true, "2024-01-31T09:30:15.000+0000")],
            None,
        ),
    )
}

fn ids(values: &[&str]) -> Vec<CrmId> {
    values.iter().map(|v| CrmId::parse(v).expect("a CRM id")).collect()
}

#[tokio::test]
async fn search_input_is_escaped_for_soql_string_literals_and_like_wildcards() {
    let stub = Stub::start().await;
    stub.reply_api(one_user());
    let found = stub.directory().search(r"  O'Brien\ 5%_ ", 0).await.expect("searches");

    assert_eq!(found.users.len(), 1);
    assert_eq!(found.users[0].last_name.as_str(), "O'Brien");
    assert_eq!(found.users[0].phone.as_ref().map(|p| p.as_str()), Some("+14155550100"));
    assert_eq!(found.next_page, None);
    let requests = stub.api_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/services/data/{VERSION}/query"));
    assert_eq!(requests[0].bearer.as_deref(), Some("token-1"));
    let soql = requests[0].soql.clone().expect("a q parameter");
    let pattern = r"'%O\'Brien\\ 5\%\_%'";
    assert_eq!(
        soql,
        format!(
            "SELECT Id, FirstName, LastName, Name, Email, Phone, MobilePhone, IsActive, Title, SystemModstamp \
             FROM User WHERE (Name LIKE {pattern} OR FirstName LIKE {pattern} OR LastName LIKE {pattern} \
             OR Email LIKE {pattern}) ORDER BY Name, Id LIMIT 51 OFFSET 0"
        )
    );
    // The client-credentials grant was used, with the connected app's credentials.
    let tokens = stub.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["grant_type"], "client_credentials");
    assert_eq!(tokens[0]["client_id"], "3MVG9-client-id");
    assert_eq!(tokens[0]["client_secret"], "client-secret-value");
}

#[tokio::test]
async fn search_pages_by_fifty_with_one_row_more_telling_a_next_page() {
    let stub = Stub::start().await;
    let records: Vec<_> = (0..51)
        .map(|n| {
            user(
                &sf_id(n),
                Some("Ada"),
                &format!("Doe{n}"),
                &format!("ada{n}@acme.io"),
                true,
                "2024-01-31T09:30:15.000+0000",
            )
        })
        .collect();
    stub.reply_api(Reply::Json(200, page(records, None)));
    stub.reply_api(Reply::Json(200, page(Vec::new(), None)));
    let directory = stub.directory();

    let first = directory.search("ada", 0).await.expect("searches");
    assert_eq!((first.users.len(), first.next_page), (50, Some(1)));
    let second = directory.search("ada", 1).await.expect("searches");
    assert_eq!((second.users.len(), second.next_page), (0, None));
    let soql = stub.api_requests()[1].soql.clone().expect("a query");
    assert!(soql.ends_with("LIMIT 51 OFFSET 50"), "{soql}");
    // One token served both calls.
    assert_eq!(stub.token_requests().len(), 1);
}

#[tokio::test]
async fn search_past_soql_offset_limit_or_with_an_overlong_query_asks_nothing() {
    let stub = Stub::start().await;
    let directory = stub.directory();
    let deep = directory.search("ada", 41).await.expect("answers");
    assert_eq!((deep.users.len(), deep.next_page), (0, None));
    let long = directory.search(&"x".repeat(300), 0).await.expect("answers");
    assert!(long.users.is_empty());
    assert!(stub.api_requests().is_empty());
}

#[tokio::test]
async fn users_salesforce_cannot_give_roster_are_left_out() {
    let stub = Stub::start().await;
    stub.reply_api(Reply::Json(
        200,
        page(
            vec![
                user(
                    &sf_id(1),
                    None,
                    "Automated Process",
                    "autoproc@00dxx.example",
                    true,
                    "2024-01-31T09:30:15.000+0000",
                ),
                user(&sf_id(2), Some("Ada"), "Lovelace", "ada@acme.io", false, "2024-01-31T09:30:15.000+0000"),
            ],
            None,
        ),
    ));
    let found = stub.directory().search("a", 0).await.expect("searches");
    assert_eq!(found.users.len(), 1);
    assert_eq!(found.users[0].crm_id.as_str(), sf_id(2));
    assert!(!found.users[0].active);
}

#[tokio::test]
async fn changes_since_follow_next_records_url_over_three_pages() {
    let stub = Stub::start().await;
    let stamp = "2024-01-31T09:30:15.900+0000";
    let next1 = format!("/services/data/{VERSION}/query/01gxx0000004Cp6AAE-2000");
    let next2 = format!("/services/data/{VERSION}/query/01gxx0000004Cp6AAE-4000");
    // The first record changed in the same second as `since` but before it: SOQL's bound is
    // whole seconds, the directory drops it.
    stub.reply_api(Reply::Json(
        200,
        page(
            vec![
                user(&sf_id(0), Some("Early"), "Bird", "early@acme.io", true, "2024-01-31T09:30:15.100+0000"),
                user(&sf_id(1), Some("Ada"), "One", "one@acme.io", true, stamp),
            ],
            Some(&next1),
        ),
    ));
    stub.reply_api(Reply::Json(
        200,
        page(
            vec![user(&sf_id(2), Some("Bob"), "Two", "two@acme.io", false, "2024-01-31T09:31:00.000+0000")],
            Some(&next2),
        ),
    ));
    stub.reply_api(Reply::Json(
        200,
        page(vec![user(&sf_id(3), Some("Cy"), "Three", "three@acme.io", true, "2024-02-01T00:00:00.000+0000")], None),
    ));

    let since = datetime!(2024-01-31 09:30:15.5 UTC);
    let changed = stub.directory().list_changed_since(since).await.expect("lists");

    let names: Vec<&str> = changed.iter().map(|u| u.last_name.as_str()).collect();
    assert_eq!(names, ["One", "Two", "Three"]);
    assert!(!changed[1].active);
    let requests = stub.api_requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, [format!("/services/data/{VERSION}/query"), next1, next2]);
    let soql = requests[0].soql.clone().expect("a query");
    assert!(soql.ends_with("WHERE SystemModstamp >= 2024-01-31T09:30:15Z ORDER BY SystemModstamp, Id"), "{soql}");
    assert!(requests.iter().all(|r| r.bearer.as_deref() == Some("token-1")));
}

#[tokio::test]
async fn an_expired_session_gets_one_new_token_from_the_refresh_token_and_one_retry() {
    let stub = Stub::start().await;
    stub.reply_api(session_expired());
    stub.reply_api(one_user());
    let config = stub.config(Grant::RefreshToken(Secret::new("5Aep861-refresh")));
    let directory = SalesforceDirectory::new(config).expect("builds");

    let found = directory.search("brien", 0).await.expect("searches after renewing the token");

    assert_eq!(found.users.len(), 1);
    let tokens = stub.token_requests();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t["grant_type"] == "refresh_token" && t["refresh_token"] == "5Aep861-refresh"));
    let bearers: Vec<Option<String>> = stub.api_requests().into_iter().map(|r| r.bearer).collect();
    assert_eq!(bearers, [Some("token-1".to_owned()), Some("token-2".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_with_an_expired_token_share_one_renewal() {
    let stub = Stub::start().await;
    stub.state().users = (0..8)
        .map(|n| {
            user(
                &sf_id(n),
                Some("User"),
                &format!("N{n}"),
                &format!("u{n}@acme.io"),
                true,
                "2024-01-31T09:30:15.000+0000",
            )
        })
        .collect();
    let directory = std::sync::Arc::new(stub.directory());
    // The first token is issued, then expires.
    directory.get(&ids(&[&sf_id(0)])).await.expect("answers");
    stub.state().expired_tokens.push("token-1".into());

    let calls = (0..8).map(|n| {
        let directory = std::sync::Arc::clone(&directory);
        tokio::spawn(async move { directory.get(&[CrmId::parse(&sf_id(n)).expect("an id")]).await })
    });
    for call in calls.collect::<Vec<_>>() {
        assert_eq!(call.await.expect("joins").expect("answers").len(), 1);
    }
    // One token at first, one renewal for all eight callers.
    assert_eq!(stub.token_requests().len(), 2);
}

#[tokio::test]
async fn a_token_endpoint_failing_with_a_server_error_is_retried() {
    let stub = Stub::start().await;
    stub.reply_token(Reply::Json(503, json!({"error": "unavailable", "error_description": "maintenance"})));
    stub.reply_api(one_user());
    assert_eq!(stub.directory().search("x", 0).await.expect("answers").users.len(), 1);
    assert_eq!(stub.token_requests().len(), 2);
}

#[tokio::test]
async fn a_session_refused_twice_is_unauthorized_after_a_single_renewal() {
    let stub = Stub::start().await;
    stub.reply_api(session_expired());
    stub.reply_api(session_expired());
    let error = stub.directory().search("x", 0).await.expect_err("refused");
    let CrmError::Unauthorized(message) = &error else { panic!("{error:?}") };
    assert!(message.contains("INVALID_SESSION_ID"), "{message}");
    assert_eq!((stub.token_requests().len(), stub.api_requests().len()), (2, 2));
}

#[tokio::test]
async fn request_limit_and_a_server_error_are_retried_with_backoff_until_an_answer() {
    let stub = Stub::start().await;
    stub.reply_api(request_limit());
    stub.reply_api(server_error());
    stub.reply_api(one_user());
    let started = Instant::now();
    let found = stub.directory().search("brien", 0).await.expect("answers on the third try");
    assert_eq!(found.users.len(), 1);
    assert_eq!(stub.api_requests().len(), 3);
    // Backoff of 20 ms, then 40 ms.
    assert!(started.elapsed() >= Duration::from_millis(60), "{:?}", started.elapsed());
}

#[tokio::test]
async fn retries_are_bounded() {
    let stub = Stub::start().await;
    for _ in 0..4 {
        stub.reply_api(request_limit());
    }
    assert!(matches!(stub.directory().search("x", 0).await, Err(CrmError::RateLimited)));
    assert_eq!(stub.api_requests().len(), 4);

    let stub = Stub::start().await;
    for _ in 0..4 {
        stub.reply_api(Reply::Json(503, json!([{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}])));
    }
    stub.reply_api(one_user());
    let error = stub.directory().search("x", 0).await.expect_err("gives up");
    assert!(matches!(error, CrmError::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("SERVER_UNAVAILABLE"), "{error}");
    assert_eq!(stub.api_requests().len(), 4);
}

#[tokio::test]
async fn an_instance_that_never_answers_times_out_within_a_bound() {
    let stub = Stub::start().await;
    stub.reply_api(Reply::Hang);
    let started = Instant::now();
    let result = stub.directory().search("x", 0).await;
    assert!(matches!(result, Err(CrmError::Timeout)), "{result:?}");
    // One request of a 500 ms limit, not retried.
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

    let stub = Stub::start().await;
    stub.reply_token(Reply::Hang);
    let started = Instant::now();
    let result = stub.directory().get(&ids(&["005xx0000000001AAA"])).await;
    assert!(matches!(result, Err(CrmError::Timeout)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn bad_credentials_are_a_clear_unauthorized_error_without_the_secret() {
    let stub = Stub::start().await;
    stub.reply_token(Reply::Json(
        400,
        json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
    ));
    let error = stub.directory().search("x", 0).await.expect_err("refused");
    let CrmError::Unauthorized(message) = &error else { panic!("{error:?}") };
    assert!(message.contains("invalid_client: invalid client credentials"), "{message}");
    assert!(message.contains("ROSTER_SALESFORCE_CLIENT_SECRET"), "{message}");
    assert!(!message.contains("client-secret-value"), "{message}");
    assert!(stub.api_requests().is_empty());
}

#[tokio::test]
async fn client_credentials_on_the_generic_login_host_explain_my_domain() {
    let stub = Stub::start().await;
    stub.reply_token(Reply::Json(
        400,
        json!({"error": "invalid_grant", "error_description": "request not supported on this domain"}),
    ));
    let error = stub.directory().search("x", 0).await.expect_err("refused");
    assert!(error.to_string().contains("My Domain"), "{error}");
}

#[tokio::test]
async fn a_login_url_that_redirects_is_not_followed() {
    let stub = Stub::start().await;
    stub.reply_token(Reply::Json(302, json!({})));
    let error = stub.directory().search("x", 0).await.expect_err("refused");
    assert!(matches!(&error, CrmError::NotConfigured(m) if m.contains("ROSTER_SALESFORCE_LOGIN_URL")), "{error:?}");
    assert_eq!(stub.token_requests().len(), 1);
}

#[tokio::test]
async fn an_expired_refresh_token_is_unauthorized() {
    let stub = Stub::start().await;
    stub.reply_token(Reply::Json(
        400,
        json!({"error": "invalid_grant", "error_description": "expired access/refresh token"}),
    ));
    let directory = SalesforceDirectory::new(stub.config(Grant::RefreshToken(Secret::new("old")))).expect("builds");
    let error = directory.search("x", 0).await.expect_err("refused");
    assert!(
        matches!(&error, CrmError::Unauthorized(m) if m.contains("refresh_token grant") && m.contains("expired")),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_username_password_grant_sends_its_fields() {
    let stub = Stub::start().await;
    stub.reply_api(one_user());
    let grant = Grant::Password { username: "integration@acme.io".into(), password: Secret::new("pw+token") };
    SalesforceDirectory::new(stub.config(grant)).expect("builds").search("x", 0).await.expect("searches");
    let token = &stub.token_requests()[0];
    assert_eq!((token["grant_type"].as_str(), token["username"].as_str()), ("password", "integration@acme.io"));
    assert_eq!(token["password"], "pw+token");
}

#[tokio::test]
async fn an_api_version_the_instance_does_not_serve_is_named() {
    let stub = Stub::start().await;
    let config = stub.config(Grant::ClientCredentials).with_api_version("v99.0").expect("well formed");
    let error = SalesforceDirectory::new(config).expect("builds").search("x", 0).await.expect_err("not served");
    let CrmError::NotConfigured(message) = &error else { panic!("{error:?}") };
    assert!(message.contains("v99.0") && message.contains("ROSTER_SALESFORCE_API_VERSION"), "{message}");
    assert_eq!(stub.api_requests()[0].path, "/services/data/v99.0/query");
}

#[tokio::test]
async fn an_unreachable_login_host_is_unavailable_and_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("an address");
    drop(listener);
    let config = roster_adapters_crm::SalesforceConfig::new(
        &format!("http://{address}"),
        "client",
        Secret::new("secret"),
        Grant::ClientCredentials,
    )
    .expect("valid")
    .with_timeout(Duration::from_millis(500));
    let error = SalesforceDirectory::new(config).expect("builds").search("x", 0).await.expect_err("unreachable");
    assert!(matches!(error, CrmError::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains(&format!("http://{}", address.ip())), "{error}");
}

#[tokio::test]
async fn a_token_answer_sending_queries_to_plain_http_elsewhere_is_refused() {
    let stub = Stub::start().await;
    stub.reply_token(Reply::Json(
        200,
        json!({"access_token": "t", "instance_url": "http://acme.my.salesforce.com", "token_type": "Bearer"}),
    ));
    let error = stub.directory().search("x", 0).await.expect_err("refused");
    assert!(matches!(&error, CrmError::Protocol(m) if m.contains("instance_url")), "{error:?}");
    assert!(stub.api_requests().is_empty());
}

#[tokio::test]
async fn get_asks_in_bounded_batches_keeps_the_callers_order_and_short_ids() {
    let stub = Stub::start().await;
    stub.state().users = (0..7)
        .map(|n| {
            user(
                &sf_id(n),
                Some("User"),
                &format!("N{n}"),
                &format!("u{n}@acme.io"),
                n != 3,
                "2024-01-31T09:30:15.000+0000",
            )
        })
        .collect();
    let config = stub.config(Grant::ClientCredentials).with_batches(2, 3);
    let directory = SalesforceDirectory::new(config).expect("builds");
    let short = &sf_id(5)[..15];
    let asked = ids(&[&sf_id(3), short, "not-a-salesforce-id", &sf_id(1), &sf_id(3), &sf_id(6), &sf_id(99)]);

    let found = directory.get(&asked).await.expect("answers");

    let got: Vec<&str> = found.iter().map(|u| u.crm_id.as_str()).collect();
    assert_eq!(got, [sf_id(3).as_str(), short, sf_id(1).as_str(), sf_id(6).as_str()]);
    assert!(!found[0].active);
    // Five distinct Salesforce ids, two per query: three queries; the malformed id is never sent.
    let requests = stub.api_requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| !r.soql.as_deref().unwrap_or_default().contains("not-a-salesforce-id")));
    assert!(requests.iter().all(|r| r.soql.as_deref().unwrap_or_default().matches('\'').count() <= 4));
    assert!(directory.get(&[]).await.expect("answers").is_empty());
    assert_eq!(stub.api_requests().len(), 3);
}

#[tokio::test]
async fn check_tries_credentials_and_version() {
    let stub = Stub::start().await;
    stub.reply_api(Reply::Json(200, page(vec![json!({"attributes": {"type": "User"}, "Id": sf_id(1)})], None)));
    stub.directory().check().await.expect("works");
    assert_eq!(stub.api_requests()[0].soql.as_deref(), Some("SELECT Id FROM User LIMIT 1"));
}

#[tokio::test]
async fn a_next_records_url_leaving_the_query_api_is_refused() {
    let stub = Stub::start().await;
    stub.reply_api(Reply::Json(200, page(Vec::new(), Some("https://elsewhere.example/steal"))));
    let error = stub.directory().list_changed_since(datetime!(2024-01-01 0:00 UTC)).await.expect_err("refused");
    assert!(matches!(&error, CrmError::Protocol(m) if m.contains("nextRecordsUrl")), "{error:?}");
    assert_eq!(stub.api_requests().len(), 1);
}
