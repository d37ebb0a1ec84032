//! The CSV directory: a file of users exported from any CRM.
//!
//! The header row names the columns (matched as every CSV of users is,
//! [`roster_domain::user_csv::columns`]); `crm_id`, `first_name`, `last_name` and
//! `email` are required, `phone`, `mobile_phone`, `active` (default true), `title` and a
//! modification time (`SystemModstamp`, `LastModifiedDate`, `modified_at`…; default the file's
//! own modification time) are optional, any other column is ignored. A UTF-8 byte-order mark,
//! quoted fields, CRLF and `;` or tab delimiters are read.
//!
//! What is wrong is reported with line numbers, by two rules (docs/decisions/0015):
//! - **The file is refused** when it cannot be read reliably: not UTF-8, no header, a required
//!   column missing, two columns for one field, or broken quoting anywhere (a broken quote
//!   shifts every field after it, so no row after it can be trusted). The error lists every
//!   broken line.
//! - **A bad row is skipped** when the file reads fine but a row's values do not (a bad email,
//!   a blank name, an unknown `active` value, a repeated id, a wrong number of fields): the
//!   other rows are served and [`CsvDirectory::problems`] lists each skipped row by line. A
//!   phone that is not a valid international number is dropped from its row, and listed too.
//!
//! The file is read when the directory is opened and read again whenever its modification time
//! or size changes, so edits are picked up without a restart; a changed file that is refused
//! makes calls fail with that error until it is fixed.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use roster_domain::ports::{CrmDirectory, CrmError, CrmPage, CrmUser};
use roster_domain::values::{CrmId, Email, PersonName, Phone};
use thiserror::Error;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use roster_domain::user_csv::{Columns, reader};
pub use roster_domain::user_csv::{Field, HeaderProblem, SyntaxProblem};

use crate::fields::{SEARCH_PAGE_SIZE, clean_title, parse_salesforce_datetime};

/// Why a CSV file is refused as a whole.
#[derive(Debug, Error)]
pub enum CsvError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: line {line} is not UTF-8 text (save the export as UTF-8)")]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("{path}: the file is empty; the first line must name the columns")]
    Empty { path: PathBuf },
    #[error("{path}: the header on line {line}: {problem}")]
    Header { path: PathBuf, line: usize, problem: HeaderProblem },
    #[error("{path}: broken quoting on {} line(s): {}", problems.len(), list(problems))]
    Syntax { path: PathBuf, problems: Vec<SyntaxProblem> },
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// A row that was skipped, or a value that was dropped from a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The 1-based line the row starts on.
    pub line: usize,
    /// The column at fault, if one is.
    pub field: Option<Field>,
    /// What is wrong.
    pub message: String,
    /// Whether the whole row was left out (otherwise only the named value was).
    pub skipped: bool,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        if let Some(field) = self.field {
            write!(f, "{field} ")?;
        }
        f.write_str(&self.message)?;
        if !self.skipped {
            f.write_str(" (value dropped, row kept)")?;
        }
        Ok(())
    }
}

/// One reading of the file.
#[derive(Debug)]
struct Snapshot {
    /// The modification time and size it was read at.
    stamp: (Option<SystemTime>, u64),
    users: Vec<(CrmUser, OffsetDateTime)>,
    index: HashMap<CrmId, usize>,
    problems: Vec<RowProblem>,
}

/// A [`CrmDirectory`] over a CSV file.
#[derive(Debug)]
pub struct CsvDirectory {
    path: PathBuf,
    /// The last reading.
    current: RwLock<Arc<Snapshot>>,
    /// Held while checking the file and reading it again, so one reload runs at a time.
    reload: Mutex<()>,
}

impl CsvDirectory {
    /// Reads the file at `path`.
    ///
    /// # Errors
    /// [`CsvError`] if the file is refused (see the module documentation); skipped rows are
    /// not errors but [`CsvDirectory::problems`].
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, CsvError> {
        let path = path.into();
        let meta = std::fs::metadata(&path).map_err(|source| CsvError::Io { path: path.clone(), source })?;
        let bytes = std::fs::read(&path).map_err(|source| CsvError::Io { path: path.clone(), source })?;
        let snapshot = load(&path, &bytes, stamp_of(&meta))?;
        Ok(Self { path, current: RwLock::new(Arc::new(snapshot)), reload: Mutex::new(()) })
    }

    /// The file this directory reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rows skipped (or values dropped) at the last reading, in line order.
    pub fn problems(&self) -> Vec<RowProblem> {
        self.last().problems.clone()
    }

