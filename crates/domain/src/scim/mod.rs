//! SCIM 2.0 (RFC 7643, RFC 7644; §13) as pure rules: the filter language ([`filter`]), the
//! resources' schemas ([`schema`]), a filter's meaning over a resource ([`eval`]), the
//! mapping of members onto SCIM Users ([`users`]) and back ([`user_input`]), of teams onto SCIM
//! Groups and back ([`groups`]), and PATCH over a
//! resource with the errors of a refused write ([`patch`]). The SCIM face parses requests with these and
//! calls `Services`; nothing here does I/O.

pub mod eval;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod project;
pub mod schema;
pub mod user_input;
pub mod users;
