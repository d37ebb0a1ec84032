//! A filter checked against a schema ([`check`]) and evaluated over a resource's JSON
//! ([`matches`]) as RFC 7644 §3.4.2.2 defines it: the in-memory meaning of a filter, which the
//! typed user query of [`super::users`] must answer alike (a property test compares them).
//!
//! Semantics where the RFC leaves a choice, kept by every evaluator of Roster's:
//! - A comparison over a multi-valued attribute holds when it holds for some value; `ne` is the
//!   negation of `eq` (an absent attribute is `ne` anything).
//! - `eq null` is "not present", `ne null` "present"; any other operator with `null` is refused.
//! - Strings of an attribute that is not `caseExact` compare by their Unicode lower-case forms,
//!   `gt`/`ge`/`lt`/`le` in code-point order; date-times compare as instants.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::schema::{AttrDef, AttrType, Resolved, ResourceSchema};

/// Why a filter cannot be answered: SCIM's `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct FilterError {
    /// What is wrong, for a person.
    pub detail: String,
}

impl FilterError {
    /// An error with this detail.
    pub fn new(detail: impl Into<String>) -> Self {
        Self { detail: detail.into() }
    }
}

/// Resolves a path of the filter, at the top or inside `attr[…]`.
pub(crate) fn resolve(
    schema: &ResourceSchema,
    within: Option<&'static AttrDef>,
    path: &AttrPath,
) -> Result<Resolved, FilterError> {
    let found = match within {
        None => schema.resolve(path),
        Some(attr) => ResourceSchema::resolve_within(attr, path),
    };
    found.ok_or_else(|| FilterError::new(format!("the filter names `{path}`, which is no attribute of this resource")))
}

/// Whether `op value` is a comparison the attribute's type has.
pub(crate) fn check_comparison(
    path: &AttrPath,
    target: &AttrDef,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    let refuse = |why: &str| Err(FilterError::new(format!("`{path} {} {value}`: {why}", op.as_str())));
    if *value == CompValue::Null {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            refuse("null is only compared by eq and ne")
        };
    }
    match (target.kind, value) {
        (AttrType::Complex, _) => refuse("a complex attribute is compared through its sub-attributes"),
        (AttrType::String | AttrType::Reference, CompValue::String(_)) => Ok(()),
        (AttrType::Boolean, CompValue::Bool(_)) => {
            if matches!(op, CompareOp::Eq | CompareOp::Ne) {
                Ok(())
            } else {
                refuse("a boolean is only compared by eq and ne")
            }
        }
        (AttrType::DateTime, CompValue::String(s)) => {
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                refuse("a date-time is compared by eq, ne, gt, ge, lt and le")
            } else if OffsetDateTime::parse(s, &Rfc3339).is_err() {
                refuse("the value is not an RFC 3339 date-time")
            } else {
                Ok(())
            }
        }
        (AttrType::Integer, CompValue::Number(n)) if n.is_i64() => {
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                refuse("a number is not compared as text")
            } else {
                Ok(())
            }
        }
        _ => refuse(&format!("the value is not a {}", target.kind.as_str())),
    }
}

/// Checks every path and comparison of `filter` against `schema`.
///
/// # Errors
/// `invalidFilter`: an unknown attribute, a comparison its type does not have, a complex filter
/// on an attribute that is not complex.
pub fn check(filter: &Filter, schema: &ResourceSchema) -> Result<(), FilterError> {
    check_within(filter, schema, None)
}

