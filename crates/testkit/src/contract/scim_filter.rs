//! A SCIM filter run by a store (`UserQuery::filter`, the typed query `scim::users::user_filter`
//! makes of it) answers exactly the members whose SCIM resource the filter matches in memory
//! (`scim::eval::matches` over `scim::users::user_resource`): random filters over generated
//! members, with values drawn from the members' own fields in other cases, cut short, with
//! `LIKE`'s special characters, and instants between two microseconds.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;
use time::format_description::well_known::Rfc3339;

use roster_domain::ids::UserId;
use roster_domain::ports::Store;
use roster_domain::scim::eval;
use roster_domain::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use roster_domain::scim::schema::USERS;
use roster_domain::scim::users::{user_filter, user_resource};
use roster_domain::user::{DirectoryAttributes, User};
use roster_domain::users_query::UserQuery;
use roster_domain::values::DirectoryText;

use super::begin;
use super::seed::seed;
use super::users_query::{UserWorld, worlds};
use crate::generator::Rng;

/// Paths of the Users schema, as identity providers write them, and a few that cannot be
/// filtered on or are no attribute at all.
const PATHS: [&str; 22] = [
    "userName",
    "USERNAME",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "emails.display",
    "name.givenName",
    "name.familyName",
    "phoneNumbers",
    "phoneNumbers.value",
    "phoneNumbers.type",
    "phoneNumbers.primary",
    "active",
    "meta.created",
    "meta.lastModified",
    "id",
    "title",
    "displayName",
    "nickname2",
    "name.nick",
];
const SUBS: [&str; 4] = ["value", "type", "primary", "display"];
const TEXTS: [&str; 12] = ["%", "_", "\\", "work", "WORK", "", "x", "ß", "Ø", "example.com", "+1415", "' OR 1=1 --"];

fn path(text: &str) -> AttrPath {
    match Filter::parse(&format!("{text} pr")) {
        Ok(Filter::Present(p)) => p,
        other => panic!("{text}: {other:?}"),
    }
}

/// A text some member's field holds, whole, cut, or in another case; or a fixed one.
fn text(rng: &mut Rng, users: &[User]) -> String {
    let u = rng.pick(users);
    let whole = match rng.below(5) {
        0 => u.email.as_str().to_owned(),
        1 => u.first_name.as_str().to_owned(),
        2 => u.last_name.as_str().to_owned(),
        3 => u.phone.as_ref().map_or_else(|| "+14155550000".to_owned(), |p| p.as_str().to_owned()),
        _ => return rng.one(&TEXTS).to_owned(),
    };
    let chars: Vec<char> = whole.chars().collect();
    let (a, b) = (rng.below(chars.len() + 1), rng.below(chars.len() + 1));
    let cut: String = match rng.below(4) {
        0 => whole,
        1 => chars[..a.max(b)].iter().collect(),
        2 => chars[a.min(b)..].iter().collect(),
        _ => chars[a.min(b)..a.max(b)].iter().collect(),
    };
    if rng.chance(30) { cut.to_uppercase() } else { cut }
}

fn value(rng: &mut Rng, users: &[User], path: &str) -> CompValue {
    if rng.chance(8) {
        return CompValue::Null;
    }
    let u = rng.pick(users);
    match path {
        "active" | "emails.primary" | "phoneNumbers.primary" if rng.chance(85) => CompValue::Bool(rng.chance(50)),
        "meta.created" | "meta.lastModified" if rng.chance(85) => {
            let base = if path == "meta.created" { u.created_at } else { u.updated_at };
            let at = base + Duration::nanoseconds([0, 1, -1, 500, -500, 1_000, -1_000][rng.below(7)]);
            CompValue::String(at.format(&Rfc3339).expect("formats"))
        }
        "id" if rng.chance(85) => {
            let id = u.id.to_string();
            CompValue::String(if rng.chance(20) { id.to_uppercase() } else { id })
        }
        _ if rng.chance(5) => CompValue::Bool(true),
        _ => CompValue::String(text(rng, users)),
    }
}

fn compare(rng: &mut Rng, users: &[User], p: &str, within: Option<&str>) -> Filter {
    let at = match within {
        Some(attr) => format!("{attr}.{p}"),
        None => p.to_owned(),
    };
    let v = value(rng, users, &at);
    if rng.chance(15) {
        return Filter::Present(path(p));
    }
    // Mostly the operators the value's type has, sometimes any (which the translation refuses
    // as the schema does).
    let op = match &v {
        _ if rng.chance(5) => rng.one(&CompareOp::ALL),
        CompValue::Null | CompValue::Bool(_) => rng.one(&[CompareOp::Eq, CompareOp::Ne]),
        _ if at == "id" => rng.one(&[CompareOp::Eq, CompareOp::Ne]),
        _ if at.starts_with("meta.") => {
            rng.one(&CompareOp::ALL[..2].iter().chain(&CompareOp::ALL[5..]).copied().collect::<Vec<_>>())
        }
        _ => rng.one(&CompareOp::ALL),
    };
    Filter::Compare(path(p), op, v)
}

