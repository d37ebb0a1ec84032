//! `cargo xtask screenshots [--out DIR]`: a PNG of every page and dialog of the web console, as
//! a person sees them over a demo organization of a few hundred users, for README and the docs.
//!
//! It builds the debug `roster` (the console's pages are the same in either build, and the
//! tests have built this one already), generates the organization with `roster demo-data` into
//! a SQLite database in a temporary folder, and runs `roster serve` on a free port of
//! 127.0.0.1 with mail written to an outbox folder there and the sample CRM export
//! (`examples/crm-users.csv`) as the CRM. A headless Chromium (through chromedriver) at
//! 1440×900 CSS pixels and a device scale of 1 then uses the console as a person does: it signs
//! in through `/login`, finds controls by role and accessible name as SPEC §12's contract
//! table names them, and follows the links of the mail in the outbox. Each picture is taken
//! once its page shows what the picture's name says; anything missing fails the command, which
//! then writes no further pictures.

mod browser;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::Failure;
use browser::Browser;

const USAGE: &str = "\
Usage: cargo xtask screenshots [--out DIR]

  --out DIR   where the PNGs go (default docs/screenshots of the repository)

Needs Chromium and chromedriver (Debian: `apt-get install chromium chromium-driver`);
ROSTER_CHROMIUM and ROSTER_CHROMEDRIVER name other binaries.";

/// Users of the demo organization, the admin included.
const USERS: u32 = 300;
/// The organization `demo-data` generates; its admin is `admin@demo.example`.
const ORG: &str = "demo";
const ADMIN: &str = "admin@demo.example";
/// The password `demo-data` gives the admin and the demo members.
const PASSWORD: &str = "screenshots-password-1";
/// The size of every picture, in CSS pixels (and pixels: the device scale is 1).
const WIDTH: u32 = 1440;
const HEIGHT: u32 = 900;
/// How long mail may take to reach the outbox (the mail worker looks every 2 s).
const MAIL_WAIT: Duration = Duration::from_secs(30);

/// `cargo xtask screenshots …`.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let out = match args {
        [] => crate::project_root().join("docs/screenshots"),
        [flag, dir] if flag == "--out" => std::env::current_dir()?.join(dir),
        [flag] if flag == "--help" || flag == "-h" => {
            eprintln!("{USAGE}");
            return Ok(());
        }
        _ => return Err(Failure::new(2, format!("unknown arguments: `{}`\n\n{USAGE}", args.join(" "))).into()),
    };
    let tools = Tools::find()?;
    let started = Instant::now();
    let roster = build_roster()?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let written = runtime.block_on(take_all(&roster, &tools, &out))?;
    for (name, bytes) in &written {
        eprintln!("  {name} ({} KiB)", bytes.div_ceil(1024));
    }
    eprintln!(
        "screenshots: {} pictures in {} ({:.0} s)",
        written.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Chromium and chromedriver, found before anything is built.
struct Tools {
    chromium: PathBuf,
    driver: PathBuf,
}

impl Tools {
    fn find() -> anyhow::Result<Self> {
        let missing = |what: &str| {
            anyhow::Error::from(Failure::new(
                1,
                format!(
                    "{what} not found: `cargo xtask screenshots` drives a real Chromium through chromedriver \
                     (Debian: `apt-get install chromium chromium-driver`; or set ROSTER_CHROMIUM and \
                     ROSTER_CHROMEDRIVER to their paths)"
                ),
            ))
        };
        let chromium = match std::env::var_os("ROSTER_CHROMIUM") {
            Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
            None => ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.is_file()),
        }
        .ok_or_else(|| missing("Chromium"))?;
        let driver = match std::env::var_os("ROSTER_CHROMEDRIVER") {
            Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
            None => std::env::var_os("PATH")
                .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("chromedriver")).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .find(|p| p.is_file()),
        }
        .ok_or_else(|| missing("chromedriver"))?;
        Ok(Self { chromium, driver })
    }
}

