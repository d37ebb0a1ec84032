//! Validated value types: e-mail addresses, phone numbers, names, identifiers, keys, passwords.
//!
//! This module owns the syntax rules of every free-form string Roster accepts from outside (spec §3
//! and §10). It follows "parse, don't validate": each type has a private field and a single failing
//! constructor, `parse`, which normalizes the input (trimming, lower-casing, collapsing spaces…) and
//! then checks it. Once a value exists it is valid and normalized, so entities, services and
//! adapters never re-check a string, and two spellings of the same address can never both reach a
//! uniqueness check. There are no setters; a new value is a new `parse`.
//!
//! Serde goes through the same door: every type serializes as its plain string and deserializes
//! through `parse`, so a value read from JSON or a database row obeys the same rules as one typed by
//! an admin. [`Password`] is the exception on the way out: it cannot be serialized or printed.
//!
//! Rejections are reported as a [`ValueError`] without the field name, because the caller (a request
//! body, a CSV row, a CLI flag) knows which field it was parsing and adds it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string was refused by one of the value types of this module.
///
/// The messages are written to follow a field name ("email must not be empty"), because the caller
/// knows the field and this module does not. [`ValueError::code`] gives the stable machine code for
/// per-field validation errors in the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Nothing was left after normalization (an empty or blank input).
    #[error("must not be empty")]
    Empty,
    /// The value is shorter than allowed. The unit is characters, digits for a [`Phone`].
    #[error("is too short (the minimum is {min})")]
    TooShort {
        /// The smallest accepted length.
        min: usize,
    },
    /// The value is longer than allowed. The unit is characters, digits for a [`Phone`].
    #[error("is too long (the maximum is {max})")]
    TooLong {
        /// The largest accepted length.
        max: usize,
    },
    /// The value has the wrong shape or contains a forbidden character.
    #[error("is not valid: expected {expected}")]
    InvalidFormat {
        /// A human description of what is accepted, with an example where one helps.
        expected: &'static str,
    },
    /// A list holds the same item twice (compared case-insensitively).
    #[error("contains \"{value}\" more than once")]
    Duplicate {
        /// The repeated item, as it was given the second time.
        value: String,
    },
    /// A list holds more items than allowed.
    #[error("has too many items (the maximum is {max})")]
    TooMany {
        /// The largest accepted number of items.
        max: usize,
    },
}

impl ValueError {
    /// The stable snake_case code of this error, used in per-field validation problems of the API.
    ///
    /// Clients match on these codes, so they never change once released.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::InvalidFormat { .. } => "invalid_format",
            Self::Duplicate { .. } => "duplicate",
            Self::TooMany { .. } => "too_many",
        }
    }
}

/// Generates the string conversions every printable value type shares, so that each type's own
/// code is only its documentation and its `parse`.
macro_rules! string_value {
    ($ty:ident) => {
        impl $ty {
            /// The normalized value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = ValueError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::parse(input)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = ValueError;

            fn try_from(input: String) -> Result<Self, Self::Error> {
                Self::parse(&input)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.0
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------------------------

const EMAIL_MAX: usize = 254;
const EMAIL_LOCAL_MAX: usize = 64;
const DOMAIN_MAX: usize = 253;
const DOMAIN_LABEL_MAX: usize = 63;
const EMAIL_EXPECTED: &str = "an email address such as ada@example.com";
const DOMAIN_EXPECTED: &str = "a domain name such as example.com";

/// An e-mail address, stored trimmed and lower-case (spec §3: unique per organization).
///
/// The accepted syntax is the common "dot-atom" subset of RFC 5321 that real sign-up forms see:
/// no quoted local parts, no comments, no IP-address literals, and the domain must have a
/// top-level domain. Lower-casing the local part is technically lossy, but no mail provider an
/// admin will meet treats `Ada@` and `ada@` as different people, and one spelling per address is
/// what makes per-organization uniqueness hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses an e-mail address after trimming it and lower-casing it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 254 characters,
    /// [`ValueError::InvalidFormat`] for anything else that is not an address.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        // ASCII lower-casing, not Unicode: full lower-casing maps some non-ASCII letters onto ASCII
        // ones (the Kelvin sign becomes `k`), which would let look-alike input pass as valid.
        let value = input.trim().to_ascii_lowercase();
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        if value.chars().count() > EMAIL_MAX {
            return Err(ValueError::TooLong { max: EMAIL_MAX });
        }
        let invalid = ValueError::InvalidFormat { expected: EMAIL_EXPECTED };
        // `split_once` splits at the first '@'; a second one lands in the domain, where '@' is not an
        // allowed character, so "exactly one '@'" holds without a separate count.
        let Some((local, domain)) = value.split_once('@') else {
            return Err(invalid);
        };
        if !is_valid_local_part(local) || !is_valid_domain(domain) {
            return Err(invalid);
        }
        Ok(Self(value))
    }

    /// The part after the `@`, for example to match it against the allowed sign-up domains.
    #[must_use]
    pub fn domain(&self) -> &str {
        // `parse` guarantees exactly one '@', so the fallback is never taken.
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }
}

string_value!(Email);

/// The special characters RFC 5322 allows in an unquoted local part, besides letters and digits.
const LOCAL_PART_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";

fn is_valid_local_part(local: &str) -> bool {
    (1..=EMAIL_LOCAL_MAX).contains(&local.len())
        && local.chars().all(|c| c.is_ascii_alphanumeric() || LOCAL_PART_SPECIALS.contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some(tld) = labels.last() else {
        return false;
    };
    labels.len() >= 2
        && labels.iter().all(|label| is_valid_domain_label(label))
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

fn is_valid_domain_label(label: &str) -> bool {
    (1..=DOMAIN_LABEL_MAX).contains(&label.len())
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A domain name that sign-up e-mail addresses may belong to (`allowed_signup_domains`, spec §2).
///
/// It follows the same rules as the domain of an [`Email`], so that comparing it with
/// [`Email::domain`] is a plain string comparison. Admins often paste `@example.com`, so one
/// leading `@` is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailDomain(String);

impl EmailDomain {
    /// Parses a domain name after trimming it, dropping one leading `@` and lower-casing it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 253 characters (the
    /// DNS limit), [`ValueError::InvalidFormat`] for anything else that is not a domain name.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let trimmed = input.trim();
        let value = trimmed.strip_prefix('@').unwrap_or(trimmed).to_ascii_lowercase();
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        if value.chars().count() > DOMAIN_MAX {
            return Err(ValueError::TooLong { max: DOMAIN_MAX });
        }
        if !is_valid_domain(&value) {
            return Err(ValueError::InvalidFormat { expected: DOMAIN_EXPECTED });
        }
        Ok(Self(value))
    }
}

string_value!(EmailDomain);

// ---------------------------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------------------------

const PHONE_DIGITS_MIN: usize = 8;
const PHONE_DIGITS_MAX: usize = 15;
const PHONE_EXPECTED: &str = "an international phone number such as +14155550123";

/// A phone number in E.164 form, `+` and 8 to 15 digits, for example `+14155550123` (spec §3).
///
/// Used for a user's phone, ring and dialer numbers and the VoIP forward target. Formatting that
/// people type or paste (spaces, `-`, `.`, parentheses, the `00` international prefix) is removed,
/// so that the stored form is unique per number and can be dialled as is. A national number
/// without a country code is refused rather than guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number after removing formatting and turning a leading `00` into `+`.
    ///
    /// Every kind of whitespace is removed, not only the ASCII space, because numbers copied from
    /// documents often contain no-break or narrow spaces between digit groups.
    ///
    /// # Errors
    /// [`ValueError::Empty`] if nothing is left, [`ValueError::InvalidFormat`] unless the rest is
    /// `+` and digits not starting with `0`, [`ValueError::TooShort`] below 8 digits and
    /// [`ValueError::TooLong`] above 15.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let stripped: String =
            input.chars().filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '(' | ')')).collect();
        let value = match stripped.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => stripped,
        };
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        let invalid = ValueError::InvalidFormat { expected: PHONE_EXPECTED };
        let Some(digits) = value.strip_prefix('+') else {
            return Err(invalid);
        };
        // E.164 country codes never start with 0, so a leading 0 is a national trunk prefix that
        // was kept by mistake.
        if !digits.chars().all(|c| c.is_ascii_digit()) || digits.starts_with('0') {
            return Err(invalid);
        }
        if digits.len() < PHONE_DIGITS_MIN {
            return Err(ValueError::TooShort { min: PHONE_DIGITS_MIN });
        }
        if digits.len() > PHONE_DIGITS_MAX {
            return Err(ValueError::TooLong { max: PHONE_DIGITS_MAX });
        }
        Ok(Self(value))
    }
}