fn check_within(filter: &Filter, schema: &ResourceSchema, within: Option<&'static AttrDef>) -> Result<(), FilterError> {
    match filter {
        Filter::Present(path) => resolve(schema, within, path).map(|_| ()),
        Filter::Compare(path, op, value) => {
            let r = resolve(schema, within, path)?;
            check_comparison(path, r.target(), *op, value)
        }
        Filter::ValuePath(path, inner) => {
            let r = resolve(schema, within, path)?;
            let attr = r.sub.unwrap_or(r.attr);
            if attr.kind != AttrType::Complex {
                return Err(FilterError::new(format!("`{path}[…]`: `{path}` is not a complex attribute")));
            }
            check_within(inner, schema, Some(attr))
        }
        Filter::Not(inner) => check_within(inner, schema, within),
        Filter::And(l, r) | Filter::Or(l, r) => {
            check_within(l, schema, within)?;
            check_within(r, schema, within)
        }
    }
}

/// Whether the resource `resource` (its JSON, as Roster answers it) matches `filter`.
///
/// # Errors
/// As [`check`].
pub fn matches(filter: &Filter, schema: &ResourceSchema, resource: &Value) -> Result<bool, FilterError> {
    check(filter, schema)?;
    Ok(eval(filter, schema, None, resource))
}

/// Whether one value of the complex attribute `attr` (an element of `emails`, of `members`)
/// matches `filter`, whose paths name the attribute's sub-attributes: the filter of a PATCH
/// path such as `emails[type eq "work"]`.
///
/// # Errors
/// As [`check`], for the paths inside the brackets.
pub fn element_matches(
    filter: &Filter,
    schema: &ResourceSchema,
    attr: &'static AttrDef,
    element: &Value,
) -> Result<bool, FilterError> {
    check_within(filter, schema, Some(attr))?;
    Ok(eval(filter, schema, Some(attr), element))
}

