//! The SCIM filter language of RFC 7644 §3.4.2.2 as a typed tree: [`Filter::parse`] reads the
//! whole grammar (attribute paths with schema URNs and sub-attributes, `eq ne co sw ew gt ge lt
//! le pr`, `and`, `or`, `not`, grouping and complex attribute filters `emails[type eq "work"]`),
//! [`Filter`]'s `Display` prints it back so that parsing the text gives the same tree, and
//! [`PatchPath::parse`] reads the `path` of a PATCH operation (RFC 7644 §3.5.2).
//!
//! Operators and the literals `true`, `false` and `null` are case-insensitive; attribute names
//! are kept as written (a schema resolves them case-insensitively, [`super::schema`]). `not`
//! binds tighter than `and`, which binds tighter than `or`; both are left-associative.
//!
//! Identity providers' deviations accepted as they are sent: a filtered path followed by a
//! sub-attribute and a comparison, `emails[type eq "work"].value eq "ada@example.com"` (not in
//! the RFC's grammar), is read as the complex filter it means,
//! `emails[type eq "work" and value eq "ada@example.com"]`.

use std::fmt;

use serde_json::Number;
use winnow::Parser;
use winnow::ascii::{Caseless, multispace0, multispace1};
use winnow::error::ContextError;
use winnow::token::{literal, take_while};

/// The longest filter read, in bytes: a filter is a lookup an identity provider builds, never
/// a document, and a longer one is `invalidFilter`.
pub const MAX_FILTER_LEN: usize = 4096;

/// The deepest nesting of groups, `not`s and brackets read: deeper is `invalidFilter` (a
/// recursive parser must not be driven into the stack's end by a request).
pub const MAX_FILTER_DEPTH: usize = 16;

type PResult<T> = winnow::Result<T, ContextError>;

/// An attribute path: `[URN ":"] name ["." subAttribute]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN that qualifies the name, as written (`urn:ietf:params:scim:schemas:…`).
    pub urn: Option<String>,
    /// The attribute's name, as written.
    pub name: String,
    /// The sub-attribute's name, as written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// An unqualified path to `name`.
    pub fn new(name: &str) -> Self {
        Self { urn: None, name: name.to_owned(), sub: None }
    }

    /// Reads a path alone, as `attributes`, `excludedAttributes` and `sortBy` name one.
    ///
    /// # Errors
    /// A [`SyntaxError`] where the text is no attribute path.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let mut input = text.trim();
        let whole = input;
        match attr_path(&mut input) {
            Ok(p) if input.is_empty() => Ok(p),
            _ => Err(SyntaxError::at(whole, input, "not a valid attribute path")),
        }
    }

    /// An unqualified path to `name.sub`.
    pub fn sub(name: &str, sub: &str) -> Self {
        Self { urn: None, name: name.to_owned(), sub: Some(sub.to_owned()) }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator of RFC 7644 §3.4.2.2 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator.
    pub const ALL: [Self; 9] =
        [Self::Eq, Self::Ne, Self::Co, Self::Sw, Self::Ew, Self::Gt, Self::Ge, Self::Lt, Self::Le];

    /// The operator as the filter writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

/// A comparison's value: a JSON literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string, unescaped.
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            // serde_json escapes every character JSON requires, so the parser reads it back.
            Self::String(s) => f.write_str(&serde_json::Value::String(s.clone()).to_string()),
        }
    }
}

/// A filter: the typed tree of RFC 7644 §3.4.2.2's `FILTER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path pr`: the attribute has a value.
    Present(AttrPath),
    /// `path op value`.
    Compare(AttrPath, CompareOp, CompValue),
    /// `path[filter]`: some value of a complex attribute matches the inner filter, whose
    /// paths name the attribute's sub-attributes.
    ValuePath(AttrPath, Box<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
}

/// Why a filter or a path could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct SyntaxError {
    /// What is wrong, for a person.
    pub detail: String,
}

