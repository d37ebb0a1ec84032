//! Small ports: time, identifiers and secrets, password hashing.

use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::values::Password;

/// The current time. Services never read the system clock themselves, so tests move time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant, in UTC; the only time services ever see.
    fn now(&self) -> OffsetDateTime;
}

/// Fresh identifiers and secrets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new unique id (adapters use UUIDv7 so ids sort by creation).
    fn uuid(&self) -> Uuid;
    /// A new secret of at least 256 random bits, URL-safe (tokens, API key secrets).
    fn secret(&self) -> String;
}

/// A stored password hash (PHC string). Never shown, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string that the [`PasswordHasher`] produced or storage holds.
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for the adapter that stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// Why hashing or verifying failed (never a wrong password: that is `Ok(false)`).
#[derive(Debug, Error)]
pub enum HasherError {
    /// The hashing library failed (resources, parameters); the message is for the log.
    #[error("password hashing failed: {0}")]
    Failed(String),
    /// The stored hash cannot be read as a PHC string of a supported algorithm.
    #[error("the stored hash is malformed")]
    MalformedHash,
}

/// Hashes and verifies passwords (Argon2id in production).
///
/// # Errors
/// `hash` fails only on an internal failure; `verify` answers `Ok(false)` for a wrong password
/// and `Err(MalformedHash)` for a hash it cannot read.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password with a fresh salt; the hash is safe to store and verifiable by
    /// [`verify`](Self::verify).
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HasherError>;
    /// Whether `password` matches `hash`, in time that does not depend on where they differ;
    /// `Ok(false)` for a wrong password.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, HasherError>;
}

/// Why a message could not be delivered.
#[derive(Debug, Error)]
pub enum MailError {
    /// Worth retrying (connection refused, 4xx SMTP reply, timeout).
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Will never succeed (5xx SMTP reply: unknown mailbox, rejected content).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Delivers one message (SMTP or a file drop). Rendering text and HTML and building links from
/// the public base URL is the adapter's job.
///
/// # Errors
/// [`MailError::Transient`] when a retry may succeed, [`MailError::Permanent`] otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers `mail` or says why not; returning `Ok` means the relay (or the folder) accepted it,
    /// so the outbox marks it sent and never sends it again.
    async fn send(&self, mail: &crate::mail::OutgoingMail) -> Result<(), MailError>;
}
