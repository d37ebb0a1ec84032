//! SMTP delivery with lettre (tokio, rustls with Mozilla's roots, pooled connections).
//!
//! Configured by lettre's URL form (`ROSTER_SMTP_URL`, SPEC §11):
//! `smtp://[user:pass@]host[:port][?tls=required|opportunistic]` (plain, or STARTTLS required or
//! when offered; `starttls` is accepted for `required`) and `smtps://[user:pass@]host[:port]`
//! (TLS from the first byte). Default ports: 25 for plain SMTP, 587 with STARTTLS, 465 for
//! `smtps`. A path names the client in `EHLO`, as in lettre.
//!
//! How failures read for the retry policy: a 5xx reply is [`MailError::Permanent`] (RFC 5321: the
//! same request will fail again — unknown mailbox, refused content); everything else — a 4xx
//! reply, a refused or dropped connection, a timeout, a TLS or authentication problem the
//! operator can fix — is [`MailError::Transient`], retried with backoff until the policy gives
//! up.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{self, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use percent_encoding::percent_decode_str;
use roster_domain::mail::OutgoingMail;
use roster_domain::ports::{MailError, Mailer};
use url::Url;

use crate::compose::Composer;
use crate::error::MailSetupError;

/// How long one SMTP command (connecting included) may wait for the server.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS (a local relay).
    Plain,
    /// STARTTLS, refusing to send when the server does not offer it (`tls=required`).
    StartTls,
    /// STARTTLS when the server offers it, plain otherwise (`tls=opportunistic`).
    Opportunistic,
    /// TLS from the first byte (`smtps://`).
    Wrapper,
}

/// A parsed `ROSTER_SMTP_URL`. Neither `Debug` nor `Display` shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<(String, String)>,
    hello_name: Option<String>,
}

impl SmtpUrl {
    /// Parses lettre's URL form (see the module docs).
    ///
    /// # Errors
    /// [`MailSetupError::SmtpUrl`] naming what is wrong (never the password).
    pub fn parse(text: &str) -> Result<Self, MailSetupError> {
        let bad = |why: String| MailSetupError::SmtpUrl(why);
        let url = Url::parse(text.trim()).map_err(|e| bad(format!("not a URL ({e})")))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("the URL has no host".to_owned()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.into_owned()),
                "tls" => return Err(bad("`tls` is given twice".to_owned())),
                other => return Err(bad(format!("unknown parameter `{other}` (only `tls` is known)"))),
            }
        }
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => SmtpSecurity::Plain,
            ("smtp", Some("required" | "starttls")) => SmtpSecurity::StartTls,
            ("smtp", Some("opportunistic")) => SmtpSecurity::Opportunistic,
            ("smtp", Some(other)) => {
                return Err(bad(format!("`tls={other}`: expected `required` or `opportunistic`")));
            }
            ("smtps", None) => SmtpSecurity::Wrapper,
            ("smtps", Some(_)) => return Err(bad("`smtps://` is TLS already and takes no `tls` parameter".to_owned())),
            (scheme, _) => return Err(bad(format!("scheme `{scheme}`: expected `smtp` or `smtps`"))),
        };
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Plain => 25,
            SmtpSecurity::StartTls | SmtpSecurity::Opportunistic => 587,
            SmtpSecurity::Wrapper => 465,
        });
        let decode = |part: &str, what: &str| {
            percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| bad(format!("the {what} is not UTF-8 once percent-decoded")))
        };
        let credentials = match url.password() {
            Some(password) => Some((decode(url.username(), "user name")?, decode(password, "password")?)),
            None if url.username().is_empty() => None,
            None => return Err(bad("a user name needs a password (`smtp://user:pass@host`)".to_owned())),
        };
        let path = url.path().trim_matches('/');
        let hello_name = (!path.is_empty()).then(|| path.to_owned());
        Ok(Self { host, port, security, credentials, hello_name })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn security(&self) -> SmtpSecurity {
        self.security
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.security == SmtpSecurity::Wrapper { "smtps" } else { "smtp" };
        write!(f, "{scheme}://")?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}:***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        match self.security {
            SmtpSecurity::StartTls => f.write_str("?tls=required"),
            SmtpSecurity::Opportunistic => f.write_str("?tls=opportunistic"),
            SmtpSecurity::Plain | SmtpSecurity::Wrapper => Ok(()),
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    composer: Composer,
    server: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.server).finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for the server of `url`. Nothing is connected yet: the first message opens the
    /// first connection.
    ///
    /// # Errors
    /// [`MailSetupError::Smtp`] when lettre cannot build the TLS settings.
    pub fn new(url: &SmtpUrl, composer: Composer) -> Result<Self, MailSetupError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| MailSetupError::Smtp(format!("TLS for {host}: {e}")))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.port)
            .timeout(Some(COMMAND_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(4).idle_timeout(Duration::from_secs(60)));
        builder = match url.security {
            SmtpSecurity::Plain => builder,
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls(&url.host)?)),
            SmtpSecurity::Opportunistic => builder.tls(Tls::Opportunistic(tls(&url.host)?)),
            SmtpSecurity::Wrapper => builder.tls(Tls::Wrapper(tls(&url.host)?)),
        };
        if let Some((user, password)) = &url.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        if let Some(name) = &url.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        Ok(Self { transport: builder.build(), composer, server: url.to_string() })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = self.composer.compose(mail)?;
        self.transport.send(message).await.map(drop).map_err(|e| classify(&e, &self.server))
    }
}

