//! Choosing the CRM directory from the environment (SPEC §11): which variables select what,
//! and the clear errors of a bad configuration.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use roster_adapters_crm::config::{ConfigError, CrmChoice, build, choose};
use roster_adapters_crm::{Grant, Secret};
use tempfile::TempDir;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| map.get(name).cloned()
}

const NO_FILE: &str = "/nonexistent/crm-users.csv";

#[test]
fn nothing_configured_and_no_default_file_is_no_directory() {
    assert!(matches!(choose(vars(&[]), Path::new(NO_FILE)), Ok(CrmChoice::None)));
    assert!(build(CrmChoice::None).expect("builds").is_none());
}

#[test]
fn the_default_csv_file_is_used_when_it_exists() {
    let dir = TempDir::new().expect("a temporary directory");
    let default = dir.path().join("crm-users.csv");
    std::fs::write(&default, "crm_id,first_name,last_name,email\na1,Ada,Lovelace,ada@acme.io\n").expect("writes");
    let choice = choose(vars(&[]), &default).expect("valid");
    assert!(matches!(&choice, CrmChoice::Csv(path) if path == &default));
    assert!(build(choice).expect("builds").is_some());
}

#[test]
fn an_explicit_csv_file_must_exist_and_read() {
    let choice = choose(vars(&[("ROSTER_CRM_CSV", "/nonexistent/users.csv")]), Path::new(NO_FILE)).expect("chosen");
    let Err(error) = build(choice) else { panic!("a missing file was accepted") };
    assert!(matches!(error, ConfigError::Csv(_)), "{error:?}");
    assert!(error.to_string().starts_with("ROSTER_CRM_CSV: cannot read /nonexistent/users.csv"), "{error}");
}

#[test]
fn client_id_and_secret_select_client_credentials_with_the_spec_defaults() {
    let choice = choose(
        vars(&[("ROSTER_SALESFORCE_CLIENT_ID", "id"), ("ROSTER_SALESFORCE_CLIENT_SECRET", "secret")]),
        Path::new(NO_FILE),
    )
    .expect("valid");
    let CrmChoice::Salesforce(config) = choice else { panic!("{choice:?}") };
    assert_eq!(config.login_url().as_str(), "https://login.salesforce.com/");
    assert_eq!(config.api_version(), "v62.0");
    assert!(format!("{config:?}").contains("grant: ClientCredentials"));
    assert!(!format!("{config:?}").contains("secret\""));
}

#[test]
fn a_refresh_token_or_a_username_chooses_the_grant() {
    let base = [("ROSTER_SALESFORCE_CLIENT_ID", "id"), ("ROSTER_SALESFORCE_CLIENT_SECRET", "s")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        choose(vars(&all), Path::new(NO_FILE))
    };
    let Ok(CrmChoice::Salesforce(config)) = with(&[("ROSTER_SALESFORCE_REFRESH_TOKEN", "rt")]) else { panic!() };
    assert!(format!("{config:?}").contains("RefreshToken(***)"));
    let Ok(CrmChoice::Salesforce(config)) =
        with(&[("ROSTER_SALESFORCE_USERNAME", "u@acme.io"), ("ROSTER_SALESFORCE_PASSWORD", "pw")])
    else {
        panic!()
    };
    assert!(format!("{config:?}").contains("Password { username: \"u@acme.io\", password: *** }"));
    assert_eq!(
        Grant::Password { username: "u".into(), password: Secret::new("p") },
        Grant::Password { username: "u".into(), password: Secret::new("p") }
    );
    let both = with(&[("ROSTER_SALESFORCE_REFRESH_TOKEN", "rt"), ("ROSTER_SALESFORCE_USERNAME", "u")]);
    assert!(matches!(both, Err(ConfigError::Conflict { .. })), "{both:?}");
    let half = with(&[("ROSTER_SALESFORCE_USERNAME", "u")]);
    assert!(matches!(half, Err(ConfigError::Missing { var: "ROSTER_SALESFORCE_PASSWORD", .. })), "{half:?}");
}

#[test]
fn bad_values_name_their_variable() {
    let base = [("ROSTER_SALESFORCE_CLIENT_ID", "id"), ("ROSTER_SALESFORCE_CLIENT_SECRET", "s")];
    let cases: [(&str, &str); 4] = [
        ("ROSTER_SALESFORCE_LOGIN_URL", "http://acme.my.salesforce.com"),
        ("ROSTER_SALESFORCE_LOGIN_URL", "login.salesforce.com"),
        ("ROSTER_SALESFORCE_API_VERSION", "latest"),
        ("ROSTER_SALESFORCE_TIMEOUT_SECONDS", "0"),
    ];
    for (var, value) in cases {
        let mut all = base.to_vec();
        all.push((var, value));
        let error = choose(vars(&all), Path::new(NO_FILE)).expect_err("invalid");
        assert!(matches!(&error, ConfigError::Invalid { var: v, .. } if *v == var), "{var}: {error:?}");
        assert!(error.to_string().starts_with(var), "{error}");
    }
}

#[test]
fn a_version_without_v_and_a_timeout_are_accepted() {
    let choice = choose(
        vars(&[
            ("ROSTER_SALESFORCE_CLIENT_ID", "id"),
            ("ROSTER_SALESFORCE_CLIENT_SECRET", "s"),
            ("ROSTER_SALESFORCE_API_VERSION", "61.0"),
            ("ROSTER_SALESFORCE_TIMEOUT_SECONDS", "5"),
            ("ROSTER_SALESFORCE_LOGIN_URL", "https://acme.my.salesforce.com/"),
        ]),
        Path::new(NO_FILE),
    )
    .expect("valid");
    let CrmChoice::Salesforce(config) = choice else { panic!("{choice:?}") };
    assert_eq!(config.api_version(), "v61.0");
    assert!(format!("{config:?}").contains(&format!("timeout: {:?}", Duration::from_secs(5))));
    assert!(build(CrmChoice::Salesforce(config)).expect("builds").is_some());
}

#[test]
fn half_a_salesforce_configuration_or_two_directories_are_refused() {
    let only_id = choose(vars(&[("ROSTER_SALESFORCE_CLIENT_ID", "id")]), Path::new(NO_FILE));
    assert!(matches!(only_id, Err(ConfigError::Missing { var: "ROSTER_SALESFORCE_CLIENT_SECRET", .. })), "{only_id:?}");
    let only_url = choose(vars(&[("ROSTER_SALESFORCE_LOGIN_URL", "https://x.io")]), Path::new(NO_FILE));
    assert!(matches!(only_url, Err(ConfigError::Missing { var: "ROSTER_SALESFORCE_CLIENT_ID", .. })), "{only_url:?}");
    let both = choose(
        vars(&[
            ("ROSTER_SALESFORCE_CLIENT_ID", "id"),
            ("ROSTER_SALESFORCE_CLIENT_SECRET", "s"),
            ("ROSTER_CRM_CSV", "users.csv"),
        ]),
        Path::new(NO_FILE),
    );
    assert!(matches!(both, Err(ConfigError::Conflict { .. })), "{both:?}");
    // Empty values count as unset.
    assert!(matches!(
        choose(vars(&[("ROSTER_SALESFORCE_CLIENT_ID", " "), ("ROSTER_CRM_CSV", "")]), Path::new(NO_FILE)),
        Ok(CrmChoice::None)
    ));
}
