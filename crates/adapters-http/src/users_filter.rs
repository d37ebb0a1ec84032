//! The Users-table filter on the wire: [`UsersFilter`], the one shape every face that filters
//! the Users table reads — the query string of `GET /users` and `GET /users/export.csv`, the
//! `filter` object of `POST /users/bulk` and of a saved view — and its one parser,
//! [`UsersFilter::to_query`], into the domain's [`UserQuery`]. The sort is not a filter (a bulk
//! action has none); [`parse_sort`] reads it where an endpoint takes one.
//!
//! A query string that holds the filter beside an endpoint's own parameters is read by
//! [`FilteredQuery`]. What the domain checks (the length of `q`, a role named by key) the
//! services check in the use case's transaction.

use std::collections::BTreeSet;
use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use roster_domain::ids::{GroupId, OrgId};
use roster_domain::roles::RoleRef;
use roster_domain::user::StatusKind;
use roster_domain::users_query::{RoleFilter, UserQuery, UserSort, UserSortField, unknown_role};
use roster_domain::values::Key;
use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::query_from_str;
use crate::problem::{ApiError, ApiResult};
use crate::wire::{ok, parse_time};

/// The statuses of the Users table (SPEC §3.1), in the words the filter takes.
const STATUSES: [&str; 6] = ["active", "pending", "invited", "inactive", "revoked", "deactivated"];

/// The Users-table filter: each field present narrows the users; none present is every live
/// user of the caller's organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersFilter {
    /// Derived statuses, comma-separated (`active,pending`); a JSON body may also send a
    /// list. Any of `active`, `pending`, `invited`, `inactive`, `revoked`, `deactivated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, pattern = "^(active|pending|invited|inactive|revoked|deactivated)(,(active|pending|invited|inactive|revoked|deactivated))*$")]
    #[schema(schema_with = status_schema)]
    pub status: Option<StatusList>,
    /// A role key (`admin`) or role id: users holding it, with any scope. An unknown role
    /// answers 422 `unknown_role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A group id: its current members; for a deleted group, its members when it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Uuid>,
    /// A product key the users hold, or `-key` for users who do not hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = "^-?[a-z][a-z0-9_]{0,63}$")]
    #[schema(pattern = "^-?[a-z][a-z0-9_]{0,63}$")]
    pub product: Option<String>,
    /// Text searched, case-insensitively, in names, email, nicknames, agent id, CRM id and
    /// phone; at most 256 characters (longer answers 422 `too_long` on `q`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(max_length = 256)]
    #[schema(max_length = 256)]
    pub q: Option<String>,
    /// Created at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(format = DateTime)]
    #[schema(format = DateTime)]
    pub created_from: Option<String>,
    /// Created before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(format = DateTime)]
    #[schema(format = DateTime)]
    pub created_to: Option<String>,
}

/// The parameter names of [`UsersFilter`] in a query string.
pub const FILTER_PARAMS: [&str; 7] = ["status", "role", "group", "product", "q", "created_from", "created_to"];

impl UsersFilter {
    /// Whether no filter is given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The domain's Users-table query of `org` with this filter (default sort, no paging).
    ///
    /// A role that is a UUID is taken as a role id; any other text as a role key, resolved by
    /// the service in its transaction (text that cannot be a key names no role: 422
    /// `unknown_role` here). A blank `q` is no search.
    ///
    /// # Errors
    /// 400 `validation_failed` naming `status`, `product`, `created_from` or `created_to`;
    /// 422 for a role that cannot exist.
    pub fn to_query(&self, org: OrgId) -> ApiResult<UserQuery> {
        let mut query = UserQuery::new(org);
        query.statuses = parse_statuses(self.status.as_ref())?;
        query.q = self.q.clone().filter(|q| !q.trim().is_empty());
        query.group = self.group.map(GroupId::from_uuid);
        query.product = self.product.as_deref().map(parse_product).transpose()?;
        query.created_from = self.created_from.as_deref().map(|t| parse_time("created_from", t)).transpose()?;
        query.created_to = self.created_to.as_deref().map(|t| parse_time("created_to", t)).transpose()?;
        query.role = self.role.as_deref().map(parse_role).transpose()?;
        Ok(query)
    }