/// The port's reading of an SMTP failure (see the module docs).
fn classify(error: &smtp::Error, server: &str) -> MailError {
    let text = format!("{server}: {}", chain(error));
    if error.is_permanent() { MailError::Permanent(text) } else { MailError::Transient(text) }
}

/// The error and its causes, `: `-separated, each said once (lettre's `Display` already shows
/// its direct cause).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_forms_of_the_spec_are_understood() {
        let plain = SmtpUrl::parse("smtp://127.0.0.1:2525").expect("valid");
        assert_eq!((plain.host(), plain.port(), plain.security()), ("127.0.0.1", 2525, SmtpSecurity::Plain));
        let submission = SmtpUrl::parse("smtp://me%40x.com:p%3Ass@mail.example.com?tls=required").expect("valid");
        assert_eq!((submission.port(), submission.security()), (587, SmtpSecurity::StartTls));
        assert_eq!(submission.credentials, Some(("me@x.com".to_owned(), "p:ss".to_owned())));
        assert_eq!(SmtpUrl::parse("smtp://h?tls=starttls").expect("valid").security(), SmtpSecurity::StartTls);
        assert_eq!(
            SmtpUrl::parse("smtp://h?tls=opportunistic").expect("valid").security(),
            SmtpSecurity::Opportunistic
        );
        let wrapped = SmtpUrl::parse("smtps://h").expect("valid");
        assert_eq!((wrapped.port(), wrapped.security()), (465, SmtpSecurity::Wrapper));
        assert_eq!(
            SmtpUrl::parse("smtp://h:25/client.example").expect("valid").hello_name.as_deref(),
            Some("client.example")
        );
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for (text, says) in [
            ("http://h", "scheme `http`"),
            ("smtp://h?tls=maybe", "`tls=maybe`"),
            ("smtps://h?tls=required", "takes no `tls`"),
            ("smtp://h?timeout=3", "unknown parameter `timeout`"),
            ("smtp://user@h", "needs a password"),
            ("smtp:///nohost", "no host"),
            ("not a url", "not a URL"),
        ] {
            let error = SmtpUrl::parse(text).expect_err(text).to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn the_password_is_never_shown() {
        let url = SmtpUrl::parse("smtp://user:hunter2secret@h:587?tls=required").expect("valid");
        assert_eq!(url.to_string(), "smtp://user:***@h:587?tls=required");
        assert!(!format!("{url:?}").contains("hunter2secret"));
        let error = SmtpUrl::parse("smtp://user:hunter2secret@h?tls=nope").expect_err("bad tls").to_string();
        assert!(!error.contains("hunter2secret"), "{error}");
    }
}
