//! Values across the boundary: how ids, times, counts, value types and JSON sets are bound as
//! statement parameters and read back from rows, per engine (`docs/decisions/0009-schema.md`).
//!
//! | domain | PostgreSQL | SQLite |
//! | --- | --- | --- |
//! | ids (`Uuid`) | `uuid` | 16-byte `blob` (what sqlx binds a `Uuid` as) |
//! | `OffsetDateTime` | `timestamptz` | `integer`, microseconds since the Unix epoch (UTC) |
//! | `u32` / `u64` counts and versions | `bigint` | `integer` |
//! | value types (`Key`, `Slug`, `Label`, …) | `text` (their normalized string) | `text` |
//! | sets and lists (`Vec<EmailDomain>`, …) | `jsonb` | `text` holding the JSON |
//!
//! Reading never trusts the database blindly: a value the domain would refuse (a malformed key,
//! a negative count, a time out of range) is a corrupt row and surfaces as
//! [`StoreError::Unavailable`], never as a panic.

use std::fmt::Display;
use std::str::FromStr;

use roster_domain::ports::StoreError;
use sea_orm::{QueryResult, TryGetable, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Engine;

/// A stored value the domain cannot take: the database was changed behind Roster's back, or a
/// migration is missing. Reported as `Unavailable`.
#[derive(Debug, Error)]
#[error("corrupt value in column `{column}`: {reason}")]
pub(crate) struct CorruptValue {
    pub column: String,
    pub reason: String,
}

pub(crate) fn corrupt(column: &str, reason: impl Display) -> StoreError {
    StoreError::unavailable(CorruptValue { column: column.to_owned(), reason: reason.to_string() })
}

/// An id parameter.
pub(crate) fn id(uuid: Uuid) -> Value {
    uuid.into()
}

/// The most ids one `IN (…)` list names (SQLite allows 32,766 parameters, PostgreSQL 65,535).
pub(crate) const IN_LIST_CHUNK: usize = 500;

/// `ids` without repeats, in order, cut into `IN (…)` lists of at most [`IN_LIST_CHUNK`]: for
/// each, the marks (`?, ?, …`) and the values `[org, ids…]` of `WHERE org_id = ? AND … IN (…)`.
pub(crate) fn org_and_id_lists(org: Uuid, ids: impl IntoIterator<Item = Uuid>) -> Vec<(String, Vec<Value>)> {
    let wanted: Vec<Uuid> = ids.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    wanted
        .chunks(IN_LIST_CHUNK)
        .map(|chunk| {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut values = vec![id(org)];
            values.extend(chunk.iter().map(|u| id(*u)));
            (marks, values)
        })
        .collect()
}

/// A time parameter in the engine's representation.
///
/// # Errors
/// `Unavailable` for a time whose microseconds do not fit an `i64` (beyond ±292,000 years).
pub(crate) fn time(engine: Engine, at: OffsetDateTime) -> Result<Value, StoreError> {
    Ok(match engine {
        Engine::Postgres => at.into(),
        Engine::Sqlite => Value::BigInt(Some(micros(at)?)),
    })
}

/// An optional time parameter (`NULL` typed as the engine's time column).
///
/// # Errors
/// As [`time`].
pub(crate) fn opt_time(engine: Engine, at: Option<OffsetDateTime>) -> Result<Value, StoreError> {
    match (at, engine) {
        (Some(at), _) => time(engine, at),
        (None, Engine::Postgres) => Ok(Option::<OffsetDateTime>::None.into()),
        (None, Engine::Sqlite) => Ok(Value::BigInt(None)),
    }
}

/// Microseconds since the Unix epoch; sub-microsecond digits are dropped (the contract says the
/// application hands out whole microseconds; PostgreSQL rounds the same way).
fn micros(at: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1000)).map_err(|e| corrupt("(time parameter)", e))
}

/// A count or a version parameter: `bigint` on both engines, so a `u32` or `u64` never wraps.
///
/// # Errors
/// `Unavailable` for a `u64` above `i64::MAX` (no version gets there).
pub(crate) fn count(n: impl TryInto<i64, Error = impl Display>) -> Result<Value, StoreError> {
    n.try_into().map(|n: i64| Value::BigInt(Some(n))).map_err(|e| corrupt("(count parameter)", e))
}

