//! Rendering: templates into answers, the chrome every signed-in page shares, the input of a
//! form or query string, and refusals in words.
//!
//! A refusal of the domain (a [`ServiceError`]) becomes a [`Refusal`]: a sentence a person
//! understands, the API's stable `code` (rendered as `data-code`), and the field at fault, so
//! the template shows it beside the control that caused it.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::{ErrorCode, ServiceError};

use crate::session::Console;

/// Renders a page with `status`. A template that fails to render (it cannot, short of a bug) is
/// a 500 with a plain sentence.
pub fn render_with(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown.").into_response()
        }
    }
}

/// Renders a page with status 200.
pub fn render(page: &impl Template) -> Response {
    render_with(StatusCode::OK, page)
}

/// The sections of the console, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Users,
    Groups,
    Connections,
    Licenses,
    Audit,
    Settings,
}

/// One link of the navigation.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What every signed-in page shows around its content.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The form token every form of the page carries.
    pub csrf: String,
    /// The signed-in member's full name (the member acted as, while impersonating).
    pub user_name: String,
    pub nav: Vec<NavLink>,
    /// Whether an admin acts as this member: every page shows the banner.
    pub impersonating: bool,
}

impl Chrome {
    /// The chrome of a page of `section` for the signed-in member.
    pub fn new(console: &Console, section: Section) -> Self {
        let links = [
            (Section::Users, "/users", "Users"),
            (Section::Groups, "/groups", "Groups"),
            (Section::Connections, "/connections", "Connections"),
            (Section::Licenses, "/licenses", "Licenses and billing"),
            (Section::Audit, "/audit", "Audit log"),
            (Section::Settings, "/settings", "Settings"),
        ];
        Self {
            csrf: console.form_token(),
            user_name: console.full_name.clone(),
            nav: links.into_iter().map(|(s, href, label)| NavLink { href, label, current: s == section }).collect(),
            impersonating: console.impersonating(),
        }
    }
}

/// A refusal, in words, beside the control (`field`) that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The form field at fault; empty for the form as a whole.
    pub field: String,
    /// The API's stable code (`seat_limit_reached`, `validation_failed`, …).
    pub code: String,
    /// A sentence for a person.
    pub message: String,
}

impl Refusal {
    /// A refusal of the field `field` (empty: the whole form).
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// The refusals of one form: at most one per field, and the form's own.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Vec<Refusal>);

impl Refusals {
    /// No refusal.
    pub fn none() -> Self {
        Self::default()
    }

    /// One refusal.
    pub fn one(refusal: Refusal) -> Self {
        Self(vec![refusal])
    }

