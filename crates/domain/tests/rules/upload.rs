//! The rows of an uploaded CSV file of users (§10 `POST /users/import`): the file printed with
//! RFC 4180 quoting reads back cell for cell, and the row rules — each row judged on its own
//! values, then a valid row's email or CRM id claimed by the first valid row that has it.

use std::collections::BTreeSet;

use proptest::prelude::*;
use roster_domain::user_csv::{RowVerdict, UploadRow, judge_rows, parse_upload};

/// One cell as RFC 4180 writes it: quoted when it holds a delimiter, a quote or a line break.
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell.to_owned() }
}

/// A cell of free text: letters, spaces, delimiters, quotes, line breaks and a non-ASCII letter.
fn cell() -> impl Strategy<Value = String> {
    "[a-zA-Zé ,;\"\n]{0,8}"
}

/// An email cell: an address or not, never blank (a blank row is no row).
fn email_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{1,2}@[xy]\\.test".prop_map(String::from),
        "[A-C]{1,2}@[XY]\\.test".prop_map(String::from),
        "[a-z,\"]{1,5}".prop_map(String::from),
    ]
}

/// A CRM id cell: blank, or one of a few ids.
fn crm_cell() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "00[5-6][AB]".prop_map(String::from)]
}

fn row() -> impl Strategy<Value = [String; 5]> {
    (email_cell(), cell(), cell(), cell(), crm_cell()).prop_map(|(e, f, l, p, c)| [e, f, l, p, c])
}

fn file(rows: &[[String; 5]]) -> String {
    let mut text = String::from("Email,First Name,last_name,phone,CRM ID\r\n");
    for row in rows {
        text.push_str(&row.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
        text.push_str("\r\n");
    }
    text
}

fn uploaded(rows: &[[String; 5]]) -> Vec<UploadRow> {
    parse_upload(file(rows).as_bytes()).expect("a printed file reads").rows
}

proptest! {
    /// Whatever the cells hold, a file printed with RFC 4180 quoting reads back cell for cell,
    /// one row per printed row, numbered from 1.
    #[test]
    fn a_printed_file_reads_back_cell_for_cell(rows in prop::collection::vec(row(), 1..8)) {
        let read = uploaded(&rows);
        prop_assert_eq!(read.len(), rows.len());
        for (i, (got, want)) in read.iter().zip(&rows).enumerate() {
            prop_assert_eq!(got.row, i as u64 + 1);
            let cells = [&got.email, &got.first_name, &got.last_name, &got.phone, &got.crm_id];
            prop_assert_eq!(cells.map(String::as_str), [&want[0], &want[1], &want[2], &want[3], &want[4]].map(String::as_str));
            prop_assert!(got.misshapen.is_none());
        }
    }

    /// A row's validity is its own: judged alone or among others, a row is invalid exactly when
    /// it is invalid alone. Valid rows claim their email and CRM id in order: no two valid rows
    /// share one, and a duplicate names an earlier valid row holding its email or CRM id.
    #[test]
    fn the_first_valid_row_claims_its_email_and_crm_id(rows in prop::collection::vec(row(), 1..12)) {
        let read = uploaded(&rows);
        let verdicts = judge_rows(&read);
        prop_assert_eq!(verdicts.len(), read.len());
        let mut emails = BTreeSet::new();
        let mut crm_ids = BTreeSet::new();
        for (at, (row, verdict)) in read.iter().zip(&verdicts).enumerate() {
            let alone = judge_rows(std::slice::from_ref(row)).remove(0);
            prop_assert_eq!(matches!(verdict, RowVerdict::Invalid(_)), matches!(alone, RowVerdict::Invalid(_)));
            match verdict {
                RowVerdict::Valid(member) => {
                    prop_assert!(emails.insert(member.email.clone()), "two valid rows share an email");
                    if let Some(id) = &member.crm_id {
                        prop_assert!(crm_ids.insert(id.clone()), "two valid rows share a CRM id");
                    }
                }
                RowVerdict::Duplicate { of_row, .. } => {
                    let first = usize::try_from(*of_row).expect("small") - 1;
                    prop_assert!(first < at);
                    let (RowVerdict::Valid(earlier), RowVerdict::Valid(this)) = (&verdicts[first], alone) else {
                        return Err(TestCaseError::fail("a duplicate of a row that is not valid, or itself invalid"));
                    };
                    prop_assert!(earlier.email == this.email || (earlier.crm_id.is_some() && earlier.crm_id == this.crm_id));
                }
                RowVerdict::Invalid(errors) => prop_assert!(!errors.is_empty()),
            }
        }
    }
}
