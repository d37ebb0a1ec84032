//! The SOQL statements the Salesforce directory sends, and the escaping of user input in them.
//!
//! User input only ever reaches a statement inside a string literal written by [`literal`] or
//! [`like_contains`], which escape it as Salesforce's "Quoted String Escape Sequences" say:
//! `\\`, `\'`, `\"`, `\n`, `\r`, `\t`, `\b`, `\f`, and — inside `LIKE` only — `\%` and `\_`
//! so that the user's `%` and `_` match themselves instead of acting as wildcards. Other control
//! characters cannot be part of a name or an address and are dropped.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::macros::format_description;

/// The `User` fields every statement selects, in the order the wire type reads them.
pub(crate) const USER_FIELDS: &str =
    "Id, FirstName, LastName, Name, Email, Phone, MobilePhone, IsActive, Title, SystemModstamp";

/// Writes `input` as the body of a SOQL string literal (without the surrounding quotes).
fn escape_into(out: &mut String, input: &str, in_like: bool) {
    for c in input.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '%' if in_like => out.push_str("\\%"),
            '_' if in_like => out.push_str("\\_"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

/// `input` as a complete SOQL string literal, quotes included.
pub(crate) fn literal(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 2);
    out.push('\'');
    escape_into(&mut out, input, false);
    out.push('\'');
    out
}

/// A `LIKE` pattern literal matching values that contain `input` anywhere.
pub(crate) fn like_contains(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 4);
    out.push_str("'%");
    escape_into(&mut out, input, true);
    out.push_str("%'");
    out
}

/// One page of a search by name or email: `LIMIT size + 1` tells whether another page follows.
/// An empty (or blank) `query` lists every user.
pub(crate) fn search(query: &str, offset: u32, size: u32) -> String {
    let mut soql = format!("SELECT {USER_FIELDS} FROM User");
    let query = query.trim();
    if !query.is_empty() {
        let pattern = like_contains(query);
        // `Name` is "First Last" (or the locale's order); the parts catch the rest. SOQL's LIKE
        // is case-insensitive, as the port asks.
        let _ = write!(
            soql,
            " WHERE (Name LIKE {pattern} OR FirstName LIKE {pattern} OR LastName LIKE {pattern} \
             OR Email LIKE {pattern})"
        );
    }
    let _ = write!(soql, " ORDER BY Name, Id LIMIT {} OFFSET {offset}", size + 1);
    soql
}

/// The users with these ids (each already checked to be a Salesforce id).
pub(crate) fn by_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = ids.into_iter().map(literal).collect();
    format!("SELECT {USER_FIELDS} FROM User WHERE Id IN ({})", list.join(", "))
}

/// Users whose `SystemModstamp` is at or after `since`, oldest first. SOQL datetime literals
/// have whole seconds, so the bound is rounded down; the caller drops the few rows of that
/// second that precede `since`.
pub(crate) fn changed_since(since: OffsetDateTime) -> String {
    format!(
        "SELECT {USER_FIELDS} FROM User WHERE SystemModstamp >= {} ORDER BY SystemModstamp, Id",
        datetime_literal(since)
    )
}

/// `since` in UTC as a SOQL datetime literal (`2024-01-31T09:30:00Z`), rounded down to the second.
pub(crate) fn datetime_literal(since: OffsetDateTime) -> String {
    let utc = since.to_offset(time::UtcOffset::UTC);
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    // Formatting a UTC time with a four-digit year cannot fail; years outside 0..=9999 (which
    // `time` accepts only with its large-dates feature, not enabled here) would.
    utc.format(&format).unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn quotes_backslashes_and_wildcards_are_escaped_in_like() {
        assert_eq!(like_contains(r#"O'Brien\ 50%_"x""#), r#"'%O\'Brien\\ 50\%\_\"x\"%'"#);
    }

    #[test]
    fn plain_literals_keep_wildcards_but_escape_quotes() {
        assert_eq!(literal("a_b%c'd"), r"'a_b%c\'d'");
    }

    #[test]
    fn line_breaks_become_escapes_and_other_controls_vanish() {
        assert_eq!(literal("a\nb\r\tc\u{0}\u{7f}d"), r"'a\nb\r\tcd'");
    }

    #[test]
    fn a_literal_can_never_end_early() {
        // Whatever the input, the only unescaped quote is the last character.
        for input in ["'", "\\'", "\\\\'", "x' OR Id != '", "%'--"] {
            let lit = like_contains(input);
            let inner = &lit[1..lit.len() - 1];
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => assert!(chars.next().is_some(), "a dangling escape in {lit}"),
                    '\'' => panic!("an unescaped quote in {lit}"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn search_without_text_lists_everyone_by_page() {
        assert_eq!(
            search("  ", 100, 50),
            format!("SELECT {USER_FIELDS} FROM User ORDER BY Name, Id LIMIT 51 OFFSET 100")
        );
    }

    #[test]
    fn search_matches_name_parts_and_email() {
        let soql = search(" ada ", 0, 50);
        assert!(
            soql.contains(
                "WHERE (Name LIKE '%ada%' OR FirstName LIKE '%ada%' OR LastName LIKE '%ada%' OR Email LIKE '%ada%')"
            ),
            "{soql}"
        );
    }

    #[test]
    fn changed_since_rounds_down_to_the_second_in_utc() {
        let soql = changed_since(datetime!(2024-01-31 10:30:15.75 +01:00));
        assert!(soql.ends_with("WHERE SystemModstamp >= 2024-01-31T09:30:15Z ORDER BY SystemModstamp, Id"), "{soql}");
    }

    #[test]
    fn ids_are_quoted_literals() {
        assert_eq!(by_ids(["005A", "005B"]), format!("SELECT {USER_FIELDS} FROM User WHERE Id IN ('005A', '005B')"));
    }
}