    /// Adds a refusal.
    pub fn push(&mut self, refusal: Refusal) {
        self.0.push(refusal);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every refusal.
    pub fn iter(&self) -> impl Iterator<Item = &Refusal> {
        self.0.iter()
    }

    /// The refusal of `field`, if any.
    pub fn of(&self, field: &str) -> Option<&Refusal> {
        self.0.iter().find(|r| r.field == field)
    }

    /// The refusal of the whole form, if any.
    pub fn general(&self) -> Option<&Refusal> {
        self.of("")
    }

    /// The refusals of a failed use case of a form with one control (a switch, a button, a group
    /// of boxes): every refusal shown beside `field`.
    pub fn beside(error: &ServiceError, field: &str) -> Self {
        Self(Self::from_error(error, &[]).0.into_iter().map(|r| Refusal { field: field.to_owned(), ..r }).collect())
    }

    /// The refusals of a failed use case. Each field error names its field as the service does
    /// (`email`, `password`); `fields` maps those names to the form's own where they differ.
    pub fn from_error(error: &ServiceError, fields: &[(&str, &str)]) -> Self {
        let code = error.code().as_str();
        let rename = |name: &str| fields.iter().find(|(from, _)| *from == name).map_or(name, |(_, to)| to).to_owned();
        match error {
            ServiceError::Validation(errors) => {
                Self(errors.iter().map(|e| Refusal::new(rename(&e.field), e.code, sentence_case(&e.message))).collect())
            }
            ServiceError::Conflict { field, message } => {
                Self::one(Refusal::new(rename(field), code, sentence_case(message)))
            }
            _ => Self::one(Refusal::new("", code, in_words(error))),
        }
    }
}

/// A domain refusal as a sentence a person understands.
pub fn in_words(error: &ServiceError) -> String {
    match error {
        ServiceError::Unauthenticated => "The organization, email or password is not right.".to_owned(),
        ServiceError::RateLimited { retry_after_seconds } => {
            format!("Too many attempts. Try again in {}.", duration_in_words(*retry_after_seconds))
        }
        ServiceError::InvalidToken => {
            "This link no longer works: it was used already, replaced by a newer one, or it expired.".to_owned()
        }
        ServiceError::SeatLimitReached { product, seats_total, .. } => {
            format!("No {product} seat is left: all {seats_total} are taken.")
        }
        ServiceError::LastAdmin => "The organization must keep at least one active admin.".to_owned(),
        ServiceError::SelfDeactivation => "You cannot deactivate or delete yourself.".to_owned(),
        ServiceError::AutoSignupEnabled => {
            "Invites are turned off while auto sign-up is on. Turn auto sign-up off in Settings first.".to_owned()
        }
        ServiceError::Forbidden { .. } => "You are not allowed to do this.".to_owned(),
        ServiceError::NotFound { kind } => format!("This {kind} does not exist, or you cannot see it."),
        infrastructure if infrastructure.code() == ErrorCode::Internal => {
            "Roster could not complete this just now. Nothing was changed; please try again.".to_owned()
        }
        other => sentence_case(&other.to_string()),
    }
}

/// Seconds as a person says them: "45 seconds", "3 minutes".
fn duration_in_words(seconds: u64) -> String {
    match seconds {
        0..=1 => "a second".to_owned(),
        2..=59 => format!("{seconds} seconds"),
        60..=119 => "a minute".to_owned(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// The text with a capital first letter and a final full stop.
pub fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The fields of a form body or a query string, in order, repeated names kept.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Reads `application/x-www-form-urlencoded` text.
    pub fn parse(text: &[u8]) -> Self {
        Self(form_urlencoded::parse(text).into_owned().collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or empty text.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The fields named in `names` only, in order.
    pub fn only(&self, names: &[&str]) -> Self {
        Self(self.0.iter().filter(|(k, _)| names.contains(&k.as_str())).cloned().collect())
    }

    /// Every field, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether a checkbox `name` was sent checked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every value of `name`, each read by `read`. A value it cannot read (a choice the page
    /// never offered: a forged or stale form) refuses the whole form, beside `name`, rather
    /// than leaving that choice out silently.
    ///
    /// # Errors
    /// `invalid_format` on `name`.
    pub fn chosen<T>(&self, name: &str, read: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, ServiceError> {
        self.all(name)
            .into_iter()
            .map(|value| {
                read(value).ok_or_else(|| {
                    ServiceError::Validation(vec![roster_domain::FieldError::new(
                        name,
                        "invalid_format",
                        format!("`{value}` is not one of the choices offered; reload the page and choose again"),
                    )])
                })
            })
            .collect()
    }
}

/// A section the signed-in member may not see, inside the chrome (the banner of an
/// impersonation stays, so the admin can log back).
#[derive(Debug, Template)]
#[template(path = "not_allowed.html")]
pub struct NotAllowedPage {
    pub chrome: Chrome,
    pub heading: &'static str,
    pub message: String,
}

/// The answer when the member's authority does not reach a section: 403 with the chrome.
pub fn not_allowed(console: &Console, section: Section, heading: &'static str) -> Response {
    let message =
        "You are not allowed to see this page. An admin of your organization can give you the permission.".to_owned();
    render_with(StatusCode::FORBIDDEN, &NotAllowedPage { chrome: Chrome::new(console, section), heading, message })
}

/// A page that says what went wrong when no page of the console can be shown.
#[derive(Debug, Template)]
#[template(path = "problem.html")]
pub struct ProblemPage {
    pub title: String,
    pub message: String,
    pub code: String,
}

/// The answer to a request the console cannot serve: a page with the status the API would
/// answer for the same refusal.
pub fn problem(error: &ServiceError) -> Response {
    let status = roster_adapters_http::problem::status_of(error.code());
    if status.is_server_error() {
        tracing::error!(error = %error, "a console page failed");
    }
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        s if s.is_server_error() => "Something went wrong",
        _ => "This cannot be done",
    };
    let page =
        ProblemPage { title: title.to_owned(), message: in_words(error), code: error.code().as_str().to_owned() };
    render_with(status, &page)
}

#[cfg(test)]
mod tests {
    use roster_domain::FieldError;

    use super::*;

    #[test]
    fn a_validation_error_is_a_refusal_beside_each_field() {
        let error = ServiceError::Validation(vec![FieldError::new("password", "too_short", "at least 12 characters")]);
        let refusals = Refusals::from_error(&error, &[]);
        let r = refusals.of("password").unwrap();
        assert_eq!((r.code.as_str(), r.message.as_str()), ("too_short", "At least 12 characters."));
        assert!(refusals.general().is_none());
    }

    #[test]
    fn a_rule_is_refused_in_words_with_its_code() {
        let refusals = Refusals::from_error(&ServiceError::LastAdmin, &[]);
        let r = refusals.general().unwrap();
        assert_eq!(r.code, "last_admin");
        assert_eq!(r.message, "The organization must keep at least one active admin.");
        assert_eq!(
            in_words(&ServiceError::RateLimited { retry_after_seconds: 130 }),
            "Too many attempts. Try again in 3 minutes."
        );
    }

    #[test]
    fn fields_keep_repeated_names_in_order() {
        let f = Fields::parse(b"cols=email&cols=status&q=a+b&flag=on");
        assert_eq!(f.all("cols"), ["email", "status"]);
        assert_eq!(f.get("q"), Some("a b"));
        assert!(f.checked("flag") && !f.checked("other"));
    }
}
