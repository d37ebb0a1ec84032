//! Seat counters against their rows (§4.2, §4.5): what reconciliation finds and may repair.

use std::collections::BTreeMap;

use proptest::prelude::*;
use roster_domain::seats::{SeatPool, seat_drift};

use crate::support::{ORG, key};

const PRODUCTS: [&str; 4] = ["core", "dialer", "flow", "sms"];

fn pool(product: &str, seats_total: u32, seats_used: u32) -> SeatPool {
    SeatPool::restore(ORG, key(product), seats_total, seats_used)
}

#[test]
fn a_counter_equal_to_its_rows_is_no_drift_and_a_product_without_rows_counts_zero() {
    let pools = [pool("core", 5, 2), pool("flow", 5, 0)];
    let counted = BTreeMap::from([(key("core"), 2)]);
    assert!(seat_drift(&pools, &counted).is_empty());
}

#[test]
fn a_counter_above_or_below_its_rows_is_drift_repairable_only_within_the_total() {
    let pools = [pool("core", 5, 4), pool("dialer", 5, 1), pool("sms", 2, 2)];
    let counted = BTreeMap::from([(key("core"), 1), (key("dialer"), 3), (key("sms"), 3)]);
    let drift = seat_drift(&pools, &counted);
    let shape: Vec<(&str, u32, u32, bool)> =
        drift.iter().map(|d| (d.product.as_str(), d.seats_used, d.counted, d.repairable())).collect();
    assert_eq!(shape, [("core", 4, 1, true), ("dialer", 1, 3, true), ("sms", 2, 3, false)]);
}

fn case() -> impl Strategy<Value = Vec<(u32, u32, u32)>> {
    // Per product: total, recorded used (≤ total, as the schema's CHECK keeps it), counted rows.
    proptest::collection::vec((0u32..20).prop_flat_map(|total| (Just(total), 0..=total, 0u32..25)), PRODUCTS.len())
}

proptest! {
    #[test]
    fn drift_is_reported_exactly_where_the_counter_differs_and_repairing_leaves_only_overfull_pools(
        figures in case()
    ) {
        let pools: Vec<SeatPool> =
            PRODUCTS.iter().zip(&figures).map(|(p, (total, used, _))| pool(p, *total, *used)).collect();
        let counted: BTreeMap<_, _> = PRODUCTS.iter().zip(&figures).map(|(p, (_, _, c))| (key(p), *c)).collect();
        let drift = seat_drift(&pools, &counted);
        let reported: Vec<&str> = drift.iter().map(|d| d.product.as_str()).collect();
        let expected: Vec<&str> =
            PRODUCTS.iter().zip(&figures).filter(|(_, (_, used, c))| used != c).map(|(p, _)| *p).collect();
        prop_assert_eq!(reported, expected);
        for d in &drift {
            let (total, used, c) = figures[PRODUCTS.iter().position(|p| *p == d.product.as_str()).unwrap()];
            prop_assert_eq!((d.seats_total, d.seats_used, d.counted), (total, used, c));
            prop_assert_eq!(d.repairable(), c <= total);
        }
        // The repair reconciliation makes: each repairable counter set to its count.
        let repaired: Vec<SeatPool> = pools
            .iter()
            .map(|p| match drift.iter().find(|d| d.product == *p.product() && d.repairable()) {
                Some(d) => SeatPool::restore(p.org_id(), p.product().clone(), p.seats_total(), d.counted),
                None => p.clone(),
            })
            .collect();
        prop_assert!(repaired.iter().all(|p| p.seats_used() <= p.seats_total()));
        prop_assert!(seat_drift(&repaired, &counted).iter().all(|d| !d.repairable()));
    }
}
