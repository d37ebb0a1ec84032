//! SCIM PATCH (RFC 7644 §3.5.2) as the pure rules read and apply it: a request serialized as an
//! identity provider sends it — `op` in any case, member names in any case, paths with value
//! filters, Okta's operations without a path — reads back as the operations it holds, and a
//! request that is no PATCH is refused with its `scimType` at the operation at fault. Applied
//! to a resource, an `add` or `replace` of a User's attribute reads back as that value and
//! changes nothing else, a read-only attribute is refused by path and ignored in a value, a
//! filtered operation changes exactly the values its filter chooses, and members are added,
//! replaced and removed — by a value list or a filter — exactly as a plain list model says.

use proptest::prelude::*;
use roster_domain::ids::UserId;
use roster_domain::scim::filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use roster_domain::scim::groups::read_group;
use roster_domain::scim::patch::{PATCH_SCHEMA, PatchKind, PatchOperation, ScimType, apply, read_patch};
use roster_domain::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, GROUPS, USER_SCHEMA, USERS};
use roster_domain::scim::user_input::{Omitted, UserInput, read_user};
use roster_domain::values::{DirectoryText, Email, PersonName, Phone};
use serde_json::{Map, Value, json};
use uuid::Uuid;

// ---- spelling a request as providers do -------------------------------------------------------------

/// `word` with each ASCII letter in either case (`replace`, `Replace`, `rEPLACE`).
fn spelled(word: String) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c }).collect()
    })
}

fn spelled_static(word: &'static str) -> impl Strategy<Value = String> {
    spelled(word.to_owned())
}

fn op_name(kind: PatchKind) -> &'static str {
    match kind {
        PatchKind::Add => "add",
        PatchKind::Replace => "replace",
        PatchKind::Remove => "remove",
    }
}

fn kind() -> impl Strategy<Value = PatchKind> {
    prop::sample::select(vec![PatchKind::Add, PatchKind::Replace, PatchKind::Remove])
}

/// The member names of one operation, each spelled in some case.
fn member_names() -> impl Strategy<Value = (String, String, String)> {
    (spelled_static("op"), spelled_static("path"), spelled_static("value"))
}

// ---- paths and values -----------------------------------------------------------------------------

fn attr_path() -> impl Strategy<Value = AttrPath> {
    prop_oneof![
        prop::sample::select(vec![
            "active",
            "title",
            "userName",
            "displayName",
            "externalId",
            "members",
            "emails",
            "phoneNumbers",
        ])
        .prop_map(AttrPath::new),
        prop::sample::select(vec![
            ("name", "givenName"),
            ("name", "familyName"),
            ("meta", "created"),
            ("manager", "value")
        ])
        .prop_map(|(name, sub)| AttrPath::sub(name, sub)),
        prop::sample::select(vec!["department", "manager", "employeeNumber"]).prop_map(|name| AttrPath {
            urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
            name: name.to_owned(),
            sub: None
        }),
    ]
}

/// A filter over the sub-attributes of a multi-valued attribute (`type eq "work"`).
fn value_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        "[a-zA-Z]{1,6}".prop_map(|t| Filter::Compare(AttrPath::new("type"), CompareOp::Eq, CompValue::String(t))),
        (prop::sample::select(CompareOp::ALL.to_vec()), any::<String>()).prop_map(|(op, v)| Filter::Compare(
            AttrPath::new("value"),
            op,
            CompValue::String(v)
        )),
        any::<bool>().prop_map(|b| Filter::Compare(AttrPath::new("primary"), CompareOp::Eq, CompValue::Bool(b))),
        Just(Filter::Present(AttrPath::new("display"))),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::and(l, r)),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::or(l, r)),
            inner.prop_map(Filter::not),
        ]
    })
}

fn patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        attr_path().prop_map(|attr| PatchPath { attr, filter: None, sub: None }),
        (
            prop::sample::select(vec!["emails", "phoneNumbers", "members", "addresses"]),
            value_filter(),
            prop::option::of(prop::sample::select(vec!["value", "display", "type", "primary"])),
        )
            .prop_map(|(name, filter, sub)| PatchPath {
                attr: AttrPath::new(name),
                filter: Some(filter),
                sub: sub.map(str::to_owned),
            }),
    ]
}

