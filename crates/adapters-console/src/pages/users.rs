//! The Users page (SPEC §12): the Users table with its search, filters, column chooser,
//! click-to-sort headers, page sizes and pages, saved views and CSV download.
//!
//! Everything the page shows is in its URL — the filter (the same parameters as
//! `GET /api/v1/users`), `sort`, `per_page`, `cols` and where the page stands (`after` or
//! `before` a row, with `from`, or `last`) — so a page can be bookmarked and shared, and every
//! control is a plain link or `GET` form. Changing the filter, the sort or the page size returns
//! to the first page. Pages are walked by cursor, never by offset, so the last page of a million
//! users costs what the first does. A request is one read of the services
//! (`Services::users_screen`: the page with the facts of its rows, the total, the catalog,
//! roles and groups) and one of the member's saved views.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use roster_adapters_http::AppState;
use roster_adapters_http::pagination::{decode_cursor, encode_cursor};
use roster_adapters_http::problem::ApiError;
use roster_adapters_http::users_filter::{FILTER_PARAMS, UsersFilter, parse_sort};
use roster_domain::ServiceError;
use roster_domain::catalog::Catalog;
use roster_domain::groups::Group;
use roster_domain::ids::{GroupId, RoleId, SavedViewId};
use roster_domain::roles::Role;
use roster_domain::saved_views::{SavedView, VIEW_COLUMNS, VIEW_PAGE_SIZES, ViewDefinition, is_view_column};
use roster_domain::services::{UserDetails, UserDetailsPage, UsersScreen};
use roster_domain::user::{CallRecording, InactiveReason, MailboxProvider, Status};
use roster_domain::users_query::{PRODUCT_SORT_PREFIX, UserCursor, UserPaging, UserSortField};
use roster_domain::values::Label;
use time::macros::format_description;

use super::actions::{ActionsDialog, ActionsForm, Selected};
use super::crm::{CrmDialog, CrmForm};
use super::drawer::{DeletedView, DrawerForm, DrawerView, OrgFacts};
use super::invite::{InviteDialog, InviteForm};
use crate::page::{Chrome, Fields, Refusal, Refusals, Section, problem, render_with};
use crate::session::{Console, SignedForm};

/// Rows per page when the URL does not say.
const DEFAULT_PER_PAGE: u32 = 25;

/// The statuses a person filters by, with their words.
const STATUSES: [(&str, &str); 6] = [
    ("active", "Active"),
    ("pending", "Pending"),
    ("invited", "Invited"),
    ("inactive", "Inactive"),
    ("revoked", "Revoked"),
    ("deactivated", "Deactivated"),
];

/// Where the page stands in the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum At {
    /// The first page.
    #[default]
    First,
    /// The rows after the row of `cursor`; `from` numbers the page's first row (for the
    /// summary).
    After { cursor: String, from: u64 },
    /// The rows before the row of `cursor`, `from` as for `After`.
    Before { cursor: String, from: u64 },
    /// The last page.
    Last,
}

impl At {
    fn read(fields: &Fields) -> Self {
        let from = fields.get("from").and_then(|f| f.parse::<u64>().ok()).unwrap_or(1).max(1);
        if let Some(cursor) = fields.get("after").filter(|c| !c.is_empty()) {
            Self::After { cursor: cursor.to_owned(), from }
        } else if let Some(cursor) = fields.get("before").filter(|c| !c.is_empty()) {
            Self::Before { cursor: cursor.to_owned(), from }
        } else if fields.get("last").is_some() {
            Self::Last
        } else {
            Self::First
        }
    }

    fn append(&self, q: &mut form_urlencoded::Serializer<'_, String>) {
        match self {
            Self::First => {}
            Self::After { cursor, from } => {
                q.append_pair("after", cursor);
                q.append_pair("from", &from.to_string());
            }
            Self::Before { cursor, from } => {
                q.append_pair("before", cursor);
                q.append_pair("from", &from.to_string());
            }
            Self::Last => {
                q.append_pair("last", "1");
            }
        }
    }
}

/// What the URL asks the page to show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ask {
    /// The filter's parameters as sent, each once (statuses joined by commas).
    filter: BTreeMap<String, String>,
    sort: String,
    at: At,
    per_page: u32,
    /// The columns shown, in order.
    cols: Vec<String>,
    /// Whether the URL chose the columns (otherwise the default set is shown).
    cols_chosen: bool,
}

