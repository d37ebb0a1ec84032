//! `POST /users/import` (SPEC §10): an admin uploads a CSV file of users and every data row is
//! reported — created, already a member, a duplicate within the file, invalid (each value at
//! fault named) or refused for want of a seat; `dry_run` reports exactly what a real run would
//! and changes nothing; a file that cannot be read or whose header lacks a column changes
//! nothing; over 1,000 rows the import is a job.

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use roster_domain::services::{JobPace, StepResult};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, apps, apps_with, assert_problem};
use crate::tenants::member;

const CSV: &str = "text/csv; charset=utf-8";

async fn upload(app: &TestApp, token: &str, query: &str, body: &str) -> reqwest::Response {
    let path = format!("/api/v1/users/import{query}");
    app.authed(Method::POST, &path, token).header(CONTENT_TYPE, CSV).body(body.to_owned()).send().await.unwrap()
}

async fn upload_ok(app: &TestApp, token: &str, query: &str, body: &str) -> Value {
    let r = upload(app, token, query, body).await;
    let status = r.status();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{}: {answer}", app.engine);
    answer
}

fn statuses(result: &Value) -> Vec<&str> {
    result["outcomes"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect()
}

/// What an import may change: the members (with their status and products), the audit log and
/// the seats.
async fn state(app: &TestApp, token: &str) -> (Value, Value, Value) {
    let users = app.get_ok("/api/v1/users?limit=200&sort=email", token).await["items"].clone();
    let audit = app.get_ok("/api/v1/audit?limit=200", token).await["items"].clone();
    let seats = app.get_ok("/api/v1/licenses", token).await["items"].clone();
    (users, audit, seats)
}

async fn user_by_email(app: &TestApp, token: &str, email: &str) -> Value {
    let list = app.get_ok(&format!("/api/v1/users?q={email}"), token).await;
    list["items"].as_array().unwrap().iter().find(|u| u["email"] == email).cloned().unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_admin_uploads_a_csv_of_users_and_each_row_is_reported() {
    for app in apps("import_rows").await {
        let token = app.login().await;
        app.create_user(&token, "grace@demo.example").await;
        let csv = "email,first_name,last_name,phone\r\n\
                   ada@demo.example,Ada,Lovelace,+14155550100\r\n\
                   GRACE@demo.example,Grace,Hopper,\r\n\
                   not-an-address,,Babbage,\r\n\
                   \"katherine@demo.example\",\"Katherine, K.\",Johnson,\r\n\
                   ada@demo.example,Ada,Again,\r\n";
        let result = upload_ok(&app, &token, "", csv).await;
        assert_eq!(result["applied"], true, "{}", app.engine);
        assert_eq!(
            statuses(&result),
            ["created", "already_member", "invalid", "created", "duplicate"],
            "{}: {result}",
            app.engine
        );
        let outcomes = &result["outcomes"];
        assert_eq!(outcomes[0]["row"], 1);
        assert_eq!(outcomes[0]["line"], 2);
        assert_eq!(outcomes[1]["email"], "grace@demo.example", "{}: normalized", app.engine);
        assert!(outcomes[1]["user_id"].is_string(), "{}: names the member", app.engine);
        let errors: Vec<(&str, &str)> = outcomes[2]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
            .collect();
        assert_eq!(errors, [("email", "invalid_format"), ("first_name", "required")], "{}", app.engine);
        assert_eq!(outcomes[4]["duplicate_of"], 1, "{}", app.engine);
        assert_eq!(
            result["counts"],
            json!({"created": 2, "already_member": 1, "duplicate": 1, "invalid": 1,
            "seat_refused": 0})
        );
        assert_eq!(result["ignored_columns"], json!([]));

        let ada = user_by_email(&app, &token, "ada@demo.example").await;
        assert_eq!(ada["id"], outcomes[0]["user_id"], "{}", app.engine);
        assert_eq!(ada["status"], "invited", "{}", app.engine);
        assert_eq!(ada["phone"], "+14155550100", "{}", app.engine);
        let katherine = user_by_email(&app, &token, "katherine@demo.example").await;
        assert_eq!(katherine["first_name"], "Katherine, K.", "{}: quoted fields", app.engine);
        // Each created member was invited by mail, and each creation audited as an import.
        let mail = app.mail().await;
        assert!(mail.iter().any(|m| m.to.contains("ada@demo.example")), "{}: ada was mailed", app.engine);
        assert!(mail.iter().any(|m| m.to.contains("katherine@demo.example")), "{}", app.engine);
        let audit = app.get_ok("/api/v1/audit?action=invite.created&limit=200", &token).await;
        let imported: Vec<&Value> = audit["items"].as_array().unwrap().iter().collect();
        assert_eq!(imported.len(), 2, "{}: {audit}", app.engine);
        assert!(imported.iter().all(|e| e["source"] == "import"), "{}: {audit}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn rosters_own_export_imports_as_it_is_and_its_other_columns_are_reported_ignored() {
    for app in apps("import_roster_export").await {
        let token = app.login().await;
        app.create_user(&token, "exported@demo.example").await;
        let r = app.authed(Method::GET, "/api/v1/users/export.csv", &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let export = r.text().await.unwrap();
        // The export of this organization, its addresses changed: new people in Roster's naming.
        let csv = export.replace("@demo.example", "@moved.example");
        let result = upload_ok(&app, &token, "?send_welcome_email=false", &csv).await;
        assert!(statuses(&result).iter().all(|s| *s == "created"), "{}: {result}", app.engine);
        assert_eq!(result["outcomes"].as_array().unwrap().len(), 2, "{}: the admin and one member", app.engine);
        let ignored = result["ignored_columns"].as_array().unwrap();
        for column in ["id", "status", "roles", "products", "created_at"] {
            assert!(ignored.contains(&json!(column)), "{}: {column} is ignored: {result}", app.engine);
        }
        for read in ["email", "first_name", "last_name", "phone", "crm_id"] {
            assert!(!ignored.contains(&json!(read)), "{}: {read} is read", app.engine);
        }
        assert_eq!(user_by_email(&app, &token, "exported@moved.example").await["status"], "invited");
        assert!(app.mail().await.iter().all(|m| !m.to.contains("@moved.example")), "{}: no mail asked", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn salesforces_user_export_imports_with_its_crm_ids_and_mobile_phones() {
    for app in apps("import_salesforce").await {
        let token = app.login().await;
        let csv = "\u{feff}\"Id\",\"FirstName\",\"LastName\",\"Email\",\"Phone\",\"MobilePhone\",\"Title\",\"IsActive\"\n\
                   \"005Hn00000B7k1aIAB\",\"Ada\",\"Lovelace\",\"ada@sf.example\",\"\",\"+44 20 7946 0958\",\"CTO\",\"true\"\n\
                   \"005Hn00000B7k1bIAB\",\"Alan\",\"Turing\",\"alan@sf.example\",\"+1 415 555 0101\",\"\",\"\",\"false\"\n";
        let result = upload_ok(&app, &token, "?products=core", csv).await;
        assert_eq!(statuses(&result), ["created", "created"], "{}: {result}", app.engine);
        assert_eq!(result["ignored_columns"], json!(["Title", "IsActive"]), "{}", app.engine);
        let ada = user_by_email(&app, &token, "ada@sf.example").await;
        assert_eq!(ada["crm_id"], "005Hn00000B7k1aIAB", "{}", app.engine);
        assert_eq!(ada["phone"], "+442079460958", "{}: the mobile phone", app.engine);
        // Uploading the same file again: every row is a member already, by CRM id.
        let again = upload_ok(&app, &token, "?products=core", csv).await;
        assert_eq!(statuses(&again), ["already_member", "already_member"], "{}: {again}", app.engine);
        assert_eq!(again["outcomes"][0]["user_id"], result["outcomes"][0]["user_id"]);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_dry_run_reports_what_a_real_run_would_and_changes_nothing() {
    for app in apps("import_dry_run").await {
        let token = app.login().await;
        app.create_user(&token, "taken@demo.example").await;
        let csv = "email,first_name,last_name\n\
                   a@dry.example,A,One\ntaken@demo.example,T,Aken\nb@dry.example,B,Two\nbad,C,Three\n\
                   c@dry.example,C,Four\nd@dry.example,D,Five\na@dry.example,A,Again\n";
        let before = state(&app, &token).await;
        let mails = app.mail().await.len();
        let dry = upload_ok(&app, &token, "?dry_run=true&products=core", csv).await;
        assert_eq!(dry["applied"], false, "{}", app.engine);
        assert_eq!(state(&app, &token).await, before, "{}: a dry run changes nothing", app.engine);
        assert_eq!(app.mail().await.len(), mails, "{}: and mails no one", app.engine);
        let real = upload_ok(&app, &token, "?products=core", csv).await;
        assert_eq!(real["applied"], true, "{}", app.engine);
        let strip = |v: &Value| -> Vec<Value> {
            v["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    let mut o = o.clone();
                    // Ids are new in each run; where there is one is part of the outcome.
                    if o["status"] == "created" {
                        o["user_id"] = json!("new");
                    }
                    o
                })
                .collect()
        };
        assert_eq!(strip(&dry), strip(&real), "{}: the same outcomes", app.engine);
        assert_eq!(dry["seats_after"], real["seats_after"], "{}: the same seats", app.engine);
        assert_eq!(
            statuses(&real),
            ["created", "already_member", "created", "invalid", "created", "seat_refused", "duplicate"],
            "{}: {real}",
            app.engine
        );
        app.finish().await;
    }
}

#[tokio::test]
async fn the_seat_limit_refuses_the_rows_past_it_and_the_others_are_created() {
    for app in apps("import_seats").await {
        let token = app.login().await;
        let mut csv = String::from("email,first_name,last_name\n");
        for i in 0..5 {
            csv.push_str(&format!("seat{i}@demo.example,Seat,Number{i}\n"));
        }
        let r = upload(&app, &token, "?products=dialer", &csv).await;
        assert_problem(r, StatusCode::CONFLICT, "missing_prerequisite").await;
        // Each created member reserves a seat of each product; 3 seats per pool.
        let result = upload_ok(&app, &token, "?products=core,dialer", &csv).await;
        assert_eq!(
            statuses(&result),
            ["created", "created", "created", "seat_refused", "seat_refused"],
            "{}: {result}",
            app.engine
        );
        assert!(result["outcomes"][3]["message"].as_str().unwrap().contains("core"), "{}: {result}", app.engine);
        let seats = app.get_ok("/api/v1/licenses", &token).await;
        for pool in
            seats["items"].as_array().unwrap().iter().filter(|p| p["product"] == "core" || p["product"] == "dialer")
        {
            assert_eq!(pool["seats_used"], 3, "{}: {seats}", app.engine);
        }
        assert_eq!(user_by_email(&app, &token, "seat3@demo.example").await, Value::Null, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn duplicates_within_the_file_are_reported_against_the_first_valid_row() {
    for app in apps("import_duplicates").await {
        let token = app.login().await;
        let csv = "email,first_name,last_name,crm_id\n\
                   one@dup.example,,Invalid,\n\
                   one@dup.example,One,First,CRM-1\n\
                   ONE@dup.example,One,Again,\n\
                   two@dup.example,Two,SameCrm,CRM-1\n\
                   three@dup.example,Three,Fine,CRM-3\n";
        let result = upload_ok(&app, &token, "", csv).await;
        assert_eq!(
            statuses(&result),
            ["invalid", "created", "duplicate", "duplicate", "created"],
            "{}: {result}",
            app.engine
        );
        assert_eq!(result["outcomes"][2]["duplicate_of"], 2, "{}", app.engine);
        assert_eq!(result["outcomes"][3]["duplicate_of"], 2, "{}: by CRM id", app.engine);
        assert!(result["outcomes"][3]["message"].as_str().unwrap().contains("crm_id"), "{}", app.engine);
        assert_eq!(user_by_email(&app, &token, "two@dup.example").await, Value::Null, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn invalid_rows_are_reported_with_each_field_while_the_valid_ones_are_created() {
    for app in apps("import_invalid_rows").await {
        let token = app.login().await;
        let long = "x".repeat(300);
        let csv = format!(
            "Email;First Name;Last Name;Mobile Phone\n\
             fine@demo.example;Fine;Row;\n\
             ;;;\n\
             short@demo.example;Short;Row\n\
             phone@demo.example;Bad;Phone;12345\n\
             long@demo.example;{long};Name;\n\
             also-fine@demo.example;Also;Fine;+33 1 23 45 67 89\n"
        );
        let result = upload_ok(&app, &token, "", &csv).await;
        assert_eq!(
            statuses(&result),
            ["created", "invalid", "invalid", "invalid", "created"],
            "{}: a blank row is no row: {result}",
            app.engine
        );
        let first_error = |i: usize| {
            let e = &result["outcomes"][i]["errors"][0];
            (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned())
        };
        assert_eq!(first_error(1), ("row".into(), "field_count".into()), "{}", app.engine);
        assert_eq!(first_error(2), ("mobile_phone".into(), "invalid_format".into()), "{}", app.engine);
        assert_eq!(first_error(3), ("first_name".into(), "too_long".into()), "{}", app.engine);
        assert_eq!(result["outcomes"][4]["line"], 7, "{}: lines count the blank one", app.engine);
        assert_eq!(user_by_email(&app, &token, "also-fine@demo.example").await["phone"], "+33123456789");
        app.finish().await;
    }
}

#[tokio::test]
async fn a_header_lacking_a_column_or_naming_one_twice_is_422_and_changes_nothing() {
    for app in apps("import_bad_header").await {
        let token = app.login().await;
        let before = state(&app, &token).await;
        let r = upload(&app, &token, "", "email,name\nada@demo.example,Ada Lovelace\n").await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let named: Vec<(&str, &str)> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
            .collect();
        assert_eq!(named, [("first_name", "missing_column"), ("last_name", "missing_column")], "{}", app.engine);
        let r = upload(&app, &token, "", "Email,E-mail,first_name,last_name\na@x.example,b@x.example,A,B\n").await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "email", "{}: {problem}", app.engine);
        assert_eq!(problem["errors"][0]["code"], "duplicate_column", "{}", app.engine);
        let r = upload(&app, &token, "", "email,first_name,last_name\n").await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], "no_rows", "{}: {problem}", app.engine);
        let r = upload(&app, &token, "", "\r\n").await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = upload(&app, &token, "?roles=no_such_role", "email,first_name,last_name\nr@x.example,R,S\n").await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let r = upload(&app, &token, "?products=Not%20A%20Key", "email,first_name,last_name\nr@x.example,R,S\n").await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "products[0]", "{}: {problem}", app.engine);
        assert_eq!(state(&app, &token).await, before, "{}: nothing changed", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_csv_is_415() {
    for app in apps("import_media_type").await {
        let token = app.login().await;
        let csv = "email,first_name,last_name\nada@demo.example,Ada,Lovelace\n";
        for content_type in [Some("application/json"), Some("text/plain"), Some("text/csv; charset=latin1"), None] {
            let mut request = app.authed(Method::POST, "/api/v1/users/import", &token).body(csv);
            if let Some(ct) = content_type {
                request = request.header(CONTENT_TYPE, ct);
            }
            let problem = assert_problem(
                request.send().await.unwrap(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
            assert!(problem["detail"].as_str().unwrap().contains("text/csv"), "{}: {problem}", app.engine);
        }
        let r = app
            .authed(Method::POST, "/api/v1/users/import", &token)
            .header(CONTENT_TYPE, "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}: text/csv without a charset is UTF-8", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_unreadable_file_is_400_naming_its_line_and_changes_nothing() {
    for app in apps("import_unreadable").await {
        let token = app.login().await;
        let before = state(&app, &token).await;
        let body = "email,first_name,last_name\nok@demo.example,Ok,Row\nbad@demo.example,O\"Brien,Row\n";
        let problem =
            assert_problem(upload(&app, &token, "", body).await, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], "malformed_csv", "{}: {problem}", app.engine);
        assert!(problem["errors"][0]["message"].as_str().unwrap().starts_with("line 3:"), "{}: {problem}", app.engine);
        let mut latin1 = b"email,first_name,last_name\nrene@demo.example,Ren".to_vec();
        latin1.extend_from_slice(b"\xe9,Descartes\n");
        let r = app
            .authed(Method::POST, "/api/v1/users/import", &token)
            .header(CONTENT_TYPE, CSV)
            .body(latin1)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], "not_utf8", "{}: {problem}", app.engine);
        assert!(problem["errors"][0]["message"].as_str().unwrap().contains("line 2"), "{}: {problem}", app.engine);
        let r = upload(&app, &token, "?dry_run=perhaps", "email,first_name,last_name\na@x.example,A,B\n").await;
        assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(state(&app, &token).await, before, "{}: nothing changed", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn importing_needs_manage_users_across_the_organization() {
    for app in apps("import_forbidden").await {
        let (token, _) = member(&app, "demo", "reader@demo.example", "read_only").await;
        let r = upload(&app, &token, "", "email,first_name,last_name\na@x.example,A,B\n").await;
        assert_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        let r = app.request(Method::POST, "/api/v1/users/import").header(CONTENT_TYPE, CSV).body("email").send().await;
        assert_eq!(r.unwrap().status(), StatusCode::UNAUTHORIZED, "{}", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn an_import_over_1000_rows_answers_202_and_its_job_reaches_done_with_one_outcome_per_row() {
    let options = Options { body_limit: 1024 * 1024, ..Options::default() };
    for app in apps_with("import_job", &options).await {
        let token = app.login().await;
        let mut csv = String::from("email,first_name,last_name,Department\n");
        for i in 0..1_005 {
            csv.push_str(&format!("bulk{i}@job.example,Bulk,Row{i},Sales\n"));
        }
        csv.push_str("bulk7@job.example,Bulk,Again,Sales\n");
        let r = upload(&app, &token, "?products=core&send_welcome_email=false", &csv).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.engine);
        let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
        let queued: Value = r.json().await.unwrap();
        assert_eq!(location, format!("/api/v1/jobs/{}", queued["id"].as_str().unwrap()));
        assert_eq!((queued["kind"].as_str(), queued["total"].as_u64()), (Some("import"), Some(1_006)));
        assert_eq!(user_by_email(&app, &token, "bulk0@job.example").await, Value::Null, "{}: not yet", app.engine);

        let pace = JobPace { step: 400, ..JobPace::default() };
        let mut claimed = app.services.claim_job("import-test", pace).await.expect("claims").expect("the queued job");
        let mut steps = 1;
        while app.services.work_job("import-test", &mut claimed, pace).await.expect("works") == StepResult::Continue {
            steps += 1;
        }
        assert_eq!(steps, 3, "{}: 1,006 rows in steps of 400", app.engine);
        let job = app.get_ok(&location, &token).await;
        assert_eq!((job["state"].as_str(), job["done"].as_u64()), (Some("done"), Some(1_006)), "{}: {job}", app.engine);

        let mut outcomes = Vec::new();
        let mut after = 0;
        loop {
            let page = app.get_ok(&format!("{location}/outcomes?after={after}"), &token).await;
            outcomes.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_after"].as_u64() {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(outcomes.len(), 1_006, "{}: one outcome per row", app.engine);
        let seqs: Vec<u64> = outcomes.iter().map(|o| o["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (1..=1_006).collect::<Vec<_>>(), "{}: in order", app.engine);
        let count = |s: &str| outcomes.iter().filter(|o| o["status"] == s).count();
        // Three `core` seats: the first three rows are created, the others refused by seats; the
        // repeated row is a duplicate.
        assert_eq!((count("created"), count("seat_refused"), count("duplicate")), (3, 1_002, 1), "{}", app.engine);
        assert_eq!(outcomes[1_005]["duplicate_of"], 8, "{}", app.engine);
        assert_eq!(outcomes[0]["row"], 1);
        let result = app.get_ok(job["result_url"].as_str().unwrap(), &token).await;
        assert_eq!(result["applied"], true, "{}", app.engine);
        assert_eq!(result["ignored_columns"], json!(["Department"]), "{}", app.engine);
        assert_eq!(user_by_email(&app, &token, "bulk2@job.example").await["status"], "invited", "{}", app.engine);
        let audit = app.get_ok("/api/v1/audit?action=invite.created&limit=200", &token).await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 3, "{}", app.engine);
        app.finish().await;
    }
}
