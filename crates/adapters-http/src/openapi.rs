//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the handlers' `#[utoipa::path]`
//! annotations. Two modifiers complete it: the security schemes, and the problems every
//! operation of a kind can answer (so no handler has to repeat them):
//! - every operation: 500 `internal`;
//! - with a security requirement: 401 (`unauthenticated`, or `api_key_suspended` for a key whose
//!   creator is deactivated or deleted), and 403 (`forbidden`: a
//!   cookie-authenticated write without `X-Requested-With`, or a missing permission);
//! - with a request body: 400 (malformed JSON, wrong type, unknown field), 413, 415;
//! - with query parameters: 400 (a bad parameter or cursor);
//! - an authenticated `POST`: 400, 409 and 422 for its `Idempotency-Key` (decision 0017), whose
//!   header parameter states the key's rule (1 to 255 visible ASCII characters).
//!
//! A third, [`ProblemCodes`], states the `code`s each problem answer can carry, as an `enum` on
//! the answer's schema: the codes its description names in backticks, and those the adapter's
//! own machinery answers with that status for that kind of operation.

use std::collections::BTreeSet;

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::auth::SESSION_COOKIE;
use crate::problem::{Problem, ProblemField};
use crate::routes::{
    api_keys, audit, connections, crm, flows, groups, impersonation, invites, jobs, org, passwords, roles, saved_views,
    scheduled, service, session, signup, users, users_bulk, users_export, webhooks,
};
use crate::wire::{LicenseChangeBody, RoleGrantBody, ScheduledChangeBody, UserBody, UserList, UserSummary};

/// The API's document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Roster API", description = "Users, licenses, roles, groups and visibility (SPEC §10)."),
    paths(
        service::healthz, service::readyz, service::openapi_json, service::metrics,
        session::login, session::logout, session::login_alias, session::logout_alias, session::me,
        users::list_users, users::get_user, users::create_user, users::update_user, users::set_licenses,
        users::delete_user, users::deactivate_user, users::reactivate_user, users::restore_user, users::set_inactive_reasons,
        groups::list_groups, groups::create_group, groups::export_groups, groups::get_group, groups::update_group,
        groups::delete_group, groups::add_members, groups::remove_member, groups::set_group_flows, groups::move_user,
        roles::list_roles, roles::create_role, roles::update_role, roles::delete_role, roles::set_user_roles,
        roles::set_grants,
        roles::set_onboarding,
        connections::list_connections, connections::create_connection, connections::group_choices,
        connections::get_connection, connections::explain_access, connections::connection_viewers,
        flows::list_flows, flows::create_flow,
        audit::list_audit, audit::export_audit,
        users_export::export_users, users_bulk::bulk_users,
        crate::routes::users_import::import_users,
        org::licenses, org::billing, org::settings, org::update_settings,
        api_keys::list_api_keys, api_keys::create_api_key, api_keys::revoke_api_key,
        impersonation::start_impersonation, impersonation::stop_impersonation,
        saved_views::list_saved_views, saved_views::create_saved_view, saved_views::delete_saved_view,
        scheduled::schedule_change, scheduled::cancel_scheduled_change,
        jobs::get_job, jobs::job_outcomes, jobs::job_result,
        invites::list_invites, invites::create_invites, invites::paste_invites, invites::resend_invite,
        invites::revoke_invite, invites::accept_invite,
        signup::sign_up, signup::verify_sign_up,
        passwords::set_user_password, passwords::change_own_password, passwords::request_password_reset,
        passwords::confirm_password_reset,
        crm::search_crm_users, crm::import_crm_users, crm::sync_crm,
        webhooks::list_events,
        webhooks::list_webhooks, webhooks::create_webhook, webhooks::get_webhook, webhooks::update_webhook,
        webhooks::delete_webhook, webhooks::rotate_webhook_secret, webhooks::list_deliveries,
        webhooks::replay_webhook, webhooks::test_webhook,
    ),
    components(
        schemas(Problem, ProblemField, UserBody, UserSummary, UserList, RoleGrantBody, LicenseChangeBody, ScheduledChangeBody,
            audit::AuditEventBody, audit::AuditList),
        responses(Problem),
    ),
    modifiers(&SecuritySchemes, &CommonProblems, &ProblemCodes, &ExclusiveFields),
    tags(
        (name = "session", description = "Logging in and out"),
        (name = "users", description = "The Users table and one user"),
        (name = "service", description = "Health and this document"),
        (name = "groups", description = "The group tree, memberships and flows per group"),
        (name = "roles", description = "Roles and per-user grants"),
        (name = "connections", description = "Connections and who sees them"),
        (name = "flows", description = "Flows"),
        (name = "audit", description = "The audit log and its export"),
        (name = "licenses", description = "Seats and billing"),
        (name = "settings", description = "The organization's settings"),
        (name = "api-keys", description = "API keys for integrations"),
        (name = "invites", description = "Member invites, bulk paste, accepting an invite"),
        (name = "signup", description = "Self sign-up and email verification"),
        (name = "crm", description = "The CRM directory: search, import, sync"),
        (name = "jobs", description = "Long work: bulk actions over more than 1,000 users"),
        (name = "events", description = "The integration event feed, in commit order (the catalog: docs/EVENTS.md)"),
        (name = "webhooks", description = "Webhook endpoints: events pushed as Standard Webhooks, their delivery log, replay"),
    )
)]
pub struct ApiDoc;