impl Ask {
    pub(crate) fn read(fields: &Fields) -> Self {
        let mut filter = BTreeMap::new();
        for name in FILTER_PARAMS {
            let values: Vec<&str> = fields.all(name).into_iter().map(str::trim).filter(|v| !v.is_empty()).collect();
            if !values.is_empty() {
                filter.insert(name.to_owned(), values.join(","));
            }
        }
        // A date field of the form sends a day; the filter takes a time.
        for name in ["created_from", "created_to"] {
            if let Some(day) = filter.get(name).filter(|d| d.len() == 10) {
                let at = format!("{day}T00:00:00Z");
                filter.insert(name.to_owned(), at);
            }
        }
        let cols: Vec<String> = fields
            .all("cols")
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let per_page = fields.get("per_page").and_then(|p| p.parse().ok()).filter(|p| VIEW_PAGE_SIZES.contains(p));
        Self {
            filter,
            sort: fields.text("sort").trim().to_owned(),
            at: At::read(fields),
            per_page: per_page.unwrap_or(DEFAULT_PER_PAGE),
            cols_chosen: !cols.is_empty(),
            cols,
        }
    }

    /// The query string of this view on its first page, leaving out what is the default.
    pub(crate) fn query(&self) -> String {
        self.query_at(&At::First)
    }

    /// The query string of this view at `at`, leaving out what is the default.
    pub(crate) fn query_at(&self, at: &At) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.filter {
            q.append_pair(k, v);
        }
        if !self.sort.is_empty() {
            q.append_pair("sort", &self.sort);
        }
        if self.per_page != DEFAULT_PER_PAGE {
            q.append_pair("per_page", &self.per_page.to_string());
        }
        if self.cols_chosen {
            q.append_pair("cols", &self.cols.join(","));
        }
        at.append(&mut q);
        q.finish()
    }

    fn href(&self, at: &At) -> String {
        let q = self.query_at(at);
        if q.is_empty() { "/users".to_owned() } else { format!("/users?{q}") }
    }

    /// This view, on its first page and with neither filter nor sort.
    fn plain(&self) -> Self {
        Self { filter: BTreeMap::new(), sort: String::new(), at: At::First, ..self.clone() }
    }

    /// The view as a saved view keeps it.
    fn definition(&self) -> ViewDefinition {
        ViewDefinition {
            filter: self.filter.clone(),
            sort: self.sort.clone(),
            columns: self.cols.clone(),
            per_page: self.per_page,
        }
    }

    /// The view a saved view restores.
    fn from_view(view: &SavedView) -> Self {
        let d = &view.definition;
        Self {
            filter: d.filter.clone(),
            sort: d.sort.clone(),
            at: At::First,
            per_page: d.per_page,
            cols_chosen: !d.columns.is_empty(),
            cols: d.columns.clone(),
        }
    }
}

/// A hidden field of a `GET` form, carrying the rest of the view.
#[derive(Debug, Clone)]
pub struct Hidden {
    pub name: String,
    pub value: String,
}

/// A column of the table.
#[derive(Debug, Clone)]
pub struct ColumnView {
    pub id: String,
    pub label: String,
    /// The value of `sort` a click on its header sends; empty when the column does not sort.
    pub sort_next: String,
    /// `ascending`, `descending` or `none` when sortable; empty otherwise.
    pub aria_sort: &'static str,
    pub shown: bool,
}

/// A row of the table.
#[derive(Debug, Clone)]
pub struct RowView {
    /// The user's id, the value of the row's checkbox.
    pub id: String,
    pub full_name: String,
    /// The row's drawer, with the same view behind it.
    pub href: String,
    pub cells: Vec<String>,
}

/// A choice of a filter's select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A link of the pager.
#[derive(Debug, Clone)]
pub struct PageLink {
    pub label: &'static str,
    pub symbol: &'static str,
    pub href: String,
    /// The link leads to the page shown (first/previous on the first page, …).
    pub disabled: bool,
}

/// A saved view in the list.
#[derive(Debug, Clone)]
pub struct SavedViewLink {
    pub id: String,
    pub name: String,
    pub href: String,
}

/// What opens over the Users page.
#[derive(Debug)]
pub(crate) enum Overlay {
    None,
    Invite(InviteForm),
    Drawer(DrawerForm),
    Actions(ActionsForm),
    Crm(CrmForm),
}