string_value!(Phone);

// ---------------------------------------------------------------------------------------------
// Names and free text
// ---------------------------------------------------------------------------------------------

const NAME_MAX: usize = 100;
const NICKNAME_MAX: usize = 64;
const NICKNAMES_MAX: usize = 20;
const REASON_MAX: usize = 500;

/// Normalizes and checks a name shown in lists and dropdowns: trimmed, runs of whitespace
/// collapsed to one space (so that "Ada  Lovelace" and "Ada Lovelace" are the same name), 1 to
/// 100 characters, no control characters.
fn parse_display_name(input: &str, expected: &'static str) -> Result<String, ValueError> {
    // Whitespace is collapsed before control characters are checked, so a tab or line break
    // pasted into a name becomes a space instead of an error.
    let value = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if value.is_empty() {
        return Err(ValueError::Empty);
    }
    if value.chars().count() > NAME_MAX {
        return Err(ValueError::TooLong { max: NAME_MAX });
    }
    if value.chars().any(char::is_control) {
        return Err(ValueError::InvalidFormat { expected });
    }
    Ok(value)
}

/// A person's first or last name, or the name of a connection (spec §3, §7.1).
///
/// Trimmed, with inner runs of whitespace collapsed to one space; 1 to 100 characters; no control
/// characters. Any script is accepted: names are not ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name after trimming it and collapsing inner whitespace.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 100 characters,
    /// [`ValueError::InvalidFormat`] if it contains a control character.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        parse_display_name(input, "a name without control characters").map(Self)
    }
}

string_value!(PersonName);

/// The display name of an organization, role, flow, API key or saved view.
///
/// Same rules as [`PersonName`]; a separate type so that a role name cannot be passed where a
/// person's name is expected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    /// Parses a label after trimming it and collapsing inner whitespace.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 100 characters,
    /// [`ValueError::InvalidFormat`] if it contains a control character.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        parse_display_name(input, "a name without control characters").map(Self)
    }
}

string_value!(Label);

/// The name of a group (spec §6).
///
/// Same rules as [`PersonName`], and no `/`, because a group's path is shown as `A / B / C` and a
/// slash inside a name would make that path ambiguous. Sibling groups must differ in
/// [`GroupName::key`], not only in case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupName(String);

impl GroupName {
    /// Parses a group name after trimming it and collapsing inner whitespace.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 100 characters,
    /// [`ValueError::InvalidFormat`] if it contains `/` or a control character.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        const EXPECTED: &str = "a group name without '/' or control characters";
        let value = parse_display_name(input, EXPECTED)?;
        if value.contains('/') {
            return Err(ValueError::InvalidFormat { expected: EXPECTED });
        }
        Ok(Self(value))
    }

    /// The lower-case form under which sibling groups must be unique, so that "Sales" and "sales"
    /// cannot sit side by side under one parent.
    #[must_use]
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

string_value!(GroupName);

