//! [`OrgRepository`]: organizations (settings inline), the organization lock, and catalogs.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use roster_domain::catalog::{Catalog, Product};
use roster_domain::ids::{GroupId, OrgId};
use roster_domain::org::{OrgSettings, Organization};
use roster_domain::ports::{OrgRepository, StoreError};
use roster_domain::values::{Key, Slug};
use sea_orm::{QueryResult, Value};

use super::SeaOrmTx;
use super::convert::{
    corrupt, count, get, get_id, get_json, get_opt_time, get_parsed, get_time, get_unsigned, id, json, opt_time, text,
    time,
};
use super::errors;
use crate::Engine;

type R<T> = Result<T, StoreError>;

const ORG_COLUMNS: &str = "id, name, slug, created_at, trial_ends_at, root_group_id, auto_signup, \
     allowed_signup_domains, release_seats_when_inactive, default_seat_limit, scim_products, version";

impl SeaOrmTx {
    fn org_from_row(&self, row: &QueryResult) -> R<Organization> {
        Ok(Organization {
            id: get_id(row, "id", OrgId::from_uuid)?,
            name: get_parsed(row, "name")?,
            slug: get_parsed(row, "slug")?,
            created_at: get_time(self.engine, row, "created_at")?,
            trial_ends_at: get_opt_time(self.engine, row, "trial_ends_at")?,
            root_group_id: get_id(row, "root_group_id", GroupId::from_uuid)?,
            settings: OrgSettings {
                auto_signup: get(row, "auto_signup")?,
                allowed_signup_domains: get_json(self.engine, row, "allowed_signup_domains")?,
                release_seats_when_inactive: get(row, "release_seats_when_inactive")?,
                default_seat_limit: get_unsigned(row, "default_seat_limit")?,
                scim_products: get_json(self.engine, row, "scim_products")?,
            },
            version: get_unsigned(row, "version")?,
        })
    }

    async fn select_orgs(&self, filter: &str, values: Vec<Value>) -> R<Vec<Organization>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations {filter}");
        self.query_all(&sql, values).await?.iter().map(|row| self.org_from_row(row)).collect()
    }

    /// The port's `Tx::org_and_groups_version` in one statement.
    pub(super) async fn org_and_groups_version(&self, org: OrgId) -> R<Option<(Organization, u64)>> {
        let sql = format!("SELECT {ORG_COLUMNS}, groups_version FROM organizations WHERE id = ?");
        let Some(row) = self.query_one(&sql, vec![id(org.as_uuid())]).await? else {
            return Ok(None);
        };
        Ok(Some((self.org_from_row(&row)?, get_unsigned(&row, "groups_version")?)))
    }

    /// The columns every write of an organization sets, in [`ORG_COLUMNS`] order after `id`.
    fn org_values(&self, org: &Organization) -> R<Vec<Value>> {
        Ok(vec![
            text(&org.name),
            text(&org.slug),
            time(self.engine, org.created_at)?,
            opt_time(self.engine, org.trial_ends_at)?,
            id(org.root_group_id.as_uuid()),
            org.settings.auto_signup.into(),
            json(self.engine, &org.settings.allowed_signup_domains)?,
            org.settings.release_seats_when_inactive.into(),
            count(org.settings.default_seat_limit)?,
            json(self.engine, &org.settings.scim_products)?,
            count(org.version)?,
        ])
    }
}

