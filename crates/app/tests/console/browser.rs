//! A real Chromium, driven over WebDriver (`chromedriver` and fantoccini), and the ways a test
//! uses it as a person does: controls are found by their role and accessible name as
//! Chromium's accessibility tree computes them (WebDriver's "computed role" and "computed
//! label"), never by CSS class; every page can be checked with axe-core.
//!
//! A missing `chromedriver` or Chromium fails the test with a sentence saying what to install:
//! the console's tests never skip.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

/// At most this many browsers at once: each is a few processes, and CI has two cores.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// How long a control may take to appear (generous: CI runs the suites side by side on two
/// cores).
const WAIT: Duration = Duration::from_secs(30);

/// axe-core, vendored with its licence (`vendor/axe-core`).
const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

/// The CSS selectors that can have each role; the role itself is then checked against what
/// Chromium computes.
fn candidates(role: &str) -> &'static str {
    match role {
        "button" => "button, input[type=submit], input[type=button], [role=button]",
        "link" => "a[href], [role=link]",
        "textbox" => {
            "input:not([type]), input[type=text], input[type=email], input[type=password], input[type=tel], textarea, [role=textbox]"
        }
        "searchbox" => "input[type=search], [role=searchbox]",
        "checkbox" => "input[type=checkbox], [role=checkbox]",
        "combobox" => "select, [role=combobox]",
        "switch" => "[role=switch]",
        "heading" => "h1, h2, h3, h4",
        "dialog" => "dialog, [role=dialog]",
        "navigation" => "nav, [role=navigation]",
        "status" => "[role=status]",
        "alert" => "[role=alert]",
        "columnheader" => "th[scope=col]",
        "progressbar" => "progress, [role=progressbar]",
        _ => "*",
    }
}

/// Roles Chromium computes for an element that ARIA gives another name: a password field has
/// no ARIA role, and Chromium reports none for it.
fn role_matches(wanted: &str, computed: &str, tag: &str, kind: Option<&str>) -> bool {
    computed == wanted || (wanted == "textbox" && tag == "input" && kind == Some("password") && computed.is_empty())
}

