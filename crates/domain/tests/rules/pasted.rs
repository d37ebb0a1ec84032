//! The pasted list of invitees (§8.1 bulk paste), invite tokens and the names derived for
//! pasted entries.

use roster_domain::invites::{PastedEntry, TOKEN_LIFETIME, hash_token, name_from_email, parse_pasted, split_name};
use time::Duration;

use crate::support::{email, name};

/// An entry as `(raw, Some((name, email)))` when it parsed, `(raw, None)` when it did not.
type Read = (String, Option<(Option<String>, String)>);

fn read(body: &str) -> Vec<Read> {
    parse_pasted(body)
        .into_iter()
        .map(|PastedEntry { raw, parsed }| (raw, parsed.ok().map(|(n, e)| (n.map(|n| n.to_string()), e.to_string()))))
        .collect()
}

fn ok(raw: &str, name: Option<&str>, email: &str) -> Read {
    (raw.to_owned(), Some((name.map(str::to_owned), email.to_owned())))
}

fn bad(raw: &str) -> Read {
    (raw.to_owned(), None)
}

#[test]
fn a_bare_address_is_an_entry_without_a_name() {
    assert_eq!(read("ada@example.com"), vec![ok("ada@example.com", None, "ada@example.com")]);
}

#[test]
fn a_name_and_address_in_angle_brackets_is_an_entry_with_a_name() {
    assert_eq!(
        read("Ada Lovelace <ada@example.com>"),
        vec![ok("Ada Lovelace <ada@example.com>", Some("Ada Lovelace"), "ada@example.com")]
    );
}

#[test]
fn quotes_around_the_name_are_dropped() {
    assert_eq!(
        read(r#""Ada Lovelace" <ada@example.com>"#),
        vec![ok(r#""Ada Lovelace" <ada@example.com>"#, Some("Ada Lovelace"), "ada@example.com")]
    );
}

#[test]
fn an_address_in_angle_brackets_alone_has_no_name() {
    assert_eq!(read("<ada@example.com>"), vec![ok("<ada@example.com>", None, "ada@example.com")]);
}

#[test]
fn a_csv_line_of_name_and_address_is_one_entry() {
    assert_eq!(
        read("Ada Lovelace, ada@example.com"),
        vec![ok("Ada Lovelace, ada@example.com", Some("Ada Lovelace"), "ada@example.com")]
    );
}

#[test]
fn entries_are_separated_by_commas_or_new_lines() {
    assert_eq!(
        read("ada@example.com, Bob <bob@example.com>\ncy@example.com"),
        vec![
            ok("ada@example.com", None, "ada@example.com"),
            ok("Bob <bob@example.com>", Some("Bob"), "bob@example.com"),
            ok("cy@example.com", None, "cy@example.com"),
        ]
    );
}

#[test]
fn windows_line_endings_separate_entries_too() {
    assert_eq!(
        read("ada@example.com\r\nbob@example.com\r\n"),
        vec![ok("ada@example.com", None, "ada@example.com"), ok("bob@example.com", None, "bob@example.com")]
    );
}

#[test]
fn blank_lines_and_empty_entries_are_skipped() {
    assert_eq!(
        read("\n  \nada@example.com,,\n, bob@example.com\n"),
        vec![ok("ada@example.com", None, "ada@example.com"), ok("bob@example.com", None, "bob@example.com")]
    );
    assert!(parse_pasted("").is_empty());
}

#[test]
fn addresses_are_normalized_to_lower_case() {
    assert_eq!(read("  ADA@Example.COM "), vec![ok("ADA@Example.COM", None, "ada@example.com")]);
}

#[test]
fn an_invalid_entry_is_reported_without_losing_the_valid_ones() {
    assert_eq!(
        read("ada@example.com, not-an-address, Bob <bob@>\ncy@example.com"),
        vec![
            ok("ada@example.com", None, "ada@example.com"),
            bad("not-an-address"),
            bad("Bob <bob@>"),
            ok("cy@example.com", None, "cy@example.com"),
        ]
    );
}

#[test]
fn an_invalid_entry_carries_the_reason_it_was_refused() {
    let entries = parse_pasted("ada@@example.com");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].parsed.as_ref().unwrap_err().code(), "invalid_format");
}

#[test]
fn two_names_separated_by_a_comma_are_two_invalid_entries() {
    assert_eq!(read("Ada, Bob"), vec![bad("Ada"), bad("Bob")]);
}

// ---------------------------------------------------------------------------------------------
// Tokens and names
// ---------------------------------------------------------------------------------------------

#[test]
fn tokens_are_stored_as_their_sha256_in_hex() {
    assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_ne!(hash_token("abc"), hash_token("abd"));
}

#[test]
fn an_invite_token_lives_seven_days() {
    assert_eq!(TOKEN_LIFETIME, Duration::days(7));
}

#[test]
fn a_full_name_splits_at_its_last_space() {
    assert_eq!(split_name(&name("Ada King Lovelace")), (name("Ada King"), name("Lovelace")));
}

#[test]
fn a_single_word_name_is_used_as_both_first_and_last_name() {
    assert_eq!(split_name(&name("Ada")), (name("Ada"), name("Ada")));
}

#[test]
fn a_pasted_address_without_a_name_is_named_after_its_local_part() {
    assert_eq!(name_from_email(&email("ada.lovelace@example.com")), name("ada.lovelace"));
}