    /// The filter as parameter → text, each present field once (a saved view keeps it so).
    pub fn to_map(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("status", self.status.as_ref().map(StatusList::to_text)),
            ("role", self.role.clone()),
            ("group", self.group.map(|g| g.to_string())),
            ("product", self.product.clone()),
            ("q", self.q.clone()),
            ("created_from", self.created_from.clone()),
            ("created_to", self.created_to.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
    }

    /// The filter kept by [`UsersFilter::to_map`]. Unknown parameters, and a group that is not
    /// an id, are left out (a saved filter was checked when it was saved).
    pub fn from_map(map: &std::collections::BTreeMap<String, String>) -> Self {
        let get = |k: &str| map.get(k).cloned();
        Self {
            status: get("status").map(|s| StatusList(vec![s])),
            role: get("role"),
            group: map.get("group").and_then(|g| g.parse().ok()),
            product: get("product"),
            q: get("q"),
            created_from: get("created_from"),
            created_to: get("created_to"),
        }
    }
}

/// Derived statuses as sent: comma-separated text, or a list of texts (each may hold commas
/// too). Written back as one comma-separated text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusList(Vec<String>);

impl StatusList {
    fn to_text(&self) -> String {
        self.0.join(",")
    }

    /// The statuses named, each trimmed, blanks skipped.
    fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty())
    }
}

impl Serialize for StatusList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Texts;
        impl<'de> Visitor<'de> for Texts {
            type Value = StatusList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("statuses as comma-separated text or a list of texts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(StatusList(items))
            }
        }
        deserializer.deserialize_any(Texts)
    }
}

/// The schema of [`StatusList`] in a JSON body: text, or a list of statuses.
fn status_schema() -> impl Into<RefOr<Schema>> {
    let status = || ObjectBuilder::new().schema_type(Type::String).enum_values(Some(STATUSES)).build();
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(status_list_pattern()))
                .description(Some("Comma-separated statuses, e.g. `active,pending`")),
        )
        .item(ArrayBuilder::new().items(status()))
        .item(ObjectBuilder::new().schema_type(Type::Null))
}

/// A comma-separated list of [`STATUSES`].
fn status_list_pattern() -> String {
    let one = STATUSES.join("|");
    format!("^({one})(,({one}))*$")
}

/// Reads the statuses of the filter.
fn parse_statuses(list: Option<&StatusList>) -> ApiResult<BTreeSet<StatusKind>> {
    let Some(list) = list else { return Ok(BTreeSet::new()) };
    list.names()
        .map(|s| {
            serde_json::from_value(serde_json::Value::String(s.to_owned()))
                .map_err(|_| ApiError::bad_request("status", "invalid_parameter", format!("unknown status `{s}`")))
        })
        .collect()
}

/// `key` (held) or `-key` (not held).
fn parse_product(text: &str) -> ApiResult<(Key, bool)> {
    let (held, name) = text.strip_prefix('-').map_or((true, text), |n| (false, n));
    let key = Key::parse(name).map_err(|e| ApiError::bad_request("product", e.code(), e.to_string()))?;
    Ok((key, held))
}

/// A role id, or a role key for the service to resolve.
fn parse_role(text: &str) -> ApiResult<RoleFilter> {
    let role = RoleRef::parse(text).map_err(|_| unknown_role(text));
    Ok(RoleFilter::from(ok(role)?))
}

/// `field,-field2` over the Users table's columns ([`UserSortField::parse`]: `last_name`,
/// `status`, `products`, `product:dialer`, …); `id` (the tie-breaker anyway) is skipped. No
/// sort is the default order.
///
/// # Errors
/// 400 `validation_failed` on `sort`: an unknown field, or one sorted by twice.
pub fn parse_sort(text: Option<&str>) -> ApiResult<Vec<UserSort>> {
    let Some(text) = text else { return Ok(Vec::new()) };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (descending, name) = part.strip_prefix('-').map_or((false, part), |n| (true, n));
        if name == "id" {
            continue;
        }
        let field = UserSortField::parse(name)
            .ok_or_else(|| ApiError::bad_request("sort", "invalid_parameter", format!("cannot sort by `{name}`")))?;
        if !seen.insert(name.to_owned()) {
            return Err(ApiError::bad_request("sort", "invalid_parameter", format!("`{name}` is sorted by twice")));
        }
        out.push(UserSort { field, descending });
    }
    Ok(out)
}

/// The names `sort` takes with a fixed name, each also with a leading `-` (descending), and
/// `id`.
pub fn sort_names() -> Vec<String> {
    let mut names: Vec<String> = UserSortField::FIXED.iter().map(UserSortField::name).collect();
    names.push("id".to_owned());
    names.iter().flat_map(|n| [n.clone(), format!("-{n}")]).collect()
}