/// Any JSON value without floats (whose text need not read back to the same bits).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z.:]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// How an operation without a path leaves it out: no member, `null`, or a blank string.
fn no_path() -> impl Strategy<Value = Option<Value>> {
    prop::sample::select(vec![None, Some(Value::Null), Some(json!("")), Some(json!("  "))])
}

/// One operation of a request, and the operation it reads as.
fn operation() -> impl Strategy<Value = (Value, PatchOperation)> {
    let with_path = (kind(), patch_path(), prop::option::of(json_value()), any::<bool>()).prop_flat_map(
        |(kind, path, value, padded)| {
            // An `add` or `replace` needs its value (`null` is one); a `remove` may carry one.
            let value = if kind == PatchKind::Remove { value } else { Some(value.unwrap_or(Value::Null)) };
            let pad = if padded { " " } else { "" };
            let text = json!(format!("{pad}{path}{pad}"));
            let expected = PatchOperation { kind, path: Some(path), value: value.clone() };
            (spelled_static(op_name(kind)), member_names())
                .prop_map(move |(op, names)| (body(&op, &names, Some(&text), value.as_ref()), expected.clone()))
        },
    );
    let without_path = (
        prop::sample::select(vec![PatchKind::Add, PatchKind::Replace]),
        prop::collection::btree_map(
            prop_oneof![
                attr_path().prop_map(|p| p.to_string()),
                Just(ENTERPRISE_USER_SCHEMA.to_owned()),
                "[a-zA-Z]{1,8}"
            ],
            json_value(),
            0..4,
        ),
        no_path(),
    )
        .prop_flat_map(|(kind, values, path)| {
            let value = Value::Object(values.into_iter().collect());
            let expected = PatchOperation { kind, path: None, value: Some(value.clone()) };
            (spelled_static(op_name(kind)), member_names())
                .prop_map(move |(op, names)| (body(&op, &names, path.as_ref(), Some(&value)), expected.clone()))
        });
    prop_oneof![3 => with_path, 1 => without_path]
}

/// An operation's JSON with the member names given.
fn body(op: &str, names: &(String, String, String), path: Option<&Value>, value: Option<&Value>) -> Value {
    let mut object = Map::new();
    object.insert(names.0.clone(), json!(op));
    if let Some(path) = path {
        object.insert(names.1.clone(), path.clone());
    }
    if let Some(value) = value {
        object.insert(names.2.clone(), value.clone());
    }
    Value::Object(object)
}

/// A PatchOp message holding `operations`, its member names in some case.
fn request(operations: Vec<Value>) -> impl Strategy<Value = Value> {
    (spelled_static("schemas"), spelled_static("Operations"), spelled_static(PATCH_SCHEMA)).prop_map(
        move |(schemas, ops, urn)| {
            let mut object = Map::new();
            object.insert(schemas, json!([urn]));
            object.insert(ops, Value::Array(operations.clone()));
            Value::Object(object)
        },
    )
}

