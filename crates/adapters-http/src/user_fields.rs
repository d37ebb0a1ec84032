//! A member's fields of SPEC §3 on the wire, shared by `POST /users`, `PATCH /users/{id}` and
//! every answer that shows a user: the settings object (written as [`UserSettingsRequest`], read as
//! [`UserSettingsBody`]), the words of its enums, and the schemas that state in the OpenAPI document
//! the rule the domain's value types apply to each field (lengths, patterns, enums, ranges).
//!
//! The rules themselves are the domain's: a field is parsed with its value type (`Phone::parse`,
//! `CallRecording::parse`, …) and the settings are checked by `UserSettings::validate`, so a bad
//! value is a 422 `validation_failed` naming the field as the body spells it
//! (`settings.call_recording`). An enum word is read as text for that reason: a word outside the
//! list breaks a rule, it is not a body of the wrong shape (a 400).

use roster_domain::FieldError;
use roster_domain::services::SettingsPatch;
use roster_domain::user::{CallRecording, Homepage, MailboxProvider, UserSettings};
use roster_domain::values::Phone;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

use crate::wire::parse_opt;

/// A field that is present (even as `null`) becomes `Some(…)`; an absent one stays `None`
/// through `#[serde(default)]`: `null` clears an optional field, absence leaves it.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The schema of a user's nicknames: at most 20, each 1 to 64 characters (after trimming), no
/// two equal ignoring case.
pub fn nicknames_schema() -> impl Into<RefOr<Schema>> {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(64)))
        .max_items(Some(20))
        .description(Some(
            "At most 20 nicknames, each 1–64 characters after trimming, without control characters; no two \
             equal ignoring case (`duplicate`)",
        ))
}

/// The mailbox providers (SPEC §3); the provider bounds the daily email throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailboxProviderName {
    /// No mailbox: at most 10,000 emails a day.
    None,
    /// Google: at most 1,800 emails a day.
    Google,
    /// Microsoft: at most 4,500 emails a day.
    Microsoft,
}

impl From<MailboxProvider> for MailboxProviderName {
    fn from(p: MailboxProvider) -> Self {
        match p {
            MailboxProvider::None => Self::None,
            MailboxProvider::Google => Self::Google,
            MailboxProvider::Microsoft => Self::Microsoft,
        }
    }
}

/// The values of `call_recording`: the document lists them, so that a client knows the three
/// words the server reads (the domain's `CallRecording` knows nothing of schemas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallRecordingName {
    Optional,
    Enforced,
    Disabled,
}

impl From<CallRecordingName> for CallRecording {
    fn from(name: CallRecordingName) -> Self {
        match name {
            CallRecordingName::Optional => Self::Optional,
            CallRecordingName::Enforced => Self::Enforced,
            CallRecordingName::Disabled => Self::Disabled,
        }
    }
}

impl From<CallRecording> for CallRecordingName {
    fn from(c: CallRecording) -> Self {
        match c {
            CallRecording::Optional => Self::Optional,
            CallRecording::Enforced => Self::Enforced,
            CallRecording::Disabled => Self::Disabled,
        }
    }
}

/// Where the product opens for the user (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HomepageName {
    /// The product's standard page.
    Default,
    /// The leads list.
    Leads,
}

impl From<Homepage> for HomepageName {
    fn from(h: Homepage) -> Self {
        match h {
            Homepage::Default => Self::Default,
            Homepage::Leads => Self::Leads,
        }
    }
}

/// A user's settings (SPEC §3), as every answer shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserSettingsBody {
    pub mailbox_provider: MailboxProviderName,
    /// 1 up to the provider's daily cap: Google 1,800, Microsoft 4,500, none 10,000.
    #[schema(minimum = 1, maximum = 10_000)]
    pub email_throttle_max_per_day: u32,
    pub flow_enabled: bool,
    pub email_sync: bool,
    pub calendar_sync: bool,
    pub call_recording: CallRecordingName,
    pub homepage: HomepageName,
    pub round_robin: bool,
    pub scoring_enabled: bool,
    pub roaming_agent: bool,
    /// Where VoIP calls are forwarded (`+` and 8–15 digits); `null`: no forwarding.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub voip_forward_to: Option<String>,
}

impl From<&UserSettings> for UserSettingsBody {
    fn from(s: &UserSettings) -> Self {
        Self {
            mailbox_provider: s.mailbox_provider.into(),
            email_throttle_max_per_day: s.email_throttle_max_per_day,
            flow_enabled: s.flow_enabled,
            email_sync: s.email_sync,
            calendar_sync: s.calendar_sync,
            call_recording: s.call_recording.into(),
            homepage: s.homepage.into(),
            round_robin: s.round_robin,
            scoring_enabled: s.scoring_enabled,
            roaming_agent: s.roaming_agent,
            voip_forward_to: s.voip_forward_to.as_ref().map(|p| p.as_str().to_owned()),
        }
    }
}

