//! The `roster` binary: reads the configuration, wires the adapters into the domain, and runs the
//! server (API, console, workers) or a CLI command.
//!
//! The `serve` command and the CLI arrive with issue 4. Until then the binary answers `--version`
//! and `--help` and refuses everything else with exit code 2, rather than pretend to run.

use std::io::Write as _;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: roster [--version | --help]

Roster, the admin back office for B2B SaaS products.

Options:
  -V, --version  print the version
  -h, --help     print this message

The server (`roster serve`) and the CLI commands arrive with issue 4.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let written = match args.as_slice() {
        ["--version" | "-V"] => writeln!(std::io::stdout(), "roster {}", env!("CARGO_PKG_VERSION")),
        ["--help" | "-h"] => writeln!(std::io::stdout(), "{USAGE}"),
        _ => {
            eprintln!(
                "roster: the `roster` server and CLI arrive with issue 4; \
                 this build only answers --version and --help"
            );
            return ExitCode::from(2);
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster: could not write to stdout: {error}");
            ExitCode::FAILURE
        }
    }
}