/// The Users page.
#[derive(Debug, Template)]
#[template(path = "users.html")]
pub struct UsersPage {
    pub chrome: Chrome,
    pub q: String,
    /// The filters as hidden fields, for the forms that change something else.
    pub hidden_filter: Vec<Hidden>,
    /// Sort, page size and columns as hidden fields.
    pub hidden_sort: Vec<Hidden>,
    pub hidden_per_page: Vec<Hidden>,
    pub hidden_cols: Vec<Hidden>,
    /// The query string of the whole view (what `Save view` keeps).
    pub view_query: String,
    pub filtered: bool,
    pub statuses: Vec<Choice>,
    pub roles: Vec<Choice>,
    pub groups: Vec<Choice>,
    pub products: Vec<Choice>,
    pub created_from: String,
    pub created_to: String,
    pub columns: Vec<ColumnView>,
    pub rows: Vec<RowView>,
    pub per_page_choices: Vec<Choice>,
    pub pager: Vec<PageLink>,
    /// "Showing 26–50 of 120 users".
    pub summary: String,
    pub csv_href: String,
    pub views: Vec<SavedViewLink>,
    pub view_name: String,
    pub refusals: Refusals,
    /// The Invite dialog, when open.
    pub invite: Option<InviteDialog>,
    /// A member's edit drawer, when open.
    pub drawer: Option<DrawerView>,
    /// A deleted member's drawer (with `Restore`), when open.
    pub deleted: Option<DeletedView>,
    /// The Actions dialog, when open.
    pub actions: Option<ActionsDialog>,
    /// The Import from CRM dialog, when open.
    pub crm: Option<CrmDialog>,
    /// How many users the filter matches (what "all matching" selects).
    pub total: u64,
    /// The ids of the rows selected (kept when the Actions dialog is open).
    pub selected: Vec<String>,
    pub all_selected: bool,
}

impl UsersPage {
    /// The columns shown, for the table's header and cells.
    pub fn shown(&self) -> Vec<&ColumnView> {
        self.columns.iter().filter(|c| c.shown).collect()
    }

    /// The refusals of the view's own parameters (filter, sort), shown above the table.
    pub fn view_refusals(&self) -> Vec<&Refusal> {
        self.refusals.iter().filter(|r| !r.field.is_empty() && r.field != "name").collect()
    }

    /// Whether the row of user `id` is selected.
    pub fn is_selected(&self, id: &str) -> bool {
        self.selected.iter().any(|s| s == id)
    }
}

/// `GET /users`.
pub async fn users_page(State(state): State<AppState>, console: Console, uri: Uri) -> Response {
    let fields = Fields::parse(uri.query().unwrap_or_default().as_bytes());
    let ask = Ask::read(&fields);
    build(&state, &console, ask, String::new(), Refusals::none(), Overlay::None).await
}

/// `POST /users/views`: saves the view shown under a name, then shows it.
pub async fn save_view(State(state): State<AppState>, SignedForm { console, fields }: SignedForm) -> Response {
    let ask = Ask::read(&Fields::parse(fields.text("view").as_bytes()));
    let name_text = fields.text("name").trim().to_owned();
    let name = match Label::parse(&name_text) {
        Ok(name) => name,
        Err(e) => {
            let refusal = Refusal::new("name", e.code(), crate::page::sentence_case(&e.to_string()));
            return build(&state, &console, ask, name_text, Refusals::one(refusal), Overlay::None).await;
        }
    };
    let outcome = match filter_of(&ask, &console) {
        Ok(filter) => state.services.create_saved_view(&console.actor, name, ask.definition(), &filter).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Redirect::to(&ask.href(&At::First)).into_response(),
        Err(e) => {
            let refusals = Refusals::from_error(&e, &[]);
            build(&state, &console, ask, name_text, refusals, Overlay::None).await
        }
    }
}

/// `POST /users/views/{id}/delete`.
pub async fn delete_view(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { console, .. }: SignedForm,
) -> Response {
    let Ok(id) = id.parse::<SavedViewId>() else {
        return problem(&ServiceError::not_found("saved view"));
    };
    match state.services.delete_saved_view(&console.actor, id).await {
        Ok(()) => Redirect::to("/users").into_response(),
        Err(e) => problem(&e),
    }
}

