//! What building a CRM directory from its configuration fails with, below both directories and
//! the code that chooses between them.

use thiserror::Error;

use crate::csv::CsvError;

/// A configuration the CRM directory cannot be built from. Messages name the variable and
/// never print a secret.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{var} is required when {because}")]
    Missing { var: &'static str, because: &'static str },
    #[error("{var} `{value}` is not valid: {reason}")]
    Invalid { var: &'static str, value: String, reason: String },
    #[error("{first} and {second} cannot both be set: {reason}")]
    Conflict { first: &'static str, second: &'static str, reason: &'static str },
    #[error("ROSTER_CRM_CSV: {0}")]
    Csv(#[from] CsvError),
    #[error("the Salesforce directory cannot be built: {0}")]
    Salesforce(String),
}
