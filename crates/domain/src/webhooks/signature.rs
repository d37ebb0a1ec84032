//! Signing webhook bodies by the **Standard Webhooks** scheme (§9.1, <https://www.standardwebhooks.com>),
//! so a receiver verifies with any of that project's libraries:
//!
//! - `webhook-id`: the event's id, the same on every retry (receivers de-duplicate by it);
//! - `webhook-timestamp`: the attempt's time in Unix seconds;
//! - `webhook-signature`: `v1,<base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>">`, several
//!   such entries separated by spaces when more than one secret signs (the 24 hours after a
//!   rotation).
//!
//! The secret is `whsec_` followed by the standard base64 of the key bytes (32 random bytes for
//! the secrets Roster makes); the HMAC key is those bytes, not the text. Signing the timestamp
//! lets a receiver refuse replays of an old, intercepted request: [`verify_signature`] accepts a
//! timestamp within a tolerance of its own clock. Comparison is constant-time (`hmac`'s
//! `verify_slice`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use super::WEBHOOK_SECRET_PREFIX;

/// The header carrying the message id: the event's id, stable across retries.
pub const ID_HEADER: &str = "webhook-id";
/// The header carrying the attempt's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header carrying the signatures, `v1,<base64>` separated by spaces.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far from its own clock a receiver should accept a timestamp (the Standard Webhooks
/// libraries' default).
pub const DEFAULT_TOLERANCE: Duration = Duration::minutes(5);

type HmacSha256 = Hmac<Sha256>;

/// The HMAC key a `whsec_…` secret stands for: the standard base64 after the prefix (padding
/// optional). A secret that is not base64 — none Roster makes — signs with its text's bytes
/// after the prefix, so that signing never fails; receivers' libraries would refuse such a
/// secret, which is why [`new_secret`] is the only maker of secrets.
pub fn secret_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix(WEBHOOK_SECRET_PREFIX).unwrap_or(secret);
    let unpadded = encoded.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(unpadded)
        .or_else(|_| URL_SAFE_NO_PAD.decode(unpadded))
        .unwrap_or_else(|_| encoded.as_bytes().to_vec())
}

/// A new secret for `key` (random bytes): `whsec_` and their standard, padded base64.
pub fn new_secret(key: &[u8]) -> String {
    format!("{WEBHOOK_SECRET_PREFIX}{}", STANDARD.encode(key))
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (longer ones are hashed first), so this never fails.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC-SHA256 accepts a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// One `v1,<base64>` signature of `body` sent as message `id` at `timestamp` (Unix seconds).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(&secret_key(secret), id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(digest))
}

/// The `webhook-signature` value: one signature per secret, separated by spaces.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets.into_iter().map(|secret| sign(secret, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Whether the `webhook-signature` value `signatures` holds a valid signature of `body` by
/// `secret` for message `id` at `timestamp` (the `webhook-timestamp` value), made within
/// `tolerance` of `now`. A malformed header, a stale or future timestamp, or a tampered body,
/// id or timestamp all answer `false`; entries of other versions than `v1` are ignored.
pub fn verify_signature(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: Duration,
) -> bool {
    let Ok(timestamp) = timestamp.trim().parse::<i64>() else { return false };
    let age = Duration::seconds(now.unix_timestamp().saturating_sub(timestamp));
    if age.abs() > tolerance {
        return false;
    }
    let key = secret_key(secret);
    signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|signature| mac(&key, id, timestamp, body).verify_slice(&signature).is_ok())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2025-01-06 9:00 UTC);
    /// The secret of the Standard Webhooks specification's own example.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn a_signature_matches_the_specifications_example() {
        // The example of the Standard Webhooks specification (and its libraries' tests).
        assert_eq!(
            sign(SPEC_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_is_the_prefix_and_the_padded_base64_of_its_key() {
        let secret = new_secret(&[0xfb; 32]);
        assert_eq!(secret, format!("whsec_{}", "+/v7".repeat(10) + "+/s="));
        assert_eq!(secret_key(&secret), vec![0xfb; 32]);
    }

    #[test]
    fn a_signature_verifies_with_the_same_secret_id_and_body_only() {
        let t = NOW.unix_timestamp();
        let ts = t.to_string();
        let header = sign(SPEC_SECRET, "e1", t, b"{\"id\":1}");
        assert!(verify_signature(SPEC_SECRET, "e1", &ts, &header, b"{\"id\":1}", NOW, DEFAULT_TOLERANCE));
        assert!(!verify_signature(SPEC_SECRET, "e1", &ts, &header, b"{\"id\":2}", NOW, DEFAULT_TOLERANCE));
        assert!(!verify_signature(SPEC_SECRET, "e2", &ts, &header, b"{\"id\":1}", NOW, DEFAULT_TOLERANCE));
        let other = new_secret(&[7; 32]);
        assert!(!verify_signature(&other, "e1", &ts, &header, b"{\"id\":1}", NOW, DEFAULT_TOLERANCE));
    }

    #[test]
    fn an_old_future_or_altered_timestamp_is_refused() {
        let t = NOW.unix_timestamp();
        let header = sign(SPEC_SECRET, "e", t, b"x");
        let ok = |ts: &str, now| verify_signature(SPEC_SECRET, "e", ts, &header, b"x", now, DEFAULT_TOLERANCE);
        assert!(ok(&t.to_string(), NOW + DEFAULT_TOLERANCE));
        assert!(!ok(&t.to_string(), NOW + DEFAULT_TOLERANCE + Duration::SECOND));
        assert!(!ok(&t.to_string(), NOW - Duration::minutes(6)));
        assert!(!ok(&(t + 1).to_string(), NOW), "the timestamp is signed");
        assert!(!ok("soon", NOW));
    }

    #[test]
    fn any_of_several_signatures_may_match_and_malformed_entries_fail() {
        let t = NOW.unix_timestamp();
        let ts = t.to_string();
        let old = new_secret(&[1; 32]);
        let both = signature_header([SPEC_SECRET, old.as_str()], "e", t, b"x");
        assert_eq!(both.split(' ').count(), 2);
        assert!(verify_signature(SPEC_SECRET, "e", &ts, &both, b"x", NOW, DEFAULT_TOLERANCE));
        assert!(verify_signature(&old, "e", &ts, &both, b"x", NOW, DEFAULT_TOLERANCE));
        let good = sign(SPEC_SECRET, "e", t, b"x");
        let v2 = good.replace("v1,", "v2,");
        for header in ["", "v1,", "v1,***", v2.as_str(), &good.replace("v1,", "v1")] {
            assert!(!verify_signature(SPEC_SECRET, "e", &ts, header, b"x", NOW, DEFAULT_TOLERANCE), "{header}");
        }
    }

    proptest! {
        #[test]
        fn whatever_the_key_and_body_a_signature_verifies_and_a_changed_byte_does_not(
            key in proptest::collection::vec(any::<u8>(), 1..64),
            body in proptest::collection::vec(any::<u8>(), 0..256),
            flip in any::<usize>(),
        ) {
            let secret = new_secret(&key);
            let t = NOW.unix_timestamp();
            let header = sign(&secret, "msg", t, &body);
            prop_assert!(verify_signature(&secret, "msg", &t.to_string(), &header, &body, NOW, DEFAULT_TOLERANCE));
            if !body.is_empty() {
                let mut changed = body.clone();
                let at = flip % changed.len();
                changed[at] ^= 0x01;
                prop_assert!(!verify_signature(&secret, "msg", &t.to_string(), &header, &changed, NOW, DEFAULT_TOLERANCE));
            }
        }
    }
}
