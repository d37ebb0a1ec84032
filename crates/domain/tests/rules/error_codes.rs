//! The stable machine codes of §10: what clients match on never changes spelling.

use std::collections::BTreeSet;

use roster_domain::error::ErrorCode;

#[test]
fn every_error_code_is_spelled_the_same_on_the_wire_and_in_messages() {
    for code in ErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        assert_eq!(code.to_string(), code.as_str());
    }
}

#[test]
fn no_two_error_codes_share_a_spelling() {
    let spellings: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(spellings.len(), ErrorCode::ALL.len());
}

#[test]
fn the_codes_the_spec_names_exist() {
    let spelled: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    for named in [
        "not_found",
        "unauthenticated",
        "forbidden",
        "validation_failed",
        "conflict",
        "precondition_failed",
        "rate_limited",
        "self_deactivation",
        "last_admin",
        "missing_prerequisite",
        "seat_limit_reached",
        "group_depth_exceeded",
        "flow_not_allowed",
        "auto_signup_enabled",
    ] {
        assert!(spelled.contains(named), "{named}");
    }
}
