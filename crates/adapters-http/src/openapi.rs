//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the handlers' `#[utoipa::path]`
//! annotations. Two modifiers complete it: the security schemes, and the problems every
//! operation of a kind can answer (so no handler has to repeat them):
//! - every operation: 500 `internal`;
//! - with a security requirement: 401 `unauthenticated`, and 403 (`forbidden`: a
//!   cookie-authenticated write without `X-Requested-With`, or a missing permission);
//! - with a request body: 400 (malformed JSON, wrong type, unknown field), 413, 415;
//! - with query parameters: 400 (a bad parameter or cursor).

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::auth::SESSION_COOKIE;
use crate::problem::{Problem, ProblemField};
use crate::routes::{service, session, users};
use crate::wire::{LicenseChangeBody, RoleGrantBody, UserBody, UserList, UserSummary};

/// The API's document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Roster API", description = "Users, licenses, roles, groups and visibility (SPEC §10)."),
    paths(
        service::healthz, service::readyz, service::openapi_json,
        session::login, session::logout, session::login_alias, session::logout_alias, session::me,
        users::list_users, users::get_user, users::create_user, users::update_user, users::set_licenses,
        users::delete_user, users::deactivate_user, users::reactivate_user,
    ),
    components(
        schemas(Problem, ProblemField, UserBody, UserSummary, UserList, RoleGrantBody, LicenseChangeBody),
        responses(Problem),
    ),
    modifiers(&SecuritySchemes, &CommonProblems),
    tags(
        (name = "session", description = "Logging in and out"),
        (name = "users", description = "The Users table and one user"),
        (name = "service", description = "Health and this document"),
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
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
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

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

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
}
