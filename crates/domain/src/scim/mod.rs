//! SCIM 2.0 (RFC 7643, RFC 7644; §13) as pure rules: the filter language ([`filter`]), the
//! resources' schemas ([`schema`]), a filter's meaning over a resource ([`eval`]) and the
//! mapping of members onto SCIM Users ([`users`]). The SCIM face parses requests with these and
//! calls `Services`; nothing here does I/O.

pub mod eval;
pub mod filter;
pub mod project;
pub mod schema;
pub mod users;
