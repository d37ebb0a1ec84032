//! Properties of the value types in `roster_domain::values`.
//!
//! For every type: valid input (built by a strategy that only produces valid spellings) parses to
//! the expected normal form, parsing that form again changes nothing, and JSON round-trips; invalid
//! input of each kind is refused with the expected error; and no input at all makes `parse` panic.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::sample::Index;
use roster_domain::values::{
    AgentId, CrmId, Email, EmailDomain, GroupName, Key, Label, Nickname, Nicknames, Password, PersonName, Phone,
    Reason, Slug, ValueError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Whitespace that trimming removes from either end of an input.
const EDGE_WS: &str = "[ \t\n]{0,3}";

/// Control characters that are not whitespace, so trimming and collapsing leave them in place.
const NON_WS_CONTROL: &str = r"[\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]";

/// Checks that `value` serializes as the JSON string `expected` and reads back as itself.
fn json_round_trips<T>(value: &T, expected: &str) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_string(value).unwrap();
    prop_assert_eq!(&json, &serde_json::to_string(expected).unwrap());
    let back: T = serde_json::from_str(&json).unwrap();
    prop_assert_eq!(&back, value);
    Ok(())
}

/// Inserts `c` at a position chosen by `at`, counted in characters.
fn insert_at(s: &str, at: &Index, c: char) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    chars.insert(at.index(chars.len() + 1), c);
    chars.into_iter().collect()
}

fn control_char() -> impl Strategy<Value = char> {
    NON_WS_CONTROL.prop_map(|s| s.chars().next().unwrap())
}

/// A name as typed: words separated by runs of assorted whitespace, with whitespace around it.
/// Yields the raw input and its expected normal form (the words joined by single spaces).
fn typed_name(word: &'static str) -> impl Strategy<Value = (String, String)> {
    (prop::collection::vec(word, 1..=6), prop::collection::vec("[ \t\n\u{a0}\u{3000}]{1,3}", 5), EDGE_WS, EDGE_WS)
        .prop_map(|(words, separators, lead, trail)| {
            let mut raw = lead;
            for (i, word) in words.iter().enumerate() {
                if i > 0 {
                    raw.push_str(&separators[i - 1]);
                }
                raw.push_str(word);
            }
            raw.push_str(&trail);
            (raw, words.join(" "))
        })
}

/// A word of any script without whitespace or control characters.
const NAME_WORD: &str = r"[^\p{Cc}\s]{1,10}";
/// The same without '/', which group names refuse.
const GROUP_WORD: &str = r"[^\p{Cc}\s/]{1,10}";

const EMAIL_ATOM: &str = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}\~\-]{1,16}";
const DOMAIN_LABEL: &str = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,20}[A-Za-z0-9])?";

fn local_part() -> impl Strategy<Value = String> {
    prop::collection::vec(EMAIL_ATOM, 1..=3).prop_map(|atoms| atoms.join("."))
}

fn domain() -> impl Strategy<Value = String> {
    (prop::collection::vec(DOMAIN_LABEL, 1..=3), "[A-Za-z]{2,10}").prop_map(|(labels, tld)| {
        let mut domain = labels.join(".");
        domain.push('.');
        domain.push_str(&tld);
        domain
    })
}

fn email() -> impl Strategy<Value = String> {
    (local_part(), domain()).prop_map(|(local, domain)| format!("{local}@{domain}"))
}

