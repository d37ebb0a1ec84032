//! The edit drawer of the Users page (SPEC §12): a member's profile and settings with `Save`,
//! their licenses with the seats left, and the `Active` switch — turning it off asks
//! `Deactivate <full name>?` first; refusals (yourself, the last admin, a stale version, a
//! full pool) appear beside the control that caused them.
//!
//! Like the Invite dialog it is a page state of the Users page: `/users/{id}` with the view in
//! its query; the confirmation is `/users/{id}/deactivate`. Each form is one use case, so one
//! transaction: `Services::update_user` (with the version the drawer showed, so a change made
//! meanwhile by someone else is refused, not overwritten), `Services::set_licenses`,
//! `Services::deactivate_user`, `Services::reactivate_user`.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use roster_adapters_http::AppState;
use roster_adapters_http::wire::parse;
use roster_domain::catalog::Catalog;
use roster_domain::groups::Group;
use roster_domain::ids::{GroupId, ScheduledChangeId, UserId};
use roster_domain::roles::{Role, RoleRef};
use roster_domain::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};
use roster_domain::seats::SeatCount;
use roster_domain::services::{
    BulkAction, BulkRequest, BulkSelection, DeletedUser, ProfilePatch, RoleAssignment, SettingsPatch, UserDetails,
};
use roster_domain::user::{CallRecording, Homepage, MailboxProvider};
use roster_domain::values::{AgentId, CrmId, Email, Key, Nicknames, PersonName, Phone, ValueError};
use roster_domain::{FieldError, ServiceError};

use super::users::{Ask, Choice, Overlay, build};
use crate::page::{Fields, Refusal, Refusals, problem, sentence_case};
use crate::session::{Console, SignedForm};

/// What the drawer was asked to show beside the member's current values.
#[derive(Debug, Clone, Default)]
pub struct DrawerForm {
    pub user_id: Option<UserId>,
    /// The fields as typed, when a save was refused (shown instead of the saved values).
    pub typed: Option<Fields>,
    pub refusals: Refusals,
    /// Whether the deactivation's confirmation is open.
    pub confirm_deactivate: bool,
    /// Whether the deletion's confirmation is open.
    pub confirm_delete: bool,
    /// What the last change did, in words.
    pub notice: Option<String>,
}

/// What the drawer shows of the organization: its products and seats, roles and groups.
#[derive(Debug, Clone, Copy)]
pub struct OrgFacts<'a> {
    pub catalog: &'a Catalog,
    pub seats: &'a [SeatCount],
    pub roles: &'a [Role],
    pub groups: &'a [&'a Group],
    /// The groups a member can be in (below the root, not deleted), by their path.
    pub teams: &'a [(GroupId, String)],
    /// When the page is shown (the earliest day a change can be scheduled for is the next).
    pub today: time::Date,
}

/// A license of the drawer: held or not, the seats left, what it requires.
#[derive(Debug, Clone)]
pub struct LicenseChoice {
    pub key: String,
    pub name: String,
    pub held: bool,
    /// `<n> of <m> seats available`.
    pub seats: String,
    /// "Requires Core", or empty.
    pub requires: String,
}

/// A pending scheduled change in words, with where its cancellation posts.
#[derive(Debug, Clone)]
pub struct ScheduledView {
    pub words: String,
    pub cancel: String,
}