    /// How many users the last reading holds.
    pub fn len(&self) -> usize {
        self.last().users.len()
    }

    /// Whether the last reading holds no user.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn last(&self) -> Arc<Snapshot> {
        // A reading is replaced whole, so a poisoned lock still holds a complete one.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The current reading: the file is read again if it changed since the last one.
    async fn snapshot(&self) -> Result<Arc<Snapshot>, CrmError> {
        let _one_at_a_time = self.reload.lock().await;
        let last = self.last();
        let meta = tokio::fs::metadata(&self.path).await.map_err(|source| unavailable(&self.path, source))?;
        let stamp = stamp_of(&meta);
        if stamp == last.stamp {
            return Ok(last);
        }
        let bytes = tokio::fs::read(&self.path).await.map_err(|source| unavailable(&self.path, source))?;
        let snapshot = Arc::new(load(&self.path, &bytes, stamp).map_err(|e| CrmError::Protocol(e.to_string()))?);
        log_problems(&self.path, &snapshot.problems);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&snapshot);
        Ok(snapshot)
    }
}

fn unavailable(path: &Path, source: std::io::Error) -> CrmError {
    CrmError::Unavailable(Box::new(CsvError::Io { path: path.to_owned(), source }))
}

fn stamp_of(meta: &std::fs::Metadata) -> (Option<SystemTime>, u64) {
    (meta.modified().ok(), meta.len())
}

/// Logs the skipped rows of a reading (the first 20, then a count).
pub(crate) fn log_problems(path: &Path, problems: &[RowProblem]) {
    for problem in problems.iter().take(20) {
        tracing::warn!(path = %path.display(), %problem, "CRM CSV row problem");
    }
    if problems.len() > 20 {
        tracing::warn!(path = %path.display(), more = problems.len() - 20, "more CRM CSV row problems");
    }
}

/// Reads a whole file.
fn load(path: &Path, bytes: &[u8], stamp: (Option<SystemTime>, u64)) -> Result<Snapshot, CsvError> {
    let text = std::str::from_utf8(bytes).map_err(|e| CsvError::NotUtf8 {
        path: path.to_owned(),
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let delimiter = reader::sniff_delimiter(text);
    let records =
        reader::read(text, delimiter).map_err(|problems| CsvError::Syntax { path: path.to_owned(), problems })?;
    let mut records = records.into_iter().filter(|r| r.fields.iter().any(|f| !f.trim().is_empty()));
    let header = records.next().ok_or_else(|| CsvError::Empty { path: path.to_owned() })?;
    let columns = Columns::map(&header.fields, &Field::DIRECTORY_REQUIRED).map_err(|problem| CsvError::Header {
        path: path.to_owned(),
        line: header.line,
        problem,
    })?;
    let file_time = stamp.0.map_or(OffsetDateTime::UNIX_EPOCH, OffsetDateTime::from);
    let mut snapshot = Snapshot { stamp, users: Vec::new(), index: HashMap::new(), problems: Vec::new() };
    // The line each kept user came from, for the message about a repeated id.
    let mut lines: Vec<usize> = Vec::new();
    for record in records {
        if record.fields.len() != header.fields.len() {
            snapshot.problems.push(RowProblem {
                line: record.line,
                field: None,
                message: format!(
                    "has {} fields, the header has {} (a delimiter inside an unquoted value?)",
                    record.fields.len(),
                    header.fields.len()
                ),
                skipped: true,
            });
            continue;
        }
        match row(&columns, &record.fields, file_time) {
            Ok((user, modified, dropped)) => {
                snapshot.problems.extend(dropped.into_iter().map(|(field, message)| RowProblem {
                    line: record.line,
                    field: Some(field),
                    message,
                    skipped: false,
                }));
                if let Some(first) = snapshot.index.get(&user.crm_id) {
                    snapshot.problems.push(RowProblem {
                        line: record.line,
                        field: Some(Field::Id),
                        message: format!("{} is already on line {}; the first row is kept", user.crm_id, lines[*first]),
                        skipped: true,
                    });
                    continue;
                }
                snapshot.index.insert(user.crm_id.clone(), snapshot.users.len());
                lines.push(record.line);
                snapshot.users.push((user, modified));
            }
            Err((field, message)) => {
                snapshot.problems.push(RowProblem { line: record.line, field: Some(field), message, skipped: true });
            }
        }
    }
    Ok(snapshot)
}

type RowFailure = (Field, String);

/// One row as a user, its modification time, and the optional values it had to drop.
fn row(
    columns: &Columns,
    fields: &[String],
    file_time: OffsetDateTime,
) -> Result<(CrmUser, OffsetDateTime, Vec<RowFailure>), RowFailure> {
    let cell = |field| columns.cell(fields, field).unwrap_or_default();
    let fail = |field: Field| move |e: roster_domain::values::ValueError| (field, e.to_string());
    let crm_id = CrmId::parse(cell(Field::Id)).map_err(fail(Field::Id))?;
    let first_name = PersonName::parse(cell(Field::FirstName)).map_err(fail(Field::FirstName))?;
    let last_name = PersonName::parse(cell(Field::LastName)).map_err(fail(Field::LastName))?;
    let email = Email::parse(cell(Field::Email)).map_err(fail(Field::Email))?;
    let active = parse_active(cell(Field::Active)).ok_or_else(|| {
        (Field::Active, format!("`{}` is not one of true/false, yes/no, 1/0, active/inactive", cell(Field::Active)))
    })?;
    let modified = match cell(Field::Modified).trim() {
        "" => file_time,
        text => parse_time(text).ok_or_else(|| {
            (Field::Modified, format!("`{text}` is not a date-time (2024-01-31T09:30:00Z) or a date (2024-01-31)"))
        })?,
    };
    let mut dropped = Vec::new();
    let mut phone = None;
    for field in [Field::Phone, Field::MobilePhone] {
        let text = cell(field).trim();
        if text.is_empty() || phone.is_some() {
            continue;
        }
        match Phone::parse(text) {
            Ok(p) => phone = Some(p),
            Err(e) => dropped.push((field, format!("`{text}` {e}"))),
        }
    }
    let title = clean_title(Some(cell(Field::Title)));
    Ok((CrmUser { crm_id, first_name, last_name, email, phone, active, title }, modified, dropped))
}

/// `active` values; blank means active (as a file without the column).
fn parse_active(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "y" | "1" | "t" | "active" => Some(true),
        "false" | "no" | "n" | "0" | "f" | "inactive" => Some(false),
        _ => None,
    }
}

/// RFC 3339, Salesforce's `2024-01-31T09:30:15.000+0000`, or a date (midnight UTC).
fn parse_time(text: &str) -> Option<OffsetDateTime> {
    parse_salesforce_datetime(text).or_else(|| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, &format).ok().map(|d| d.midnight().assume_utc())
    })
}

