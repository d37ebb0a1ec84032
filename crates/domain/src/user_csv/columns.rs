//! Which column holds which field: headers matched by name, ignoring case, spaces, `_`, `-`
//! and `.`, so Salesforce's export (`Id, FirstName, …`), its report labels (`First Name`,
//! `User ID`), snake_case (`crm_id, first_name, …`) and Roster's own export (`GET
//! /users/export.csv`) all work. Other columns are ignored, and [`Columns::unused`] lists them.
//!
//! One rule settles the only clash between those namings: a bare `id` column is Salesforce's
//! user id (the CRM id) unless the header also names the CRM id explicitly (`crm_id`, `User
//! ID`, …), as Roster's export does; then `id` is Roster's own user id and is not read.

use std::fmt;

/// A field of [`crate::ports::CrmUser`] (plus the modification time) a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The CRM's id of the user (Salesforce's `Id`, Roster's `crm_id`).
    Id,
    /// The given name.
    FirstName,
    /// The family name.
    LastName,
    /// The address.
    Email,
    /// The work phone.
    Phone,
    /// The mobile phone, read when there is no work phone.
    MobilePhone,
    /// Whether the CRM counts the user active.
    Active,
    /// The job title.
    Title,
    /// When the CRM last changed the user.
    Modified,
}

impl Field {
    /// Every field, in the order of their slots.
    pub const ALL: [Self; 9] = [
        Self::Id,
        Self::FirstName,
        Self::LastName,
        Self::Email,
        Self::Phone,
        Self::MobilePhone,
        Self::Active,
        Self::Title,
        Self::Modified,
    ];

    /// The header names (normalized: lower case, no separators) that mean this field.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Id => &["id", "crmid", "userid", "salesforceid", "externalid"],
            Self::FirstName => &["firstname", "givenname", "first"],
            Self::LastName => &["lastname", "surname", "familyname", "last"],
            Self::Email => &["email", "emailaddress", "mail"],
            Self::Phone => &["phone", "phonenumber", "telephone", "workphone", "businessphone"],
            Self::MobilePhone => &["mobilephone", "mobile", "mobilenumber", "cellphone"],
            Self::Active => &["active", "isactive", "enabled"],
            Self::Title => &["title", "jobtitle"],
            Self::Modified => {
                &["systemmodstamp", "lastmodifieddate", "lastmodified", "modifiedat", "updatedat", "modified"]
            }
        }
    }

    /// The name error messages use (the snake_case header).
    pub fn name(self) -> &'static str {
        match self {
            Self::Id => "crm_id",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::MobilePhone => "mobile_phone",
            Self::Active => "active",
            Self::Title => "title",
            Self::Modified => "modified_at",
        }
    }

    /// The columns a CRM directory file must have.
    pub const DIRECTORY_REQUIRED: [Self; 4] = [Self::Id, Self::FirstName, Self::LastName, Self::Email];

    /// The columns an upload of users must have (§10: `POST /users/import`).
    pub const UPLOAD_REQUIRED: [Self; 3] = [Self::Email, Self::FirstName, Self::LastName];
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A header that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Required fields with no column.
    Missing {
        /// The fields without a column, in [`Field::ALL`] order.
        missing: Vec<Field>,
        /// The header as given.
        found: Vec<String>,
    },
    /// Two columns name the same field.
    Duplicate {
        /// The field named twice.
        field: Field,
        /// The first column naming it, as given.
        first: String,
        /// The second column naming it, as given.
        second: String,
    },
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { missing, found } => {
                let missing: Vec<String> =
                    missing.iter().map(|field| format!("{field} (or {})", field.aliases().join("/"))).collect();
                let found: Vec<String> = found.iter().map(|c| format!("`{c}`")).collect();
                write!(f, "no column for {}; its columns are {}", missing.join(", "), found.join(", "))
            }
            Self::Duplicate { field, first, second } => {
                write!(f, "the columns `{first}` and `{second}` both hold {field}")
            }
        }
    }
}

/// The position of each field's column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    positions: [Option<usize>; 9],
}

/// A header name as matched: lower case, without spaces, `_`, `-` and `.`.
fn normalize(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.')).flat_map(char::to_lowercase).collect()
}

