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
use roster_domain::ServiceError;
use roster_domain::catalog::Catalog;
use roster_domain::groups::Group;
use roster_domain::ids::{GroupId, JobId, UserId};
use roster_domain::jobs::{Job, JobState};
use roster_domain::roles::Role;
use roster_domain::seats::SeatCount;
use roster_domain::services::{
    BulkAction, BulkRequest, BulkResult, BulkSelection, BulkSubmission, JobResult, RoleAssignment, SettingsPatch,
};
use roster_domain::user::CallRecording;
use roster_domain::values::Key;

use super::users::{Ask, Choice, Overlay, build, filter_of};
use crate::page::{Fields, Refusal, Refusals, in_words, problem, sentence_case};
use crate::session::{Console, SignedForm};

/// The bulk actions, their names on the wire and in words, and the argument each takes.
pub const ACTIONS: [(&str, &str, Argument); 13] = [
    ("add_teams", "Add to teams", Argument::Teams),
    ("remove_teams", "Remove from teams", Argument::Teams),
    ("set_teams", "Set teams", Argument::Teams),
    ("set_roles", "Set roles", Argument::Roles),
    ("assign_licenses", "Assign licenses", Argument::Licenses),
    ("unassign_licenses", "Unassign licenses", Argument::Licenses),
    ("set_flow_enabled", "Update flow settings", Argument::Switch),
    ("set_email_throttle", "Set email throttle max", Argument::Throttle),
    ("set_call_recording", "Update call recording", Argument::CallRecording),
    ("set_email_sync", "Update email sync", Argument::Switch),
    ("set_calendar_sync", "Update calendar sync", Argument::Switch),
    ("deprovision_dialer_numbers", "Deprovision dialer numbers", Argument::None),
    ("check_connection_status", "Check connection status", Argument::None),
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
    /// The section of the dialog holding it (`data-arg`).
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
        groups: &[Group],
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
        let mut live: Vec<&Group> = groups.iter().filter(|g| g.parent_id.is_some() && g.deleted_at.is_none()).collect();
        live.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        let recording = f.get("call_recording").unwrap_or("optional");
        Self {
            action_href: format!("/users/actions{q}"),
            cancel: format!("/users{q}#actions"),
            selection,
            count_words,
            actions: ACTIONS
                .iter()
                .map(|(value, label, arg)| ActionChoice {
                    value,
                    label,
                    argument: arg.name(),
                    checked: *value == chosen,
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
            result: form.result,
            job: form.job,
            refusals: form.refusals,
        }
    }
}

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
            let q = uri.query().map_or_else(String::new, |q| format!("?{q}"));
            return Redirect::to(&format!("/users/jobs/{}{q}", job.id)).into_response();
        }
        Err(e) => {
            form.refusals = match &e {
                ServiceError::Validation(errors) => {
                    let mut r = Refusals::none();
                    for error in errors {
                        r.push(Refusal::new("action", error.code, sentence_case(&error.message)));
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
    let mut form = ActionsForm {
        selected: Selected::All,
        fields: Fields::default(),
        result: None,
        job: Some(job_view(&job)),
        refusals: Refusals::none(),
    };
    if matches!(job.state, JobState::Done)
        && let Ok(Some(JobResult::Bulk(result))) = state.services.job_result(&console.actor, id).await
    {
        form.result = Some(ResultView {
            applied: result.applied,
            ok: 0,
            refused: 0,
            seats: seat_changes(&result.seats_before, &result.seats_after),
            lines: Vec::new(),
            more: 0,
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

/// The action and its argument as posted.
fn action_of(fields: &Fields) -> Result<BulkAction, Refusal> {
    let name = fields.get("action").unwrap_or_default();
    let Some((_, _, argument)) = ACTIONS.iter().find(|(n, _, _)| *n == name) else {
        return Err(Refusal::new("action", "required", "Choose an action."));
    };
    let keys =
        |field: &str| -> BTreeSet<Key> { fields.all(field).into_iter().filter_map(|k| Key::parse(k).ok()).collect() };
    let groups: BTreeSet<GroupId> = fields.all("teams").into_iter().filter_map(|g| g.parse().ok()).collect();
    let need = |empty: bool, what: &str| {
        if empty {
            Err(Refusal::new(argument.name(), "required", format!("Choose at least one {what}.")))
        } else {
            Ok(())
        }
    };
    let on = fields.get("switch") != Some("off");
    Ok(match name {
        "add_teams" | "remove_teams" | "set_teams" => {
            if name != "set_teams" {
                need(groups.is_empty(), "team")?;
            }
            match name {
                "add_teams" => BulkAction::AddTeams(groups),
                "remove_teams" => BulkAction::RemoveTeams(groups),
                _ => BulkAction::SetTeams(groups),
            }
        }
        "set_roles" => {
            let roles = keys("roles");
            need(roles.is_empty(), "role")?;
            BulkAction::SetRoles(roles.into_iter().map(RoleAssignment::org_wide).collect())
        }
        "assign_licenses" | "unassign_licenses" => {
            let products = keys("licenses");
            need(products.is_empty(), "license")?;
            if name == "assign_licenses" {
                BulkAction::AssignLicenses(products)
            } else {
                BulkAction::UnassignLicenses(products)
            }
        }
        "set_flow_enabled" => {
            BulkAction::Settings(SettingsPatch { flow_enabled: Some(on), ..SettingsPatch::default() })
        }
        "set_email_sync" => BulkAction::Settings(SettingsPatch { email_sync: Some(on), ..SettingsPatch::default() }),
        "set_calendar_sync" => {
            BulkAction::Settings(SettingsPatch { calendar_sync: Some(on), ..SettingsPatch::default() })
        }
        "set_email_throttle" => {
            let n = fields.text("throttle").trim().parse::<u32>().map_err(|_| {
                Refusal::new("throttle", "invalid_format", "Give the most emails a day as a whole number.")
            })?;
            BulkAction::Settings(SettingsPatch { email_throttle_max_per_day: Some(n), ..SettingsPatch::default() })
        }
        "set_call_recording" => {
            let r = match fields.get("call_recording") {
                Some("enforced") => CallRecording::Enforced,
                Some("disabled") => CallRecording::Disabled,
                _ => CallRecording::Optional,
            };
            BulkAction::Settings(SettingsPatch { call_recording: Some(r), ..SettingsPatch::default() })
        }
        "deprovision_dialer_numbers" => BulkAction::DeprovisionDialerNumbers,
        _ => BulkAction::CheckConnectionStatus,
    })
}

/// The most outcome lines a result shows.
const MAX_LINES: usize = 200;

/// A bulk result in words, each outcome named by the user's name.
async fn result_view(state: &AppState, console: &Console, result: &BulkResult) -> ResultView {
    let ok = result.outcomes.iter().filter(|o| o.is_ok()).count();
    let mut lines = Vec::new();
    for o in result.outcomes.iter().take(MAX_LINES) {
        // At most 200 reads of one user each, for the names of what is shown.
        let who = match state.services.get_user(&console.actor, o.user_id).await {
            Ok(u) => format!("{} {}", u.user.first_name.as_str(), u.user.last_name.as_str()),
            Err(_) => o.user_id.to_string(),
        };
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
