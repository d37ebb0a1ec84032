//! A CSV file of users, read the same way wherever one comes from: the CRM directory kept as a
//! file (§8.3) and an admin's upload (§10 `POST /users/import`). [`reader`] is the grammar
//! (strict RFC 4180, line numbers kept), [`columns`] says which column holds which field
//! (Roster's, Salesforce's and snake_case names), and this module reads an upload into
//! [`UploadRow`]s and judges each row by the rules a new member must meet ([`judge_rows`]).
//!
//! What an upload can be refused for as a whole, before any row is looked at: bytes that are
//! not UTF-8 or broken quoting (the lines are named: after a broken quote no field can be
//! trusted), no header, a required column missing or a field named by two columns. Everything
//! else is a row's own outcome, so that one bad row never hides the others.

pub mod columns;
pub mod reader;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use columns::{Columns, Field, HeaderProblem};
pub use reader::{Record, SyntaxProblem};

use crate::invites::NewMember;
use crate::values::{CrmId, Email, PersonName, Phone, ValueError};

/// The fields an upload reads; its other columns are reported as ignored.
pub const UPLOAD_FIELDS: [Field; 6] =
    [Field::Email, Field::FirstName, Field::LastName, Field::Phone, Field::MobilePhone, Field::Id];

/// Why an upload cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// The bytes are not UTF-8 from this line on.
    NotUtf8 {
        /// The 1-based line of the first byte that is not UTF-8.
        line: usize,
    },
    /// Quoting is broken on these lines.
    Syntax(Vec<SyntaxProblem>),
    /// Nothing but blank lines: no header.
    Empty,
    /// The header does not name the required columns, or names one field twice.
    Header {
        /// The header's line.
        line: usize,
        /// What is wrong with it.
        problem: HeaderProblem,
    },
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 { line } => write!(f, "line {line} is not UTF-8 text (save the file as UTF-8)"),
            Self::Syntax(problems) => {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                write!(f, "broken quoting: {}", lines.join("; "))
            }
            Self::Empty => f.write_str("the file is empty; its first line must name the columns"),
            Self::Header { line, problem } => write!(f, "the header on line {line}: {problem}"),
        }
    }
}

/// A row whose number of fields differs from the header's: its values cannot be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misshapen {
    /// The fields the row has.
    pub found: usize,
    /// The fields the header has.
    pub expected: usize,
}

/// One data row of an upload, as text: what the file says, before any rule. A job keeps these
/// as its input, so that it judges them exactly as the request would have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRow {
    /// The position among the data rows, from 1 (blank lines are not rows).
    pub row: u64,
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    /// The `email` cell.
    pub email: String,
    /// The `first_name` cell.
    pub first_name: String,
    /// The `last_name` cell.
    pub last_name: String,
    /// The `phone` cell; empty without the column.
    #[serde(default)]
    pub phone: String,
    /// The `mobile_phone` cell; empty without the column.
    #[serde(default)]
    pub mobile_phone: String,
    /// The CRM id cell; empty without the column.
    #[serde(default)]
    pub crm_id: String,
    /// Set when the row's number of fields differs from the header's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misshapen: Option<Misshapen>,
}

/// An upload read: its rows and the columns it does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The data rows, in file order.
    pub rows: Vec<UploadRow>,
    /// The header's columns no field of [`UPLOAD_FIELDS`] reads, as given.
    pub ignored_columns: Vec<String>,
}

/// Reads an upload: UTF-8 with an optional byte-order mark, RFC 4180 quoting, the delimiter
/// sniffed from the header (`,`, `;` or tab), the first non-blank line the header, blank lines
/// skipped.
///
/// # Errors
/// [`UploadError`]: the file as a whole cannot be read.
pub fn parse_upload(bytes: &[u8]) -> Result<Upload, UploadError> {
    let text = std::str::from_utf8(bytes).map_err(|e| UploadError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = reader::read(text, reader::sniff_delimiter(text)).map_err(UploadError::Syntax)?;
    let mut records = records.into_iter().filter(|r| r.fields.iter().any(|f| !f.trim().is_empty()));
    let header = records.next().ok_or(UploadError::Empty)?;
    let columns = Columns::map(&header.fields, &Field::UPLOAD_REQUIRED)
        .map_err(|problem| UploadError::Header { line: header.line, problem })?;
    let rows = records
        .zip(1u64..)
        .map(|(record, row)| {
            let cell = |field| columns.cell(&record.fields, field).unwrap_or_default().to_owned();
            let misshapen = (record.fields.len() != header.fields.len())
                .then_some(Misshapen { found: record.fields.len(), expected: header.fields.len() });
            UploadRow {
                row,
                line: record.line as u64,
                email: cell(Field::Email),
                first_name: cell(Field::FirstName),
                last_name: cell(Field::LastName),
                phone: cell(Field::Phone),
                mobile_phone: cell(Field::MobilePhone),
                crm_id: cell(Field::Id),
                misshapen,
            }
        })
        .collect();
    Ok(Upload { rows, ignored_columns: columns.unused(&header.fields, &UPLOAD_FIELDS) })
}

/// A value of a row that breaks a rule: which field, a stable code and words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowFieldError {
    /// The field (`email`, `first_name`, `last_name`, `phone`, `mobile_phone`, `crm_id`), or
    /// `row` for the row as a whole.
    pub field: String,
    /// `required`, a value code (`invalid_format`, `too_long`, …), `field_count`, or `taken`.
    pub code: String,
    /// A sentence a person can read.
    pub message: String,
}

impl RowFieldError {
    fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), code: code.to_owned(), message: message.into() }
    }
}