impl SyntaxError {
    fn at(text: &str, rest: &str, what: &str) -> Self {
        let offset = text.len() - rest.len();
        let near: String = rest.chars().take(20).collect();
        if near.is_empty() {
            Self { detail: format!("{what}: the {what_of} ends too early", what_of = what_noun(what)) }
        } else {
            Self { detail: format!("{what}: unexpected text at character {} near `{near}`", offset + 1) }
        }
    }
}

fn what_noun(what: &str) -> &str {
    if what.contains("path") { "path" } else { "filter" }
}

impl Filter {
    /// Reads a filter.
    ///
    /// # Errors
    /// A [`SyntaxError`] saying where the text stops following the grammar, or that it is
    /// longer than [`MAX_FILTER_LEN`] or nested deeper than [`MAX_FILTER_DEPTH`].
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        const WHAT: &str = "not a valid filter";
        if text.len() > MAX_FILTER_LEN {
            return Err(SyntaxError { detail: format!("the filter is longer than {MAX_FILTER_LEN} bytes") });
        }
        check_depth(text)?;
        let mut input = text;
        let parsed = whole_filter(&mut input);
        match parsed {
            Ok(f) if input.is_empty() => Ok(f),
            _ => Err(SyntaxError::at(text, input, WHAT)),
        }
    }

    /// `left and right`.
    pub fn and(left: Self, right: Self) -> Self {
        Self::And(Box::new(left), Box::new(right))
    }

    /// `left or right`.
    pub fn or(left: Self, right: Self) -> Self {
        Self::Or(Box::new(left), Box::new(right))
    }

    /// `not (inner)`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(inner: Self) -> Self {
        Self::Not(Box::new(inner))
    }

    /// How tightly the printed form binds: `or` 1, `and` 2, everything else 3.
    fn precedence(&self) -> u8 {
        match self {
            Self::Or(..) => 1,
            Self::And(..) => 2,
            _ => 3,
        }
    }

    /// The number of comparisons and presence tests in the tree.
    pub fn terms(&self) -> usize {
        match self {
            Self::Present(_) | Self::Compare(..) => 1,
            Self::ValuePath(_, inner) | Self::Not(inner) => inner.terms(),
            Self::And(l, r) | Self::Or(l, r) => l.terms() + r.terms(),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Both operators are left-associative: a left operand needs parentheses only when it
        // binds more loosely, a right operand also when it binds as tightly.
        let operand = |f: &mut fmt::Formatter<'_>, child: &Self, parent: u8, right: bool| {
            let p = child.precedence();
            if p < parent || (right && p == parent) { write!(f, "({child})") } else { write!(f, "{child}") }
        };
        match self {
            Self::Present(path) => write!(f, "{path} pr"),
            Self::Compare(path, op, value) => write!(f, "{path} {} {value}", op.as_str()),
            Self::ValuePath(path, inner) => write!(f, "{path}[{inner}]"),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::And(l, r) => {
                operand(f, l, 2, false)?;
                f.write_str(" and ")?;
                operand(f, r, 2, true)
            }
            Self::Or(l, r) => {
                operand(f, l, 1, false)?;
                f.write_str(" or ")?;
                operand(f, r, 1, true)
            }
        }
    }
}

/// The `path` of a PATCH operation (RFC 7644 §3.5.2): `attrPath`, or
/// `attrPath[valFilter]` optionally followed by `.subAttribute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPath {
    /// The attribute (with a sub-attribute only in the unfiltered form).
    pub attr: AttrPath,
    /// The filter choosing values of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute of the chosen values (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

