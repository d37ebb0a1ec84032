//! Login throttling (§10): a sliding window of failures per account or address.

use proptest::prelude::*;
use roster_domain::ServiceError;
use roster_domain::error::ErrorCode;
use roster_domain::throttle::LoginThrottle;
use time::{Duration, OffsetDateTime};

use crate::support::T0;

fn ago(seconds: i64) -> OffsetDateTime {
    T0 - Duration::seconds(seconds)
}

fn retry_after(result: roster_domain::ServiceResult<()>) -> u64 {
    match result {
        Err(ServiceError::RateLimited { retry_after_seconds }) => retry_after_seconds,
        other => panic!("expected rate_limited, got {other:?}"),
    }
}

#[test]
fn the_default_is_five_failures_in_fifteen_minutes() {
    assert_eq!(LoginThrottle::default(), LoginThrottle { max_failures: 5, window: Duration::minutes(15) });
}

#[test]
fn fewer_failures_than_the_limit_are_allowed() {
    let failures: Vec<_> = (1..=4).map(ago).collect();
    assert!(LoginThrottle::default().check(&failures, T0).is_ok());
}

#[test]
fn reaching_the_limit_inside_the_window_is_refused_with_rate_limited() {
    let failures: Vec<_> = (1..=5).map(ago).collect();
    assert_eq!(LoginThrottle::default().check(&failures, T0).unwrap_err().code(), ErrorCode::RateLimited);
}

#[test]
fn failures_older_than_the_window_do_not_count() {
    let mut failures: Vec<_> = (1..=4).map(ago).collect();
    failures.push(ago(15 * 60));
    failures.push(ago(60 * 60));
    assert!(LoginThrottle::default().check(&failures, T0).is_ok());
}

#[test]
fn failures_after_now_do_not_count() {
    let mut failures: Vec<_> = (1..=4).map(ago).collect();
    failures.push(T0 + Duration::seconds(1));
    assert!(LoginThrottle::default().check(&failures, T0).is_ok());
}

#[test]
fn retry_after_is_the_time_until_the_oldest_counted_failure_leaves_the_window() {
    // Failures 10, 20, …, 60 s ago: the five newest count (60 s ago is the sixth); the oldest of
    // them (50 s ago) leaves the 15-minute window in 850 s.
    let failures: Vec<_> = [10, 20, 30, 40, 50, 60].into_iter().map(ago).collect();
    assert_eq!(retry_after(LoginThrottle::default().check(&failures, T0)), 15 * 60 - 50);
}

#[test]
fn retry_after_rounds_a_partial_second_up() {
    let throttle = LoginThrottle { max_failures: 1, window: Duration::seconds(10) };
    let failures = [T0 - Duration::milliseconds(500)];
    let wait = retry_after(throttle.check(&failures, T0));
    assert_eq!(wait, 10);
    assert!(throttle.check(&failures, T0 + Duration::seconds(9)).is_err(), "9 s is too early");
}

