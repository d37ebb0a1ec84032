//! Roster's teams as SCIM Groups (§13): a SCIM Group is a live group at depth 2 (a team right
//! below the organization's root); its members are the group's current members.
//! [`group_resource`] is the resource a group is, [`read_group`] reads a Group sent to Roster
//! (the body of `POST /Groups` or `PUT /Groups/{id}`, or what a PATCH left) into a
//! [`GroupInput`].
//!
//! `displayName` is the group's name; `members` the members by their SCIM id (`value`);
//! `externalId` is accepted and not kept, and `display`, `$ref` and `type` of a member are
//! ignored. Another attribute is `invalidSyntax`, a member `value` that is no id
//! `invalidValue`.

use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use super::patch::WriteError;
use super::schema::{GROUP, GROUP_SCHEMA};
use super::users::etag;
use crate::groups::Group;
use crate::ids::UserId;
use crate::values::GroupName;

/// The group as a SCIM Group, without `meta.location` and the members' `$ref` (the face adds
/// them; it knows its URL).
pub fn group_resource(group: &Group, members: &[UserId]) -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": group.id.to_string(),
        "displayName": group.name.as_str(),
        "members": members.iter().map(|m| json!({"value": m.to_string(), "type": "User"})).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.format(&Rfc3339).unwrap_or_default(),
            "version": etag(group.version),
        },
    })
}

/// A SCIM Group as Roster's values. A field that is `None` was not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInput {
    /// `displayName`.
    pub name: Option<GroupName>,
    /// `members`, by id, without repeats, in the order given.
    pub members: Option<Vec<UserId>>,
}

fn get_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Reads a SCIM Group; with `whole`, what it leaves out is removed (`members` absent is no
/// member).
///
/// # Errors
/// `invalidSyntax` for a body that is no Group (not an object, `schemas` without the Group
/// URN, an attribute a Group has not); `invalidValue` for a `displayName` that is no group name
/// or a member that is no user id, and, when `whole`, a missing `displayName`.
pub fn read_group(body: &Value, whole: bool) -> Result<GroupInput, WriteError> {
    let Value::Object(object) = body else { return Err(WriteError::syntax("the body must be a JSON object")) };
    let schemas_ok = get_ci(object, "schemas").and_then(Value::as_array).is_some_and(|s| {
        s.iter().all(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(GROUP_SCHEMA))) && !s.is_empty()
    });
    if !schemas_ok {
        return Err(WriteError::syntax(format!("`schemas` must be [\"{GROUP_SCHEMA}\"]")));
    }
    for key in object.keys() {
        if !GROUP.attributes.iter().any(|a| a.name.eq_ignore_ascii_case(key)) {
            return Err(WriteError::syntax(format!("a Group has no attribute `{key}`")));
        }
    }
    let name = match get_ci(object, "displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(GroupName::parse(s).map_err(|e| WriteError::value(format!("`displayName` {e}")))?)
        }
        Some(_) => return Err(WriteError::value("`displayName` must be a string")),
    };
    let members = match get_ci(object, "members") {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let mut ids: Vec<UserId> = Vec::with_capacity(items.len());
            for item in items {
                let value = match item {
                    Value::Object(m) => get_ci(m, "value").and_then(Value::as_str),
                    Value::String(s) => Some(s.as_str()),
                    _ => None,
                };
                let id = value
                    .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
                    .map(UserId::from_uuid)
                    .ok_or_else(|| WriteError::value(format!("`members`: {item} names no user by its id")))?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Some(ids)
        }
        Some(_) => return Err(WriteError::value("`members` must be a list")),
    };
    if whole && name.is_none() {
        return Err(WriteError::value("`displayName` is required"));
    }
    Ok(GroupInput { name, members: if whole { Some(members.unwrap_or_default()) } else { members } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::ScimType;

    #[test]
    fn entras_group_create_reads_into_values() {
        let body = json!({
            "schemas": [GROUP_SCHEMA],
            "externalId": "8aa1a0c0",
            "displayName": "Sales",
            "members": [{"value": "6b0c1b7e-1f1e-4b55-9e7c-8c1e07d7a5e1", "display": "Ada"}],
        });
        let input = read_group(&body, false).unwrap();
        assert_eq!(input.name.unwrap().as_str(), "Sales");
        assert_eq!(input.members.unwrap().len(), 1);
    }

    #[test]
    fn what_is_no_group_is_refused() {
        for (body, kind) in [
            (json!({"displayName": "x"}), ScimType::InvalidSyntax),
            (json!({"schemas": [GROUP_SCHEMA], "owner": "x"}), ScimType::InvalidSyntax),
            (json!({"schemas": [GROUP_SCHEMA], "displayName": "a/b"}), ScimType::InvalidValue),
            (
                json!({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": "nope"}]}),
                ScimType::InvalidValue,
            ),
        ] {
            assert_eq!(read_group(&body, false).unwrap_err().kind, kind, "{body}");
        }
        assert_eq!(read_group(&json!({"schemas": [GROUP_SCHEMA]}), true).unwrap_err().kind, ScimType::InvalidValue);
    }
}