/// The drawer as the template shows it.
#[derive(Debug, Clone)]
pub struct DrawerView {
    pub full_name: String,
    pub status: String,
    pub version: u64,
    pub active: bool,
    /// Where each form posts, and where closing goes (the Users page with the same view).
    pub save: String,
    pub licenses_action: String,
    pub confirm: String,
    pub deactivate: String,
    pub reactivate: String,
    pub impersonate: String,
    pub close: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub agent_id: String,
    pub crm_id: String,
    /// Comma-separated.
    pub nicknames: String,
    pub agent_ring_number: String,
    pub dialer_number: String,
    pub voip_forward_to: String,
    pub throttle: String,
    pub flow_enabled: bool,
    pub email_sync: bool,
    pub calendar_sync: bool,
    pub round_robin: bool,
    pub scoring_enabled: bool,
    pub roaming_agent: bool,
    pub call_recording: Vec<Choice>,
    pub mailbox_provider: Vec<Choice>,
    pub homepage: Vec<Choice>,
    pub licenses: Vec<LicenseChoice>,
    /// The roles: every role over the whole organization, and the member's grants limited to a
    /// group (value `role-id@group-id`).
    pub roles: Vec<Choice>,
    pub roles_action: String,
    /// The member's teams, every group they can be in.
    pub teams: Vec<Choice>,
    pub teams_action: String,
    /// The pending scheduled changes, soonest first.
    pub scheduled: Vec<ScheduledView>,
    pub schedule_action: String,
    /// What can be scheduled: deactivation, and removing each license held.
    pub schedule_choices: Vec<Choice>,
    /// The earliest day a change can be scheduled for (`YYYY-MM-DD`).
    pub schedule_min: String,
    pub delete: String,
    pub confirm_deactivate: bool,
    pub confirm_delete: bool,
    pub notice: Option<String>,
    pub refusals: Refusals,
}