/// The settings of `POST /users` (each field absent takes the default of SPEC §3) and of
/// `PATCH /users/{id}` (each field absent stays as it is). A bad value answers 422
/// `validation_failed` naming `settings.<field>`, and nothing changes.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSettingsRequest {
    /// `none` (default), `google` or `microsoft`; the throttle must fit the new provider's cap.
    #[schema(value_type = Option<MailboxProviderName>)]
    pub mailbox_provider: Option<String>,
    /// Emails the product may send for the user a day: 1 up to the provider's daily cap (Google
    /// 1,800, Microsoft 4,500, none 10,000; `out_of_range` beyond it). Default 300.
    #[schema(minimum = 1, maximum = 10_000)]
    pub email_throttle_max_per_day: Option<u32>,
    /// Default true.
    pub flow_enabled: Option<bool>,
    /// Default false.
    pub email_sync: Option<bool>,
    /// Default false.
    pub calendar_sync: Option<bool>,
    /// `optional` (default), `enforced` or `disabled`.
    #[schema(value_type = Option<CallRecordingName>)]
    pub call_recording: Option<String>,
    /// `default` (default) or `leads`.
    #[schema(value_type = Option<HomepageName>)]
    pub homepage: Option<String>,
    /// Default false.
    pub round_robin: Option<bool>,
    /// Default false.
    pub scoring_enabled: Option<bool>,
    /// Default false.
    pub roaming_agent: Option<bool>,
    /// Where VoIP calls are forwarded: `+` and 8–15 digits, the first not 0 (spaces, `-`, `.`,
    /// parentheses and a leading `00` are removed first); `null` stops forwarding.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub voip_forward_to: Option<Option<String>>,
}

impl UserSettingsRequest {
    /// The domain's settings patch, or every field that does not parse (named
    /// `settings.<field>`). The throttle's range is checked when the patch is applied.
    ///
    /// # Errors
    /// One [`FieldError`] per bad field.
    pub fn try_into_domain(self) -> Result<SettingsPatch, Vec<FieldError>> {
        let mailbox_provider =
            parse_opt("settings.mailbox_provider", self.mailbox_provider.as_deref(), MailboxProvider::parse);
        let call_recording = parse_opt("settings.call_recording", self.call_recording.as_deref(), CallRecording::parse);
        let homepage = parse_opt("settings.homepage", self.homepage.as_deref(), Homepage::parse);
        let voip_forward_to =
            self.voip_forward_to.map(|v| parse_opt("settings.voip_forward_to", v.as_deref(), Phone::parse)).transpose();
        let errors: Vec<FieldError> = [
            mailbox_provider.as_ref().err(),
            call_recording.as_ref().err(),
            homepage.as_ref().err(),
            voip_forward_to.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        match (mailbox_provider, call_recording, homepage, voip_forward_to) {
            (Ok(mailbox_provider), Ok(call_recording), Ok(homepage), Ok(voip_forward_to)) => Ok(SettingsPatch {
                mailbox_provider,
                email_throttle_max_per_day: self.email_throttle_max_per_day,
                flow_enabled: self.flow_enabled,
                email_sync: self.email_sync,
                calendar_sync: self.calendar_sync,
                call_recording,
                homepage,
                round_robin: self.round_robin,
                scoring_enabled: self.scoring_enabled,
                roaming_agent: self.roaming_agent,
                voip_forward_to,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_setting_is_named_at_once_and_good_ones_parse() {
        let bad = UserSettingsRequest {
            mailbox_provider: Some("yahoo".into()),
            call_recording: Some("always".into()),
            homepage: Some("Leads".into()),
            voip_forward_to: Some(Some("555".into())),
            ..UserSettingsRequest::default()
        };
        let fields: Vec<String> = bad.try_into_domain().expect_err("refused").into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["settings.mailbox_provider", "settings.call_recording", "settings.homepage", "settings.voip_forward_to"]
        );
        let good = UserSettingsRequest {
            mailbox_provider: Some("google".into()),
            call_recording: Some("enforced".into()),
            homepage: Some("leads".into()),
            voip_forward_to: Some(None),
            ..UserSettingsRequest::default()
        };
        let patch = good.try_into_domain().expect("parses");
        assert_eq!(patch.mailbox_provider, Some(MailboxProvider::Google));
        assert_eq!(patch.call_recording, Some(CallRecording::Enforced));
        assert_eq!(patch.homepage, Some(Homepage::Leads));
        assert_eq!(patch.voip_forward_to, Some(None));
    }
}