/// One nickname of a user (spec §3), searched by the Users table's `q` filter.
///
/// Trimmed; 1 to 64 characters; no control characters. Inner spacing is kept as typed, because a
/// nickname is matched as entered rather than displayed as a heading.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nickname(String);

impl Nickname {
    /// Parses a nickname after trimming it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 64 characters,
    /// [`ValueError::InvalidFormat`] if it contains a control character.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        if value.chars().count() > NICKNAME_MAX {
            return Err(ValueError::TooLong { max: NICKNAME_MAX });
        }
        if value.chars().any(char::is_control) {
            return Err(ValueError::InvalidFormat { expected: "a nickname without control characters" });
        }
        Ok(Self(value.to_owned()))
    }
}

string_value!(Nickname);

/// A user's nicknames: at most 20, none repeated (compared case-insensitively), in the order given.
///
/// The list is a value of its own so that "no duplicates" holds by construction, and an update
/// replaces the whole list instead of editing it item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Nicknames(Vec<Nickname>);

impl Nicknames {
    /// Parses every item as a [`Nickname`] and checks the list as a whole.
    ///
    /// Items are read one by one and reading stops at the first error, so an over-long list costs
    /// no more than 21 items of work.
    ///
    /// # Errors
    /// The first item's [`Nickname::parse`] error, [`ValueError::Duplicate`] for an item equal to
    /// an earlier one ignoring case, [`ValueError::TooMany`] beyond 20 items.
    pub fn parse<I, S>(items: I) -> Result<Self, ValueError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut nicknames: Vec<Nickname> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for item in items {
            if nicknames.len() == NICKNAMES_MAX {
                return Err(ValueError::TooMany { max: NICKNAMES_MAX });
            }
            let nickname = Nickname::parse(item.as_ref())?;
            let key = nickname.as_str().to_lowercase();
            if keys.contains(&key) {
                return Err(ValueError::Duplicate { value: nickname.0 });
            }
            keys.push(key);
            nicknames.push(nickname);
        }
        Ok(Self(nicknames))
    }

    /// No nicknames.
    #[must_use]
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The nicknames in the order they were given.
    pub fn iter(&self) -> std::slice::Iter<'_, Nickname> {
        self.0.iter()
    }

    /// How many nicknames there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Nicknames {
    type Item = &'a Nickname;
    type IntoIter = std::slice::Iter<'a, Nickname>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl TryFrom<Vec<String>> for Nicknames {
    type Error = ValueError;

    fn try_from(items: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(items)
    }
}

impl From<Nicknames> for Vec<String> {
    fn from(value: Nicknames) -> Self {
        value.0.into_iter().map(String::from).collect()
    }
}

/// The written reason an admin gives for impersonating a user, kept in the audit log (spec §10).
///
/// Trimmed; 1 to 500 characters. Line breaks and tabs are allowed because this is free text, but
/// other control characters are refused: the audit log is shown in the console and exported as
/// CSV, and PostgreSQL cannot store a NUL character in a text column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    /// Parses a reason after trimming it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for an input with no visible character (blank, or only zero-width
    /// and other invisible characters), [`ValueError::TooLong`] beyond 500 characters,
    /// [`ValueError::InvalidFormat`] for a control character other than a line break or tab.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        if value.chars().count() > REASON_MAX {
            return Err(ValueError::TooLong { max: REASON_MAX });
        }
        if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(ValueError::InvalidFormat {
                expected: "text without control characters other than line breaks and tabs",
            });
        }
        if !value.chars().any(is_visible) {
            return Err(ValueError::Empty);
        }
        Ok(Self(value.to_owned()))
    }
}

string_value!(Reason);

/// Whether a character shows as something: not whitespace, not a control character, and not
/// one of the format characters that render as nothing (zero-width spaces and joiners,
/// direction marks, the byte-order mark, the soft hyphen, variation selectors, invisible
/// operators, and the blank "filler" letters).
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

// ---------------------------------------------------------------------------------------------
// Identifiers and keys
// ---------------------------------------------------------------------------------------------

const ID_MAX: usize = 64;
const SLUG_MIN: usize = 2;
const SLUG_MAX: usize = 63;
const KEY_MAX: usize = 64;

/// Checks the length of an identifier that is never normalized beyond trimming.
fn check_id_length(value: &str, max: usize) -> Result<(), ValueError> {
    if value.is_empty() {
        return Err(ValueError::Empty);
    }
    if value.chars().count() > max {
        return Err(ValueError::TooLong { max });
    }
    Ok(())
}

/// A user's agent id in the product's telephony system (spec §3), unique per organization.
///
/// Trimmed; 1 to 64 characters among ASCII letters, digits, `.`, `_` and `-`. Case is kept,
/// because the telephony system owns these ids and may treat case as significant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentId(String);

impl AgentId {
    /// Parses an agent id after trimming it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 64 characters,
    /// [`ValueError::InvalidFormat`] for any other character.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let value = input.trim();
        check_id_length(value, ID_MAX)?;
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            return Err(ValueError::InvalidFormat { expected: "letters, digits, '.', '_' and '-' only" });
        }
        Ok(Self(value.to_owned()))
    }
}

string_value!(AgentId);

/// A user's id in the CRM (spec §3, §8.3), unique per organization.
///
/// Trimmed; 1 to 64 characters among ASCII letters, digits, `_` and `-`. A Salesforce user id is
/// 15 or 18 letters and digits (`005…`), but other CRMs use other forms, so only the character set
/// is checked. Case is kept because Salesforce's 15-character ids are case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CrmId(String);

impl CrmId {
    /// Parses a CRM id after trimming it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 64 characters,
    /// [`ValueError::InvalidFormat`] for any other character.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let value = input.trim();
        check_id_length(value, ID_MAX)?;
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) {
            return Err(ValueError::InvalidFormat { expected: "letters, digits, '_' and '-' only" });
        }
        Ok(Self(value.to_owned()))
    }
}

string_value!(CrmId);