/// An operation that is none, and the `scimType` it is refused with.
fn bad_operation() -> impl Strategy<Value = (Value, ScimType)> {
    let path = || patch_path().prop_map(|p| json!(p.to_string()));
    prop_oneof![
        // An `op` that names no operation.
        (
            prop::sample::select(vec!["move", "copy", "test", "ad", "removes", "", "add ", "delete"])
                .prop_flat_map(spelled_static),
            path()
        )
            .prop_map(|(op, path)| (json!({"op": op, "path": path, "value": 1}), ScimType::InvalidSyntax)),
        (prop_oneof![Just(json!(1)), Just(json!(null)), Just(json!(["add"]))], path())
            .prop_map(|(op, path)| (json!({"op": op, "path": path, "value": 1}), ScimType::InvalidSyntax)),
        // A member an operation has not.
        ("[a-z]{1,6}".prop_filter("no member name", |k| !["op", "path", "value"].contains(&k.as_str())), path())
            .prop_map(|(k, path)| (json!({"op": "add", "path": path, "value": 1, k: 2}), ScimType::InvalidSyntax)),
        // A `remove` without a path.
        (spelled_static("remove"), no_path(), prop::option::of(json_value()))
            .prop_map(|(op, path, value)| (body(&op, &names(), path.as_ref(), value.as_ref()), ScimType::NoTarget)),
        // An `add` or `replace` with a path and without a value.
        (prop::sample::select(vec!["add", "Replace"]), path())
            .prop_map(|(op, path)| (json!({"op": op, "path": path}), ScimType::InvalidValue)),
        // An `add` or `replace` without a path whose value is no object of attributes.
        (
            prop::sample::select(vec!["Add", "replace"]),
            no_path(),
            json_value().prop_filter("not an object", |v| !v.is_object())
        )
            .prop_map(|(op, path, value)| (body(op, &names(), path.as_ref(), Some(&value)), ScimType::InvalidValue)),
        // A path that is no string, or no path.
        (prop_oneof![Just(json!(4)), Just(json!(["title"])), Just(json!({"a": 1}))])
            .prop_map(|path| (json!({"op": "add", "path": path, "value": 1}), ScimType::InvalidPath)),
        prop::sample::select(vec!["emails[type eq", "name..givenName", "emails[type eq \"work\"]]", "[x]", "a b"])
            .prop_map(|path| (json!({"op": "remove", "path": path}), ScimType::InvalidPath)),
    ]
}

fn names() -> (String, String, String) {
    ("op".to_owned(), "path".to_owned(), "value".to_owned())
}

// ---- a User resource, and what it reads as -------------------------------------------------------------

/// Text a directory attribute keeps as given (no surrounding space).
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([A-Za-z0-9 ]{0,10}[A-Za-z0-9])?"
}

fn person() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{0,9}"
}

fn address() -> impl Strategy<Value = String> {
    "[a-z]{1,8}@[a-z]{1,6}\\.test"
}

fn phone() -> impl Strategy<Value = String> {
    "\\+1[2-9][0-9]{9}"
}

/// A member's resource as `user_resource` makes it.
fn user() -> impl Strategy<Value = Value> {
    (
        (person(), person(), address(), any::<bool>()),
        (prop::option::of(phone()), prop::option::of(text()), prop::option::of(text())),
        (prop::option::of(text()), prop::option::of(text())),
    )
        .prop_map(|((given, family, email, active), (phone, title, external_id), (department, manager))| {
            let mut user = json!({
                "schemas": [USER_SCHEMA],
                "id": Uuid::from_u128(1).to_string(),
                "userName": email,
                "name": {"givenName": given, "familyName": family, "formatted": format!("{given} {family}")},
                "displayName": format!("{given} {family}"),
                "emails": [{"value": email, "type": "work", "primary": true}],
                "active": active,
                "meta": {"resourceType": "User", "created": "2025-01-06T09:00:00Z", "version": "W/\"1\""},
            });
            if let Some(p) = phone {
                user["phoneNumbers"] = json!([{"value": p, "type": "work", "primary": true}]);
            }
            if let Some(t) = title {
                user["title"] = json!(t);
            }
            if let Some(e) = external_id {
                user["externalId"] = json!(e);
            }
            let mut enterprise = Map::new();
            if let Some(d) = department {
                enterprise.insert("department".to_owned(), json!(d));
            }
            if let Some(m) = manager {
                enterprise.insert("manager".to_owned(), json!({"value": m}));
            }
            if !enterprise.is_empty() {
                user["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
                user[ENTERPRISE_USER_SCHEMA] = Value::Object(enterprise);
            }
            user
        })
}

/// One attribute of a User set to a value, and what the member then reads as.
#[derive(Debug, Clone)]
enum Set {
    GivenName(String),
    FamilyName(String),
    UserName(String),
    Title(String),
    ExternalId(String),
    Department(String),
    /// The manager's id, sent bare (Entra ID) or as `{"value": …}`.
    Manager(String, bool),
    /// `manager.value`.
    ManagerValue(String),
    /// `phoneNumbers[type eq "work"].value`.
    WorkPhone(String),
    /// `active`, as a boolean or a string in some case (Entra ID's `"False"`).
    Active(bool, Value),
}

fn set() -> impl Strategy<Value = Set> {
    prop_oneof![
        person().prop_map(Set::GivenName),
        person().prop_map(Set::FamilyName),
        address().prop_map(Set::UserName),
        text().prop_map(Set::Title),
        text().prop_map(Set::ExternalId),
        text().prop_map(Set::Department),
        (text(), any::<bool>()).prop_map(|(m, bare)| Set::Manager(m, bare)),
        text().prop_map(Set::ManagerValue),
        phone().prop_map(Set::WorkPhone),
        any::<bool>().prop_flat_map(|b| {
            prop_oneof![Just(json!(b)), spelled(b.to_string()).prop_map(Value::String)]
                .prop_map(move |sent| Set::Active(b, sent))
        }),
    ]
}

/// How the operation names its target.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// `{"path": "title", "value": …}`, the path's names in capitals or not.
    Path(bool),
    /// Okta's `{"value": {"title": …}}`, likewise.
    Pathless(bool),
    /// `{"value": {"urn:…:enterprise:2.0:User": {"department": …}}}`, for the extension's
    /// attributes (another attribute is named as a key instead).
    ExtensionObject,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![any::<bool>().prop_map(Form::Path), any::<bool>().prop_map(Form::Pathless), Just(Form::ExtensionObject)]
}

