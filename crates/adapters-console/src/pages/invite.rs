//! The Invite dialog of the Users page (SPEC §12, §8.1): rows of name, email, roles and
//! licenses with the seats left per product, "Add another", "Send invites", and a pasted list;
//! one outcome per person, in words.
//!
//! The dialog is a page state, `/users/invite` with the Users page's view in its query, so it
//! works as plain forms: "Add another" posts the rows and gets one more; "Send invites" posts
//! them to `Services::invite_members`; "Invite the list" posts the pasted text to
//! `Services::invite_pasted`. The script makes it modal (focus moves in, Escape closes, focus
//! returns to the Invite button) and updates the seats left as licenses are ticked; without
//! script the server counts them on each post.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use roster_adapters_http::AppState;
use roster_adapters_http::wire::parse;
use roster_domain::ServiceError;
use roster_domain::catalog::Catalog;
use roster_domain::roles::Role;
use roster_domain::seats::SeatCount;
use roster_domain::services::{InviteOutcome, InviteRow, InviteStatus, PasteStatus};
use roster_domain::values::{Email, Key, PersonName};

use super::users::{Ask, Choice, Overlay, build};
use crate::page::{Fields, Refusal, Refusals, in_words, sentence_case};
use crate::session::{Console, SignedForm};

/// The rows a new dialog opens with.
const FIRST_ROWS: usize = 1;
/// The most rows one dialog holds (a longer list is pasted).
pub const MAX_ROWS: usize = 50;

/// One row as typed.
#[derive(Debug, Clone, Default)]
pub struct RowInput {
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub products: Vec<String>,
}

impl RowInput {
    fn is_blank(&self) -> bool {
        self.name.trim().is_empty() && self.email.trim().is_empty()
    }
}

/// What the dialog holds: the rows, the pasted list, and what the last post did.
#[derive(Debug, Clone, Default)]
pub struct InviteForm {
    pub rows: Vec<RowInput>,
    pub paste: String,
    pub paste_roles: Vec<String>,
    pub paste_products: Vec<String>,
    pub outcomes: Vec<OutcomeView>,
    pub refusals: Refusals,
}

impl InviteForm {
    fn blank() -> Self {
        Self { rows: vec![RowInput::default(); FIRST_ROWS], ..Self::default() }
    }

    /// The dialog's fields as posted: row `i`'s are `name`, `email` (the `i`-th of each),
    /// `roles-i` and `products-i`.
    fn read(fields: &Fields) -> Self {
        let names = fields.all("name");
        let emails = fields.all("email");
        let count = names.len().max(emails.len()).min(MAX_ROWS);
        let rows = (0..count)
            .map(|i| RowInput {
                name: names.get(i).copied().unwrap_or_default().to_owned(),
                email: emails.get(i).copied().unwrap_or_default().trim().to_owned(),
                roles: fields.all(&format!("roles-{i}")).into_iter().map(str::to_owned).collect(),
                products: fields.all(&format!("products-{i}")).into_iter().map(str::to_owned).collect(),
            })
            .collect();
        Self {
            rows,
            paste: fields.text("paste"),
            paste_roles: fields.all("paste-roles").into_iter().map(str::to_owned).collect(),
            paste_products: fields.all("paste-products").into_iter().map(str::to_owned).collect(),
            outcomes: Vec::new(),
            refusals: Refusals::none(),
        }
    }
}

/// What became of one person.
#[derive(Debug, Clone)]
pub struct OutcomeView {
    pub who: String,
    /// `created`, or the code that refused them.
    pub code: String,
    pub message: String,
    pub created: bool,
}

/// A license of a row: the product's name, and the seats left were the ticked boxes invited.
#[derive(Debug, Clone)]
pub struct ProductChoice {
    pub key: String,
    pub name: String,
    pub checked: bool,
    /// Free seats before anything of the dialog is invited.
    pub available: u32,
    pub total: u32,
    /// `<n> of <m> seats available`, counting the boxes ticked in every row.
    pub seats: String,
}

/// A row of the dialog.
#[derive(Debug, Clone)]
pub struct RowView {
    pub index: usize,
    pub number: usize,
    pub name: String,
    pub email: String,
    pub roles: Vec<Choice>,
    pub products: Vec<ProductChoice>,
}

/// The dialog as the template shows it.
#[derive(Debug, Clone)]
pub struct InviteDialog {
    /// Where the dialog posts (with the Users page's view).
    pub action: String,
    /// The Users page with the same view, focus back on the Invite button.
    pub cancel: String,
    pub rows: Vec<RowView>,
    pub can_add: bool,
    pub paste: String,
    pub paste_roles: Vec<Choice>,
    pub paste_products: Vec<ProductChoice>,
    pub outcomes: Vec<OutcomeView>,
    pub refusals: Refusals,
}