impl DrawerView {
    /// The drawer of `user`, with what was typed (if anything) in place of the saved values.
    pub fn new(form: DrawerForm, user: &UserDetails, ask_query: &str, org: &OrgFacts<'_>, status: String) -> Self {
        let OrgFacts { catalog, seats, roles, groups, teams, today } = *org;
        let u = &user.user;
        let s = &u.settings;
        let id = u.id;
        let q = if ask_query.is_empty() { String::new() } else { format!("?{ask_query}") };
        let saved = |v: Option<&str>| v.unwrap_or_default().to_owned();
        let typed = form.typed.as_ref();
        let value = |name: &str, current: String| typed.map_or(current, |f| f.text(name));
        let flag = |name: &str, current: bool| typed.map_or(current, |f| f.checked(name));
        let recording = match s.call_recording {
            CallRecording::Optional => "optional",
            CallRecording::Enforced => "enforced",
            CallRecording::Disabled => "disabled",
        };
        let recording = value("call_recording", recording.to_owned());
        let mailbox = value("mailbox_provider", mailbox_name(s.mailbox_provider).to_owned());
        let homepage = value("homepage", homepage_name(s.homepage).to_owned());
        let select = |options: &[(&str, &str)], chosen: &str| -> Vec<Choice> {
            options
                .iter()
                .map(|(v, l)| Choice { value: (*v).to_owned(), label: (*l).to_owned(), selected: chosen == *v })
                .collect()
        };
        let phone_of = |p: Option<&Phone>| saved(p.map(Phone::as_str));
        let licenses = catalog
            .products()
            .map(|p| {
                let seat = seats.iter().find(|c| c.product == p.key);
                let (available, total) = seat.map_or((0, 0), |c| (c.seats_available, c.seats_total));
                let requires: Vec<&str> =
                    p.requires.iter().map(|k| catalog.get(k).map_or(k.as_str(), |r| r.name.as_str())).collect();
                LicenseChoice {
                    key: p.key.as_str().to_owned(),
                    name: p.name.as_str().to_owned(),
                    held: user.products.contains(&p.key),
                    seats: format!("{available} of {total} seats available"),
                    requires: if requires.is_empty() {
                        String::new()
                    } else {
                        format!("Requires {}", requires.join(" and "))
                    },
                }
            })
            .collect();
        let mut role_choices: Vec<Choice> = roles
            .iter()
            .map(|r| Choice {
                value: r.id.to_string(),
                label: r.name.as_str().to_owned(),
                selected: u.roles.iter().any(|g| g.role_id == r.id && g.scope.is_none()),
            })
            .collect();
        for grant in u.roles.iter().filter(|g| g.scope.is_some()) {
            let (Some(role), Some(scope)) = (roles.iter().find(|r| r.id == grant.role_id), grant.scope) else {
                continue;
            };
            let group = groups.iter().find(|g| g.id == scope).map_or("a group", |g| g.name.as_str());
            role_choices.push(Choice {
                value: format!("{}@{scope}", role.id),
                label: format!("{} ({group})", role.name.as_str()),
                selected: true,
            });
        }
        let mut pending: Vec<&ScheduledChange> =
            user.scheduled.iter().filter(|c| c.state == ScheduleState::Pending).collect();
        pending.sort_by_key(|c| c.effective_at);
        let product_name =
            |k: &Key| catalog.get(k).map_or_else(|| k.as_str().to_owned(), |p| p.name.as_str().to_owned());
        let scheduled = pending
            .iter()
            .map(|c| {
                let what = match &c.action {
                    ScheduledAction::Deactivate => "Deactivate".to_owned(),
                    ScheduledAction::RemoveLicense(k) => format!("Remove the {} license", product_name(k)),
                };
                let day = c.effective_at.date();
                ScheduledView {
                    words: format!("{what} on {day}"),
                    cancel: format!("/users/{id}/scheduled/{}/cancel{q}", c.id),
                }
            })
            .collect();
        let schedule_choices = std::iter::once(("deactivate".to_owned(), "Deactivate".to_owned()))
            .chain(
                user.products
                    .iter()
                    .map(|k| (format!("remove_license:{k}"), format!("Remove the {} license", product_name(k)))),
            )
            .map(|(value, label)| Choice { value, label, selected: false })
            .collect();
        Self {
            teams: teams
                .iter()
                .map(|(g, path)| Choice {
                    value: g.to_string(),
                    label: path.clone(),
                    selected: user.groups.contains(g),
                })
                .collect(),
            teams_action: format!("/users/{id}/teams{q}"),
            scheduled,
            schedule_action: format!("/users/{id}/scheduled{q}"),
            schedule_choices,
            schedule_min: today.next_day().unwrap_or(today).to_string(),
            roles: role_choices,
            roles_action: format!("/users/{id}/roles{q}"),
            delete: format!("/users/{id}/delete{q}"),
            confirm_delete: form.confirm_delete,
            full_name: format!("{} {}", u.first_name.as_str(), u.last_name.as_str()),
            status,
            version: u.version,
            active: !u.is_deactivated(),
            save: format!("/users/{id}{q}"),
            licenses_action: format!("/users/{id}/licenses{q}"),
            confirm: format!("/users/{id}/deactivate{q}"),
            deactivate: format!("/users/{id}/deactivate{q}"),
            reactivate: format!("/users/{id}/reactivate{q}"),
            impersonate: format!("/users/{id}/impersonate{q}"),
            close: format!("/users{q}"),
            first_name: value("first_name", u.first_name.as_str().to_owned()),
            last_name: value("last_name", u.last_name.as_str().to_owned()),
            email: value("email", u.email.as_str().to_owned()),
            phone: value("phone", saved(u.phone.as_ref().map(|p| p.as_str()))),
            agent_id: value("agent_id", saved(u.agent_id.as_ref().map(|a| a.as_str()))),
            crm_id: value("crm_id", saved(u.crm_id.as_ref().map(|c| c.as_str()))),
            nicknames: value("nicknames", u.nicknames.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")),
            agent_ring_number: value("agent_ring_number", phone_of(u.agent_ring_number.as_ref())),
            dialer_number: value("dialer_number", phone_of(u.dialer_number.as_ref())),
            voip_forward_to: value("voip_forward_to", phone_of(s.voip_forward_to.as_ref())),
            round_robin: flag("round_robin", s.round_robin),
            scoring_enabled: flag("scoring_enabled", s.scoring_enabled),
            roaming_agent: flag("roaming_agent", s.roaming_agent),
            mailbox_provider: select(&MAILBOX_PROVIDERS, &mailbox),
            homepage: select(&HOMEPAGES, &homepage),
            throttle: value("email_throttle_max_per_day", s.email_throttle_max_per_day.to_string()),
            flow_enabled: flag("flow_enabled", s.flow_enabled),
            email_sync: flag("email_sync", s.email_sync),
            calendar_sync: flag("calendar_sync", s.calendar_sync),
            call_recording: [("optional", "Optional"), ("enforced", "Enforced"), ("disabled", "Disabled")]
                .into_iter()
                .map(|(v, l)| Choice { value: v.to_owned(), label: l.to_owned(), selected: recording == v })
                .collect(),
            licenses,
            confirm_deactivate: form.confirm_deactivate,
            notice: form.notice,
            refusals: form.refusals,
        }
    }
}

/// The drawer of a deleted member: when they were deleted and, within the 30 days, `Restore`.
#[derive(Debug, Clone)]
pub struct DeletedView {
    pub full_name: String,
    pub email: String,
    /// The day of the deletion (UTC), `YYYY-MM-DD`.
    pub deleted_on: String,
    /// The last day a restore is possible, `YYYY-MM-DD`.
    pub restorable_until: String,
    pub restorable: bool,
    pub restore: String,
    pub close: String,
    pub notice: Option<String>,
    pub refusals: Refusals,
}

impl DeletedView {
    pub fn new(form: DrawerForm, user: &DeletedUser, query: &str, now: time::OffsetDateTime) -> Self {
        let q = if query.is_empty() { String::new() } else { format!("?{query}") };
        Self {
            full_name: format!("{} {}", user.first_name.as_str(), user.last_name.as_str()),
            email: user.email.as_str().to_owned(),
            deleted_on: user.deleted_at.date().to_string(),
            restorable_until: user.restorable_until.date().to_string(),
            restorable: now <= user.restorable_until,
            restore: format!("/users/{}/restore{q}", user.id),
            close: format!("/users{q}"),
            notice: form.notice,
            refusals: form.refusals,
        }
    }
}

/// A text field of the drawer's profile.
#[derive(Debug, Clone)]
pub struct DrawerField<'a> {
    pub name: &'static str,
    pub label: &'static str,
    /// The input's `type`.
    pub kind: &'static str,
    pub value: &'a str,
    pub refusal: Option<&'a Refusal>,
}