/// The domain's query of the view's filter, sort and page.
pub(crate) fn filter_of(ask: &Ask, console: &Console) -> Result<roster_domain::users_query::UserQuery, ServiceError> {
    let filter = UsersFilter::from_map(&ask.filter);
    if let Some(group) = ask.filter.get("group")
        && filter.group.is_none()
    {
        return Err(ServiceError::Validation(vec![roster_domain::FieldError::new(
            "group",
            "invalid_format",
            format!("`{group}` is not a group"),
        )]));
    }
    let mut query = filter.to_query(console.actor.org_id()).map_err(|e| as_service_error(&e, "filter"))?;
    query.sort = parse_sort(Some(&ask.sort)).map_err(|e| as_service_error(&e, "sort"))?;
    let cursor = |field: &str, text: &str| {
        decode_cursor::<UserCursor>(&ask.sort, text).map_err(|e| {
            let refusal = roster_domain::FieldError::new(field, "invalid_cursor", e.detail().to_owned());
            ServiceError::Validation(vec![refusal])
        })
    };
    let limit = ask.per_page;
    query.paging = Some(match &ask.at {
        At::First => UserPaging::Cursor { after: None, limit },
        At::After { cursor: c, .. } => UserPaging::Cursor { after: Some(cursor("after", c)?), limit },
        At::Before { cursor: c, .. } => UserPaging::Before { before: Some(cursor("before", c)?), limit },
        At::Last => UserPaging::Before { before: None, limit },
    });
    Ok(query)
}

/// A refusal of the wire parsers as the domain's validation error of `field`.
fn as_service_error(error: &ApiError, field: &str) -> ServiceError {
    ServiceError::Validation(vec![roster_domain::FieldError::new(field, error.code(), error.detail().to_owned())])
}

