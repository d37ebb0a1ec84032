//! The Actions menu of the Users page (SPEC §12, §10 bulk actions): the users selected on the
//! page, or all the users the filter matches, and one bulk action, previewed first (the dry
//! run's outcomes and seat changes) and then applied, with one outcome per user; over 1,000
//! users it runs as a job, followed with a progress bar.
//!
//! A page state like the Invite dialog: `/users/actions` with the Users page's view and the
//! selection (`ids`, or `all=1`) in its query; "Preview" and "Apply" post the action to
//! `Services::submit_bulk` with `dry_run` set or not; a job is `/users/jobs/{id}`.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use roster_adapters_http::AppState;
use roster_adapters_http::routes::users_bulk::{BulkActionName, BulkRoleBody, BulkUsersRequest};
use roster_adapters_http::user_fields::CallRecordingName;
use roster_domain::ServiceError;
use roster_domain::catalog::Catalog;
use roster_domain::groups::Group;
use roster_domain::ids::{JobId, UserId};
use roster_domain::jobs::{Job, JobState};
use roster_domain::roles::Role;
use roster_domain::seats::SeatCount;
use roster_domain::services::{BulkAction, BulkRequest, BulkResult, BulkSelection, BulkSubmission, JobResult};
use roster_domain::values::Key;

use super::users::{Ask, Choice, Overlay, build, filter_of};
use crate::page::{Fields, Refusal, Refusals, in_words, problem, sentence_case};
use crate::session::{Console, SignedForm};

/// The bulk actions of the REST API, in the dialog's order, with their words.
pub const ACTIONS: [(BulkActionName, &str); 13] = [
    (BulkActionName::AddTeams, "Add to teams"),
    (BulkActionName::RemoveTeams, "Remove from teams"),
    (BulkActionName::SetTeams, "Set teams"),
    (BulkActionName::SetRoles, "Set roles"),
    (BulkActionName::AssignLicenses, "Assign licenses"),
    (BulkActionName::UnassignLicenses, "Unassign licenses"),
    (BulkActionName::SetFlowEnabled, "Update flow settings"),
    (BulkActionName::SetEmailThrottle, "Set email throttle max"),
    (BulkActionName::SetCallRecording, "Update call recording"),
    (BulkActionName::SetEmailSync, "Update email sync"),
    (BulkActionName::SetCalendarSync, "Update calendar sync"),
    (BulkActionName::DeprovisionDialerNumbers, "Deprovision dialer numbers"),
    (BulkActionName::CheckConnectionStatus, "Check connection status"),
];

/// What an action needs besides the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    Teams,
    Roles,
    Licenses,
    Switch,
    Throttle,
    CallRecording,
    None,
}

impl Argument {
    /// What the action's argument field on the wire is, in the dialog.
    fn of(action: BulkActionName) -> Self {
        match action.argument() {
            Some("group_ids") => Self::Teams,
            Some("roles") => Self::Roles,
            Some("products") => Self::Licenses,
            Some("email_throttle_max_per_day") => Self::Throttle,
            Some("call_recording") => Self::CallRecording,
            Some(_) => Self::Switch,
            None => Self::None,
        }
    }

    /// The section of the dialog holding it (`data-arg`), and the field a refusal of the
    /// argument stands beside.
    pub fn name(self) -> &'static str {
        match self {
            Self::Teams => "teams",
            Self::Roles => "roles",
            Self::Licenses => "licenses",
            Self::Switch => "switch",
            Self::Throttle => "throttle",
            Self::CallRecording => "call_recording",
            Self::None => "",
        }
    }
}

/// The users an action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    Ids(Vec<UserId>),
    /// Every user the view's filter matches.
    All,
}

/// What the dialog holds.
#[derive(Debug, Clone)]
pub struct ActionsForm {
    pub selected: Selected,
    /// The fields as posted (action and arguments), to show them again.
    pub fields: Fields,
    pub result: Option<ResultView>,
    pub job: Option<JobView>,
    pub refusals: Refusals,
}

/// What a preview or an application did.
#[derive(Debug, Clone)]
pub struct ResultView {
    pub applied: bool,
    pub ok: usize,
    pub refused: usize,
    /// "Core: 3 of 5 seats available → 1 of 5", for each pool that changes.
    pub seats: Vec<String>,
    /// One line per user (the first 200).
    pub lines: Vec<OutcomeLine>,
    pub more: usize,
}