impl InviteDialog {
    /// The dialog's view of `form` over the organization's roles, catalog and seats.
    pub fn new(form: InviteForm, ask_query: &str, roles: &[Role], catalog: &Catalog, seats: &[SeatCount]) -> Self {
        let suffix = if ask_query.is_empty() { String::new() } else { format!("?{ask_query}") };
        let ticked = |key: &str| form.rows.iter().filter(|r| r.products.iter().any(|p| p == key)).count();
        let product_choices = |chosen: &[String]| -> Vec<ProductChoice> {
            catalog
                .products()
                .map(|p| {
                    let key = p.key.as_str();
                    let seat = seats.iter().find(|s| s.product == p.key);
                    let (available, total) = seat.map_or((0, 0), |s| (s.seats_available, s.seats_total));
                    let left = u64::from(available).saturating_sub(ticked(key) as u64);
                    ProductChoice {
                        key: key.to_owned(),
                        name: p.name.as_str().to_owned(),
                        checked: chosen.iter().any(|c| c == key),
                        available,
                        total,
                        seats: format!("{left} of {total} seats available"),
                    }
                })
                .collect()
        };
        let role_choices = |chosen: &[String]| -> Vec<Choice> {
            roles
                .iter()
                .map(|r| Choice {
                    value: r.key.as_str().to_owned(),
                    label: r.name.as_str().to_owned(),
                    selected: chosen.iter().any(|c| c == r.key.as_str()),
                })
                .collect()
        };
        let rows = form
            .rows
            .iter()
            .enumerate()
            .map(|(index, r)| RowView {
                index,
                number: index + 1,
                name: r.name.clone(),
                email: r.email.clone(),
                roles: role_choices(&r.roles),
                products: product_choices(&r.products),
            })
            .collect::<Vec<_>>();
        Self {
            action: format!("/users/invite{suffix}"),
            cancel: format!("/users{suffix}#invite"),
            can_add: rows.len() < MAX_ROWS,
            rows,
            paste: form.paste.clone(),
            paste_roles: role_choices(&form.paste_roles),
            paste_products: product_choices(&form.paste_products),
            outcomes: form.outcomes,
            refusals: form.refusals,
        }
    }

    /// The refusal of a row's field (`email-0`).
    pub fn refusal(&self, field: &str, index: &usize) -> Option<&Refusal> {
        self.refusals.of(&format!("{field}-{index}"))
    }
}

/// `GET /users/invite`: the Users page with the dialog open.
pub async fn open(State(state): State<AppState>, console: Console, uri: Uri) -> Response {
    let ask = Ask::read(&Fields::parse(uri.query().unwrap_or_default().as_bytes()));
    build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Invite(InviteForm::blank())).await
}

/// `POST /users/invite`: one more row, the rows sent, or the pasted list sent.
pub async fn post(State(state): State<AppState>, uri: Uri, SignedForm { console, fields }: SignedForm) -> Response {
    let ask = Ask::read(&Fields::parse(uri.query().unwrap_or_default().as_bytes()));
    let mut form = InviteForm::read(&fields);
    match fields.get("action") {
        Some("add") => {
            if form.rows.len() < MAX_ROWS {
                form.rows.push(RowInput::default());
            }
        }
        Some("paste") => send_paste(&state, &console, &mut form).await,
        _ => send_rows(&state, &console, &mut form).await,
    }
    if form.rows.is_empty() {
        form.rows.push(RowInput::default());
    }
    build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Invite(form)).await
}

/// Sends the rows; the refused ones stay in the dialog to be corrected.
async fn send_rows(state: &AppState, console: &Console, form: &mut InviteForm) {
    let mut refusals = Refusals::none();
    let mut rows = Vec::new();
    let mut kept = Vec::new();
    // The dialog's row of each row sent (blank rows are not sent).
    let mut sent = Vec::new();
    for (i, row) in form.rows.iter().enumerate().filter(|(_, r)| !r.is_blank()) {
        let name = parse(&format!("name-{i}"), row.name.trim(), PersonName::parse);
        let email = parse(&format!("email-{i}"), &row.email, Email::parse);
        for e in [name.as_ref().err(), email.as_ref().err()].into_iter().flatten() {
            refusals.push(Refusal::new(e.field.clone(), e.code, sentence_case(&e.message)));
        }
        if let (Ok(name), Ok(email)) = (name, email) {
            let (roles, products) = (keys(&row.roles).into_iter().collect(), keys(&row.products));
            rows.push(InviteRow { name, email, roles, products, group_ids: Vec::new() });
            kept.push(row.clone());
            sent.push(i);
        }
    }
    if rows.is_empty() && refusals.is_empty() {
        refusals.push(Refusal::new("", "required", "Fill in at least one person: a name and an email address."));
    }
    if !refusals.is_empty() {
        form.refusals = refusals;
        return;
    }
    match state.services.invite_members(&console.actor, rows, false).await {
        Ok(result) => {
            let mut remaining = Vec::new();
            for (outcome, row) in result.results.iter().zip(kept) {
                let created = outcome.status == InviteStatus::Created;
                form.outcomes.push(OutcomeView {
                    who: format!("{} <{}>", row.name.trim(), outcome.email.as_str()),
                    code: outcome.status.as_str().to_owned(),
                    message: if created {
                        "Invited: the invitation is on its way.".to_owned()
                    } else {
                        outcome_words(outcome, &result.seats_before)
                    },
                    created,
                });
                if !created {
                    remaining.push(row);
                }
            }
            form.rows = remaining;
        }
        Err(e) => form.refusals = row_refusals(&e, &sent),
    }
}

