//! Pagination of every list (SPEC §10): keyset (`cursor` + `limit` ≤ 200, default 50) for API
//! clients, or `page` + `per_page` ∈ {10, 25, 50} with a total for the console — never both.
//! Page numbers reach the first [`MAX_PAGE_ROWS`] rows; past them a list is walked by cursor
//! (an `OFFSET` reads and drops every row before the page: at a million users page 10,000 took
//! seconds in `cargo xtask bench db`, a cursor page milliseconds — decision 0020).
//!
//! A cursor is opaque to clients: base64url of a small JSON document holding the sort it was
//! made for and the position. A cursor that does not decode, or was made for another sort, is a
//! 400 problem on `cursor`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;

/// The largest `limit`.
pub const MAX_LIMIT: u32 = 200;
/// The `limit` when none is given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The page sizes of the console.
pub const PAGE_SIZES: [u32; 3] = [10, 25, 50];
/// The deepest row page-number paging reaches (page 200 of 50, page 1,000 of 10).
pub const MAX_PAGE_ROWS: u64 = 10_000;

/// How a list was asked to be paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging<P> {
    Cursor { after: Option<P>, limit: u32 },
    Page { page: u32, per_page: u32 },
}

/// The paging parameters as they came, checked into a [`Paging`].
///
/// # Errors
/// A 400 problem naming the parameter.
pub fn paging<P: DeserializeOwned>(
    limit: Option<u32>,
    cursor: Option<&str>,
    page: Option<u32>,
    per_page: Option<u32>,
    sort: &str,
) -> Result<Paging<P>, ApiError> {
    if page.is_some() || per_page.is_some() {
        if cursor.is_some() || limit.is_some() {
            return Err(ApiError::bad_request(
                "page",
                "conflicting_parameters",
                "use cursor/limit or page/per_page, not both",
            ));
        }
        let per_page = per_page.unwrap_or(25);
        if !PAGE_SIZES.contains(&per_page) {
            return Err(ApiError::bad_request("per_page", "out_of_range", "per_page must be 10, 25 or 50"));
        }
        let page = page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::bad_request("page", "out_of_range", "pages are numbered from 1"));
        }
        if u64::from(page) * u64::from(per_page) > MAX_PAGE_ROWS {
            return Err(ApiError::bad_request(
                "page",
                "out_of_range",
                format!(
                    "page numbers reach the first {MAX_PAGE_ROWS} rows (page {} of {per_page}); walk further with cursor and limit",
                    MAX_PAGE_ROWS / u64::from(per_page)
                ),
            ));
        }
        return Ok(Paging::Page { page, per_page });
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request("limit", "out_of_range", format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let after = cursor.map(|c| decode_cursor(sort, c)).transpose()?;
    Ok(Paging::Cursor { after, limit })
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// The sort the cursor belongs to.
    s: String,
    /// The position.
    p: T,
}

/// An opaque cursor for `position` under `sort`.
pub fn encode_cursor<P: Serialize>(sort: &str, position: &P) -> String {
    let json = serde_json::to_vec(&Envelope { s: sort.to_owned(), p: position }).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The position a cursor of [`encode_cursor`] holds, checked to be made for `sort`.
///
/// # Errors
/// 400 `invalid_cursor` on `cursor` for text no list handed out, or one made for another sort.
pub fn decode_cursor<P: DeserializeOwned>(sort: &str, cursor: &str) -> Result<P, ApiError> {
    let bad = || ApiError::bad_request("cursor", "invalid_cursor", "the cursor is not one this list handed out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let envelope: Envelope<P> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if envelope.s != sort {
        return Err(ApiError::bad_request("cursor", "invalid_cursor", "the cursor was made for another sort"));
    }
    Ok(envelope.p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let c = encode_cursor("last_name", &(String::from("x"), 3_u32));
        let p: Paging<(String, u32)> = paging(None, Some(&c), None, None, "last_name").expect("valid");
        assert_eq!(p, Paging::Cursor { after: Some(("x".to_owned(), 3)), limit: DEFAULT_LIMIT });
        assert!(paging::<(String, u32)>(None, Some(&c), None, None, "email").is_err());
        assert!(paging::<(String, u32)>(None, Some("%%%"), None, None, "email").is_err());
    }

    #[test]
    fn sizes_outside_the_allowed_sets_are_refused() {
        assert!(paging::<u8>(Some(0), None, None, None, "").is_err());
        assert!(paging::<u8>(Some(201), None, None, None, "").is_err());
        assert!(paging::<u8>(None, None, Some(1), Some(20), "").is_err());
        assert!(paging::<u8>(Some(10), None, Some(1), None, "").is_err());
        assert_eq!(paging::<u8>(None, None, Some(2), Some(50), "").unwrap(), Paging::Page { page: 2, per_page: 50 });
    }

    #[test]
    fn page_numbers_reach_the_first_ten_thousand_rows_only() {
        assert_eq!(
            paging::<u8>(None, None, Some(200), Some(50), "").unwrap(),
            Paging::Page { page: 200, per_page: 50 }
        );
        assert_eq!(
            paging::<u8>(None, None, Some(1000), Some(10), "").unwrap(),
            Paging::Page { page: 1000, per_page: 10 }
        );
        assert!(paging::<u8>(None, None, Some(201), Some(50), "").is_err());
        assert!(paging::<u8>(None, None, Some(1001), Some(10), "").is_err());
        assert!(paging::<u8>(None, None, Some(u32::MAX), Some(50), "").is_err(), "no overflow");
    }
}
