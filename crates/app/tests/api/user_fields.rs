//! Every field of a member (SPEC §3: profile and settings, `call_recording` included) through
//! `POST /users` and `PATCH /users/{id}` (§10): each set on create and patched, read back,
//! audited; `null` clears an optional one; a bad value answers 422 `validation_failed` naming
//! the field as the body spells it, and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, assert_problem};

/// A body with every field of §3 given a value other than its default.
fn every_field(email: &str) -> Value {
    json!({
        "email": email,
        "first_name": "Grace",
        "last_name": "Hopper",
        "phone": "+1 (415) 555-0101",
        "nicknames": ["Amazing Grace", "Admiral"],
        "agent_id": "agent-7.x",
        "crm_id": "005Hn00000B7k1aIAB",
        "agent_ring_number": "0044 20 7946 0000",
        "dialer_number": "+14155550102",
        "settings": {
            "mailbox_provider": "microsoft",
            "email_throttle_max_per_day": 4500,
            "flow_enabled": false,
            "email_sync": true,
            "calendar_sync": true,
            "call_recording": "enforced",
            "homepage": "leads",
            "round_robin": true,
            "scoring_enabled": true,
            "roaming_agent": true,
            "voip_forward_to": "+49 151 0000 0001"
        }
    })
}

/// The same fields as the server stores them (normalized).
fn every_field_stored() -> Value {
    json!({
        "first_name": "Grace",
        "last_name": "Hopper",
        "phone": "+14155550101",
        "nicknames": ["Amazing Grace", "Admiral"],
        "agent_id": "agent-7.x",
        "crm_id": "005Hn00000B7k1aIAB",
        "agent_ring_number": "+442079460000",
        "dialer_number": "+14155550102",
        "settings": {
            "mailbox_provider": "microsoft",
            "email_throttle_max_per_day": 4500,
            "flow_enabled": false,
            "email_sync": true,
            "calendar_sync": true,
            "call_recording": "enforced",
            "homepage": "leads",
            "round_robin": true,
            "scoring_enabled": true,
            "roaming_agent": true,
            "voip_forward_to": "+4915100000001"
        }
    })
}

/// Asserts that `user` shows every field of `expected` (settings field by field).
#[track_caller]
fn assert_fields(user: &Value, expected: &Value, what: &str) {
    for (field, value) in expected.as_object().expect("an object") {
        if field == "settings" {
            for (setting, value) in value.as_object().expect("the settings") {
                assert_eq!(&user["settings"][setting], value, "{what}: settings.{setting}");
            }
        } else {
            assert_eq!(&user[field], value, "{what}: {field}");
        }
    }
}

/// The newest audit event `action` about `user`.
async fn last_event(app: &TestApp, token: &str, user: &str, action: &str) -> Value {
    let events = app.get_ok(&format!("/api/v1/audit?target_id={user}&action={action}&limit=1"), token).await;
    events["items"][0].clone()
}

/// The number of audit events about `user`.
async fn event_count(app: &TestApp, token: &str, user: &str) -> usize {
    let events = app.get_ok(&format!("/api/v1/audit?target_id={user}&limit=200"), token).await;
    events["items"].as_array().expect("items").len()
}

async fn create(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/api/v1/users", token).json(body).send().await.expect("sends")
}

async fn patch(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::PATCH, &format!("/api/v1/users/{id}"), token).json(body).send().await.expect("sends")
}

