//! What the two directories share about a CRM user record: the size of a search page, how a
//! job title is tidied, and Salesforce's datetime form (its CSV exports write it too).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Users per search page, in every directory (the same size as the in-memory directory's).
pub const SEARCH_PAGE_SIZE: u32 = 50;

/// A job title with its whitespace collapsed; blank is none.
pub(crate) fn clean_title(title: Option<&str>) -> Option<String> {
    let words: Vec<&str> = title?.split_whitespace().collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Parses Salesforce's datetime form `2024-01-31T09:30:15.000+0000` (no colon in the offset),
/// and RFC 3339 as well.
pub(crate) fn parse_salesforce_datetime(value: &str) -> Option<OffsetDateTime> {
    let salesforce = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(value, &salesforce).ok().or_else(|| OffsetDateTime::parse(value, &Rfc3339).ok())
}
