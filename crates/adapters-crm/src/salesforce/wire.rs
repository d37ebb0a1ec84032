//! Salesforce's REST wire shapes (private to the crate) and their mapping to [`CrmUser`].
//!
//! The shapes follow Salesforce's REST API documentation: the OAuth2 token answer and its
//! `{"error", "error_description"}` failures, query results (`totalSize`, `done`,
//! `nextRecordsUrl`, `records` with `attributes`), and the error array
//! `[{"message", "errorCode", "fields"?}]` every other failure answers with.

use roster_domain::ports::CrmUser;
use roster_domain::values::{CrmId, Email, PersonName, Phone};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::fields::{clean_title, parse_salesforce_datetime};

/// A successful answer of `POST /services/oauth2/token`.
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub access_token: String,
    pub instance_url: String,
}

/// A refused token request (`400`/`401`), e.g. `{"error": "invalid_client", ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenFailure {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// One element of the error array of the REST API.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "errorCode", default)]
    pub error_code: String,
}

/// The first error of an error-array body, if the body is one.
pub(crate) fn first_error(body: &str) -> Option<ApiError> {
    serde_json::from_str::<Vec<ApiError>>(body).ok().and_then(|errors| errors.into_iter().next())
}

/// One page of a query answer.
#[derive(Deserialize)]
pub(crate) struct QueryPage {
    pub done: bool,
    #[serde(rename = "nextRecordsUrl")]
    pub next_records_url: Option<String>,
    pub records: Vec<UserRecord>,
}

/// A `User` record with the fields of [`super::soql::USER_FIELDS`]; `attributes` is ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UserRecord {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile_phone: Option<String>,
    #[serde(default)]
    pub is_active: bool,
    pub title: Option<String>,
    pub system_modstamp: Option<String>,
}

impl UserRecord {
    /// The record as a [`CrmUser`], or why it cannot be one (a user without a first name or
    /// with an address Roster does not accept cannot become a Roster user, so the directory
    /// leaves it out). A phone that is not in international form (Salesforce keeps phones as
    /// free text) is left out rather than failing the user: `Phone`, then `MobilePhone`.
    pub(crate) fn to_crm_user(&self) -> Result<CrmUser, String> {
        let crm_id = CrmId::parse(&self.id).map_err(|e| format!("Id {e}"))?;
        let first_name =
            PersonName::parse(self.first_name.as_deref().unwrap_or_default()).map_err(|e| format!("FirstName {e}"))?;
        let last_name =
            PersonName::parse(self.last_name.as_deref().unwrap_or_default()).map_err(|e| format!("LastName {e}"))?;
        let email = Email::parse(self.email.as_deref().unwrap_or_default()).map_err(|e| format!("Email {e}"))?;
        let phone = [&self.phone, &self.mobile_phone].into_iter().flatten().find_map(|p| Phone::parse(p).ok());
        Ok(CrmUser {
            crm_id,
            first_name,
            last_name,
            email,
            phone,
            active: self.is_active,
            title: clean_title(self.title.as_deref()),
        })
    }

    /// When the record last changed, if the answer carried a readable `SystemModstamp`.
    pub(crate) fn modified_at(&self) -> Option<OffsetDateTime> {
        self.system_modstamp.as_deref().and_then(parse_salesforce_datetime)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn record(json: &str) -> UserRecord {
        serde_json::from_str(json).expect("a record")
    }

    #[test]
    fn a_documented_user_record_maps_to_a_crm_user() {
        let rec = record(
            r#"{"attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/005xx000001SvQwAAK"},
                "Id": "005xx000001SvQwAAK", "FirstName": "Ada", "LastName": "Lovelace", "Name": "Ada Lovelace",
                "Email": "Ada@Example.com", "Phone": "(415) 555-0100", "MobilePhone": "+1 415 555 0101",
                "IsActive": true, "Title": "  Head of   Engines ", "SystemModstamp": "2024-01-31T09:30:15.000+0000"}"#,
        );
        let user = rec.to_crm_user().expect("maps");
        assert_eq!(user.crm_id.as_str(), "005xx000001SvQwAAK");
        assert_eq!(user.email.as_str(), "ada@example.com");
        assert_eq!(user.phone.as_ref().map(|p| p.as_str()), Some("+14155550101"));
        assert_eq!(user.title.as_deref(), Some("Head of Engines"));
        assert!(user.active);
        assert_eq!(rec.modified_at(), Some(datetime!(2024-01-31 09:30:15 UTC)));
    }

    #[test]
    fn a_user_without_a_first_name_is_not_a_crm_user() {
        let rec = record(
            r#"{"Id": "005xx000001SvQxAAK", "FirstName": null, "LastName": "Process", "Email": "a@b.io", "IsActive": true}"#,
        );
        let why = rec.to_crm_user().expect_err("no first name");
        assert!(why.starts_with("FirstName"), "{why}");
    }

    #[test]
    fn the_error_array_gives_its_first_code() {
        let err = first_error(r#"[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]"#)
            .expect("an error array");
        assert_eq!(err.error_code, "INVALID_SESSION_ID");
        assert!(first_error("<html>busy</html>").is_none());
    }
}