fn get_ci<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The values a resolved path reads in `object`, nulls left out.
fn values<'a>(object: &'a Value, r: &Resolved, within: bool) -> Vec<&'a Value> {
    let container = match (within, r.extension) {
        (true, _) => Some(object),
        (false, Some(urn)) => get_ci(object, urn),
        (false, None) => Some(object),
    };
    let item = if within { Some(object) } else { container.and_then(|c| get_ci(c, r.attr.name)) };
    let items: Vec<&Value> = match item {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => vec![],
    };
    let target = r.target();
    let read = if within {
        r.sub.map(|s| s.name)
    } else if std::ptr::eq(target, r.attr) {
        None
    } else {
        Some(target.name)
    };
    items
        .into_iter()
        .filter_map(|v| match read {
            Some(name) => get_ci(v, name),
            None => Some(v),
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// How a value of the resource compares with the filter's, by the attribute's type.
fn compare(target: &AttrDef, have: &Value, op: CompareOp, want: &CompValue) -> bool {
    match (target.kind, have, want) {
        (AttrType::String | AttrType::Reference, Value::String(h), CompValue::String(w)) => {
            let (h, w) = if target.case_exact { (h.clone(), w.clone()) } else { (h.to_lowercase(), w.to_lowercase()) };
            match op {
                CompareOp::Eq => h == w,
                CompareOp::Ne => h != w,
                CompareOp::Co => h.contains(&w),
                CompareOp::Sw => h.starts_with(&w),
                CompareOp::Ew => h.ends_with(&w),
                _ => ordered(op, h.as_str().cmp(w.as_str())),
            }
        }
        (AttrType::Boolean, Value::Bool(h), CompValue::Bool(w)) => match op {
            CompareOp::Eq => h == w,
            CompareOp::Ne => h != w,
            _ => false,
        },
        (AttrType::DateTime, Value::String(h), CompValue::String(w)) => {
            match (OffsetDateTime::parse(h, &Rfc3339), OffsetDateTime::parse(w, &Rfc3339)) {
                (Ok(h), Ok(w)) => ordered(op, h.cmp(&w)),
                _ => false,
            }
        }
        (AttrType::Integer, Value::Number(h), CompValue::Number(w)) => match (h.as_i64(), w.as_i64()) {
            (Some(h), Some(w)) => ordered(op, h.cmp(&w)),
            _ => false,
        },
        _ => false,
    }
}

/// An ordering operator (`eq` and `ne` included) applied to an ordering.
pub(crate) fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn eval(filter: &Filter, schema: &ResourceSchema, within: Option<&'static AttrDef>, object: &Value) -> bool {
    let resolved = |path: &AttrPath| resolve(schema, within, path).ok();
    match filter {
        Filter::Present(path) => {
            resolved(path).is_some_and(|r| values(object, &r, within.is_some()).into_iter().any(present))
        }
        Filter::Compare(path, op, value) => {
            let Some(r) = resolved(path) else { return false };
            let found = values(object, &r, within.is_some());
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => !found.into_iter().any(present),
                (CompareOp::Ne, CompValue::Null) => found.into_iter().any(present),
                (CompareOp::Ne, _) => !found.into_iter().any(|v| compare(r.target(), v, CompareOp::Eq, value)),
                _ => found.into_iter().any(|v| compare(r.target(), v, *op, value)),
            }
        }
        Filter::ValuePath(path, inner) => {
            let Some(r) = resolved(path) else { return false };
            let attr = r.sub.unwrap_or(r.attr);
            let container = if within.is_some() {
                Some(object)
            } else {
                match r.extension {
                    Some(urn) => get_ci(object, urn),
                    None => Some(object),
                }
            };
            let mut item = container.and_then(|c| get_ci(c, r.attr.name));
            if let (Some(sub), Some(v)) = (r.sub, item) {
                item = get_ci(v, sub.name);
            }
            let elements: Vec<&Value> = match item {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(v @ Value::Object(_)) => vec![v],
                _ => vec![],
            };
            elements.into_iter().any(|e| eval(inner, schema, Some(attr), e))
        }
        Filter::Not(inner) => !eval(inner, schema, within, object),
        Filter::And(l, r) => eval(l, schema, within, object) && eval(r, schema, within, object),
        Filter::Or(l, r) => eval(l, schema, within, object) || eval(r, schema, within, object),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::USERS;

    fn run(text: &str, resource: &Value) -> Result<bool, FilterError> {
        matches(&Filter::parse(text).unwrap(), &USERS, resource)
    }

    fn ada() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "7",
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "active": true,
            "meta": {"created": "2026-01-02T03:04:05Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engines"}
        })
    }

    #[test]
    fn comparisons_follow_each_attributes_type_and_case_rule() {
        let ada = ada();
        for (text, want) in [
            (r#"userName eq "ADA@example.com""#, true),
            (r#"name.givenName sw "a""#, true),
            (r#"name.familyName gt "Byron""#, true),
            (r#"emails[type eq "work" and value ew ".com"]"#, true),
            (r#"emails[type eq "home"]"#, false),
            (r#"emails[type eq "work"].value eq "ada@example.com""#, true),
            (r#"emails co "example""#, true),
            ("active eq true", true),
            ("not (active eq true)", false),
            (r#"meta.created lt "2026-01-02T04:04:05+01:00""#, false),
            (r#"meta.created ge "2026-01-02T04:04:05+01:00""#, true),
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "engines""#, true),
            ("title pr", false),
            ("title eq null", true),
            (r#"id eq "7""#, true),
            (r#"userName ne "bob@example.com" or title pr"#, true),
        ] {
            assert_eq!(run(text, &ada), Ok(want), "{text}");
        }
    }

    #[test]
    fn unknown_attributes_and_impossible_comparisons_are_invalid_filters() {
        let ada = ada();
        for text in [
            r#"nickname2 eq "x""#,
            r#"name.nick eq "x""#,
            "active gt true",
            r#"active eq "true""#,
            r#"meta.created eq "yesterday""#,
            r#"name eq "Ada""#,
            r#"userName[value eq "x"]"#,
            r#"emails[kind eq "work"]"#,
            r#"userName gt null"#,
        ] {
            assert!(run(text, &ada).is_err(), "{text}");
        }
    }
}