/// A value type's normalized text as a parameter.
pub(crate) fn text(value: &impl AsRef<str>) -> Value {
    value.as_ref().to_owned().into()
}

/// A JSON parameter: `jsonb` on PostgreSQL, its text on SQLite.
///
/// # Errors
/// `Unavailable` if the value does not serialize (no domain type fails to).
pub(crate) fn json(engine: Engine, value: &impl Serialize) -> Result<Value, StoreError> {
    let json = serde_json::to_value(value).map_err(|e| corrupt("(json parameter)", e))?;
    Ok(match engine {
        Engine::Postgres => json.into(),
        Engine::Sqlite => json.to_string().into(),
    })
}

/// A column of a row, or `Unavailable` naming it.
pub(crate) fn get<T: TryGetable>(row: &QueryResult, column: &str) -> Result<T, StoreError> {
    row.try_get::<T>("", column).map_err(|e| corrupt(column, e))
}

pub(crate) fn get_id<T>(row: &QueryResult, column: &str, from_uuid: fn(Uuid) -> T) -> Result<T, StoreError> {
    get::<Uuid>(row, column).map(from_uuid)
}

pub(crate) fn get_time(engine: Engine, row: &QueryResult, column: &str) -> Result<OffsetDateTime, StoreError> {
    match engine {
        Engine::Postgres => get::<OffsetDateTime>(row, column),
        Engine::Sqlite => from_micros(column, get::<i64>(row, column)?),
    }
}

pub(crate) fn get_opt_time(
    engine: Engine,
    row: &QueryResult,
    column: &str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    match engine {
        Engine::Postgres => get::<Option<OffsetDateTime>>(row, column),
        Engine::Sqlite => get::<Option<i64>>(row, column)?.map(|m| from_micros(column, m)).transpose(),
    }
}

fn from_micros(column: &str, micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).map_err(|e| corrupt(column, e))
}

/// A `bigint` column that must fit the domain's unsigned type (`u32` seats, `u64` versions).
pub(crate) fn get_unsigned<T: TryFrom<i64>>(row: &QueryResult, column: &str) -> Result<T, StoreError>
where
    T::Error: Display,
{
    T::try_from(get::<i64>(row, column)?).map_err(|e| corrupt(column, e))
}

/// A text column parsed as a domain value type.
pub(crate) fn get_parsed<T: FromStr>(row: &QueryResult, column: &str) -> Result<T, StoreError>
where
    T::Err: Display,
{
    get::<String>(row, column)?.parse().map_err(|e| corrupt(column, e))
}

/// A JSON column (`jsonb` on PostgreSQL, text on SQLite) deserialized.
pub(crate) fn get_json<T: DeserializeOwned>(engine: Engine, row: &QueryResult, column: &str) -> Result<T, StoreError> {
    let parsed = match engine {
        Engine::Postgres => serde_json::from_value(get::<serde_json::Value>(row, column)?),
        Engine::Sqlite => serde_json::from_str(&get::<String>(row, column)?),
    };
    parsed.map_err(|e| corrupt(column, e))
}

/// `sql`, written with `?` parameter markers, for the engine: PostgreSQL numbers them (`$1, $2…`).
/// Roster's statements contain no `?` other than parameter markers (no string literals with one, no
/// `jsonb` `?` operator).
pub fn number_parameters(engine: Engine, sql: &str) -> String {
    match engine {
        Engine::Sqlite => sql.to_owned(),
        Engine::Postgres => {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn postgres_numbers_parameter_markers() {
        assert_eq!(number_parameters(Engine::Postgres, "a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(number_parameters(Engine::Sqlite, "a = ? AND b = ?"), "a = ? AND b = ?");
    }

    #[test]
    fn times_round_trip_through_microseconds() {
        for at in [datetime!(2026-01-01 00:00:00.123456 UTC), datetime!(1960-06-30 23:59:59.999999 UTC)] {
            let m = micros(at).expect("fits");
            assert_eq!(from_micros("t", m).expect("in range"), at);
        }
        assert_eq!(micros(datetime!(2026-01-01 00:00:00 UTC)).expect("fits"), 1_767_225_600_000_000);
    }
}