/// The `(field, code)` pairs of a 422 problem, in order.
async fn field_errors(r: reqwest::Response) -> Vec<(String, String)> {
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["code"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn every_field_is_set_on_create_read_back_and_audited() {
    for app in apps("user_fields_create").await {
        let token = app.login().await;
        let r = create(&app, &token, &every_field("grace@demo.example")).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.engine);
        let created: Value = r.json().await.expect("json");
        assert_fields(&created, &every_field_stored(), &format!("{}: the answer", app.engine));
        let id = created["id"].as_str().expect("an id");
        let read = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
        assert_fields(&read, &every_field_stored(), &format!("{}: read back", app.engine));
        let listed = app.get_ok("/api/v1/users?q=grace&limit=10", &token).await;
        assert_fields(&listed["items"][0], &every_field_stored(), &format!("{}: the Users table", app.engine));

        // The creation event names every field given a value other than its default.
        let event = last_event(&app, &token, id, "user.created").await;
        let details = &event["details"];
        let stored = every_field_stored();
        for field in ["phone", "nicknames", "agent_id", "crm_id", "agent_ring_number", "dialer_number"] {
            assert_eq!(details[field]["after"], stored[field], "{}: {field} audited", app.engine);
        }
        for (setting, value) in stored["settings"].as_object().expect("settings") {
            assert_eq!(&details[format!("settings.{setting}")]["after"], value, "{}: settings.{setting}", app.engine);
        }

        // Left out, each setting takes its default.
        let plain = app.create_user(&token, "plain@demo.example").await;
        assert_eq!(
            plain["settings"],
            json!({
                "mailbox_provider": "none", "email_throttle_max_per_day": 300, "flow_enabled": true,
                "email_sync": false, "calendar_sync": false, "call_recording": "optional", "homepage": "default",
                "round_robin": false, "scoring_enabled": false, "roaming_agent": false, "voip_forward_to": null
            }),
            "{}",
            app.engine
        );
        for field in ["agent_ring_number", "dialer_number", "phone", "agent_id", "crm_id"] {
            assert_eq!(plain[field], Value::Null, "{}: {field}", app.engine);
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn every_field_is_patched_read_back_audited_and_cleared_with_null() {
    for app in apps("user_fields_patch").await {
        let token = app.login().await;
        let user = app.create_user(&token, "ada@demo.example").await;
        let id = user["id"].as_str().expect("an id").to_owned();
        let stored = every_field_stored();
        let body = every_field("ada.lovelace@demo.example");
        // One field at a time: each answer and each read shows it, each change is one event
        // naming it, with the value before and after.
        let mut fields: Vec<(String, Value, Value)> = Vec::new();
        for field in ["email", "first_name", "last_name", "phone", "nicknames", "agent_id", "crm_id"] {
            let after = if field == "email" { json!("ada.lovelace@demo.example") } else { stored[field].clone() };
            fields.push((field.to_owned(), json!({ field: body[field] }), after));
        }
        for field in ["agent_ring_number", "dialer_number"] {
            fields.push((field.to_owned(), json!({ field: body[field] }), stored[field].clone()));
        }
        // In key order: the throttle of 4,500 fits the default provider's cap (10,000), and then
        // Microsoft's (4,500).
        for (setting, value) in body["settings"].as_object().expect("settings") {
            let after = stored["settings"][setting].clone();
            fields.push((format!("settings.{setting}"), json!({"settings": { setting: value }}), after));
        }
        for (field, patch_body, after) in fields {
            let r = patch(&app, &token, &id, &patch_body).await;
            assert_eq!(r.status(), StatusCode::OK, "{}: {field}: {}", app.engine, r.text().await.unwrap_or_default());
            let answer: Value = r.json().await.expect("json");
            let read = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
            let (shown, read_back) = match field.strip_prefix("settings.") {
                Some(setting) => (&answer["settings"][setting], &read["settings"][setting]),
                None => (&answer[field.as_str()], &read[field.as_str()]),
            };
            assert_eq!((shown, read_back), (&after, &after), "{}: {field}", app.engine);
            let event = last_event(&app, &token, &id, "user.updated").await;
            assert_eq!(event["details"][&field]["after"], after, "{}: {field} audited: {event}", app.engine);
            assert!(event["details"][&field].get("before").is_some(), "{}: {field}: before", app.engine);
        }
        let read = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
        assert_fields(&read, &stored, &format!("{}: every field patched", app.engine));

        // `null` clears an optional field; absence leaves it.
        let clear = json!({"phone": null, "agent_id": null, "crm_id": null, "agent_ring_number": null,
            "dialer_number": null, "settings": {"voip_forward_to": null}});
        let r = patch(&app, &token, &id, &clear).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        let cleared: Value = r.json().await.expect("json");
        for field in ["phone", "agent_id", "crm_id", "agent_ring_number", "dialer_number"] {
            assert_eq!(cleared[field], Value::Null, "{}: {field} cleared", app.engine);
        }
        assert_eq!(cleared["settings"]["voip_forward_to"], Value::Null);
        assert_eq!(cleared["settings"]["call_recording"], "enforced", "{}: untouched", app.engine);
        assert_eq!(cleared["nicknames"], stored["nicknames"], "{}: untouched", app.engine);
        let event = last_event(&app, &token, &id, "user.updated").await;
        assert_eq!(event["details"]["dialer_number"], json!({"before": "+14155550102", "after": null}));

        // A change to nothing new writes nothing.
        let version = cleared["version"].clone();
        let events = event_count(&app, &token, &id).await;
        let r = patch(&app, &token, &id, &json!({"settings": {"call_recording": "enforced"}})).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.expect("json")["version"], version, "{}", app.engine);
        assert_eq!(event_count(&app, &token, &id).await, events);
        app.finish().await;
    }
}

/// Bad values of every field, each with the field and code the answer must name.
fn bad_values() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (json!({"email": "not-an-email"}), "email", "invalid_format"),
        (json!({"first_name": "  "}), "first_name", "empty"),
        (json!({"last_name": "x".repeat(101)}), "last_name", "too_long"),
        (json!({"phone": "415 555 0100"}), "phone", "invalid_format"),
        (json!({"phone": "+1234"}), "phone", "too_short"),
        (json!({"nicknames": ["Ace", "ace"]}), "nicknames", "duplicate"),
        (json!({"nicknames": ["x".repeat(65)]}), "nicknames", "too_long"),
        (json!({"nicknames": (0..21).map(|i| format!("nick{i}")).collect::<Vec<_>>()}), "nicknames", "too_many"),
        (json!({"agent_id": "agent 7!"}), "agent_id", "invalid_format"),
        (json!({"crm_id": "005.x"}), "crm_id", "invalid_format"),
        (json!({"agent_ring_number": "0800 123 456"}), "agent_ring_number", "invalid_format"),
        (json!({"dialer_number": "+1234567890123456"}), "dialer_number", "too_long"),
        (json!({"settings": {"mailbox_provider": "yahoo"}}), "settings.mailbox_provider", "invalid_format"),
        (json!({"settings": {"call_recording": "always"}}), "settings.call_recording", "invalid_format"),
        (json!({"settings": {"homepage": "Leads"}}), "settings.homepage", "invalid_format"),
        (json!({"settings": {"voip_forward_to": "call me"}}), "settings.voip_forward_to", "invalid_format"),
        (json!({"settings": {"email_throttle_max_per_day": 0}}), "settings.email_throttle_max_per_day", "out_of_range"),
        (
            json!({"settings": {"mailbox_provider": "google", "email_throttle_max_per_day": 1801}}),
            "settings.email_throttle_max_per_day",
            "out_of_range",
        ),
    ]
}

/// `body` merged into a valid creation body.
fn with_required(body: &Value, email: &str) -> Value {
    let mut full = json!({"email": email, "first_name": "New", "last_name": "Member"});
    for (k, v) in body.as_object().expect("an object") {
        full[k] = v.clone();
    }
    full
}

#[tokio::test]
async fn bad_values_answer_422_naming_the_field_and_change_nothing() {
    for app in apps("user_fields_bad").await {
        let token = app.login().await;
        let user = app.create_user(&token, "bo@demo.example").await;
        let id = user["id"].as_str().expect("an id").to_owned();
        let users = app.user_count(&token).await;
        let events = event_count(&app, &token, &id).await;
        for (body, field, code) in bad_values() {
            let expected = vec![(field.to_owned(), code.to_owned())];
            let create_body = with_required(&body, "new@demo.example");
            let got = field_errors(create(&app, &token, &create_body).await).await;
            assert_eq!(got, expected, "{}: POST {create_body}", app.engine);
            let got = field_errors(patch(&app, &token, &id, &body).await).await;
            assert_eq!(got, expected, "{}: PATCH {body}", app.engine);
        }
        // Every bad field of a request at once.
        let all = json!({"phone": "nope", "dialer_number": "0", "settings": {"call_recording": "never",
            "homepage": "home", "email_throttle_max_per_day": 10}});
        let got = field_errors(patch(&app, &token, &id, &all).await).await;
        let named: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            named,
            ["phone", "dialer_number", "settings.call_recording", "settings.homepage"],
            "{}: every field that does not parse, at once",
            app.engine
        );
        // A throttle over the cap of the provider the user already has.
        let google = patch(&app, &token, &id, &json!({"settings": {"mailbox_provider": "google"}})).await;
        assert_eq!(google.status(), StatusCode::OK);
        let before = app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
        let events = events + 1;
        let got =
            field_errors(patch(&app, &token, &id, &json!({"settings": {"email_throttle_max_per_day": 1801}})).await)
                .await;
        assert_eq!(got, [("settings.email_throttle_max_per_day".to_owned(), "out_of_range".to_owned())]);
        // A wrong JSON type is a body that cannot be read: 400 naming the field.
        let r = patch(&app, &token, &id, &json!({"settings": {"flow_enabled": "yes"}})).await;
        let problem = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "settings.flow_enabled", "{}", app.engine);
        let r = patch(&app, &token, &id, &json!({"settings": {"call_recording": "optional", "volume": 11}})).await;
        let problem = assert_problem(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], "unknown_field", "{}", app.engine);

        // Nothing changed: no member created, the member as they were, no event written.
        assert_eq!(app.user_count(&token).await, users, "{}: nobody created", app.engine);
        assert_eq!(app.get_ok(&format!("/api/v1/users/{id}"), &token).await, before, "{}", app.engine);
        assert_eq!(event_count(&app, &token, &id).await, events, "{}: nothing audited", app.engine);
        app.finish().await;
    }
}

