//! Tests of the pure rules of `roster-domain`, through its public API only: one unit test per
//! rule (named as the rule reads) and proptest properties for the rules whose input space is too
//! large to enumerate by hand. Services, ports and the state machine are tested elsewhere.

mod audit_changes;
mod catalog;
mod dominance;
mod error_codes;
mod groups;
mod load;
mod pasted;
mod roles_actor;
mod scim_filter;
mod scim_patch;
mod seats;
mod settings;
mod stamping;
mod status;
mod support;
mod throttle;
mod upload;
mod visibility;