/// The document as served: [`ApiDoc`] with the rules of request text stated (see
/// [`state_text_rules`]). Built once.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        state_text_rules(&mut doc);
        doc
    })
}

/// No control character (Unicode `Cc`): the rule of every text a request carries — names,
/// keys, searches, ids — unless it states a stricter pattern, a format or an enum
/// (`roster_domain::values`; PostgreSQL cannot store a NUL character at all).
pub const NO_CONTROL_CHARACTERS: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

/// Free text that may hold line breaks and tabs (an impersonation's reason), and no other
/// control character.
pub const NO_CONTROL_BUT_LINE_BREAKS: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// An `If-Match` the server reads (`extract::IfMatch`): `*`, or one entity tag of a version,
/// strong or weak. Any other value names no version and answers 412.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]+")$"#;

/// A role or product key (`roster_domain::values::Key`).
pub const KEY_PATTERN: &str = "^[a-z][a-z0-9_]{0,63}$";

/// The request fields of free text, by schema and property.
const LINE_TEXT: [(&str, &str); 1] = [("StartImpersonationRequest", "reason")];

/// The request fields of any text at all: a password is hashed whatever it holds, and a pasted
/// list is read entry by entry, each answered with its own outcome.
const ANY_TEXT: [(&str, &str); 2] = [("", "password"), ("PasteInvitesRequest", "text")];

/// A webhook subscription's entry (`roster_domain::webhooks::EventPattern`): an action, a
/// prefix ending in `.*`, or `*`.
pub const EVENT_TYPE_PATTERN: &str = r"^(\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.([A-Za-z0-9_]+|\*))$";

/// The request fields that hold product keys.
const KEY_FIELDS: [&str; 3] = ["products", "product", "requires"];

