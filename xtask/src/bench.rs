//! `cargo xtask bench`: the performance measurements reported in `docs/PERFORMANCE.md`.
//!
//! No benchmark exists yet. Rather than print numbers that measure nothing, the command says which
//! issue brings each benchmark and fails, so nobody mistakes its exit for a passing run.

use crate::Failure;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let which = match args.first().map(String::as_str) {
        Some("db") => "`bench db` (the persistence benchmarks) arrives with issue 3",
        Some("http") => "`bench http` (the HTTP load benchmarks) arrives with issue 4",
        _ => "`bench db` arrives with issue 3 (persistence) and `bench http` with issue 4 (REST API)",
    };
    Err(Failure::new(2, format!("no benchmark exists yet: {which}")).into())
}
