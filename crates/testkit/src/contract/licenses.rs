//! `LicenseRepository`: seat pools and the seat invariant, license assignments, reservations.

use std::sync::Arc;

use time::Duration;

use roster_domain::ids::{InviteId, UserId};
use roster_domain::ports::{SeatsExhausted, Store, StoreError, UniqueField};
use roster_domain::seats::{LicenseAssignment, SeatReservation};

use super::seed::{self, T0, key, seed, uid};
use super::{assert_conflict, assert_missing, begin, commit};

#[track_caller]
fn assert_exhausted<T: std::fmt::Debug>(result: Result<T, StoreError>, product: &str, total: u32, used: u32) {
    match result {
        Err(StoreError::SeatsExhausted(e)) => {
            assert_eq!(e, SeatsExhausted { product: key(product), seats_total: total, seats_used: used });
        }
        other => panic!("expected SeatsExhausted for {product} ({used} of {total}), got {other:?}"),
    }
}

/// `take_seats` succeeds while `used + n <= total` and answers the new figures; past the total it
/// is `SeatsExhausted` with the figures at that moment and takes nothing (also for an `n` so
/// large that `used + n` overflows 32 bits); an unknown product is `Missing`.
pub async fn take_seats_refuses_past_the_total_with_the_figures_and_never_over_allocates(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    assert_eq!(tx.take_seats(o, &key("dialer"), 2).await.expect("fits"), seed::pool(o, "dialer", 3, 2));
    assert_exhausted(tx.take_seats(o, &key("dialer"), 2).await, "dialer", 3, 2);
    assert_eq!(tx.take_seats(o, &key("dialer"), 0).await.expect("nothing always fits"), seed::pool(o, "dialer", 3, 2));
    assert_eq!(tx.take_seats(o, &key("dialer"), 1).await.expect("the last seat"), seed::pool(o, "dialer", 3, 3));
    assert_exhausted(tx.take_seats(o, &key("dialer"), 1).await, "dialer", 3, 3);
    assert_exhausted(tx.take_seats(o, &key("core"), u32::MAX).await, "core", 5, 3);
    assert_missing(tx.take_seats(o, &key("fax"), 1).await, "seat pool", "an unknown product");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let pools = tx.seat_pools(o).await.expect("reads");
    assert_eq!(pools[1], seed::pool(o, "dialer", 3, 3));
    assert_eq!(pools[0], s.pools[0], "refused takes took nothing");
}

/// `return_seats` gives seats back and never goes below zero; an unknown product is `Missing`.
pub async fn return_seats_never_goes_below_zero(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    assert_eq!(tx.return_seats(o, &key("core"), 2).await.expect("returns"), seed::pool(o, "core", 5, 1));
    assert_eq!(tx.return_seats(o, &key("core"), 5).await.expect("saturates"), seed::pool(o, "core", 5, 0));
    assert_eq!(tx.return_seats(o, &key("flow"), u32::MAX).await.expect("saturates"), seed::pool(o, "flow", 3, 0));
    assert_missing(tx.return_seats(o, &key("fax"), 1).await, "seat pool", "an unknown product");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let pools = tx.seat_pools(o).await.expect("reads");
    assert_eq!((pools[0].seats_used(), pools[2].seats_used()), (0, 0));
}

/// `set_seats_total` accepts any total down to the seats in use and answers the pool; below it,
/// `SeatsExhausted` with the current figures, changing nothing.
pub async fn a_total_below_the_seats_in_use_is_refused_with_the_figures(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    assert_exhausted(tx.set_seats_total(o, &key("core"), 2).await, "core", 5, 3);
    assert_eq!(tx.set_seats_total(o, &key("core"), 3).await.expect("equal to used"), seed::pool(o, "core", 3, 3));
    assert_exhausted(tx.take_seats(o, &key("core"), 1).await, "core", 3, 3);
    assert_eq!(tx.set_seats_total(o, &key("core"), 1_000).await.expect("raises"), seed::pool(o, "core", 1_000, 3));
    assert_eq!(tx.set_seats_total(o, &key("sms"), 0).await.expect("an unused pool"), seed::pool(o, "sms", 0, 0));
    assert_missing(tx.set_seats_total(o, &key("fax"), 1).await, "seat pool", "an unknown product");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let pools = tx.seat_pools(o).await.expect("reads");
    assert_eq!((pools[0].seats_total(), pools[3].seats_total()), (1_000, 0));
}

/// One pool per product and organization (`Conflict { field: Key }` for a second one); a pool
/// never starts with more seats used than its total (`SeatsExhausted`); pools list by product.
pub async fn a_seat_pool_is_unique_per_product_and_never_starts_over_its_total(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    assert_conflict(tx.insert_seat_pool(&seed::pool(o, "core", 9, 0)).await, UniqueField::Key, "a second core pool");
    assert_exhausted(tx.insert_seat_pool(&seed::pool(o, "fax", 1, 2)).await, "fax", 1, 2);
    tx.insert_seat_pool(&seed::pool(o, "analytics", 4, 4)).await.expect("a full pool");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let products: Vec<String> =
        tx.seat_pools(o).await.expect("reads").into_iter().map(|p| p.product().as_str().to_owned()).collect();
    assert_eq!(products, ["analytics", "core", "dialer", "flow", "sms", "voice"], "by product, unchanged core");
    assert_eq!(tx.seat_pools(o).await.expect("reads")[1], s.pools[0]);
}