impl PatchPath {
    /// Reads a PATCH path.
    ///
    /// # Errors
    /// A [`SyntaxError`] where the text is no path.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        const WHAT: &str = "not a valid path";
        if text.len() > MAX_FILTER_LEN {
            return Err(SyntaxError { detail: format!("the path is longer than {MAX_FILTER_LEN} bytes") });
        }
        check_depth(text)?;
        let mut input = text.trim();
        let whole = input;
        let parsed = patch_path(&mut input);
        match parsed {
            Ok(p) if input.is_empty() => Ok(p),
            _ => Err(SyntaxError::at(whole, input, WHAT)),
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Refuses nesting deeper than [`MAX_FILTER_DEPTH`] before the recursive parser runs. Brackets
/// and parentheses inside strings do not count.
fn check_depth(text: &str) -> Result<(), SyntaxError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' => {
                depth += 1;
                if depth > MAX_FILTER_DEPTH {
                    return Err(SyntaxError {
                        detail: format!("the filter nests deeper than {MAX_FILTER_DEPTH} levels"),
                    });
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn whole_filter(i: &mut &str) -> PResult<Filter> {
    let _ = ws0(i)?;
    let f = or_expr(i, 0, false)?;
    let _ = ws0(i)?;
    Ok(f)
}

fn patch_path(i: &mut &str) -> PResult<PatchPath> {
    let attr = attr_path(i)?;
    if !i.starts_with('[') {
        return Ok(PatchPath { attr, filter: None, sub: None });
    }
    let filter = bracket(i, 0)?;
    let sub = if i.starts_with('.') {
        let _ = literal(".").parse_next(i)?;
        Some(attr_name(i)?.to_owned())
    } else {
        None
    };
    Ok(PatchPath { attr, filter: Some(filter), sub })
}

/// ` word ` between two operands: whitespace, the keyword, optional whitespace.
fn infix(i: &mut &str, word: &'static str) -> PResult<()> {
    let _ = ws1(i)?;
    let _ = keyword(i, word)?;
    let _ = ws0(i)?;
    Ok(())
}

fn fail<T>() -> PResult<T> {
    Err(ContextError::new())
}

fn ws0<'i>(i: &mut &'i str) -> PResult<&'i str> {
    multispace0.parse_next(i)
}

fn ws1<'i>(i: &mut &'i str) -> PResult<&'i str> {
    multispace1.parse_next(i)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '$'
}

/// A keyword (`and`, `not`, `pr`, `true`, …) in any case, not followed by a name character.
fn keyword<'i>(i: &mut &'i str, word: &'static str) -> PResult<&'i str> {
    let start = *i;
    let found = literal(Caseless(word)).parse_next(i)?;
    if i.chars().next().is_some_and(is_name_char) {
        *i = start;
        return fail();
    }
    Ok(found)
}

/// `or`-separated `and` terms, left-associative.
fn or_expr(i: &mut &str, depth: usize, in_brackets: bool) -> PResult<Filter> {
    chain(i, "or", |i| and_expr(i, depth, in_brackets), Filter::or)
}

/// `and`-separated primaries, left-associative.
fn and_expr(i: &mut &str, depth: usize, in_brackets: bool) -> PResult<Filter> {
    chain(i, "and", |i| primary(i, depth, in_brackets), Filter::and)
}

/// Operands separated by `word`, joined from the left.
fn chain(
    i: &mut &str,
    word: &'static str,
    mut operand: impl FnMut(&mut &str) -> PResult<Filter>,
    join: fn(Filter, Filter) -> Filter,
) -> PResult<Filter> {
    let mut left = operand(i)?;
    loop {
        let start = *i;
        if infix(i, word).is_err() {
            *i = start;
            return Ok(left);
        }
        left = join(left, operand(i)?);
    }
}

/// `not (…)`, `(…)`, `path[…]` or an attribute expression.
fn primary(i: &mut &str, depth: usize, in_brackets: bool) -> PResult<Filter> {
    if depth > MAX_FILTER_DEPTH {
        return fail();
    }
    let start = *i;
    if keyword(i, "not").is_ok() {
        let _ = ws0(i)?;
        if i.starts_with('(') {
            return Ok(Filter::not(group(i, depth)?));
        }
        // An attribute named `not`.
        *i = start;
    }
    if i.starts_with('(') {
        return group(i, depth);
    }
    let path = attr_path(i)?;
    if i.starts_with('[') {
        if in_brackets {
            return fail();
        }
        let inner = bracket(i, depth)?;
        // Entra ID's `emails[type eq "work"].value eq "…"`: the sub-attribute's test joins the
        // bracket's filter.
        if i.starts_with('.') {
            let _ = literal(".").parse_next(i)?;
            let sub = attr_name(i)?;
            let test = attr_test(i, AttrPath::new(sub))?;
            return Ok(Filter::ValuePath(path, Box::new(Filter::and(inner, test))));
        }
        return Ok(Filter::ValuePath(path, Box::new(inner)));
    }
    attr_test(i, path)
}

