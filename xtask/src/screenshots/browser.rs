//! A headless Chromium driven by chromedriver over the W3C WebDriver protocol, spoken directly
//! with reqwest: the screenshots need a dozen commands, which is less than a WebDriver client
//! crate would add to xtask's build.
//!
//! Controls are found as the console's browser tests find them (`crates/app/tests/console`):
//! by their role and accessible name as Chromium computes them (WebDriver's "computed role" and
//! "computed label"), so a picture is taken of the page SPEC §12's contract table describes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

/// How long a page or a control may take to appear.
const WAIT: Duration = Duration::from_secs(30);

/// The key WebDriver gives an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

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
        "switch" => "[role=switch]",
        "heading" => "h1, h2, h3, h4",
        _ => "*",
    }
}

/// Chromium computes no role for a password field, which ARIA leaves without one.
fn role_matches(wanted: &str, computed: &str, kind: Option<&str>) -> bool {
    computed == wanted || (wanted == "textbox" && kind == Some("password") && computed.is_empty())
}

/// chromedriver, and one Chromium session of it; both end when this is dropped.
pub(super) struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    driver: Child,
    /// Chromium's profile, removed with the browser.
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `driver` on a free port and a headless `chromium` whose page is `width`×`height`
    /// CSS pixels at a device scale of 1.
    pub(super) async fn open(driver: &Path, chromium: &Path, width: u32, height: u32) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start {}", driver.display()))?;
        let profile = tempfile::tempdir().context("a folder for Chromium's profile")?;
        let mut browser = Self {
            http: reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?,
            session: format!("http://127.0.0.1:{port}"),
            driver: child,
            _profile: profile,
        };
        let started = Instant::now();
        loop {
            let status = browser.http.get(format!("{}/status", browser.session)).send().await;
            if status.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if let Some(exit) = browser.driver.try_wait()? {
                bail!("{} exited ({exit}) before answering", driver.display());
            }
            if started.elapsed() > WAIT {
                bail!("{} did not answer on port {port} within {} s", driver.display(), WAIT.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let options = json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
                     format!("--window-size={width},{height}"),
                     format!("--user-data-dir={}", browser._profile.path().display())],
        });
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let answer = browser.command(Method::POST, "/session", Some(capabilities)).await.with_context(|| {
            format!(
                "chromedriver could not start {} (is it the Chromium this chromedriver drives?)",
                chromium.display()
            )
        })?;
        let id = answer["sessionId"].as_str().context("a session without an id")?.to_owned();
        browser.session = format!("{}/session/{id}", browser.session);
        // The window's size is the page's only in headless mode; set the page's own size so
        // that every picture is exactly `width`×`height`.
        let inner: Value = browser.execute("return [window.innerWidth, window.innerHeight];", vec![]).await?;
        let (w, h) = (inner[0].as_u64().unwrap_or(0), inner[1].as_u64().unwrap_or(0));
        if (w, h) != (u64::from(width), u64::from(height)) {
            let rect = json!({"width": u64::from(width) * 2 - w, "height": u64::from(height) * 2 - h});
            browser.command(Method::POST, "/window/rect", Some(rect)).await?;
        }
        Ok(browser)
    }

    /// Sends a command (`path` after the session's address; `/session` itself before one
    /// exists); its `value`.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.session);
        let request = self.http.request(method, &url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.with_context(|| format!("WebDriver {path}"))?;
        let status = response.status();
        let answer: Value = response.json().await.with_context(|| format!("WebDriver {path}: not JSON"))?;
        if !status.is_success() {
            let error = &answer["value"];
            bail!("WebDriver {path}: {} ({})", error["message"].as_str().unwrap_or(""), error["error"]);
        }
        Ok(answer["value"].clone())
    }

    /// Opens `url` and waits for it to load.
    pub(super) async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.command(Method::POST, "/url", Some(json!({ "url": url }))).await.map(drop)
    }

    /// The address shown.
    pub(super) async fn url(&self) -> String {
        self.command(Method::GET, "/url", None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Runs `script` in the page; what it returns.
    pub(super) async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.command(Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// The elements `xpath` finds now.
    async fn find_xpath(&self, xpath: &str) -> Vec<String> {
        self.find_all("xpath", xpath).await
    }

    async fn find_all(&self, using: &str, value: &str) -> Vec<String> {
        let found = self.command(Method::POST, "/elements", Some(json!({"using": using, "value": value}))).await;
        let Ok(Value::Array(elements)) = found else { return Vec::new() };
        elements.iter().filter_map(|e| e[ELEMENT].as_str().map(str::to_owned)).collect()
    }

    async fn computed(&self, element: &str, what: &str) -> Option<String> {
        match self.command(Method::GET, &format!("/element/{element}/{what}"), None).await {
            Ok(Value::String(s)) => Some(s.trim().to_owned()),
            _ => None,
        }
    }

    async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        match self.command(Method::GET, &format!("/element/{element}/attribute/{name}"), None).await {
            Ok(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The element of `role` named `name` if there is one now.
    async fn find_by_role(&self, role: &str, name: &str) -> Option<String> {
        for element in self.find_all("css selector", candidates(role)).await {
            if self.computed(&element, "computedlabel").await.as_deref() != Some(name) {
                continue;
            }
            let computed = self.computed(&element, "computedrole").await.unwrap_or_default();
            let kind = self.attribute(&element, "type").await;
            if role_matches(role, &computed, kind.as_deref()) {
                return Some(element);
            }
        }
        None
    }

    /// Every accessible name of the elements of `role` on the page, for an error message.
    async fn names_of(&self, role: &str) -> Vec<String> {
        let mut names = Vec::new();
        for element in self.find_all("css selector", candidates(role)).await {
            let computed = self.computed(&element, "computedrole").await.unwrap_or_default();
            let kind = self.attribute(&element, "type").await;
            if role_matches(role, &computed, kind.as_deref())
                && let Some(name) = self.computed(&element, "computedlabel").await
            {
                names.push(name);
            }
        }
        names
    }

    /// The element of `role` named `name`, waiting for it to appear.
    pub(super) async fn by_role(&self, role: &str, name: &str) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            if let Some(element) = self.find_by_role(role, name).await {
                return Ok(element);
            }
            if started.elapsed() > WAIT {
                let seen = self.names_of(role).await;
                bail!("no {role} named {name:?} on {} (seen: {seen:?})", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an element of `role` named `name` is on the page now.
    pub(super) async fn has(&self, role: &str, name: &str) -> bool {
        self.find_by_role(role, name).await.is_some()
    }

    /// The element `xpath` finds, waiting for it to appear.
    pub(super) async fn by_xpath(&self, xpath: &str) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            if let Some(element) = self.find_xpath(xpath).await.into_iter().next() {
                return Ok(element);
            }
            if started.elapsed() > WAIT {
                bail!("nothing at {xpath} on {}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `element`.
    pub(super) async fn click_element(&self, element: &str) -> anyhow::Result<()> {
        self.command(Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await.map(drop)
    }

    /// Clicks the element of `role` named `name`.
    pub(super) async fn click(&self, role: &str, name: &str) -> anyhow::Result<()> {
        let element = self.by_role(role, name).await?;
        self.click_element(&element).await.with_context(|| format!("clicking the {role} {name:?}"))
    }

    /// Types `text` into `element`, replacing what it held.
    pub(super) async fn type_into(&self, element: &str, text: &str) -> anyhow::Result<()> {
        self.command(Method::POST, &format!("/element/{element}/clear"), Some(json!({}))).await?;
        self.command(Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text }))).await.map(drop)
    }

    /// Types `text` into the text field (or search field) named `name`.
    pub(super) async fn fill(&self, name: &str, text: &str) -> anyhow::Result<()> {
        let field = match self.find_by_role("textbox", name).await {
            Some(field) => field,
            None => self.by_role("searchbox", name).await?,
        };
        self.type_into(&field, text).await.with_context(|| format!("typing into {name:?}"))
    }

    /// Presses Enter in the text field named `name`.
    pub(super) async fn submit(&self, name: &str) -> anyhow::Result<()> {
        let field = match self.find_by_role("textbox", name).await {
            Some(field) => field,
            None => self.by_role("searchbox", name).await?,
        };
        self.command(Method::POST, &format!("/element/{field}/value"), Some(json!({"text": "\u{E007}"})))
            .await
            .map(drop)
    }

    /// Waits until `script` returns `true`; `what` names the wait in the error.
    pub(super) async fn wait_until(&self, what: &str, script: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if self.execute(script, vec![]).await.is_ok_and(|v| v == Value::Bool(true)) {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                bail!("waited {} s for {what} on {}", WAIT.as_secs(), self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's `h1` reads `text`: the page has loaded.
    pub(super) async fn wait_for_heading(&self, text: &str) -> anyhow::Result<()> {
        let script = format!(
            "const h = document.querySelector('h1'); return !!h && h.textContent.trim() === {};",
            Value::String(text.to_owned())
        );
        self.wait_until(&format!("the heading {text:?}"), &script).await
    }

    /// A PNG of the page as it is shown, once the browser has painted what changed last.
    pub(super) async fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        let painted = "const done = arguments[arguments.length - 1]; \
                       document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));";
        self.command(Method::POST, "/execute/async", Some(json!({"script": painted, "args": []}))).await?;
        let encoded = self.command(Method::GET, "/screenshot", None).await?;
        let encoded = encoded.as_str().context("a screenshot that is not text")?;
        base64::engine::general_purpose::STANDARD.decode(encoded).context("a screenshot that is not base64")
    }

    /// Ends the session (Chromium with it), then chromedriver.
    pub(super) async fn close(mut self) {
        self.command(Method::DELETE, "", None).await.ok();
        self.driver.kill().ok();
        self.driver.wait().ok();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After `close` the driver has exited already and this does nothing; on an error it
        // takes Chromium with it.
        self.driver.kill().ok();
        self.driver.wait().ok();
    }
}