/// Gives every text of a request (a body's string fields, a string query parameter) that states
/// no pattern, format or enum the rule it is held to: a product key's pattern, free text's, or
/// no control character. The schemas of request bodies are found through their `$ref`s.
fn state_text_rules(doc: &mut serde_json::Value) {
    use serde_json::Value;
    let mut components: Vec<String> = Vec::new();
    let mut inline: Vec<(String, String, String, usize)> = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (media, content) in op["requestBody"]["content"].as_object().into_iter().flatten() {
                collect_refs(&content["schema"], &mut components);
                inline.push((path.clone(), method.clone(), media.clone(), usize::MAX));
            }
            for (i, parameter) in op["parameters"].as_array().into_iter().flatten().enumerate() {
                collect_refs(&parameter["schema"], &mut components);
                inline.push((path.clone(), method.clone(), String::new(), i));
            }
        }
    }
    // The components those reach, transitively.
    let mut i = 0;
    while i < components.len() {
        let schema = doc["components"]["schemas"][&components[i]].clone();
        collect_refs(&schema, &mut components);
        i += 1;
    }
    for name in &components {
        let schema = &mut doc["components"]["schemas"][name];
        add_text_rules(schema, name, "");
    }
    for (path, method, media, i) in inline {
        let op = &mut doc["paths"][&path][&method];
        if i == usize::MAX {
            add_text_rules(&mut op["requestBody"]["content"][&media]["schema"], "", "");
        } else {
            let name = op["parameters"][i]["name"].as_str().unwrap_or_default().to_owned();
            let schema = &mut op["parameters"][i]["schema"];
            if name.eq_ignore_ascii_case("If-Match") && schema.is_object() {
                schema["pattern"] = Value::String(IF_MATCH_PATTERN.to_owned());
            }
            add_text_rules(schema, "", &name);
        }
    }

    fn collect_refs(schema: &Value, out: &mut Vec<String>) {
        match schema {
            Value::Object(o) => {
                if let Some(name) =
                    o.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
                    && !out.iter().any(|n| n == name)
                {
                    out.push(name.to_owned());
                }
                o.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    fn add_text_rules(schema: &mut Value, component: &str, field: &str) {
        let Some(o) = schema.as_object_mut() else { return };
        let is_text = match o.get("type") {
            Some(Value::String(t)) => t == "string",
            Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
            _ => false,
        };
        let stated = ["pattern", "format", "enum", "const", "$ref"].iter().any(|k| o.contains_key(*k));
        let any_text = ANY_TEXT.iter().any(|(c, f)| *f == field && (c.is_empty() || *c == component))
            || field.ends_with("_password");
        if is_text && !stated && !any_text {
            let pattern = if LINE_TEXT.contains(&(component, field)) {
                NO_CONTROL_BUT_LINE_BREAKS
            } else if KEY_FIELDS.contains(&field) {
                KEY_PATTERN
            } else if field == "event_types" {
                EVENT_TYPE_PATTERN
            } else {
                NO_CONTROL_CHARACTERS
            };
            o.insert("pattern".to_owned(), Value::String(pattern.to_owned()));
        }
        if let Some(Value::Object(properties)) = o.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                add_text_rules(property, component, name);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(inner) = o.get_mut(key) {
                add_text_rules(inner, component, field);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(Value::Array(parts)) = o.get_mut(key) {
                for part in parts {
                    add_text_rules(part, component, field);
                }
            }
        }
    }
}

/// `bearer` (a session token or an `rk_` API key) and `session_cookie` (the console).
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from POST /api/v1/session, or an API key (rk_…)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The console's session; writes must also send X-Requested-With",
            ))),
        );
    }
}

/// Calls `f` with every operation of the document, and whether it is a `POST`.
fn each_operation(doc: &mut Document, mut f: impl FnMut(&mut Operation, bool)) {
    for item in doc.paths.paths.values_mut() {
        let ops = [
            (false, &mut item.get),
            (true, &mut item.post),
            (false, &mut item.put),
            (false, &mut item.patch),
            (false, &mut item.delete),
        ];
        for (is_post, op) in ops {
            if let Some(op) = op {
                f(op, is_post);
            }
        }
    }
}

/// Adds the problems each kind of operation can answer (see the module docs).
#[derive(Debug)]
struct CommonProblems;

impl CommonProblems {
    fn add(op: &mut Operation, status: &str) {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name("Problem")));
    }
}

impl Modify for CommonProblems {
    fn modify(&self, doc: &mut Document) {
        each_operation(doc, |op, is_post| {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            if is_post && secured {
                // `Idempotency-Key` (decision 0017): a malformed key (400), a key in use
                // (409), a key reused for another request (422).
                Self::add(op, "400");
                Self::add(op, "409");
                Self::add(op, "422");
            }
            if is_post && secured {
                // The middleware honours the key on every authenticated POST: each states it,
                // with its rule.
                let parameters = op.parameters.get_or_insert_with(Vec::new);
                parameters.retain(|p| p.name != "Idempotency-Key");
                parameters.push(idempotency_key_parameter());
            }
            let has_query =
                op.parameters.as_ref().is_some_and(|ps| ps.iter().any(|p| p.parameter_in == ParameterIn::Query));
            if secured {
                Self::add(op, "401");
                Self::add(op, "403");
            }
            if op.request_body.is_some() {
                Self::add(op, "400");
                Self::add(op, "413");
                Self::add(op, "415");
            }
            if has_query {
                Self::add(op, "400");
            }
            Self::add(op, "500");
        });
    }
}

/// The rules between fields that a struct's derived schema cannot say: added to the schema as
/// JSON Schema `allOf` (`oneOf` of exclusive fields; `not` of fields an alternative forbids).
#[derive(Debug)]
struct ExclusiveFields;