/// One user's outcome in words.
#[derive(Debug, Clone)]
pub struct OutcomeLine {
    pub who: String,
    pub code: String,
    pub words: String,
}

/// A job's progress.
#[derive(Debug, Clone)]
pub struct JobView {
    pub id: String,
    pub done: u64,
    pub total: u64,
    /// `queued`, `running`, `done` or `failed`.
    pub state: &'static str,
    pub words: String,
    pub finished: bool,
}

/// The dialog as the template shows it.
#[derive(Debug, Clone)]
pub struct ActionsDialog {
    pub action_href: String,
    pub cancel: String,
    /// The selection as hidden fields.
    pub selection: Vec<(String, String)>,
    pub count_words: String,
    pub actions: Vec<ActionChoice>,
    pub teams: Vec<Choice>,
    pub roles: Vec<Choice>,
    pub licenses: Vec<Choice>,
    pub switch_on: bool,
    pub throttle: String,
    pub call_recording: Vec<Choice>,
    pub result: Option<ResultView>,
    pub job: Option<JobView>,
    pub refusals: Refusals,
    /// Whether "Apply" is offered: after a preview of the same action.
    pub can_apply: bool,
    /// Whether the form is shown: not while a job runs.
    pub show_form: bool,
}

/// An action of the radio group.
#[derive(Debug, Clone)]
pub struct ActionChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub argument: &'static str,
    pub checked: bool,
}

impl ActionsDialog {
    /// The dialog of `form` over the organization's roles, groups and catalog; `total` is how
    /// many users the view's filter matches.
    pub fn new(
        form: ActionsForm,
        ask_query: &str,
        total: u64,
        roles: &[Role],
        groups: &[&Group],
        catalog: &Catalog,
    ) -> Self {
        let q = if ask_query.is_empty() { String::new() } else { format!("?{ask_query}") };
        let f = &form.fields;
        let chosen = f.get("action").unwrap_or_default();
        let ticked = |name: &str| -> BTreeSet<String> { f.all(name).into_iter().map(str::to_owned).collect() };
        let (teams_on, roles_on, licenses_on) = (ticked("teams"), ticked("roles"), ticked("licenses"));
        let (selection, count_words) = match &form.selected {
            Selected::Ids(ids) => (
                ids.iter().map(|id| ("ids".to_owned(), id.to_string())).collect(),
                match ids.len() {
                    1 => "1 selected user".to_owned(),
                    n => format!("{n} selected users"),
                },
            ),
            Selected::All => {
                (vec![("all".to_owned(), "1".to_owned())], format!("all {total} users that match the filter"))
            }
        };
        let mut live: Vec<&Group> =
            groups.iter().copied().filter(|g| g.parent_id.is_some() && g.deleted_at.is_none()).collect();
        live.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        let recording = f.get("call_recording").unwrap_or("optional");
        Self {
            action_href: format!("/users/actions{q}"),
            cancel: format!("/users{q}#actions"),
            selection,
            count_words,
            actions: ACTIONS
                .iter()
                .map(|(action, label)| ActionChoice {
                    value: action.name(),
                    label,
                    argument: Argument::of(*action).name(),
                    checked: action.name() == chosen,
                })
                .collect(),
            teams: live
                .iter()
                .map(|g| Choice {
                    value: g.id.to_string(),
                    label: g.name.as_str().to_owned(),
                    selected: teams_on.contains(&g.id.to_string()),
                })
                .collect(),
            roles: roles
                .iter()
                .map(|r| Choice {
                    value: r.key.as_str().to_owned(),
                    label: r.name.as_str().to_owned(),
                    selected: roles_on.contains(r.key.as_str()),
                })
                .collect(),
            licenses: catalog
                .products()
                .map(|p| Choice {
                    value: p.key.as_str().to_owned(),
                    label: p.name.as_str().to_owned(),
                    selected: licenses_on.contains(p.key.as_str()),
                })
                .collect(),
            switch_on: f.get("switch") != Some("off"),
            throttle: f.text("throttle"),
            call_recording: [("optional", "Optional"), ("enforced", "Enforced"), ("disabled", "Disabled")]
                .into_iter()
                .map(|(v, l)| Choice { value: v.to_owned(), label: l.to_owned(), selected: recording == v })
                .collect(),
            can_apply: form.result.as_ref().is_some_and(|r| !r.applied) && form.refusals.is_empty(),
            show_form: form.job.as_ref().is_none_or(|j| j.finished),
            result: form.result,
            job: form.job,
            refusals: form.refusals,
        }
    }
}