const DIRECTORY_TEXT_MAX: usize = 256;

/// A value an identity provider keeps about a member and Roster stores as sent (§13): the
/// provider's `externalId`, a job title, the enterprise extension's employee number, cost
/// center, organization, division, department, or the id of a manager.
///
/// Trimmed; 1 to 256 characters; no control characters. Case and inner spacing are kept: the
/// provider owns these values, and `externalId` compares case-exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DirectoryText(String);

impl DirectoryText {
    /// Parses a directory value after trimming it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 256 characters,
    /// [`ValueError::InvalidFormat`] if it contains a control character.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let value = input.trim();
        check_id_length(value, DIRECTORY_TEXT_MAX)?;
        if value.chars().any(char::is_control) {
            return Err(ValueError::InvalidFormat { expected: "text without control characters" });
        }
        Ok(Self(value.to_owned()))
    }
}

string_value!(DirectoryText);

/// An organization's slug (spec §2), unique, used at login (`{"org": "demo"}`) and in URLs.
///
/// Trimmed and lower-cased; 2 to 63 characters among `a-z`, `0-9` and `-`, not starting or ending
/// with `-`, which makes it safe as a DNS label and a URL path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    /// Parses a slug after trimming it and lower-casing it.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooShort`] below 2 characters,
    /// [`ValueError::TooLong`] beyond 63, [`ValueError::InvalidFormat`] for any other character or
    /// a `-` at either end.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        // ASCII lower-casing for the same reason as in `Email::parse`: no non-ASCII input may turn
        // into a valid slug.
        let value = input.trim().to_ascii_lowercase();
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        let length = value.chars().count();
        if length < SLUG_MIN {
            return Err(ValueError::TooShort { min: SLUG_MIN });
        }
        if length > SLUG_MAX {
            return Err(ValueError::TooLong { max: SLUG_MAX });
        }
        if !value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || value.starts_with('-')
            || value.ends_with('-')
        {
            return Err(ValueError::InvalidFormat {
                expected: "lower-case letters, digits and '-' (not at either end), such as acme-corp",
            });
        }
        Ok(Self(value))
    }
}

string_value!(Slug);

/// The machine key of a role or product (`admin`, `full_member`, `core`), used in API bodies and
/// permission checks.
///
/// 1 to 64 characters matching `[a-z][a-z0-9_]*`. Unlike the other types it is not normalized:
/// keys are written by programs and configuration, where `Admin` is a mistake worth reporting
/// rather than silently accepting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Key(String);

impl Key {
    /// Parses a key exactly as given.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for an empty input, [`ValueError::TooLong`] beyond 64 characters,
    /// [`ValueError::InvalidFormat`] unless it matches `[a-z][a-z0-9_]*`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        check_id_length(input, KEY_MAX)?;
        let mut chars = input.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts_with_letter || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(ValueError::InvalidFormat { expected: "a lower-case key such as full_member" });
        }
        Ok(Self(input.to_owned()))
    }
}

string_value!(Key);

// ---------------------------------------------------------------------------------------------
// Password
// ---------------------------------------------------------------------------------------------

const PASSWORD_MIN: usize = 12;
const PASSWORD_MAX: usize = 1024;

