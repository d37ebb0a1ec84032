//! Organization settings with the confirmation rule (§2, §8.1), the trial (§4.4), and the
//! per-user settings bounded by the mailbox provider (§3).

use roster_domain::error::ErrorCode;
use roster_domain::org::{OrgSettings, Organization, SettingsChange};
use roster_domain::user::{MailboxProvider, UserSettings};
use roster_domain::values::{EmailDomain, Label, Slug};
use time::Duration;

use crate::support::{ORG, ROOT, T0, code_of, invalid_fields};

fn domain(s: &str) -> EmailDomain {
    EmailDomain::parse(s).unwrap()
}

fn off(confirm: bool) -> SettingsChange {
    SettingsChange { auto_signup: Some(false), confirm, ..SettingsChange::default() }
}

// ---------------------------------------------------------------------------------------------
// Organization settings
// ---------------------------------------------------------------------------------------------

#[test]
fn a_new_organization_has_auto_signup_on_seat_release_on_and_three_seats_per_product() {
    let s = OrgSettings::default();
    assert!(s.auto_signup && s.release_seats_when_inactive);
    assert!(s.allowed_signup_domains.is_empty());
    assert_eq!(s.default_seat_limit, 3);
}

#[test]
fn turning_auto_signup_off_without_confirm_is_refused() {
    assert_eq!(code_of(OrgSettings::default().apply(&off(false))), ErrorCode::ConfirmationRequired);
}

#[test]
fn turning_auto_signup_off_with_confirm_is_accepted() {
    assert!(!OrgSettings::default().apply(&off(true)).unwrap().auto_signup);
}

#[test]
fn turning_auto_signup_on_needs_no_confirmation() {
    let disabled = OrgSettings { auto_signup: false, ..OrgSettings::default() };
    let change = SettingsChange { auto_signup: Some(true), ..SettingsChange::default() };
    assert!(disabled.apply(&change).unwrap().auto_signup);
}

#[test]
fn keeping_auto_signup_off_needs_no_confirmation() {
    let disabled = OrgSettings { auto_signup: false, ..OrgSettings::default() };
    assert!(!disabled.apply(&off(false)).unwrap().auto_signup);
}

#[test]
fn a_change_turning_auto_signup_off_without_confirm_is_refused_as_a_whole() {
    let change = SettingsChange {
        auto_signup: Some(false),
        release_seats_when_inactive: Some(false),
        allowed_signup_domains: Some(vec![domain("example.com")]),
        scim_products: None,
        confirm: false,
    };
    assert_eq!(code_of(OrgSettings::default().apply(&change)), ErrorCode::ConfirmationRequired);
}

#[test]
fn allowed_signup_domains_are_stored_sorted_without_duplicates() {
    let change = SettingsChange {
        allowed_signup_domains: Some(vec![domain("zeta.io"), domain("@Example.com"), domain("example.com")]),
        ..SettingsChange::default()
    };
    let next = OrgSettings::default().apply(&change).unwrap();
    assert_eq!(next.allowed_signup_domains, vec![domain("example.com"), domain("zeta.io")]);
}

#[test]
fn fields_left_out_of_a_change_keep_their_value() {
    let before = OrgSettings {
        auto_signup: false,
        allowed_signup_domains: vec![domain("example.com")],
        release_seats_when_inactive: true,
        default_seat_limit: 7,
        scim_products: vec![roster_domain::values::Key::parse("core").unwrap()],
    };
    let change = SettingsChange { release_seats_when_inactive: Some(false), ..SettingsChange::default() };
    let after = before.apply(&change).unwrap();
    assert_eq!(after, OrgSettings { release_seats_when_inactive: false, ..before });
}

fn organization(trial_ends_at: Option<time::OffsetDateTime>) -> Organization {
    Organization {
        id: ORG,
        name: Label::parse("Acme").unwrap(),
        slug: Slug::parse("acme").unwrap(),
        created_at: T0,
        trial_ends_at,
        root_group_id: ROOT,
        settings: OrgSettings::default(),
        version: 1,
    }
}

#[test]
fn the_trial_runs_while_now_is_before_its_end() {
    let end = T0 + Duration::days(14);
    let org = organization(Some(end));
    assert!(org.in_trial(T0));
    assert!(org.in_trial(end - Duration::seconds(1)));
    assert!(!org.in_trial(end));
    assert!(!organization(None).in_trial(T0));
}

// ---------------------------------------------------------------------------------------------
// User settings
// ---------------------------------------------------------------------------------------------

fn throttle(provider: MailboxProvider, per_day: u32) -> UserSettings {
    UserSettings { mailbox_provider: provider, email_throttle_max_per_day: per_day, ..UserSettings::default() }
}

#[test]
fn default_user_settings_are_valid_with_a_throttle_of_three_hundred() {
    let s = UserSettings::default();
    assert_eq!(s.email_throttle_max_per_day, 300);
    assert!(s.flow_enabled && !s.round_robin && s.voip_forward_to.is_none());
    assert!(s.validate().is_ok());
}

#[test]
fn each_mailbox_provider_caps_the_daily_throttle() {
    assert_eq!(MailboxProvider::Google.daily_cap(), 1_800);
    assert_eq!(MailboxProvider::Microsoft.daily_cap(), 4_500);
    assert_eq!(MailboxProvider::None.daily_cap(), 10_000);
}

#[test]
fn a_throttle_up_to_the_providers_cap_is_accepted() {
    for provider in [MailboxProvider::Google, MailboxProvider::Microsoft, MailboxProvider::None] {
        assert!(throttle(provider, 1).validate().is_ok());
        assert!(throttle(provider, provider.daily_cap()).validate().is_ok());
    }
}

#[test]
fn a_throttle_above_the_providers_cap_is_refused_with_validation_failed() {
    for provider in [MailboxProvider::Google, MailboxProvider::Microsoft, MailboxProvider::None] {
        assert_eq!(
            invalid_fields(throttle(provider, provider.daily_cap() + 1).validate()),
            vec![("settings.email_throttle_max_per_day".to_owned(), "out_of_range")]
        );
    }
}

#[test]
fn a_throttle_of_zero_is_refused_with_validation_failed() {
    assert_eq!(code_of(throttle(MailboxProvider::None, 0).validate()), ErrorCode::ValidationFailed);
}
