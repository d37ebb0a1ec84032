//! `SeaOrmSavedViews` on both engines: views round-trip per admin, a name is used once per
//! admin, deleting answers whether there was a view, a view of an unknown admin is refused.

#[allow(dead_code, reason = "the support module serves several test binaries; this one needs only `stores`")]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use roster_adapters_db::{SeaOrmSavedViews, SeaOrmStore};
use roster_domain::Services;
use roster_domain::audit::Source;
use roster_domain::ids::{OrgId, SavedViewId, UserId};
use roster_domain::org::OrgSettings;
use roster_domain::ports::{SavedViewRepository, StoreError};
use roster_domain::saved_views::{SavedView, ViewDefinition};
use roster_domain::services::{NewAdmin, NewOrganization};
use roster_domain::values::{Email, Label, Password, PersonName, Slug};
use roster_testkit::{FakeHasher, ManualClock, SequentialIds};
use time::macros::datetime;
use uuid::Uuid;

use support::stores;

const T0: time::OffsetDateTime = datetime!(2026-03-02 9:00 UTC);

/// An organization and two admins, created through the services on `store`.
async fn admins(store: SeaOrmStore) -> (OrgId, UserId, UserId) {
    let services = Services::new(
        Arc::new(store),
        Arc::new(ManualClock::new(T0)),
        Arc::new(SequentialIds::new()),
        Arc::new(FakeHasher),
    );
    let org = NewOrganization {
        name: Label::parse("Acme").expect("label"),
        slug: Slug::parse("acme").expect("slug"),
        trial_ends_at: None,
        settings: OrgSettings::default(),
    };
    let org = services.create_organization(Source::Cli, org).await.expect("creates the organization");
    let mut ids = Vec::new();
    for local in ["ann", "bob"] {
        let admin = NewAdmin {
            org: org.slug.clone(),
            email: Email::parse(&format!("{local}@acme.example")).expect("email"),
            first_name: PersonName::parse(local).expect("name"),
            last_name: PersonName::parse("Admin").expect("name"),
            password: Password::parse("correct horse battery").expect("password"),
        };
        ids.push(services.create_admin(Source::Cli, admin).await.expect("creates the admin").user.id);
    }
    (org.id, ids[0], ids[1])
}

fn view(id: u128, org: OrgId, user: UserId, name: &str) -> SavedView {
    SavedView {
        id: SavedViewId::from_uuid(Uuid::from_u128(id)),
        org_id: org,
        user_id: user,
        name: Label::parse(name).expect("label"),
        definition: ViewDefinition {
            filter: BTreeMap::from([("status".to_owned(), "active".to_owned())]),
            sort: "-created_at".to_owned(),
            columns: vec!["email".to_owned(), "status".to_owned()],
            per_page: 25,
        },
        created_at: T0,
    }
}

#[tokio::test]
async fn views_round_trip_per_admin_with_names_unique_per_admin() {
    for (t, store) in stores("saved_views").await {
        let views = SeaOrmSavedViews::new(t.db.clone());
        let (org, ann, bob) = admins(store).await;
        let zeta = view(1, org, ann, "Zeta");
        let alpha = view(2, org, ann, "Alpha");
        assert!(views.insert_view(&zeta).await.expect("inserts"), "{:?}", t.engine());
        assert!(views.insert_view(&alpha).await.expect("inserts"));
        assert!(!views.insert_view(&view(3, org, ann, "Zeta")).await.expect("answers"), "the name is taken");
        assert!(views.insert_view(&view(4, org, bob, "Zeta")).await.expect("inserts"), "bob's own Zeta");
        assert_eq!(views.views(org, ann).await.expect("reads"), vec![alpha.clone(), zeta.clone()], "{:?}", t.engine());
        assert_eq!(views.views(org, bob).await.expect("reads").len(), 1);

        assert!(!views.delete_view(org, bob, alpha.id).await.expect("answers"), "not bob's");
        assert!(views.delete_view(org, ann, alpha.id).await.expect("deletes"));
        assert!(!views.delete_view(org, ann, alpha.id).await.expect("answers"), "already gone");
        assert_eq!(views.views(org, ann).await.expect("reads"), vec![zeta]);
        t.finish().await;
    }
}

#[tokio::test]
async fn a_view_of_an_unknown_admin_is_refused() {
    for (t, store) in stores("saved_views_unknown").await {
        let views = SeaOrmSavedViews::new(t.db.clone());
        let (org, _, _) = admins(store).await;
        let stranger = UserId::from_uuid(Uuid::from_u128(77));
        let refused = views.insert_view(&view(9, org, stranger, "Mine")).await;
        assert!(matches!(refused, Err(StoreError::Missing { .. })), "{:?}: {refused:?}", t.engine());
        t.finish().await;
    }
}
