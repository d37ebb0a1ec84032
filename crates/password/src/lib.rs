//! Roster's password hashing: the domain's `PasswordHasher` port on Argon2id (the `argon2`
//! crate's defaults: 19 MiB, 2 passes, 1 lane — OWASP's recommended minimum), run on the blocking
//! pool so a login never stalls the async workers. A crate of its own so that the server, the CLI
//! and the HTTP adapter share it without depending on one another.

use argon2::password_hash::{PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use roster_domain::ports::{HasherError, PasswordHash, PasswordHasher};
use roster_domain::values::Password;

/// Argon2id with explicit parameters (`Default`: the crate's recommended ones).
#[derive(Debug, Clone, Default)]
pub struct Argon2Hasher {
    params: Params,
}

impl Argon2Hasher {
    /// Argon2id with these costs (tests use small ones; production the default).
    ///
    /// # Errors
    /// When the parameters are outside Argon2's ranges.
    pub fn with_params(memory_kib: u32, passes: u32, lanes: u32) -> Result<Self, HasherError> {
        let params = Params::new(memory_kib, passes, lanes, None).map_err(|e| HasherError::Failed(e.to_string()))?;
        Ok(Self { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HasherError> {
        let argon2 = self.argon2();
        let secret = password.expose().to_owned();
        let phc = tokio::task::spawn_blocking(move || {
            // A 128-bit salt from the thread-local CSPRNG (ChaCha, seeded by the OS).
            let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
            argon2.hash_password(secret.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(|e| HasherError::Failed(e.to_string()))?
        .map_err(|e| HasherError::Failed(e.to_string()))?;
        Ok(PasswordHash::new(phc))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, HasherError> {
        // Verification takes its parameters from the stored PHC string, so hashes made with
        // older costs keep working.
        let secret = password.expose().to_owned();
        let phc = hash.as_str().to_owned();
        tokio::task::spawn_blocking(move || {
            let parsed = PhcHash::new(&phc).map_err(|_| HasherError::MalformedHash)?;
            Ok(Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|e| HasherError::Failed(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = Argon2Hasher::with_params(1024, 1, 1).expect("valid params");
        let good = Password::parse("correct horse battery").expect("long enough");
        let bad = Password::parse("wrong horse battery!!").expect("long enough");
        let hash = hasher.hash(&good).await.expect("hashes");
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(hasher.verify(&good, &hash).await.expect("verifies"));
        assert!(!hasher.verify(&bad, &hash).await.expect("verifies"));
        let garbage = PasswordHash::new("not a phc string".to_owned());
        assert!(matches!(hasher.verify(&good, &garbage).await, Err(HasherError::MalformedHash)));
    }
}