/// Builds the page for `ask`, with `refusals` beside their controls and `overlay` open over it.
pub(crate) async fn build(
    state: &AppState,
    console: &Console,
    ask: Ask,
    view_name: String,
    mut refusals: Refusals,
    overlay: Overlay,
) -> Response {
    let services = &state.services;
    let actor = &console.actor;
    let views = match services.saved_views(actor).await {
        Ok(views) => views,
        Err(e) => return refused(console, &e),
    };
    // A view that cannot be read (a bad filter, sort or cursor) shows every user, with the
    // refusal beside the control at fault; a page past the rows (they were deleted meanwhile)
    // shows the first page.
    let mut ask = ask;
    let screen = loop {
        let outcome = match filter_of(&ask, console) {
            Ok(query) => services.users_screen(actor, query).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(screen) if screen.page.items.is_empty() && ask.at != At::First => ask.at = At::First,
            Ok(screen) => break screen,
            Err(e @ ServiceError::Forbidden { .. }) => return refused(console, &e),
            Err(e) if ask.filter.is_empty() && ask.sort.is_empty() && ask.at == At::First => return problem(&e),
            Err(e) => {
                refusals = Refusals::from_error(&e, &[]);
                ask = ask.plain();
            }
        }
    };
    let UsersScreen { page, total, catalog, roles, tree } = screen;
    let groups: Vec<&Group> = tree.iter().collect();
    let names = Names::new(&catalog, &roles, &groups);
    let (mut invite, mut drawer, mut deleted, mut actions_form, mut crm) = (None, None, None, None, None);
    match overlay {
        Overlay::None => {}
        Overlay::Crm(mut form) => {
            // The directory numbers its pages from 0, the console from 1.
            let (people, next) = match services.search_crm(actor, form.query.trim(), form.page - 1).await {
                Ok(page) => (page.users, page.next_page.map(|p| p.saturating_add(1))),
                Err(e @ ServiceError::Forbidden { .. }) => return refused(console, &e),
                Err(e) => {
                    form.refusals.push(Refusal::new("", e.code().as_str(), crate::page::in_words(&e)));
                    (Vec::new(), None)
                }
            };
            crm = Some(CrmDialog::new(form, &ask, &people, next, &roles, &catalog));
        }
        Overlay::Actions(form) => actions_form = Some(form),
        Overlay::Invite(form) => match services.license_counts(actor).await {
            Ok(seats) => invite = Some(InviteDialog::new(form, &ask.query(), &roles, &catalog, &seats)),
            Err(e) => return problem(&e),
        },
        Overlay::Drawer(form) => {
            let Some(id) = form.user_id else { return problem(&ServiceError::not_found("user")) };
            match (services.get_user(actor, id).await, services.license_counts(actor).await) {
                (Ok(user), Ok(seats)) => {
                    let status = status_words(&user.status);
                    let teams: Vec<(GroupId, String)> = names
                        .group_paths()
                        .into_iter()
                        .filter(|(g, _)| tree.get(*g).is_some_and(|g| g.deleted_at.is_none()))
                        .collect();
                    let today = services.now().date();
                    let org = OrgFacts {
                        catalog: &catalog,
                        seats: &seats,
                        roles: &roles,
                        groups: &groups,
                        teams: &teams,
                        today,
                    };
                    drawer = Some(DrawerView::new(form, &user, &ask.query(), &org, status));
                }
                // A deleted member has no drawer to edit; one who may restore them sees when
                // they were deleted and `Restore`.
                (Err(e @ ServiceError::NotFound { .. }), _) => match services.deleted_user(actor, id).await {
                    Ok(user) => deleted = Some(DeletedView::new(form, &user, &ask.query(), services.now())),
                    Err(_) => return problem(&e),
                },
                (Err(e), _) | (_, Err(e)) => return problem(&e),
            }
        }
    }
    let columns = columns(&ask, &catalog);
    let shown: Vec<&ColumnView> = columns.iter().filter(|c| c.shown).collect();
    let rows = page
        .items
        .iter()
        .map(|u| RowView {
            id: u.user.id.to_string(),
            full_name: format!("{} {}", u.user.first_name.as_str(), u.user.last_name.as_str()),
            href: {
                let q = ask.query_at(&ask.at);
                if q.is_empty() { format!("/users/{}", u.user.id) } else { format!("/users/{}?{q}", u.user.id) }
            },
            cells: shown.iter().filter(|c| c.id != "name").map(|c| names.cell(u, &c.id)).collect(),
        })
        .collect();
    let (selected, all_selected) = match actions_form.as_ref().map(|f| &f.selected) {
        Some(Selected::Ids(ids)) => (ids.iter().map(ToString::to_string).collect(), false),
        Some(Selected::All) => (Vec::new(), true),
        None => (Vec::new(), false),
    };
    let actions = actions_form.map(|form| ActionsDialog::new(form, &ask.query(), total, &roles, &groups, &catalog));
    let (summary, pager) = pager(&ask, &page, total);
    let hidden = |names: &[&str]| -> Vec<Hidden> {
        let mut out = Vec::new();
        for name in names {
            match *name {
                "sort" if !ask.sort.is_empty() => out.push(Hidden { name: "sort".into(), value: ask.sort.clone() }),
                "per_page" if ask.per_page != DEFAULT_PER_PAGE => {
                    out.push(Hidden { name: "per_page".into(), value: ask.per_page.to_string() });
                }
                "cols" if ask.cols_chosen => out.push(Hidden { name: "cols".into(), value: ask.cols.join(",") }),
                _ => {}
            }
        }
        out
    };
    let filter_value = |name: &str| ask.filter.get(name).cloned().unwrap_or_default();
    let statuses_chosen: BTreeSet<String> = filter_value("status").split(',').map(str::to_owned).collect();
    let mut csv = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &ask.filter {
        csv.append_pair(k, v);
    }
    if !ask.sort.is_empty() {
        csv.append_pair("sort", &ask.sort);
    }
    let csv_query = csv.finish();
    let page_view = UsersPage {
        chrome: Chrome::new(console, Section::Users),
        q: filter_value("q"),
        hidden_filter: ask.filter.iter().map(|(k, v)| Hidden { name: k.clone(), value: v.clone() }).collect(),
        hidden_sort: hidden(&["sort"]),
        hidden_per_page: hidden(&["per_page"]),
        hidden_cols: hidden(&["cols"]),
        view_query: ask.query(),
        filtered: ask.filter.keys().any(|k| k != "q"),
        statuses: STATUSES
            .iter()
            .map(|(v, l)| Choice {
                value: (*v).to_owned(),
                label: (*l).to_owned(),
                selected: statuses_chosen.contains(*v),
            })
            .collect(),
        roles: choices(
            roles.iter().map(|r| (r.key.as_str().to_owned(), r.name.as_str().to_owned())),
            &filter_value("role"),
        ),
        groups: choices(
            names.group_paths().into_iter().map(|(id, path)| (id.to_string(), path)),
            &filter_value("group"),
        ),
        products: choices(
            catalog.products().flat_map(|p| {
                [
                    (p.key.as_str().to_owned(), format!("Has {}", p.name.as_str())),
                    (format!("-{}", p.key.as_str()), format!("Does not have {}", p.name.as_str())),
                ]
            }),
            &filter_value("product"),
        ),
        created_from: filter_value("created_from").chars().take(10).collect(),
        created_to: filter_value("created_to").chars().take(10).collect(),
        rows,
        columns,
        per_page_choices: VIEW_PAGE_SIZES
            .iter()
            .map(|n| Choice { value: n.to_string(), label: n.to_string(), selected: *n == ask.per_page })
            .collect(),
        pager,
        summary,
        csv_href: if csv_query.is_empty() {
            "/api/v1/users/export.csv".to_owned()
        } else {
            format!("/api/v1/users/export.csv?{csv_query}")
        },
        views: views
            .iter()
            .map(|v| SavedViewLink {
                id: v.id.to_string(),
                name: v.name.as_str().to_owned(),
                href: Ask::from_view(v).href(&At::First),
            })
            .collect(),
        view_name,
        refusals,
        invite,
        drawer,
        deleted,
        actions,
        crm,
        total,
        selected,
        all_selected,
    };
    let status = if page_view.refusals.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    render_with(status, &page_view)
}