// ---------------------------------------------------------------------------------------------
// Round trips of valid input
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn valid_email_parses_to_its_trimmed_lower_case_form(
        local in local_part(), domain in domain(), lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let address = format!("{local}@{domain}");
        let email = Email::parse(&format!("{lead}{address}{trail}")).unwrap();
        prop_assert_eq!(email.as_str(), address.to_ascii_lowercase());
        prop_assert_eq!(email.domain(), domain.to_ascii_lowercase());
        prop_assert_eq!(&Email::parse(email.as_str()).unwrap(), &email);
        json_round_trips(&email, &address.to_ascii_lowercase())?;
    }

    #[test]
    fn valid_email_domain_parses_to_its_lower_case_form(
        domain in domain(), at in "@?", lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let parsed = EmailDomain::parse(&format!("{lead}{at}{domain}{trail}")).unwrap();
        prop_assert_eq!(parsed.as_str(), domain.to_ascii_lowercase());
        prop_assert_eq!(&EmailDomain::parse(parsed.as_str()).unwrap(), &parsed);
        json_round_trips(&parsed, &domain.to_ascii_lowercase())?;
        let email = Email::parse(&format!("ada@{domain}")).unwrap();
        prop_assert_eq!(email.domain(), parsed.as_str());
    }

    #[test]
    fn valid_phone_parses_to_plus_and_digits(
        prefix in r"\+|00", body in r"[1-9]([ .()\-]?[0-9]){7,14}", lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let phone = Phone::parse(&format!("{lead}{prefix}{body}{trail}")).unwrap();
        let digits: String = body.chars().filter(char::is_ascii_digit).collect();
        prop_assert_eq!(phone.as_str(), format!("+{digits}"));
        prop_assert_eq!(&Phone::parse(phone.as_str()).unwrap(), &phone);
        json_round_trips(&phone, &format!("+{digits}"))?;
    }

    #[test]
    fn valid_person_name_parses_to_single_spaced_words((raw, expected) in typed_name(NAME_WORD)) {
        let name = PersonName::parse(&raw).unwrap();
        prop_assert_eq!(name.as_str(), &expected);
        prop_assert_eq!(&PersonName::parse(name.as_str()).unwrap(), &name);
        json_round_trips(&name, &expected)?;
    }

    #[test]
    fn valid_label_parses_to_single_spaced_words((raw, expected) in typed_name(NAME_WORD)) {
        let label = Label::parse(&raw).unwrap();
        prop_assert_eq!(label.as_str(), &expected);
        prop_assert_eq!(&Label::parse(label.as_str()).unwrap(), &label);
        json_round_trips(&label, &expected)?;
    }

    #[test]
    fn valid_group_name_parses_to_single_spaced_words_with_a_lower_case_key(
        (raw, expected) in typed_name(GROUP_WORD),
    ) {
        let group = GroupName::parse(&raw).unwrap();
        prop_assert_eq!(group.as_str(), &expected);
        prop_assert_eq!(group.key(), expected.to_lowercase());
        let again = GroupName::parse(group.as_str()).unwrap();
        prop_assert_eq!(&again, &group);
        prop_assert_eq!(again.key(), group.key());
        json_round_trips(&group, &expected)?;
    }

    #[test]
    fn valid_nickname_parses_to_its_trimmed_form(
        raw in r"[^\p{Cc}\s][^\p{Cc}]{0,62}", lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let nickname = Nickname::parse(&format!("{lead}{raw}{trail}")).unwrap();
        prop_assert_eq!(nickname.as_str(), raw.trim());
        prop_assert_eq!(&Nickname::parse(nickname.as_str()).unwrap(), &nickname);
        json_round_trips(&nickname, raw.trim())?;
    }

    #[test]
    fn distinct_nicknames_parse_in_order_and_round_trip_as_a_json_array(
        keys in prop::collection::btree_set("[a-z][a-z0-9]{0,11}", 0..=20),
        capitalize in prop::collection::vec(any::<bool>(), 20),
    ) {
        let items: Vec<String> = keys
            .iter()
            .zip(&capitalize)
            .map(|(key, &up)| if up { key.to_uppercase() } else { key.clone() })
            .collect();
        let nicknames = Nicknames::parse(&items).unwrap();
        prop_assert_eq!(nicknames.len(), items.len());
        prop_assert_eq!(nicknames.is_empty(), items.is_empty());
        let read: Vec<&str> = nicknames.iter().map(Nickname::as_str).collect();
        prop_assert_eq!(&read, &items);
        prop_assert_eq!(&Nicknames::parse(nicknames.iter().map(Nickname::as_str)).unwrap(), &nicknames);
        let json = serde_json::to_string(&nicknames).unwrap();
        prop_assert_eq!(&json, &serde_json::to_string(&items).unwrap());
        prop_assert_eq!(&serde_json::from_str::<Nicknames>(&json).unwrap(), &nicknames);
    }

    #[test]
    fn valid_agent_id_parses_to_its_trimmed_form(
        raw in r"[A-Za-z0-9._\-]{1,64}", lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let id = AgentId::parse(&format!("{lead}{raw}{trail}")).unwrap();
        prop_assert_eq!(id.as_str(), &raw);
        prop_assert_eq!(&AgentId::parse(id.as_str()).unwrap(), &id);
        json_round_trips(&id, &raw)?;
    }

    #[test]
    fn valid_crm_id_parses_to_its_trimmed_form(
        raw in r"[A-Za-z0-9_\-]{1,64}", lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let id = CrmId::parse(&format!("{lead}{raw}{trail}")).unwrap();
        prop_assert_eq!(id.as_str(), &raw);
        prop_assert_eq!(&CrmId::parse(id.as_str()).unwrap(), &id);
        json_round_trips(&id, &raw)?;
    }

    #[test]
    fn valid_slug_parses_to_its_trimmed_lower_case_form(
        raw in r"[A-Za-z0-9][A-Za-z0-9\-]{0,61}[A-Za-z0-9]", lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let slug = Slug::parse(&format!("{lead}{raw}{trail}")).unwrap();
        prop_assert_eq!(slug.as_str(), raw.to_ascii_lowercase());
        prop_assert_eq!(&Slug::parse(slug.as_str()).unwrap(), &slug);
        json_round_trips(&slug, &raw.to_ascii_lowercase())?;
    }

    #[test]
    fn valid_key_parses_unchanged(raw in "[a-z][a-z0-9_]{0,63}") {
        let key = Key::parse(&raw).unwrap();
        prop_assert_eq!(key.as_str(), &raw);
        prop_assert_eq!(&Key::parse(key.as_str()).unwrap(), &key);
        json_round_trips(&key, &raw)?;
    }

    #[test]
    fn valid_password_is_kept_exactly_and_never_printed(raw in ".{12,300}") {
        let password = Password::parse(&raw).unwrap();
        prop_assert_eq!(password.expose(), &raw);
        let again = Password::parse(password.expose()).unwrap();
        prop_assert_eq!(again.expose(), &raw);
        prop_assert_eq!(format!("{password:?}"), "Password(***)");
        prop_assert_eq!(password.to_string(), "Password(***)");
        let read: Password = serde_json::from_str(&serde_json::to_string(&raw).unwrap()).unwrap();
        prop_assert_eq!(read.expose(), &raw);
    }

    #[test]
    fn valid_reason_parses_to_its_trimmed_form_keeping_line_breaks(
        raw in r"[\p{L}\p{N}--[\x{115F}\x{1160}\x{3164}\x{FFA0}]]([^\p{Cc}]|\n|\t){0,300}", lead in EDGE_WS, trail in EDGE_WS,
    ) {
        let reason = Reason::parse(&format!("{lead}{raw}{trail}")).unwrap();
        prop_assert_eq!(reason.as_str(), raw.trim());
        prop_assert_eq!(&Reason::parse(reason.as_str()).unwrap(), &reason);
        json_round_trips(&reason, raw.trim())?;
    }
}

