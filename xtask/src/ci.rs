//! `cargo xtask ci`: the whole check CI runs, in order, stopping at the first failure.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use anyhow::Context as _;

use crate::{Failure, cargo, project_root};

/// The cargo invocations, in the order they run. The tidy checks run after them, in-process.
const STEPS: &[(&str, &[&str])] = &[
    ("fmt", &["fmt", "--all", "--", "--check"]),
    ("clippy", &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]),
    ("test", &["test", "--workspace", "--all-features"]),
];

pub(crate) fn run() -> anyhow::Result<()> {
    let mut totals = TestTotals::default();
    for (name, args) in STEPS {
        eprintln!("==> ci step `{name}`: cargo {}", args.join(" "));
        let mut child = Command::new(cargo())
            .args(*args)
            .current_dir(project_root())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("ci step `{name}`: could not start cargo"))?;
        // Echo the output as it comes and add up cargo test's per-binary summaries, so the
        // run ends with one line that says how many tests ran in all.
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines() {
                let line = line.context("reading cargo's output")?;
                totals.add(&line);
                writeln!(std::io::stdout(), "{line}").context("writing to stdout")?;
            }
        }
        let status = child.wait().with_context(|| format!("ci step `{name}`: cargo did not finish"))?;
        if !status.success() {
            // A process killed by a signal has no code; report it as a plain failure.
            let code = status.code().and_then(|c| u8::try_from(c).ok()).filter(|&c| c != 0).unwrap_or(1);
            return Err(Failure::new(
                code,
                format!("ci step `{name}` failed (`cargo {}` exited with {status})", args.join(" ")),
            )
            .into());
        }
    }
    eprintln!("==> ci step `tidy`");
    crate::tidy::run().context("ci step `tidy` failed")?;
    writeln!(std::io::stdout(), "tests: {} passed, {} failed", totals.passed, totals.failed)
        .context("writing to stdout")?;
    eprintln!("==> ci passed");
    Ok(())
}

/// The sum of the `test result:` lines cargo test prints for each test binary.
#[derive(Debug, Default)]
struct TestTotals {
    passed: u64,
    failed: u64,
}

impl TestTotals {
    fn add(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else { return };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(count)) = (words.next(), words.next()) else { continue };
            let Ok(n) = count.parse::<u64>() else { continue };
            match kind {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    #[test]
    fn test_totals_add_up_every_binary_summary() {
        let mut t = TestTotals::default();
        t.add("test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add("test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.00s");
        t.add("running 5 tests");
        assert_eq!((t.passed, t.failed), (15, 2));
    }
}