#[async_trait]
impl OrgRepository for SeaOrmTx {
    async fn insert_org(&mut self, org: &Organization) -> R<()> {
        let mut values = vec![id(org.id.as_uuid())];
        values.extend(self.org_values(org)?);
        let sql = format!("INSERT INTO organizations ({ORG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        // Nothing refers from an organization to another row: a foreign key cannot fail.
        self.exec_guarded(&sql, values).await.map_err(|e| errors::write_error(e, "organization"))?;
        Ok(())
    }

    async fn org(&mut self, org: OrgId) -> R<Option<Organization>> {
        Ok(self.select_orgs("WHERE id = ?", vec![id(org.as_uuid())]).await?.pop())
    }

    async fn org_by_slug(&mut self, slug: &Slug) -> R<Option<Organization>> {
        Ok(self.select_orgs("WHERE slug = ?", vec![text(slug)]).await?.pop())
    }

    async fn orgs(&mut self) -> R<Vec<Organization>> {
        self.select_orgs("ORDER BY id", vec![]).await
    }

    async fn update_org(&mut self, org: &Organization) -> R<()> {
        // Version 0 never matches a row (the schema keeps versions >= 1): stale, or missing.
        let previous = org.version.saturating_sub(1);
        let mut values = self.org_values(org)?;
        values.extend([id(org.id.as_uuid()), count(previous)?]);
        let sql = "UPDATE organizations SET name = ?, slug = ?, created_at = ?, trial_ends_at = ?, \
                   root_group_id = ?, auto_signup = ?, allowed_signup_domains = ?, \
                   release_seats_when_inactive = ?, default_seat_limit = ?, scim_products = ?, version = ? \
                   WHERE id = ? AND version = ?";
        let done = self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "organization"))?;
        if done.rows_affected() == 0 {
            let exists = self.query_one("SELECT 1 AS one FROM organizations WHERE id = ?", vec![id(org.id.as_uuid())]);
            return Err(match exists.await? {
                Some(_) => StoreError::StaleVersion { kind: "organization" },
                None => StoreError::Missing { kind: "organization" },
            });
        }
        Ok(())
    }

    async fn lock_org(&mut self, org: OrgId) -> R<()> {
        match self.engine {
            // The row lock is held until the transaction ends; READ COMMITTED makes the next
            // statement see what the transaction we waited for committed.
            Engine::Postgres => {
                self.query_one("SELECT id FROM organizations WHERE id = ? FOR UPDATE", vec![id(org.as_uuid())]).await?;
            }
            // `BEGIN IMMEDIATE` already holds the database's single write lock.
            Engine::Sqlite => {}
        }
        Ok(())
    }

    async fn catalog(&mut self, org: OrgId) -> R<Catalog> {
        let products = self
            .query_all("SELECT key, name FROM products WHERE org_id = ? ORDER BY key", vec![id(org.as_uuid())])
            .await?;
        if products.is_empty() {
            // The schema has no "catalog saved" marker: a catalog of no products reads as none
            // saved (every organization is created with the default catalog).
            return Err(StoreError::Missing { kind: "catalog" });
        }
        let edges = self
            .query_all(
                "SELECT product, requires FROM product_prerequisites WHERE org_id = ? ORDER BY product, requires",
                vec![id(org.as_uuid())],
            )
            .await?;
        let mut requires: BTreeMap<Key, BTreeSet<Key>> = BTreeMap::new();
        for edge in &edges {
            requires.entry(get_parsed(edge, "product")?).or_default().insert(get_parsed(edge, "requires")?);
        }
        let products = products
            .iter()
            .map(|row| {
                let key: Key = get_parsed(row, "key")?;
                let requires = requires.remove(&key).unwrap_or_default();
                Ok(Product { key, name: get_parsed(row, "name")?, requires })
            })
            .collect::<R<Vec<_>>>()?;
        Catalog::new(products).map_err(|e| corrupt("products", e))
    }

    async fn save_catalog(&mut self, org: OrgId, catalog: &Catalog) -> R<()> {
        let org_id = id(org.as_uuid());
        // Edges first: they refer to the products (the cascade would do it, but only with
        // foreign keys enforced).
        self.exec("DELETE FROM product_prerequisites WHERE org_id = ?", vec![org_id.clone()]).await?;
        self.exec("DELETE FROM products WHERE org_id = ?", vec![org_id.clone()]).await?;
        let products: Vec<&Product> = catalog.products().collect();
        if !products.is_empty() {
            let rows = vec!["(?, ?, ?)"; products.len()].join(", ");
            let values = products.iter().flat_map(|p| [org_id.clone(), text(&p.key), text(&p.name)]).collect();
            self.exec(&format!("INSERT INTO products (org_id, key, name) VALUES {rows}"), values).await?;
        }
        let edges: Vec<(&Key, &Key)> = products.iter().flat_map(|p| p.requires.iter().map(|r| (&p.key, r))).collect();
        if !edges.is_empty() {
            let rows = vec!["(?, ?, ?)"; edges.len()].join(", ");
            let values = edges.iter().flat_map(|(p, r)| [org_id.clone(), text(*p), text(*r)]).collect();
            self.exec(&format!("INSERT INTO product_prerequisites (org_id, product, requires) VALUES {rows}"), values)
                .await?;
        }
        Ok(())
    }
}
