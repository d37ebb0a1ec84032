//! Roster's members as SCIM Users (§13): [`user_resource`] is the resource a member is, and
//! [`user_filter`] turns a SCIM filter over Users into the [`UserFilter`] a store runs as SQL.
//!
//! The mapping: `userName` is the email; `name.givenName`/`familyName` the names; `emails` is
//! one value, the email, `type` `work`, `primary`; `phoneNumbers` one value, the phone, the
//! same way, or none; `active` is "not deactivated"; `meta.created`/`lastModified` the times;
//! `meta.version` the ETag of the member's version; `externalId`, `title` and the enterprise
//! extension's attributes are the member's [`crate::user::DirectoryAttributes`].
//!
//! Filterable: `id` and `externalId` (by `eq`, `ne` and `pr`, case-exact), `userName`, `name.givenName`, `name.familyName`, `emails` (and `.value`,
//! `.type`, `.primary`, `.display`, `emails[…]`), `phoneNumbers` (likewise), `active`,
//! `meta.created`, `meta.lastModified`. Another attribute of the schema is `invalidFilter`
//! saying it cannot be filtered on — never an unfiltered answer.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::eval::{FilterError, check, resolve};
use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::schema::{AttrDef, ENTERPRISE_USER_SCHEMA, ResourceSchema, USER_SCHEMA, USERS};
use crate::user::User;
use crate::user_filter::{TextOp, TimeOp, UserFilter, UserTextField, UserTimeField};
use crate::users_query::UserSortField;

/// The `type` of the one email and the one phone number of a member.
pub const VALUE_TYPE: &str = "work";

