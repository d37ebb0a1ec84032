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

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::auth::SESSION_COOKIE;
use crate::problem::{Problem, ProblemField};
use crate::routes::{
    api_keys, audit, connections, crm, flows, groups, impersonation, invites, jobs, org, passwords, roles, saved_views,
    scheduled, service, session, signup, users, users_bulk, users_export,
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
    ),
    components(
        schemas(Problem, ProblemField, UserBody, UserSummary, UserList, RoleGrantBody, LicenseChangeBody, ScheduledChangeBody,
            audit::AuditEventBody, audit::AuditList),
        responses(Problem),
    ),
    modifiers(&SecuritySchemes, &CommonProblems),
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
    )
)]
pub struct ApiDoc;

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
        for item in doc.paths.paths.values_mut() {
            let ops = [
                (false, &mut item.get),
                (true, &mut item.post),
                (false, &mut item.put),
                (false, &mut item.patch),
                (false, &mut item.delete),
            ];
            for (is_post, op) in ops {
                let Some(op) = op else { continue };
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
            }
        }
    }
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
    use axum::http::Method;

    use super::*;

    #[test]
    fn the_idempotency_key_states_the_rule_the_server_holds_it_to() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
        let params = doc["paths"]["/api/v1/users"]["post"]["parameters"].as_array().expect("parameters").clone();
        let key = params.iter().find(|p| p["name"] == "Idempotency-Key").expect("the header");
        assert_eq!(key["in"], "header");
        let schema = &key["schema"];
        assert_eq!((schema["minLength"].as_u64(), schema["maxLength"].as_u64()), (Some(1), Some(255)), "{schema}");
        assert_eq!(schema["pattern"], "^[!-~]+$");
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
        let json = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
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
        let json = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
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
        let json = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
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
        let json = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
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
        let json = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
        let paths = json["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("an item") {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let responses = &op["responses"];
                if params.iter().any(|p| p["in"] == "path") {
                    assert!(responses["404"].is_object(), "{method} {path} takes an id but lacks 404");
                }
                if params.iter().any(|p| p["in"] == "header" && p["name"] == "If-Match") {
                    assert!(responses["412"].is_object(), "{method} {path} takes If-Match but lacks 412");
                }
            }
        }
    }
}