impl Set {
    /// The path, the value, and the extension's own attribute and value when it is one of its.
    fn target(&self) -> (String, Value, Option<(&'static str, Value)>) {
        let ext = |name: &str| format!("{ENTERPRISE_USER_SCHEMA}:{name}");
        match self {
            Self::GivenName(v) => ("name.givenName".to_owned(), json!(v), None),
            Self::FamilyName(v) => ("name.familyName".to_owned(), json!(v), None),
            Self::UserName(v) => ("userName".to_owned(), json!(v), None),
            Self::Title(v) => ("title".to_owned(), json!(v), None),
            Self::ExternalId(v) => ("externalId".to_owned(), json!(v), None),
            Self::Department(v) => (ext("department"), json!(v), Some(("department", json!(v)))),
            Self::Manager(v, bare) => {
                let value = if *bare { json!(v) } else { json!({"value": v}) };
                (ext("manager"), value.clone(), Some(("manager", value)))
            }
            Self::ManagerValue(v) => (ext("manager.value"), json!(v), Some(("manager", json!({"value": v})))),
            Self::WorkPhone(v) => ("phoneNumbers[type eq \"work\"].value".to_owned(), json!(v), None),
            Self::Active(_, sent) => ("active".to_owned(), sent.clone(), None),
        }
    }

    /// The operation that sets it.
    fn operation(&self, kind: PatchKind, form: Form) -> Value {
        let (path, value, own) = self.target();
        // Capitals for the names only: a filter's value is data.
        let shout = |p: &str| match p.split_once('[') {
            Some((name, rest)) => format!("{}[{rest}", name.to_ascii_uppercase()),
            None => p.to_ascii_uppercase(),
        };
        let op = op_name(kind);
        match (form, own) {
            (Form::Path(caps), _) => json!({"op": op, "path": if caps { shout(&path) } else { path }, "value": value}),
            (Form::ExtensionObject, Some((name, v))) => {
                json!({"op": op, "value": {ENTERPRISE_USER_SCHEMA: {name: v}}})
            }
            (Form::Pathless(_), _) | (Form::ExtensionObject, None) => {
                let caps = matches!(form, Form::Pathless(true));
                json!({"op": op, "value": {if caps { shout(&path) } else { path }: value}})
            }
        }
    }

    /// What the member reads as after it.
    fn expect(&self, input: &mut UserInput) {
        let dir = |v: &str| Some(Some(DirectoryText::parse(v).expect("a directory text")));
        match self {
            Self::GivenName(v) => input.first_name = Some(PersonName::parse(v).expect("a name")),
            Self::FamilyName(v) => input.last_name = Some(PersonName::parse(v).expect("a name")),
            Self::UserName(v) => input.email = Some(Email::parse(v).expect("an address")),
            Self::Title(v) => input.directory.title = dir(v),
            Self::ExternalId(v) => input.directory.external_id = dir(v),
            Self::Department(v) => input.directory.department = dir(v),
            Self::Manager(v, _) | Self::ManagerValue(v) => input.directory.manager = dir(v),
            Self::WorkPhone(v) => input.phone = Some(Some(Phone::parse(v).expect("a phone"))),
            Self::Active(b, _) => input.active = Some(*b),
        }
    }
}

fn patch_request(operations: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
}

/// Reads and applies a request to a copy of `resource`.
fn patched(schema: &roster_domain::scim::schema::ResourceSchema, resource: &Value, operations: Vec<Value>) -> Value {
    let ops = read_patch(&patch_request(operations)).expect("a valid request");
    let mut out = resource.clone();
    apply(schema, &mut out, &ops).expect("the patch applies");
    out
}

// ---- multi-valued attributes and a list model of them ----------------------------------------------

const TYPES: [&str; 5] = ["work", "home", "Work", "HOME", "other"];

/// A value of `emails` or `phoneNumbers`: its type (maybe none), value and display.
fn multi_value() -> impl Strategy<Value = Value> {
    (prop::option::of(prop::sample::select(TYPES.to_vec())), "[a-z]{1,6}", prop::option::of("[a-z]{1,6}")).prop_map(
        |(kind, value, display)| {
            let mut object = Map::new();
            object.insert("value".to_owned(), json!(value));
            if let Some(t) = kind {
                object.insert("type".to_owned(), json!(t));
            }
            if let Some(d) = display {
                object.insert("display".to_owned(), json!(d));
            }
            Value::Object(object)
        },
    )
}

/// An operation on the values whose `type` is `t`: a sub-attribute (`value` or `display`) set
/// or removed, or the values removed, or `display` set on them by an object value.
#[derive(Debug, Clone)]
struct Filtered {
    kind: PatchKind,
    t: &'static str,
    sub: Option<&'static str>,
    value: String,
}

fn filtered() -> impl Strategy<Value = Filtered> {
    (
        kind(),
        prop::sample::select(TYPES.to_vec()),
        prop::option::of(prop::sample::select(vec!["value", "display"])),
        "[a-z]{1,6}",
    )
        .prop_map(|(kind, t, sub, value)| Filtered { kind, t, sub, value })
}

impl Filtered {
    fn operation(&self, attr: &str) -> Value {
        let path = match self.sub {
            Some(sub) => format!("{attr}[type eq \"{}\"].{sub}", self.t),
            None => format!("{attr}[type eq \"{}\"]", self.t),
        };
        match (self.kind, self.sub) {
            (PatchKind::Remove, _) => json!({"op": "remove", "path": path}),
            (kind, Some(_)) => json!({"op": op_name(kind), "path": path, "value": self.value}),
            (kind, None) => json!({"op": op_name(kind), "path": path, "value": {"display": self.value}}),
        }
    }

