//! A strict RFC 4180 reader that keeps line numbers.
//!
//! Records end at `\n`, `\r\n` or a lone `\r` outside quotes; a field that starts with `"` is
//! quoted, may hold delimiters and line breaks, and writes a quote as `""`. Line breaks inside a
//! quoted field come out as `\n`. Broken quoting is an error, not a guess: a quote inside an
//! unquoted field, text after a closing quote, and a quoted field that never closes. After an
//! error on a line the reader resumes at the next line, so one pass lists every broken line
//! (except after an unclosed quote, which swallows the rest of the file).

use std::fmt;

/// One record with the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The 1-based line of the file the record starts on.
    pub line: usize,
    /// Its fields, unquoted.
    pub fields: Vec<String>,
}

/// Broken quoting at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxProblem {
    /// The 1-based line of the file.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for SyntaxProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Every record of `text` (without a byte-order mark), or every line with broken quoting.
///
/// # Errors
/// Every line with broken quoting, in order.
pub fn read(text: &str, delimiter: char) -> Result<Vec<Record>, Vec<SyntaxProblem>> {
    let mut reader = Reader { chars: text.chars().peekable(), line: 1 };
    let mut records = Vec::new();
    let mut problems = Vec::new();
    while reader.chars.peek().is_some() {
        let start = reader.line;
        match reader.record(delimiter) {
            Ok(fields) => records.push(Record { line: start, fields }),
            Err((line, message)) => {
                problems.push(SyntaxProblem { line, message });
                reader.skip_line();
            }
        }
    }
    if problems.is_empty() { Ok(records) } else { Err(problems) }
}

/// The delimiter of a file whose first line is `header`: the most frequent of `,`, `;` and tab
/// outside quotes (spreadsheets in many locales export `;`), a comma when there is none.
pub fn sniff_delimiter(header: &str) -> char {
    let mut counts = [(',', 0usize), (';', 0), ('\t', 0)];
    let mut quoted = false;
    for c in header.chars() {
        if !quoted && matches!(c, '\n' | '\r') {
            break;
        }
        if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in &mut counts {
                if *d == c {
                    *n += 1;
                }
            }
        }
    }
    counts.iter().copied().filter(|(_, n)| *n > 0).max_by_key(|(_, n)| *n).map_or(',', |(d, _)| d)
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

type Failure = (usize, String);

impl Reader<'_> {
    /// Consumes a line break if one is next (`\r\n` counts once); answers whether it did.
    fn line_break(&mut self) -> bool {
        match self.chars.peek() {
            Some('\n') => {
                self.chars.next();
            }
            Some('\r') => {
                self.chars.next();
                if self.chars.peek() == Some(&'\n') {
                    self.chars.next();
                }
            }
            _ => return false,
        }
        self.line += 1;
        true
    }

    fn skip_line(&mut self) {
        while self.chars.peek().is_some() && !self.line_break() {
            self.chars.next();
        }
    }

    fn record(&mut self, delimiter: char) -> Result<Vec<String>, Failure> {
        let mut fields = Vec::new();
        loop {
            let field =
                if self.chars.peek() == Some(&'"') { self.quoted(delimiter)? } else { self.unquoted(delimiter)? };
            fields.push(field);
            match self.chars.peek() {
                Some(c) if *c == delimiter => {
                    self.chars.next();
                }
                _ => {
                    self.line_break();
                    return Ok(fields);
                }
            }
        }
    }

    fn unquoted(&mut self, delimiter: char) -> Result<String, Failure> {
        let mut field = String::new();
        while let Some(&c) = self.chars.peek() {
            if c == delimiter || c == '\n' || c == '\r' {
                break;
            }
            if c == '"' {
                return Err((self.line, format!("a quote inside the unquoted field `{field}\"`")));
            }
            field.push(c);
            self.chars.next();
        }
        Ok(field)
    }

    fn quoted(&mut self, delimiter: char) -> Result<String, Failure> {
        let opened = self.line;
        self.chars.next();
        let mut field = String::new();
        loop {
            match self.chars.peek().copied() {
                None => return Err((opened, "a quoted field opened on this line is never closed".into())),
                Some('"') => {
                    self.chars.next();
                    match self.chars.peek().copied() {
                        Some('"') => {
                            self.chars.next();
                            field.push('"');
                        }
                        None | Some('\n' | '\r') => return Ok(field),
                        Some(c) if c == delimiter => return Ok(field),
                        Some(c) => {
                            return Err((
                                self.line,
                                format!(
                                    "`{c}` after the closing quote of `{field}` (write a quote inside a quoted field as \"\")"
                                ),
                            ));
                        }
                    }
                }
                Some('\n' | '\r') => {
                    self.line_break();
                    field.push('\n');
                }
                Some(c) => {
                    self.chars.next();
                    field.push(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        read(text, ',').expect("reads").into_iter().map(|r| (r.line, r.fields)).collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn quoted_fields_hold_delimiters_quotes_and_line_breaks() {
        let text = "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\"two\r\nlines\",z\r\nlast,row";
        assert_eq!(
            fields(text),
            vec![
                (1, strings(&["a", "b"])),
                (2, strings(&["x, y", "say \"hi\""])),
                (3, strings(&["two\nlines", "z"])),
                (5, strings(&["last", "row"])),
            ]
        );
    }

    #[test]
    fn empty_fields_and_a_trailing_line_break() {
        assert_eq!(fields("a,,\"\"\n"), vec![(1, strings(&["a", "", ""]))]);
    }

    #[test]
    fn every_broken_line_is_listed() {
        let text = "id,name\n1,O\"Brien\n2,\"Smith\"Jr\n3,ok\n4,\"never closed\n5,x\n";
        let problems = read(text, ',').expect_err("broken");
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3, 5]);
        assert!(problems[2].message.contains("never closed"), "{}", problems[2]);
    }

    #[test]
    fn the_delimiter_is_sniffed_from_the_header() {
        assert_eq!(sniff_delimiter("Id;FirstName;\"a,b\"\n1,2,3,4"), ';');
        assert_eq!(sniff_delimiter("id\tname"), '\t');
        assert_eq!(sniff_delimiter("id,name;x,y"), ',');
        assert_eq!(sniff_delimiter("id"), ',');
    }

    fn write_field(field: &str) -> String {
        if field.contains([',', '"', '\n']) || field.is_empty() {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_owned()
        }
    }

    proptest! {
        /// Whatever the fields hold, writing them RFC 4180 style and reading them back gives
        /// them back, with each record's starting line.
        #[test]
        fn written_records_read_back(rows in prop::collection::vec(
            prop::collection::vec("[a-z ,\"\n]{0,6}", 1..4), 1..6)) {
            let mut text = String::new();
            let mut expected = Vec::new();
            let mut line = 1;
            for row in &rows {
                expected.push((line, row.clone()));
                text.push_str(&row.iter().map(|f| write_field(f)).collect::<Vec<_>>().join(","));
                text.push_str("\r\n");
                line += 1 + row.iter().map(|f| f.matches('\n').count()).sum::<usize>();
            }
            prop_assert_eq!(fields(&text), expected);
        }
    }
}