/// The fields of the dialog's form that say which action and with what (not the selection,
/// the step or the forgery token).
const ACTION_FIELDS: [&str; 7] = ["action", "teams", "roles", "licenses", "switch", "throttle", "call_recording"];

/// The selection of a query or form: `all=1`, or the `ids` (each once, in order).
fn selected_of(fields: &Fields) -> Option<Selected> {
    if fields.get("all") == Some("1") {
        return Some(Selected::All);
    }
    let mut seen = BTreeSet::new();
    let ids: Vec<UserId> =
        fields.all("ids").into_iter().filter_map(|id| id.parse().ok()).filter(|id| seen.insert(*id)).collect();
    (!ids.is_empty()).then_some(Selected::Ids(ids))
}

fn ask_of(uri: &Uri) -> Ask {
    Ask::read(&Fields::parse(uri.query().unwrap_or_default().as_bytes()))
}

/// `GET /users/actions`: the dialog for the selection; no selection shows the Users page with a
/// refusal saying to select someone.
pub async fn open(State(state): State<AppState>, console: Console, uri: Uri) -> Response {
    let query = Fields::parse(uri.query().unwrap_or_default().as_bytes());
    let ask = Ask::read(&query);
    match selected_of(&query) {
        Some(selected) => {
            let form = ActionsForm {
                selected,
                fields: Fields::default(),
                result: None,
                job: None,
                refusals: Refusals::none(),
            };
            build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Actions(form)).await
        }
        None => {
            let refusal =
                Refusal::new("selection", "empty", "Select at least one user first, or all the users that match.");
            build(&state, &console, ask, String::new(), Refusals::one(refusal), Overlay::None).await
        }
    }
}

/// `POST /users/actions`: previews (`step=preview`) or applies (`step=apply`) the action.
pub async fn post(State(state): State<AppState>, uri: Uri, SignedForm { console, fields }: SignedForm) -> Response {
    let ask = ask_of(&uri);
    let Some(selected) = selected_of(&fields) else {
        let refusal =
            Refusal::new("selection", "empty", "Select at least one user first, or all the users that match.");
        return build(&state, &console, ask, String::new(), Refusals::one(refusal), Overlay::None).await;
    };
    let dry_run = fields.get("step") != Some("apply");
    let mut form = ActionsForm {
        selected: selected.clone(),
        fields: fields.clone(),
        result: None,
        job: None,
        refusals: Refusals::none(),
    };
    let action = match action_of(&fields) {
        Ok(a) => a,
        Err(refusal) => {
            form.refusals = Refusals::one(refusal);
            return build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Actions(form)).await;
        }
    };
    let selection = match &selected {
        Selected::Ids(ids) => BulkSelection::Ids(ids.clone()),
        Selected::All => match filter_of(&ask, &console) {
            Ok(mut query) => {
                query.paging = None;
                BulkSelection::Filter(Box::new(query))
            }
            Err(e) => return problem(&e),
        },
    };
    let request = BulkRequest { selection, action, atomic: false, dry_run };
    match state.services.submit_bulk(&console.actor, request).await {
        Ok(BulkSubmission::Done(result)) => form.result = Some(result_view(&state, &console, &result).await),
        Ok(BulkSubmission::Queued(job)) => {
            // The job's page carries the action as chosen, so that once a preview's job ends
            // the dialog offers to apply the same action.
            let mut q = form_urlencoded::Serializer::new(uri.query().unwrap_or_default().to_owned());
            for (name, value) in fields.only(&ACTION_FIELDS).pairs() {
                q.append_pair(name, value);
            }
            let q = q.finish();
            let q = if q.is_empty() { String::new() } else { format!("?{q}") };
            return Redirect::to(&format!("/users/jobs/{}{q}", job.id)).into_response();
        }
        Err(e) => {
            // A refusal of the argument stands beside its section, any other beside the
            // choice of action.
            let section = |field: &str| match field {
                "group_ids" => "teams",
                "roles" => "roles",
                "products" => "licenses",
                _ => "action",
            };
            form.refusals = match &e {
                ServiceError::Validation(errors) => {
                    let mut r = Refusals::none();
                    for error in errors {
                        r.push(Refusal::new(section(&error.field), error.code, sentence_case(&error.message)));
                    }
                    r
                }
                other => Refusals::one(Refusal::new("action", other.code().as_str(), in_words(other))),
            }
        }
    }
    build(&state, &console, ask, String::new(), Refusals::none(), Overlay::Actions(form)).await
}