// ---------------------------------------------------------------------------------------------
// Garbage is refused with the expected error
// ---------------------------------------------------------------------------------------------

/// Checks that `parse` refuses `input` as [`ValueError::InvalidFormat`].
fn invalid_format<T: Debug>(parse: fn(&str) -> Result<T, ValueError>, input: &str) -> Result<(), TestCaseError> {
    let result = parse(input);
    prop_assert!(matches!(result, Err(ValueError::InvalidFormat { .. })), "{:?} gave {:?}", input, result);
    Ok(())
}

proptest! {
    #[test]
    fn email_without_an_at_sign_is_an_invalid_format(raw in r"[A-Za-z0-9.\-]{1,60}") {
        invalid_format(Email::parse, &raw)?;
    }

    #[test]
    fn email_with_a_forbidden_character_inside_is_an_invalid_format(
        address in email(),
        bad in prop_oneof![control_char(), r#"[ ,;:<>()\[\]\\"@é]"#.prop_map(|s| s.chars().next().unwrap())],
        at in any::<Index>(),
    ) {
        // A space at either end would be trimmed away, so it is only inserted inside.
        let raw = insert_at(&address, &at, bad);
        prop_assume!(raw.trim() != address);
        invalid_format(Email::parse, &raw)?;
    }

    #[test]
    fn email_longer_than_254_characters_is_too_long(
        local in "[a-z]{1,64}", labels in prop::collection::vec("[a-z]{50,63}", 5..=8),
    ) {
        let raw = format!("{local}@{}.com", labels.join("."));
        prop_assert_eq!(Email::parse(&raw), Err(ValueError::TooLong { max: 254 }));
    }

    #[test]
    fn email_domain_with_a_single_label_or_a_bad_tld_is_an_invalid_format(
        single in "[a-z0-9]{1,20}", domain in domain(), tld in "[0-9][a-z0-9]{0,5}|[a-z]",
    ) {
        invalid_format(EmailDomain::parse, &single)?;
        invalid_format(EmailDomain::parse, &format!("{domain}.{tld}"))?;
    }

    #[test]
    fn phone_with_a_letter_is_an_invalid_format(raw in r"\+[1-9][0-9]{3,8}[A-Za-z][0-9]{0,5}") {
        invalid_format(Phone::parse, &raw)?;
    }

    #[test]
    fn phone_without_plus_or_00_is_an_invalid_format(raw in "[1-9][0-9]{7,14}") {
        invalid_format(Phone::parse, &raw)?;
    }

    #[test]
    fn phone_with_fewer_than_8_digits_is_too_short(raw in r"(\+|00)[1-9][0-9]{0,6}") {
        prop_assert_eq!(Phone::parse(&raw), Err(ValueError::TooShort { min: 8 }));
    }

    #[test]
    fn phone_with_more_than_15_digits_is_too_long(raw in r"(\+|00)[1-9][0-9]{15,30}") {
        prop_assert_eq!(Phone::parse(&raw), Err(ValueError::TooLong { max: 15 }));
    }

    #[test]
    fn names_with_a_control_character_are_an_invalid_format(
        (raw, _) in typed_name(GROUP_WORD), bad in control_char(), at in any::<Index>(),
    ) {
        let raw = insert_at(&raw, &at, bad);
        invalid_format(PersonName::parse, &raw)?;
        invalid_format(Label::parse, &raw)?;
        invalid_format(GroupName::parse, &raw)?;
        if raw.trim().chars().count() <= 64 {
            invalid_format(Nickname::parse, &raw)?;
        }
    }

    #[test]
    fn names_longer_than_100_characters_are_too_long(raw in r"[^\p{Cc}\s]{101,300}") {
        let expected = Some(ValueError::TooLong { max: 100 });
        prop_assert_eq!(PersonName::parse(&raw).err(), expected.clone());
        prop_assert_eq!(Label::parse(&raw).err(), expected.clone());
        prop_assert_eq!(GroupName::parse(&raw).err(), expected);
    }

    #[test]
    fn group_name_with_a_slash_is_an_invalid_format(
        (raw, _) in typed_name(GROUP_WORD), at in any::<Index>(),
    ) {
        invalid_format(GroupName::parse, &insert_at(&raw, &at, '/'))?;
    }

    #[test]
    fn blank_input_is_empty(raw in "[ \t\n\r\u{a0}\u{2028}\u{3000}]{0,10}") {
        for result in [
            Email::parse(&raw).err(),
            EmailDomain::parse(&raw).err(),
            Phone::parse(&raw).err(),
            PersonName::parse(&raw).err(),
            Label::parse(&raw).err(),
            GroupName::parse(&raw).err(),
            Nickname::parse(&raw).err(),
            AgentId::parse(&raw).err(),
            CrmId::parse(&raw).err(),
            Slug::parse(&raw).err(),
            Reason::parse(&raw).err(),
        ] {
            prop_assert_eq!(result, Some(ValueError::Empty));
        }
    }

    #[test]
    fn nickname_longer_than_64_characters_is_too_long(raw in r"[^\p{Cc}\s]{65,200}") {
        prop_assert_eq!(Nickname::parse(&raw), Err(ValueError::TooLong { max: 64 }));
    }

    #[test]
    fn nicknames_repeated_in_another_case_are_duplicates(
        keys in prop::collection::btree_set("[a-z][a-z0-9]{0,11}", 1..20), pick in any::<Index>(),
    ) {
        let mut items: Vec<String> = keys.into_iter().collect();
        let repeated = items[pick.index(items.len())].to_uppercase();
        items.push(format!(" {repeated} "));
        prop_assert_eq!(Nicknames::parse(&items), Err(ValueError::Duplicate { value: repeated }));
    }

    #[test]
    fn more_than_20_nicknames_are_too_many(
        keys in prop::collection::btree_set("[a-z][a-z0-9]{0,11}", 21..40),
    ) {
        prop_assert_eq!(Nicknames::parse(&keys), Err(ValueError::TooMany { max: 20 }));
    }

    #[test]
    fn agent_and_crm_ids_with_a_foreign_character_are_an_invalid_format(
        head in "[A-Za-z0-9]{1,20}", tail in "[A-Za-z0-9]{1,20}", bad in r"[^A-Za-z0-9._\-\s]",
    ) {
        let raw = format!("{head}{bad}{tail}");
        invalid_format(AgentId::parse, &raw)?;
        invalid_format(CrmId::parse, &raw)?;
        invalid_format(CrmId::parse, &format!("{head}.{tail}"))?;
    }

    #[test]
    fn agent_and_crm_ids_longer_than_64_characters_are_too_long(raw in "[A-Za-z0-9_-]{65,120}") {
        prop_assert_eq!(AgentId::parse(&raw), Err(ValueError::TooLong { max: 64 }));
        prop_assert_eq!(CrmId::parse(&raw), Err(ValueError::TooLong { max: 64 }));
    }

    #[test]
    fn slug_of_one_character_is_too_short(raw in "[a-z0-9-]") {
        prop_assert_eq!(Slug::parse(&raw), Err(ValueError::TooShort { min: 2 }));
    }

    #[test]
    fn slug_longer_than_63_characters_is_too_long(raw in "[a-z0-9]{64,120}") {
        prop_assert_eq!(Slug::parse(&raw), Err(ValueError::TooLong { max: 63 }));
    }

    #[test]
    fn slug_with_a_hyphen_at_either_end_or_a_foreign_character_is_an_invalid_format(
        body in "[a-z0-9]{1,30}", bad in r"[^a-zA-Z0-9\-\s]",
    ) {
        invalid_format(Slug::parse, &format!("-{body}"))?;
        invalid_format(Slug::parse, &format!("{body}-"))?;
        invalid_format(Slug::parse, &format!("{body}{bad}{body}"))?;
    }

    #[test]
    fn key_that_is_not_lower_case_snake_is_an_invalid_format(
        upper in "[A-Z][a-z0-9_]{0,20}",
        bad_start in "[0-9_][a-z0-9_]{0,20}",
        padded in "[ \t][a-z]{1,10}|[a-z]{1,10}[ \t]",
        hyphen in "[a-z]{1,10}-[a-z]{1,10}",
    ) {
        for raw in [upper, bad_start, padded, hyphen] {
            invalid_format(Key::parse, &raw)?;
        }
    }

    #[test]
    fn key_longer_than_64_characters_is_too_long(raw in "[a-z][a-z0-9_]{64,100}") {
        prop_assert_eq!(Key::parse(&raw), Err(ValueError::TooLong { max: 64 }));
    }

    #[test]
    fn password_shorter_than_12_characters_is_too_short(raw in ".{1,11}") {
        prop_assert_eq!(Password::parse(&raw).err(), Some(ValueError::TooShort { min: 12 }));
    }

    #[test]
    fn password_longer_than_1024_characters_is_too_long(raw in ".{1025,1100}") {
        prop_assert_eq!(Password::parse(&raw).err(), Some(ValueError::TooLong { max: 1024 }));
    }

    #[test]
    fn reason_of_only_invisible_characters_is_empty(
        raw in r"[\x{200B}\x{200C}\x{200D}\x{2060}\x{FEFF}\x{00AD}\x{3164} ]{1,20}",
    ) {
        prop_assert_eq!(Reason::parse(&raw), Err(ValueError::Empty));
        let with_words = raw.clone() + "why";
        prop_assert!(Reason::parse(&with_words).is_ok());
    }

    #[test]
    fn reason_with_a_non_whitespace_control_character_is_an_invalid_format(
        raw in "[a-z ]{0,100}", bad in control_char(), at in any::<Index>(),
    ) {
        invalid_format(Reason::parse, &insert_at(&raw, &at, bad))?;
    }

    #[test]
    fn reason_longer_than_500_characters_is_too_long(raw in r"[^\p{Cc}\s]{501,700}") {
        prop_assert_eq!(Reason::parse(&raw), Err(ValueError::TooLong { max: 500 }));
    }
}

// ---------------------------------------------------------------------------------------------
// No input makes a parser panic
// ---------------------------------------------------------------------------------------------

/// Runs every parser on `raw`; the only thing checked is that none of them panics, and that any
/// value they do accept parses again to itself.
fn parse_everything(raw: &str) -> Result<(), TestCaseError> {
    fn stable<T: PartialEq + Debug + AsRef<str>>(
        parsed: Result<T, ValueError>,
        parse: fn(&str) -> Result<T, ValueError>,
    ) -> Result<(), TestCaseError> {
        if let Ok(value) = parsed {
            prop_assert_eq!(parse(value.as_ref()), Ok(value));
        }
        Ok(())
    }
    stable(Email::parse(raw), Email::parse)?;
    stable(EmailDomain::parse(raw), EmailDomain::parse)?;
    stable(Phone::parse(raw), Phone::parse)?;
    stable(PersonName::parse(raw), PersonName::parse)?;
    stable(Label::parse(raw), Label::parse)?;
    stable(GroupName::parse(raw), GroupName::parse)?;
    stable(Nickname::parse(raw), Nickname::parse)?;
    stable(AgentId::parse(raw), AgentId::parse)?;
    stable(CrmId::parse(raw), CrmId::parse)?;
    stable(Slug::parse(raw), Slug::parse)?;
    stable(Key::parse(raw), Key::parse)?;
    stable(Reason::parse(raw), Reason::parse)?;
    let _ = Password::parse(raw);
    let _ = Nicknames::parse(raw.split(','));
    Ok(())
}

proptest! {
    #[test]
    fn no_printable_input_makes_a_parser_panic(raw in r"\PC*") {
        parse_everything(&raw)?;
    }

    #[test]
    fn no_string_at_all_makes_a_parser_panic(raw in any::<String>()) {
        parse_everything(&raw)?;
    }

    #[test]
    fn no_input_shaped_like_a_value_makes_a_parser_panic(
        raw in r"[ \t\n+0-9a-zA-Z@.()\-_/]{0,80}",
    ) {
        parse_everything(&raw)?;
    }

    #[test]
    fn no_list_of_strings_makes_nicknames_panic(items in prop::collection::vec(any::<String>(), 0..30)) {
        let _ = Nicknames::parse(&items);
    }
}