/// Builds the debug `roster` binary; its path.
fn build_roster() -> anyhow::Result<PathBuf> {
    eprintln!("screenshots: building `roster` (debug)…");
    let status = Command::new(crate::cargo())
        .args(["build", "--quiet", "-p", "roster-app", "--bin", "roster"])
        .current_dir(crate::project_root())
        .status()
        .context("could not start cargo build")?;
    if !status.success() {
        bail!("building roster failed ({status})");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::project_root().join("target"), PathBuf::from);
    Ok(target.join("debug/roster"))
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The running server: its address, its outbox and a bearer token of the admin.
struct Server {
    base: String,
    outbox: PathBuf,
    http: reqwest::Client,
    token: String,
    _process: Process,
}

/// Generates the organization and starts `roster serve` on it, in `dir`.
async fn start_server(roster: &Path, dir: &Path) -> anyhow::Result<Server> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("roster.db").display());
    eprintln!("screenshots: roster demo-data --users {USERS}…");
    let status = Command::new(roster)
        .args(["demo-data", "--users", &USERS.to_string(), "--org", ORG, "--password", PASSWORD])
        .env("ROSTER_DATABASE_URL", &url)
        .stdout(Stdio::null())
        .status()
        .context("could not run roster demo-data")?;
    if !status.success() {
        bail!("roster demo-data failed ({status})");
    }
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let base = format!("http://{listen}");
    let outbox = dir.join("outbox");
    let crm = crate::project_root().join("examples/crm-users.csv");
    let mut process = Process(
        Command::new(roster)
            .args(["serve", "--listen", &listen.to_string()])
            .env("ROSTER_DATABASE_URL", &url)
            .env("ROSTER_OUTBOX_DIR", &outbox)
            .env("ROSTER_PUBLIC_URL", &base)
            .env("ROSTER_CRM_CSV", &crm)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("could not start roster serve")?,
    );
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = process.0.try_wait()? {
            bail!("roster serve exited ({status})");
        }
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if Instant::now() > deadline {
            bail!("{base}/readyz did not answer within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = http
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"org": ORG, "email": ADMIN, "password": PASSWORD}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("logging in as {ADMIN}: {} {}", r.status(), r.text().await.unwrap_or_default());
    }
    let token = r.json::<Value>().await?["token"].as_str().context("a session token")?.to_owned();
    Ok(Server { base, outbox, http, token, _process: process })
}

impl Server {
    /// Sends `body` to the REST API as the admin; fails on anything but a 2xx.
    async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> anyhow::Result<()> {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("{path}: {} {}", r.status(), r.text().await.unwrap_or_default());
        }
        Ok(())
    }

    /// The link to `path` in the mail the outbox holds for `to`, waiting for it to arrive.
    async fn mailed_link(&self, to: &str, path: &str) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            if let Some(token) = token_in_outbox(&self.outbox, to, path) {
                return Ok(format!("{}{path}?token={token}", self.base));
            }
            if started.elapsed() > MAIL_WAIT {
                bail!(
                    "no mail to {to} with a {path} link in {} after {} s",
                    self.outbox.display(),
                    MAIL_WAIT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The token of the first `path?token=` link of a message to `to` in `dir`.
fn token_in_outbox(dir: &Path, to: &str, path: &str) -> Option<String> {
    let marker = format!("{path}?token=");
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        if entry.path().extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let Ok(raw) = std::fs::read_to_string(entry.path()) else { continue };
        let text = quoted_printable(&raw);
        let addressed = text.lines().any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(to));
        if let (true, Some(at)) = (addressed, text.find(&marker)) {
            let token: String = text[at + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '%'))
                .collect();
            if !token.is_empty() {
                return Some(token);
            }
        }
    }
    None
}

/// `text` with quoted-printable's soft line breaks joined and its `=XX` escapes decoded, as the
/// mailer may encode a message's long lines (decoding a part that is not encoded so changes
/// nothing a link is made of).
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pictures written: name and size in bytes.
type Written = Vec<(String, usize)>;

async fn take_all(roster: &Path, tools: &Tools, out: &Path) -> anyhow::Result<Written> {
    let dir = tempfile::tempdir().context("a temporary folder")?;
    let server = start_server(roster, dir.path()).await?;
    eprintln!("screenshots: roster serve at {}; Chromium at {WIDTH}×{HEIGHT}…", server.base);
    let browser = Browser::open(&tools.driver, &tools.chromium, WIDTH, HEIGHT).await?;
    let mut shots = Shots { browser: &browser, out, written: Vec::new() };
    // Whatever happens, Chromium ends with its session.
    let result = shots.all(&server).await;
    let written = shots.written;
    browser.close().await;
    result.map(|()| written)
}