#[test]
fn retry_after_is_at_least_one_second() {
    let throttle = LoginThrottle { max_failures: 1, window: Duration::seconds(10) };
    assert_eq!(retry_after(throttle.check(&[T0 - Duration::milliseconds(9_999)], T0)), 1);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// A throttle and failures measured in milliseconds before `T0`: `recent` ones inside the
/// window, `old` ones at or beyond it.
fn throttle() -> impl Strategy<Value = LoginThrottle> {
    (1usize..=6, 1i64..=3_600)
        .prop_map(|(max_failures, secs)| LoginThrottle { max_failures, window: Duration::seconds(secs) })
}

fn failures(t: LoginThrottle, recent: std::ops::Range<usize>) -> impl Strategy<Value = Vec<OffsetDateTime>> {
    let window_ms = i64::try_from(t.window.whole_milliseconds()).unwrap();
    (prop::collection::vec(0..window_ms, recent), prop::collection::vec(window_ms..window_ms * 3, 0..4))
        .prop_map(|(recent, old)| recent.into_iter().chain(old).map(|ms| T0 - Duration::milliseconds(ms)).collect())
}

proptest! {
    #[test]
    fn fewer_recent_failures_than_the_limit_are_never_refused(
        (t, failures) in throttle().prop_flat_map(|t| (Just(t), failures(t, 0..t.max_failures)))
    ) {
        prop_assert!(t.check(&failures, T0).is_ok());
    }

    #[test]
    fn the_limit_reached_inside_the_window_is_refused_until_exactly_retry_after_has_passed(
        (t, failures) in throttle().prop_flat_map(|t| (Just(t), failures(t, t.max_failures..t.max_failures + 4)))
    ) {
        let wait = match t.check(&failures, T0) {
            Err(ServiceError::RateLimited { retry_after_seconds }) => retry_after_seconds,
            other => return Err(TestCaseError::fail(format!("expected rate_limited, got {other:?}"))),
        };
        prop_assert!(wait >= 1);
        prop_assert!(i64::try_from(wait).unwrap() <= t.window.whole_seconds());
        // With no new failure, the next attempt is allowed once retry_after has passed, and not
        // a whole second earlier.
        let then = T0 + Duration::seconds(i64::try_from(wait).unwrap());
        prop_assert!(t.check(&failures, then).is_ok(), "still refused after {} s", wait);
        if wait > 1 {
            prop_assert!(t.check(&failures, then - Duration::seconds(1)).is_err(), "retry_after {} s is too long", wait);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The progressive delay on failed logins
// ---------------------------------------------------------------------------------------------

use roster_domain::throttle::ProgressiveDelay;

#[test]
fn the_free_failures_cost_nothing_and_then_the_wait_doubles_from_the_newest_failure() {
    let d = ProgressiveDelay::PER_ACCOUNT;
    assert_eq!(d.free, 5);
    let failures: Vec<_> = (1..=4).map(ago).collect();
    assert!(d.check(&failures, T0).is_ok(), "four failures are free");
    let failures: Vec<_> = (0..5).map(ago).collect();
    assert_eq!(retry_after(d.check(&failures, T0)), 1, "at the fifth: one second after it");
    let failures: Vec<_> = (0..7).map(ago).collect();
    assert_eq!(retry_after(d.check(&failures, T0)), 4, "two beyond: four seconds");
    assert!(d.check(&failures, T0 + Duration::seconds(4)).is_ok());
}

#[test]
fn the_wait_is_capped() {
    let d = ProgressiveDelay::PER_ACCOUNT;
    assert_eq!(d.delay(0), Duration::seconds(1));
    assert_eq!(d.delay(3), Duration::seconds(8));
    assert_eq!(d.delay(60), d.cap);
    assert_eq!(d.delay(usize::MAX), d.cap);
}

fn progressive() -> impl Strategy<Value = ProgressiveDelay> {
    (1usize..=6, 1i64..=5, 5i64..=600).prop_map(|(free, base, cap)| ProgressiveDelay {
        free,
        base: Duration::seconds(base),
        cap: Duration::seconds(cap),
        window: Duration::seconds(3_600),
    })
}

/// Failures at distinct instants inside the window, newest a few seconds before `T0`.
fn recent_failures(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<OffsetDateTime>> {
    prop::collection::btree_set(1i64..3_000, n).prop_map(|s| s.into_iter().map(ago).collect())
}

proptest! {
    #[test]
    fn fewer_failures_than_the_free_ones_are_never_delayed(
        (d, failures) in progressive().prop_flat_map(|d| (Just(d), recent_failures(0..d.free)))
    ) {
        prop_assert!(d.check(&failures, T0).is_ok());
    }

    #[test]
    fn another_failure_never_shortens_the_wait(
        (d, failures) in progressive().prop_flat_map(|d| (Just(d), recent_failures(d.free..d.free + 6)))
    ) {
        let wait = |f: &[OffsetDateTime]| match d.check(f, T0) {
            Ok(()) => 0,
            Err(ServiceError::RateLimited { retry_after_seconds }) => retry_after_seconds,
            Err(other) => panic!("unexpected {other:?}"),
        };
        let mut more = failures.clone();
        more.push(T0);
        prop_assert!(wait(&more) >= wait(&failures));
        prop_assert!(wait(&more) >= 1, "a failure now past the free ones always waits");
        let cap = u64::try_from(d.cap.whole_seconds()).unwrap();
        prop_assert!(wait(&more) <= cap, "never longer than the cap");
    }

    #[test]
    fn the_wait_is_exact_to_the_second(
        (d, failures) in progressive().prop_flat_map(|d| (Just(d), recent_failures(d.free..d.free + 6)))
    ) {
        let mut failures = failures;
        failures.push(T0);
        let wait = match d.check(&failures, T0) {
            Err(ServiceError::RateLimited { retry_after_seconds }) => retry_after_seconds,
            other => return Err(TestCaseError::fail(format!("expected rate_limited, got {other:?}"))),
        };
        let then = T0 + Duration::seconds(i64::try_from(wait).unwrap());
        prop_assert!(d.check(&failures, then).is_ok(), "still refused after {} s", wait);
        prop_assert!(d.check(&failures, then - Duration::seconds(1)).is_err(), "{} s is too long", wait);
    }
}