/// The answer when a read the page needs fails: inside the chrome when the member may not see
/// the Users page, a problem page otherwise.
fn refused(console: &Console, error: &ServiceError) -> Response {
    match error {
        ServiceError::Forbidden { .. } => crate::page::not_allowed(console, Section::Users, "Users"),
        other => problem(other),
    }
}

/// The "Showing …" line and the pager's links of a page of `total` users at `ask.at`.
fn pager(ask: &Ask, page: &UserDetailsPage, total: u64) -> (String, Vec<PageLink>) {
    let shown = page.items.len() as u64;
    let per_page = u64::from(ask.per_page);
    // The number of the page's first row: carried in the URL while walking, 1 at the start,
    // counted from the end on the last page; held within the total when rows came or went.
    let from = match &ask.at {
        _ if page.previous_cursor.is_none() => 1,
        At::First => 1,
        At::After { from, .. } | At::Before { from, .. } => *from,
        At::Last => total.saturating_sub(shown) + 1,
    };
    let from = from.min(total.saturating_sub(shown) + 1).max(1);
    let to = from + shown.saturating_sub(1);
    let summary = match total {
        0 => "No user matches.".to_owned(),
        1 => "Showing 1 user.".to_owned(),
        _ => format!("Showing {}–{} of {} users.", thousands(from), thousands(to), thousands(total)),
    };
    let cursor = |c: &UserCursor| encode_cursor(&ask.sort, c);
    let previous = match &page.previous_cursor {
        Some(_) if from <= per_page + 1 => At::First,
        Some(c) => At::Before { cursor: cursor(c), from: from - per_page },
        None => At::First,
    };
    let next = page.next_cursor.as_ref().map_or(At::First, |c| At::After { cursor: cursor(c), from: to + 1 });
    let at_start = page.previous_cursor.is_none();
    let at_end = page.next_cursor.is_none();
    let pager = vec![
        PageLink { label: "First page", symbol: "«", href: ask.href(&At::First), disabled: at_start },
        PageLink { label: "Previous page", symbol: "‹", href: ask.href(&previous), disabled: at_start },
        PageLink { label: "Next page", symbol: "›", href: ask.href(&next), disabled: at_end },
        PageLink { label: "Last page", symbol: "»", href: ask.href(&At::Last), disabled: at_end },
    ];
    (summary, pager)
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn choices(options: impl Iterator<Item = (String, String)>, chosen: &str) -> Vec<Choice> {
    options.map(|(value, label)| Choice { selected: value == chosen, value, label }).collect()
}

/// The columns a person may show, in the chooser's order: the fixed ones, then a yes/no column
/// per product. Shown: those the URL names, or the default set.
fn columns(ask: &Ask, catalog: &Catalog) -> Vec<ColumnView> {
    let product_columns: Vec<(String, String)> = catalog
        .products()
        .map(|p| (format!("{PRODUCT_SORT_PREFIX}{}", p.key.as_str()), p.name.as_str().to_owned()))
        .collect();
    let mut all: Vec<(String, String)> = VIEW_COLUMNS
        .iter()
        .filter(|c| !matches!(**c, "first_name" | "last_name"))
        .map(|c| ((*c).to_owned(), column_label(c).to_owned()))
        .collect();
    all.extend(product_columns.iter().cloned());
    let default: Vec<String> = ["email", "status", "roles", "teams"]
        .iter()
        .map(|c| (*c).to_owned())
        .chain(product_columns.iter().map(|(id, _)| id.clone()))
        .collect();
    let shown: Vec<String> =
        if ask.cols_chosen { ask.cols.iter().filter(|c| is_view_column(c)).cloned().collect() } else { default };
    let first_sort = ask.sort.split(',').next().unwrap_or_default();
    let sort_of = |id: &str| -> (String, &'static str) {
        let sortable = UserSortField::parse(id).is_some();
        if !sortable {
            return (String::new(), "");
        }
        if first_sort == id {
            (format!("-{id}"), "ascending")
        } else if first_sort.strip_prefix('-') == Some(id) {
            (id.to_owned(), "descending")
        } else {
            (id.to_owned(), "none")
        }
    };
    let name_sort = sort_of("last_name");
    let mut out = vec![ColumnView {
        id: "name".to_owned(),
        label: "Name".to_owned(),
        sort_next: name_sort.0,
        aria_sort: name_sort.1,
        shown: true,
    }];
    // Shown columns first, in the order asked; then the others for the chooser.
    for id in &shown {
        if let Some((_, label)) = all.iter().find(|(c, _)| c == id) {
            let (sort_next, aria_sort) = sort_of(id);
            out.push(ColumnView { id: id.clone(), label: label.clone(), sort_next, aria_sort, shown: true });
        }
    }
    for (id, label) in &all {
        if !shown.contains(id) {
            let (sort_next, aria_sort) = sort_of(id);
            out.push(ColumnView { id: id.clone(), label: label.clone(), sort_next, aria_sort, shown: false });
        }
    }
    out
}

/// The header of a fixed column.
fn column_label(column: &str) -> &'static str {
    match column {
        "email" => "Email",
        "phone" => "Phone",
        "nicknames" => "Nicknames",
        "status" => "Status",
        "roles" => "Roles",
        "teams" => "Teams",
        "products" => "Licenses",
        "agent_id" => "Agent ID",
        "crm_id" => "CRM ID",
        "agent_ring_number" => "Agent ring number",
        "dialer_number" => "Dialer number",
        "mailbox_provider" => "Mailbox",
        "email_throttle_max_per_day" => "Email throttle",
        "flow_enabled" => "Flow enabled",
        "email_sync" => "Email sync",
        "calendar_sync" => "Calendar sync",
        "call_recording" => "Call recording",
        "created_at" => "Created",
        "updated_at" => "Updated",
        "scheduled" => "Scheduled changes",
        _ => "",
    }
}