/// `( filter )`.
fn group(i: &mut &str, depth: usize) -> PResult<Filter> {
    let _ = literal("(").parse_next(i)?;
    let _ = ws0(i)?;
    let inner = or_expr(i, depth + 1, false)?;
    let _ = ws0(i)?;
    let _ = literal(")").parse_next(i)?;
    Ok(inner)
}

/// `[ valFilter ]`: no complex filter nests inside another.
fn bracket(i: &mut &str, depth: usize) -> PResult<Filter> {
    let _ = literal("[").parse_next(i)?;
    let _ = ws0(i)?;
    let inner = or_expr(i, depth + 1, true)?;
    let _ = ws0(i)?;
    let _ = literal("]").parse_next(i)?;
    Ok(inner)
}

/// ` pr` or ` op value` after a path.
fn attr_test(i: &mut &str, path: AttrPath) -> PResult<Filter> {
    let _ = ws1(i)?;
    if keyword(i, "pr").is_ok() {
        return Ok(Filter::Present(path));
    }
    let op = compare_op(i)?;
    let _ = ws1(i)?;
    let value = comp_value(i)?;
    Ok(Filter::Compare(path, op, value))
}

fn compare_op(i: &mut &str) -> PResult<CompareOp> {
    for op in CompareOp::ALL {
        if keyword(i, op.as_str()).is_ok() {
            return Ok(op);
        }
    }
    fail()
}

fn comp_value(i: &mut &str) -> PResult<CompValue> {
    if keyword(i, "true").is_ok() {
        return Ok(CompValue::Bool(true));
    }
    if keyword(i, "false").is_ok() {
        return Ok(CompValue::Bool(false));
    }
    if keyword(i, "null").is_ok() {
        return Ok(CompValue::Null);
    }
    if i.starts_with('"') {
        return json_string(i).map(CompValue::String);
    }
    let start = *i;
    let text: &str =
        take_while(1.., |c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')).parse_next(i)?;
    // JSON's number grammar, checked by serde_json (`01`, `1.` and `+1` are refused); the value
    // read by Rust's correctly rounded parsers, so that a printed number reads back exactly.
    let exact = if serde_json::from_str::<Number>(text).is_err() {
        None
    } else if let Ok(n) = text.parse::<i64>() {
        Some(Number::from(n))
    } else if let Ok(n) = text.parse::<u64>() {
        Some(Number::from(n))
    } else {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    };
    match exact {
        Some(n) => Ok(CompValue::Number(n)),
        None => {
            *i = start;
            fail()
        }
    }
}

/// A JSON string: its extent found here (an escaped quote does not end it), its escapes read by
/// serde_json, which also refuses raw control characters and bad escapes.
fn json_string(i: &mut &str) -> PResult<String> {
    let start = *i;
    let mut escaped = false;
    let mut end = None;
    for (at, c) in start.char_indices().skip(1) {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                end = Some(at + 1);
                break;
            }
            _ => {}
        }
    }
    let Some(end) = end else { return fail() };
    let raw = &start[..end];
    match serde_json::from_str::<String>(raw) {
        Ok(s) => {
            *i = &start[end..];
            Ok(s)
        }
        Err(_) => fail(),
    }
}

/// `ALPHA *(nameChar)`; `$ref` is SCIM's one name that starts otherwise.
fn attr_name<'i>(i: &mut &'i str) -> PResult<&'i str> {
    let name: &str = take_while(1.., is_name_char).parse_next(i)?;
    let first = name.chars().next().unwrap_or('0');
    if first.is_ascii_alphabetic() || name == "$ref" { Ok(name) } else { fail() }
}

