//! SCIM writes as pure rules: [`WriteError`] (a refusal with its `scimType`), the PATCH request
//! of RFC 7644 §3.5.2 read into [`PatchOperation`]s ([`read_patch`]), and the operations applied
//! to a resource's JSON ([`apply`]), which the reader of the resource then turns into typed
//! values (`super::user_input` for Users). Nothing here knows a store: a use case loads the
//! resource, applies the patch in its transaction and saves what results.
//!
//! Identity providers' deviations accepted as they send them:
//! - `op` in any case (`"Replace"`, `"Add"`, `"Remove"`: Entra ID).
//! - An operation without a `path` whose `value` is an object of attributes (Okta): each key is
//!   read as a path, so `"name.givenName"` and
//!   `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"` work as keys,
//!   and the extension's URN as a key takes an object of its attributes.
//! - Filtered paths (`emails[type eq "work"].value`), also when no value matches yet: `add` and
//!   `replace` then create the value, with the filter's `eq` comparisons as its sub-attributes.
//! - `remove` of a multi-valued attribute with a `value` list (Entra ID's removal of group
//!   members, `{"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}`) removes only
//!   the values listed, never the others.
//! - A complex attribute given a bare string (`manager` as Entra ID sends it) is kept as sent;
//!   the resource's reader decides what it means.

use serde_json::{Map, Value};

use super::eval::element_matches;
use super::filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use super::schema::{AttrDef, AttrType, Mutability, ResourceSchema};

/// The schema of a PATCH request body.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request carries.
pub const MAX_OPERATIONS: usize = 1000;

/// The `scimType` of a refused write (RFC 7644 §3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The body is not the request's shape: not JSON, a wrong or missing schema URN, an unknown
    /// attribute, an operation that is none.
    InvalidSyntax,
    /// A value is missing or not one the attribute takes.
    InvalidValue,
    /// A PATCH path is no path, or names no attribute.
    InvalidPath,
    /// A PATCH `remove` without a path, or a path whose filter chose nothing to change.
    NoTarget,
    /// A read-only attribute was the target of a PATCH.
    Mutability,
    /// A unique value is taken.
    Uniqueness,
}

impl ScimType {
    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidValue => "invalidValue",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::Mutability => "mutability",
            Self::Uniqueness => "uniqueness",
        }
    }

    /// The code a [`crate::FieldError`] carries it as through a use case (`invalid_path`).
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidSyntax => "invalid_syntax",
            Self::InvalidValue => "invalid_value",
            Self::InvalidPath => "invalid_path",
            Self::NoTarget => "no_target",
            Self::Mutability => "mutability",
            Self::Uniqueness => "uniqueness",
        }
    }

    /// The type a field error's code names, if it names one.
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::InvalidSyntax, Self::InvalidValue, Self::InvalidPath, Self::NoTarget, Self::Mutability, Self::Uniqueness]
            .into_iter()
            .find(|t| t.code() == code)
    }
}

/// A SCIM write refused: its `scimType` and what is wrong, for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct WriteError {
    /// The `scimType`.
    pub kind: ScimType,
    /// What is wrong.
    pub detail: String,
}

impl WriteError {
    /// `invalidSyntax`.
    pub fn syntax(detail: impl Into<String>) -> Self {
        Self { kind: ScimType::InvalidSyntax, detail: detail.into() }
    }

    /// `invalidValue`.
    pub fn value(detail: impl Into<String>) -> Self {
        Self { kind: ScimType::InvalidValue, detail: detail.into() }
    }

    /// `invalidPath`.
    pub fn path(detail: impl Into<String>) -> Self {
        Self { kind: ScimType::InvalidPath, detail: detail.into() }
    }

    fn no_target(detail: impl Into<String>) -> Self {
        Self { kind: ScimType::NoTarget, detail: detail.into() }
    }

    fn mutability(detail: impl Into<String>) -> Self {
        Self { kind: ScimType::Mutability, detail: detail.into() }
    }
}

impl From<WriteError> for crate::ServiceError {
    /// A refused write through a use case: one field error whose code names the `scimType`.
    fn from(e: WriteError) -> Self {
        crate::ServiceError::Validation(vec![crate::FieldError::new("scim", e.kind.code(), e.detail)])
    }
}

/// What a PATCH operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The operation.
    pub kind: PatchKind,
    /// The target; `None` for an `add` or `replace` of an object of attributes.
    pub path: Option<PatchPath>,
    /// The value; `None` only for a `remove`.
    pub value: Option<Value>,
}

