//! Roster's developer automation, run as `cargo xtask <command>`.
//!
//! Every check that CI runs lives here, so CI only calls `cargo xtask ci` and a developer can run
//! the same thing on their machine. The tidy checks are also ordinary `#[test]`s of this crate, so
//! a plain `cargo test` enforces them too.

mod bench;
mod ci;
mod screenshots;
mod tidy;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
Usage: cargo xtask <command>

Commands:
  ci      fmt check, clippy -D warnings, the tests, then the tidy checks; stops at the first failure
  tidy    the tidy checks alone
  bench   the benchmarks: `bench db`, `bench http`, `bench events` (each with `--help`)
  screenshots [--out DIR]
          a PNG of every page and dialog of the web console (a demo organization of 300 users,
          a headless Chromium at 1440×900) into docs/screenshots, or DIR
  help    this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") if args.len() == 1 => ci::run(),
        Some("tidy") if args.len() == 1 => tidy::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("screenshots") => screenshots::run(&args[1..]),
        Some("help" | "--help" | "-h") => {
            eprintln!("{USAGE}");
            Ok(())
        }
        _ => Err(Failure::new(2, format!("unknown or missing command: `{}`\n\n{USAGE}", args.join(" "))).into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            let code = error.downcast_ref::<Failure>().map_or(1, |f| f.code);
            ExitCode::from(code)
        }
    }
}

/// An error that carries the exit code the process should end with, so that a failing step's own
/// exit code (or a usage error's 2) reaches whoever called `cargo xtask`.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The workspace root: this crate lives in `<root>/xtask`.
pub(crate) fn project_root() -> PathBuf {
    // Read at run time (cargo sets it for `cargo run` and `cargo test`): the value compiled in
    // would name whichever checkout last built the binary, and clones may share a target dir.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    Path::new(&manifest_dir).parent().expect("xtask's manifest lives one level below the workspace root").to_path_buf()
}

/// The cargo that runs us (set by cargo for `cargo run` and `cargo test`), else the one on `PATH`.
pub(crate) fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}