/// `GET /users/jobs/{id}`: a bulk job's progress over the Users page.
pub async fn job(State(state): State<AppState>, console: Console, Path(id): Path<String>, uri: Uri) -> Response {
    let Ok(id) = id.parse::<JobId>() else { return problem(&ServiceError::not_found("job")) };
    let job = match state.services.job(&console.actor, id).await {
        Ok(job) => job,
        Err(e) => return problem(&e),
    };
    let query = Fields::parse(uri.query().unwrap_or_default().as_bytes());
    let mut form = ActionsForm {
        // Only a selection of every user the filter matches reaches over 1,000 users.
        selected: Selected::All,
        fields: query.only(&ACTION_FIELDS),
        result: None,
        job: Some(job_view(&job)),
        refusals: Refusals::none(),
    };
    if matches!(job.state, JobState::Done)
        && let Ok(Some(JobResult::Bulk(result))) = state.services.job_result(&console.actor, id).await
    {
        // The job's tallies, and its first outcomes in words (the rest are in
        // `GET /api/v1/jobs/{id}/outcomes`).
        let first = match state.services.job_outcomes(&console.actor, id, 0, MAX_LINES as u32).await {
            Ok(outcomes) => outcomes.into_iter().map(|(_, o)| o).collect(),
            Err(e) => return problem(&e),
        };
        let shown = BulkResult {
            outcomes: first,
            applied: result.applied,
            seats_before: result.seats_before,
            seats_after: result.seats_after,
        };
        let view = result_view(&state, &console, &shown).await;
        let total = result.succeeded + result.refused;
        form.result = Some(ResultView {
            ok: usize::try_from(result.succeeded).unwrap_or(usize::MAX),
            refused: usize::try_from(result.refused).unwrap_or(usize::MAX),
            more: usize::try_from(total.saturating_sub(view.lines.len() as u64)).unwrap_or(usize::MAX),
            ..view
        });
    }
    build(&state, &console, ask_of(&uri), String::new(), Refusals::none(), Overlay::Actions(form)).await
}

fn job_view(job: &Job) -> JobView {
    let (state, words) = match &job.state {
        JobState::Queued => ("queued", "Waiting to start.".to_owned()),
        JobState::Running => ("running", format!("Working: {} of {} users.", job.done, job.total)),
        JobState::Done => ("done", format!("Done: {} of {} users.", job.done, job.total)),
        JobState::Failed { message, .. } => ("failed", format!("Stopped: {}", sentence_case(message))),
    };
    JobView {
        id: job.id.to_string(),
        done: job.done,
        total: job.total,
        state,
        words,
        finished: matches!(job.state, JobState::Done | JobState::Failed { .. }),
    }
}