fn get_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Reads a PATCH request body (RFC 7644 §3.5.2).
///
/// # Errors
/// `invalidSyntax` for a body that is not a `PatchOp` message (no such schema, no
/// `Operations`, an operation that is none), `invalidPath` for a path that is not one,
/// `noTarget` for a `remove` without a path, `invalidValue` for an `add` or `replace` without a
/// value.
pub fn read_patch(body: &Value) -> Result<Vec<PatchOperation>, WriteError> {
    let Value::Object(body) = body else { return Err(WriteError::syntax("the body must be a JSON object")) };
    for key in body.keys() {
        if !["schemas", "Operations"].iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return Err(WriteError::syntax(format!("a PatchOp message has no `{key}`")));
        }
    }
    let schemas = get_ci(body, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA)))) {
        return Err(WriteError::syntax(format!("`schemas` must hold {PATCH_SCHEMA}")));
    }
    let Some(Value::Array(operations)) = get_ci(body, "Operations") else {
        return Err(WriteError::syntax("`Operations` must be a list of operations"));
    };
    if operations.is_empty() {
        return Err(WriteError::syntax("`Operations` is empty"));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(WriteError::syntax(format!("at most {MAX_OPERATIONS} operations per request")));
    }
    operations.iter().enumerate().map(|(i, op)| read_operation(i, op)).collect()
}

fn read_operation(i: usize, op: &Value) -> Result<PatchOperation, WriteError> {
    let Value::Object(op) = op else { return Err(WriteError::syntax(format!("operation {i} is not an object"))) };
    for key in op.keys() {
        if !["op", "path", "value"].iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return Err(WriteError::syntax(format!("operation {i} has an unknown member `{key}`")));
        }
    }
    let kind = match get_ci(op, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("add") => PatchKind::Add,
        Some("replace") => PatchKind::Replace,
        Some("remove") => PatchKind::Remove,
        _ => return Err(WriteError::syntax(format!("operation {i}: `op` must be add, replace or remove"))),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => {
            Some(PatchPath::parse(text).map_err(|e| WriteError::path(format!("operation {i}: {}", e.detail)))?)
        }
        Some(_) => return Err(WriteError::path(format!("operation {i}: `path` must be a string"))),
    };
    let value = get_ci(op, "value").cloned();
    match (kind, &path, &value) {
        (PatchKind::Remove, None, _) => Err(WriteError::no_target(format!("operation {i}: a remove needs a path"))),
        (PatchKind::Add | PatchKind::Replace, _, None) => {
            Err(WriteError::value(format!("operation {i}: an add or replace needs a value")))
        }
        (PatchKind::Add | PatchKind::Replace, None, Some(v)) if !v.is_object() => {
            Err(WriteError::value(format!("operation {i}: without a path, the value must be an object of attributes")))
        }
        _ => Ok(PatchOperation { kind, path, value }),
    }
}

/// Applies `operations` in order to `resource` (a resource's JSON, attribute names as the
/// schema spells them). On an error the resource is half changed: the caller drops it.
///
/// # Errors
/// `invalidPath` for a path naming no attribute of `schema` (or a sub-attribute of a simple
/// one), `mutability` for a read-only attribute, `invalidValue` for a value of the wrong shape
/// (an unknown sub-attribute, a list where one value goes), `noTarget` when a filter chose
/// nothing and no value can be made from it.
pub fn apply(schema: &ResourceSchema, resource: &mut Value, operations: &[PatchOperation]) -> Result<(), WriteError> {
    let Value::Object(object) = resource else { return Err(WriteError::value("the resource is not an object")) };
    for op in operations {
        match (&op.path, &op.value) {
            (Some(path), value) => apply_path(schema, object, op.kind, path, value.as_ref(), false)?,
            (None, Some(Value::Object(values))) => {
                for (key, value) in values {
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    if let Some(ext) = schema.extensions.iter().find(|e| e.id.eq_ignore_ascii_case(key)) {
                        let Value::Object(fields) = value else {
                            return Err(WriteError::value(format!("`{key}` takes an object of its attributes")));
                        };
                        for (name, v) in fields {
                            let path = PatchPath {
                                attr: AttrPath { urn: Some(ext.id.to_owned()), name: name.clone(), sub: None },
                                filter: None,
                                sub: None,
                            };
                            apply_path(schema, object, op.kind, &path, Some(v), true)?;
                        }
                        continue;
                    }
                    let path = PatchPath::parse(key)
                        .map_err(|_| WriteError::value(format!("`{key}` is no attribute of this resource")))?;
                    apply_path(schema, object, op.kind, &path, Some(value), true)?;
                }
            }
            (None, _) => return Err(WriteError::no_target("an operation without a path needs an object value")),
        }
    }
    Ok(())
}

