//! Fixtures shared by the rule tests: fixed ids, a fixed time, and small builders for the
//! entities the rules read. Everything here is plain data; no rule is reimplemented.

use std::collections::BTreeSet;

use roster_domain::audit::Source;
use roster_domain::connections::Connection;
use roster_domain::groups::{Group, GroupTree};
use roster_domain::ids::{ConnectionId, GroupId, OrgId, RoleId, UserId};
use roster_domain::roles::{BUILTIN_ROLES, Role, RoleGrant};
use roster_domain::user::{Lifecycle, User, UserSettings};
use roster_domain::values::{Email, GroupName, Key, PersonName};
use roster_domain::{ErrorCode, ServiceResult};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// The moment every fixture is created at.
pub const T0: OffsetDateTime = datetime!(2025-01-01 09:00 UTC);

pub const ORG: OrgId = OrgId::from_uuid(Uuid::from_u128(0x0001));
pub const OTHER_ORG: OrgId = OrgId::from_uuid(Uuid::from_u128(0x0002));

// The sample tree: Acme (root) > Sales > {East, West}; Acme > Support; Acme > Old (deleted).
pub const ROOT: GroupId = GroupId::from_uuid(Uuid::from_u128(0x0100));
pub const SALES: GroupId = GroupId::from_uuid(Uuid::from_u128(0x0101));
pub const EAST: GroupId = GroupId::from_uuid(Uuid::from_u128(0x0102));
pub const WEST: GroupId = GroupId::from_uuid(Uuid::from_u128(0x0103));
pub const SUPPORT: GroupId = GroupId::from_uuid(Uuid::from_u128(0x0104));
pub const OLD: GroupId = GroupId::from_uuid(Uuid::from_u128(0x0105));
/// An id no fixture uses.
pub const UNKNOWN_GROUP: GroupId = GroupId::from_uuid(Uuid::from_u128(0x01ff));

pub fn user_id(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x1000 + n))
}

pub fn group_id(n: u128) -> GroupId {
    GroupId::from_uuid(Uuid::from_u128(0x2000 + n))
}

pub fn role_id(n: u128) -> RoleId {
    RoleId::from_uuid(Uuid::from_u128(0x3000 + n))
}

pub fn key(s: &str) -> Key {
    Key::parse(s).expect("test keys are valid")
}

pub fn keys(list: &[&str]) -> BTreeSet<Key> {
    list.iter().map(|s| key(s)).collect()
}

pub fn email(s: &str) -> Email {
    Email::parse(s).expect("test addresses are valid")
}

pub fn name(s: &str) -> PersonName {
    PersonName::parse(s).expect("test names are valid")
}

pub fn group_name(s: &str) -> GroupName {
    GroupName::parse(s).expect("test group names are valid")
}

pub fn group(id: GroupId, parent: Option<GroupId>, name: &str, depth: u8) -> Group {
    Group {
        id,
        org_id: ORG,
        parent_id: parent,
        name: group_name(name),
        depth,
        deleted_at: None,
        created_at: T0,
        version: 1,
    }
}

pub fn deleted(mut g: Group) -> Group {
    g.deleted_at = Some(T0);
    g
}

pub fn sample_groups() -> Vec<Group> {
    vec![
        group(ROOT, None, "Acme", 1),
        group(SALES, Some(ROOT), "Sales", 2),
        group(EAST, Some(SALES), "East", 3),
        group(WEST, Some(SALES), "West", 3),
        group(SUPPORT, Some(ROOT), "Support", 2),
        deleted(group(OLD, Some(ROOT), "Old", 2)),
    ]
}

pub fn sample_tree() -> GroupTree {
    GroupTree::new(sample_groups())
}

/// A member with no role, no group and default settings.
pub fn user(id: UserId) -> User {
    User {
        id,
        org_id: ORG,
        email: email(&format!("user{}@example.com", id.as_uuid().as_u128())),
        first_name: name("Ada"),
        last_name: name("Lovelace"),
        phone: None,
        nicknames: roster_domain::values::Nicknames::empty(),
        crm_id: None,
        agent_id: None,
        agent_ring_number: None,
        dialer_number: None,
        roles: BTreeSet::new(),
        extra_permissions: BTreeSet::new(),
        group_access: BTreeSet::new(),
        settings: UserSettings::default(),
        lifecycle: Lifecycle::default(),
        directory: roster_domain::user::DirectoryAttributes::default(),
        has_password: true,
        created_at: T0,
        updated_at: T0,
        version: 1,
    }
}

/// Every built-in role of the test organization; the role at position `i` of
/// [`BUILTIN_ROLES`] gets `role_id(i)`.
pub fn builtin_roles() -> Vec<Role> {
    BUILTIN_ROLES.iter().zip(0..).map(|(b, i)| b.to_role(role_id(i), ORG)).collect()
}

/// The built-in role with `key`.
pub fn role(key: &str) -> Role {
    builtin_roles().into_iter().find(|r| r.key.as_str() == key).expect("a built-in role")
}

/// A grant of the built-in role `key`, org-wide (`scope: None`) or limited to a subtree.
pub fn grant(key: &str, scope: Option<GroupId>) -> RoleGrant {
    RoleGrant { role_id: role(key).id, scope }
}

/// The actor of `user` in the sample tree, through the console.
pub fn actor_of(user: &User, member_groups: &[GroupId]) -> roster_domain::actor::Actor {
    roster_domain::actor::Actor::for_user(
        user,
        &builtin_roles(),
        member_groups.iter().copied().collect(),
        &sample_tree(),
        Source::Console,
        None,
    )
}

pub fn connection(n: u128, inviter: UserId, groups: &[GroupId], cc: &[UserId]) -> Connection {
    Connection {
        id: ConnectionId::from_uuid(Uuid::from_u128(0x4000 + n)),
        org_id: ORG,
        email: email(&format!("lead{n}@customer.example")),
        name: name("A Lead"),
        flow_id: None,
        inviter_id: inviter,
        groups: groups.iter().copied().collect(),
        cc: cc.iter().copied().collect(),
        via_api_key: None,
        user_token_hash: format!("token-{n}"),
        created_at: T0,
    }
}

/// The code of the error `result` failed with; panics on success, naming what was expected.
#[track_caller]
pub fn code_of<T: std::fmt::Debug>(result: ServiceResult<T>) -> ErrorCode {
    match result {
        Ok(value) => panic!("expected an error, got Ok({value:?})"),
        Err(e) => e.code(),
    }
}

/// The `(field, code)` pairs of a `validation_failed` error; panics on anything else.
#[track_caller]
pub fn invalid_fields<T: std::fmt::Debug>(result: ServiceResult<T>) -> Vec<(String, &'static str)> {
    match result {
        Err(roster_domain::ServiceError::Validation(fields)) => fields.into_iter().map(|f| (f.field, f.code)).collect(),
        other => panic!("expected validation_failed, got {other:?}"),
    }
}