/// Sends the pasted list with the roles and licenses chosen for it.
async fn send_paste(state: &AppState, console: &Console, form: &mut InviteForm) {
    let roles: Vec<Key> = keys(&form.paste_roles).into_iter().collect();
    let products = keys(&form.paste_products);
    let outcome = state.services.invite_pasted(&console.actor, &form.paste, roles, products, Vec::new(), false).await;
    match outcome {
        Ok(result) => {
            for o in &result.results {
                let created = o.status == PasteStatus::Created;
                let code = match (o.status, o.code) {
                    (PasteStatus::Created, _) => "created".to_owned(),
                    (_, Some(code)) => code.as_str().to_owned(),
                    (PasteStatus::Duplicate, None) => "duplicate".to_owned(),
                    _ => "invalid_format".to_owned(),
                };
                let message = match o.status {
                    PasteStatus::Created => "Invited: the invitation is on its way.".to_owned(),
                    PasteStatus::Duplicate => o
                        .message
                        .as_deref()
                        .map_or_else(|| "Listed twice, or already a member.".to_owned(), sentence_case),
                    _ => o.message.as_deref().map_or_else(|| "Not an email address.".to_owned(), sentence_case),
                };
                form.outcomes.push(OutcomeView { who: o.entry.clone(), code, message, created });
            }
            if result.results.iter().all(|o| o.status == PasteStatus::Created) {
                form.paste.clear();
            }
        }
        Err(e) => {
            form.refusals = match &e {
                ServiceError::Validation(errors) => {
                    let mut r = Refusals::none();
                    for error in errors {
                        let field = match error.field.split('[').next().unwrap_or_default() {
                            "roles" => "paste-roles",
                            "products" => "paste-products",
                            _ => "paste",
                        };
                        r.push(Refusal::new(field, error.code, sentence_case(&error.message)));
                    }
                    r
                }
                other => Refusals::one(Refusal::new("", other.code().as_str(), in_words(other))),
            }
        }
    }
}

/// A refused row in words: the seat limit with its product's name and count.
fn outcome_words(outcome: &InviteOutcome, seats: &[SeatCount]) -> String {
    let message = outcome.message.as_deref();
    match outcome.product.as_ref().and_then(|p| seats.iter().find(|s| s.product == *p)) {
        Some(s) => format!("No {} seat is left: all {} are taken.", s.product, s.seats_total),
        None => message.map_or_else(|| "Refused.".to_owned(), sentence_case),
    }
}

/// A refusal of the whole request, each field error beside its row's field: `invites[k]` is
/// the dialog's row `sent[k]` (`invites[1].email` → `email-3` when rows 1 and 2 were blank).
fn row_refusals(error: &ServiceError, sent: &[usize]) -> Refusals {
    match error {
        ServiceError::Validation(errors) => {
            let mut r = Refusals::none();
            for e in errors {
                let row = e
                    .field
                    .strip_prefix("invites[")
                    .and_then(|rest| rest.split_once("]."))
                    .and_then(|(k, name)| Some((sent.get(k.parse::<usize>().ok()?)?, name)));
                let name = row.map_or("", |(_, name)| name.split(['[', '.']).next().unwrap_or(name));
                let field = row.map_or_else(String::new, |(i, _)| format!("{name}-{i}"));
                let words = match (name, e.code) {
                    ("roles", "required") => "Choose at least one role.".to_owned(),
                    ("products", "required") => "Choose at least one license.".to_owned(),
                    _ => sentence_case(&e.message),
                };
                r.push(Refusal::new(field, e.code, words));
            }
            r
        }
        other => Refusals::one(Refusal::new("", other.code().as_str(), in_words(other))),
    }
}

/// The keys of ticked boxes; text that is no key cannot be a box of ours and is left out.
fn keys(values: &[String]) -> BTreeSet<Key> {
    values.iter().filter_map(|v| Key::parse(v).ok()).collect()
}
