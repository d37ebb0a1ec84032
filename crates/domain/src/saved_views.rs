//! Saved views of the Users table (§10, §12): an admin's named filter, sort, columns and page
//! size. "Reset to default" is the absence of a view. A view is a personal preference of the
//! console, not a change to the organization's data, so it is not audited (decision 0017).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::ids::{OrgId, SavedViewId, UserId};
use crate::values::Label;

/// The Users table's columns a view may show (the console's column chooser).
pub const VIEW_COLUMNS: [&str; 22] = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "nicknames",
    "status",
    "roles",
    "teams",
    "products",
    "agent_id",
    "crm_id",
    "agent_ring_number",
    "dialer_number",
    "mailbox_provider",
    "email_throttle_max_per_day",
    "flow_enabled",
    "email_sync",
    "calendar_sync",
    "call_recording",
    "created_at",
    "updated_at",
    "scheduled",
];

/// Whether `column` is one a view may show: one of [`VIEW_COLUMNS`], or the yes/no column of a
/// product, `product:<key>`.
pub fn is_view_column(column: &str) -> bool {
    VIEW_COLUMNS.contains(&column)
        || column
            .strip_prefix(crate::users_query::PRODUCT_SORT_PREFIX)
            .is_some_and(|key| crate::values::Key::parse(key).is_ok())
}

/// The Users-table filter parameters a view may hold (their values are those of `GET /users`).
pub const VIEW_FILTERS: [&str; 7] = ["status", "role", "group", "product", "q", "created_from", "created_to"];

/// The page sizes of the console.
pub const VIEW_PAGE_SIZES: [u32; 3] = [10, 25, 50];

/// The most views one admin keeps.
pub const MAX_VIEWS_PER_USER: usize = 50;

/// What a view shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDefinition {
    /// Filter parameter → value, as the Users table takes them.
    pub filter: BTreeMap<String, String>,
    /// `field,-field` as the Users table takes it; empty for the default order.
    pub sort: String,
    /// Columns in display order, each once.
    pub columns: Vec<String>,
    /// Rows per page: one of [`VIEW_PAGE_SIZES`].
    pub per_page: u32,
}

impl ViewDefinition {
    /// Checks what the domain knows of a view: known filters and columns, no column twice, a
    /// page size of the console.
    ///
    /// # Errors
    /// Every invalid field at once.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for name in self.filter.keys() {
            if !VIEW_FILTERS.contains(&name.as_str()) {
                errors.push(FieldError::new(format!("filter.{name}"), "unknown_filter", format!("no filter `{name}`")));
            }
        }
        for (i, column) in self.columns.iter().enumerate() {
            if !is_view_column(column) {
                errors.push(FieldError::new(
                    format!("columns[{i}]"),
                    "unknown_column",
                    format!("no column `{column}`"),
                ));
            } else if self.columns[..i].contains(column) {
                errors.push(FieldError::new(
                    format!("columns[{i}]"),
                    "duplicate",
                    format!("`{column}` is listed twice"),
                ));
            }
        }
        if !VIEW_PAGE_SIZES.contains(&self.per_page) {
            errors.push(FieldError::new("per_page", "out_of_range", "per_page must be 10, 25 or 50"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// One admin's saved view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedView {
    /// Unique; the path id of `DELETE /saved-views/{id}`.
    pub id: SavedViewId,
    /// The organization of the admin.
    pub org_id: OrgId,
    /// The admin whose view it is; nobody else sees it.
    pub user_id: UserId,
    /// The name the admin chose; unique among that admin's views.
    pub name: Label,
    /// The filter, sort, columns and page size it restores.
    pub definition: ViewDefinition,
    /// When the view was saved; views are never edited.
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ViewDefinition {
        ViewDefinition {
            filter: BTreeMap::from([("status".to_owned(), "active".to_owned())]),
            sort: "last_name".to_owned(),
            columns: vec!["email".to_owned(), "status".to_owned()],
            per_page: 25,
        }
    }

    #[test]
    fn a_view_of_known_filters_and_columns_with_a_console_page_size_is_valid() {
        assert_eq!(view().check(), Ok(()));
    }

    #[test]
    fn unknown_filters_columns_repeated_columns_and_odd_page_sizes_are_each_named() {
        let mut v = view();
        v.filter.insert("password".to_owned(), "x".to_owned());
        v.columns.push("salary".to_owned());
        v.columns.push("email".to_owned());
        v.per_page = 20;
        let fields: Vec<(String, &str)> = v.check().unwrap_err().into_iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(
            fields,
            [
                ("filter.password".to_owned(), "unknown_filter"),
                ("columns[2]".to_owned(), "unknown_column"),
                ("columns[3]".to_owned(), "duplicate"),
                ("per_page".to_owned(), "out_of_range"),
            ]
        );
    }

    #[test]
    fn a_products_yes_no_column_is_named_by_its_key() {
        let mut v = view();
        v.columns.push("product:dialer".to_owned());
        assert_eq!(v.check(), Ok(()));
        v.columns.push("product:Not A Key".to_owned());
        v.columns.push("product:dialer".to_owned());
        let codes: Vec<&str> = v.check().unwrap_err().into_iter().map(|e| e.code).collect();
        assert_eq!(codes, ["unknown_column", "duplicate"]);
    }
}
