//! The CSV directory over real files: what it tolerates (BOM, quoting, CRLF, extra columns,
//! other delimiters), what it refuses or skips (with line numbers), reloading, and that it
//! answers exactly like the domain's in-memory directory.

use std::path::PathBuf;

use proptest::prelude::*;
use roster_adapters_crm::csv::{Field, HeaderProblem};
use roster_adapters_crm::{CsvDirectory, CsvError};
use roster_domain::ports::{CrmDirectory, CrmError, CrmUser};
use roster_domain::values::{CrmId, Email, PersonName};
use roster_testkit::{CRM_PAGE_SIZE, InMemoryCrmDirectory};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("writes the file");
    path
}

fn id(value: &str) -> CrmId {
    CrmId::parse(value).expect("a CRM id")
}

#[tokio::test]
async fn a_salesforce_export_with_bom_crlf_quoting_and_extra_columns_reads() {
    let dir = TempDir::new().expect("a temporary directory");
    let text = "\u{feff}Id,FirstName,LastName,Email,Phone,MobilePhone,IsActive,Title,Department,SystemModstamp\r\n\
                005xx000001SvQwAAK,Ada,Lovelace,ADA@acme.io,+44 20 7946 0958,,true,\"Head of Engines, R&D\",Eng,2024-01-31T09:30:15.000+0000\r\n\
                005xx000001SvQxAAK,\"Grace \"\"Amazing\"\"\",Hopper,grace@acme.io,(415) 555-0100,+1 415 555 0101,false,\"Rear\r\nAdmiral\",Navy,2024-02-01T00:00:00.000+0000\r\n\
                \r\n";
    let path = write(&dir, "users.csv", text.as_bytes());
    let directory = CsvDirectory::open(&path).expect("reads");

    assert_eq!(directory.len(), 2);
    assert!(directory.problems().iter().all(|p| !p.skipped), "{:?}", directory.problems());
    let users = directory.get(&[id("005xx000001SvQxAAK"), id("005xx000001SvQwAAK")]).await.expect("answers");
    let grace = &users[0];
    assert_eq!(grace.first_name.as_str(), "Grace \"Amazing\"");
    assert_eq!(grace.title.as_deref(), Some("Rear Admiral"));
    assert!(!grace.active);
    // The office phone is not international; the mobile one is, and is used.
    assert_eq!(grace.phone.as_ref().map(|p| p.as_str()), Some("+14155550101"));
    let ada = &users[1];
    assert_eq!(ada.email.as_str(), "ada@acme.io");
    assert_eq!(ada.title.as_deref(), Some("Head of Engines, R&D"));
    assert_eq!(ada.phone.as_ref().map(|p| p.as_str()), Some("+442079460958"));
    // The dropped office phone is listed against Grace's line, which is 3.
    let problems = directory.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].line, problems[0].field, problems[0].skipped), (3, Some(Field::Phone), false));

    let changed = directory.list_changed_since(datetime!(2024-01-31 09:30:16 UTC)).await.expect("answers");
    assert_eq!(changed.iter().map(|u| u.last_name.as_str()).collect::<Vec<_>>(), ["Hopper"]);
}

#[tokio::test]
async fn snake_case_headers_in_any_order_semicolons_and_no_optional_columns() {
    let dir = TempDir::new().expect("a temporary directory");
    let path = write(&dir, "users.csv", b"email;last_name;first_name;crm_id\nbo@acme.io;Bo;Ek;b1\n");
    let directory = CsvDirectory::open(&path).expect("reads");
    let page = directory.search("EK BO", 0).await.expect("searches");
    assert_eq!(page.users.len(), 1);
    let bo = &page.users[0];
    assert_eq!((bo.crm_id.as_str(), bo.first_name.as_str(), bo.active, bo.phone.is_none()), ("b1", "Ek", true, true));
    // Without a modification column every row changed when the file did.
    let modified = OffsetDateTime::from(std::fs::metadata(&path).expect("metadata").modified().expect("mtime"));
    assert_eq!(directory.list_changed_since(modified).await.expect("answers").len(), 1);
}

