//! Signing in and out, and the pages an email links to: accepting an invite (`/accept-invite`),
//! confirming a sign-up (`/verify-email`), and the forgotten-password pair (`/forgot-password`,
//! `/reset-password`). Each calls the use case the REST API calls for the same step.
//!
//! A link's token stays in the page (a hidden field), never in a log line of ours; a page that
//! holds a token answers `Referrer-Policy: same-origin` (every console page does), so the token
//! does not leave with a link to another site.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use roster_adapters_http::AppState;
use roster_adapters_http::auth::{cleared_cookie, session_cookie, session_token};
use roster_adapters_http::extract::ClientAddress;
use roster_adapters_http::problem::status_of;
use roster_adapters_http::wire::parse;
use roster_domain::ServiceError;
use roster_domain::audit::Source;
use roster_domain::services::{LoggedIn, LoginAttempt, PasswordResetRequest};
use roster_domain::values::{Email, Password, Slug};
use serde::Deserialize;

use crate::forgery;
use crate::page::{Fields, Refusal, Refusals, render, render_with};
use crate::session::local_path;

/// What the sign-in page says above its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// The session ended by itself.
    Expired,
    SignedOut,
    InviteAccepted,
    PasswordSet,
    EmailVerified,
}

impl Notice {
    fn text(self) -> &'static str {
        match self {
            Self::Expired => "Your session ended. Sign in again to go on where you were.",
            Self::SignedOut => "You are signed out.",
            Self::InviteAccepted => "Your account is ready. Sign in with the password you chose.",
            Self::PasswordSet => "Your password is set. Sign in with it.",
            Self::EmailVerified => "Your email address is confirmed. Sign in with the password you chose.",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::SignedOut => "signed_out",
            Self::InviteAccepted => "invite_accepted",
            Self::PasswordSet => "password_set",
            Self::EmailVerified => "email_verified",
        }
    }
}

/// The query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    org: Option<String>,
    email: Option<String>,
    notice: Option<Notice>,
    /// Set by the redirect of an expired session.
    expired: Option<String>,
}

/// The sign-in page.
#[derive(Debug, Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub org: String,
    pub email: String,
    pub next: String,
    pub notice: Option<&'static str>,
    pub refusals: Refusals,
}

/// `GET /login`.
pub async fn login_page(Query(query): Query<LoginQuery>) -> Response {
    let notice = if query.expired.is_some() { Some(Notice::Expired) } else { query.notice };
    render(&LoginPage {
        org: query.org.unwrap_or_default(),
        email: query.email.unwrap_or_default(),
        next: query.next.as_deref().and_then(local_path).unwrap_or_default().to_owned(),
        notice: notice.map(Notice::text),
        refusals: Refusals::none(),
    })
}

/// `POST /login`: signs in and goes to the page asked for (the Users page by default).
pub async fn login(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !forgery::same_origin(&headers) {
        return cross_site();
    }
    let fields = Fields::parse(body.as_bytes());
    let mut page = LoginPage {
        org: fields.text("org").trim().to_owned(),
        email: fields.text("email").trim().to_owned(),
        next: fields.get("next").and_then(local_path).unwrap_or_default().to_owned(),
        notice: None,
        refusals: Refusals::none(),
    };
    let org = parse("org", &page.org, Slug::parse);
    let email = parse("email", &page.email, Email::parse);
    let password = parse("password", &fields.text("password"), Password::parse);
    let (org, email, password) = match (org, email, password) {
        (Ok(o), Ok(e), Ok(p)) => (o, e, p),
        (o, e, p) => {
            for error in [o.err(), e.err(), p.err()].into_iter().flatten() {
                page.refusals.push(Refusal::new(
                    error.field.clone(),
                    error.code,
                    crate::page::sentence_case(&error.message),
                ));
            }
            return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let attempt = LoginAttempt { org, email, password, address: address.0, source: Source::Console };
    match state.services.log_in(&attempt).await {
        Ok(LoggedIn { token, .. }) => {
            let to = if page.next.is_empty() { "/users".to_owned() } else { page.next };
            with_cookie(Redirect::to(&to).into_response(), &session_cookie(&state, &token))
        }
        Err(e) => {
            page.refusals = Refusals::from_error(&e, &[]);
            render_with(status_of(e.code()), &page)
        }
    }
}

/// `POST /logout`: ends the session (if it is one) and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    if !forgery::same_origin(&headers) {
        return cross_site();
    }
    if let Some(token) = session_token(&headers) {
        let sent = Fields::parse(body.as_bytes()).text(forgery::FORM_FIELD);
        if !forgery::token_matches(&token, &sent) {
            return cross_site();
        }
        if let Ok(auth) = state.services.authenticate(&token, Source::Console).await
            && let Some(session) = auth.session
            && let Err(e) = state.services.log_out(&session.token_hash).await
        {
            return crate::page::problem(&e);
        }
    }
    let to = format!("/login?notice={}", Notice::SignedOut.name());
    with_cookie(Redirect::to(&to).into_response(), &cleared_cookie(&state))
}