impl DrawerView {
    /// The profile's text fields, in order.
    pub fn fields(&self) -> Vec<DrawerField<'_>> {
        [
            ("first_name", "First name", "text", self.first_name.as_str()),
            ("last_name", "Last name", "text", self.last_name.as_str()),
            ("email", "Email", "email", self.email.as_str()),
            ("phone", "Phone", "tel", self.phone.as_str()),
            ("agent_id", "Agent ID", "text", self.agent_id.as_str()),
            ("crm_id", "CRM ID", "text", self.crm_id.as_str()),
            ("nicknames", "Nicknames (separated by commas)", "text", self.nicknames.as_str()),
            ("agent_ring_number", "Agent ring number", "tel", self.agent_ring_number.as_str()),
            ("dialer_number", "Dialer number", "tel", self.dialer_number.as_str()),
        ]
        .into_iter()
        .map(|(name, label, kind, value)| DrawerField { name, label, kind, value, refusal: self.refusals.of(name) })
        .collect()
    }

    /// The settings typed as text, as the profile's fields.
    pub fn setting_fields(&self) -> Vec<DrawerField<'_>> {
        [
            ("email_throttle_max_per_day", "Email throttle (emails a day)", "text", self.throttle.as_str()),
            ("voip_forward_to", "Forward calls to", "tel", self.voip_forward_to.as_str()),
        ]
        .into_iter()
        .map(|(name, label, kind, value)| DrawerField { name, label, kind, value, refusal: self.refusals.of(name) })
        .collect()
    }
}

/// The mailbox providers, their names on the wire and in words.
const MAILBOX_PROVIDERS: [(&str, &str); 3] = [("none", "None"), ("google", "Google"), ("microsoft", "Microsoft")];

/// The homepages, their names on the wire and in words.
const HOMEPAGES: [(&str, &str); 2] = [("default", "Default"), ("leads", "Leads")];

fn mailbox_name(p: MailboxProvider) -> &'static str {
    match p {
        MailboxProvider::None => "none",
        MailboxProvider::Google => "google",
        MailboxProvider::Microsoft => "microsoft",
    }
}