/// What the rules say of one row, before the organization is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowVerdict {
    /// Every value is valid: a member to create, unless the organization says otherwise.
    Valid(NewMember),
    /// Values break the rules; each is named.
    Invalid(Vec<RowFieldError>),
    /// An earlier valid row of the file has the same email or CRM id.
    Duplicate {
        /// The earlier row's number.
        of_row: u64,
        /// `email` or `crm_id`.
        field: &'static str,
    },
}

/// Judges every row, in order: the required values present, every value valid by its type
/// (an email, names, a phone — the work phone, else the mobile one —, a CRM id), and a valid
/// row's email and CRM id not those of an earlier valid row (the first one counts; an invalid
/// row claims nothing). Answers one verdict per row.
pub fn judge_rows(rows: &[UploadRow]) -> Vec<RowVerdict> {
    let mut emails: BTreeMap<Email, u64> = BTreeMap::new();
    let mut crm_ids: BTreeMap<CrmId, u64> = BTreeMap::new();
    rows.iter()
        .map(|row| {
            let member = match judge_row(row) {
                Ok(member) => member,
                Err(errors) => return RowVerdict::Invalid(errors),
            };
            if let Some(first) = emails.get(&member.email) {
                return RowVerdict::Duplicate { of_row: *first, field: "email" };
            }
            if let Some(first) = member.crm_id.as_ref().and_then(|id| crm_ids.get(id)) {
                return RowVerdict::Duplicate { of_row: *first, field: "crm_id" };
            }
            emails.insert(member.email.clone(), row.row);
            if let Some(id) = &member.crm_id {
                crm_ids.insert(id.clone(), row.row);
            }
            RowVerdict::Valid(member)
        })
        .collect()
}

/// One row's values, or every one that breaks a rule.
fn judge_row(row: &UploadRow) -> Result<NewMember, Vec<RowFieldError>> {
    if let Some(shape) = row.misshapen {
        return Err(vec![RowFieldError::new(
            "row",
            "field_count",
            format!(
                "has {} fields where the header has {} (a delimiter inside an unquoted value?)",
                shape.found, shape.expected
            ),
        )]);
    }
    let mut errors = Vec::new();
    let email = required(&mut errors, "email", &row.email, Email::parse);
    let first_name = required(&mut errors, "first_name", &row.first_name, PersonName::parse);
    let last_name = required(&mut errors, "last_name", &row.last_name, PersonName::parse);
    let phone = if row.phone.trim().is_empty() {
        optional(&mut errors, "mobile_phone", &row.mobile_phone, Phone::parse)
    } else {
        optional(&mut errors, "phone", &row.phone, Phone::parse)
    };
    let crm_id = optional(&mut errors, "crm_id", &row.crm_id, CrmId::parse);
    match (email, first_name, last_name) {
        (Some(email), Some(first_name), Some(last_name)) if errors.is_empty() => {
            Ok(NewMember { email, first_name, last_name, phone, crm_id })
        }
        _ => Err(errors),
    }
}

fn required<T>(
    errors: &mut Vec<RowFieldError>,
    field: &str,
    text: &str,
    parse: fn(&str) -> Result<T, ValueError>,
) -> Option<T> {
    if text.trim().is_empty() {
        errors.push(RowFieldError::new(field, "required", "is required"));
        return None;
    }
    optional(errors, field, text, parse)
}

fn optional<T>(
    errors: &mut Vec<RowFieldError>,
    field: &str,
    text: &str,
    parse: fn(&str) -> Result<T, ValueError>,
) -> Option<T> {
    if text.trim().is_empty() {
        return None;
    }
    parse(text).map_err(|e| errors.push(RowFieldError::new(field, e.code(), format!("`{}` {e}", text.trim())))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(text: &str) -> Upload {
        parse_upload(text.as_bytes()).expect("reads")
    }

    #[test]
    fn a_byte_order_mark_semicolons_and_blank_lines_are_read() {
        let up = upload("\u{feff}Email;First Name;Last Name;Department\r\n\r\nada@x.example;Ada;Lovelace;R&D\r\n");
        assert_eq!(up.ignored_columns, ["Department"]);
        assert_eq!(up.rows.len(), 1);
        assert_eq!((up.rows[0].row, up.rows[0].line), (1, 3));
        assert_eq!(up.rows[0].first_name, "Ada");
    }

    #[test]
    fn bytes_that_are_not_utf8_name_their_line() {
        let err = parse_upload(b"email,first_name,last_name\na@x.example,Ren\xe9,X\n").expect_err("latin-1");
        assert_eq!(err, UploadError::NotUtf8 { line: 2 });
    }

    #[test]
    fn a_row_with_too_few_fields_is_invalid_as_a_whole() {
        let up = upload("email,first_name,last_name\na@x.example,Ada\n");
        let verdicts = judge_rows(&up.rows);
        let RowVerdict::Invalid(errors) = &verdicts[0] else { panic!("{verdicts:?}") };
        assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("row", "field_count"));
    }

    #[test]
    fn every_bad_value_of_a_row_is_named() {
        let up = upload("email,first_name,last_name,phone\nnot-an-email,,Lovelace,12\n");
        let RowVerdict::Invalid(errors) = &judge_rows(&up.rows)[0] else { panic!() };
        let named: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(named, [("email", "invalid_format"), ("first_name", "required"), ("phone", "invalid_format")]);
    }

    #[test]
    fn the_mobile_phone_is_read_when_there_is_no_work_phone() {
        let up = upload("Email,FirstName,LastName,Phone,MobilePhone\na@x.example,A,B,,+14155550100\n");
        let RowVerdict::Valid(member) = &judge_rows(&up.rows)[0] else { panic!() };
        assert_eq!(member.phone.as_ref().map(Phone::as_str), Some("+14155550100"));
    }
}