/// The attribute's entry in `object`, whatever the case of its key.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

fn find_sub(attr: &'static AttrDef, name: &str) -> Option<&'static AttrDef> {
    attr.sub.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// One value of a complex attribute with its keys spelled as the schema does.
fn element(attr: &'static AttrDef, value: &Value) -> Result<Value, WriteError> {
    let Value::Object(fields) = value else {
        // A bare value of a multi-valued complex attribute is its `value` (`"members": ["id"]`).
        return if attr.multi && find_sub(attr, "value").is_some() && !value.is_null() {
            Ok(serde_json::json!({ "value": value }))
        } else {
            Ok(value.clone())
        };
    };
    let mut out = Map::new();
    for (k, v) in fields {
        let sub = find_sub(attr, k)
            .ok_or_else(|| WriteError::value(format!("`{}` has no sub-attribute `{k}`", attr.name)))?;
        out.insert(sub.name.to_owned(), v.clone());
    }
    Ok(Value::Object(out))
}

/// The values of a multi-valued attribute in a request: a list, or one value alone.
fn elements(attr: &'static AttrDef, value: &Value) -> Result<Vec<Value>, WriteError> {
    match value {
        Value::Array(items) => items.iter().map(|v| element(attr, v)).collect(),
        Value::Null => Ok(Vec::new()),
        one => Ok(vec![element(attr, one)?]),
    }
}

/// Whether two values of a multi-valued attribute are the same value: their `value`
/// sub-attributes when both have one, else the whole values.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn merge(attr: &'static AttrDef, into: &mut Value, value: &Value) -> Result<(), WriteError> {
    match (into, element(attr, value)?) {
        (Value::Object(target), Value::Object(fields)) => {
            for (k, v) in fields {
                if v.is_null() {
                    target.remove(&k);
                } else {
                    target.insert(k, v);
                }
            }
        }
        (slot, other) => *slot = other,
    }
    Ok(())
}

fn apply_path(
    schema: &ResourceSchema,
    object: &mut Map<String, Value>,
    kind: PatchKind,
    path: &PatchPath,
    value: Option<&Value>,
    from_value: bool,
) -> Result<(), WriteError> {
    let unknown = || {
        if from_value {
            WriteError::value(format!("`{path}` is no attribute of this resource"))
        } else {
            WriteError::path(format!("`{path}` is no attribute of this resource"))
        }
    };
    let r = schema.resolve(&path.attr).ok_or_else(unknown)?;
    let read_only = |a: &AttrDef| a.mutability == Mutability::ReadOnly;
    if read_only(r.attr) || r.sub.is_some_and(read_only) {
        // RFC 7643 §7: a read-only attribute in a request is ignored — but a PATCH aimed at
        // one by its path asks for something that cannot happen.
        return if from_value { Ok(()) } else { Err(WriteError::mutability(format!("`{path}` is read-only"))) };
    }
    if r.attr.name == "schemas" {
        return Ok(());
    }
    let container: &mut Map<String, Value> = match r.extension {
        None => object,
        Some(urn) => {
            let key = key_of(object, urn);
            let slot = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut().ok_or_else(|| WriteError::value("the extension is not an object"))?
        }
    };
    let key = key_of(container, r.attr.name);
    let attr = r.attr;
    match (&path.filter, r.sub) {
        (None, None) => whole(attr, container, key, kind, value),
        (None, Some(sub)) => sub_attribute(attr, sub, container, key, kind, value),
        (Some(filter), None) => filtered(schema, attr, filter, path, container, key, kind, value),
        (Some(_), Some(_)) => {
            Err(WriteError::path(format!("`{path}`: a filter follows the attribute, not its sub-attribute")))
        }
    }
}

/// An operation on a whole attribute (`name`, `emails`, `active`, `members`).
fn whole(
    attr: &'static AttrDef,
    container: &mut Map<String, Value>,
    key: String,
    kind: PatchKind,
    value: Option<&Value>,
) -> Result<(), WriteError> {
    let value = match (kind, value) {
        (PatchKind::Remove, Some(listed)) if attr.multi && !listed.is_null() => {
            // Only the values listed go (Entra ID's member removal).
            let gone = elements(attr, listed)?;
            if let Some(Value::Array(items)) = container.get_mut(&key) {
                items.retain(|item| !gone.iter().any(|g| same_value(item, g)));
            }
            return Ok(());
        }
        (PatchKind::Remove, _) | (_, None | Some(Value::Null)) => {
            container.remove(&key);
            return Ok(());
        }
        (_, Some(v)) => v,
    };
    if attr.multi {
        let new = elements(attr, value)?;
        let slot = container.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        if kind == PatchKind::Replace || !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        if let Value::Array(items) = slot {
            for v in new {
                if !items.iter().any(|have| same_value(have, &v)) {
                    items.push(v);
                }
            }
        }
        return Ok(());
    }
    if attr.kind == AttrType::Complex && value.is_object() {
        // RFC 7644 §3.5.2.1 and .3: the sub-attributes given replace theirs, the others stay.
        let slot = container.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        return merge(attr, slot, value);
    }
    if value.is_array() {
        return Err(WriteError::value(format!("`{}` takes one value, not a list", attr.name)));
    }
    container.insert(key, value.clone());
    Ok(())
}

/// An operation on a sub-attribute without a filter (`name.givenName`, `manager.value`).
fn sub_attribute(
    attr: &'static AttrDef,
    sub: &'static AttrDef,
    container: &mut Map<String, Value>,
    key: String,
    kind: PatchKind,
    value: Option<&Value>,
) -> Result<(), WriteError> {
    let set = |target: &mut Map<String, Value>| match (kind, value) {
        (PatchKind::Remove, _) | (_, None | Some(Value::Null)) => {
            target.remove(sub.name);
        }
        (_, Some(v)) => {
            target.insert(sub.name.to_owned(), v.clone());
        }
    };
    if attr.multi {
        match container.get_mut(&key) {
            Some(Value::Array(items)) if !items.is_empty() => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    set(item);
                }
            }
            _ if kind != PatchKind::Remove => {
                let mut item = Map::new();
                set(&mut item);
                container.insert(key, Value::Array(vec![Value::Object(item)]));
            }
            _ => {}
        }
        return Ok(());
    }
    let slot = container.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        // A complex value held as a bare string (`manager: "id"`) is its `value`.
        let bare = std::mem::take(slot);
        let mut object = Map::new();
        if !bare.is_null() && find_sub(attr, "value").is_some() {
            object.insert("value".to_owned(), bare);
        }
        *slot = Value::Object(object);
    }
    if let Value::Object(target) = slot {
        set(target);
    }
    Ok(())
}