#[test]
fn broken_quoting_refuses_the_file_listing_every_broken_line() {
    let dir = TempDir::new().expect("a temporary directory");
    let text = "crm_id,first_name,last_name,email\n\
                a1,Ada,Lovelace,ada@acme.io\n\
                a2,\"Bob\"by,Builder,bob@acme.io\n\
                a3,Cy,O\"Neil,cy@acme.io\n\
                a4,Di,Ok,di@acme.io\n\
                a5,\"Ed,Never,ed@acme.io\n\
                a6,Fay,Closed,fay@acme.io\n";
    let path = write(&dir, "users.csv", text.as_bytes());
    let error = CsvDirectory::open(&path).expect_err("refused");
    let CsvError::Syntax { problems, .. } = &error else { panic!("{error:?}") };
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [3, 4, 6]);
    let message = error.to_string();
    assert!(message.contains("broken quoting on 3 line(s)") && message.contains("line 6: a quoted field"), "{message}");
}

#[test]
fn a_missing_required_header_is_named() {
    let dir = TempDir::new().expect("a temporary directory");
    let path = write(&dir, "users.csv", b"Id,Name,Email\n005xx000001SvQwAAK,Ada Lovelace,ada@acme.io\n");
    let error = CsvDirectory::open(&path).expect_err("refused");
    let CsvError::Header { problem: HeaderProblem::Missing { missing, .. }, line, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((missing.as_slice(), *line), ([Field::FirstName, Field::LastName].as_slice(), 1));
    assert!(error.to_string().contains("no column for first_name"), "{error}");
}

#[test]
fn an_empty_file_and_a_file_not_in_utf8_are_refused() {
    let dir = TempDir::new().expect("a temporary directory");
    let empty = write(&dir, "empty.csv", b"\xef\xbb\xbf\r\n");
    assert!(matches!(CsvDirectory::open(&empty), Err(CsvError::Empty { .. })));
    let latin1 = write(&dir, "latin1.csv", b"crm_id,first_name,last_name,email\na1,Ren\xe9,Roe,r@acme.io\n");
    assert!(matches!(CsvDirectory::open(&latin1), Err(CsvError::NotUtf8 { line: 2, .. })));
    let missing = dir.path().join("missing.csv");
    assert!(matches!(CsvDirectory::open(&missing), Err(CsvError::Io { .. })));
}

#[tokio::test]
async fn bad_rows_are_skipped_and_listed_by_line() {
    let dir = TempDir::new().expect("a temporary directory");
    let text = "crm_id,first_name,last_name,email,active\n\
                a1,Ada,Lovelace,ada@acme.io,yes\n\
                a2,Bob,Builder,not-an-address,yes\n\
                a3,,Blank,blank@acme.io,yes\n\
                a1,Ada,Again,again@acme.io,yes\n\
                a4,Cy,Shift,cy@acme.io,yes,extra\n\
                a5,Di,Maybe,di@acme.io,perhaps\n\
                bad id!,Ed,Id,ed@acme.io,no\n\
                a6,Fay,Fine,fay@acme.io,no\n";
    let path = write(&dir, "users.csv", text.as_bytes());
    let directory = CsvDirectory::open(&path).expect("reads the good rows");

    let kept = directory.get(&[id("a1"), id("a2"), id("a6")]).await.expect("answers");
    assert_eq!(kept.iter().map(|u| u.last_name.as_str()).collect::<Vec<_>>(), ["Lovelace", "Fine"]);
    let problems = directory.problems();
    let summary: Vec<(usize, Option<Field>)> = problems.iter().map(|p| (p.line, p.field)).collect();
    assert_eq!(
        summary,
        [
            (3, Some(Field::Email)),
            (4, Some(Field::FirstName)),
            (5, Some(Field::Id)),
            (6, None),
            (7, Some(Field::Active)),
            (8, Some(Field::Id)),
        ]
    );
    assert!(problems.iter().all(|p| p.skipped));
    assert_eq!(problems[2].to_string(), "line 5: crm_id a1 is already on line 2; the first row is kept");
    assert!(problems[3].to_string().contains("has 6 fields, the header has 5"), "{}", problems[3]);
}

#[tokio::test]
async fn an_edited_file_is_read_again_and_a_broken_edit_fails_calls_until_fixed() {
    let dir = TempDir::new().expect("a temporary directory");
    let header = "crm_id,first_name,last_name,email\n";
    let path = write(&dir, "users.csv", format!("{header}a1,Ada,Lovelace,ada@acme.io\n").as_bytes());
    let directory = CsvDirectory::open(&path).expect("reads");
    assert_eq!(directory.search("", 0).await.expect("searches").users.len(), 1);

    // A different size is a change even within the file system's time resolution.
    std::fs::write(&path, format!("{header}a1,Ada,Lovelace,ada@acme.io\nb2,Bob,Builder,bob@acme.io\n"))
        .expect("rewrites");
    assert_eq!(directory.search("", 0).await.expect("searches").users.len(), 2);

    std::fs::write(&path, format!("{header}a1,\"Ada,Lovelace,ada@acme.io\n")).expect("breaks it");
    let error = directory.search("", 0).await.expect_err("broken");
    assert!(matches!(&error, CrmError::Protocol(m) if m.contains("line 2")), "{error:?}");

    std::fs::remove_file(&path).expect("removes");
    assert!(matches!(directory.search("", 0).await, Err(CrmError::Unavailable(_))));
}

#[tokio::test]
async fn the_example_export_shipped_for_demos_reads_cleanly() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/crm-users.example.csv");
    let directory = CsvDirectory::open(&path).expect("reads");
    assert_eq!(directory.len(), 6);
    // Alan's office phone is in national form: dropped from his row, which is kept.
    let problems: Vec<(usize, Option<Field>, bool)> =
        directory.problems().iter().map(|p| (p.line, p.field, p.skipped)).collect();
    assert_eq!(problems, [(4, Some(Field::Phone), false)]);
    assert_eq!(directory.search("sales", 0).await.expect("searches").users.len(), 0);
    assert_eq!(directory.search("o'neil", 0).await.expect("searches").users.len(), 1);
}

