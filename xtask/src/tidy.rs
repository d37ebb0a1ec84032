//! The tidy checks: rules about the repository that the compiler cannot see.
//!
//! Each check is a function returning the problems it found, run by `cargo xtask tidy` and by
//! `cargo xtask ci`, and each is also an ordinary `#[test]` below so that `cargo test` enforces it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::{cargo, project_root};

/// Crates that do I/O or bring a runtime; none may be a normal dependency of `roster-domain`,
/// directly or transitively. A name also covers its family (`sqlx` covers `sqlx-core`, …).
const FORBIDDEN_IN_DOMAIN: &[&str] =
    &["sea-orm", "sea-query", "sqlx", "axum", "hyper", "tower", "reqwest", "tokio", "rusqlite", "lettre"];

const DOMAIN_PACKAGE: &str = "roster-domain";

/// The feature sets the domain's tree is checked with: as an application builds it, and as its
/// own integration tests build it (`mocks` brings mockall). `cargo metadata` unifies features
/// across the workspace, dev-dependencies included, and the domain's tests enable `mocks` on
/// itself, so today both runs see the `mocks` tree; the second run keeps the check honest should
/// that dev-dependency go away.
const DOMAIN_FEATURE_SETS: &[&[&str]] = &[&[], &["roster-domain/mocks"]];

/// Folders whose Rust sources are scanned for unfinished code.
const SOURCE_ROOTS: &[&str] = &["crates", "xtask", "tests"];

