//! Signing webhook bodies (§9.1): `Roster-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256 keyed with the endpoint's secret (its UTF-8 bytes, exactly as shown at creation)
//! over `"<t>.<body>"`.
//!
//! Signing the timestamp with the body lets a consumer refuse replays of an old, intercepted
//! request: [`verify_signature`] accepts a header only within a tolerance of its own clock. The
//! header may carry several `v1` entries (a future secret rotation signs with both secrets); one
//! matching entry suffices. Comparison is constant-time (`hmac`'s `verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Roster-Signature";
/// The header carrying the event's id, for consumers that de-duplicate (delivery is at least
/// once).
pub const EVENT_ID_HEADER: &str = "Roster-Event-Id";
/// How far from its own clock a consumer should accept a signature's timestamp.
pub const DEFAULT_TOLERANCE: Duration = Duration::minutes(5);

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (longer ones are hashed first), so this never fails.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC-SHA256 accepts a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Roster-Signature` header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Whether `header` is a valid signature of `body` by `secret`, made within `tolerance` of
/// `now`. A malformed header, a stale or future timestamp, or a tampered body all answer
/// `false`.
pub fn verify_signature(secret: &str, header: &str, body: &[u8], now: OffsetDateTime, tolerance: Duration) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else { return false };
    let age = Duration::seconds(now.unix_timestamp().saturating_sub(timestamp));
    if age.abs() > tolerance {
        return false;
    }
    signatures.iter().any(|s| mac(secret, timestamp, body).verify_slice(s).is_ok())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2025-01-06 9:00 UTC);

    #[test]
    fn a_signature_matches_the_published_recipe() {
        // Computed independently, as a consumer in another language would:
        // python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_test', b'1736154000.{}',
        //   hashlib.sha256).hexdigest())"
        assert_eq!(
            sign("whsec_test", 1_736_154_000, b"{}"),
            "t=1736154000,v1=19cc7e3a7be1dff390cb1bb6b71483315592a4875e954aa5c51cb59e52cc2817"
        );
    }

    #[test]
    fn a_signature_verifies_with_the_same_secret_and_body_only() {
        let t = NOW.unix_timestamp();
        let header = sign("whsec_a", t, b"{\"id\":1}");
        assert!(verify_signature("whsec_a", &header, b"{\"id\":1}", NOW, DEFAULT_TOLERANCE));
        assert!(!verify_signature("whsec_a", &header, b"{\"id\":2}", NOW, DEFAULT_TOLERANCE));
        assert!(!verify_signature("whsec_b", &header, b"{\"id\":1}", NOW, DEFAULT_TOLERANCE));
    }

    #[test]
    fn an_old_or_future_timestamp_is_refused() {
        let t = NOW.unix_timestamp();
        let header = sign("whsec_a", t, b"x");
        assert!(verify_signature("whsec_a", &header, b"x", NOW + DEFAULT_TOLERANCE, DEFAULT_TOLERANCE));
        assert!(!verify_signature(
            "whsec_a",
            &header,
            b"x",
            NOW + DEFAULT_TOLERANCE + Duration::SECOND,
            DEFAULT_TOLERANCE
        ));
        assert!(!verify_signature("whsec_a", &header, b"x", NOW - Duration::minutes(6), DEFAULT_TOLERANCE));
    }

    #[test]
    fn a_timestamp_changed_in_the_header_breaks_the_signature() {
        let t = NOW.unix_timestamp();
        let header = sign("whsec_a", t, b"x").replace(&format!("t={t}"), &format!("t={}", t + 1));
        assert!(!verify_signature("whsec_a", &header, b"x", NOW, DEFAULT_TOLERANCE));
    }

    #[test]
    fn any_of_several_v1_entries_may_match_and_malformed_headers_fail() {
        let t = NOW.unix_timestamp();
        let good = sign("whsec_a", t, b"x");
        let v1 = good.split_once(",v1=").unwrap().1;
        let rotated = format!("t={t},v1={},v1={v1}", "00".repeat(32));
        assert!(verify_signature("whsec_a", &rotated, b"x", NOW, DEFAULT_TOLERANCE));
        for header in ["", "v1=abc", &format!("t={t}"), &format!("t=soon,v1={v1}"), &format!("t={t},v1=zz")] {
            assert!(!verify_signature("whsec_a", header, b"x", NOW, DEFAULT_TOLERANCE), "{header}");
        }
    }
}
