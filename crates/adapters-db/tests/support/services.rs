//! The real use cases (`Services`) over a [`SeaOrmStore`], for the tests that drive Roster as
//! the application does: an organization set up by the operator, members created by the system,
//! and ids that stay unique when several processes write to one database.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use roster_adapters_db::SeaOrmStore;
use roster_domain::Services;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ids::{GroupId, UserId};
use roster_domain::org::{OrgSettings, Organization};
use roster_domain::ports::IdGenerator;
use roster_domain::services::{NewOrganization, NewUser, SettingsPatch};
use roster_domain::values::{Email, Key, Label, Nicknames, PersonName, Slug};
use roster_testkit::{FakeHasher, ManualClock};
use time::macros::datetime;
use uuid::Uuid;

/// Ids `(tag, n)` counting `n` from 1: processes (or tests) with different tags never hand out
/// the same id, and a tag's ids sort by creation like production's UUIDv7 ids.
#[derive(Debug)]
pub struct TaggedIds {
    tag: u64,
    next: AtomicU64,
}

impl TaggedIds {
    pub fn new(tag: u64) -> Self {
        Self { tag, next: AtomicU64::new(0) }
    }

    fn tick(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl IdGenerator for TaggedIds {
    fn uuid(&self) -> Uuid {
        Uuid::from_u64_pair(self.tag, self.tick())
    }

    /// 64 hex digits, unique per generator tag: predictable, for tests only.
    fn secret(&self) -> String {
        format!("{:016x}{:048x}", self.tag, self.tick())
    }
}

/// `Services` over `store`, with a manual clock at 2026-01-01 and ids tagged `tag`.
pub fn services(store: &SeaOrmStore, tag: u64) -> Services {
    let clock = ManualClock::new(datetime!(2026-01-01 00:00:00 UTC));
    Services::new(Arc::new(store.clone()), Arc::new(clock), Arc::new(TaggedIds::new(tag)), Arc::new(FakeHasher))
}

pub fn key(s: &str) -> Key {
    Key::parse(s).expect("a valid key")
}

/// The operator acting on `org`.
pub fn system(org: &Organization) -> Actor {
    Actor::system(org.id, Source::Cli)
}

/// An organization created by the operator: the default catalog and `seats` seats per product,
/// auto sign-up off (so that invites work).
pub async fn new_org(services: &Services, slug: &str, seats: u32) -> Organization {
    let new = NewOrganization {
        name: Label::parse(&format!("Org {slug}")).expect("a valid name"),
        slug: Slug::parse(slug).expect("a valid slug"),
        trial_ends_at: None,
        settings: OrgSettings { auto_signup: false, default_seat_limit: seats, ..OrgSettings::default() },
    };
    services.create_organization(Source::Cli, new).await.expect("the organization is created")
}

/// A member `user{n}@example.com` with the `standard` role and nothing else.
pub fn new_user(n: usize) -> NewUser {
    NewUser {
        email: Email::parse(&format!("user{n}@example.com")).expect("a valid email"),
        first_name: PersonName::parse("Member").expect("a valid name"),
        last_name: PersonName::parse(&format!("Number {n}")).expect("a valid name"),
        phone: None,
        nicknames: Nicknames::empty(),
        agent_id: None,
        crm_id: None,
        agent_ring_number: None,
        dialer_number: None,
        settings: SettingsPatch::default(),
        roles: vec![key("standard")],
        group_ids: Vec::new(),
        products: BTreeSet::new(),
        password: None,
    }
}

/// Creates `new` as the operator and answers the user's id.
pub async fn create_user(services: &Services, org: &Organization, new: NewUser) -> UserId {
    services.create_user(&system(org), new).await.expect("the member is created").user.id
}

/// Creates a group under the root as the operator.
#[allow(dead_code, reason = "shared by the test binaries that drive services; not all create groups")]
pub async fn create_group(services: &Services, org: &Organization, name: &str) -> GroupId {
    let name = roster_domain::values::GroupName::parse(name).expect("a valid group name");
    services.create_group(&system(org), org.root_group_id, name).await.expect("the group is created").id
}