/// The action and its argument as posted, read by the REST adapter's parser of
/// `POST /users/bulk` (the same request, from the dialog's fields).
fn action_of(fields: &Fields) -> Result<BulkAction, Refusal> {
    let Some(name) = fields.get("action").and_then(BulkActionName::parse) else {
        return Err(Refusal::new("action", "required", "Choose an action."));
    };
    let argument = Argument::of(name);
    let on = fields.get("switch") != Some("off");
    let mut request = BulkUsersRequest::for_action(name);
    match name.argument() {
        Some("group_ids") => {
            let teams = fields.chosen("teams", |g| g.parse().ok()).map_err(|e| {
                Refusal::new(
                    "teams",
                    e.code().as_str(),
                    "A team chosen is not one offered; reload the page and choose again.",
                )
            })?;
            request.group_ids = Some(teams);
        }
        Some("roles") => {
            let roles = fields.all("roles").into_iter().map(|key| BulkRoleBody { key: key.to_owned(), scope: None });
            request.roles = Some(roles.collect());
        }
        Some("products") => request.products = Some(fields.all("licenses").into_iter().map(str::to_owned).collect()),
        Some("flow_enabled") => request.flow_enabled = Some(on),
        Some("email_sync") => request.email_sync = Some(on),
        Some("calendar_sync") => request.calendar_sync = Some(on),
        Some("email_throttle_max_per_day") => {
            let n = fields.text("throttle").trim().parse::<u32>().map_err(|_| {
                Refusal::new("throttle", "invalid_format", "Give the most emails a day as a whole number.")
            })?;
            request.email_throttle_max_per_day = Some(n);
        }
        Some("call_recording") => {
            request.call_recording = Some(match fields.get("call_recording") {
                Some("enforced") => CallRecordingName::Enforced,
                Some("disabled") => CallRecordingName::Disabled,
                _ => CallRecordingName::Optional,
            });
        }
        _ => {}
    }
    // A refusal stands beside the dialog's section of the argument.
    request.action().map_err(|e| {
        let refusal = Refusals::beside(&e, argument.name()).iter().next().cloned();
        refusal.unwrap_or_else(|| Refusal::new(argument.name(), e.code().as_str(), in_words(&e)))
    })
}

/// The most outcome lines a result shows.
const MAX_LINES: usize = 200;

/// A bulk result in words, each outcome named by the user's name.
async fn result_view(state: &AppState, console: &Console, result: &BulkResult) -> ResultView {
    let ok = result.outcomes.iter().filter(|o| o.is_ok()).count();
    let shown: Vec<UserId> = result.outcomes.iter().take(MAX_LINES).map(|o| o.user_id).collect();
    // The names of the users shown, in one read; a user not found is named by id.
    let names = state.services.user_names(&console.actor, &shown).await.unwrap_or_default();
    let mut lines = Vec::new();
    for o in result.outcomes.iter().take(MAX_LINES) {
        let who = names.get(&o.user_id).cloned().unwrap_or_else(|| o.user_id.to_string());
        let words = if o.is_ok() {
            match (&o.licenses, o.crm_active) {
                (Some(change), _) => {
                    let mut parts = Vec::new();
                    if !change.assigned.is_empty() {
                        parts.push(format!("gets {}", keys_words(&change.assigned)));
                    }
                    if !change.unassigned.is_empty() {
                        parts.push(format!("loses {}", keys_words(&change.unassigned)));
                    }
                    if parts.is_empty() { "No change.".to_owned() } else { sentence_case(&parts.join(", ")) }
                }
                (None, Some(true)) => "Active in the CRM.".to_owned(),
                (None, Some(false)) => "Inactive in the CRM.".to_owned(),
                (None, None) => if result.applied { "Done." } else { "Will be changed." }.to_owned(),
            }
        } else {
            o.message.as_deref().map_or_else(|| "Refused.".to_owned(), sentence_case)
        };
        lines.push(OutcomeLine { who, code: o.status.clone(), words });
    }
    ResultView {
        applied: result.applied,
        ok,
        refused: result.outcomes.len() - ok,
        seats: seat_changes(&result.seats_before, &result.seats_after),
        more: result.outcomes.len().saturating_sub(MAX_LINES),
        lines,
    }
}

fn keys_words<'a>(keys: impl IntoIterator<Item = &'a Key>) -> String {
    keys.into_iter().map(Key::as_str).collect::<Vec<_>>().join(", ")
}

/// The pools whose free seats change, in words.
fn seat_changes(before: &[SeatCount], after: &[SeatCount]) -> Vec<String> {
    before
        .iter()
        .filter_map(|b| {
            let a = after.iter().find(|a| a.product == b.product)?;
            (a.seats_available != b.seats_available).then(|| {
                format!(
                    "{}: {} of {} seats available → {} of {}",
                    b.product, b.seats_available, b.seats_total, a.seats_available, a.seats_total
                )
            })
        })
        .collect()
}