fn homepage_name(h: Homepage) -> &'static str {
    match h {
        Homepage::Default => "default",
        Homepage::Leads => "leads",
    }
}

/// The value of `r`, or its error added to `errors`.
fn take<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// An optional field: blank clears it.
fn optional<T>(name: &str, text: &str, f: fn(&str) -> Result<T, ValueError>) -> Result<Option<T>, FieldError> {
    if text.is_empty() { Ok(None) } else { parse(name, text, f).map(Some) }
}

/// A user id in the path; anything else is no user of ours.
fn user_id(text: &str) -> Option<UserId> {
    text.parse().ok()
}

fn no_such_user() -> Response {
    problem(&ServiceError::not_found("user"))
}

fn ask_of(uri: &Uri) -> Ask {
    Ask::read(&Fields::parse(uri.query().unwrap_or_default().as_bytes()))
}

async fn show(state: &AppState, console: &Console, uri: &Uri, form: DrawerForm) -> Response {
    build(state, console, ask_of(uri), String::new(), Refusals::none(), Overlay::Drawer(form)).await
}

/// `GET /users/{id}`: the Users page with the member's drawer open.
pub async fn open(State(state): State<AppState>, console: Console, Path(id): Path<String>, uri: Uri) -> Response {
    match user_id(&id) {
        Some(id) => show(&state, &console, &uri, DrawerForm { user_id: Some(id), ..DrawerForm::default() }).await,
        None => no_such_user(),
    }
}

/// `GET /users/{id}/deactivate`: the drawer with the confirmation open.
pub async fn confirm(State(state): State<AppState>, console: Console, Path(id): Path<String>, uri: Uri) -> Response {
    match user_id(&id) {
        Some(id) => {
            let form = DrawerForm { user_id: Some(id), confirm_deactivate: true, ..DrawerForm::default() };
            show(&state, &console, &uri, form).await
        }
        None => no_such_user(),
    }
}

/// `GET /users/{id}/delete`: the drawer with the deletion's confirmation open.
pub async fn confirm_delete(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    match user_id(&id) {
        Some(id) => {
            let form = DrawerForm { user_id: Some(id), confirm_delete: true, ..DrawerForm::default() };
            show(&state, &console, &uri, form).await
        }
        None => no_such_user(),
    }
}

/// `POST /users/{id}/delete`: deletes once confirmed, then shows the deleted member's drawer
/// (`/users/{id}`), which offers `Restore` for 30 days; or the refusal beside the Delete button.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, .. }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    match state.services.delete_user(&console.actor, id, true).await {
        Ok(()) => Redirect::to(&format!("/users/{id}{}", query_of(&uri))).into_response(),
        Err(e) => refused(&state, &console, &uri, id, &e, "delete").await,
    }
}

/// `POST /users/{id}/restore`: brings a member deleted less than 30 days ago back, without
/// licenses or teams (`POST /api/v1/users/{id}/restore`); their drawer with what it did, or the
/// deleted drawer with the refusal beside `Restore` (the address taken meanwhile, too late).
pub async fn restore(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, .. }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let outcome = state
        .services
        .restore_user(&console.actor, id)
        .await
        .map(|_| "Restored. They hold no license and are in no team until you give them some.".to_owned());
    show(&state, &console, &uri, after(id, outcome, "restore")).await
}

/// `POST /users/{id}`: saves the profile and settings.
pub async fn save(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let current = match state.services.get_user(&console.actor, id).await {
        Ok(u) => u,
        Err(e) => return problem(&e),
    };
    let version = fields.get("version").and_then(|v| v.parse().ok());
    let outcome = match patch_of(&fields, &current) {
        Ok(patch) => state.services.update_user(&console.actor, id, patch, version).await.map(|_| ()),
        Err(errors) => Err(ServiceError::Validation(errors)),
    };
    let form = match outcome {
        Ok(()) => DrawerForm { user_id: Some(id), notice: Some("Saved.".to_owned()), ..DrawerForm::default() },
        Err(e) => DrawerForm {
            user_id: Some(id),
            typed: Some(fields),
            refusals: Refusals::from_error(&e, &[]),
            ..DrawerForm::default()
        },
    };
    show(&state, &console, &uri, form).await
}

