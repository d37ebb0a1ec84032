//! The audit log (§9): the before/after details of an event, the event an actor records, and
//! the filter over the log.

use roster_domain::actor::Actor;
use roster_domain::audit::{AuditEvent, AuditQuery, AuditTarget, Changes, Source, TargetKind};
use roster_domain::ids::AuditEventId;
use roster_domain::user::StatusKind;
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::support::{ORG, T0, actor_of, user, user_id};

#[test]
fn a_changed_field_is_recorded_with_its_before_and_after() {
    let details = Changes::new().field("first_name", &"Ada", &"Augusta").into_value();
    assert_eq!(details, json!({"first_name": {"before": "Ada", "after": "Augusta"}}));
}

#[test]
fn an_unchanged_field_is_not_recorded() {
    let changes = Changes::new().field("first_name", &"Ada", &"Ada");
    assert!(changes.is_empty());
    assert_eq!(changes.into_value(), json!({}));
}

#[test]
fn values_are_recorded_in_their_wire_form() {
    let details = Changes::new()
        .field("status", &StatusKind::Active, &StatusKind::Deactivated)
        .field("seats", &Some(3), &None::<u32>)
        .into_value();
    assert_eq!(
        details,
        json!({"status": {"before": "active", "after": "deactivated"}, "seats": {"before": 3, "after": null}})
    );
}

#[test]
fn a_note_records_context_that_is_not_a_before_and_after() {
    let changes = Changes::new().note("cascaded", &["sms"]).note("reason", &"contract ended");
    assert!(!changes.is_empty());
    assert_eq!(changes.into_value(), json!({"cascaded": ["sms"], "reason": "contract ended"}));
}

#[test]
fn several_changed_fields_are_recorded_together() {
    let details = Changes::new().field("a", &1, &2).field("b", &true, &true).field("c", &"x", &"y").into_value();
    assert_eq!(details, json!({"a": {"before": 1, "after": 2}, "c": {"before": "x", "after": "y"}}));
}

fn event(actor: &Actor) -> AuditEvent {
    AuditEvent::record(
        AuditEventId::from_uuid(Uuid::from_u128(0x7000)),
        T0,
        actor,
        "user.updated",
        AuditTarget::new(TargetKind::User, user_id(5), "Ada Lovelace <ada@example.com>"),
        Changes::new().field("first_name", &"Ada", &"Augusta"),
    )
}

#[test]
fn an_event_names_the_actor_their_impersonator_and_the_source() {
    let admin = user(user_id(1));
    let impersonated = Actor::for_user(
        &admin,
        &[],
        Default::default(),
        &crate::support::sample_tree(),
        Source::Console,
        Some(user_id(9)),
    );
    let e = event(&impersonated);
    assert_eq!(
        (e.org_id, e.actor_id, e.impersonator_id, e.source),
        (ORG, Some(user_id(1)), Some(user_id(9)), Source::Console)
    );
    assert_eq!(
        (e.action.as_str(), e.target_kind, e.target_id.clone()),
        ("user.updated", TargetKind::User, user_id(5).to_string())
    );
    assert_eq!(e.target_label, "Ada Lovelace <ada@example.com>");
    assert_eq!(e.details, json!({"first_name": {"before": "Ada", "after": "Augusta"}}));
}

#[test]
fn an_event_by_the_system_has_no_actor_unless_it_acts_for_someone() {
    let system = Actor::system(ORG, Source::Scheduler);
    assert_eq!(event(&system).actor_id, None);
    assert_eq!(event(&system.acting_as(user_id(3))).actor_id, Some(user_id(3)));
}

#[test]
fn sources_are_named_in_snake_case() {
    assert_eq!(serde_json::to_value(Source::CrmSync).unwrap(), json!("crm_sync"));
    assert_eq!(serde_json::to_value(TargetKind::ApiKey).unwrap(), json!("api_key"));
}

#[test]
fn the_audit_filter_matches_actor_target_action_and_a_half_open_time_range() {
    let e = event(&actor_of(&user(user_id(1)), &[]));
    let all = AuditQuery { limit: 50, ..AuditQuery::default() };
    assert!(all.matches(&e));
    assert!(AuditQuery { actor_id: Some(user_id(1)), ..all.clone() }.matches(&e));
    assert!(!AuditQuery { actor_id: Some(user_id(2)), ..all.clone() }.matches(&e));
    assert!(
        AuditQuery { target_kind: Some(TargetKind::User), target_id: Some(user_id(5).to_string()), ..all.clone() }
            .matches(&e)
    );
    assert!(!AuditQuery { target_kind: Some(TargetKind::Group), ..all.clone() }.matches(&e));
    assert!(!AuditQuery { action: Some("user.deleted".to_owned()), ..all.clone() }.matches(&e));
    assert!(AuditQuery { from: Some(T0), to: Some(T0 + Duration::seconds(1)), ..all.clone() }.matches(&e));
    assert!(!AuditQuery { to: Some(T0), ..all.clone() }.matches(&e), "the end of the range is excluded");
    assert!(!AuditQuery { before: Some((e.at, e.id)), ..all }.matches(&e), "the cursor itself is excluded");
}