    /// The model: `type` compares without case (it is not case-exact).
    fn model(&self, items: &mut Vec<Value>) {
        let chosen =
            |item: &Value| item.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(self.t));
        match (self.kind, self.sub) {
            (PatchKind::Remove, None) => items.retain(|item| !chosen(item)),
            (PatchKind::Remove, Some(sub)) => {
                for item in items.iter_mut().filter(|i| chosen(i)) {
                    item.as_object_mut().expect("an object").remove(sub);
                }
            }
            (_, sub) => {
                let field = sub.unwrap_or("display");
                if items.iter().any(chosen) {
                    for item in items.iter_mut().filter(|i| chosen(i)) {
                        item[field] = json!(self.value);
                    }
                } else {
                    // Nothing chosen: the filter's `type eq` makes the value.
                    items.push(json!({"type": self.t, field: self.value}));
                }
            }
        }
    }
}

/// The ids a group's members are drawn from.
fn member_id(i: usize) -> String {
    Uuid::from_u128(0x1000 + i as u128).to_string()
}

const POOL: usize = 6;

/// How a member is named in a request: its id alone, `{"value": id}`, or with a `display`.
fn named(i: usize, how: u8) -> Value {
    match how % 3 {
        0 => json!(member_id(i)),
        1 => json!({"value": member_id(i)}),
        _ => json!({"value": member_id(i), "display": format!("Member {i}")}),
    }
}