/// The change a drawer's form asks for: only the fields that differ from the member's current
/// values (an unchanged address of an invitee is no change of address).
fn patch_of(fields: &Fields, current: &UserDetails) -> Result<ProfilePatch, Vec<FieldError>> {
    let u = &current.user;
    let s = &u.settings;
    let mut errors = Vec::new();
    let text = |name: &str| fields.text(name).trim().to_owned();
    let changed = |name: &str, now: &str| {
        let t = text(name);
        (t != now).then_some(t)
    };
    let mut patch = ProfilePatch::default();
    if let Some(t) = changed("first_name", u.first_name.as_str()) {
        patch.first_name = take(&mut errors, parse("first_name", &t, PersonName::parse));
    }
    if let Some(t) = changed("last_name", u.last_name.as_str()) {
        patch.last_name = take(&mut errors, parse("last_name", &t, PersonName::parse));
    }
    if let Some(t) = changed("email", u.email.as_str()) {
        patch.email = take(&mut errors, parse("email", &t, Email::parse));
    }
    if let Some(t) = changed("phone", u.phone.as_ref().map_or("", |p| p.as_str())) {
        patch.phone = take(&mut errors, optional("phone", &t, Phone::parse));
    }
    if let Some(t) = changed("agent_id", u.agent_id.as_ref().map_or("", |a| a.as_str())) {
        patch.agent_id = take(&mut errors, optional("agent_id", &t, AgentId::parse));
    }
    if let Some(t) = changed("crm_id", u.crm_id.as_ref().map_or("", |c| c.as_str())) {
        patch.crm_id = take(&mut errors, optional("crm_id", &t, CrmId::parse));
    }
    let nicknames_now = u.nicknames.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(t) = changed("nicknames", &nicknames_now) {
        let items = t.split(',').map(str::trim).filter(|n| !n.is_empty());
        patch.nicknames = take(&mut errors, Nicknames::parse(items).map_err(|e| FieldError::invalid("nicknames", &e)));
    }
    if let Some(t) = changed("agent_ring_number", u.agent_ring_number.as_ref().map_or("", |p| p.as_str())) {
        patch.agent_ring_number = take(&mut errors, optional("agent_ring_number", &t, Phone::parse));
    }
    if let Some(t) = changed("dialer_number", u.dialer_number.as_ref().map_or("", |p| p.as_str())) {
        patch.dialer_number = take(&mut errors, optional("dialer_number", &t, Phone::parse));
    }
    let mut settings = SettingsPatch::default();
    if let Some(t) = changed("email_throttle_max_per_day", &s.email_throttle_max_per_day.to_string()) {
        match t.parse::<u32>() {
            Ok(n) => settings.email_throttle_max_per_day = Some(n),
            Err(_) => errors.push(FieldError::new(
                "email_throttle_max_per_day",
                "invalid_format",
                "a whole number of emails a day",
            )),
        }
    }
    if let Some(t) = changed("voip_forward_to", s.voip_forward_to.as_ref().map_or("", |p| p.as_str())) {
        settings.voip_forward_to = take(&mut errors, optional("voip_forward_to", &t, Phone::parse));
    }
    let flags = [
        ("flow_enabled", s.flow_enabled),
        ("email_sync", s.email_sync),
        ("calendar_sync", s.calendar_sync),
        ("round_robin", s.round_robin),
        ("scoring_enabled", s.scoring_enabled),
        ("roaming_agent", s.roaming_agent),
    ];
    for (name, now) in flags {
        let sent = fields.checked(name);
        if sent != now {
            let slot = match name {
                "flow_enabled" => &mut settings.flow_enabled,
                "email_sync" => &mut settings.email_sync,
                "calendar_sync" => &mut settings.calendar_sync,
                "round_robin" => &mut settings.round_robin,
                "scoring_enabled" => &mut settings.scoring_enabled,
                _ => &mut settings.roaming_agent,
            };
            *slot = Some(sent);
        }
    }
    let mailbox = MAILBOX_PROVIDERS.iter().position(|(v, _)| Some(*v) == fields.get("mailbox_provider"));
    let mailbox = mailbox.map(|i| [MailboxProvider::None, MailboxProvider::Google, MailboxProvider::Microsoft][i]);
    if mailbox.is_some_and(|m| m != s.mailbox_provider) {
        settings.mailbox_provider = mailbox;
    }
    let homepage = match fields.get("homepage") {
        Some("leads") => Some(Homepage::Leads),
        Some("default") => Some(Homepage::Default),
        _ => None,
    };
    if homepage.is_some_and(|h| h != s.homepage) {
        settings.homepage = homepage;
    }
    let recording = match fields.get("call_recording") {
        Some("enforced") => Some(CallRecording::Enforced),
        Some("disabled") => Some(CallRecording::Disabled),
        Some("optional") => Some(CallRecording::Optional),
        _ => None,
    };
    if recording.is_some_and(|r| r != s.call_recording) {
        settings.call_recording = recording;
    }
    patch.settings = settings;
    if errors.is_empty() { Ok(patch) } else { Err(errors) }
}

