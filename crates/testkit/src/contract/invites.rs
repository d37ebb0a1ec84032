//! `InviteRepository`: invites by id and by token hash, pending ones, resending and deleting,
//! and the groups an invite was made for.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use roster_domain::ids::InviteId;
use roster_domain::invites::{Invite, InvitePurpose};
use roster_domain::ports::Store;

use super::seed::{self, T0, seed, uid};
use super::{assert_missing, begin, commit};

/// An invite is found by id in its organization and by the hash of its current token in any
/// organization (accepted ones too); `pending_invites` lists the ones not accepted, in id
/// order; `update_invite` replaces one (a resend changes the token hash); an invite needs its
/// user in the organization (`Missing { kind: "user" }`), an update an invite of the
/// organization (`Missing { kind: "invite" }`).
pub async fn invites_are_found_by_id_and_token_hash_and_pending_until_accepted(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let o = a.org.id;
    let mut tx = begin(&store).await;
    let mut signup = seed::invite(&a.dee, uid(1, 5), "signup-hash", &[]);
    signup.purpose = InvitePurpose::SignupVerification;
    signup.created_by = Some(a.admin.id);
    let mut accepted = seed::invite(&a.ada, uid(1, 6), "accepted-hash", &["core", "flow"]);
    accepted.accepted_at = Some(T0 + Duration::days(1));
    for i in [&signup, &accepted] {
        tx.insert_invite(i).await.expect("inserts");
    }
    let ghost = seed::user(o, uid(1, 999), "ghost@example.com");
    assert_missing(tx.insert_invite(&seed::invite(&ghost, uid(1, 7), "h", &[])).await, "user", "an unknown user");
    let resent =
        Invite { token_hash: "resent-hash".to_owned(), expires_at: T0 + Duration::days(9), ..a.invite.clone() };
    tx.update_invite(&resent).await.expect("resends");
    let unknown = Invite { id: InviteId::from_uuid(uid(1, 8)), ..resent.clone() };
    assert_missing(tx.update_invite(&unknown).await, "invite", "an unknown invite");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.invite(o, signup.id).await.expect("reads"), Some(signup.clone()));
    assert_eq!(tx.pending_invites(o).await.expect("reads"), vec![signup, resent.clone()], "in id order");
    assert_eq!(tx.invite_by_token_hash("resent-hash").await.expect("reads"), Some(resent));
    assert_eq!(tx.invite_by_token_hash(&a.invite.token_hash).await.expect("reads"), None, "the old token is dead");
    assert_eq!(tx.invite_by_token_hash("accepted-hash").await.expect("reads"), Some(accepted), "accepted too");
    assert_eq!(tx.invite_by_token_hash(&b.invite.token_hash).await.expect("reads"), Some(b.invite.clone()));
    assert_eq!(tx.invite_by_token_hash("nothing").await.expect("reads"), None);
}

/// Deleting an invite deletes its reservations (seat counts are the caller's to return);
/// deleting an unknown invite is `Missing { kind: "invite" }`.
pub async fn deleting_an_invite_deletes_its_reservations(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    tx.delete_invite(o, s.invite.id).await.expect("deletes");
    assert_missing(tx.delete_invite(o, s.invite.id).await, "invite", "deleting twice");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.invite(o, s.invite.id).await.expect("reads"), None);
    assert!(tx.reservations_of(o, s.invite.id).await.expect("reads").is_empty());
    assert!(tx.pending_invites(o).await.expect("reads").is_empty());
    assert_eq!(tx.seat_pools(o).await.expect("reads"), s.pools, "seats untouched");
    assert_eq!(tx.user(o, s.cy.id).await.expect("reads"), Some(s.cy.clone()), "the user stays");
}

/// The groups an invite was made for are kept with it: read back by id, by token hash and
/// among the pending invites, batch-written like the single write, replaced by an update (a
/// resend keeps them), and of one organization only (another organization's invite is not
/// found).
pub async fn an_invite_keeps_the_groups_it_was_made_for(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let o = a.org.id;
    let mut tx = begin(&store).await;
    let mut one = seed::invite(&a.dee, uid(1, 5), "one-group-hash", &[]);
    one.group_ids = BTreeSet::from([a.sales.id]);
    let mut two = seed::invite(&a.ada, uid(1, 6), "two-groups-hash", &["core"]);
    two.group_ids = BTreeSet::from([a.sales.id, a.east.id]);
    tx.insert_invite(&one).await.expect("inserts");
    tx.insert_invites(std::slice::from_ref(&two)).await.expect("batch-inserts");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.invite(o, one.id).await.expect("reads"), Some(one.clone()));
    assert_eq!(tx.invite_by_token_hash("two-groups-hash").await.expect("reads"), Some(two.clone()));
    let pending = tx.pending_invites(o).await.expect("reads");
    assert!(pending.contains(&one) && pending.contains(&two), "{pending:?}");
    assert_eq!(tx.invite(b.org.id, one.id).await.expect("reads"), None, "another organization's");
    let resent = Invite { token_hash: "resent-two-hash".to_owned(), ..two.clone() };
    tx.update_invite(&resent).await.expect("resends");
    let regrouped = Invite { group_ids: BTreeSet::from([a.support.id]), ..one.clone() };
    tx.update_invite(&regrouped).await.expect("updates");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.invite(o, two.id).await.expect("reads"), Some(resent), "a resend keeps the groups");
    assert_eq!(tx.invite(o, one.id).await.expect("reads").map(|i| i.group_ids), Some(BTreeSet::from([a.support.id])));
    assert_eq!(tx.invite(o, a.invite.id).await.expect("reads").map(|i| i.group_ids), Some(BTreeSet::new()));
}