pub(crate) fn run() -> anyhow::Result<()> {
    let root = project_root();
    let mut problems = Vec::new();
    for features in DOMAIN_FEATURE_SETS {
        problems.extend(domain_io_problems(&root, features)?);
    }
    problems.extend(unfinished_code_problems(&root)?);
    problems.extend(module_doc_problems(&root)?);
    problems.extend(tracker_reference_problems(&root)?);
    problems.extend(storage_in_handlers_problems(&root)?);
    if problems.is_empty() {
        eprintln!("tidy: all checks passed");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy problem(s), listed above", problems.len())
}

// ---- (a) the domain does no I/O -------------------------------------------------------------

/// The parts of `cargo metadata --format-version 1` this check reads.
#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    resolve: Option<Resolve>,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
struct DepKind {
    /// `None` for a normal dependency, else `"dev"` or `"build"`.
    kind: Option<String>,
}

/// Runs `cargo metadata` with `features` and reports every forbidden crate in the domain's normal
/// dependency tree, with the chain that brings it in.
fn domain_io_problems(root: &Path, features: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut command = Command::new(cargo());
    command.args(["metadata", "--format-version", "1"]).current_dir(root);
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    let output = command.output().context("could not start `cargo metadata`")?;
    if !output.status.success() {
        bail!("`cargo metadata` failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let metadata: Metadata =
        serde_json::from_slice(&output.stdout).context("could not parse the output of `cargo metadata`")?;
    let with =
        if features.is_empty() { "default features".to_owned() } else { format!("--features {}", features.join(",")) };
    Ok(forbidden_chains(&metadata, DOMAIN_PACKAGE)?
        .into_iter()
        .map(|chain| {
            format!(
                "{DOMAIN_PACKAGE} must do no I/O, but with {with} its normal dependencies \
                 include {}",
                chain.join(" -> ")
            )
        })
        .collect())
}

fn is_forbidden(name: &str) -> bool {
    FORBIDDEN_IN_DOMAIN
        .iter()
        .any(|forbidden| name == *forbidden || name.strip_prefix(forbidden).is_some_and(|rest| rest.starts_with('-')))
}

/// Walks the resolve graph from the workspace member `root_name`, following only normal
/// dependency edges, and returns for each forbidden crate reached the chain of names that leads to
/// it. The graph `cargo metadata` gives has the features of the whole workspace unified (and covers
/// every target platform), so it can only hold more than a build of the domain alone: the check
/// errs on the strict side.
fn forbidden_chains(metadata: &Metadata, root_name: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let names: HashMap<&str, &str> = metadata.packages.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    let root = metadata
        .workspace_members
        .iter()
        .find(|id| names.get(id.as_str()) == Some(&root_name))
        .with_context(|| format!("`{root_name}` is not a member of the workspace"))?;
    let nodes: HashMap<&str, &Node> = metadata
        .resolve
        .as_ref()
        .context("`cargo metadata` gave no resolve graph")?
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n))
        .collect();

    let mut parent: HashMap<&str, &str> = HashMap::new();
    let mut seen: HashSet<&str> = HashSet::from([root.as_str()]);
    let mut queue = VecDeque::from([root.as_str()]);
    let mut found = Vec::new();
    while let Some(id) = queue.pop_front() {
        let node = nodes.get(id).with_context(|| format!("`{id}` is missing from the resolve graph"))?;
        let normal = node.deps.iter().filter(|dep| dep.dep_kinds.iter().any(|k| k.kind.is_none()));
        for dep in normal {
            let dep_id = dep.pkg.as_str();
            if !seen.insert(dep_id) {
                continue;
            }
            parent.insert(dep_id, id);
            if is_forbidden(names.get(dep_id).copied().unwrap_or(dep_id)) {
                found.push(chain_to(dep_id, &parent, &names));
            } else {
                queue.push_back(dep_id);
            }
        }
    }
    Ok(found)
}

fn chain_to(id: &str, parent: &HashMap<&str, &str>, names: &HashMap<&str, &str>) -> Vec<String> {
    let mut chain = vec![id];
    while let Some(&up) = parent.get(chain[chain.len() - 1]) {
        chain.push(up);
    }
    chain.into_iter().rev().map(|id| names.get(id).copied().unwrap_or(id).to_owned()).collect()
}

// ---- (b) no unfinished code -----------------------------------------------------------------

/// Built with `concat!` so that this file does not match its own check.
const UNFINISHED_MARKERS: &[&str] = &[concat!("todo", "!("), concat!("unimplemented", "!(")];

fn unfinished_code_problems(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for dir in SOURCE_ROOTS {
        for file in rust_files(&root.join(dir))? {
            let text = fs::read_to_string(&file).with_context(|| format!("could not read {}", file.display()))?;
            for (line_no, marker) in unfinished_markers_in(&text) {
                problems.push(format!(
                    "{}:{line_no}: `{marker}` is unfinished code; finish it or leave it out",
                    relative(root, &file)
                ));
            }
        }
    }
    Ok(problems)
}

/// The 1-based line numbers and markers of the unfinished-code macros in `text`.
fn unfinished_markers_in(text: &str) -> Vec<(usize, &'static str)> {
    text.lines()
        .enumerate()
        .flat_map(|(index, line)| {
            UNFINISHED_MARKERS
                .iter()
                .filter(move |marker| line.contains(**marker))
                .map(move |marker| (index + 1, *marker))
        })
        .collect()
}

/// Every `.rs` file below `dir` (none if it does not exist), skipping build output and hidden
/// folders, in a stable order.
fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if !dir.is_dir() {
            continue;
        }
        let entries = fs::read_dir(&dir).with_context(|| format!("could not list {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

// ---- (c) every crate says what it owns --------------------------------------------------------

fn module_doc_problems(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut crate_dirs = vec![root.join("xtask")];
    let crates = root.join("crates");
    for entry in fs::read_dir(&crates).with_context(|| format!("could not list {}", crates.display()))? {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            crate_dirs.push(path);
        }
    }
    crate_dirs.sort();

    let mut problems = Vec::new();
    for dir in crate_dirs {
        let roots: Vec<PathBuf> =
            ["src/lib.rs", "src/main.rs"].iter().map(|file| dir.join(file)).filter(|path| path.is_file()).collect();
        if roots.is_empty() {
            problems.push(format!("{} has neither src/lib.rs nor src/main.rs", relative(root, &dir)));
        }
        for file in roots {
            let text = fs::read_to_string(&file).with_context(|| format!("could not read {}", file.display()))?;
            if !opens_with_module_doc(&text) {
                problems.push(format!(
                    "{} must open with a `//!` comment saying what the crate owns",
                    relative(root, &file)
                ));
            }
        }
    }
    Ok(problems)
}

fn opens_with_module_doc(text: &str) -> bool {
    text.lines().find(|line| !line.trim().is_empty()).is_some_and(|line| line.trim_start().starts_with("//!"))
}

// ---- (d) comments speak of the product, not of the tracker ----------------------------------

/// A comment says what the code does and why; a tracker's issue number means nothing to the
/// reader of the code (and outlives the tracker), so none may appear in a comment.
fn tracker_reference_problems(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for dir in SOURCE_ROOTS {
        for file in rust_files(&root.join(dir))? {
            let text = fs::read_to_string(&file).with_context(|| format!("could not read {}", file.display()))?;
            for line_no in issue_numbers_in_comments(&text) {
                problems.push(format!(
                    "{}:{line_no}: a comment names an issue number; say what the code does instead",
                    relative(root, &file)
                ));
            }
        }
    }
    Ok(problems)
}

/// The 1-based numbers of the lines whose comment (`//`, `///`, `//!` or `/* … */`) names an
/// issue by number: the word `issue` or `issues`, then a number, optionally after `#` or `-`.
fn issue_numbers_in_comments(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| comment_of(line).is_some_and(names_an_issue))
        .map(|(index, _)| index + 1)
        .collect()
}

/// The comment part of a line of Rust: from the first `//` or `/*` outside a string or
/// character literal. (A string spanning lines is read line by line; a line inside one may be
/// taken for code, which errs on the side of reporting nothing.)
fn comment_of(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', _) if in_string => i += 1,
            (b'"', _) => in_string = !in_string,
            // A character literal holding a quote: `'"'`.
            (b'\'', Some(b'"')) if !in_string && bytes.get(i + 2) == Some(&b'\'') => i += 2,
            (b'/', Some(b'/' | b'*')) if !in_string => return Some(&line[i..]),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether `comment` holds the word `issue` (or `issues`) followed by a number.
fn names_an_issue(comment: &str) -> bool {
    let lower = comment.to_ascii_lowercase();
    lower.match_indices("issue").any(|(at, word)| {
        let starts_word = !lower[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest = lower[at + word.len()..].strip_prefix('s').unwrap_or(&lower[at + word.len()..]);
        let rest = rest.trim_start_matches([' ', '#', '-']);
        starts_word && rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

// ---- (e) handlers translate; use cases touch storage ----------------------------------------

/// Where the storage ports are declared.
const PORTS_DIR: &str = "crates/domain/src/ports";

/// The HTTP adapter's sources.
const HTTP_SRC: &str = "crates/adapters-http/src";
/// The console's sources, which hold no port either.
const CONSOLE_SRC: &str = "crates/adapters-console/src";

/// The HTTP adapter's files that may name a storage port, and why: the application state that
/// holds the `Idempotency-Key` records, and the middleware that replays them — a protocol
/// concern of HTTP with its own port, not a use case.
const STORAGE_ALLOWED_IN_HTTP: &[&str] = &["state.rs", "idempotency.rs"];

/// A handler parses, calls one use case on `Services` and renders; it never reaches a store or
/// repository port itself (the use case owns the transaction and the rules). Reported: every
/// line of the HTTP adapter (outside [`STORAGE_ALLOWED_IN_HTTP`]) and of the console that names a storage port —
/// `Store`, `Tx`, or a trait of the ports named `…Repository` or declared in `ports/store.rs`.
fn storage_in_handlers_problems(root: &Path) -> anyhow::Result<Vec<String>> {
    let ports = storage_ports(&root.join(PORTS_DIR))?;
    if ports.is_empty() {
        bail!("no storage port found under {PORTS_DIR}: the check would pass vacuously");
    }
    let http = root.join(HTTP_SRC);
    let console = root.join(CONSOLE_SRC);
    let mut problems = Vec::new();
    for file in rust_files(&http)?.into_iter().chain(rust_files(&console)?) {
        let name = relative(&http, &file);
        if file.starts_with(&http) && STORAGE_ALLOWED_IN_HTTP.contains(&name.as_str()) {
            continue;
        }
        let text = fs::read_to_string(&file).with_context(|| format!("could not read {}", file.display()))?;
        for (line_no, port) in port_names_in(&text, &ports) {
            problems.push(format!(
                "{}:{line_no}: names the storage port `{port}`; call a use case on `Services` instead",
                relative(root, &file)
            ));
        }
    }
    Ok(problems)
}

/// The storage ports declared under `dir`: `Store`, `Tx`, every trait named `…Repository`, and
/// every trait of `store.rs` (the audit log and the outbox are storage too).
fn storage_ports(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut ports = Vec::new();
    for file in rust_files(dir)? {
        let text = fs::read_to_string(&file).with_context(|| format!("could not read {}", file.display()))?;
        let in_store = file.file_name().is_some_and(|n| n == "store.rs");
        for name in traits_declared_in(&text) {
            if in_store || name == "Store" || name == "Tx" || name.ends_with("Repository") {
                ports.push(name);
            }
        }
    }
    ports.sort();
    ports.dedup();
    Ok(ports)
}

/// The names of the `pub trait`s declared in `text`.
fn traits_declared_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("pub trait "))
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The 1-based line numbers of the code (comments left out) in `text` that names one of
/// `ports` as a whole word, with the port named.
fn port_names_in(text: &str, ports: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = comment_of(line).map_or(line, |comment| &line[..line.len() - comment.len()]);
        let words = code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        if let Some(port) = words.into_iter().find(|word| ports.iter().any(|p| p == word)) {
            found.push((index + 1, port.to_owned()));
        }
    }
    found
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_no_problems(problems: &[String]) {
        assert!(problems.is_empty(), "tidy problems:\n{}", problems.join("\n"));
    }

    #[test]
    fn the_domain_depends_on_no_io_crate_with_default_features() {
        assert_no_problems(&domain_io_problems(&project_root(), &[]).unwrap());
    }

    #[test]
    fn the_domain_depends_on_no_io_crate_with_its_mocks_feature() {
        assert_no_problems(&domain_io_problems(&project_root(), &["roster-domain/mocks"]).unwrap());
    }

    #[test]
    fn no_source_file_holds_unfinished_code() {
        assert_no_problems(&unfinished_code_problems(&project_root()).unwrap());
    }

    #[test]
    fn every_crate_opens_with_a_module_doc() {
        assert_no_problems(&module_doc_problems(&project_root()).unwrap());
    }

    /// A graph: domain -(normal)-> a -(normal)-> tokio; domain -(dev)-> sqlx;
    /// domain -(normal)-> mockall; domain -(build)-> hyper.
    fn sample_metadata(a_to_tokio_kind: Option<&str>) -> Metadata {
        let node = |id: &str, deps: serde_json::Value| serde_json::json!({ "id": id, "deps": deps });
        let dep = |pkg: &str, kind: Option<&str>| {
            let kinds = serde_json::json!([{ "kind": kind, "target": null }]);
            serde_json::json!({ "pkg": pkg, "dep_kinds": kinds })
        };
        let packages: Vec<serde_json::Value> = ["domain", "a", "tokio", "sqlx", "mockall", "hyper"]
            .iter()
            .map(|n| {
                let name = if *n == "domain" { DOMAIN_PACKAGE } else { n };
                serde_json::json!({ "id": format!("id-{n}"), "name": name })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "packages": packages,
            "workspace_members": ["id-domain"],
            "resolve": { "nodes": [
                node("id-domain", serde_json::json!([
                    dep("id-a", None), dep("id-sqlx", Some("dev")),
                    dep("id-mockall", None), dep("id-hyper", Some("build")),
                ])),
                node("id-a", serde_json::json!([dep("id-tokio", a_to_tokio_kind)])),
                node("id-tokio", serde_json::json!([])),
                node("id-sqlx", serde_json::json!([])),
                node("id-mockall", serde_json::json!([])),
                node("id-hyper", serde_json::json!([])),
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn a_forbidden_crate_reached_through_normal_dependencies_is_reported_with_its_chain() {
        let chains = forbidden_chains(&sample_metadata(None), DOMAIN_PACKAGE).unwrap();
        assert_eq!(chains, vec![vec!["roster-domain", "a", "tokio"]]);
    }

    #[test]
    fn forbidden_crates_reached_only_through_dev_or_build_dependencies_are_allowed() {
        let chains = forbidden_chains(&sample_metadata(Some("dev")), DOMAIN_PACKAGE).unwrap();
        assert!(chains.is_empty(), "{chains:?}");
    }

    #[test]
    fn a_forbidden_name_covers_its_family_but_not_lookalikes() {
        assert!(is_forbidden("tokio"));
        assert!(is_forbidden("sqlx-core"));
        assert!(is_forbidden("sea-orm-macros"));
        assert!(!is_forbidden("tokiox"));
        assert!(!is_forbidden("mockall"));
        assert!(!is_forbidden("async-lock"));
    }

    #[test]
    fn unfinished_code_is_found_with_its_line_number() {
        let text = format!("fn a() {{}}\nfn b() {{ {}) }}\n", UNFINISHED_MARKERS[0]);
        assert_eq!(unfinished_markers_in(&text), vec![(2, UNFINISHED_MARKERS[0])]);
        assert!(unfinished_markers_in("fn todo() {}\n").is_empty());
    }

    #[test]
    fn no_comment_names_an_issue_number() {
        assert_no_problems(&tracker_reference_problems(&project_root()).unwrap());
    }

    #[test]
    fn comments_naming_an_issue_number_are_found_with_their_line_numbers() {
        // Built with `concat!` so that this file does not match its own check.
        let word = concat!("iss", "ue");
        let text = [
            format!("// Fixes {word} 12."),
            format!("/// As {word} #12 asked."),
            format!("//! The seats (SPEC §4.2, {word} 4)."),
            format!("let x = 1; // see {word}-3"),
            format!("/* {word}s 3 and 4 */"),
            format!("// An {word} with the seats, not a number: {word}d 12 times"),
            format!("let s = \"// {word} 12 inside a string\";"),
            format!("let c = '\"'; // re{word} 12 is a word of its own"),
            "// Nothing to see.".to_owned(),
        ]
        .join("\n");
        assert_eq!(issue_numbers_in_comments(&text), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn no_http_handler_reaches_a_storage_port() {
        assert_no_problems(&storage_in_handlers_problems(&project_root()).unwrap());
    }

    #[test]
    fn the_storage_ports_are_found_where_they_are_declared() {
        let ports = storage_ports(&project_root().join(PORTS_DIR)).unwrap();
        for port in ["Store", "Tx", "UserRepository", "AuditLog", "SessionRepository", "IdempotencyRepository"] {
            assert!(ports.iter().any(|p| p == port), "{port} missing from {ports:?}");
        }
        assert!(!ports.iter().any(|p| p == "Clock" || p == "CrmDirectory"), "{ports:?}");
    }

    #[test]
    fn a_storage_port_named_in_code_is_found_but_not_in_a_comment_or_a_longer_word() {
        let ports = vec!["Tx".to_owned(), "UserRepository".to_owned()];
        let text = [
            "use roster_domain::ports::{Tx, Clock};",
            "// a Tx in a comment",
            "let TxLike = 1;",
            "fn f(r: &dyn UserRepository) {}",
        ]
        .join("\n");
        assert_eq!(port_names_in(&text, &ports), vec![(1, "Tx".to_owned()), (4, "UserRepository".to_owned())]);
        assert_eq!(traits_declared_in("pub trait Store: Send {\n    fn x();\n}\npub trait Tx:\n"), ["Store", "Tx"]);
    }

    #[test]
    fn a_module_doc_must_come_first() {
        assert!(opens_with_module_doc("\n//! Owns things.\nfn main() {}\n"));
        assert!(!opens_with_module_doc("use std::io;\n//! Too late.\n"));
        assert!(!opens_with_module_doc("/// An item doc, not a module doc.\nfn main() {}\n"));
        assert!(!opens_with_module_doc(""));
    }
}
