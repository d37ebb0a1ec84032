//! The product catalog and its prerequisite DAG (§4.1), and the pure planning of a license
//! change: which products get assigned, which get removed, and which removals cascade (§4.3).
//!
//! A [`Catalog`] with a cycle or an unknown prerequisite cannot be built ([`Catalog::new`]),
//! and [`Catalog::plan`] keeps a holding closed under prerequisites: when every product held has
//! its prerequisites held, so does every product of the plan's [`LicensePlan::result`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::ServiceError;
use crate::values::{Key, Label};

/// A product an organization licenses per seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Unique within the catalog; what the API and seat pools name the product by (`core`,
    /// `dialer`).
    pub key: Key,
    /// The name people see (`Core`, `SMS`).
    pub name: Label,
    /// Products a user must hold to hold this one.
    pub requires: BTreeSet<Key>,
}

/// Why a set of products is not a valid catalog.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CatalogError {
    /// Two products of the list share a key.
    #[error("product {0} is listed twice")]
    DuplicateProduct(Key),
    /// A product requires a key the catalog does not hold.
    #[error("product {product} requires unknown product {missing}")]
    UnknownPrerequisite {
        /// The product that requires it.
        product: Key,
        /// The prerequisite's key, which no product of the catalog has.
        missing: Key,
    },
    /// Following prerequisites from this product leads back to it.
    #[error("the prerequisites of {0} form a cycle")]
    Cycle(Key),
}

/// A validated catalog: every prerequisite exists and prerequisites form a DAG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Product>", into = "Vec<Product>")]
pub struct Catalog {
    products: BTreeMap<Key, Product>,
}

impl TryFrom<Vec<Product>> for Catalog {
    type Error = CatalogError;
    fn try_from(products: Vec<Product>) -> Result<Self, Self::Error> {
        Catalog::new(products)
    }
}

impl From<Catalog> for Vec<Product> {
    fn from(catalog: Catalog) -> Self {
        catalog.products.into_values().collect()
    }
}

fn key(s: &str) -> Key {
    Key::parse(s).expect("built-in product keys are valid")
}

fn label(s: &str) -> Label {
    Label::parse(s).expect("built-in product names are valid")
}

impl Catalog {
    /// Validates the products.
    ///
    /// # Errors
    /// Duplicate keys, unknown prerequisites, or a cycle.
    pub fn new(products: Vec<Product>) -> Result<Self, CatalogError> {
        let mut map = BTreeMap::new();
        for product in products {
            if map.contains_key(&product.key) {
                return Err(CatalogError::DuplicateProduct(product.key));
            }
            map.insert(product.key.clone(), product);
        }
        for product in map.values() {
            if let Some(missing) = product.requires.iter().find(|r| !map.contains_key(*r)) {
                return Err(CatalogError::UnknownPrerequisite {
                    product: product.key.clone(),
                    missing: missing.clone(),
                });
            }
        }
        let catalog = Self { products: map };
        for key in catalog.products.keys() {
            if catalog.prerequisites_of(key).contains(key) {
                return Err(CatalogError::Cycle(key.clone()));
            }
        }
        Ok(catalog)
    }

    /// The default catalog of a new organization: core, flow → core, dialer → core, sms → dialer.
    pub fn default_catalog() -> Self {
        let p = |k: &str, name: &str, requires: &[&str]| Product {
            key: key(k),
            name: label(name),
            requires: requires.iter().map(|r| key(r)).collect(),
        };
        Self::new(vec![
            p("core", "Core", &[]),
            p("flow", "Flow", &["core"]),
            p("dialer", "Dialer", &["core"]),
            p("sms", "SMS", &["dialer"]),
        ])
        .expect("the default catalog is a DAG")
    }

    /// The key of the product every user needs (§4.1); status derivation looks at it.
    pub fn core_key() -> Key {
        key("core")
    }

    /// Adds a product (operator action), keeping the catalog a DAG.
    ///
    /// # Errors
    /// As [`Catalog::new`].
    pub fn with_product(&self, product: Product) -> Result<Self, CatalogError> {
        let mut products: Vec<Product> = self.products.values().cloned().collect();
        products.push(product);
        Self::new(products)
    }

    /// The product with this key; `None` when the catalog has none.
    pub fn get(&self, key: &Key) -> Option<&Product> {
        self.products.get(key)
    }

    /// Whether the catalog holds a product with this key.
    pub fn contains(&self, key: &Key) -> bool {
        self.products.contains_key(key)
    }

