//! The Import from CRM dialog of the Users page (SPEC §12, §8.3): search the CRM directory,
//! select people, choose their licenses and roles, preview (a dry run), import; one outcome per
//! person.
//!
//! A page state like the Invite dialog: `/users/crm` with the Users page's view, the search
//! (`crm_q`, `crm_page`) and the people selected so far (`crm_ids`, kept across searches) in its
//! query; "Preview" and "Import" post to `Services::import_from_crm` with `dry_run` set or not.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use roster_adapters_http::AppState;
use roster_domain::ServiceError;
use roster_domain::catalog::Catalog;
use roster_domain::ports::CrmUser;
use roster_domain::roles::Role;
use roster_domain::services::{CrmImportOutcome, CrmImportRequest, CrmImportStatus};
use roster_domain::values::{CrmId, Key};

use super::users::{Ask, Choice, Overlay, build};
use crate::page::{Fields, Refusal, Refusals, in_words, sentence_case};
use crate::session::{Console, SignedForm};

/// What the dialog holds.
#[derive(Debug, Clone, Default)]
pub struct CrmForm {
    /// The search and the page of the directory asked for.
    pub query: String,
    pub page: u32,
    /// The CRM ids selected, in the order selected.
    pub selected: Vec<String>,
    pub products: Vec<String>,
    pub roles: Vec<String>,
    pub welcome: bool,
    pub outcomes: Vec<CrmOutcomeView>,
    /// Whether the outcomes are a preview.
    pub previewed: bool,
    pub refusals: Refusals,
}

impl CrmForm {
    fn read(fields: &Fields) -> Self {
        let mut seen = BTreeSet::new();
        Self {
            query: fields.text("crm_q"),
            page: fields.get("crm_page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1),
            selected: fields
                .all("crm_ids")
                .into_iter()
                .filter(|id| seen.insert((*id).to_owned()))
                .map(str::to_owned)
                .collect(),
            products: fields.all("products").into_iter().map(str::to_owned).collect(),
            roles: fields.all("roles").into_iter().map(str::to_owned).collect(),
            welcome: fields.checked("welcome"),
            ..Self::default()
        }
    }
}

/// One person's outcome.
#[derive(Debug, Clone)]
pub struct CrmOutcomeView {
    pub who: String,
    pub code: &'static str,
    pub words: String,
    pub ok: bool,
}

/// A person of the directory's page.
#[derive(Debug, Clone)]
pub struct CrmPerson {
    pub crm_id: String,
    pub name: String,
    pub email: String,
    pub selected: bool,
}

/// The dialog as the template shows it.
#[derive(Debug, Clone)]
pub struct CrmDialog {
    /// Where the search goes and where the import posts (with the Users page's view).
    pub search_action: String,
    pub import_action: String,
    pub cancel: String,
    /// The Users page's view as hidden fields of the search form.
    pub view: Vec<(String, String)>,
    pub query: String,
    pub people: Vec<CrmPerson>,
    /// Selected people not on this page (kept as hidden fields).
    pub kept: Vec<String>,
    pub next_page: Option<u32>,
    pub previous_page: Option<u32>,
    pub products: Vec<Choice>,
    pub roles: Vec<Choice>,
    pub welcome: bool,
    pub outcomes: Vec<CrmOutcomeView>,
    pub previewed: bool,
    pub refusals: Refusals,
}

impl CrmDialog {
    /// The dialog over the directory's `page` (none when the directory failed).
    pub(crate) fn new(
        form: CrmForm,
        ask: &Ask,
        people: &[CrmUser],
        next_page: Option<u32>,
        roles: &[Role],
        catalog: &Catalog,
    ) -> Self {
        let query = ask.query();
        let suffix = if query.is_empty() { String::new() } else { format!("?{query}") };
        let on_page: BTreeSet<String> = people.iter().map(|p| p.crm_id.as_str().to_owned()).collect();
        Self {
            search_action: "/users/crm".to_owned(),
            import_action: format!("/users/crm{suffix}"),
            cancel: format!("/users{suffix}#import"),
            view: form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
            query: form.query.clone(),
            people: people
                .iter()
                .map(|p| CrmPerson {
                    crm_id: p.crm_id.as_str().to_owned(),
                    name: format!("{} {}", p.first_name.as_str(), p.last_name.as_str()),
                    email: p.email.as_str().to_owned(),
                    selected: form.selected.iter().any(|s| s == p.crm_id.as_str()),
                })
                .collect(),
            kept: form.selected.iter().filter(|s| !on_page.contains(*s)).cloned().collect(),
            next_page,
            previous_page: (form.page > 1).then(|| form.page - 1),
            products: catalog
                .products()
                .map(|p| Choice {
                    value: p.key.as_str().to_owned(),
                    label: p.name.as_str().to_owned(),
                    selected: form.products.iter().any(|k| k == p.key.as_str()),
                })
                .collect(),
            roles: roles
                .iter()
                .map(|r| Choice {
                    value: r.key.as_str().to_owned(),
                    label: r.name.as_str().to_owned(),
                    selected: form.roles.iter().any(|k| k == r.key.as_str()),
                })
                .collect(),
            welcome: form.welcome,
            outcomes: form
                .outcomes
                .into_iter()
                .map(|mut o| {
                    if let Some(p) = people.iter().find(|p| p.crm_id.as_str() == o.who) {
                        o.who = format!("{} {} <{}>", p.first_name.as_str(), p.last_name.as_str(), p.email.as_str());
                    }
                    o
                })
                .collect(),
            previewed: form.previewed,
            refusals: form.refusals,
        }
    }
}

fn ask_of(uri: &Uri) -> (Ask, Fields) {
    let fields = Fields::parse(uri.query().unwrap_or_default().as_bytes());
    (Ask::read(&fields), fields)
}

/// `GET /users/crm`: the dialog with a search of the directory.
pub async fn open(State(state): State<AppState>, console: Console, uri: Uri) -> Response {
    let (ask, fields) = ask_of(&uri);
    let mut form = CrmForm::read(&fields);
    form.welcome = fields.get("welcome").is_some() || fields.get("crm_q").is_none();
    build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Crm(form)).await
}

