//! The product catalog (§4.1) and license planning with its cascade (§4.3).

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::Index;
use roster_domain::ServiceError;
use roster_domain::catalog::{Catalog, CatalogError, Product};
use roster_domain::error::ErrorCode;
use roster_domain::values::{Key, Label};

use crate::support::{code_of, invalid_fields, key, keys};

fn product(k: &str, requires: &[&str]) -> Product {
    Product { key: key(k), name: Label::parse(k).unwrap(), requires: keys(requires) }
}

fn default_plan(held: &[&str], target: &[&str]) -> roster_domain::ServiceResult<roster_domain::catalog::LicensePlan> {
    Catalog::default_catalog().plan(&keys(held), &keys(target))
}

// ---------------------------------------------------------------------------------------------
// The catalog
// ---------------------------------------------------------------------------------------------

#[test]
fn the_default_catalog_is_core_flow_dialer_and_sms_with_their_prerequisites() {
    let catalog = Catalog::default_catalog();
    let shape: Vec<(String, BTreeSet<Key>)> =
        catalog.products().map(|p| (p.key.to_string(), p.requires.clone())).collect();
    assert_eq!(
        shape,
        vec![
            ("core".to_owned(), keys(&[])),
            ("dialer".to_owned(), keys(&["core"])),
            ("flow".to_owned(), keys(&["core"])),
            ("sms".to_owned(), keys(&["dialer"])),
        ]
    );
    assert_eq!(Catalog::core_key(), key("core"));
}

#[test]
fn prerequisites_are_transitive() {
    let catalog = Catalog::default_catalog();
    assert_eq!(catalog.prerequisites_of(&key("sms")), keys(&["core", "dialer"]));
    assert_eq!(catalog.prerequisites_of(&key("core")), keys(&[]));
}

#[test]
fn dependents_are_transitive() {
    let catalog = Catalog::default_catalog();
    assert_eq!(catalog.dependents_of(&key("core")), keys(&["dialer", "flow", "sms"]));
    assert_eq!(catalog.dependents_of(&key("dialer")), keys(&["sms"]));
    assert_eq!(catalog.dependents_of(&key("sms")), keys(&[]));
}

#[test]
fn a_catalog_listing_a_product_twice_is_refused() {
    let err = Catalog::new(vec![product("core", &[]), product("core", &[])]).unwrap_err();
    assert_eq!(err, CatalogError::DuplicateProduct(key("core")));
}

#[test]
fn a_catalog_with_an_unknown_prerequisite_is_refused() {
    let err = Catalog::new(vec![product("core", &[]), product("fax", &["paper"])]).unwrap_err();
    assert_eq!(err, CatalogError::UnknownPrerequisite { product: key("fax"), missing: key("paper") });
}

#[test]
fn a_product_requiring_itself_is_a_cycle() {
    let err = Catalog::new(vec![product("core", &["core"])]).unwrap_err();
    assert_eq!(err, CatalogError::Cycle(key("core")));
}

#[test]
fn a_catalog_whose_prerequisites_form_a_cycle_is_refused() {
    let err = Catalog::new(vec![product("a", &["c"]), product("b", &["a"]), product("c", &["b"])]).unwrap_err();
    assert!(matches!(err, CatalogError::Cycle(_)), "{err:?}");
}

#[test]
fn an_operator_can_add_a_product_with_its_own_prerequisites() {
    let catalog = Catalog::default_catalog().with_product(product("mms", &["sms"])).unwrap();
    assert_eq!(catalog.prerequisites_of(&key("mms")), keys(&["core", "dialer", "sms"]));
    assert!(catalog.dependents_of(&key("dialer")).contains(&key("mms")));
}

#[test]
fn re_adding_an_existing_product_is_refused_as_a_duplicate() {
    let err = Catalog::default_catalog().with_product(product("core", &["sms"])).unwrap_err();
    assert_eq!(err, CatalogError::DuplicateProduct(key("core")));
}

#[test]
fn a_catalog_read_from_json_is_validated() {
    let cyclic = r#"[{"key":"a","name":"A","requires":["b"]},{"key":"b","name":"B","requires":["a"]}]"#;
    assert!(serde_json::from_str::<Catalog>(cyclic).is_err());
    let json = serde_json::to_string(&Catalog::default_catalog()).unwrap();
    assert_eq!(serde_json::from_str::<Catalog>(&json).unwrap(), Catalog::default_catalog());
}