/// Names of the organization's roles, products and groups, for the cells.
struct Names<'a> {
    catalog: &'a Catalog,
    roles: BTreeMap<RoleId, &'a Role>,
    groups: BTreeMap<GroupId, &'a Group>,
}

impl<'a> Names<'a> {
    fn new(catalog: &'a Catalog, roles: &'a [Role], groups: &'a [&'a Group]) -> Self {
        Self {
            catalog,
            roles: roles.iter().map(|r| (r.id, r)).collect(),
            groups: groups.iter().map(|g| (g.id, *g)).collect(),
        }
    }

    /// Live groups below the root, by their path (`Sales / East`), for the Group filter; the
    /// deleted ones after them, marked.
    fn group_paths(&self) -> Vec<(GroupId, String)> {
        let mut live = Vec::new();
        let mut deleted = Vec::new();
        for g in self.groups.values().filter(|g| g.parent_id.is_some()) {
            let path = self.path(g);
            if g.deleted_at.is_some() {
                deleted.push((g.id, format!("{path} (deleted)")))
            } else {
                live.push((g.id, path))
            }
        }
        live.sort_by(|a, b| a.1.cmp(&b.1));
        deleted.sort_by(|a, b| a.1.cmp(&b.1));
        live.extend(deleted);
        live
    }

    /// `Parent / Child` below the root.
    fn path(&self, group: &Group) -> String {
        let mut parts = vec![group.name.as_str().to_owned()];
        let mut at = group.parent_id.and_then(|p| self.groups.get(&p));
        while let Some(g) = at.filter(|g| g.parent_id.is_some()) {
            parts.push(g.name.as_str().to_owned());
            at = g.parent_id.and_then(|p| self.groups.get(&p));
        }
        parts.reverse();
        parts.join(" / ")
    }

    fn cell(&self, u: &UserDetails, column: &str) -> String {
        let user = &u.user;
        let s = &user.settings;
        let yes = |b: bool| if b { "Yes" } else { "No" }.to_owned();
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        if let Some(key) = column.strip_prefix(PRODUCT_SORT_PREFIX) {
            return yes(u.products.iter().any(|p| p.as_str() == key));
        }
        match column {
            "email" => user.email.as_str().to_owned(),
            "phone" => text(user.phone.as_ref().map(|p| p.as_str())),
            "nicknames" => user.nicknames.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "),
            "status" => status_words(&u.status),
            "roles" => {
                let mut names: Vec<String> = user
                    .roles
                    .iter()
                    .filter_map(|g| {
                        let role = self.roles.get(&g.role_id)?;
                        Some(match g.scope.and_then(|s| self.groups.get(&s)) {
                            Some(scope) => format!("{} ({})", role.name.as_str(), scope.name.as_str()),
                            None => role.name.as_str().to_owned(),
                        })
                    })
                    .collect();
                names.sort();
                names.join(", ")
            }
            "teams" => {
                let mut names: Vec<&str> =
                    u.groups.iter().filter_map(|id| self.groups.get(id)).map(|g| g.name.as_str()).collect();
                names.sort_unstable();
                names.join(", ")
            }
            "products" => u
                .products
                .iter()
                .map(|k| self.catalog.get(k).map_or(k.as_str(), |p| p.name.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            "agent_id" => text(user.agent_id.as_ref().map(|a| a.as_str())),
            "crm_id" => text(user.crm_id.as_ref().map(|c| c.as_str())),
            "agent_ring_number" => text(user.agent_ring_number.as_ref().map(|p| p.as_str())),
            "dialer_number" => text(user.dialer_number.as_ref().map(|p| p.as_str())),
            "mailbox_provider" => match s.mailbox_provider {
                MailboxProvider::None => "None",
                MailboxProvider::Google => "Google",
                MailboxProvider::Microsoft => "Microsoft",
            }
            .to_owned(),
            "email_throttle_max_per_day" => format!("{} a day", s.email_throttle_max_per_day),
            "flow_enabled" => yes(s.flow_enabled),
            "email_sync" => yes(s.email_sync),
            "calendar_sync" => yes(s.calendar_sync),
            "call_recording" => match s.call_recording {
                CallRecording::Optional => "Optional",
                CallRecording::Enforced => "Enforced",
                CallRecording::Disabled => "Disabled",
            }
            .to_owned(),
            "created_at" => day(user.created_at),
            "updated_at" => day(user.updated_at),
            "scheduled" => u
                .scheduled
                .iter()
                .map(|c| match &c.action {
                    roster_domain::scheduling::ScheduledAction::Deactivate => {
                        format!("Deactivation on {}", day(c.effective_at))
                    }
                    roster_domain::scheduling::ScheduledAction::RemoveLicense(product) => {
                        let name = self.catalog.get(product).map_or(product.as_str(), |p| p.name.as_str());
                        format!("{name} removed on {}", day(c.effective_at))
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => String::new(),
        }
    }
}

/// A status and, for an inactive user, why.
fn status_words(status: &Status) -> String {
    match status {
        Status::Deleted => "Deleted".to_owned(),
        Status::Deactivated => "Deactivated".to_owned(),
        Status::Invited => "Invited".to_owned(),
        Status::Revoked => "Revoked".to_owned(),
        Status::Pending => "Pending".to_owned(),
        Status::Active => "Active".to_owned(),
        Status::Inactive(reasons) => {
            let words: Vec<&str> = reasons
                .iter()
                .map(|r| match r {
                    InactiveReason::InactiveInCrm => "inactive in the CRM",
                    InactiveReason::InactiveInMailbox => "mailbox disconnected",
                    InactiveReason::AccountFailure => "account failure",
                    InactiveReason::PackageExpired => "package expired",
                    InactiveReason::NoLicense => "no license",
                })
                .collect();
            format!("Inactive: {}", words.join(", "))
        }
    }
}

/// A time as its day, `2026-12-07`.
fn day(at: time::OffsetDateTime) -> String {
    at.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}
