//! Choosing and building the CRM directory from the environment (SPEC §11).
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `ROSTER_SALESFORCE_CLIENT_ID`, `ROSTER_SALESFORCE_CLIENT_SECRET` | connected-app credentials; setting them selects Salesforce | unset |
//! | `ROSTER_SALESFORCE_LOGIN_URL` | OAuth2 host (`https`; the token answer's `instance_url` serves the queries) | `https://login.salesforce.com` |
//! | `ROSTER_SALESFORCE_REFRESH_TOKEN` | refresh-token grant when set | unset |
//! | `ROSTER_SALESFORCE_USERNAME`, `ROSTER_SALESFORCE_PASSWORD` | username-password grant when set (not with a refresh token) | unset |
//! | (neither) | client-credentials grant | |
//! | `ROSTER_SALESFORCE_API_VERSION` | REST API version, `v62.0` or `62.0` | `v62.0` |
//! | `ROSTER_SALESFORCE_TIMEOUT_SECONDS` | limit of one HTTP request, 1 to 300 | `30` |
//! | `ROSTER_CRM_CSV` | CSV directory file | `./crm-users.csv` if it exists |
//!
//! A variable set to an empty string counts as unset. Salesforce and an explicit
//! `ROSTER_CRM_CSV` together are refused (which one is meant is unclear); Salesforce and the
//! default CSV file together select Salesforce.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::csv::CsvDirectory;
pub use crate::error::ConfigError;
use crate::salesforce::{Grant, SalesforceConfig, SalesforceDirectory, Secret};
use roster_domain::ports::CrmDirectory;

/// The CSV file used when `ROSTER_CRM_CSV` is unset, if it exists (relative to the working
/// directory).
pub const DEFAULT_CSV_PATH: &str = "./crm-users.csv";

/// Which directory the environment asks for, before anything is opened.
#[derive(Debug, Clone)]
pub enum CrmChoice {
    /// No CRM directory: the CRM features answer that none is configured.
    None,
    Salesforce(Box<SalesforceConfig>),
    Csv(PathBuf),
}

