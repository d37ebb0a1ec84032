//! A SCIM User sent to Roster (the body of `POST /Users` or `PUT /Users/{id}`, or the resource
//! a PATCH left) read into typed values: [`read_user`] gives a [`UserInput`], every value parsed
//! into its value type, or a [`WriteError`] naming what is wrong.
//!
//! What is read (the mapping of `super::users`, the other way): `userName` is the email;
//! `name.givenName`/`familyName` the names (when both are missing, `name.formatted` or
//! `displayName` split at its last space); the `phoneNumbers` value marked `primary`, else the
//! `work` one, else the first, is the phone; `active`; `externalId`; `title`; the enterprise
//! extension's `employeeNumber`, `costCenter`, `organization`, `division`, `department` and
//! `manager` (an object with `value`, or Entra ID's bare string).
//!
//! What is accepted and not kept: `emails` (the member's one address is `userName`; `emails`
//! always shows it), `displayName`, `nickName`, `userType`, `preferredLanguage`, `locale`,
//! `timezone`, `addresses` (in Entra ID's default mappings), the other sub-attributes of `name`, `password` (a provisioned member signs in
//! through their identity provider or sets a password by the reset link), and read-only
//! attributes (`id`, `meta`, `groups`), ignored as RFC 7643 §7 says. Anything else — an
//! attribute no schema of Users has, a schema URN other than the core User schema and the
//! enterprise extension — is `invalidSyntax`; a value of the wrong type or shape is
//! `invalidValue`. Entra ID's string booleans (`"active": "False"`) are read as booleans.

use serde_json::{Map, Value};

use super::patch::WriteError;
use super::schema::{ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA, USER, USER_SCHEMA};
use crate::user::DirectoryAttributes;
use crate::values::{DirectoryText, Email, PersonName, Phone, ValueError};

/// What an attribute the request leaves out means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Omitted {
    /// Not asserted: the member keeps their value (`POST`, `PUT`; RFC 7644 §3.5.1 lets a
    /// service provider read an omitted attribute so, and Okta's full-PUT updates rely on it).
    Kept,
    /// Removed: the resource is whole (what a PATCH left of the member's resource).
    Cleared,
}

/// A change of one optional value: `None` leaves it, `Some(None)` clears it.
pub type Change<T> = Option<Option<T>>;

/// The directory attributes a request sets or clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryChange {
    /// `externalId`.
    pub external_id: Change<DirectoryText>,
    /// `title`.
    pub title: Change<DirectoryText>,
    /// `employeeNumber`.
    pub employee_number: Change<DirectoryText>,
    /// `costCenter`.
    pub cost_center: Change<DirectoryText>,
    /// `organization`.
    pub organization: Change<DirectoryText>,
    /// `division`.
    pub division: Change<DirectoryText>,
    /// `department`.
    pub department: Change<DirectoryText>,
    /// `manager.value`.
    pub manager: Change<DirectoryText>,
}

impl DirectoryChange {
    /// The attributes after the change.
    pub fn apply(&self, to: &DirectoryAttributes) -> DirectoryAttributes {
        let pick = |change: &Change<DirectoryText>, have: &Option<DirectoryText>| match change {
            Some(v) => v.clone(),
            None => have.clone(),
        };
        DirectoryAttributes {
            external_id: pick(&self.external_id, &to.external_id),
            title: pick(&self.title, &to.title),
            employee_number: pick(&self.employee_number, &to.employee_number),
            cost_center: pick(&self.cost_center, &to.cost_center),
            organization: pick(&self.organization, &to.organization),
            division: pick(&self.division, &to.division),
            department: pick(&self.department, &to.department),
            manager: pick(&self.manager, &to.manager),
        }
    }
}

/// A SCIM User as Roster's values. A field that is `None` was not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInput {
    /// `userName`.
    pub email: Option<Email>,
    /// `name.givenName`.
    pub first_name: Option<PersonName>,
    /// `name.familyName`.
    pub last_name: Option<PersonName>,
    /// The chosen `phoneNumbers` value.
    pub phone: Change<Phone>,
    /// `active`.
    pub active: Option<bool>,
    /// `externalId`, `title` and the enterprise extension.
    pub directory: DirectoryChange,
}

