//! A fast, fake password hasher, for tests only.
//!
//! Argon2id is deliberately slow; property tests that create hundreds of users cannot afford
//! it. This hasher keeps the port's contract (a wrong password is `Ok(false)`, an unreadable
//! hash is `MalformedHash`) with an unsalted SHA-256, which is **not** a password hash: the
//! real one is the adapter's job.

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use roster_domain::ports::{HasherError, PasswordHash, PasswordHasher};
use roster_domain::values::Password;

/// The prefix that marks a fake hash, so that a real PHC string is recognised as malformed.
const PREFIX: &str = "fake-sha256$";

/// A [`PasswordHasher`] storing `fake-sha256$<hex sha256>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FakeHasher;

fn digest(password: &Password) -> String {
    hex::encode(Sha256::digest(password.expose().as_bytes()))
}

#[async_trait]
impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HasherError> {
        Ok(PasswordHash::new(format!("{PREFIX}{}", digest(password))))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, HasherError> {
        let stored = hash.as_str().strip_prefix(PREFIX).ok_or(HasherError::MalformedHash)?;
        Ok(stored == digest(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::parse(s).expect("a valid test password")
    }

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hash = FakeHasher.hash(&password("correct horse battery")).await.expect("hashes");
        assert!(FakeHasher.verify(&password("correct horse battery"), &hash).await.expect("reads"));
        assert!(!FakeHasher.verify(&password("wrong horse battery"), &hash).await.expect("reads"));
    }

    #[tokio::test]
    async fn a_hash_without_the_fake_prefix_is_malformed() {
        let real = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$abc$def".to_owned());
        let err = FakeHasher.verify(&password("correct horse battery"), &real).await;
        assert!(matches!(err, Err(HasherError::MalformedHash)));
    }
}