#[derive(Debug, Clone)]
enum Members {
    Add(Vec<(usize, u8)>, bool),
    Replace(Vec<(usize, u8)>),
    /// Entra ID's `remove` with a value list.
    RemoveListed(Vec<(usize, u8)>),
    /// Okta's `members[value eq "…"]`.
    RemoveFiltered(usize),
    RemoveAll,
}

fn members_op() -> impl Strategy<Value = Members> {
    let listed = || prop::collection::vec((0..POOL, any::<u8>()), 0..5);
    prop_oneof![
        2 => (listed(), any::<bool>()).prop_map(|(l, pathless)| Members::Add(l, pathless)),
        1 => listed().prop_map(Members::Replace),
        3 => listed().prop_map(Members::RemoveListed),
        1 => (0..POOL).prop_map(Members::RemoveFiltered),
        1 => Just(Members::RemoveAll),
    ]
}

impl Members {
    fn operation(&self) -> Value {
        let list = |l: &[(usize, u8)]| Value::Array(l.iter().map(|(i, how)| named(*i, *how)).collect());
        match self {
            Self::Add(l, false) => json!({"op": "Add", "path": "members", "value": list(l)}),
            Self::Add(l, true) => json!({"op": "add", "value": {"members": list(l)}}),
            Self::Replace(l) => json!({"op": "replace", "path": "members", "value": list(l)}),
            Self::RemoveListed(l) => json!({"op": "Remove", "path": "members", "value": list(l)}),
            Self::RemoveFiltered(i) => {
                json!({"op": "remove", "path": format!("members[value eq \"{}\"]", member_id(*i))})
            }
            Self::RemoveAll => json!({"op": "remove", "path": "members"}),
        }
    }

    /// The model: the members as a list of distinct indices, in the order they came.
    fn model(&self, members: &mut Vec<usize>) {
        let push_new = |members: &mut Vec<usize>, l: &[(usize, u8)]| {
            for (i, _) in l {
                if !members.contains(i) {
                    members.push(*i);
                }
            }
        };
        match self {
            Self::Add(l, _) => push_new(members, l),
            Self::Replace(l) => {
                members.clear();
                push_new(members, l);
            }
            Self::RemoveListed(l) => members.retain(|m| !l.iter().any(|(i, _)| i == m)),
            Self::RemoveFiltered(i) => members.retain(|m| m != i),
            Self::RemoveAll => members.clear(),
        }
    }
}

fn group(members: &[usize]) -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": Uuid::from_u128(2).to_string(),
        "displayName": "Sales",
        "members": members.iter().map(|i| json!({"value": member_id(*i), "type": "User"})).collect::<Vec<_>>(),
        "meta": {"resourceType": "Group", "created": "2025-01-06T09:00:00Z", "version": "W/\"1\""},
    })
}