#[test]
fn checking_unknown_products_names_the_field_and_the_product() {
    let catalog = Catalog::default_catalog();
    assert!(catalog.check_known("products", &keys(&["core", "sms"])).is_ok());
    let err = catalog.check_known("products", &keys(&["core", "fax"])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let ServiceError::Validation(fields) = err else { unreachable!() };
    assert_eq!(fields[0].field, "products");
    assert_eq!(fields[0].code, "unknown_product");
    assert!(fields[0].message.contains("fax"));
}

// ---------------------------------------------------------------------------------------------
// Planning a license change
// ---------------------------------------------------------------------------------------------

#[test]
fn assigning_products_with_their_prerequisites_in_the_same_operation_succeeds() {
    let plan = default_plan(&[], &["core", "dialer", "sms"]).unwrap();
    assert_eq!(plan.assign, keys(&["core", "dialer", "sms"]));
    assert_eq!(plan.result, keys(&["core", "dialer", "sms"]));
    assert!(plan.all_removed().is_empty());
}

#[test]
fn assigning_a_product_without_its_prerequisite_is_refused_with_missing_prerequisite() {
    let err = default_plan(&["core"], &["core", "sms"]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MissingPrerequisite);
    let ServiceError::MissingPrerequisite { product, missing } = err else { unreachable!() };
    assert_eq!(product, key("sms"));
    assert_eq!(missing, vec![key("dialer")]);
}

#[test]
fn missing_prerequisite_names_every_missing_product() {
    let ServiceError::MissingPrerequisite { product, missing } = default_plan(&[], &["sms"]).unwrap_err() else {
        panic!("expected missing_prerequisite")
    };
    assert_eq!(product, key("sms"));
    assert_eq!(missing, vec![key("core"), key("dialer")]);
}

#[test]
fn assigning_a_license_already_held_is_a_no_op() {
    let plan = default_plan(&["core", "dialer"], &["core", "dialer"]).unwrap();
    assert!(plan.is_noop());
    assert_eq!(plan.result, keys(&["core", "dialer"]));
}

#[test]
fn assigning_an_unknown_product_is_refused_with_validation_failed() {
    assert_eq!(
        invalid_fields(default_plan(&["core"], &["core", "fax"])),
        vec![("products".to_owned(), "unknown_product")]
    );
}

#[test]
fn unassigning_dialer_cascades_to_sms() {
    let plan = default_plan(&["core", "dialer", "sms"], &["core"]).unwrap();
    assert_eq!(plan.result, keys(&["core"]));
    assert_eq!(plan.all_removed(), keys(&["dialer", "sms"]));
    let plan = Catalog::default_catalog().plan_unassign(&keys(&["core", "dialer", "sms"]), &keys(&["dialer"])).unwrap();
    assert_eq!(plan.unassign, keys(&["dialer"]));
    assert_eq!(plan.cascaded, keys(&["sms"]));
    assert_eq!(plan.result, keys(&["core"]));
}

#[test]
fn a_cascade_removes_a_dependent_even_when_the_target_lists_it() {
    let plan = default_plan(&["core", "dialer", "sms"], &["core", "sms"]).unwrap();
    assert_eq!(plan.unassign, keys(&["dialer"]));
    assert_eq!(plan.cascaded, keys(&["sms"]));
    assert_eq!(plan.result, keys(&["core"]));
}

#[test]
fn unassigning_core_cascades_to_every_other_product() {
    let held = keys(&["core", "dialer", "flow", "sms"]);
    let plan = Catalog::default_catalog().plan_unassign(&held, &keys(&["core"])).unwrap();
    assert_eq!(plan.unassign, keys(&["core"]));
    assert_eq!(plan.cascaded, keys(&["dialer", "flow", "sms"]));
    assert!(plan.result.is_empty());
}

#[test]
fn the_cascade_lists_only_products_the_user_held() {
    let plan = Catalog::default_catalog().plan_unassign(&keys(&["core", "flow"]), &keys(&["core"])).unwrap();
    assert_eq!(plan.cascaded, keys(&["flow"]));
}

#[test]
fn unassigning_a_product_not_held_is_a_no_op() {
    let plan = Catalog::default_catalog().plan_unassign(&keys(&["core"]), &keys(&["sms"])).unwrap();
    assert!(plan.is_noop());
}

#[test]
fn unassigning_an_unknown_product_is_refused_with_validation_failed() {
    let result = Catalog::default_catalog().plan_unassign(&keys(&["core"]), &keys(&["fax"]));
    assert_eq!(code_of(result), ErrorCode::ValidationFailed);
}

#[test]
fn bulk_assign_adds_to_what_the_user_holds() {
    let plan = Catalog::default_catalog().plan_assign(&keys(&["core", "flow"]), &keys(&["dialer"])).unwrap();
    assert_eq!(plan.assign, keys(&["dialer"]));
    assert_eq!(plan.result, keys(&["core", "dialer", "flow"]));
}

#[test]
fn a_product_newly_asked_for_cannot_rely_on_a_prerequisite_removed_in_the_same_change() {
    // Dropping core removes dialer (cascade), so sms has nothing to stand on.
    let result = default_plan(&["core", "dialer"], &["dialer", "sms"]);
    assert_eq!(code_of(result), ErrorCode::MissingPrerequisite);
}

// ---------------------------------------------------------------------------------------------
// Properties over random DAG catalogs
// ---------------------------------------------------------------------------------------------

const MAX_PRODUCTS: usize = 7;

/// A random DAG: product `i` may require only products `j < i`, so it is acyclic by
/// construction. `requires[i]` holds the indices.
fn dag() -> impl Strategy<Value = Vec<BTreeSet<usize>>> {
    (1..=MAX_PRODUCTS).prop_flat_map(|n| {
        prop::collection::vec(prop::collection::vec(prop::bool::weighted(0.35), MAX_PRODUCTS), n)
            .prop_map(|rows| rows.iter().enumerate().map(|(i, bits)| (0..i).filter(|j| bits[*j]).collect()).collect())
    })
}

fn pkey(i: usize) -> Key {
    key(&format!("p{i}"))
}

fn catalog_products(requires: &[BTreeSet<usize>]) -> Vec<Product> {
    requires
        .iter()
        .enumerate()
        .map(|(i, r)| Product {
            key: pkey(i),
            name: Label::parse(&format!("Product {i}")).unwrap(),
            requires: r.iter().map(|j| pkey(*j)).collect(),
        })
        .collect()
}

/// Transitive prerequisites of `i` by a plain depth-first walk (terminates on cycles too).
fn reference_prerequisites(requires: &[BTreeSet<usize>], i: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<usize> = requires[i].iter().copied().collect();
    while let Some(next) = stack.pop() {
        if seen.insert(next) {
            stack.extend(requires[next].iter().copied());
        }
    }
    seen
}

fn to_keys(set: &BTreeSet<usize>) -> BTreeSet<Key> {
    set.iter().map(|i| pkey(*i)).collect()
}

/// A catalog with a random held set (closed under prerequisites, as every stored assignment
/// set is) and a random target (the held set with random products toggled).
fn planning_case() -> impl Strategy<Value = (Vec<BTreeSet<usize>>, BTreeSet<usize>, BTreeSet<usize>)> {
    dag().prop_flat_map(|requires| {
        let n = requires.len();
        (Just(requires), prop::collection::btree_set(0..n, 0..=n), prop::collection::btree_set(0..n, 0..=n)).prop_map(
            |(requires, seed, toggle)| {
                let mut held = seed.clone();
                for i in &seed {
                    held.extend(reference_prerequisites(&requires, *i));
                }
                let target = held.symmetric_difference(&toggle).copied().collect();
                (requires, held, target)
            },
        )
    })
}

proptest! {
    #[test]
    fn a_successful_plan_is_closed_cascades_fully_and_adds_only_new_products(
        (requires, held, target) in planning_case()
    ) {
        let catalog = Catalog::new(catalog_products(&requires)).unwrap();
        let n = requires.len();
        let (held_k, target_k) = (to_keys(&held), to_keys(&target));

        // The reference: what leaves, what stays, what is new, and whether anything new lacks
        // a prerequisite in the final set.
        let left_out: BTreeSet<usize> = held.difference(&target).copied().collect();
        let removed: BTreeSet<usize> = held
            .iter()
            .copied()
            .filter(|h| left_out.contains(h) || !reference_prerequisites(&requires, *h).is_disjoint(&left_out))
            .collect();
        let added: BTreeSet<usize> = target.difference(&held).copied().collect();
        let finals: BTreeSet<usize> = held.difference(&removed).chain(added.iter()).copied().collect();
        let lacking: BTreeSet<usize> =
            added.iter().copied().filter(|a| !reference_prerequisites(&requires, *a).is_subset(&finals)).collect();

        match catalog.plan(&held_k, &target_k) {
            Ok(plan) => {
                prop_assert!(lacking.is_empty(), "plan accepted {:?} lacking prerequisites", lacking);
                for i in 0..n {
                    if plan.result.contains(&pkey(i)) {
                        prop_assert!(to_keys(&reference_prerequisites(&requires, i)).is_subset(&plan.result),
                            "p{} is in the result without all its prerequisites", i);
                    }
                }
                let all_removed = plan.all_removed();
                for h in &held {
                    if reference_prerequisites(&requires, *h).iter().any(|p| all_removed.contains(&pkey(*p))) {
                        prop_assert!(all_removed.contains(&pkey(*h)), "p{} requires a removed product but stays", h);
                    }
                }
                prop_assert!(plan.assign.is_disjoint(&held_k));
                let expected: BTreeSet<Key> = held_k.difference(&all_removed).chain(plan.assign.iter()).cloned().collect();
                prop_assert_eq!(&plan.result, &expected);
                prop_assert_eq!(&all_removed, &to_keys(&removed));
                prop_assert_eq!(&plan.assign, &to_keys(&added));
                prop_assert!(plan.unassign.is_disjoint(&plan.cascaded));
            }
            Err(ServiceError::MissingPrerequisite { product, missing }) => {
                let i = (0..n).find(|i| pkey(*i) == product).expect("a product of the catalog");
                prop_assert!(added.contains(&i), "{} was not newly asked for", product);
                prop_assert!(lacking.contains(&i), "{} has all its prerequisites", product);
                prop_assert!(!missing.is_empty());
                let prerequisites = to_keys(&reference_prerequisites(&requires, i));
                for m in &missing {
                    prop_assert!(prerequisites.contains(m) && !to_keys(&finals).contains(m),
                        "{} is not really missing for {}", m, product);
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }

    #[test]
    fn every_acyclic_catalog_is_accepted(requires in dag()) {
        prop_assert!(Catalog::new(catalog_products(&requires)).is_ok());
    }

    #[test]
    fn a_catalog_with_a_cycle_is_always_refused(requires in dag(), j in any::<Index>(), i in any::<Index>()) {
        // Close a cycle explicitly: product `i`, chosen among `j` and the prerequisites of `j`,
        // is made to require `j` (i == j is a self-loop).
        let j = j.index(requires.len());
        let candidates: Vec<usize> =
            std::iter::once(j).chain(reference_prerequisites(&requires, j)).collect();
        let i = candidates[i.index(candidates.len())];
        let mut cyclic = requires.clone();
        cyclic[i].insert(j);
        match Catalog::new(catalog_products(&cyclic)) {
            Err(CatalogError::Cycle(on)) => {
                let k = (0..cyclic.len()).find(|k| pkey(*k) == on).unwrap();
                prop_assert!(reference_prerequisites(&cyclic, k).contains(&k), "{} is not on a cycle", on);
            }
            other => prop_assert!(false, "expected a cycle error, got {:?}", other),
        }
    }
}

#[test]
fn every_ring_of_products_is_refused_as_a_cycle() {
    for len in 1..=MAX_PRODUCTS {
        // p0 requires p1, …, p(len-1) requires p0.
        let ring: Vec<BTreeSet<usize>> = (0..len).map(|i| BTreeSet::from([(i + 1) % len])).collect();
        assert!(matches!(Catalog::new(catalog_products(&ring)), Err(CatalogError::Cycle(_))), "ring of {len}");
    }
}