/// The sub-attributes a filter's `eq` comparisons fix (`type eq "work"` → `{"type": "work"}`):
/// the value a filtered `add` or `replace` creates when none matches. `None` for a filter that
/// fixes nothing that way (an `or`, a `co`).
fn fixed_by(attr: &'static AttrDef, filter: &Filter, into: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::Compare(p, CompareOp::Eq, value) if p.urn.is_none() && p.sub.is_none() => {
            let Some(sub) = find_sub(attr, &p.name) else { return false };
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return false,
            };
            into.insert(sub.name.to_owned(), v);
            true
        }
        Filter::And(l, r) => fixed_by(attr, l, into) && fixed_by(attr, r, into),
        _ => false,
    }
}

/// An operation on the values of a multi-valued attribute a filter chooses
/// (`emails[type eq "work"]`, `emails[type eq "work"].value`).
#[allow(clippy::too_many_arguments)]
fn filtered(
    schema: &ResourceSchema,
    attr: &'static AttrDef,
    filter: &Filter,
    path: &PatchPath,
    container: &mut Map<String, Value>,
    key: String,
    kind: PatchKind,
    value: Option<&Value>,
) -> Result<(), WriteError> {
    if !attr.multi || attr.kind != AttrType::Complex {
        return Err(WriteError::path(format!("`{path}`: only a multi-valued complex attribute takes a filter")));
    }
    let sub = match &path.sub {
        None => None,
        Some(name) => Some(
            find_sub(attr, name)
                .ok_or_else(|| WriteError::path(format!("`{path}`: `{}` has no sub-attribute `{name}`", attr.name)))?,
        ),
    };
    let items: Vec<Value> = match container.get(&key) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let mut chosen = Vec::with_capacity(items.len());
    for item in &items {
        chosen
            .push(element_matches(filter, schema, attr, item).map_err(|e| WriteError::path(format!("`{path}`: {e}")))?);
    }
    let mut items = items;
    if kind == PatchKind::Remove {
        match sub {
            None => {
                let mut keep = chosen.iter().map(|c| !c);
                items.retain(|_| keep.next().unwrap_or(true));
            }
            Some(sub) => {
                for (item, _) in items.iter_mut().zip(&chosen).filter(|(_, c)| **c) {
                    if let Value::Object(o) = item {
                        o.remove(sub.name);
                    }
                }
            }
        }
        container.insert(key, Value::Array(items));
        return Ok(());
    }
    let value = value.cloned().unwrap_or(Value::Null);
    let given = match sub {
        Some(sub) => Value::Object(Map::from_iter([(sub.name.to_owned(), value)])),
        None => value,
    };
    if chosen.iter().any(|c| *c) {
        for (item, _) in items.iter_mut().zip(&chosen).filter(|(_, c)| **c) {
            merge(attr, item, &given)?;
        }
    } else {
        let mut created = Map::new();
        if !fixed_by(attr, filter, &mut created) {
            return Err(WriteError::no_target(format!("`{path}` matches no value, and its filter makes none")));
        }
        let mut created = Value::Object(created);
        merge(attr, &mut created, &given)?;
        items.push(created);
    }
    container.insert(key, Value::Array(items));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{GROUPS, USERS};

    fn run(schema: &ResourceSchema, resource: Value, body: Value) -> Result<Value, WriteError> {
        let ops = read_patch(&body)?;
        let mut resource = resource;
        apply(schema, &mut resource, &ops)?;
        Ok(resource)
    }

    fn patch(ops: Value) -> Value {
        json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
    }

    fn ada() -> Value {
        json!({
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "active": true,
            "phoneNumbers": [{"value": "+15550001", "type": "work", "primary": true}],
        })
    }

    #[test]
    fn oktas_patch_without_a_path_sets_each_attribute_of_the_value() {
        let out = run(
            &USERS,
            ada(),
            patch(json!([{"op": "replace", "value": {"active": false, "name.givenName": "Augusta"}}])),
        )
        .unwrap();
        assert_eq!(out["active"], json!(false));
        assert_eq!(out["name"], json!({"givenName": "Augusta", "familyName": "Lovelace"}));
    }

    #[test]
    fn entras_capitalised_ops_filtered_paths_and_extension_paths_apply() {
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let out = run(
            &USERS,
            ada(),
            patch(json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+15550002"},
                {"op": "Replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+15550003"},
                {"op": "Add", "path": format!("{urn}:department"), "value": "Engines"},
                {"op": "Add", "path": format!("{urn}:manager"), "value": "b0b"},
            ])),
        )
        .unwrap();
        assert_eq!(out["active"], json!("False"));
        assert_eq!(
            out["phoneNumbers"],
            json!([{"value": "+15550003", "type": "work", "primary": true}, {"type": "mobile", "value": "+15550002"}])
        );
        assert_eq!(out[urn], json!({"department": "Engines", "manager": "b0b"}));
    }

    #[test]
    fn removing_members_by_a_value_list_removes_only_those() {
        let group = json!({"displayName": "Ops", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
        let out = run(
            &GROUPS,
            group,
            patch(json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]}])),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "b"}]));
        let out = run(&GROUPS, out, patch(json!([{"op": "remove", "path": "members[value eq \"b\"]"}]))).unwrap();
        assert_eq!(out["members"], json!([]));
    }

    #[test]
    fn bad_operations_are_refused_with_their_scim_type() {
        for (body, kind) in [
            (json!({"Operations": []}), ScimType::InvalidSyntax),
            (patch(json!([{"op": "move", "path": "active"}])), ScimType::InvalidSyntax),
            (patch(json!([{"op": "remove"}])), ScimType::NoTarget),
            (patch(json!([{"op": "add", "path": "emails[type eq"}])), ScimType::InvalidPath),
            (patch(json!([{"op": "replace", "path": "nickname2", "value": "x"}])), ScimType::InvalidPath),
            (patch(json!([{"op": "replace", "path": "meta.created", "value": "x"}])), ScimType::Mutability),
            (patch(json!([{"op": "replace", "path": "name.nick", "value": "x"}])), ScimType::InvalidPath),
            (patch(json!([{"op": "replace", "value": {"shoeSize": 4}}])), ScimType::InvalidValue),
            (patch(json!([{"op": "replace", "value": 4}])), ScimType::InvalidValue),
            (
                patch(json!([{"op": "replace", "path": "emails[type co \"w\"].value", "value": "x"}])),
                ScimType::NoTarget,
            ),
        ] {
            assert_eq!(run(&USERS, ada(), body.clone()).unwrap_err().kind, kind, "{body}");
        }
    }
}
