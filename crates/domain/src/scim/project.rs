//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes of a
//! resource an answer holds. `id` and `schemas` are always returned; a name the schema does
//! not know is `invalidValue`.

use serde_json::{Map, Value};

use super::eval::FilterError;
use super::filter::AttrPath;
use super::schema::{Resolved, ResourceSchema};

/// What an answer holds of each resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// Only these (with `id` and `schemas`), when not empty.
    only: Vec<Resolved>,
    /// Everything but these.
    without: Vec<Resolved>,
}

fn read(list: Option<&str>, schema: &ResourceSchema) -> Result<Vec<Resolved>, FilterError> {
    let Some(list) = list else { return Ok(Vec::new()) };
    list.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let path = AttrPath::parse(p).map_err(|e| FilterError::new(e.detail))?;
            schema.resolve(&path).ok_or_else(|| FilterError::new(format!("`{path}` is no attribute of this resource")))
        })
        .collect()
}

/// Always in an answer, whatever was asked (RFC 7643 §3: `returned` `always`).
const ALWAYS: [&str; 2] = ["id", "schemas"];

impl Projection {
    /// Reads the two query parameters (comma-separated attribute paths).
    ///
    /// # Errors
    /// `invalidValue` (the detail in a [`FilterError`]) for a path that is not one, or names no
    /// attribute of the resource.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        schema: &ResourceSchema,
    ) -> Result<Self, FilterError> {
        Ok(Self { only: read(attributes, schema)?, without: read(excluded, schema)? })
    }

    /// The resource with only what was asked for.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut object) = resource else { return resource };
        if !self.only.is_empty() {
            let mut kept = Map::new();
            for (key, value) in std::mem::take(&mut object) {
                if ALWAYS.contains(&key.as_str()) {
                    kept.insert(key, value);
                    continue;
                }
                let asked: Vec<&Resolved> = self.only.iter().filter(|r| owns(r, &key)).collect();
                if asked.is_empty() {
                    continue;
                }
                kept.insert(key, keep(value, &asked));
            }
            object = kept;
        }
        for r in &self.without {
            remove(&mut object, r);
        }
        Value::Object(object)
    }
}

/// Whether the top-level key `key` holds the attribute `r` (the attribute itself, or the
/// extension object it sits in).
fn owns(r: &Resolved, key: &str) -> bool {
    match r.extension {
        Some(urn) => key.eq_ignore_ascii_case(urn),
        None => key.eq_ignore_ascii_case(r.attr.name),
    }
}

/// Of `value` (the top-level value under the key `asked` own), what they ask for.
fn keep(value: Value, asked: &[&Resolved]) -> Value {
    let whole = asked.iter().any(|r| r.extension.is_none() && r.sub.is_none());
    if whole {
        return value;
    }
    let names: Vec<&str> = asked
        .iter()
        .filter_map(|r| if r.extension.is_some() { Some(r.attr.name) } else { r.sub.map(|s| s.name) })
        .collect();
    let subs: Vec<(&str, &str)> =
        asked.iter().filter(|r| r.extension.is_some()).filter_map(|r| r.sub.map(|s| (r.attr.name, s.name))).collect();
    let pick = |item: Value| -> Value {
        let Value::Object(o) = item else { return item };
        Value::Object(
            o.into_iter()
                .filter(|(k, _)| names.iter().any(|n| n.eq_ignore_ascii_case(k)))
                .map(|(k, v)| {
                    let inner: Vec<&str> =
                        subs.iter().filter(|(a, _)| a.eq_ignore_ascii_case(&k)).map(|(_, s)| *s).collect();
                    let whole = asked
                        .iter()
                        .any(|r| r.extension.is_some() && r.sub.is_none() && r.attr.name.eq_ignore_ascii_case(&k));
                    let v = match v {
                        Value::Object(vo) if !inner.is_empty() && !whole => Value::Object(
                            vo.into_iter().filter(|(sk, _)| inner.iter().any(|s| s.eq_ignore_ascii_case(sk))).collect(),
                        ),
                        other => other,
                    };
                    (k, v)
                })
                .collect(),
        )
    };
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(pick).collect()),
        other => pick(other),
    }
}

fn remove(object: &mut Map<String, Value>, r: &Resolved) {
    let key = object.keys().find(|k| owns(r, k)).cloned();
    let Some(key) = key else { return };
    if ALWAYS.contains(&key.as_str()) {
        return;
    }
    let sub_name = if r.extension.is_some() { Some(r.attr.name) } else { r.sub.map(|s| s.name) };
    let Some(sub_name) = sub_name else {
        object.remove(&key);
        return;
    };
    let strip = |item: &mut Value| {
        if let Value::Object(o) = item {
            o.retain(|k, _| !k.eq_ignore_ascii_case(sub_name));
        }
    };
    match object.get_mut(&key) {
        Some(Value::Array(items)) => items.iter_mut().for_each(strip),
        Some(item) => strip(item),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USERS};

    fn ada() -> Value {
        json!({
            "schemas": ["s"], "id": "7", "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work"}],
            ENTERPRISE_USER_SCHEMA: {"department": "Engines", "costCenter": "9"},
            "meta": {"version": "W/\"1\""}
        })
    }

    #[test]
    fn attributes_keep_only_what_is_named_and_id_and_schemas() {
        let p = Projection::parse(Some("userName,name.givenName,emails.value"), None, &USERS).unwrap();
        assert_eq!(
            p.apply(ada()),
            json!({"schemas": ["s"], "id": "7", "userName": "ada@example.com", "name": {"givenName": "Ada"},
                   "emails": [{"value": "ada@example.com"}]})
        );
        let dept = format!("{ENTERPRISE_USER_SCHEMA}:department");
        let p = Projection::parse(Some(&dept), None, &USERS).unwrap();
        assert_eq!(
            p.apply(ada()),
            json!({"schemas": ["s"], "id": "7", ENTERPRISE_USER_SCHEMA: {"department": "Engines"}})
        );
    }

    #[test]
    fn excluded_attributes_drop_what_is_named_but_never_id_or_schemas() {
        let p = Projection::parse(None, Some("name.familyName,emails,id,meta"), &USERS).unwrap();
        let got = p.apply(ada());
        assert_eq!(got["name"], json!({"givenName": "Ada"}));
        assert!(got.get("emails").is_none() && got.get("meta").is_none());
        assert_eq!(got["id"], "7");
    }

    #[test]
    fn an_unknown_attribute_is_refused() {
        assert!(Projection::parse(Some("userName,shoeSize"), None, &USERS).is_err());
        assert!(Projection::parse(None, Some("name..x"), &USERS).is_err());
    }
}