/// The forgotten-password page.
#[derive(Debug, Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub org: String,
    pub email: String,
    /// Set once a request was taken.
    pub sent: bool,
    pub refusals: Refusals,
}

/// The query of `GET /forgot-password`: the sign-in page's fields, carried over.
#[derive(Debug, Default, Deserialize)]
pub struct ForgotQuery {
    org: Option<String>,
    email: Option<String>,
}

/// `GET /forgot-password`.
pub async fn forgot_page(Query(query): Query<ForgotQuery>) -> Response {
    render(&ForgotPage {
        org: query.org.unwrap_or_default(),
        email: query.email.unwrap_or_default(),
        sent: false,
        refusals: Refusals::none(),
    })
}

/// `POST /forgot-password`: mails a reset link if the account exists, and says the same
/// either way (the answer tells nobody who is a member).
pub async fn forgot(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !forgery::same_origin(&headers) {
        return cross_site();
    }
    let fields = Fields::parse(body.as_bytes());
    let mut page = ForgotPage {
        org: fields.text("org").trim().to_owned(),
        email: fields.text("email").trim().to_owned(),
        sent: false,
        refusals: Refusals::none(),
    };
    let (org, email) = match (parse("org", &page.org, Slug::parse), parse("email", &page.email, Email::parse)) {
        (Ok(o), Ok(e)) => (o, e),
        (o, e) => {
            for error in [o.err(), e.err()].into_iter().flatten() {
                page.refusals.push(Refusal::new(
                    error.field.clone(),
                    error.code,
                    crate::page::sentence_case(&error.message),
                ));
            }
            return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match state.services.request_password_reset(&PasswordResetRequest { org, email }, &address.0).await {
        Ok(()) => {
            page.sent = true;
            render(&page)
        }
        Err(e) => {
            page.refusals = Refusals::from_error(&e, &[]);
            render_with(status_of(e.code()), &page)
        }
    }
}

/// The query of a page an email links to.
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// A page that sets a password with an emailed token: accepting an invite, or a reset.
#[derive(Debug, Template)]
#[template(path = "set_password.html")]
pub struct SetPasswordPage {
    pub heading: &'static str,
    pub intro: &'static str,
    pub action: &'static str,
    pub button: &'static str,
    pub token: String,
    pub refusals: Refusals,
}

impl SetPasswordPage {
    fn accept(token: String) -> Self {
        Self {
            heading: "Accept your invitation",
            intro: "Choose a password of at least 12 characters to finish setting up your account.",
            action: "/accept-invite",
            button: "Accept invitation",
            token,
            refusals: Refusals::none(),
        }
    }

    fn reset(token: String) -> Self {
        Self {
            heading: "Set a new password",
            intro: "Choose a new password of at least 12 characters. Every other session of yours ends.",
            action: "/reset-password",
            button: "Set password",
            token,
            refusals: Refusals::none(),
        }
    }

    /// A link without its token cannot work: say so instead of showing a form.
    fn missing_token(mut self) -> Response {
        self.refusals =
            Refusals::one(Refusal::new("", "invalid_token", crate::page::in_words(&ServiceError::InvalidToken)));
        render_with(StatusCode::BAD_REQUEST, &self)
    }
}

/// `GET /accept-invite?token=`.
pub async fn accept_page(Query(query): Query<TokenQuery>) -> Response {
    token_page(query, SetPasswordPage::accept)
}

/// `POST /accept-invite`: sets the password, joins, and sends the person to sign in with their
/// organization and address filled in.
pub async fn accept(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    set_password(&headers, &body, SetPasswordPage::accept, |token, password| async move {
        let accepted = state.services.accept_invite(&token, &password).await?;
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("org", accepted.org.as_str());
        query.append_pair("email", accepted.email.as_str());
        query.append_pair("notice", Notice::InviteAccepted.name());
        Ok(format!("/login?{}", query.finish()))
    })
    .await
}

/// `GET /reset-password?token=`.
pub async fn reset_page(Query(query): Query<TokenQuery>) -> Response {
    token_page(query, SetPasswordPage::reset)
}

/// `POST /reset-password`: sets the new password and sends the person to sign in.
pub async fn reset(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    set_password(&headers, &body, SetPasswordPage::reset, |token, password| async move {
        state.services.confirm_password_reset(&token, &password).await?;
        Ok(format!("/login?notice={}", Notice::PasswordSet.name()))
    })
    .await
}

/// A page an emailed link opens with its token; without one, a sentence instead of a form.
fn token_page(query: TokenQuery, page: fn(String) -> SetPasswordPage) -> Response {
    match query.token.filter(|t| !t.is_empty()) {
        Some(token) => render(&page(token)),
        None => page(String::new()).missing_token(),
    }
}

/// A set-password form posted: the password chosen twice alike, then `use_token` with the
/// form's token; where it says to go next, or the page again with the refusal.
async fn set_password<F, Fut>(
    headers: &HeaderMap,
    body: &str,
    page: fn(String) -> SetPasswordPage,
    use_token: F,
) -> Response
where
    F: FnOnce(String, Password) -> Fut,
    Fut: std::future::Future<Output = Result<String, ServiceError>>,
{
    if !forgery::same_origin(headers) {
        return cross_site();
    }
    let fields = Fields::parse(body.as_bytes());
    let mut page = page(fields.text("token"));
    let password = match chosen_password(&fields) {
        Ok(p) => p,
        Err(refusal) => {
            page.refusals = Refusals::one(refusal);
            return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match use_token(page.token.clone(), password).await {
        Ok(next) => Redirect::to(&next).into_response(),
        Err(e) => {
            page.refusals = Refusals::from_error(&e, &[]);
            render_with(status_of(e.code()), &page)
        }
    }
}

/// The password of a set-password form, typed twice alike.
fn chosen_password(fields: &Fields) -> Result<Password, Refusal> {
    let (password, confirm) = (fields.text("password"), fields.text("confirm_password"));
    let parsed = parse("password", &password, Password::parse)
        .map_err(|e| Refusal::new("password", e.code, crate::page::sentence_case(&e.message)))?;
    if password != confirm {
        return Err(Refusal::new("confirm_password", "mismatch", "The two passwords are not the same."));
    }
    Ok(parsed)
}

/// The page confirming a sign-up's email address.
#[derive(Debug, Template)]
#[template(path = "verify.html")]
pub struct VerifyPage {
    pub token: String,
    pub refusals: Refusals,
}

/// `GET /verify-email?token=`: a button that confirms. Opening the link changes nothing, so a
/// mail scanner that follows links does not confirm in the person's place.
pub async fn verify_page(Query(query): Query<TokenQuery>) -> Response {
    let token = query.token.unwrap_or_default();
    if token.is_empty() {
        let refusals =
            Refusals::one(Refusal::new("", "invalid_token", crate::page::in_words(&ServiceError::InvalidToken)));
        return render_with(StatusCode::BAD_REQUEST, &VerifyPage { token, refusals });
    }
    render(&VerifyPage { token, refusals: Refusals::none() })
}

/// `POST /verify-email`: confirms the address and sends the person to sign in.
pub async fn verify(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    if !forgery::same_origin(&headers) {
        return cross_site();
    }
    let token = Fields::parse(body.as_bytes()).text("token");
    match state.services.verify_sign_up(&token).await {
        Ok(_) => Redirect::to(&format!("/login?notice={}", Notice::EmailVerified.name())).into_response(),
        Err(e) => {
            let status = status_of(e.code());
            render_with(status, &VerifyPage { token, refusals: Refusals::from_error(&e, &[]) })
        }
    }
}

fn cross_site() -> Response {
    let page = crate::page::ProblemPage {
        title: "Not allowed".to_owned(),
        message: "This form did not come from a page of Roster. Open Roster and try again.".to_owned(),
        code: "forbidden".to_owned(),
    };
    render_with(StatusCode::FORBIDDEN, &page)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