/// `POST /users/{id}/licenses`: the licenses the member should hold.
pub async fn licenses(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let outcome = match fields.chosen("products", |k| Key::parse(k).ok()) {
        Ok(products) => state.services.set_licenses(&console.actor, id, products.into_iter().collect()).await,
        Err(e) => Err(e),
    };
    let outcome = outcome.map(|change| {
        let mut words = Vec::new();
        if !change.assigned.is_empty() {
            words.push(format!("Assigned {}", keys_in_words(change.assigned.iter())));
        }
        if !change.unassigned.is_empty() {
            words.push(format!("removed {}", keys_in_words(change.unassigned.iter())));
        }
        if words.is_empty() { "No license changed.".to_owned() } else { sentence_case(&words.join("; ")) }
    });
    show(&state, &console, &uri, after(id, outcome, "licenses")).await
}

fn keys_in_words<'a>(keys: impl Iterator<Item = &'a Key>) -> String {
    keys.map(Key::as_str).collect::<Vec<_>>().join(", ")
}

/// `POST /users/{id}/roles`: the roles the member should hold (`PUT /users/{id}/roles`'s rules:
/// dominance, the last admin, not while impersonating).
pub async fn roles(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let version = fields.get("version").and_then(|v| v.parse().ok());
    let grants = fields.chosen("roles", |v| {
        let (role, scope) = match v.split_once('@') {
            Some((role, scope)) => (role, Some(scope.parse().ok()?)),
            None => (v, None),
        };
        Some(RoleAssignment { role: RoleRef::Id(role.parse().ok()?), scope })
    });
    let outcome = match grants {
        Ok(grants) => state.services.set_roles(&console.actor, id, grants, version).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let outcome = outcome.map(|()| "Roles saved.".to_owned());
    show(&state, &console, &uri, after(id, outcome, "roles")).await
}

/// `POST /users/{id}/teams`: the groups the member should be in, exactly (the bulk action
/// `set_teams` for one member: joining and leaving as needed, with the same rules).
pub async fn teams(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let groups = match fields.chosen("teams", |g| g.parse::<GroupId>().ok()) {
        Ok(groups) => groups.into_iter().collect(),
        Err(e) => return refused(&state, &console, &uri, id, &e, "teams").await,
    };
    let request = BulkRequest {
        selection: BulkSelection::Ids(vec![id]),
        action: BulkAction::SetTeams(groups),
        atomic: true,
        dry_run: false,
    };
    let refusal = match state.services.bulk_update(&console.actor, request).await {
        Ok(result) => result.outcomes.into_iter().find(|o| !o.is_ok()).map(|o| {
            let words = o.message.as_deref().map_or_else(|| "Refused.".to_owned(), sentence_case);
            Refusal::new("teams", o.status, words)
        }),
        Err(e) => Refusals::beside(&e, "teams").iter().next().cloned(),
    };
    let form = match refusal {
        None => DrawerForm { user_id: Some(id), notice: Some("Teams saved.".to_owned()), ..DrawerForm::default() },
        Some(r) => DrawerForm { user_id: Some(id), refusals: Refusals::one(r), ..DrawerForm::default() },
    };
    show(&state, &console, &uri, form).await
}

/// `POST /users/{id}/scheduled`: schedules a deactivation or a license's removal for a day
/// (at midnight UTC; `POST /users/{id}/scheduled-changes`).
pub async fn schedule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let action = match fields.get("change") {
        Some("deactivate") => Some(ScheduledAction::Deactivate),
        Some(other) => {
            other.strip_prefix("remove_license:").and_then(|k| Key::parse(k).ok()).map(ScheduledAction::RemoveLicense)
        }
        None => None,
    };
    let day = time::Date::parse(fields.text("on").trim(), time::macros::format_description!("[year]-[month]-[day]"));
    let outcome = match (action, day) {
        (None, _) => Err(ServiceError::Validation(vec![FieldError::new("schedule", "required", "choose a change")])),
        (_, Err(_)) => {
            Err(ServiceError::Validation(vec![FieldError::new("schedule", "invalid_format", "choose a day")]))
        }
        (Some(action), Ok(day)) => {
            let at = day.midnight().assume_utc();
            state
                .services
                .schedule_change(&console.actor, id, action, at)
                .await
                .map(|c| format!("Scheduled for {}.", c.effective_at.date()))
        }
    };
    show(&state, &console, &uri, after(id, outcome, "schedule")).await
}