/// One browser: chromedriver, a Chromium session, and a permit of [`BROWSERS`].
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Chromium's profile, removed with the browser (left to itself, Chromium leaves one in the
    /// temporary folder per session).
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium.
    pub async fn open() -> Self {
        let permit = BROWSERS.acquire().await.expect("the semaphore is never closed");
        let driver_path = std::env::var("ROSTER_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{driver_path}` ({e}): the console's browser tests need Chromium and its \
                     WebDriver (Debian: `apt-get install chromium chromium-driver`; `.ci/run` installs them)"
                )
            });
        let profile = tempfile::tempdir().expect("a folder for Chromium's profile");
        let mut chrome = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-US",
                     format!("--user-data-dir={}", profile.path().display())],
        });
        let binary = std::env::var("ROSTER_CHROMIUM").ok().or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
                .into_iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(str::to_owned)
        });
        if let Some(binary) = binary {
            chrome["binary"] = json!(binary);
        }
        let mut caps = Capabilities::new();
        caps.insert("browserName".to_owned(), json!("chrome"));
        caps.insert("goog:chromeOptions".to_owned(), chrome);
        let url = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let started = std::time::Instant::now();
        let client = loop {
            match ClientBuilder::new(connector.clone()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver at {url} did not start Chromium: {e}"),
            }
        };
        Self { client, driver, _profile: profile, _permit: permit }
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The address shown.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("the current URL")
    }

    /// The element of `role` named `name`, waiting for it to appear.
    pub async fn by_role(&self, role: &str, name: &str) -> Element {
        let started = std::time::Instant::now();
        loop {
            if let Some(e) = self.find_by_role(role, name).await {
                return e;
            }
            if started.elapsed() > WAIT {
                let seen = self.names_of(role).await;
                panic!("no {role} named {name:?} on {} (seen: {seen:?})", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element of `role` named `name` if there is one now.
    pub async fn find_by_role(&self, role: &str, name: &str) -> Option<Element> {
        for element in self.client.find_all(Locator::Css(candidates(role))).await.unwrap_or_default() {
            if self.label(&element).await.as_deref() == Some(name) && self.has_role(&element, role).await {
                return Some(element);
            }
        }
        None
    }

    /// Every accessible name of the elements of `role` on the page.
    pub async fn names_of(&self, role: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self.client.find_all(Locator::Css(candidates(role))).await.unwrap_or_default() {
            if self.has_role(&element, role).await
                && let Some(label) = self.label(&element).await
            {
                out.push(label);
            }
        }
        out
    }

    async fn has_role(&self, element: &Element, role: &str) -> bool {
        let computed = self.computed(element, "computedrole").await.unwrap_or_default();
        let tag = element.tag_name().await.unwrap_or_default();
        let kind = element.attr("type").await.ok().flatten();
        role_matches(role, &computed, &tag, kind.as_deref())
    }

    async fn label(&self, element: &Element) -> Option<String> {
        self.computed(element, "computedlabel").await.map(|l| l.trim().to_owned())
    }

    async fn computed(&self, element: &Element, what: &'static str) -> Option<String> {
        let cmd = Computed { element: element.element_id().to_string(), what };
        match self.client.issue_cmd(cmd).await {
            Ok(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Clicks the element of `role` named `name`.
    pub async fn click(&self, role: &str, name: &str) {
        self.by_role(role, name).await.click().await.unwrap_or_else(|e| panic!("clicking {role} {name:?}: {e}"));
    }

    /// Types `text` into the text field named `name`, replacing what it held.
    pub async fn fill(&self, name: &str, text: &str) {
        let field = match self.find_by_role("textbox", name).await {
            Some(f) => f,
            None => self.by_role("searchbox", name).await,
        };
        field.clear().await.expect("clears the field");
        field.send_keys(text).await.expect("types");
    }

    /// Chooses the option labelled `label` of the combobox named `name`.
    pub async fn choose(&self, name: &str, label: &str) {
        let select = self.by_role("combobox", name).await;
        select.select_by_label(label).await.unwrap_or_else(|e| panic!("choosing {label:?} in {name:?}: {e}"));
    }

    /// The text of the page's `h1`.
    pub async fn heading(&self) -> String {
        let h1 = self.client.wait().at_most(WAIT).for_element(Locator::Css("h1")).await.expect("a heading");
        h1.text().await.expect("its text")
    }

    /// Waits until the page's address has `path`.
    pub async fn wait_for_path(&self, path: &str) {
        let started = std::time::Instant::now();
        while self.url().await.path() != path {
            assert!(started.elapsed() < WAIT, "still at {} waiting for {path}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the address's path starts with `prefix`.
    pub async fn wait_for_path_prefix(&self, prefix: &str) {
        let started = std::time::Instant::now();
        while !self.url().await.path().starts_with(prefix) {
            assert!(started.elapsed() < WAIT, "still at {} waiting for {prefix}…", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the `h1` reads `text`: the next page has loaded.
    pub async fn wait_for_heading(&self, text: &str) {
        let started = std::time::Instant::now();
        loop {
            let found = match self.client.find(Locator::Css("h1")).await {
                Ok(h) => h.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found == text {
                return;
            }
            assert!(started.elapsed() < WAIT, "the heading is {found:?}, not {text:?}, at {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The refusal shown on the page (`[data-code]`): its code and sentence.
    pub async fn refusals(&self) -> Vec<(String, String)> {
        // One script, so a page that reloads meanwhile gives all or nothing.
        let script = "return Array.from(document.querySelectorAll('[data-code]')).map(e => [e.dataset.code, e.innerText.trim()]);";
        match self.client.execute(script, vec![]).await {
            Ok(v) => serde_json::from_value(v).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits until the page shows a refusal with `code`; every refusal shown then.
    pub async fn wait_for_refusal(&self, code: &str) -> Vec<(String, String)> {
        let started = std::time::Instant::now();
        loop {
            let refusals = self.refusals().await;
            if refusals.iter().any(|(c, _)| c == code) {
                return refusals;
            }
            assert!(started.elapsed() < WAIT, "no {code} refusal at {}, only {refusals:?}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The cell texts of the table's body rows (the row header first).
    pub async fn rows(&self) -> Vec<Vec<String>> {
        let script = "return Array.from(document.querySelectorAll('table tbody tr')).map(tr => \
                      Array.from(tr.children).map(c => c.textContent.trim()));";
        let value = self.client.execute(script, vec![]).await.expect("reads the table");
        serde_json::from_value(value).expect("rows of texts")
    }

    /// The texts of the table's column headers.
    pub async fn column_headers(&self) -> Vec<String> {
        let script = "return Array.from(document.querySelectorAll('table thead th')).map(th => th.textContent.trim());";
        serde_json::from_value(self.client.execute(script, vec![]).await.expect("reads")).expect("texts")
    }

    /// The element that has the keyboard focus: its accessible name.
    pub async fn focused_name(&self) -> String {
        let e = self.client.active_element().await.expect("an active element");
        self.label(&e).await.unwrap_or_default()
    }

    /// Presses keys on the focused element (`\u{E004}` is Tab, `\u{E007}` Enter, …).
    pub async fn keys(&self, keys: &str) {
        let e = self.client.active_element().await.expect("an active element");
        e.send_keys(keys).await.expect("types");
    }

    /// Runs axe-core on the page as it is now and fails on any violation of impact serious or
    /// critical, naming each with its nodes.
    ///
    /// With `ROSTER_SCREENSHOT_DIR` set, also saves a PNG of the page there, named after `what`
    /// and the engine: the pages as the tests saw them, for a person to look at.
    pub async fn assert_accessible(&self, what: &str) {
        if let Ok(dir) = std::env::var("ROSTER_SCREENSHOT_DIR") {
            let name: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
            let path = std::path::Path::new(&dir).join(format!("{name}.png"));
            std::fs::create_dir_all(&dir).expect("creates the screenshot folder");
            std::fs::write(&path, self.screenshot().await).expect("writes the screenshot");
        }
        self.client.execute(AXE, vec![]).await.expect("injects axe-core");
        let script = "const done = arguments[arguments.length - 1]; \
                      axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => \
                      ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})))) \
                      .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));";
        let value = self.client.execute_async(script, vec![]).await.expect("runs axe-core");
        let violations: Vec<Value> = serde_json::from_value(value).expect("a list of violations");
        let serious: Vec<&Value> =
            violations.iter().filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical"))).collect();
        assert!(serious.is_empty(), "axe-core on {what} ({}): {serious:#?}", self.url().await);
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("a screenshot")
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// WebDriver's "Get Computed Label" and "Get Computed Role" of an element.
#[derive(Debug)]
struct Computed {
    element: String,
    what: &'static str,
}

impl WebDriverCompatibleCommand for Computed {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/element/{}/{}", session_id.unwrap_or_default(), self.element, self.what))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::GET, None)
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds a port");
    listener.local_addr().expect("an address").port()
}