// ---- Same answers as the domain's in-memory directory ------------------------------------

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn users_strategy() -> impl Strategy<Value = Vec<(CrmUser, OffsetDateTime)>> {
    let first = prop::sample::select(vec!["Ada", "Bob", "Åsa", "Zoë", "Mary Ann", "O'Neil", "Li, Jr"]);
    let last = prop::sample::select(vec!["Lovelace", "Builder", "Ek", "Doe", "Van Dyke", "\"Q\""]);
    let user = (first, last, 0u32..3, 0i64..5);
    prop::collection::vec(user, 0..130).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(n, (first, last, active, days))| {
                let email = format!("user.{n}@acme.io");
                let user = CrmUser {
                    crm_id: CrmId::parse(&format!("id{n}")).expect("valid"),
                    first_name: PersonName::parse(first).expect("valid"),
                    last_name: PersonName::parse(last).expect("valid"),
                    email: Email::parse(&email).expect("valid"),
                    phone: None,
                    active: active != 0,
                    title: None,
                };
                (user, datetime!(2024-01-01 0:00 UTC) + time::Duration::days(days))
            })
            .collect()
    })
}

fn to_csv(users: &[(CrmUser, OffsetDateTime)]) -> String {
    let mut text = String::from("\u{feff}Id,FirstName,LastName,Email,IsActive,LastModifiedDate\r\n");
    for (u, at) in users {
        let at = at.format(&time::format_description::well_known::Rfc3339).expect("formats");
        let row =
            [u.crm_id.as_str(), u.first_name.as_str(), u.last_name.as_str(), u.email.as_str()].map(csv_field).join(",");
        text.push_str(&format!("{row},{},{at}\r\n", u.active));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The CSV directory of a file and the in-memory directory of the same users answer every
    /// call alike: search pages, get, changes since.
    #[test]
    fn answers_like_the_in_memory_directory(
        users in users_strategy(),
        query in prop::sample::select(vec!["", "a", "ADA", "ada lovelace", "o'neil", ".1", "li, jr", "\"q\"", "zz", "Å"]),
        page in 0u32..3,
        asked in prop::collection::vec(0usize..140, 0..20),
        since_days in 0i64..6,
    ) {
        prop_assert_eq!(CRM_PAGE_SIZE, roster_adapters_crm::salesforce::SEARCH_PAGE_SIZE as usize);
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        let dir = TempDir::new().expect("a temporary directory");
        let path = write(&dir, "users.csv", to_csv(&users).as_bytes());
        let csv = CsvDirectory::open(&path).expect("reads");
        prop_assert!(csv.problems().is_empty(), "{:?}", csv.problems());
        let memory = InMemoryCrmDirectory::new(users);
        let ids: Vec<CrmId> = asked.iter().map(|n| id(&format!("id{n}"))).collect();
        let since = datetime!(2024-01-01 0:00 UTC) + time::Duration::days(since_days);
        runtime.block_on(async {
            let (a, b) = (csv.search(query, page).await.expect("csv"), memory.search(query, page).await.expect("memory"));
            prop_assert_eq!(a, b);
            prop_assert_eq!(csv.get(&ids).await.expect("csv"), memory.get(&ids).await.expect("memory"));
            prop_assert_eq!(
                csv.list_changed_since(since).await.expect("csv"),
                memory.list_changed_since(since).await.expect("memory")
            );
            Ok(())
        })?;
    }
}