/// `POST /users/{id}/scheduled/{change}/cancel`.
pub async fn cancel_scheduled(
    State(state): State<AppState>,
    Path((id, change)): Path<(String, String)>,
    uri: Uri,
    SignedForm { console, .. }: SignedForm,
) -> Response {
    let (Some(id), Ok(change)) = (user_id(&id), change.parse::<ScheduledChangeId>()) else { return no_such_user() };
    let outcome = state.services.cancel_scheduled(&console.actor, change).await.map(|()| "Cancelled.".to_owned());
    show(&state, &console, &uri, after(id, outcome, "schedule")).await
}

/// The drawer after a change: its notice, or its refusal beside `field`.
fn after(id: UserId, outcome: Result<String, ServiceError>, field: &str) -> DrawerForm {
    match outcome {
        Ok(notice) => DrawerForm { user_id: Some(id), notice: Some(notice), ..DrawerForm::default() },
        Err(e) => DrawerForm { user_id: Some(id), refusals: Refusals::beside(&e, field), ..DrawerForm::default() },
    }
}

/// `POST /users/{id}/deactivate`: deactivates once confirmed; a refusal shows beside the switch.
pub async fn deactivate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let version = fields.get("version").and_then(|v| v.parse().ok());
    match state.services.deactivate_user(&console.actor, id, version).await {
        Ok(_) => Redirect::to(&format!("/users/{id}{}", query_of(&uri))).into_response(),
        Err(e) => refused(&state, &console, &uri, id, &e, "active").await,
    }
}

/// `POST /users/{id}/reactivate`.
pub async fn reactivate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    SignedForm { console, fields }: SignedForm,
) -> Response {
    let Some(id) = user_id(&id) else { return no_such_user() };
    let version = fields.get("version").and_then(|v| v.parse().ok());
    match state.services.reactivate_user(&console.actor, id, BTreeSet::new(), version).await {
        Ok(_) => Redirect::to(&format!("/users/{id}{}", query_of(&uri))).into_response(),
        Err(e) => refused(&state, &console, &uri, id, &e, "active").await,
    }
}

/// The drawer again, the refusal of `error` beside the control `field`.
async fn refused(
    state: &AppState,
    console: &Console,
    uri: &Uri,
    id: UserId,
    error: &ServiceError,
    field: &str,
) -> Response {
    let form = DrawerForm { user_id: Some(id), refusals: Refusals::beside(error, field), ..DrawerForm::default() };
    show(state, console, uri, form).await
}

fn query_of(uri: &Uri) -> String {
    uri.query().map_or_else(String::new, |q| format!("?{q}"))
}