#[tokio::test]
async fn the_openapi_document_states_the_rule_of_every_field() {
    for app in apps("user_fields_openapi").await {
        let token = app.login().await;
        let doc = app.get_ok("/openapi.json", &token).await;
        let schemas = &doc["components"]["schemas"];
        let phone = r"^\+[1-9][0-9]{7,14}$";
        for body in ["CreateUserRequest", "UpdateUserRequest"] {
            let p = &schemas[body]["properties"];
            for field in ["phone", "agent_ring_number", "dialer_number"] {
                assert_eq!(p[field]["pattern"], phone, "{body}.{field}");
            }
            assert_eq!(p["agent_id"]["pattern"], r"^[A-Za-z0-9._-]{1,64}$", "{body}.agent_id");
            assert_eq!(p["crm_id"]["pattern"], r"^[A-Za-z0-9_-]{1,64}$", "{body}.crm_id");
            assert_eq!(p["first_name"]["maxLength"], 100, "{body}.first_name");
            assert_eq!(p["email"]["maxLength"], 254, "{body}.email");
            assert_eq!(p["nicknames"]["maxItems"], 20, "{body}.nicknames");
            assert_eq!(p["nicknames"]["items"]["maxLength"], 64, "{body}.nicknames");
            assert!(p["settings"].to_string().contains("UserSettingsRequest"), "{body}.settings");
        }
        let s = &schemas["UserSettingsRequest"]["properties"];
        assert_eq!(s["email_throttle_max_per_day"]["minimum"], 1);
        assert_eq!(s["email_throttle_max_per_day"]["maximum"], 10_000);
        assert_eq!(s["voip_forward_to"]["pattern"], phone);
        for (field, schema, words) in [
            ("mailbox_provider", "MailboxProviderName", json!(["none", "google", "microsoft"])),
            ("call_recording", "CallRecordingName", json!(["optional", "enforced", "disabled"])),
            ("homepage", "HomepageName", json!(["default", "leads"])),
        ] {
            assert!(s[field].to_string().contains(schema), "{field}: {}", s[field]);
            assert_eq!(schemas[schema]["enum"], words, "{schema}");
        }
        app.finish().await;
    }
}