fn get_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn parsed<T>(what: &str, value: &str, parse: fn(&str) -> Result<T, ValueError>) -> Result<T, WriteError> {
    parse(value).map_err(|e| WriteError::value(format!("`{what}` {e}")))
}

/// A string attribute: absent, `null` (or `""`), or a string parsed into its value type.
fn text<T>(
    object: &Map<String, Value>,
    name: &str,
    what: &str,
    parse: fn(&str) -> Result<T, ValueError>,
) -> Result<Change<T>, WriteError> {
    match get_ci(object, name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(parsed(what, s, parse)?))),
        Some(_) => Err(WriteError::value(format!("`{what}` must be a string"))),
    }
}

/// A boolean, also as Entra ID sends it: `"True"`, `"false"`.
fn boolean(value: &Value, what: &str) -> Result<Option<bool>, WriteError> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(WriteError::value(format!("`{what}` must be true or false"))),
    }
}

/// Checks that every key of `object` is an attribute of `attrs` (read-only ones included).
fn known_keys(object: &Map<String, Value>, attrs: &[super::schema::AttrDef], within: &str) -> Result<(), WriteError> {
    for key in object.keys() {
        if !attrs.iter().any(|a| a.name.eq_ignore_ascii_case(key)) {
            return Err(WriteError::syntax(format!("{within} has no attribute `{key}`")));
        }
    }
    Ok(())
}

/// The phone among `phoneNumbers`: the primary value, else the `work` one, else the first.
fn phone(value: &Value) -> Result<Change<Phone>, WriteError> {
    let items = match value {
        Value::Null => return Ok(Some(None)),
        Value::Array(items) => items,
        _ => return Err(WriteError::value("`phoneNumbers` must be a list")),
    };
    let objects: Vec<&Map<String, Value>> = items.iter().filter_map(Value::as_object).collect();
    if objects.len() != items.len() {
        return Err(WriteError::value("each of `phoneNumbers` must be an object"));
    }
    let is_true =
        |o: &&&Map<String, Value>| get_ci(o, "primary").is_some_and(|p| boolean(p, "primary") == Ok(Some(true)));
    let is_work = |o: &&&Map<String, Value>| {
        get_ci(o, "type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work"))
    };
    let chosen = objects.iter().find(is_true).or_else(|| objects.iter().find(is_work)).or_else(|| objects.first());
    match chosen {
        None => Ok(Some(None)),
        Some(o) => Ok(text(o, "value", "phoneNumbers.value", Phone::parse)?.or(Some(None))),
    }
}

/// `name.formatted` or `displayName` as given and family names: the last word is the family
/// name, the rest the given name; `None` for a single word.
fn split_name(full: &str) -> Option<(PersonName, PersonName)> {
    let full = full.trim();
    let (given, family) = full.rsplit_once(char::is_whitespace)?;
    Some((PersonName::parse(given).ok()?, PersonName::parse(family).ok()?))
}