/// `POST /users/crm`: previews (`step=preview`) or imports the people selected.
pub async fn post(State(state): State<AppState>, uri: Uri, SignedForm { console, fields }: SignedForm) -> Response {
    let (ask, _) = ask_of(&uri);
    let mut form = CrmForm::read(&fields);
    let dry_run = fields.get("step") == Some("preview");
    let crm_ids: Vec<CrmId> = form.selected.iter().filter_map(|id| CrmId::parse(id).ok()).collect();
    if crm_ids.is_empty() {
        form.refusals = Refusals::one(Refusal::new("", "empty", "Select at least one person of the CRM."));
        return build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Crm(form)).await;
    }
    let keys = |values: &[String]| -> BTreeSet<Key> { values.iter().filter_map(|k| Key::parse(k).ok()).collect() };
    let request = CrmImportRequest {
        crm_ids,
        products: keys(&form.products),
        roles: keys(&form.roles).into_iter().collect(),
        send_welcome_email: form.welcome,
        dry_run,
    };
    match state.services.import_from_crm(&console.actor, request).await {
        Ok(outcomes) => {
            form.previewed = dry_run;
            form.outcomes = outcomes.iter().map(|o| outcome_view(o, dry_run)).collect();
            if !dry_run {
                form.selected.retain(|id| outcomes.iter().any(|o| o.crm_id.as_str() == id && !is_done(o)));
            }
        }
        Err(e) => {
            form.refusals = match &e {
                ServiceError::Validation(errors) => {
                    let mut r = Refusals::none();
                    for error in errors {
                        let field = error.field.split('[').next().unwrap_or_default().to_owned();
                        r.push(Refusal::new(field, error.code, sentence_case(&error.message)));
                    }
                    r
                }
                other => Refusals::one(Refusal::new("", other.code().as_str(), in_words(other))),
            }
        }
    }
    build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Crm(form)).await
}

fn is_done(o: &CrmImportOutcome) -> bool {
    matches!(o.status, CrmImportStatus::Created | CrmImportStatus::AlreadyMember)
}

fn outcome_view(o: &CrmImportOutcome, dry_run: bool) -> CrmOutcomeView {
    let message = o.message.as_deref().map(sentence_case);
    let (code, words, ok) = match o.status {
        CrmImportStatus::Created if dry_run => ("created", "Will be imported.".to_owned(), true),
        CrmImportStatus::Created => ("created", "Imported: invited until they set a password.".to_owned(), true),
        CrmImportStatus::AlreadyMember => ("already_member", "Already a member.".to_owned(), false),
        CrmImportStatus::NotFound => ("not_found", "No longer in the CRM.".to_owned(), false),
        CrmImportStatus::SeatRefused => {
            ("seat_refused", message.unwrap_or_else(|| "No seat is free for the licenses chosen.".to_owned()), false)
        }
        CrmImportStatus::Invalid => ("invalid", message.unwrap_or_else(|| "Refused.".to_owned()), false),
    };
    CrmOutcomeView { who: o.crm_id.as_str().to_owned(), code, words, ok }
}