/// An ETag for a version: a weak validator, as SCIM's examples write it.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The member as a SCIM User, without `meta.location` (the face adds it; it knows its URL).
pub fn user_resource(user: &User) -> Value {
    let mut resource = json!({
        "schemas": [USER_SCHEMA],
        "id": user.id.to_string(),
        "userName": user.email.as_str(),
        "name": {
            "givenName": user.first_name.as_str(),
            "familyName": user.last_name.as_str(),
            "formatted": user.display_name(),
        },
        "displayName": user.display_name(),
        "emails": [{"value": user.email.as_str(), "type": VALUE_TYPE, "primary": true}],
        "active": user.lifecycle.deactivated_at.is_none(),
        "meta": {
            "resourceType": "User",
            "created": rfc3339(user.created_at),
            "lastModified": rfc3339(user.updated_at),
            "version": etag(user.version),
        },
    });
    if let Some(phone) = &user.phone {
        resource["phoneNumbers"] = json!([{"value": phone.as_str(), "type": VALUE_TYPE, "primary": true}]);
    }
    if let Some(nick) = user.nicknames.into_iter().next() {
        resource["nickName"] = json!(nick.as_str());
    }
    let d = &user.directory;
    if let Some(v) = &d.external_id {
        resource["externalId"] = json!(v.as_str());
    }
    if let Some(v) = &d.title {
        resource["title"] = json!(v.as_str());
    }
    let mut enterprise = serde_json::Map::new();
    for (name, value) in [
        ("employeeNumber", &d.employee_number),
        ("costCenter", &d.cost_center),
        ("organization", &d.organization),
        ("division", &d.division),
        ("department", &d.department),
    ] {
        if let Some(v) = value {
            enterprise.insert(name.to_owned(), json!(v.as_str()));
        }
    }
    if let Some(m) = &d.manager {
        enterprise.insert("manager".to_owned(), json!({"value": m.as_str()}));
    }
    if !enterprise.is_empty() {
        resource["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
        resource[ENTERPRISE_USER_SCHEMA] = Value::Object(enterprise);
    }
    resource
}

/// Where a path's values come from in a member.
enum Source {
    /// A text column (for a multi-valued attribute, its one value's `value`).
    Text(UserTextField),
    /// A value the mapping fixes (`type` `work`, `primary` true, no `display`), held by every
    /// value of the attribute, which exists when `exists` holds.
    Fixed { value: Option<Value>, exists: UserFilter },
    /// `active`.
    Active,
    /// `id`.
    Id,
    /// `externalId`, case-exact.
    ExternalId,
    /// A time column.
    Time(UserTimeField),
}

/// The multi-valued attributes a member has one value of, and when that value exists.
fn element_exists(attr: &str) -> Option<(UserTextField, UserFilter)> {
    match attr {
        "emails" => Some((UserTextField::Email, UserFilter::Const(true))),
        "phoneNumbers" => Some((UserTextField::Phone, UserFilter::Present(UserTextField::Phone))),
        _ => None,
    }
}

fn element_source(attr: &str, sub: &str) -> Option<Source> {
    let (column, exists) = element_exists(attr)?;
    Some(match sub {
        "value" => Source::Text(column),
        "type" => Source::Fixed { value: Some(json!(VALUE_TYPE)), exists },
        "primary" => Source::Fixed { value: Some(json!(true)), exists },
        _ => Source::Fixed { value: None, exists },
    })
}

fn not_filterable(path: &AttrPath) -> FilterError {
    FilterError::new(format!("`{path}` cannot be filtered on"))
}

/// The source of a path at the top of a filter.
fn source(path: &AttrPath, attr: &'static AttrDef, sub: Option<&'static AttrDef>) -> Result<Source, FilterError> {
    Ok(match (attr.name, sub.map(|s| s.name)) {
        ("id", None) => Source::Id,
        ("externalId", None) => Source::ExternalId,
        ("userName", None) => Source::Text(UserTextField::Email),
        ("name", Some("givenName")) => Source::Text(UserTextField::FirstName),
        ("name", Some("familyName")) => Source::Text(UserTextField::LastName),
        ("active", None) => Source::Active,
        ("meta", Some("created")) => Source::Time(UserTimeField::CreatedAt),
        ("meta", Some("lastModified")) => Source::Time(UserTimeField::UpdatedAt),
        (multi @ ("emails" | "phoneNumbers"), sub) => {
            element_source(multi, sub.unwrap_or("value")).ok_or_else(|| not_filterable(path))?
        }
        _ => return Err(not_filterable(path)),
    })
}

fn present(source: &Source) -> UserFilter {
    match source {
        Source::Text(field) => UserFilter::Present(*field),
        Source::Fixed { value, exists } => {
            UserFilter::and(exists.clone(), UserFilter::Const(value.as_ref().is_some_and(|v| !v.is_null())))
        }
        Source::Active | Source::Id | Source::Time(_) => UserFilter::Const(true),
        Source::ExternalId => UserFilter::HasExternalId,
    }
}

fn fixed_compare(have: &Value, op: CompareOp, want: &CompValue) -> bool {
    match (have, want) {
        (Value::String(h), CompValue::String(w)) => {
            let (h, w) = (h.to_lowercase(), w.to_lowercase());
            match op {
                CompareOp::Eq => h == w,
                CompareOp::Co => h.contains(&w),
                CompareOp::Sw => h.starts_with(&w),
                CompareOp::Ew => h.ends_with(&w),
                _ => super::eval::ordered(op, h.as_str().cmp(w.as_str())),
            }
        }
        (Value::Bool(h), CompValue::Bool(w)) => op == CompareOp::Eq && h == w,
        _ => false,
    }
}

/// `source op value` for an operator other than `ne` and a value other than `null`.
fn positive(source: &Source, op: CompareOp, value: &CompValue) -> UserFilter {
    match (source, value) {
        (Source::Text(field), CompValue::String(v)) => {
            let op = match op {
                CompareOp::Eq | CompareOp::Ne => TextOp::Eq,
                CompareOp::Co => TextOp::Contains,
                CompareOp::Sw => TextOp::StartsWith,
                CompareOp::Ew => TextOp::EndsWith,
                CompareOp::Gt => TextOp::Gt,
                CompareOp::Ge => TextOp::Ge,
                CompareOp::Lt => TextOp::Lt,
                CompareOp::Le => TextOp::Le,
            };
            UserFilter::Text { field: *field, op, value: v.to_lowercase() }
        }
        (Source::Fixed { value: Some(have), exists }, want) => {
            UserFilter::and(exists.clone(), UserFilter::Const(fixed_compare(have, op, want)))
        }
        (Source::Active, CompValue::Bool(b)) => UserFilter::Active(*b),
        (Source::Id, CompValue::String(v)) => {
            // `id` is case-exact: only the id's own spelling matches.
            match uuid::Uuid::parse_str(v) {
                Ok(id) if id.to_string() == *v => UserFilter::Id(crate::ids::UserId::from_uuid(id)),
                _ => UserFilter::Const(false),
            }
        }
        (Source::ExternalId, CompValue::String(v)) => UserFilter::ExternalId(v.clone()),
        (Source::Time(field), CompValue::String(v)) => match OffsetDateTime::parse(v, &Rfc3339) {
            Ok(at) => {
                // A member's times are whole microseconds (the store's contract), so an instant
                // between two of them compares as the microsecond on its side: no store then
                // rounds the value its own way.
                let floor = at.replace_nanosecond(at.nanosecond() / 1000 * 1000).unwrap_or(at);
                let ceil = if floor == at { at } else { floor + time::Duration::microseconds(1) };
                let (op, at) = match op {
                    CompareOp::Gt if floor == at => (TimeOp::Gt, at),
                    CompareOp::Gt | CompareOp::Ge => (TimeOp::Ge, ceil),
                    CompareOp::Lt if floor == at => (TimeOp::Lt, at),
                    CompareOp::Lt | CompareOp::Le => (TimeOp::Le, floor),
                    _ if floor != at => return UserFilter::Const(false),
                    _ => (TimeOp::Eq, at),
                };
                UserFilter::Time { field: *field, op, at }
            }
            Err(_) => UserFilter::Const(false),
        },
        _ => UserFilter::Const(false),
    }
}

fn comparison(source: &Source, op: CompareOp, value: &CompValue) -> UserFilter {
    match (op, value) {
        (CompareOp::Eq, CompValue::Null) => UserFilter::negate(present(source)),
        (CompareOp::Ne, CompValue::Null) => present(source),
        (CompareOp::Ne, _) => UserFilter::negate(positive(source, CompareOp::Eq, value)),
        _ => positive(source, op, value),
    }
}

/// The typed user query a SCIM filter over Users means.
///
/// # Errors
/// `invalidFilter`: what [`check`] refuses, an attribute that cannot be filtered on (see the
/// module's documentation), `id` compared otherwise than by `eq` or `ne`, or a value holding
/// U+0000.
pub fn user_filter(filter: &Filter) -> Result<UserFilter, FilterError> {
    check(filter, &USERS)?;
    let translated = translate(filter, None)?;
    if translated.check() {
        Ok(translated)
    } else {
        Err(FilterError::new("a filter value cannot hold the character U+0000"))
    }
}

fn translate(filter: &Filter, within: Option<&'static AttrDef>) -> Result<UserFilter, FilterError> {
    let source_of = |path: &AttrPath| -> Result<Source, FilterError> {
        let r = resolve(&USERS, within, path)?;
        match within {
            None => source(path, r.attr, r.sub),
            Some(attr) => {
                element_source(attr.name, r.sub.map_or("value", |s| s.name)).ok_or_else(|| not_filterable(path))
            }
        }
    };
    Ok(match filter {
        Filter::Present(path) => present(&source_of(path)?),
        Filter::Compare(path, op, value) => {
            let source = source_of(path)?;
            if matches!(source, Source::Id | Source::ExternalId) && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(FilterError::new(format!("`{path}` is compared by eq and ne only")));
            }
            comparison(&source, *op, value)
        }
        Filter::ValuePath(path, inner) => {
            let r = resolve(&USERS, within, path)?;
            let Some((_, exists)) = element_exists(r.attr.name).filter(|_| r.sub.is_none()) else {
                return Err(not_filterable(path));
            };
            UserFilter::and(exists, translate(inner, Some(r.attr))?)
        }
        Filter::Not(inner) => UserFilter::negate(translate(inner, within)?),
        Filter::And(l, r) => UserFilter::and(translate(l, within)?, translate(r, within)?),
        Filter::Or(l, r) => UserFilter::or(translate(l, within)?, translate(r, within)?),
    })
}

/// The Users schema, for callers naming it.
pub const SCHEMA: &ResourceSchema = &USERS;

/// The column a `sortBy` path sorts by: `userName`, `name.givenName`, `name.familyName`,
/// `emails` (`.value`), `phoneNumbers` (`.value`), `meta.created`, `meta.lastModified`;
/// `None` for another path.
pub fn user_sort(path: &AttrPath) -> Option<UserSortField> {
    let r = USERS.resolve(path)?;
    Some(match (r.attr.name, r.sub.map(|s| s.name)) {
        ("userName" | "emails", None | Some("value")) => UserSortField::Email,
        ("name", Some("givenName")) => UserSortField::FirstName,
        ("name", Some("familyName")) => UserSortField::LastName,
        ("phoneNumbers", None | Some("value")) => UserSortField::Phone,
        ("meta", Some("created")) => UserSortField::CreatedAt,
        ("meta", Some("lastModified")) => UserSortField::UpdatedAt,
        _ => return None,
    })
}