#[async_trait]
impl CrmDirectory for CsvDirectory {
    async fn search(&self, query: &str, page: u32) -> Result<CrmPage, CrmError> {
        let snapshot = self.snapshot().await?;
        let needle = query.trim().to_lowercase();
        let size = SEARCH_PAGE_SIZE as usize;
        let start = usize::try_from(page).unwrap_or(usize::MAX).saturating_mul(size);
        let mut hits = snapshot.users.iter().map(|(u, _)| u).filter(|u| u.matches_search(&needle)).skip(start);
        let users: Vec<CrmUser> = hits.by_ref().take(size).cloned().collect();
        let more = hits.next().is_some();
        Ok(CrmPage { users, next_page: more.then(|| page + 1) })
    }

    async fn get(&self, ids: &[CrmId]) -> Result<Vec<CrmUser>, CrmError> {
        let snapshot = self.snapshot().await?;
        let mut seen = HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| snapshot.index.get(id).map(|at| snapshot.users[*at].0.clone()))
            .collect())
    }

    async fn list_changed_since(&self, since: OffsetDateTime) -> Result<Vec<CrmUser>, CrmError> {
        let snapshot = self.snapshot().await?;
        Ok(snapshot.users.iter().filter(|(_, at)| *at >= since).map(|(u, _)| u.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_values() {
        for yes in ["", "TRUE", " yes", "1", "Active"] {
            assert_eq!(parse_active(yes), Some(true), "{yes}");
        }
        for no in ["false", "No", "0", "inactive"] {
            assert_eq!(parse_active(no), Some(false), "{no}");
        }
        assert_eq!(parse_active("maybe"), None);
    }

    #[test]
    fn times_in_three_forms() {
        use time::macros::datetime;
        assert_eq!(parse_time("2024-01-31T09:30:15.000+0000"), Some(datetime!(2024-01-31 09:30:15 UTC)));
        assert_eq!(parse_time("2024-01-31T10:30:15+01:00"), Some(datetime!(2024-01-31 09:30:15 UTC)));
        assert_eq!(parse_time("2024-01-31"), Some(datetime!(2024-01-31 0:00 UTC)));
        assert_eq!(parse_time("31/01/2024"), None);
    }
}