/// Reads a SCIM User.
///
/// # Errors
/// `invalidSyntax` for a body that is no User (not an object, `schemas` without the core User
/// URN or with one Roster does not serve, an attribute no schema of Users has);
/// `invalidValue` for a value that does not parse (`userName` that is no email, a phone that is
/// no E.164 number, a boolean that is none), and, with [`Omitted::Cleared`], for a required
/// attribute left out.
pub fn read_user(body: &Value, omitted: Omitted) -> Result<UserInput, WriteError> {
    let Value::Object(object) = body else { return Err(WriteError::syntax("the body must be a JSON object")) };
    match get_ci(object, "schemas") {
        Some(Value::Array(schemas)) => {
            let names: Vec<&str> = schemas.iter().filter_map(Value::as_str).collect();
            if names.len() != schemas.len() || !names.iter().any(|s| s.eq_ignore_ascii_case(USER_SCHEMA)) {
                return Err(WriteError::syntax(format!("`schemas` must hold {USER_SCHEMA}")));
            }
            if let Some(other) = names
                .iter()
                .find(|s| !s.eq_ignore_ascii_case(USER_SCHEMA) && !s.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA))
            {
                return Err(WriteError::syntax(format!("Users have no schema {other}")));
            }
        }
        _ => return Err(WriteError::syntax(format!("`schemas` must be a list holding {USER_SCHEMA}"))),
    }
    let mut enterprise = None;
    for (key, value) in object {
        if key.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
            match value {
                Value::Object(fields) => enterprise = Some(fields),
                Value::Null => {}
                _ => return Err(WriteError::value(format!("`{key}` must be an object"))),
            }
        } else if key.eq_ignore_ascii_case("password") {
            // Accepted, never kept (the module's documentation).
        } else if key.starts_with("urn:") || key.starts_with("URN:") {
            return Err(WriteError::syntax(format!("Users have no schema {key}")));
        } else if !USER.attributes.iter().any(|a| a.name.eq_ignore_ascii_case(key)) {
            return Err(WriteError::syntax(format!("a User has no attribute `{key}`")));
        }
    }
    let mut input =
        UserInput { email: text(object, "userName", "userName", Email::parse)?.flatten(), ..UserInput::default() };
    let name = match get_ci(object, "name") {
        None | Some(Value::Null) => None,
        Some(Value::Object(name)) => {
            let attrs = USER.attributes.iter().find(|a| a.name == "name").map_or(&[][..], |a| a.sub);
            known_keys(name, attrs, "`name`")?;
            Some(name)
        }
        Some(_) => return Err(WriteError::value("`name` must be an object")),
    };
    if let Some(name) = name {
        input.first_name = text(name, "givenName", "name.givenName", PersonName::parse)?.flatten();
        input.last_name = text(name, "familyName", "name.familyName", PersonName::parse)?.flatten();
    }
    if input.first_name.is_none() && input.last_name.is_none() {
        let full =
            name.and_then(|n| get_ci(n, "formatted")).or_else(|| get_ci(object, "displayName")).and_then(Value::as_str);
        if let Some((given, family)) = full.and_then(split_name) {
            input.first_name = Some(given);
            input.last_name = Some(family);
        }
    }
    input.phone = match get_ci(object, "phoneNumbers") {
        None => None,
        Some(v) => phone(v)?,
    };
    input.active = match get_ci(object, "active") {
        None => None,
        Some(v) => boolean(v, "active")?,
    };
    let d = &mut input.directory;
    d.external_id = text(object, "externalId", "externalId", DirectoryText::parse)?;
    d.title = text(object, "title", "title", DirectoryText::parse)?;
    if let Some(fields) = enterprise {
        known_keys(fields, ENTERPRISE_USER.attributes, "the enterprise extension")?;
        d.employee_number = text(fields, "employeeNumber", "employeeNumber", DirectoryText::parse)?;
        d.cost_center = text(fields, "costCenter", "costCenter", DirectoryText::parse)?;
        d.organization = text(fields, "organization", "organization", DirectoryText::parse)?;
        d.division = text(fields, "division", "division", DirectoryText::parse)?;
        d.department = text(fields, "department", "department", DirectoryText::parse)?;
        d.manager = match get_ci(fields, "manager") {
            None => None,
            Some(Value::Null) => Some(None),
            // Entra ID sends the manager's id alone.
            Some(Value::String(_)) => text(fields, "manager", "manager", DirectoryText::parse)?,
            Some(Value::Object(m)) => {
                let attrs = ENTERPRISE_USER.attributes.iter().find(|a| a.name == "manager").map_or(&[][..], |a| a.sub);
                known_keys(m, attrs, "`manager`")?;
                Some(text(m, "value", "manager.value", DirectoryText::parse)?.flatten())
            }
            Some(_) => return Err(WriteError::value("`manager` must be an object or the manager's id")),
        };
    }
    if omitted == Omitted::Cleared {
        if input.email.is_none() {
            return Err(WriteError::value("`userName` is required"));
        }
        if input.first_name.is_none() || input.last_name.is_none() {
            return Err(WriteError::value("`name.givenName` and `name.familyName` are required"));
        }
        input.phone = Some(input.phone.flatten());
        let d = &mut input.directory;
        for change in [
            &mut d.external_id,
            &mut d.title,
            &mut d.employee_number,
            &mut d.cost_center,
            &mut d.organization,
            &mut d.division,
            &mut d.department,
            &mut d.manager,
        ] {
            *change = Some(change.take().flatten());
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::patch::ScimType;

    #[test]
    fn an_okta_create_reads_into_values() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": "Ada@Example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"primary": true, "value": "ada@example.com", "type": "work"}],
            "displayName": "Ada Lovelace",
            "locale": "en-US",
            "externalId": "00u1ABC",
            "groups": [],
            "password": "ignored-secret",
            "active": true
        });
        let input = read_user(&body, Omitted::Kept).unwrap();
        assert_eq!(input.email.unwrap().as_str(), "ada@example.com");
        assert_eq!(input.first_name.unwrap().as_str(), "Ada");
        assert_eq!(input.active, Some(true));
        assert_eq!(input.directory.external_id.unwrap().unwrap().as_str(), "00u1ABC");
        assert_eq!(input.phone, None);
    }

    #[test]
    fn an_entra_create_with_string_booleans_and_the_extension_reads_into_values() {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "externalId": "ada",
            "userName": "ada@contoso.com",
            "active": "False",
            "displayName": "Ada Lovelace",
            "title": "Engineer",
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 000 2"}, {"type": "work", "value": "+15550001"}],
            "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42", "department": "Engines", "manager": "b0b"}
        });
        let input = read_user(&body, Omitted::Kept).unwrap();
        assert_eq!(input.active, Some(false));
        assert_eq!(input.phone.unwrap().unwrap().as_str(), "+15550001");
        assert_eq!(input.directory.department.unwrap().unwrap().as_str(), "Engines");
        assert_eq!(input.directory.manager.unwrap().unwrap().as_str(), "b0b");
        assert_eq!(input.directory.title.unwrap().unwrap().as_str(), "Engineer");
    }

    #[test]
    fn wrong_schemas_unknown_attributes_and_bad_values_are_refused() {
        let ok = json!({"schemas": [USER_SCHEMA], "userName": "ada@example.com"});
        assert!(read_user(&ok, Omitted::Kept).is_ok());
        for (body, kind) in [
            (json!([]), ScimType::InvalidSyntax),
            (json!({"userName": "ada@example.com"}), ScimType::InvalidSyntax),
            (json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}), ScimType::InvalidSyntax),
            (json!({"schemas": [USER_SCHEMA, "urn:x:y"]}), ScimType::InvalidSyntax),
            (json!({"schemas": [USER_SCHEMA], "shoeSize": 4}), ScimType::InvalidSyntax),
            (json!({"schemas": [USER_SCHEMA], "name": {"nick": "x"}}), ScimType::InvalidSyntax),
            (json!({"schemas": [USER_SCHEMA], "urn:x:y": {}}), ScimType::InvalidSyntax),
            (json!({"schemas": [USER_SCHEMA], "userName": "not an email"}), ScimType::InvalidValue),
            (json!({"schemas": [USER_SCHEMA], "active": "maybe"}), ScimType::InvalidValue),
            (json!({"schemas": [USER_SCHEMA], "phoneNumbers": [{"value": "call me"}]}), ScimType::InvalidValue),
            (json!({"schemas": [USER_SCHEMA], "userName": 7}), ScimType::InvalidValue),
        ] {
            assert_eq!(read_user(&body, Omitted::Kept).unwrap_err().kind, kind, "{body}");
        }
    }

    #[test]
    fn a_whole_resource_clears_what_it_leaves_out() {
        let body = json!({"schemas": [USER_SCHEMA], "userName": "ada@example.com", "name": {"givenName": "Ada", "familyName": "L"}});
        let input = read_user(&body, Omitted::Cleared).unwrap();
        assert_eq!(input.phone, Some(None));
        assert_eq!(input.directory.title, Some(None));
        assert_eq!(input.active, None);
        let no_name = json!({"schemas": [USER_SCHEMA], "userName": "ada@example.com"});
        assert_eq!(read_user(&no_name, Omitted::Cleared).unwrap_err().kind, ScimType::InvalidValue);
    }
}