/// One assignment per user and product (`Conflict { field: Key }`), which needs its user in the
/// organization (`Missing { kind: "user" }`); `delete_license` answers whether there was one;
/// `licenses_of` lists by product, `all_licenses` by user then product, `licenses_after` pages
/// through it.
pub async fn a_license_is_unique_per_user_and_product_and_needs_its_user(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let later = LicenseAssignment { assigned_at: T0 + Duration::days(1), ..seed::license(&s.ada, "core") };
    assert_conflict(tx.insert_license(&later).await, UniqueField::Key, "ada holds core already");
    let ghost = seed::user(o, uid(1, 999), "ghost@example.com");
    assert_missing(tx.insert_license(&seed::license(&ghost, "core")).await, "user", "an unknown user");
    tx.insert_license(&seed::license(&s.ada, "dialer")).await.expect("inserts");
    tx.insert_license(&seed::license(&s.admin, "sms")).await.expect("inserts");
    assert!(tx.delete_license(o, s.bob.id, &key("core")).await.expect("deletes"));
    assert!(!tx.delete_license(o, s.bob.id, &key("core")).await.expect("answers"), "nothing left to delete");
    assert!(!tx.delete_license(o, UserId::from_uuid(uid(1, 999)), &key("core")).await.expect("answers"));
    commit(tx).await;
    let mut tx = begin(&store).await;
    let products =
        |ls: Vec<LicenseAssignment>| ls.into_iter().map(|l| l.product.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(products(tx.licenses_of(o, s.ada.id).await.expect("reads")), ["core", "dialer", "flow"]);
    assert!(tx.licenses_of(o, s.bob.id).await.expect("reads").is_empty());
    let all = tx.all_licenses(o).await.expect("reads");
    let pairs: Vec<(UserId, String)> = all.iter().map(|l| (l.user_id, l.product.as_str().to_owned())).collect();
    let mut sorted = pairs.clone();
    sorted.sort();
    assert_eq!(pairs, sorted, "by user, then product");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], seed::license(&s.admin, "sms"), "assigned_at and every field read back");
    for limit in [1, 3, 4, 10] {
        let (mut paged, mut after) = (Vec::new(), None);
        loop {
            let page = tx.licenses_after(o, after.take(), limit).await.expect("reads");
            let full = page.len() == limit as usize;
            after = page.last().map(|l| (l.user_id, l.product.clone()));
            paged.extend(page);
            if !full {
                break;
            }
        }
        assert_eq!(paged, all, "licenses_after pages through all_licenses, {limit} at a time");
    }
    assert!(tx.licenses_after(o, None, 0).await.expect("reads").is_empty(), "a limit of 0 answers none");
    let last = all.last().map(|l| (l.user_id, l.product.clone()));
    assert!(tx.licenses_after(o, last, 10).await.expect("reads").is_empty(), "nothing after the last");
}

/// A reservation needs its invite in the organization (`Missing { kind: "invite" }`), is unique
/// per invite and product (`Conflict { field: Key }`), lists by product, and
/// `delete_reservations` removes the invite's reservations only.
pub async fn reservations_belong_to_an_invite_of_the_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let reserve =
        |invite: InviteId, product: &str| SeatReservation { org_id: o, invite_id: invite, product: key(product) };
    assert_conflict(tx.insert_reservation(&reserve(s.invite.id, "core")).await, UniqueField::Key, "core again");
    let ghost = InviteId::from_uuid(uid(1, 999));
    assert_missing(tx.insert_reservation(&reserve(ghost, "core")).await, "invite", "an unknown invite");
    tx.insert_reservation(&reserve(s.invite.id, "flow")).await.expect("inserts");
    let other = seed::invite(&s.dee, uid(1, 300), "other-hash", &["dialer"]);
    tx.insert_invite(&other).await.expect("inserts");
    tx.insert_reservation(&reserve(other.id, "dialer")).await.expect("inserts");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let held = tx.reservations_of(o, s.invite.id).await.expect("reads");
    assert_eq!(held, vec![reserve(s.invite.id, "core"), reserve(s.invite.id, "flow")], "by product");
    tx.delete_reservations(o, s.invite.id).await.expect("deletes");
    assert!(tx.reservations_of(o, s.invite.id).await.expect("reads").is_empty());
    assert_eq!(tx.reservations_of(o, other.id).await.expect("reads"), vec![reserve(other.id, "dialer")]);
    tx.delete_reservations(o, ghost).await.expect("deleting none is fine");
}