/// The browser, and what it has written so far.
struct Shots<'a> {
    browser: &'a Browser,
    out: &'a Path,
    written: Written,
}

impl Shots<'_> {
    /// Saves the page as `<name>.png`.
    async fn take(&mut self, name: &str) -> anyhow::Result<()> {
        let png = self.browser.screenshot().await.with_context(|| format!("the picture {name}"))?;
        let file = format!("{name}.png");
        std::fs::write(self.out.join(&file), &png).with_context(|| format!("writing {file}"))?;
        self.written.push((file, png.len()));
        Ok(())
    }

    async fn all(&mut self, server: &Server) -> anyhow::Result<()> {
        let b = self.browser;
        let base = server.base.as_str();
        // The organization as its admins would have set it: sign-up open to its own domain
        // (for a sign-up's confirmation page), then auto sign-up off, so invites are accepted.
        server
            .api(reqwest::Method::PATCH, "/api/v1/org/settings", json!({"allowed_signup_domains": ["demo.example"]}))
            .await?;
        let signup = json!({"org": ORG, "email": "linus.pauling@demo.example", "first_name": "Linus",
                            "last_name": "Pauling", "password": "a long sign-up password"});
        server.api(reqwest::Method::POST, "/api/v1/signup", signup).await?;
        server
            .api(reqwest::Method::PATCH, "/api/v1/org/settings", json!({"auto_signup": false, "confirm": true}))
            .await?;

        // Signed out: the site's root sends to sign in; a forgotten password.
        b.goto(&format!("{base}/")).await?;
        b.wait_for_heading("Sign in").await?;
        b.fill("Organization", ORG).await?;
        b.fill("Email", ADMIN).await?;
        b.by_role("link", "Forgot password?").await?;
        self.take("sign-in").await?;
        b.click("link", "Forgot password?").await?;
        b.wait_for_heading("Forgot your password?").await?;
        self.take("forgot-password").await?;
        b.click("button", "Send reset link").await?;
        b.wait_until("the reset link's confirmation", "return !!document.querySelector('[role=status]');").await?;
        self.take("forgot-password-sent").await?;

        // Signing in lands on the Users page.
        b.goto(&format!("{base}/login")).await?;
        b.fill("Organization", ORG).await?;
        b.fill("Email", ADMIN).await?;
        b.fill("Password", PASSWORD).await?;
        b.click("button", "Sign in").await?;
        b.wait_for_heading("Users").await?;
        self.take("users").await?;
        b.click("button", "Filters").await?;
        b.wait_until("the open filters", "return !document.getElementById('filter-panel').hidden;").await?;
        self.take("users-filters").await?;
        b.goto(&format!("{base}/users")).await?;
        b.click("button", "Columns").await?;
        b.wait_until("the open column chooser", "return !document.getElementById('column-panel').hidden;").await?;
        self.take("users-columns").await?;

        self.invite(base).await?;
        self.crm(base).await?;
        self.actions(base).await?;
        self.drawer(base).await?;

        // The sections still to come, each from the navigation.
        for (link, name) in [
            ("Groups", "groups"),
            ("Connections", "connections"),
            ("Licenses and billing", "licenses"),
            ("Audit log", "audit"),
            ("Settings", "settings"),
        ] {
            b.click("link", link).await?;
            b.wait_for_heading(link).await?;
            self.take(name).await?;
        }

        // Signed out again: the pages the mail links to.
        b.click("button", "Sign out").await?;
        b.wait_for_heading("Sign in").await?;
        b.goto(&server.mailed_link(INVITEES[0].1, "/accept-invite").await?).await?;
        b.wait_for_heading("Accept your invitation").await?;
        self.take("accept-invite").await?;
        b.goto(&server.mailed_link(ADMIN, "/reset-password").await?).await?;
        b.wait_for_heading("Set a new password").await?;
        self.take("reset-password").await?;
        b.goto(&server.mailed_link("linus.pauling@demo.example", "/verify-email").await?).await?;
        b.wait_for_heading("Confirm your email address").await?;
        self.take("verify-email").await
    }

    /// The Invite dialog: two people filled in, then what happened to them.
    async fn invite(&mut self, base: &str) -> anyhow::Result<()> {
        let b = self.browser;
        b.goto(&format!("{base}/users")).await?;
        b.click("button", "Invite").await?;
        b.by_role("heading", "Invite members").await?;
        for (n, (name, email)) in INVITEES.iter().enumerate() {
            let person = format!("//fieldset[legend[normalize-space()='Person {}']]", n + 1);
            b.type_into(&b.by_xpath(&format!("{person}//input[@name='name']")).await?, name).await?;
            b.type_into(&b.by_xpath(&format!("{person}//input[@name='email']")).await?, email).await?;
            for label in ["Standard", "Core"] {
                let tick = b.by_xpath(&format!("{person}//label[normalize-space()='{label}']/input")).await?;
                b.click_element(&tick).await?;
            }
            if n + 1 < INVITEES.len() {
                b.click("button", "Add another").await?;
                b.by_xpath(&format!("//fieldset[legend[normalize-space()='Person {}']]", n + 2)).await?;
            }
        }
        self.take("invite-dialog").await?;
        b.click("button", "Send invites").await?;
        let done = format!("return document.querySelectorAll('.outcomes li').length === {};", INVITEES.len());
        b.wait_until("the invitations' outcomes", &done).await?;
        self.take("invite-dialog-outcomes").await
    }

    /// The Import from CRM dialog: the directory, then two people previewed.
    async fn crm(&mut self, base: &str) -> anyhow::Result<()> {
        let b = self.browser;
        b.goto(&format!("{base}/users")).await?;
        b.click("button", "Import from CRM").await?;
        b.by_role("heading", "Import from CRM").await?;
        if !b.has("checkbox", "Select Grace Hopper").await {
            b.fill("Search the CRM", "").await?;
            b.submit("Search the CRM").await?;
        }
        b.click("checkbox", "Select Grace Hopper").await?;
        b.click("checkbox", "Select Alan Turing").await?;
        let core = "//dialog//fieldset[legend[normalize-space()='Licenses']]//label[normalize-space()='Core']/input";
        b.click_element(&b.by_xpath(core).await?).await?;
        self.take("crm-dialog").await?;
        b.click("button", "Preview").await?;
        b.wait_until("the import's preview", "return document.querySelectorAll('.outcomes li').length === 2;").await?;
        self.take("crm-dialog-preview").await
    }

    /// The Actions dialog over three selected rows: two who hold Core and one who does not,
    /// Dialer (which requires Core) chosen; then its preview, with a refusal in words and the
    /// seats it would take.
    async fn actions(&mut self, base: &str) -> anyhow::Result<()> {
        let b = self.browser;
        b.goto(&format!("{base}/users")).await?;
        b.wait_for_heading("Users").await?;
        let script = "const heads = Array.from(document.querySelectorAll('table thead th')).map(th => th.textContent.trim()); \
                      const core = heads.indexOf('Core'), dialer = heads.indexOf('Dialer'); \
                      return Array.from(document.querySelectorAll('table tbody tr')).map(tr => { \
                        const cells = Array.from(tr.children).map(c => c.textContent.trim()); \
                        return [cells[0], cells[core] === 'Yes', cells[dialer] === 'Yes']; });";
        let rows: Vec<(String, bool, bool)> =
            serde_json::from_value(b.execute(script, vec![]).await?).context("the rows' licenses")?;
        let holders = rows.iter().filter(|(_, core, dialer)| *core && !*dialer).take(2);
        let refused = rows.iter().filter(|(_, core, _)| !*core).take(1);
        let chosen: Vec<&String> = holders.chain(refused).map(|(name, _, _)| name).collect();
        if chosen.len() < 3 {
            bail!("the first page of users has too few rows with and without Core: {rows:?}");
        }
        for name in chosen {
            b.click("checkbox", &format!("Select {name}")).await?;
        }
        b.click("button", "Actions").await?;
        b.by_role("heading", "Actions").await?;
        let choice = |legend: &str, label: &str| {
            format!(
                "//dialog//fieldset[legend[normalize-space()='{legend}']]//label[normalize-space()='{label}']/input"
            )
        };
        b.click_element(&b.by_xpath(&choice("Action", "Assign licenses")).await?).await?;
        b.click_element(&b.by_xpath(&choice("Licenses", "Dialer")).await?).await?;
        self.take("actions-dialog").await?;
        b.click("button", "Preview").await?;
        b.wait_until(
            "the action's preview",
            "const h = document.querySelector('.outcomes h3'); return !!h && h.textContent.startsWith('Preview');",
        )
        .await?;
        self.take("actions-preview").await
    }

    /// The edit drawer of an active member, the Active switch's confirmation, and the banner
    /// while logged in as that member.
    async fn drawer(&mut self, base: &str) -> anyhow::Result<()> {
        let b = self.browser;
        let open = async |b: &Browser| -> anyhow::Result<String> {
            b.goto(&format!("{base}/users?status=active&role=operations")).await?;
            b.wait_for_heading("Users").await?;
            let name = row_names(b).await?.into_iter().next().context("no active operations member")?;
            b.click("link", &name).await?;
            b.by_role("heading", &format!("Edit {name}")).await?;
            Ok(name)
        };
        let name = open(b).await?;
        self.take("edit-drawer").await?;
        b.click("switch", "Active").await?;
        b.by_role("heading", &format!("Deactivate {name}?")).await?;
        self.take("deactivate-confirmation").await?;

        let name = open(b).await?;
        b.fill("Reason", "Checking their setup").await?;
        b.click("button", "Log in as this user").await?;
        b.by_role("button", "Log back in as myself").await?;
        b.goto(&format!("{base}/users")).await?;
        b.by_role("button", "Log back in as myself").await?;
        let banner = "const p = document.querySelector('.banner p'); return !!p && p.textContent.trim() === ";
        b.wait_until(
            "the impersonation banner",
            &format!("{banner}{};", Value::String(format!("You are logged in as {name}"))),
        )
        .await?;
        self.take("impersonation-banner").await?;
        b.click("button", "Log back in as myself").await?;
        b.wait_for_heading("Users").await?;

        let name = open(b).await?;
        b.click("button", "Delete").await?;
        b.by_role("heading", &format!("Delete {name}?")).await?;
        self.take("delete-confirmation").await?;
        b.click("button", "Delete").await?;
        b.by_role("heading", &format!("{name} was deleted")).await?;
        self.take("deleted-member").await?;
        b.goto(&format!("{base}/users")).await?;
        b.wait_for_heading("Users").await
    }
}