/// `[URN ":"] name ["." sub]`. A URN holds colons and dots (`…:enterprise:2.0:User`): the
/// name follows its last colon.
fn attr_path(i: &mut &str) -> PResult<AttrPath> {
    let start = *i;
    let urn = if start.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        let whole: &str = take_while(1.., |c: char| is_name_char(c) || c == ':' || c == '.').parse_next(i)?;
        let Some(colon) = whole.rfind(':') else { return fail() };
        // Back up to just after the last colon; the name is read below.
        *i = &start[colon + 1..];
        Some(whole[..colon].to_owned())
    } else {
        None
    };
    let name = attr_name(i)?.to_owned();
    let sub = if i.starts_with('.') {
        let _ = literal(".").parse_next(i)?;
        Some(attr_name(i)?.to_owned())
    } else {
        None
    };
    Ok(AttrPath { urn, name, sub })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(path: &str, value: &str) -> Filter {
        Filter::Compare(AttrPath::new(path), CompareOp::Eq, CompValue::String(value.to_owned()))
    }

    #[test]
    fn the_rfcs_examples_parse() {
        for text in [
            r#"userName Eq "john""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ] {
            let parsed = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(Filter::parse(&parsed.to_string()), Ok(parsed), "{text}");
        }
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let f = Filter::parse(r#"a eq "1" or b eq "2" and not (c eq "3")"#).unwrap();
        assert_eq!(f, Filter::or(eq("a", "1"), Filter::and(eq("b", "2"), Filter::not(eq("c", "3")))));
    }

    #[test]
    fn an_enterprise_attribute_is_qualified_by_its_urn() {
        let f = Filter::parse(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#)
            .unwrap();
        let Filter::Compare(path, ..) = f else { panic!("{f:?}") };
        assert_eq!(path.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!((path.name.as_str(), path.sub.as_deref()), ("manager", Some("value")));
    }

    #[test]
    fn a_filtered_path_with_a_comparison_is_the_complex_filter_it_means() {
        let f = Filter::parse(r#"emails[type eq "work"].value eq "ada@example.com""#).unwrap();
        assert_eq!(
            f,
            Filter::ValuePath(
                AttrPath::new("emails"),
                Box::new(Filter::and(eq("type", "work"), eq("value", "ada@example.com")))
            )
        );
    }

    #[test]
    fn what_is_not_the_grammar_is_refused() {
        for text in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName eq john"#,
            r#"userName equals "john""#,
            r#"userName eq "john" and"#,
            r#"(userName eq "john""#,
            r#"userName eq "john")"#,
            r#"emails[value eq "a" and phones[value eq "b"]]"#,
            r#"userName eq "unterminated"#,
            r#"userName eq 01"#,
            r#"userName eq "a" andd b pr"#,
            "1abc pr",
            r#"userName eq "a" ; DROP TABLE users"#,
        ] {
            assert!(Filter::parse(text).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn deep_nesting_and_long_filters_are_refused_before_parsing() {
        let deep = format!("{}a pr{}", "(".repeat(MAX_FILTER_DEPTH + 1), ")".repeat(MAX_FILTER_DEPTH + 1));
        assert!(Filter::parse(&deep).unwrap_err().detail.contains("deeper"));
        let ok = format!("{}a pr{}", "(".repeat(MAX_FILTER_DEPTH), ")".repeat(MAX_FILTER_DEPTH));
        assert_eq!(Filter::parse(&ok), Ok(Filter::Present(AttrPath::new("a"))));
        let long = format!(r#"a eq "{}""#, "x".repeat(MAX_FILTER_LEN));
        assert!(Filter::parse(&long).unwrap_err().detail.contains("longer"));
    }

    #[test]
    fn patch_paths_read_attributes_filters_and_sub_attributes() {
        let p = PatchPath::parse(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(p.filter, Some(eq("type", "work")));
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = PatchPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").unwrap();
        assert_eq!(p.attr.name, "department");
        assert_eq!(PatchPath::parse("name.givenName").unwrap().attr, AttrPath::sub("name", "givenName"));
        for bad in ["", "emails[", "emails[type eq \"work\"", "name..x", "emails[type eq \"work\"]x"] {
            assert!(PatchPath::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