    /// Every product, in key order.
    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }

    /// Every product key, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.products.keys()
    }

    /// Every product `key` transitively requires (not including itself unless there is a cycle).
    pub fn prerequisites_of(&self, key: &Key) -> BTreeSet<Key> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<&Key> = self.products.get(key).map(|p| p.requires.iter().collect()).unwrap_or_default();
        while let Some(next) = stack.pop() {
            if out.insert(next.clone())
                && let Some(p) = self.products.get(next)
            {
                stack.extend(p.requires.iter());
            }
        }
        out
    }

    /// Every product that transitively requires `key`.
    pub fn dependents_of(&self, key: &Key) -> BTreeSet<Key> {
        self.products.keys().filter(|k| *k != key && self.prerequisites_of(k).contains(key)).cloned().collect()
    }

    /// Checks that every key names a product of the catalog.
    ///
    /// # Errors
    /// A validation error naming `field` and the first unknown product.
    pub fn check_known<'a>(&self, field: &str, keys: impl IntoIterator<Item = &'a Key>) -> Result<(), ServiceError> {
        let unknown: Vec<String> = keys.into_iter().filter(|k| !self.contains(k)).map(|k| k.to_string()).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                field,
                "unknown_product",
                format!("unknown product(s): {}", unknown.join(", ")),
            )]))
        }
    }

    /// Plans the change from the products a user holds to the full set they should hold (the
    /// semantics of `PUT /users/{id}/licenses`).
    ///
    /// A held product that is left out is removed, and so is every held product that requires
    /// it (the cascade, even if the target lists it). A product newly asked for needs its
    /// prerequisites in the final set.
    ///
    /// # Errors
    /// Unknown products (`validation_failed`), or [`ServiceError::MissingPrerequisite`].
    pub fn plan(&self, held: &BTreeSet<Key>, target: &BTreeSet<Key>) -> Result<LicensePlan, ServiceError> {
        self.check_known("products", target)?;
        let mut removed: BTreeSet<Key> = held.difference(target).cloned().collect();
        let directly_removed = removed.clone();
        for key in &directly_removed {
            removed.extend(self.dependents_of(key).into_iter().filter(|d| held.contains(d)));
        }
        let cascaded: BTreeSet<Key> = removed.difference(&directly_removed).cloned().collect();
        let kept: BTreeSet<Key> = held.difference(&removed).cloned().collect();
        let added: BTreeSet<Key> = target.difference(held).cloned().collect();
        let finals: BTreeSet<Key> = kept.union(&added).cloned().collect();
        for product in &added {
            let missing: Vec<Key> =
                self.prerequisites_of(product).into_iter().filter(|p| !finals.contains(p)).collect();
            if !missing.is_empty() {
                return Err(ServiceError::MissingPrerequisite { product: product.clone(), missing });
            }
        }
        Ok(LicensePlan { assign: added, unassign: directly_removed, cascaded, result: finals })
    }

    /// Plans adding `products` to what a user holds (bulk assign).
    ///
    /// # Errors
    /// As [`Catalog::plan`].
    pub fn plan_assign(&self, held: &BTreeSet<Key>, products: &BTreeSet<Key>) -> Result<LicensePlan, ServiceError> {
        let target = held.union(products).cloned().collect();
        self.plan(held, &target)
    }

    /// Plans removing `products` (and what requires them) from what a user holds (bulk unassign).
    ///
    /// # Errors
    /// Unknown products (`validation_failed`).
    pub fn plan_unassign(&self, held: &BTreeSet<Key>, products: &BTreeSet<Key>) -> Result<LicensePlan, ServiceError> {
        self.check_known("products", products)?;
        let target = held.difference(products).cloned().collect();
        self.plan(held, &target)
    }
}

/// The outcome of planning a license change for one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LicensePlan {
    /// Products newly assigned.
    pub assign: BTreeSet<Key>,
    /// Products removed because they were asked to be removed.
    pub unassign: BTreeSet<Key>,
    /// Products removed because something they require was removed.
    pub cascaded: BTreeSet<Key>,
    /// What the user holds afterwards.
    pub result: BTreeSet<Key>,
}

impl LicensePlan {
    /// Everything removed, asked for or cascaded.
    pub fn all_removed(&self) -> BTreeSet<Key> {
        self.unassign.union(&self.cascaded).cloned().collect()
    }

    /// Whether the plan changes nothing: nothing assigned, removed or cascaded.
    pub fn is_noop(&self) -> bool {
        self.assign.is_empty() && self.unassign.is_empty() && self.cascaded.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(names: &[&str]) -> BTreeSet<Key> {
        names.iter().map(|n| key(n)).collect()
    }

    #[test]
    fn a_missing_prerequisite_is_named_in_words() {
        let e = Catalog::default_catalog().plan(&BTreeSet::new(), &keys(&["sms"])).unwrap_err();
        assert_eq!(e.to_string(), "sms requires core and dialer");
        let e = Catalog::default_catalog().plan(&keys(&["core"]), &keys(&["core", "flow", "sms"])).unwrap_err();
        assert_eq!(e.to_string(), "sms requires dialer");
    }

    #[test]
    fn lists_read_as_words() {
        assert_eq!(crate::error::in_words::<&str>(&[]), "");
        assert_eq!(crate::error::in_words(&["core"]), "core");
        assert_eq!(crate::error::in_words(&["core", "dialer", "sms"]), "core, dialer and sms");
    }
}