impl Modify for ExclusiveFields {
    fn modify(&self, doc: &mut Document) {
        let schemas = &mut doc.components.get_or_insert_with(Components::new).schemas;
        let rules = [
            ("BulkUsersRequest", crate::routes::users_bulk::request_constraints()),
            ("ScheduleChangeRequest", crate::routes::scheduled::request_constraints()),
            ("ReplayRequest", crate::routes::webhooks::replay_constraints()),
        ];
        for (name, constraints) in rules {
            if let Some(RefOr::T(utoipa::openapi::schema::Schema::Object(object))) = schemas.get_mut(name) {
                // utoipa's object has no `allOf` beside `properties`: its extensions are
                // flattened into the schema, which is where JSON Schema reads the keyword.
                let extra = object.extensions.get_or_insert_with(Default::default);
                extra.insert("allOf".to_owned(), constraints);
            }
        }
    }
}

/// Turns every problem answer (a status of 400 or more) into one whose schema names the `code`s
/// it can carry (see the module docs); no handler lists them twice.
#[derive(Debug)]
struct ProblemCodes;

impl Modify for ProblemCodes {
    fn modify(&self, doc: &mut Document) {
        let generic = doc
            .components
            .as_ref()
            .and_then(|c| c.responses.get("Problem"))
            .and_then(|r| match r {
                RefOr::T(r) => Some(r.description.clone()),
                RefOr::Ref(_) => None,
            })
            .unwrap_or_default();
        each_operation(doc, |op, is_post| {
            let kind = OperationKind::of(op, is_post);
            for (status, response) in &mut op.responses.responses {
                let Some(status) = status.parse::<u16>().ok().filter(|s| *s >= 400) else { continue };
                match response {
                    // A response of its own keeps its description and headers
                    // (`Retry-After`); its content becomes the narrowed problem.
                    RefOr::T(r) => {
                        let codes = problem_codes(status, &r.description, kind);
                        r.content.clear();
                        r.content.insert(crate::problem::PROBLEM_JSON.to_owned(), problem_content(status, &codes));
                    }
                    RefOr::Ref(_) => {
                        let codes = problem_codes(status, &generic, kind);
                        *response = RefOr::T(
                            utoipa::openapi::response::ResponseBuilder::new()
                                .description(generic.clone())
                                .content(crate::problem::PROBLEM_JSON, problem_content(status, &codes))
                                .build(),
                        );
                    }
                }
            }
        });
    }
}

/// What an operation takes, which decides the problems the adapter's machinery can answer.
#[derive(Debug, Clone, Copy)]
struct OperationKind {
    /// It needs credentials.
    secured: bool,
    /// An authenticated `POST`: it honours `Idempotency-Key`.
    idempotent: bool,
    /// It reads a body or query parameters.
    takes_input: bool,
}

impl OperationKind {
    fn of(op: &Operation, is_post: bool) -> Self {
        let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
        let has_query =
            op.parameters.as_ref().is_some_and(|ps| ps.iter().any(|p| p.parameter_in == ParameterIn::Query));
        Self { secured, idempotent: is_post && secured, takes_input: op.request_body.is_some() || has_query }
    }
}

/// The codes a problem answer of `status` can carry: those `description` names in backticks
/// (of this status), and those the adapter answers itself for an operation of this `kind`.
fn problem_codes(status: u16, description: &str, kind: OperationKind) -> BTreeSet<&'static str> {
    let of_status: Vec<&'static str> =
        crate::problem::every_code().filter(|(_, s)| s.as_u16() == status).map(|(c, _)| c).collect();
    let mut codes: BTreeSet<&'static str> = description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|named| of_status.iter().copied().find(|c| *c == named))
        .collect();
    let machinery: &[&'static str] = match status {
        400 => &["validation_failed"],
        401 if kind.secured => &["unauthenticated", "api_key_suspended"],
        401 => &["unauthenticated"],
        403 => &["forbidden"],
        404 => &["not_found"],
        409 if kind.idempotent => &["idempotency_key_in_use"],
        412 => &["precondition_failed"],
        413 => &["payload_too_large"],
        415 => &["unsupported_media_type"],
        422 if kind.idempotent && kind.takes_input => &["idempotency_key_reused", "validation_failed"],
        422 if kind.idempotent => &["idempotency_key_reused"],
        422 if kind.takes_input => &["validation_failed"],
        429 => &["rate_limited"],
        500 => &["internal"],
        502 => &["crm_unavailable"],
        503 => &["crm_not_configured"],
        _ => &[],
    };
    codes.extend(machinery);
    codes
}