/// The people the Invite dialog invites; the first accepts from the emailed link.
const INVITEES: [(&str, &str); 2] =
    [("Katherine Johnson", "katherine.johnson@demo.example"), ("Dorothy Vaughan", "dorothy.vaughan@demo.example")];

/// The full names of the Users table's rows, in order.
async fn row_names(b: &Browser) -> anyhow::Result<Vec<String>> {
    let script = "return Array.from(document.querySelectorAll('table tbody tr')).map(tr => \
                  (tr.querySelector('th a') || tr.querySelector('th') || tr.children[0]).textContent.trim());";
    let names: Vec<String> = serde_json::from_value(b.execute(script, vec![]).await?).context("the rows' names")?;
    if names.is_empty() {
        bail!("the Users table at {} has no rows", b.url().await);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_broken_by_quoted_printable_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mail = "To: ada@demo.example\r\nSubject: Join\r\n\r\nOpen http://127.0.0.1:1/accept-invite?token=3DabcDEF=\r\n_123-x9 to join.=E2=80=94\r\n";
        std::fs::write(dir.path().join("1.eml"), mail).unwrap();
        std::fs::write(dir.path().join("2.txt"), "To: ada@demo.example\n/accept-invite?token=nope").unwrap();
        assert_eq!(token_in_outbox(dir.path(), "ada@demo.example", "/accept-invite").as_deref(), Some("abcDEF_123-x9"));
        assert_eq!(token_in_outbox(dir.path(), "grace@demo.example", "/accept-invite"), None);
    }
}