fn filter(rng: &mut Rng, users: &[User], depth: u32, within: Option<&str>) -> Filter {
    let leaf = depth == 0 || rng.chance(35);
    if leaf {
        return match within {
            Some(_) => {
                let sub = rng.one(&SUBS);
                compare(rng, users, sub, within)
            }
            None if rng.chance(15) => {
                let attr = rng.one(&["emails", "phoneNumbers"]);
                let inner = filter(rng, users, 2, Some(attr));
                Filter::ValuePath(path(attr), Box::new(inner))
            }
            None => {
                // The last four cannot be filtered on: rarely.
                let p = if rng.chance(4) { rng.one(&PATHS) } else { rng.one(&PATHS[..PATHS.len() - 4]) };
                compare(rng, users, p, None)
            }
        };
    }
    match rng.below(3) {
        0 => Filter::not(filter(rng, users, depth - 1, within)),
        1 => Filter::and(filter(rng, users, depth - 1, within), filter(rng, users, depth - 1, within)),
        _ => Filter::or(filter(rng, users, depth - 1, within), filter(rng, users, depth - 1, within)),
    }
}

fn expected(w: &UserWorld, f: &Filter) -> BTreeSet<UserId> {
    w.users
        .iter()
        .filter(|u| !u.is_deleted())
        .filter(|u| eval::matches(f, &USERS, &user_resource(u)).expect("a filter the translation took is valid"))
        .map(|u| u.id)
        .collect()
}

/// For 600 random filters over three generated organizations, every filter that translates
/// selects in the store exactly the members it matches in memory; most filters translate and
/// many select some but not all members.
pub async fn a_scim_filter_selects_the_members_it_matches_in_memory(store: Arc<dyn Store>) {
    let worlds = worlds(&store, 0x5C1A_0001).await;
    let mut rng = Rng::new(0x5C1A_0002);
    let mut tx = begin(&store).await;
    let (mut translated, mut some) = (0, 0);
    for w in &worlds {
        for i in 0..200 {
            let f = filter(&mut rng, &w.users, 3, None);
            let text = f.to_string();
            assert_eq!(Filter::parse(&text).as_ref(), Ok(&f), "filter {i}: {text}");
            let Ok(typed) = user_filter(&f) else { continue };
            translated += 1;
            let want = expected(w, &f);
            let query = UserQuery { filter: Some(typed), ..UserQuery::new(w.org.id) };
            let got: BTreeSet<UserId> =
                tx.list_users(&query).await.expect("lists").items.iter().map(|u| u.id).collect();
            assert_eq!(got, want, "filter {i} of {}: {text}", w.org.slug);
            let live = w.users.iter().filter(|u| !u.is_deleted()).count();
            some += usize::from(!want.is_empty() && want.len() < live);
        }
    }
    assert!(translated > 300, "most generated filters translate ({translated} of 600)");
    assert!(some > 100, "many select some members but not all ({some} of {translated})");
}

/// The directory attributes SCIM keeps (`externalId`, `title`, the enterprise extension) read
/// back exactly as written, and `externalId` filters case-exactly: `eq` selects the member
/// whose id it is in this very case, `pr` the members that have one, `not (… eq …)` every other
/// live member — also those without one.
pub async fn directory_attributes_read_back_and_external_id_filters_case_exactly(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let text = |t: &str| Some(DirectoryText::parse(t).expect("a directory text"));
    let mut tx = begin(&store).await;
    let mut ada = s.ada.clone();
    ada.directory = DirectoryAttributes {
        external_id: text("00uAda"),
        title: text("Analyst"),
        employee_number: text("42"),
        cost_center: text("CC-1"),
        organization: text("Engines Ltd"),
        division: text("Difference"),
        department: text("Engines"),
        manager: text("b0b"),
    };
    ada.version += 1;
    tx.update_user(&ada).await.expect("updates");
    assert_eq!(tx.user(o, ada.id).await.expect("reads"), Some(ada.clone()), "read back as written");
    let everyone: BTreeSet<UserId> =
        tx.list_users(&UserQuery::new(o)).await.expect("lists").items.iter().map(|u| u.id).collect();
    let others: BTreeSet<UserId> = everyone.iter().copied().filter(|id| *id != ada.id).collect();
    let all = tx.users_by_ids(o, &everyone.iter().copied().collect::<Vec<_>>()).await.expect("reads");
    for (text, want) in [
        (r#"externalId eq "00uAda""#, BTreeSet::from([ada.id])),
        (r#"externalId eq "00UADA""#, BTreeSet::new()),
        ("externalId pr", BTreeSet::from([ada.id])),
        (r#"not (externalId eq "00uAda")"#, others.clone()),
        (r#"externalId ne "00uAda""#, others),
        ("externalId eq null", everyone.iter().copied().filter(|id| *id != ada.id).collect()),
    ] {
        let f = Filter::parse(text).expect("parses");
        let typed = user_filter(&f).expect("translates");
        let query = UserQuery { filter: Some(typed), ..UserQuery::new(o) };
        let got: BTreeSet<UserId> = tx.list_users(&query).await.expect("lists").items.iter().map(|u| u.id).collect();
        assert_eq!(got, want, "{text}");
        let in_memory: BTreeSet<UserId> =
            all.iter().filter(|u| eval::matches(&f, &USERS, &user_resource(u)).expect("valid")).map(|u| u.id).collect();
        assert_eq!(got, in_memory, "{text}: as the filter means in memory");
    }
}
