//! Roster's HTTP face: the axum routers for the REST API (`/api/v1`), SCIM 2.0 (`/scim/v2`) and the
//! server-rendered web console, the OpenAPI document, and the authentication middleware.
//!
//! Handlers take their own request types, convert them into the domain's, and answer every error
//! in one format; no domain rule lives here. It depends on `roster-domain` and nothing depends on
//! it but `roster-app`.
//!
//! Issue 4 (REST API) builds it; until then it is deliberately empty.