/// The content of a problem answer of `status` whose `code` is one of `codes`.
fn problem_content(status: u16, codes: &BTreeSet<&'static str>) -> utoipa::openapi::Content {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
    let narrowed = ObjectBuilder::new()
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes.iter().copied()))
                .description(Some("The codes this answer can carry (`docs/ERRORS.md`)")),
        )
        .property("status", ObjectBuilder::new().schema_type(Type::Integer).enum_values(Some([status])));
    let schema = AllOfBuilder::new().item(Ref::from_schema_name("Problem")).item(narrowed);
    ContentBuilder::new().schema(Some(schema)).build()
}

/// The `Idempotency-Key` header with the rule the server holds it to (`crate::idempotency`).
fn idempotency_key_parameter() -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::ParameterBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(crate::idempotency::MAX_KEY_LEN))
        .pattern(Some("^[!-~]+$"));
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(
            "Makes a retry return the first answer and change nothing twice (decision 0017): 1 to 255 visible \
             ASCII characters, remembered 24 hours per caller",
        ))
        .schema(Some(schema))
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::Method;

    use super::*;

    #[test]
    fn the_idempotency_key_states_the_rule_the_server_holds_it_to() {
        let doc = document().clone();
        let params = doc["paths"]["/api/v1/users"]["post"]["parameters"].as_array().expect("parameters").clone();
        let key = params.iter().find(|p| p["name"] == "Idempotency-Key").expect("the header");
        assert_eq!(key["in"], "header");
        let schema = &key["schema"];
        assert_eq!((schema["minLength"].as_u64(), schema["maxLength"].as_u64()), (Some(1), Some(255)), "{schema}");
        assert_eq!(schema["pattern"], "^[!-~]+$");
    }

    /// The `code` enums of every problem answer of the document, by operation and status.
    fn documented_codes(doc: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("an item") {
                for (status, response) in op["responses"].as_object().into_iter().flatten() {
                    if status.as_str() < "400" {
                        continue;
                    }
                    let schema = &response["content"][crate::problem::PROBLEM_JSON]["schema"];
                    let codes = schema["allOf"][1]["properties"]["code"]["enum"]
                        .as_array()
                        .map(|c| c.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default();
                    out.push((format!("{method} {path}"), status.clone(), codes));
                }
            }
        }
        out
    }

    #[test]
    fn every_problem_answer_names_its_codes_and_every_code_of_errors_md_is_named() {
        let doc = document().clone();
        let documented = documented_codes(&doc);
        let mut named = BTreeSet::new();
        for (op, status, codes) in &documented {
            assert!(!codes.is_empty(), "{op} {status} names no code");
            for code in codes {
                assert!(
                    crate::problem::every_code().any(|(c, s)| c == code && s.as_str() == status),
                    "{op}: `{code}` is not a code of {status}"
                );
                named.insert(code.clone());
            }
        }
        // The codes of the two tables of docs/ERRORS.md (a row starts with the code or the status).
        let errors_md = include_str!("../../../docs/ERRORS.md");
        let listed: BTreeSet<String> = errors_md
            .lines()
            .filter(|l| l.starts_with("| `") || l.starts_with("| 4") || l.starts_with("| 5"))
            .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
            .collect();
        assert!(listed.len() >= 29, "the tables were read: {listed:?}");
        // `method_not_allowed` answers a method the document does not list on a path: no
        // documented operation can answer it.
        let missing: Vec<&String> = listed.difference(&named).filter(|c| *c != "method_not_allowed").collect();
        assert!(missing.is_empty(), "codes of docs/ERRORS.md no operation names: {missing:?}");
        let unlisted: Vec<&String> = named.difference(&listed).collect();
        assert!(unlisted.is_empty(), "codes the document names that docs/ERRORS.md does not list: {unlisted:?}");
    }

    #[test]
    fn a_bulk_request_states_its_exclusive_selection_and_each_action_with_its_own_argument() {
        let doc = document().clone();
        let schema = &doc["components"]["schemas"]["BulkUsersRequest"];
        assert_eq!(schema["additionalProperties"], false);
        let rules = schema["allOf"].as_array().expect("the rules between fields");
        assert_eq!(
            rules[0]["oneOf"],
            serde_json::json!([{"required": ["user_ids"]}, {"required": ["filter"]}]),
            "exactly one selection"
        );
        let actions = rules[1]["oneOf"].as_array().expect("one alternative per argument");
        let mut named = Vec::new();
        for alternative in actions {
            let names = alternative["properties"]["action"]["enum"].as_array().expect("the actions");
            let forbidden = alternative["not"]["anyOf"].as_array().expect("the other arguments");
            let required = alternative["required"].as_array().cloned().unwrap_or_default();
            assert!(required.len() <= 1, "{alternative}");
            assert_eq!(forbidden.len() + required.len(), 8, "every argument is either required or forbidden");
            named.extend(names.iter().cloned());
        }
        let every: Vec<serde_json::Value> = crate::routes::users_bulk::BulkActionName::ALL
            .iter()
            .map(|a| serde_json::to_value(a).expect("a name"))
            .collect();
        named.sort_by_key(ToString::to_string);
        let mut every_sorted = every.clone();
        every_sorted.sort_by_key(ToString::to_string);
        assert_eq!(named, every_sorted, "each action in exactly one alternative");
    }

    #[test]
    fn every_routed_operation_is_in_the_document() {
        let doc = ApiDoc::openapi();
        let table = crate::routes::table();
        assert!(!table.routes().is_empty());
        for (method, path) in table.routes() {
            let item = doc.paths.paths.get(*path).unwrap_or_else(|| panic!("{path} is missing from the document"));
            let op = match *method {
                Method::GET => &item.get,
                Method::POST => &item.post,
                Method::PUT => &item.put,
                Method::PATCH => &item.patch,
                Method::DELETE => &item.delete,
                _ => &None,
            };
            assert!(op.is_some(), "{method} {path} is missing from the document");
        }
    }

    #[test]
    fn every_documented_operation_is_routed_and_answers_500_as_a_problem() {
        let doc = ApiDoc::openapi();
        let table = crate::routes::table();
        for (path, item) in &doc.paths.paths {
            let ops = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                assert!(
                    table.routes().iter().any(|(m, p)| *m == method && p == path),
                    "{method} {path} is documented but not routed"
                );
                assert!(op.responses.responses.contains_key("500"), "{method} {path} lacks 500");
            }
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_security_schemes() {
        let json = document().clone();
        assert!(json["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
        assert!(json["components"]["securitySchemes"]["bearer"].is_object());
        assert!(json["components"]["securitySchemes"]["session_cookie"].is_object());
        let login = &json["paths"]["/api/v1/session"]["post"]["responses"];
        for status in ["200", "400", "401", "413", "415", "422", "429", "500"] {
            assert!(login[status].is_object(), "POST /session lacks {status}");
        }
    }

    #[test]
    fn onboarding_without_a_session_needs_no_credentials_and_the_crm_routes_answer_502_and_503() {
        let json = document().clone();
        for path in ["/api/v1/invites/accept", "/api/v1/signup", "/api/v1/signup/verify"] {
            let op = &json["paths"][path]["post"];
            assert!(op.is_object(), "POST {path} is documented");
            assert!(op["security"].as_array().is_none_or(Vec::is_empty), "POST {path} needs no credentials");
            assert!(op["responses"]["401"].is_null(), "POST {path} never answers 401");
            assert!(op["responses"]["400"].is_object(), "POST {path} answers 400");
        }
        for (path, method) in
            [("/api/v1/crm/users", "get"), ("/api/v1/crm/import", "post"), ("/api/v1/crm/sync", "post")]
        {
            let responses = &json["paths"][path][method]["responses"];
            for status in ["200", "401", "403", "500", "502", "503"] {
                assert!(responses[status].is_object(), "{method} {path} lacks {status}");
            }
        }
        let invites = &json["paths"]["/api/v1/invites"]["post"]["responses"];
        for status in ["200", "201", "409", "422"] {
            assert!(invites[status].is_object(), "POST /invites lacks {status}");
        }
    }

    #[test]
    fn the_password_and_user_role_routes_state_their_rules() {
        let json = document().clone();
        let schemas = &json["components"]["schemas"];
        let shapes = schemas["SetPasswordRequest"]["oneOf"].as_array().expect("`password` or `send_reset`");
        assert_eq!(shapes.len(), 2);
        let min = roster_domain::values::Password::MIN_CHARS;
        assert_eq!(shapes[0]["properties"]["password"]["minLength"], min);
        assert_eq!(shapes[0]["required"], serde_json::json!(["password"]));
        assert_eq!(shapes[1]["properties"]["send_reset"]["enum"], serde_json::json!([true]));
        assert_eq!(shapes[1]["required"], serde_json::json!(["send_reset"]));
        assert!(shapes.iter().all(|s| s["additionalProperties"] == false), "exactly one of the two");
        for (schema, field) in [
            ("ChangeOwnPasswordRequest", "password"),
            ("ChangeOwnPasswordRequest", "current_password"),
            ("ConfirmPasswordResetBody", "password"),
            ("CreateUserRequest", "password"),
        ] {
            assert_eq!(schemas[schema]["properties"][field]["minLength"], min, "{schema}.{field}");
        }
        for (schema, required) in [
            ("ChangeOwnPasswordRequest", &["current_password", "password"][..]),
            ("PasswordResetBody", &["org", "email"]),
            ("ConfirmPasswordResetBody", &["token", "password"]),
            ("SetUserRolesRequest", &["roles"]),
            ("RoleAssignmentBody", &["role"]),
        ] {
            assert_eq!(schemas[schema]["required"], serde_json::json!(required), "{schema}");
        }
        assert_eq!(schemas["SetUserRolesRequest"]["properties"]["roles"]["minItems"], 1);
        let statuses = |path: &str, method: &str| -> Vec<String> {
            let responses = json["paths"][path][method]["responses"].as_object().expect("responses");
            responses.keys().cloned().collect()
        };
        for (path, method, expected) in [
            (
                "/api/v1/users/{id}/password",
                "put",
                &["200", "400", "401", "403", "404", "409", "413", "415", "422", "500"][..],
            ),
            ("/api/v1/me/password", "put", &["204", "400", "401", "403", "404", "413", "415", "422", "429", "500"]),
            ("/api/v1/password-reset", "post", &["202", "400", "413", "415", "422", "429", "500"]),
            ("/api/v1/password-reset/confirm", "post", &["204", "400", "413", "415", "422", "500"]),
            (
                "/api/v1/users/{id}/roles",
                "put",
                &["200", "400", "401", "403", "404", "409", "413", "415", "422", "500"],
            ),
        ] {
            assert_eq!(statuses(path, method), expected, "{method} {path}");
        }
        for path in ["/api/v1/password-reset", "/api/v1/password-reset/confirm"] {
            let op = &json["paths"][path]["post"];
            assert!(op["security"].as_array().is_none_or(Vec::is_empty), "POST {path} needs no credentials");
        }
    }

    #[test]
    fn the_users_sort_lists_every_column_both_ways_and_the_per_product_pattern() {
        let json = document().clone();
        for path in ["/api/v1/users", "/api/v1/users/export.csv"] {
            let params = json["paths"][path]["get"]["parameters"].as_array().cloned().unwrap_or_default();
            let sort = params.iter().find(|p| p["name"] == "sort").unwrap_or_else(|| panic!("{path} takes sort"));
            assert_eq!(
                (&sort["style"], &sort["explode"]),
                (&serde_json::json!("form"), &serde_json::json!(false)),
                "{sort}"
            );
            let items = &sort["schema"]["items"]["oneOf"];
            let listed: Vec<&str> =
                items[0]["enum"].as_array().expect("an enum").iter().filter_map(|v| v.as_str()).collect();
            for field in roster_domain::users_query::UserSortField::FIXED {
                let name = field.name();
                assert!(listed.contains(&name.as_str()), "{path}: `{name}` is listed");
                assert!(listed.contains(&format!("-{name}").as_str()), "{path}: `-{name}` is listed");
            }
            assert_eq!(items[1]["pattern"], "^-?product:[a-z][a-z0-9_]*$", "{path}");
        }
    }

    #[test]
    fn operations_with_an_id_in_the_path_answer_404_and_with_if_match_412() {
        let json = document().clone();
        let paths = json["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("an item") {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let responses = &op["responses"];
                if params.iter().any(|p| p["in"] == "path") {
                    assert!(responses["404"].is_object(), "{method} {path} takes an id but lacks 404");
                }
                if let Some(if_match) = params.iter().find(|p| p["in"] == "header" && p["name"] == "If-Match") {
                    assert!(responses["412"].is_object(), "{method} {path} takes If-Match but lacks 412");
                    assert_eq!(if_match["schema"]["pattern"], IF_MATCH_PATTERN, "{method} {path}");
                }
            }
        }
    }
}
