//! [`UserFilter`]: a boolean condition over a member's own fields, which a storage adapter
//! turns into a `WHERE` clause (`UserQuery::filter`). It is what a SCIM filter becomes once its
//! attribute names are resolved (`scim::users::user_filter`); [`UserFilter::matches`] is the
//! reference semantics that the contract suite holds every store to.
//!
//! # Notes for SQL adapters
//! - Text is compared in its Unicode lower-case form ([`UserFilter::Text`]'s value is already
//!   lower-case): the email column is lower-case, names by their `*_sort` columns; `co`, `sw`,
//!   `ew` are `LIKE` patterns with `%`, `_` and `\` escaped; ranges compare code points
//!   (`COLLATE "C"` on PostgreSQL).
//! - An absent phone fails every comparison, also under `NOT`: the SQL must not let a `NULL`
//!   reach a `NOT` (three-valued logic would drop the row that the reference keeps).
//! - A value never holds U+0000 ([`UserFilter::check`] refuses it): PostgreSQL cannot bind it.

use time::OffsetDateTime;

use crate::ids::UserId;
use crate::user::User;

/// The text fields of a member a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserTextField {
    /// The login address (always present, lower-case).
    Email,
    /// The given name.
    FirstName,
    /// The family name.
    LastName,
    /// The phone (`+` and digits), absent for some.
    Phone,
}

/// A comparison of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextOp {
    /// Equal.
    Eq,
    /// Contains.
    Contains,
    /// Starts with.
    StartsWith,
    /// Ends with.
    EndsWith,
    /// Greater, in code-point order.
    Gt,
    /// Greater or equal.
    Ge,
    /// Less.
    Lt,
    /// Less or equal.
    Le,
}

/// An ordering comparison of instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeOp {
    /// The same instant.
    Eq,
    /// Later.
    Gt,
    /// Later or the same.
    Ge,
    /// Earlier.
    Lt,
    /// Earlier or the same.
    Le,
}

/// The time fields of a member a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserTimeField {
    /// When the member was created.
    CreatedAt,
    /// When the member last changed.
    UpdatedAt,
}

/// A condition over a member's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    /// Always this answer (a comparison decided without the row: `emails.type eq "work"`).
    Const(bool),
    /// `field op value`, `value` in lower case; false when the field is absent.
    Text {
        /// The field compared.
        field: UserTextField,
        /// The comparison.
        op: TextOp,
        /// The lower-case value.
        value: String,
    },
    /// The field has a value.
    Present(UserTextField),
    /// The member is active (not deactivated) or not.
    Active(bool),
    /// The member is this one.
    Id(UserId),
    /// The member's `externalId` is exactly this (case-exact, SCIM's `caseExact`); false when
    /// they have none.
    ExternalId(String),
    /// The member has an `externalId`.
    HasExternalId,
    /// `field op at`.
    Time {
        /// The field compared.
        field: UserTimeField,
        /// The comparison.
        op: TimeOp,
        /// The instant compared with.
        at: OffsetDateTime,
    },
    /// Not the inner condition.
    Not(Box<UserFilter>),
    /// Both conditions.
    And(Box<UserFilter>, Box<UserFilter>),
    /// Either condition.
    Or(Box<UserFilter>, Box<UserFilter>),
}

impl UserFilter {
    /// The text of a field of `user`, if it has one.
    pub fn text_of(user: &User, field: UserTextField) -> Option<String> {
        match field {
            UserTextField::Email => Some(user.email.as_str().to_owned()),
            UserTextField::FirstName => Some(user.first_name.as_str().to_lowercase()),
            UserTextField::LastName => Some(user.last_name.as_str().to_lowercase()),
            UserTextField::Phone => user.phone.as_ref().map(|p| p.as_str().to_lowercase()),
        }
    }

    /// Whether `user` meets the condition: the reference semantics every store answers alike.
    pub fn matches(&self, user: &User) -> bool {
        match self {
            Self::Const(answer) => *answer,
            Self::Text { field, op, value } => Self::text_of(user, *field).is_some_and(|have| {
                let (h, w) = (have.as_str(), value.as_str());
                match op {
                    TextOp::Eq => h == w,
                    TextOp::Contains => h.contains(w),
                    TextOp::StartsWith => h.starts_with(w),
                    TextOp::EndsWith => h.ends_with(w),
                    TextOp::Gt => h > w,
                    TextOp::Ge => h >= w,
                    TextOp::Lt => h < w,
                    TextOp::Le => h <= w,
                }
            }),
            Self::Present(field) => Self::text_of(user, *field).is_some_and(|t| !t.is_empty()),
            Self::Active(active) => user.lifecycle.deactivated_at.is_none() == *active,
            Self::Id(id) => user.id == *id,
            Self::ExternalId(value) => user.directory.external_id.as_ref().is_some_and(|e| e.as_str() == value),
            Self::HasExternalId => user.directory.external_id.is_some(),
            Self::Time { field, op, at } => {
                let t = match field {
                    UserTimeField::CreatedAt => user.created_at,
                    UserTimeField::UpdatedAt => user.updated_at,
                };
                match op {
                    TimeOp::Eq => t == *at,
                    TimeOp::Gt => t > *at,
                    TimeOp::Ge => t >= *at,
                    TimeOp::Lt => t < *at,
                    TimeOp::Le => t <= *at,
                }
            }
            Self::Not(inner) => !inner.matches(user),
            Self::And(l, r) => l.matches(user) && r.matches(user),
            Self::Or(l, r) => l.matches(user) || r.matches(user),
        }
    }

    /// Whether the condition can reach a store: no value holds U+0000.
    pub fn check(&self) -> bool {
        match self {
            Self::Text { value, .. } | Self::ExternalId(value) => !value.contains('\0'),
            Self::Not(inner) => inner.check(),
            Self::And(l, r) | Self::Or(l, r) => l.check() && r.check(),
            _ => true,
        }
    }

    /// `not inner`, folding constants.
    pub fn negate(inner: Self) -> Self {
        match inner {
            Self::Const(b) => Self::Const(!b),
            Self::Not(inner) => *inner,
            other => Self::Not(Box::new(other)),
        }
    }

    /// `l and r`, folding constants.
    pub fn and(l: Self, r: Self) -> Self {
        match (l, r) {
            (Self::Const(false), _) | (_, Self::Const(false)) => Self::Const(false),
            (Self::Const(true), x) | (x, Self::Const(true)) => x,
            (l, r) => Self::And(Box::new(l), Box::new(r)),
        }
    }

    /// `l or r`, folding constants.
    pub fn or(l: Self, r: Self) -> Self {
        match (l, r) {
            (Self::Const(true), _) | (_, Self::Const(true)) => Self::Const(true),
            (Self::Const(false), x) | (x, Self::Const(false)) => x,
            (l, r) => Self::Or(Box::new(l), Box::new(r)),
        }
    }
}