/// The OpenAPI schema of a `sort` parameter (`#[param(value_type = Option<SortKeys>, inline)]`):
/// a comma-separated list (`style: form, explode: false`) of column names, each ascending or,
/// with a leading `-`, descending — a fixed name, or a per-product column `product:<key>`.
/// Only the document uses it; the parameter is read as text by [`parse_sort`].
#[derive(Debug, Clone, Copy)]
pub struct SortKeys;

impl utoipa::PartialSchema for SortKeys {
    fn schema() -> RefOr<Schema> {
        let fixed = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(sort_names()));
        let product = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^-?{}[a-z][a-z0-9_]*$", roster_domain::users_query::PRODUCT_SORT_PREFIX)))
            .description(Some("whether the user holds the product: `product:dialer`, `-product:dialer`"));
        ArrayBuilder::new().items(OneOfBuilder::new().item(fixed).item(product)).into()
    }
}

impl ToSchema for SortKeys {}

/// A query string holding the Users-table filter beside an endpoint's own parameters `P`: the
/// filter's parameters ([`FILTER_PARAMS`]) are read as [`UsersFilter`], the others as `P`.
/// Each part refuses what it does not know, as [`crate::extract::ApiQuery`] does, so an
/// unknown parameter is still a 400 naming it.
#[derive(Debug, Clone, Default)]
pub struct FilteredQuery<P> {
    pub filter: UsersFilter,
    pub params: P,
}

impl<S: Send + Sync, P: DeserializeOwned> FromRequestParts<S> for FilteredQuery<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let mut filter = form_urlencoded::Serializer::new(String::new());
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let part = if FILTER_PARAMS.contains(&name.as_ref()) { &mut filter } else { &mut rest };
            part.append_pair(&name, &value);
        }
        let filter = query_from_str(&filter.finish())?;
        let params = query_from_str(&rest.finish())?;
        Ok(Self { filter, params })
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::ids::RoleId;
    use roster_domain::users_query::MAX_SEARCH_CHARS;
    use serde_json::json;

    use super::*;

    fn org() -> OrgId {
        OrgId::from_uuid(Uuid::nil())
    }

    #[test]
    fn the_query_string_and_the_json_body_read_into_the_same_query() {
        let from_query: UsersFilter =
            query_from_str("status=active,pending&role=standard&product=-sms&q=ada&created_from=2026-01-01T00:00:00Z")
                .unwrap();
        let from_json: UsersFilter = serde_json::from_value(json!({
            "status": ["active", "pending"], "role": "standard", "product": "-sms", "q": "ada",
            "created_from": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        let (a, b) = (from_query.to_query(org()).unwrap(), from_json.to_query(org()).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.statuses, BTreeSet::from([StatusKind::Active, StatusKind::Pending]));
        assert_eq!(a.role, Some(RoleFilter::Key(Key::parse("standard").unwrap())));
        assert_eq!(a.product, Some((Key::parse("sms").unwrap(), false)));
    }

    #[test]
    fn a_role_id_is_an_id_and_text_that_cannot_be_a_key_is_an_unknown_role() {
        let id = Uuid::from_u128(7);
        let filter = UsersFilter { role: Some(id.to_string()), ..UsersFilter::default() };
        assert_eq!(filter.to_query(org()).unwrap().role, Some(RoleFilter::Id(RoleId::from_uuid(id))));
        let filter = UsersFilter { role: Some("Admin".into()), ..UsersFilter::default() };
        let e = filter.to_query(org()).unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (422, "validation_failed"));
    }

    #[test]
    fn a_saved_filter_comes_back_as_it_was_sent() {
        let filter: UsersFilter =
            serde_json::from_value(json!({"status": "active,pending", "group": Uuid::from_u128(3), "q": "x"})).unwrap();
        assert_eq!(UsersFilter::from_map(&filter.to_map()), filter);
        assert_eq!(serde_json::to_value(&filter).unwrap()["status"], "active,pending");
    }

    #[test]
    fn a_blank_search_is_no_search_and_the_limit_is_the_domains() {
        let filter = UsersFilter { q: Some("   ".into()), ..UsersFilter::default() };
        assert_eq!(filter.to_query(org()).unwrap().q, None);
        assert_eq!(MAX_SEARCH_CHARS, 256, "the OpenAPI document states 256");
    }
}
