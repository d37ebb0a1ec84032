//! Which column holds which field: headers matched by name, ignoring case, spaces, `_`, `-`
//! and `.`, so Salesforce's export (`Id, FirstName, …`), its report labels (`First Name`,
//! `User ID`) and snake_case (`crm_id, first_name, …`) all work. Other columns are ignored.

use std::fmt;

/// A field of [`roster_domain::ports::CrmUser`] (plus the modification time) a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    FirstName,
    LastName,
    Email,
    Phone,
    MobilePhone,
    Active,
    Title,
    Modified,
}

impl Field {
    const ALL: [Self; 9] = [
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

    const REQUIRED: [Self; 4] = [Self::Id, Self::FirstName, Self::LastName, Self::Email];
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A header that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Required fields with no column; `found` lists the header as given.
    Missing { missing: Vec<Field>, found: Vec<String> },
    /// Two columns name the same field.
    Duplicate { field: Field, first: String, second: String },
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    positions: [Option<usize>; 9],
}

impl Columns {
    /// Maps a header row.
    pub(crate) fn map(header: &[String]) -> Result<Self, HeaderProblem> {
        let mut positions: [Option<usize>; 9] = [None; 9];
        for (at, name) in header.iter().enumerate() {
            let normalized: String = name
                .chars()
                .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.'))
                .flat_map(char::to_lowercase)
                .collect();
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
        let missing: Vec<Field> = Field::REQUIRED.into_iter().filter(|f| columns.position(*f).is_none()).collect();
        if missing.is_empty() { Ok(columns) } else { Err(HeaderProblem::Missing { missing, found: header.to_vec() }) }
    }

    pub(crate) fn position(&self, field: Field) -> Option<usize> {
        Field::ALL.iter().position(|f| *f == field).and_then(|slot| self.positions[slot])
    }

    /// The cell of `field` in `row`, if the file has that column.
    pub(crate) fn cell<'a>(&self, row: &'a [String], field: Field) -> Option<&'a str> {
        self.position(field).and_then(|at| row.get(at)).map(String::as_str)
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
            let columns = Columns::map(&header(names)).expect("maps");
            assert_eq!(columns.position(Field::Id), Some(0));
            assert_eq!(columns.position(Field::Email), Some(3));
            assert_eq!(columns.position(Field::Active), Some(4));
            assert_eq!(columns.position(Field::Title), None);
        }
    }

    #[test]
    fn missing_required_columns_are_all_named() {
        let err = Columns::map(&header(&["Id", "Name", "Department"])).expect_err("missing");
        let HeaderProblem::Missing { missing, .. } = &err else { panic!("{err:?}") };
        assert_eq!(missing, &[Field::FirstName, Field::LastName, Field::Email]);
        assert!(err.to_string().contains("first_name (or firstname/"), "{err}");
    }

    #[test]
    fn two_columns_for_one_field_are_refused() {
        let err = Columns::map(&header(&["Id", "crm_id", "first_name", "last_name", "email"])).expect_err("duplicate");
        assert_eq!(err, HeaderProblem::Duplicate { field: Field::Id, first: "Id".into(), second: "crm_id".into() });
    }
}