/// Reads the choice from variables looked up by `var` (empty values count as unset), with
/// `default_csv` as the CSV file used when it exists and nothing else is configured.
///
/// # Errors
/// [`ConfigError`] for a missing companion variable, a bad value or a conflict.
pub fn choose(var: impl Fn(&str) -> Option<String>, default_csv: &Path) -> Result<CrmChoice, ConfigError> {
    let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let client_id = get("ROSTER_SALESFORCE_CLIENT_ID");
    let client_secret = get("ROSTER_SALESFORCE_CLIENT_SECRET");
    let refresh_token = get("ROSTER_SALESFORCE_REFRESH_TOKEN");
    let username = get("ROSTER_SALESFORCE_USERNAME");
    let password = get("ROSTER_SALESFORCE_PASSWORD");
    let csv = get("ROSTER_CRM_CSV");
    let any_salesforce = client_id.is_some()
        || client_secret.is_some()
        || refresh_token.is_some()
        || username.is_some()
        || password.is_some();
    if any_salesforce {
        const BECAUSE: &str = "the Salesforce directory is configured";
        let client_id =
            client_id.ok_or(ConfigError::Missing { var: "ROSTER_SALESFORCE_CLIENT_ID", because: BECAUSE })?;
        let client_secret =
            client_secret.ok_or(ConfigError::Missing { var: "ROSTER_SALESFORCE_CLIENT_SECRET", because: BECAUSE })?;
        if csv.is_some() {
            return Err(ConfigError::Conflict {
                first: "ROSTER_SALESFORCE_CLIENT_ID",
                second: "ROSTER_CRM_CSV",
                reason: "Roster reads one CRM directory; unset the one not meant",
            });
        }
        let grant = match (refresh_token, username, password) {
            (Some(_), Some(_), _) => {
                return Err(ConfigError::Conflict {
                    first: "ROSTER_SALESFORCE_REFRESH_TOKEN",
                    second: "ROSTER_SALESFORCE_USERNAME",
                    reason: "choose the refresh-token or the username-password grant",
                });
            }
            (Some(token), None, None) => Grant::RefreshToken(Secret::new(token)),
            (Some(_), None, Some(_)) => {
                return Err(ConfigError::Conflict {
                    first: "ROSTER_SALESFORCE_REFRESH_TOKEN",
                    second: "ROSTER_SALESFORCE_PASSWORD",
                    reason: "choose the refresh-token or the username-password grant",
                });
            }
            (None, Some(username), Some(password)) => Grant::Password { username, password: Secret::new(password) },
            (None, Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "ROSTER_SALESFORCE_PASSWORD",
                    because: "ROSTER_SALESFORCE_USERNAME is set",
                });
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::Missing {
                    var: "ROSTER_SALESFORCE_USERNAME",
                    because: "ROSTER_SALESFORCE_PASSWORD is set",
                });
            }
            (None, None, None) => Grant::ClientCredentials,
        };
        let login_url =
            get("ROSTER_SALESFORCE_LOGIN_URL").unwrap_or_else(|| crate::salesforce::DEFAULT_LOGIN_URL.to_owned());
        let mut config = SalesforceConfig::new(&login_url, &client_id, Secret::new(client_secret), grant)?;
        if let Some(version) = get("ROSTER_SALESFORCE_API_VERSION") {
            config = config.with_api_version(&version)?;
        }
        if let Some(seconds) = get("ROSTER_SALESFORCE_TIMEOUT_SECONDS") {
            let parsed =
                seconds.parse::<u64>().ok().filter(|s| (1..=300).contains(s)).ok_or_else(|| ConfigError::Invalid {
                    var: "ROSTER_SALESFORCE_TIMEOUT_SECONDS",
                    value: seconds.clone(),
                    reason: "expected whole seconds from 1 to 300".into(),
                })?;
            config = config.with_timeout(Duration::from_secs(parsed));
        }
        return Ok(CrmChoice::Salesforce(Box::new(config)));
    }
    for unused in ["ROSTER_SALESFORCE_LOGIN_URL", "ROSTER_SALESFORCE_API_VERSION", "ROSTER_SALESFORCE_TIMEOUT_SECONDS"]
    {
        if get(unused).is_some() {
            return Err(ConfigError::Missing {
                var: "ROSTER_SALESFORCE_CLIENT_ID",
                because: "other ROSTER_SALESFORCE_* variables are set",
            });
        }
    }
    match csv {
        Some(path) => Ok(CrmChoice::Csv(PathBuf::from(path))),
        None if default_csv.is_file() => Ok(CrmChoice::Csv(default_csv.to_owned())),
        None => Ok(CrmChoice::None),
    }
}

/// Builds the directory `choice` names; a CSV file is read now (an explicit path that does
/// not exist is an error), its skipped rows are logged.
///
/// # Errors
/// [`ConfigError::Csv`] when the file is refused, [`ConfigError::Salesforce`] when the HTTP
/// client cannot be built.
pub fn build(choice: CrmChoice) -> Result<Option<Arc<dyn CrmDirectory>>, ConfigError> {
    match choice {
        CrmChoice::None => Ok(None),
        CrmChoice::Csv(path) => {
            let directory = CsvDirectory::open(&path)?;
            let problems = directory.problems();
            crate::csv::log_problems(&path, &problems);
            tracing::info!(path = %path.display(), skipped_or_fixed_rows = problems.len(), "CRM directory: CSV file");
            Ok(Some(Arc::new(directory)))
        }
        CrmChoice::Salesforce(config) => {
            tracing::info!(
                login_url = %config.login_url(),
                api_version = config.api_version(),
                "CRM directory: Salesforce"
            );
            let directory = SalesforceDirectory::new(*config).map_err(|e| ConfigError::Salesforce(e.to_string()))?;
            Ok(Some(Arc::new(directory)))
        }
    }
}

/// The CRM directory the process environment configures, or `None` when none is (see the
/// module documentation for the variables). Makes no network request.
///
/// # Errors
/// [`ConfigError`], naming the variable at fault.
pub fn directory_from_env() -> Result<Option<Arc<dyn CrmDirectory>>, ConfigError> {
    build(choose(|name| std::env::var(name).ok(), Path::new(DEFAULT_CSV_PATH))?)
}
