//! What each kind of message says, in plain text and in HTML, and the links it carries.
//!
//! Every value that comes from users (organization names, people's names) is HTML-escaped in the
//! HTML part, and tokens are percent-encoded in links, so no input can change a message's markup
//! or a link's target. Links are the public base URL followed by a fixed path (§8.1:
//! `<public base URL>/accept-invite?token=<token>`; §3: `<public base URL>/reset-password?token=`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use roster_domain::mail::{MailKind, OutgoingMail};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use url::Url;

use crate::error::MailSetupError;

/// The path of the page that accepts an invitation (SPEC §8.1).
pub const ACCEPT_INVITE_PATH: &str = "/accept-invite";
/// The path of the page that confirms a sign-up's email address.
pub const VERIFY_EMAIL_PATH: &str = "/verify-email";
/// The path of the page that sets a new password with a reset link (SPEC §3, §12).
pub const RESET_PASSWORD_PATH: &str = "/reset-password";

/// Characters a query value may keep as they are (RFC 3986 "unreserved").
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The base of every link sent by email: `http(s)://host[:port][/path]` with no query, fragment
/// or credentials, kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// Parses a base URL.
    ///
    /// # Errors
    /// [`MailSetupError::PublicUrl`] for anything but an absolute `http` or `https` URL with a
    /// host and without query, fragment or credentials.
    pub fn parse(text: &str) -> Result<Self, MailSetupError> {
        let bad = |why: &str| MailSetupError::PublicUrl(format!("`{text}`: {why}"));
        let url = Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("expected an http:// or https:// URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("the URL has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a base URL takes no query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("a base URL takes no credentials"));
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<base><path>?token=<token, percent-encoded>`.
    pub fn with_token(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={}", self.0, utf8_percent_encode(token, QUERY_VALUE))
    }

    /// The console's front page (`<base>/`).
    pub fn home(&self) -> String {
        format!("{}/", self.0)
    }
}

/// A message ready to be put in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Writes the subject, plain text and HTML of `mail`, with links from `base`.
pub fn render(mail: &OutgoingMail, base: &PublicUrl) -> Rendered {
    match &mail.kind {
        MailKind::Invitation { token, org_name, invited_by, expires_at, .. } => {
            let link = base.with_token(ACCEPT_INVITE_PATH, token);
            let expires = format_expiry(*expires_at);
            let subject = one_line(&format!("{invited_by} invited you to {org_name} on Roster"));
            let text = format!(
                "Hello,\n\n\
                 {invited_by} invited you to join {org_name} on Roster.\n\n\
                 Accept the invitation and choose your password:\n{link}\n\n\
                 The link works once and expires on {expires}.\n\
                 If you did not expect this invitation, you can ignore this email.\n"
            );
            let html = page(&format!(
                "<p>Hello,</p>\n\
                 <p><strong>{by}</strong> invited you to join <strong>{org}</strong> on Roster.</p>\n\
                 <p><a href=\"{href}\">Accept the invitation and choose your password</a></p>\n\
                 <p>Or paste this address into your browser:<br>{href}</p>\n\
                 <p>The link works once and expires on {expires}.<br>\n\
                 If you did not expect this invitation, you can ignore this email.</p>",
                by = escape_html(invited_by),
                org = escape_html(org_name),
                href = escape_html(&link),
            ));
            Rendered { subject, text, html }
        }
        MailKind::SignupVerification { token, org_name } => {
            let link = base.with_token(VERIFY_EMAIL_PATH, token);
            let subject = one_line(&format!("Confirm your email address for {org_name} on Roster"));
            let text = format!(
                "Hello,\n\n\
                 Someone, probably you, signed up to {org_name} on Roster with this address.\n\n\
                 Confirm it to finish creating your account:\n{link}\n\n\
                 If it was not you, you can ignore this email: no account is created without it.\n"
            );
            let html = page(&format!(
                "<p>Hello,</p>\n\
                 <p>Someone, probably you, signed up to <strong>{org}</strong> on Roster with this address.</p>\n\
                 <p><a href=\"{href}\">Confirm your email address</a> to finish creating your account.</p>\n\
                 <p>Or paste this address into your browser:<br>{href}</p>\n\
                 <p>If it was not you, you can ignore this email: no account is created without it.</p>",
                org = escape_html(org_name),
                href = escape_html(&link),
            ));
            Rendered { subject, text, html }
        }
        MailKind::PasswordReset { token, org_name, expires_at } => {
            let link = base.with_token(RESET_PASSWORD_PATH, token);
            let expires = format_expiry(*expires_at);
            let subject = one_line(&format!("Reset your password for {org_name} on Roster"));
            let text = format!(
                "Hello,\n\n\
                 Someone, probably you or an admin of {org_name}, asked to reset the password of \
                 your account in {org_name} on Roster.\n\n\
                 Choose a new password here:\n{link}\n\n\
                 The link works once and expires on {expires}.\n\
                 If you did not ask for it, you can ignore this email: your password stays as it is.\n"
            );
            let html = page(&format!(
                "<p>Hello,</p>\n\
                 <p>Someone, probably you or an admin of <strong>{org}</strong>, asked to reset the password \
                 of your account in <strong>{org}</strong> on Roster.</p>\n\
                 <p><a href=\"{href}\">Choose a new password</a></p>\n\
                 <p>Or paste this address into your browser:<br>{href}</p>\n\
                 <p>The link works once and expires on {expires}.<br>\n\
                 If you did not ask for it, you can ignore this email: your password stays as it is.</p>",
                org = escape_html(org_name),
                href = escape_html(&link),
            ));
            Rendered { subject, text, html }
        }
        MailKind::Welcome { org_name, first_name } => {
            let link = base.home();
            let subject = one_line(&format!("Welcome to {org_name} on Roster"));
            let text = format!(
                "Hello {first_name},\n\n\
                 Your account in {org_name} on Roster is ready.\n\n\
                 Sign in here:\n{link}\n"
            );
            let html = page(&format!(
                "<p>Hello {name},</p>\n\
                 <p>Your account in <strong>{org}</strong> on Roster is ready.</p>\n\
                 <p><a href=\"{href}\">Sign in</a></p>",
                name = escape_html(first_name),
                org = escape_html(org_name),
                href = escape_html(&link),
            ));
            Rendered { subject, text, html }
        }
        MailKind::WebhookDisabled { org_name, url, reason } => {
            let link = base.home();
            let subject = one_line(&format!("A webhook of {org_name} on Roster was disabled"));
            let text = format!(
                "Hello,\n\n\
                 Roster stopped sending events of {org_name} to the webhook endpoint\n{url}\n\
                 because {reason}.\n\n\
                 Events are kept: once the receiver works again, create an endpoint (or replay\n\
                 from the last event it received) in Roster:\n{link}\n"
            );
            let html = page(&format!(
                "<p>Hello,</p>\n\
                 <p>Roster stopped sending events of <strong>{org}</strong> to the webhook endpoint \
                 <code>{url}</code> because {reason}.</p>\n\
                 <p>Events are kept: once the receiver works again, create an endpoint (or replay from \
                 the last event it received) in <a href=\"{href}\">Roster</a>.</p>",
                org = escape_html(org_name),
                url = escape_html(url),
                reason = escape_html(reason),
                href = escape_html(&link),
            ));
            Rendered { subject, text, html }
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete HTML document around `body`.
fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Roster</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5\">\n{body}\n</body>\n</html>\n"
    )
}

/// A subject is one header line: control characters (a line break in a name) become spaces.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn format_expiry(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(UtcOffset::UTC).format(format).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use roster_domain::ids::{InviteId, MailId, OrgId};
    use roster_domain::values::Email;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    fn invitation(org_name: &str, invited_by: &str, token: &str) -> OutgoingMail {
        OutgoingMail {
            id: MailId::from_uuid(Uuid::from_u128(1)),
            org_id: OrgId::from_uuid(Uuid::from_u128(2)),
            to: Email::parse("ada@example.com").expect("valid"),
            kind: MailKind::Invitation {
                invite_id: InviteId::from_uuid(Uuid::from_u128(3)),
                token: token.to_owned(),
                org_name: org_name.to_owned(),
                invited_by: invited_by.to_owned(),
                expires_at: datetime!(2026-12-01 09:30 UTC),
            },
            created_at: datetime!(2026-11-24 09:30 UTC),
        }
    }

    fn base() -> PublicUrl {
        PublicUrl::parse("https://roster.example.com/").expect("valid")
    }

    #[test]
    fn the_invitation_carries_the_accept_link_in_both_parts() {
        let r = render(&invitation("Acme", "Grace Hopper", "tok_123-abc"), &base());
        let link = "https://roster.example.com/accept-invite?token=tok_123-abc";
        assert_eq!(r.subject, "Grace Hopper invited you to Acme on Roster");
        assert!(r.text.contains(link), "{}", r.text);
        assert!(r.html.contains(&format!("<a href=\"{link}\">")), "{}", r.html);
        assert!(r.text.contains("expires on 2026-12-01 09:30 UTC"));
    }

    #[test]
    fn user_data_is_escaped_in_html_and_cannot_break_the_subject_line() {
        let r = render(&invitation("<script>alert(1)</script> & Co", "Eve \"x\"\r\nBcc: a@b.c", "t"), &base());
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
        assert!(r.html.contains("Eve &quot;x&quot;"));
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
        // The plain text part is not HTML: it keeps the names as they are.
        assert!(r.text.contains("<script>alert(1)</script> & Co"));
    }

    #[test]
    fn tokens_are_percent_encoded_in_links() {
        let r = render(&invitation("Acme", "Grace", "a b&c=d\"<"), &base());
        assert!(r.text.contains("/accept-invite?token=a%20b%26c%3Dd%22%3C\n"), "{}", r.text);
    }

    #[test]
    fn sign_up_and_welcome_messages_link_to_their_pages() {
        let mut mail = invitation("Acme", "Grace", "t");
        mail.kind = MailKind::SignupVerification { token: "v1".to_owned(), org_name: "Acme".to_owned() };
        let r = render(&mail, &base());
        assert!(r.text.contains("https://roster.example.com/verify-email?token=v1"));
        mail.kind = MailKind::Welcome { org_name: "Acme".to_owned(), first_name: "Ada <3".to_owned() };
        let r = render(&mail, &base());
        assert!(r.html.contains("Hello Ada &lt;3,"));
        assert!(r.text.contains("https://roster.example.com/\n"));
    }

    #[test]
    fn the_password_reset_carries_its_one_use_link_and_expiry_in_both_parts() {
        let mut mail = invitation("Acme & Co", "Grace", "t");
        mail.kind = MailKind::PasswordReset {
            token: "r-1".to_owned(),
            org_name: "Acme & Co".to_owned(),
            expires_at: datetime!(2026-12-01 10:30 UTC),
        };
        let r = render(&mail, &base());
        let link = "https://roster.example.com/reset-password?token=r-1";
        assert_eq!(r.subject, "Reset your password for Acme & Co on Roster");
        assert!(r.text.contains(link), "{}", r.text);
        assert!(r.html.contains(&format!("<a href=\"{link}\">")), "{}", r.html);
        assert!(r.text.contains("works once and expires on 2026-12-01 10:30 UTC"), "{}", r.text);
        assert!(r.html.contains("Acme &amp; Co") && !r.html.contains("Acme & Co"), "{}", r.html);
    }

    #[test]
    fn public_urls_are_checked_and_normalized() {
        assert_eq!(PublicUrl::parse("http://127.0.0.1:8080").expect("valid").as_str(), "http://127.0.0.1:8080");
        assert_eq!(PublicUrl::parse("https://x.example/roster/").expect("valid").as_str(), "https://x.example/roster");
        for bad in ["ftp://x.example", "x.example", "https://x.example/?a=1", "https://u:p@x.example", "http://"] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn html_escaping_covers_the_five_special_characters() {
        assert_eq!(escape_html("<a href='x'>\"&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
    }
}
