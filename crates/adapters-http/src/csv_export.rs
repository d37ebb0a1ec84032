//! Streamed CSV answers (`GET /users/export.csv`, `GET /audit/export.csv`;
//! `docs/decisions/0017-http-exports-bulk-idempotency.md`).
//!
//! An export is a body stream fed page by page: the handler reads the first page itself (so
//! that a refusal is still an ordinary problem answer), then each next page is read only when
//! the client has taken the previous one — one short read transaction per page, a page in
//! memory at a time, whatever the number of rows. A failure after the first page can no longer
//! change the status (200 is sent): it is logged and the body is cut short, which a client sees
//! as an incomplete chunked transfer, never as a complete file.
//!
//! Cells are quoted as RFC 4180 says (by the `csv` crate: a cell holding a comma, a quote or a
//! line break is quoted, quotes doubled), and a cell that a spreadsheet would run as a formula —
//! one starting with `=`, `+`, `-`, `@`, a tab or a carriage return — is prefixed with `'`
//! (OWASP's "CSV injection" advice), unless the whole cell is a plain number such as the phone
//! `+14155550100`, which a spreadsheet cannot execute.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt as _};

use crate::problem::ApiError;

/// The media type of every export.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// Rows of text cells.
pub type Rows = Vec<Vec<String>>;

/// The next page of an export: its rows and the position to continue from (`None`: done).
pub type Page<P> = (Rows, Option<P>);

/// A cell as a spreadsheet may safely open it (see the module docs).
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) { format!("'{cell}").into() } else { cell.into() }
}

/// `+14155550100`, `-3`, `2.5`: an optional sign, digits, at most one decimal point.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Rows encoded as CSV lines (CRLF line ends, RFC 4180), every cell defused.
///
/// # Errors
/// Only if the encoder fails, which writing to memory does not.
pub fn encode(rows: &[Vec<String>]) -> Result<Bytes, ApiError> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for row in rows {
        writer.write_record(row.iter().map(|c| defuse(c).into_owned())).map_err(ApiError::internal)?;
    }
    writer.into_inner().map(Bytes::from).map_err(ApiError::internal)
}

/// A `200 text/csv` attachment named `filename`: the header row and the first page at once,
/// then each next page as `next` reads it from the position the previous one ended at.
pub fn stream<P, F, Fut>(filename: &str, header_row: &[&str], first: Page<P>, mut next: F) -> Response
where
    P: Send + 'static,
    F: FnMut(P) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<P>, ApiError>> + Send + 'static,
{
    let (rows, after) = first;
    let header: Vec<String> = header_row.iter().map(|h| (*h).to_owned()).collect();
    let mut head = vec![header];
    head.extend(rows);
    let first_chunk = stream::once(async move { encode(&head) });
    let rest = stream::unfold(after, move |after| {
        let fetch = after.map(&mut next);
        async move {
            let (rows, after) = match fetch?.await {
                Ok(page) => page,
                // Stop after yielding the error, which cuts the body short.
                Err(e) => return Some((Err(e), None)),
            };
            Some((encode(&rows), after))
        }
    });
    let body = first_chunk.chain(rest).map(|chunk| {
        chunk.map_err(|e| {
            tracing::error!(code = e.code(), "export stopped after its first page");
            std::io::Error::other(format!("export stopped: {}", e.code()))
        })
    });
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_CSV));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_and_text_are_kept() {
        assert_eq!(defuse("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(defuse("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(defuse("-2+3"), "'-2+3");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("\t=1"), "'\t=1");
        assert_eq!(defuse("+14155550100"), "+14155550100");
        assert_eq!(defuse("-3.5"), "-3.5");
        assert_eq!(defuse("Ada"), "Ada");
        assert_eq!(defuse(""), "");
        assert_eq!(defuse("-"), "'-");
        assert_eq!(defuse("+1."), "'+1.");
    }

    #[test]
    fn cells_are_quoted_as_rfc_4180_says() {
        let rows = vec![vec!["a,b".to_owned(), "say \"hi\"".to_owned(), "two\nlines".to_owned(), "plain".to_owned()]];
        let bytes = encode(&rows).expect("encodes");
        assert_eq!(&bytes[..], b"\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\r\n");
    }
}
