//! Extractors of our own, so that every rejected input is answered as a problem naming the
//! field: JSON bodies ([`ApiJson`]), CSV bodies ([`CsvBody`]), query strings ([`ApiQuery`]), `If-Match` ([`IfMatch`]) and
//! the client's address ([`ClientAddress`]).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::state::AppState;

/// A JSON body: `Content-Type: application/json` (else 415), at most the configured size (else
/// 413), a JSON object (not an array), syntactically valid, of the right types and without
/// unknown fields (else 400 naming the field).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| body_error(&e, state.config.body_limit))?;
        // Every write body is a JSON object; serde would read an array into a struct by
        // position (`["x"]` as `{"name": "x"}`), which no client means.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::bad_request("body", "invalid_type", "the body must be a JSON object"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// A CSV body: `Content-Type: text/csv` with no charset or `charset=utf-8` (else 415), at most
/// the configured size (else 413). Its bytes are not read here: the domain's CSV reader names
/// the lines it cannot read.
#[derive(Debug, Clone, Default)]
pub struct CsvBody(pub Bytes);

impl FromRequest<AppState> for CsvBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_utf8_csv(req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
            return Err(ApiError::unsupported_media_type_expecting("text/csv; charset=utf-8"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| body_error(&e, state.config.body_limit))?;
        Ok(Self(bytes))
    }
}

fn is_utf8_csv(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mut parts = ct.split(';');
    if !parts.next().unwrap_or("").trim().eq_ignore_ascii_case("text/csv") {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            matches!(value.trim().trim_matches('"').to_ascii_lowercase().as_str(), "utf-8" | "utf8")
        }
        _ => true,
    })
}

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_error(e: &BytesRejection, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(limit)
    } else {
        ApiError::bad_request("body", "unreadable", e.body_text())
    }
}

/// Deserializes a JSON body, naming the offending field in the problem.
///
/// # Errors
/// A 400 problem: `malformed_json`, `unknown_field`, `missing_field` or `invalid_type`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })?;
    de.end().map_err(|e| json_error(".", &e))?;
    Ok(value)
}

fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = e.to_string();
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request("body", "malformed_json", message),
        Category::Data => {
            let (code, named) = if let Some(name) = quoted_after(&message, "unknown field `") {
                ("unknown_field", Some(name))
            } else if let Some(name) = quoted_after(&message, "missing field `") {
                ("required", Some(name))
            } else {
                ("invalid_type", None)
            };
            ApiError::bad_request(field_path(path, named), code, message)
        }
    }
}

/// The text between `prefix` and the next backquote, if `message` starts with `prefix`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix).and_then(|rest| rest.split('`').next())
}

/// The field a deserialization error is about: the path serde reached, completed by the field
/// named in the message when the path stops at its parent (`.` is the top level).
fn field_path(path: &str, named: Option<&str>) -> String {
    match (path, named) {
        ("." | "", Some(name)) => name.to_owned(),
        ("." | "", None) => "body".to_owned(),
        (path, Some(name)) if path != name && !path.ends_with(&format!(".{name}")) => format!("{path}.{name}"),
        (path, _) => path.to_owned(),
    }
}

/// A query string of known parameters; a bad or unknown one is a 400 problem naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        query_from_str(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Reads a query string (without the `?`) as [`ApiQuery`] does.
///
/// # Errors
/// A 400 problem naming the bad or unknown parameter.
pub fn query_from_str<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    // No parameter of ours means a NUL character, and PostgreSQL refuses one in text (an
    // internal error, found by `tests/api/openapi_conformance.rs`): a bad parameter.
    if let Some((name, _)) =
        form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::bad_request(
            name.replace('\0', ""),
            "invalid_parameter",
            "a parameter must not contain a NUL character",
        ));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let named = quoted_after(&message, "unknown field `").or_else(|| quoted_after(&message, "missing field `"));
        ApiError::bad_request(field_path(&path, named), "invalid_parameter", message)
    })
}

/// The version an `If-Match` header names (`"7"`, `W/"7"`), or `None` without the header or
/// with `*`. A header that names no version of ours can never match: 412 — but only once the
/// rest of the request has been read, so that a request whose body breaks the document is
/// refused for its shape (400/422) before its preconditions are looked at. The extractor never
/// fails; the handler asks for [`IfMatch::version`] after its body extractor ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(Option<Result<u64, ()>>);

impl IfMatch {
    /// The version the request expects, `None` when it sets no condition.
    ///
    /// # Errors
    /// 412 `precondition_failed` for a header that names no version.
    pub fn version(self) -> Result<Option<u64>, ApiError> {
        self.0.transpose().map_err(|()| {
            ApiError::from(roster_domain::ServiceError::PreconditionFailed { kind: "resource", current: 0 })
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else { return Ok(Self(None)) };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(Self(None));
        }
        Ok(Self(Some(parse_etag(text).ok_or(()))))
    }
}

/// The `ETag` of a resource at `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

fn parse_etag(text: &str) -> Option<u64> {
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The client's IP address, for throttling logins and sign-ups by source and for the audit log:
/// the TCP peer, or the client a trusted proxy forwarded for (`crate::client_address`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(Self("unknown".to_owned()));
        };
        let forwarded: Vec<&str> =
            parts.headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).collect();
        Ok(Self(state.config.trusted_proxies.client(peer.ip(), &forwarded).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "read by serde only")]
    struct Body {
        email: String,
        products: Vec<String>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"email": "a@b.c", "products": [1]}"#).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e = parse_json::<Body>(br#"{"email": "a@b.c", "products": [], "admin": true}"#).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e = parse_json::<Body>(br#"{"email": "#).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(field_path(".", Some("admin")), "admin");
        assert_eq!(field_path("admin", Some("admin")), "admin");
        assert_eq!(field_path("invites[0]", Some("admin")), "invites[0].admin");
        assert_eq!(field_path("products[0]", None), "products[0]");
        assert!(parse_json::<Body>(br#"{"email": "a@b.c", "products": []}"#).is_ok());
    }

    #[tokio::test]
    async fn a_nul_character_in_a_query_parameter_is_a_bad_request_naming_it() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "read by serde only")]
        struct Params {
            q: Option<String>,
        }
        let request = axum::http::Request::get("/users?q=a%00b").body(()).expect("a request");
        let (mut parts, ()) = request.into_parts();
        let e = ApiQuery::<Params>::from_request_parts(&mut parts, &()).await.expect_err("refused");
        assert_eq!((e.status(), e.code()), (StatusCode::BAD_REQUEST, "validation_failed"));
        let request = axum::http::Request::get("/users?q=a%20b").body(()).expect("a request");
        let (mut parts, ()) = request.into_parts();
        let ApiQuery(params) = ApiQuery::<Params>::from_request_parts(&mut parts, &()).await.expect("read");
        assert_eq!(params.q.as_deref(), Some("a b"));
    }

    #[test]
    fn etags_round_trip_and_weak_tags_match() {
        assert_eq!(parse_etag(&etag(7)), Some(7));
        assert_eq!(parse_etag("W/\"7\""), Some(7));
        assert_eq!(parse_etag("7"), None);
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}