/// A plain password as a person entered it, on its way to being hashed (spec §3).
///
/// 12 to 1024 characters, counted as characters so that a passphrase in any script is measured
/// fairly; the upper bound keeps hashing cost bounded. It is not trimmed, because spaces are part
/// of what the person chose. It can be read from JSON but never written: there is no `Serialize`,
/// and `Debug` and `Display` print `Password(***)`, so it cannot leak into a response or a log by
/// accident. [`Password::expose`] is the one way to read it, which keeps every use easy to find.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    /// The fewest characters a password may have (§3); what API documents state as `minLength`.
    pub const MIN_CHARS: usize = PASSWORD_MIN;

    /// Parses a password exactly as given.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for an empty input, [`ValueError::TooShort`] below 12 characters,
    /// [`ValueError::TooLong`] beyond 1024.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        let length = input.chars().count();
        if length < PASSWORD_MIN {
            return Err(ValueError::TooShort { min: PASSWORD_MIN });
        }
        if length > PASSWORD_MAX {
            return Err(ValueError::TooLong { max: PASSWORD_MAX });
        }
        Ok(Self(input.to_owned()))
    }

    /// The plain password, for the password hasher and nothing else.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl TryFrom<String> for Password {
    type Error = ValueError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_format<T>(result: Result<T, ValueError>) -> bool {
        matches!(result, Err(ValueError::InvalidFormat { .. }))
    }

    // --- ValueError ---------------------------------------------------------------------------

    #[test]
    fn every_error_has_a_stable_snake_case_code() {
        let codes = [
            (ValueError::Empty, "empty"),
            (ValueError::TooShort { min: 1 }, "too_short"),
            (ValueError::TooLong { max: 1 }, "too_long"),
            (ValueError::InvalidFormat { expected: "x" }, "invalid_format"),
            (ValueError::Duplicate { value: "x".into() }, "duplicate"),
            (ValueError::TooMany { max: 1 }, "too_many"),
        ];
        for (error, code) in codes {
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn error_messages_read_after_a_field_name() {
        assert_eq!(ValueError::Empty.to_string(), "must not be empty");
        assert_eq!(ValueError::TooShort { min: 12 }.to_string(), "is too short (the minimum is 12)");
        assert_eq!(ValueError::TooLong { max: 100 }.to_string(), "is too long (the maximum is 100)");
        assert_eq!(
            ValueError::InvalidFormat { expected: EMAIL_EXPECTED }.to_string(),
            "is not valid: expected an email address such as ada@example.com"
        );
        assert_eq!(ValueError::Duplicate { value: "Ace".into() }.to_string(), "contains \"Ace\" more than once");
        assert_eq!(ValueError::TooMany { max: 20 }.to_string(), "has too many items (the maximum is 20)");
    }

    // --- Email --------------------------------------------------------------------------------

    #[test]
    fn email_is_stored_trimmed_and_lower_case() {
        let email = Email::parse("  Ada.Lovelace@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        assert_eq!(email.to_string(), "ada.lovelace@example.com");
    }

    #[test]
    fn email_domain_is_the_part_after_the_at_sign() {
        let email = Email::parse("ada@mail.example.com").unwrap();
        assert_eq!(email.domain(), "mail.example.com");
    }

    #[test]
    fn email_accepts_every_special_character_of_a_dot_atom() {
        let email = Email::parse("a!#$%&'*+/=?^_`{|}~.-z@example.com").unwrap();
        assert_eq!(email.as_str(), "a!#$%&'*+/=?^_`{|}~.-z@example.com");
    }

    #[test]
    fn blank_email_is_rejected_as_empty() {
        assert_eq!(Email::parse(""), Err(ValueError::Empty));
        assert_eq!(Email::parse(" \t "), Err(ValueError::Empty));
    }

    #[test]
    fn email_without_at_sign_is_rejected() {
        assert_eq!(Email::parse("ada.example.com"), Err(ValueError::InvalidFormat { expected: EMAIL_EXPECTED }));
    }

    #[test]
    fn email_with_two_at_signs_is_rejected() {
        assert!(invalid_format(Email::parse("ada@lovelace@example.com")));
    }

    #[test]
    fn email_with_empty_local_part_is_rejected() {
        assert!(invalid_format(Email::parse("@example.com")));
    }

    #[test]
    fn email_local_part_of_64_characters_is_accepted_and_65_is_rejected() {
        let at_limit = format!("{}@example.com", "a".repeat(64));
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("{}@example.com", "a".repeat(65));
        assert!(invalid_format(Email::parse(&over)));
    }

    #[test]
    fn email_local_part_with_a_dot_at_either_end_or_two_dots_in_a_row_is_rejected() {
        assert!(invalid_format(Email::parse(".ada@example.com")));
        assert!(invalid_format(Email::parse("ada.@example.com")));
        assert!(invalid_format(Email::parse("ada..lovelace@example.com")));
    }

    #[test]
    fn email_with_a_space_or_a_non_ascii_character_is_rejected() {
        assert!(invalid_format(Email::parse("ada lovelace@example.com")));
        assert!(invalid_format(Email::parse("adä@example.com")));
        assert!(invalid_format(Email::parse("ada@exämple.com")));
        assert!(invalid_format(Email::parse("\"ada\"@example.com")));
    }

    #[test]
    fn email_whose_domain_has_a_single_label_is_rejected() {
        assert!(invalid_format(Email::parse("ada@localhost")));
    }

    #[test]
    fn email_domain_labels_must_not_be_empty_or_start_or_end_with_a_hyphen() {
        assert!(invalid_format(Email::parse("ada@example..com")));
        assert!(invalid_format(Email::parse("ada@.example.com")));
        assert!(invalid_format(Email::parse("ada@example.com.")));
        assert!(invalid_format(Email::parse("ada@-example.com")));
        assert!(invalid_format(Email::parse("ada@example-.com")));
        assert!(Email::parse("ada@ex-ample.com").is_ok());
    }

    #[test]
    fn email_domain_label_of_63_characters_is_accepted_and_64_is_rejected() {
        let at_limit = format!("ada@{}.com", "a".repeat(63));
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("ada@{}.com", "a".repeat(64));
        assert!(invalid_format(Email::parse(&over)));
    }

    #[test]
    fn email_top_level_domain_must_be_two_or_more_letters() {
        assert!(invalid_format(Email::parse("ada@example.c")));
        assert!(invalid_format(Email::parse("ada@example.c0m")));
        assert!(invalid_format(Email::parse("ada@127.0.0.1")));
        assert!(Email::parse("ada@example.io").is_ok());
    }

    #[test]
    fn email_of_254_characters_is_accepted_and_255_is_rejected_as_too_long() {
        // 64 + 1 + 189 = 254: three labels of 61 characters, a dot each, then "com".
        let domain = format!("{0}.{0}.{0}.com", "b".repeat(61));
        let at_limit = format!("{}@{domain}", "a".repeat(64));
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("{}@{domain}", "a".repeat(65));
        assert_eq!(Email::parse(&over), Err(ValueError::TooLong { max: 254 }));
    }

    #[test]
    fn email_look_alike_letters_are_not_folded_into_ascii() {
        // U+212A KELVIN SIGN lower-cases to an ASCII 'k' under full Unicode rules.
        assert!(invalid_format(Email::parse("\u{212A}@example.com")));
    }

    #[test]
    fn email_serializes_as_a_plain_string_and_deserializes_through_parse() {
        let email = Email::parse("Ada@Example.com").unwrap();
        assert_eq!(serde_json::to_string(&email).unwrap(), "\"ada@example.com\"");
        let read: Email = serde_json::from_str("\" ADA@example.com \"").unwrap();
        assert_eq!(read, email);
        assert!(serde_json::from_str::<Email>("\"not an email\"").is_err());
    }

    // --- EmailDomain --------------------------------------------------------------------------

    #[test]
    fn email_domain_is_stored_trimmed_and_lower_case_without_a_leading_at_sign() {
        assert_eq!(EmailDomain::parse(" @Example.COM ").unwrap().as_str(), "example.com");
        assert_eq!(EmailDomain::parse("example.com").unwrap().as_str(), "example.com");
    }

    #[test]
    fn email_domain_matches_the_domain_of_an_email() {
        let allowed = EmailDomain::parse("@Example.com").unwrap();
        let email = Email::parse("ada@EXAMPLE.com").unwrap();
        assert_eq!(allowed.as_str(), email.domain());
    }

    #[test]
    fn email_domain_follows_the_domain_rules_of_an_email() {
        assert_eq!(EmailDomain::parse(" @ "), Err(ValueError::Empty));
        assert!(invalid_format(EmailDomain::parse("localhost")));
        assert!(invalid_format(EmailDomain::parse("ada@example.com")));
        assert!(invalid_format(EmailDomain::parse("@@example.com")));
        assert!(invalid_format(EmailDomain::parse("-example.com")));
        assert!(invalid_format(EmailDomain::parse("example.c")));
    }

    #[test]
    fn email_domain_longer_than_253_characters_is_rejected() {
        let over = format!("{0}.{0}.{0}.{0}.com", "a".repeat(62));
        assert_eq!(over.len(), 255);
        assert_eq!(EmailDomain::parse(&over), Err(ValueError::TooLong { max: 253 }));
    }

    // --- Phone --------------------------------------------------------------------------------

    #[test]
    fn phone_is_stored_without_formatting() {
        let phone = Phone::parse(" +1 (415) 555-0123 ").unwrap();
        assert_eq!(phone.as_str(), "+14155550123");
        assert_eq!(Phone::parse("+44.20.7946.0958").unwrap().as_str(), "+442079460958");
    }

    #[test]
    fn phone_with_no_break_spaces_between_digit_groups_is_accepted() {
        let phone = Phone::parse("+33\u{a0}1\u{202f}23\u{2009}45\t67\u{a0}89").unwrap();
        assert_eq!(phone.as_str(), "+33123456789");
    }

    #[test]
    fn phone_with_leading_00_gets_a_plus_instead() {
        assert_eq!(Phone::parse("0044 20 7946 0958").unwrap().as_str(), "+442079460958");
    }

    #[test]
    fn phone_without_country_code_prefix_is_rejected() {
        assert_eq!(Phone::parse("4155550123"), Err(ValueError::InvalidFormat { expected: PHONE_EXPECTED }));
        assert!(invalid_format(Phone::parse("0415 555 0123")));
    }

    #[test]
    fn phone_whose_first_digit_is_0_is_rejected() {
        assert!(invalid_format(Phone::parse("+04155550123")));
        assert!(invalid_format(Phone::parse("0004155550123")));
    }

    #[test]
    fn phone_with_letters_or_other_symbols_is_rejected() {
        assert!(invalid_format(Phone::parse("+1415555CALL")));
        assert!(invalid_format(Phone::parse("+1415555012#3")));
        assert!(invalid_format(Phone::parse("+1 415 555 0123 ext 4")));
        assert!(invalid_format(Phone::parse("++14155550123")));
        assert!(invalid_format(Phone::parse("+١٤١٥٥٥٥٠١٢٣")));
    }

    #[test]
    fn phone_with_fewer_than_8_digits_is_rejected() {
        assert_eq!(Phone::parse("+1234567"), Err(ValueError::TooShort { min: 8 }));
        assert_eq!(Phone::parse("+"), Err(ValueError::TooShort { min: 8 }));
        assert!(Phone::parse("+12345678").is_ok());
    }

    #[test]
    fn phone_with_more_than_15_digits_is_rejected() {
        assert!(Phone::parse("+123456789012345").is_ok());
        assert_eq!(Phone::parse("+1234567890123456"), Err(ValueError::TooLong { max: 15 }));
    }

    #[test]
    fn phone_made_only_of_formatting_is_rejected_as_empty() {
        assert_eq!(Phone::parse(""), Err(ValueError::Empty));
        assert_eq!(Phone::parse(" ( ) - . "), Err(ValueError::Empty));
    }

    #[test]
    fn phone_serializes_as_its_normalized_string() {
        let phone: Phone = serde_json::from_str("\"+1 415 555 0123\"").unwrap();
        assert_eq!(serde_json::to_string(&phone).unwrap(), "\"+14155550123\"");
        assert!(serde_json::from_str::<Phone>("\"555-0123\"").is_err());
    }

    // --- PersonName, Label --------------------------------------------------------------------

    #[test]
    fn person_name_is_trimmed_and_inner_whitespace_is_collapsed() {
        let name = PersonName::parse("  Ada \t  Augusta\n King ").unwrap();
        assert_eq!(name.as_str(), "Ada Augusta King");
    }

    #[test]
    fn person_name_in_any_script_is_accepted() {
        assert!(PersonName::parse("Zoë").is_ok());
        assert!(PersonName::parse("山田 太郎").is_ok());
        assert!(PersonName::parse("O'Brien-Smith").is_ok());
    }

    #[test]
    fn blank_person_name_is_rejected_as_empty() {
        assert_eq!(PersonName::parse("   "), Err(ValueError::Empty));
    }

    #[test]
    fn person_name_length_is_counted_in_characters_not_bytes() {
        // 100 two-byte characters are 200 bytes but only 100 characters.
        assert!(PersonName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(PersonName::parse(&"é".repeat(101)), Err(ValueError::TooLong { max: 100 }));
    }

    #[test]
    fn person_name_with_a_control_character_is_rejected() {
        assert!(invalid_format(PersonName::parse("Ada\u{0}Lovelace")));
        assert!(invalid_format(PersonName::parse("Ada\u{7}")));
        assert!(invalid_format(PersonName::parse("Ada\u{9b}")));
    }

    #[test]
    fn label_follows_the_person_name_rules() {
        assert_eq!(Label::parse(" Sales   managers ").unwrap().as_str(), "Sales managers");
        assert_eq!(Label::parse(""), Err(ValueError::Empty));
        assert_eq!(Label::parse(&"x".repeat(101)), Err(ValueError::TooLong { max: 100 }));
        assert!(invalid_format(Label::parse("API\u{1b}[31m key")));
        assert!(Label::parse("Reports / EMEA").is_ok());
    }

    // --- GroupName ----------------------------------------------------------------------------

    #[test]
    fn group_name_is_trimmed_and_inner_whitespace_is_collapsed() {
        assert_eq!(GroupName::parse("  North   America ").unwrap().as_str(), "North America");
    }

    #[test]
    fn group_name_with_a_slash_is_rejected() {
        assert_eq!(
            GroupName::parse("Sales/EMEA"),
            Err(ValueError::InvalidFormat { expected: "a group name without '/' or control characters" })
        );
    }

    #[test]
    fn group_name_follows_the_person_name_rules() {
        assert_eq!(GroupName::parse("\n"), Err(ValueError::Empty));
        assert_eq!(GroupName::parse(&"g".repeat(101)), Err(ValueError::TooLong { max: 100 }));
        assert!(invalid_format(GroupName::parse("Sales\u{0}")));
    }

    #[test]
    fn group_name_key_ignores_case_but_the_name_keeps_it() {
        let upper = GroupName::parse("Sales EMEA").unwrap();
        let lower = GroupName::parse("sales emea").unwrap();
        assert_ne!(upper, lower);
        assert_eq!(upper.key(), lower.key());
        assert_eq!(upper.key(), "sales emea");
    }

    // --- Nickname, Nicknames ------------------------------------------------------------------

    #[test]
    fn nickname_is_trimmed_but_inner_spacing_is_kept() {
        assert_eq!(Nickname::parse("  Big  Al ").unwrap().as_str(), "Big  Al");
    }

    #[test]
    fn nickname_must_be_1_to_64_characters_without_control_characters() {
        assert_eq!(Nickname::parse(" "), Err(ValueError::Empty));
        assert!(Nickname::parse(&"ñ".repeat(64)).is_ok());
        assert_eq!(Nickname::parse(&"n".repeat(65)), Err(ValueError::TooLong { max: 64 }));
        assert!(invalid_format(Nickname::parse("Al\tBundy")));
    }

    #[test]
    fn nicknames_keep_the_order_given() {
        let nicknames = Nicknames::parse(["Ace", " Bee ", "Cee"]).unwrap();
        let items: Vec<&str> = nicknames.iter().map(Nickname::as_str).collect();
        assert_eq!(items, ["Ace", "Bee", "Cee"]);
        assert_eq!(nicknames.len(), 3);
        assert!(!nicknames.is_empty());
    }

    #[test]
    fn nicknames_may_be_empty() {
        let none = Nicknames::parse(Vec::<String>::new()).unwrap();
        assert!(none.is_empty());
        assert_eq!(none, Nicknames::empty());
        assert_eq!(Nicknames::empty().len(), 0);
    }

    #[test]
    fn nicknames_repeated_ignoring_case_are_rejected_as_duplicates() {
        assert_eq!(Nicknames::parse(["Ace", "Bee", " ACE "]), Err(ValueError::Duplicate { value: "ACE".into() }));
    }

    #[test]
    fn nicknames_report_the_first_invalid_item() {
        assert_eq!(Nicknames::parse(["Ace", ""]), Err(ValueError::Empty));
    }

    #[test]
    fn twenty_nicknames_are_accepted_and_twenty_one_are_too_many() {
        let twenty: Vec<String> = (0..20).map(|i| format!("nick{i}")).collect();
        assert_eq!(Nicknames::parse(&twenty).unwrap().len(), 20);
        let twenty_one: Vec<String> = (0..21).map(|i| format!("nick{i}")).collect();
        assert_eq!(Nicknames::parse(&twenty_one), Err(ValueError::TooMany { max: 20 }));
    }

    #[test]
    fn nicknames_serialize_as_a_json_array_of_strings() {
        let nicknames = Nicknames::parse(["Ace", "Bee"]).unwrap();
        assert_eq!(serde_json::to_string(&nicknames).unwrap(), r#"["Ace","Bee"]"#);
        let read: Nicknames = serde_json::from_str(r#"[" Ace", "Bee"]"#).unwrap();
        assert_eq!(read, nicknames);
        assert!(serde_json::from_str::<Nicknames>(r#"["Ace", "ace"]"#).is_err());
    }

    // --- Reason -------------------------------------------------------------------------------

    #[test]
    fn reason_is_trimmed_and_keeps_its_line_breaks() {
        let reason = Reason::parse("  Ticket #4521:\nuser cannot see leads.\r\n ").unwrap();
        assert_eq!(reason.as_str(), "Ticket #4521:\nuser cannot see leads.");
    }

    #[test]
    fn reason_must_be_1_to_500_characters() {
        assert_eq!(Reason::parse(" \n "), Err(ValueError::Empty));
        assert!(Reason::parse(&"r".repeat(500)).is_ok());
        assert_eq!(Reason::parse(&"r".repeat(501)), Err(ValueError::TooLong { max: 500 }));
    }

    #[test]
    fn reason_with_a_nul_or_escape_character_is_rejected() {
        assert!(invalid_format(Reason::parse("support\u{0}ticket")));
        assert!(invalid_format(Reason::parse("support\u{1b}[2J")));
    }

    // --- AgentId, CrmId -----------------------------------------------------------------------

    #[test]
    fn agent_id_is_trimmed_and_keeps_its_case() {
        assert_eq!(AgentId::parse(" Agent_7.b-2 ").unwrap().as_str(), "Agent_7.b-2");
    }

    #[test]
    fn agent_id_must_be_1_to_64_allowed_characters() {
        assert_eq!(AgentId::parse("  "), Err(ValueError::Empty));
        assert!(AgentId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(AgentId::parse(&"a".repeat(65)), Err(ValueError::TooLong { max: 64 }));
        assert!(invalid_format(AgentId::parse("agent 7")));
        assert!(invalid_format(AgentId::parse("agent/7")));
        assert!(invalid_format(AgentId::parse("agént")));
    }

    #[test]
    fn crm_id_accepts_salesforce_user_ids_and_keeps_their_case() {
        assert_eq!(CrmId::parse("005xx000001Sv6e").unwrap().as_str(), "005xx000001Sv6e");
        assert_eq!(CrmId::parse(" 005xx000001Sv6eAAC ").unwrap().as_str(), "005xx000001Sv6eAAC");
        assert!(CrmId::parse("hubspot_owner-42").is_ok());
    }

    #[test]
    fn crm_id_must_be_1_to_64_allowed_characters() {
        assert_eq!(CrmId::parse(""), Err(ValueError::Empty));
        assert_eq!(CrmId::parse(&"0".repeat(65)), Err(ValueError::TooLong { max: 64 }));
        assert!(invalid_format(CrmId::parse("005.xx")));
        assert!(invalid_format(CrmId::parse("005 xx")));
    }

    // --- Slug ---------------------------------------------------------------------------------

    #[test]
    fn slug_is_stored_trimmed_and_lower_case() {
        assert_eq!(Slug::parse(" Acme-Corp ").unwrap().as_str(), "acme-corp");
    }

    #[test]
    fn slug_must_be_2_to_63_characters() {
        assert_eq!(Slug::parse(""), Err(ValueError::Empty));
        assert_eq!(Slug::parse("a"), Err(ValueError::TooShort { min: 2 }));
        assert!(Slug::parse("ab").is_ok());
        assert!(Slug::parse(&"s".repeat(63)).is_ok());
        assert_eq!(Slug::parse(&"s".repeat(64)), Err(ValueError::TooLong { max: 63 }));
    }

    #[test]
    fn slug_with_a_hyphen_at_either_end_is_rejected() {
        assert!(invalid_format(Slug::parse("-acme")));
        assert!(invalid_format(Slug::parse("acme-")));
        assert!(Slug::parse("a-c-m-e").is_ok());
    }

    #[test]
    fn slug_with_characters_other_than_letters_digits_and_hyphens_is_rejected() {
        assert!(invalid_format(Slug::parse("acme_corp")));
        assert!(invalid_format(Slug::parse("acme corp")));
        assert!(invalid_format(Slug::parse("acmé")));
        assert!(invalid_format(Slug::parse("\u{212A}ey")));
    }

    // --- Key ----------------------------------------------------------------------------------

    #[test]
    fn key_is_accepted_exactly_as_given() {
        assert_eq!(Key::parse("full_member").unwrap().as_str(), "full_member");
        assert!(Key::parse("core").is_ok());
        assert!(Key::parse("a1_b2").is_ok());
    }

    #[test]
    fn key_is_not_normalized() {
        assert!(invalid_format(Key::parse("Admin")));
        assert!(invalid_format(Key::parse(" admin")));
        assert!(invalid_format(Key::parse("admin ")));
    }

    #[test]
    fn key_must_start_with_a_letter_and_hold_only_lower_case_letters_digits_and_underscores() {
        assert!(invalid_format(Key::parse("1admin")));
        assert!(invalid_format(Key::parse("_admin")));
        assert!(invalid_format(Key::parse("full-member")));
    }

    #[test]
    fn key_must_be_1_to_64_characters() {
        assert_eq!(Key::parse(""), Err(ValueError::Empty));
        assert!(Key::parse(&"k".repeat(64)).is_ok());
        assert_eq!(Key::parse(&"k".repeat(65)), Err(ValueError::TooLong { max: 64 }));
    }

    // --- Password -----------------------------------------------------------------------------

    #[test]
    fn password_is_kept_exactly_as_entered() {
        let password = Password::parse("  correct horse  ").unwrap();
        assert_eq!(password.expose(), "  correct horse  ");
    }

    #[test]
    fn password_is_never_printed() {
        let password = Password::parse("correct horse battery staple").unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert_eq!(password.to_string(), "Password(***)");
        assert_eq!(format!("{:?}", Some(password)), "Some(Password(***))");
    }

    #[test]
    fn password_shorter_than_12_characters_is_rejected() {
        assert_eq!(Password::parse("").err(), Some(ValueError::Empty));
        assert_eq!(Password::parse("elevenchars").err(), Some(ValueError::TooShort { min: 12 }));
        assert!(Password::parse("twelve chars").is_ok());
    }

    #[test]
    fn password_length_is_counted_in_characters_not_bytes() {
        // Eleven three-byte characters are 33 bytes but still too short.
        assert_eq!(Password::parse(&"密".repeat(11)).err(), Some(ValueError::TooShort { min: 12 }));
        assert!(Password::parse(&"密".repeat(12)).is_ok());
        assert!(Password::parse(&"密".repeat(1024)).is_ok());
        assert_eq!(Password::parse(&"密".repeat(1025)).err(), Some(ValueError::TooLong { max: 1024 }));
    }

    #[test]
    fn password_deserializes_through_parse() {
        let password: Password = serde_json::from_str("\"correct horse battery\"").unwrap();
        assert_eq!(password.expose(), "correct horse battery");
        assert!(serde_json::from_str::<Password>("\"short\"").is_err());
    }

    // --- Shared conversions -------------------------------------------------------------------

    #[test]
    fn values_convert_from_and_into_strings_through_parse() {
        let slug: Slug = "Demo".parse().unwrap();
        assert_eq!(slug.as_ref(), "demo");
        assert_eq!(String::from(slug), "demo");
        assert_eq!(Key::try_from(String::from("Admin")).map_err(|e| e.code()), Err("invalid_format"));
    }
}

/// Serde for an `Option<Option<T>>` patch field: absent is `None` (no change), `null` is
/// `Some(None)` (clear), a value is `Some(Some(value))`. Use with `#[serde(default,
/// skip_serializing_if = "Option::is_none", with = "double_option")]`.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `Some(None)` as `null` and `Some(Some(v))` as `v` (`None` is skipped by the field's
    /// `skip_serializing_if`).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer, T: Serialize>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    /// Reads a present field: `null` as `Some(None)`, a value as `Some(Some(v))`.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
