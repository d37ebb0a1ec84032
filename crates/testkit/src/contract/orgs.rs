//! `OrgRepository`: organizations, their optimistic updates and unique slugs, and catalogs.

use std::sync::Arc;

use roster_domain::catalog::{Catalog, Product};
use roster_domain::ids::OrgId;
use roster_domain::ports::{Store, UniqueField};
use roster_domain::values::Slug;

use super::seed::{self, T0, key, label, uid};
use super::{assert_conflict, assert_missing, assert_stale, begin, commit};

/// Organizations are found by id and by slug, unknown ones are `None`, and `orgs` lists them
/// all in id order.
pub async fn organizations_are_found_by_id_and_slug_and_listed_in_id_order(store: Arc<dyn Store>) {
    let mut tx = begin(&store).await;
    // Written out of id order, so the listing order is the store's doing.
    let orgs = [seed::org(3, "gamma"), seed::org(1, "alpha"), seed::org(2, "beta")];
    for o in &orgs {
        seed::insert_org_with_root(tx.as_mut(), o).await;
    }
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.orgs().await.expect("lists"), vec![orgs[1].clone(), orgs[2].clone(), orgs[0].clone()]);
    assert_eq!(tx.org(orgs[2].id).await.expect("reads"), Some(orgs[2].clone()));
    assert_eq!(tx.org(OrgId::from_uuid(uid(9, 0))).await.expect("reads"), None);
    let slug = Slug::parse("GAMMA").expect("slugs are lower-cased when parsed");
    assert_eq!(tx.org_by_slug(&slug).await.expect("reads"), Some(orgs[0].clone()));
    assert_eq!(tx.org_by_slug(&Slug::parse("delta").expect("valid")).await.expect("reads"), None);
}

/// `update_org` needs the stored version plus one (`StaleVersion { kind: "organization" }`
/// otherwise, `Missing` for an unknown id), and slugs stay unique on insert and on update.
pub async fn an_org_update_needs_the_next_version_and_a_free_slug(store: Arc<dyn Store>) {
    let mut tx = begin(&store).await;
    let (alpha, beta) = (seed::org(1, "alpha"), seed::org(2, "beta"));
    seed::insert_org_with_root(tx.as_mut(), &alpha).await;
    seed::insert_org_with_root(tx.as_mut(), &beta).await;
    assert_conflict(tx.insert_org(&seed::org(3, "alpha")).await, UniqueField::Slug, "a taken slug on insert");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let mut changed = alpha.clone();
    changed.name = label("Alpha Inc");
    changed.trial_ends_at = Some(T0);
    changed.settings.auto_signup = false;
    for stale in [1, 3] {
        changed.version = stale;
        assert_stale(tx.update_org(&changed).await, "organization", "a version that is not the next one");
    }
    changed.version = 2;
    tx.update_org(&changed).await.expect("the next version is accepted");
    assert_stale(tx.update_org(&changed).await, "organization", "the same version twice");
    let mut renamed = beta.clone();
    renamed.slug = Slug::parse("alpha").expect("valid");
    renamed.version = 2;
    assert_conflict(tx.update_org(&renamed).await, UniqueField::Slug, "a taken slug on update");
    renamed.slug = Slug::parse("beta-two").expect("valid");
    tx.update_org(&renamed).await.expect("a free slug");
    let ghost = seed::org(9, "ghost");
    assert_missing(tx.update_org(&ghost).await, "organization", "an unknown organization");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.org(alpha.id).await.expect("reads"), Some(changed));
    assert_eq!(tx.org_by_slug(&renamed.slug).await.expect("reads"), Some(renamed));
    assert_eq!(tx.org_by_slug(&beta.slug).await.expect("reads"), None, "the old slug is free");
}

/// An organization has no catalog until one is saved (`Missing { kind: "catalog" }`); saving
/// again replaces it, products, names and prerequisites included.
pub async fn a_catalog_is_missing_until_saved_and_saving_replaces_it(store: Arc<dyn Store>) {
    let mut tx = begin(&store).await;
    let (alpha, beta) = (seed::org(1, "alpha"), seed::org(2, "beta"));
    seed::insert_org_with_root(tx.as_mut(), &alpha).await;
    seed::insert_org_with_root(tx.as_mut(), &beta).await;
    assert_missing(tx.catalog(alpha.id).await, "catalog", "no catalog saved yet");
    tx.save_catalog(alpha.id, &Catalog::default_catalog()).await.expect("saves");
    tx.save_catalog(beta.id, &Catalog::default_catalog()).await.expect("saves");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let extended = Catalog::default_catalog()
        .with_product(Product {
            key: key("voice"),
            name: label("Voice"),
            requires: [key("dialer"), key("flow")].into(),
        })
        .expect("a DAG");
    tx.save_catalog(alpha.id, &extended).await.expect("replaces");
    let smaller =
        Catalog::new(vec![Product { key: key("core"), name: label("Core"), requires: [].into() }]).expect("a catalog");
    tx.save_catalog(beta.id, &smaller).await.expect("replaces with fewer products");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.catalog(alpha.id).await.expect("reads"), extended);
    assert_eq!(tx.catalog(beta.id).await.expect("reads"), smaller, "removed products are gone");
}