fn distinct(indices: Vec<usize>) -> Vec<usize> {
    let mut out = Vec::new();
    for i in indices {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_serialized_patch_request_reads_back_as_the_operations_it_holds(
        ops in prop::collection::vec(operation(), 1..6).prop_flat_map(|ops| {
            let (bodies, expected): (Vec<Value>, Vec<PatchOperation>) = ops.into_iter().unzip();
            (request(bodies), Just(expected))
        }),
    ) {
        let (body, expected) = ops;
        // Through text, as the request arrives.
        let body: Value = serde_json::from_str(&body.to_string()).expect("JSON");
        prop_assert_eq!(read_patch(&body), Ok(expected), "{}", body);
    }

    #[test]
    fn an_operation_that_is_none_is_refused_with_its_scim_type_at_its_place(
        before in prop::collection::vec(operation(), 0..3),
        bad in bad_operation(),
        after in prop::collection::vec(operation(), 0..3),
    ) {
        let (bad, kind) = bad;
        let at = before.len();
        let operations: Vec<Value> =
            before.into_iter().map(|(b, _)| b).chain([bad.clone()]).chain(after.into_iter().map(|(b, _)| b)).collect();
        let err = read_patch(&patch_request(operations)).expect_err("refused");
        prop_assert_eq!(err.kind, kind, "{}: {}", bad, err.detail);
        let place = format!("operation {at}");
        prop_assert!(
            err.detail.strip_prefix(&place).is_some_and(|rest| rest.starts_with([':', ' '])),
            "{}: {}", bad, err.detail
        );
    }

    #[test]
    fn setting_a_user_attribute_reads_back_as_that_value_and_changes_nothing_else(
        resource in user(),
        change in set(),
        kind in prop::sample::select(vec![PatchKind::Add, PatchKind::Replace]),
        form in form(),
    ) {
        let before = read_user(&resource, Omitted::Cleared).expect("the resource reads");
        let operation = change.operation(kind, form);
        let after = patched(&USERS, &resource, vec![operation.clone()]);
        let mut expected = before;
        change.expect(&mut expected);
        prop_assert_eq!(read_user(&after, Omitted::Cleared), Ok(expected), "{}\n{}", operation, after);
    }

    #[test]
    fn a_read_only_attribute_is_refused_by_its_path_and_ignored_in_a_value(
        resource in user(),
        path in prop::sample::select(vec![
            "id", "meta", "meta.created", "meta.version", "groups", "META.lastModified",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        ]),
        kind in kind(),
        value in json_value(),
    ) {
        let by_path = json!({"op": op_name(kind), "path": path, "value": value});
        let ops = read_patch(&patch_request(vec![by_path])).expect("reads");
        let mut out = resource.clone();
        prop_assert_eq!(apply(&USERS, &mut out, &ops).map_err(|e| e.kind), Err(ScimType::Mutability));
        if kind != PatchKind::Remove {
            let pathless = json!({"op": op_name(kind), "value": {path: value}});
            prop_assert_eq!(patched(&USERS, &resource, vec![pathless]), resource);
        }
    }

    #[test]
    fn a_filtered_operation_changes_exactly_the_values_its_filter_chooses(
        attr in prop::sample::select(vec!["emails", "phoneNumbers"]),
        items in prop::collection::vec(multi_value(), 0..5),
        ops in prop::collection::vec(filtered(), 1..6),
    ) {
        let mut resource = json!({attr: items.clone()});
        let mut model = items;
        for op in &ops {
            let operation = op.operation(attr);
            resource = patched(&USERS, &resource, vec![operation]);
            op.model(&mut model);
            prop_assert_eq!(&resource[attr], &Value::Array(model.clone()), "after {:?}", op);
        }
    }

    #[test]
    fn members_are_added_replaced_and_removed_exactly_as_listed(
        start in prop::collection::vec(0..POOL, 0..POOL).prop_map(distinct),
        ops in prop::collection::vec(members_op(), 1..6),
        one_request in any::<bool>(),
    ) {
        let resource = group(&start);
        let mut model = start;
        for op in &ops {
            op.model(&mut model);
        }
        // The same whether the operations come in one request or one request each.
        let out = if one_request {
            patched(&GROUPS, &resource, ops.iter().map(Members::operation).collect())
        } else {
            ops.iter().fold(resource, |r, op| patched(&GROUPS, &r, vec![op.operation()]))
        };
        let read = read_group(&out, true).expect("the group reads");
        let want: Vec<UserId> =
            model.iter().map(|i| UserId::from_uuid(Uuid::parse_str(&member_id(*i)).expect("a uuid"))).collect();
        prop_assert_eq!(read.members, Some(want), "{:?}\n{}", ops, out);
        prop_assert_eq!(read.name.map(|n| n.as_str().to_owned()), Some("Sales".to_owned()));
    }
}