impl Columns {
    /// Maps a header row; each of `required` must have a column.
    ///
    /// # Errors
    /// Every required field without a column, or the first field two columns name.
    pub fn map(header: &[String], required: &[Field]) -> Result<Self, HeaderProblem> {
        let mut positions: [Option<usize>; 9] = [None; 9];
        let normalized: Vec<String> = header.iter().map(|n| normalize(n)).collect();
        // Roster's export has both `id` (its own user id) and `crm_id`: then `id` is not the CRM's.
        let explicit_crm_id = normalized.iter().any(|n| n != "id" && Field::Id.aliases().contains(&n.as_str()));
        for (at, (name, normalized)) in header.iter().zip(&normalized).enumerate() {
            if explicit_crm_id && normalized == "id" {
                continue;
            }
            let Some(slot) = Field::ALL.iter().position(|f| f.aliases().contains(&normalized.as_str())) else {
                continue;
            };
            if let Some(first) = positions[slot] {
                return Err(HeaderProblem::Duplicate {
                    field: Field::ALL[slot],
                    first: header[first].clone(),
                    second: name.clone(),
                });
            }
            positions[slot] = Some(at);
        }
        let columns = Self { positions };
        let missing: Vec<Field> =
            Field::ALL.into_iter().filter(|f| required.contains(f) && columns.position(*f).is_none()).collect();
        if missing.is_empty() { Ok(columns) } else { Err(HeaderProblem::Missing { missing, found: header.to_vec() }) }
    }

    /// The position of `field`'s column, if the header has one.
    pub fn position(&self, field: Field) -> Option<usize> {
        Field::ALL.iter().position(|f| *f == field).and_then(|slot| self.positions[slot])
    }

    /// The cell of `field` in `row`, if the file has that column.
    pub fn cell<'a>(&self, row: &'a [String], field: Field) -> Option<&'a str> {
        self.position(field).and_then(|at| row.get(at)).map(String::as_str)
    }

    /// The columns of `header` whose values a reader of only `read` fields leaves unread, as
    /// given: those no field claims and those of fields outside `read`.
    pub fn unused(&self, header: &[String], read: &[Field]) -> Vec<String> {
        header
            .iter()
            .enumerate()
            .filter(|(at, _)| !read.iter().any(|f| self.position(*f) == Some(*at)))
            .map(|(_, name)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn salesforce_labels_and_snake_case_all_map() {
        for names in [
            &["Id", "FirstName", "LastName", "Email", "IsActive"][..],
            &["crm_id", "first_name", "last_name", "email", "active"],
            &["User ID", "First Name", "LAST NAME", "E-mail", "Active"],
        ] {
            let columns = Columns::map(&header(names), &Field::DIRECTORY_REQUIRED).expect("maps");
            assert_eq!(columns.position(Field::Id), Some(0));
            assert_eq!(columns.position(Field::Email), Some(3));
            assert_eq!(columns.position(Field::Active), Some(4));
            assert_eq!(columns.position(Field::Title), None);
        }
    }

    #[test]
    fn missing_required_columns_are_all_named() {
        let err =
            Columns::map(&header(&["Id", "Name", "Department"]), &Field::DIRECTORY_REQUIRED).expect_err("missing");
        let HeaderProblem::Missing { missing, .. } = &err else { panic!("{err:?}") };
        assert_eq!(missing, &[Field::FirstName, Field::LastName, Field::Email]);
        assert!(err.to_string().contains("first_name (or firstname/"), "{err}");
    }

    #[test]
    fn two_columns_for_one_field_are_refused() {
        let names = header(&["crm_id", "first_name", "last_name", "Email", "E-mail"]);
        let err = Columns::map(&names, &Field::DIRECTORY_REQUIRED).expect_err("duplicate");
        assert_eq!(
            err,
            HeaderProblem::Duplicate { field: Field::Email, first: "Email".into(), second: "E-mail".into() }
        );
        let names = header(&["crm_id", "User ID", "first_name", "last_name", "email"]);
        let err = Columns::map(&names, &Field::DIRECTORY_REQUIRED).expect_err("duplicate");
        assert!(matches!(err, HeaderProblem::Duplicate { field: Field::Id, .. }), "{err:?}");
    }

    #[test]
    fn in_rosters_export_id_is_rosters_own_and_crm_id_is_the_crm_id() {
        let names = header(&["id", "email", "first_name", "last_name", "status", "phone", "crm_id", "roles"]);
        let columns = Columns::map(&names, &Field::UPLOAD_REQUIRED).expect("maps");
        assert_eq!(columns.position(Field::Id), Some(6));
        let read = [Field::Id, Field::Email, Field::FirstName, Field::LastName, Field::Phone];
        assert_eq!(columns.unused(&names, &read), ["id", "status", "roles"]);
        // Salesforce's export has no other CRM id column: there `Id` is the CRM id.
        let names = header(&["Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "IsActive"]);
        let columns = Columns::map(&names, &Field::UPLOAD_REQUIRED).expect("maps");
        assert_eq!(columns.position(Field::Id), Some(0));
        assert_eq!(columns.unused(&names, &read), ["MobilePhone", "Title", "IsActive"]);
    }

    #[test]
    fn an_upload_needs_no_crm_id_but_names_every_missing_column() {
        let err = Columns::map(&header(&["Email", "Name"]), &Field::UPLOAD_REQUIRED).expect_err("missing");
        let HeaderProblem::Missing { missing, .. } = &err else { panic!("{err:?}") };
        assert_eq!(missing, &[Field::FirstName, Field::LastName]);
    }
}
