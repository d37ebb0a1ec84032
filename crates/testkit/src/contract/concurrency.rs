//! Transactions racing each other, each on a task of its own (spawned on the test's runtime,
//! which has two worker threads), released together by a barrier.
//!
//! What these cases can prove depends on the store. The in-memory store runs one transaction
//! at a time (its `begin` waits for the previous transaction to end), so for it they prove
//! only that serial execution keeps the invariants and that no task is lost. SQLite serializes
//! writers too (`BEGIN IMMEDIATE`), and the cases prove that the busy timeout lets every task
//! through instead of failing it. On PostgreSQL the transactions really overlap, and the cases
//! prove the database-side guarantees the port documents: the conditional `UPDATE` of
//! `take_seats`, the row lock of `lock_org`, `UPDATE … WHERE version = ?`, and the
//! per-organization event counter. A missing guarantee shows up as a failure most runs, not
//! every run: a race the scheduler happens to serialize passes.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_lock::Barrier;
use time::Duration;

use roster_domain::ids::{AuditEventId, OrgId};
use roster_domain::org::Organization;
use roster_domain::ports::{SeatsExhausted, Store, StoreError};
use roster_domain::roles::RoleGrant;
use roster_domain::seats::SeatPool;
use roster_domain::user::User;

use super::seed::{self, T0, key, uid};
use super::{Task, begin, commit};

/// Gives the other tasks a chance to run in the middle of a transaction.
async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await;
}

/// Awaits every spawned task, failing the case if one panicked.
pub(super) async fn join_all<T, H, E>(handles: Vec<H>) -> Vec<T>
where
    H: Future<Output = Result<T, E>>,
    E: Debug,
{
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("a racing task panicked"));
    }
    out
}

/// An organization with its root group, committed.
async fn bare_org(store: &Arc<dyn Store>, n: u64) -> Organization {
    let org = seed::org(n, &format!("race-{n}"));
    let mut tx = begin(store).await;
    seed::insert_org_with_root(tx.as_mut(), &org).await;
    commit(tx).await;
    org
}

const RACERS: usize = 64;

/// 64 tasks, each in its own transaction, take one seat of a pool of 3 and commit: exactly 3
/// succeed, every other one is refused with `SeatsExhausted` and the figures 3 of 3, and the
/// pool ends with 3 used.
pub async fn sixty_four_tasks_racing_for_three_seats_get_exactly_three<S, H, E>(store: Arc<dyn Store>, spawn: S)
where
    S: Fn(Task<Result<SeatPool, StoreError>>) -> H,
    H: Future<Output = Result<Result<SeatPool, StoreError>, E>>,
    E: Debug,
{
    let org = bare_org(&store, 1).await;
    let mut tx = begin(&store).await;
    tx.insert_seat_pool(&seed::pool(org.id, "core", 3, 0)).await.expect("inserts a pool");
    commit(tx).await;

    let barrier = Arc::new(Barrier::new(RACERS));
    let handles: Vec<H> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            spawn(Box::pin(async move {
                barrier.wait().await;
                let mut tx = store.begin().await?;
                let pool = tx.take_seats(org.id, &key("core"), 1).await?;
                yield_now().await;
                tx.commit().await?;
                Ok(pool)
            }))
        })
        .collect();
    let outcomes = join_all(handles).await;

    let taken: Vec<&SeatPool> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(taken.len(), 3, "exactly seats_total takes succeed: {outcomes:?}");
    let used: BTreeSet<u32> = taken.iter().map(|p| p.seats_used()).collect();
    assert_eq!(used, BTreeSet::from([1, 2, 3]), "each successful take saw the ones before it");
    let full = SeatsExhausted { product: key("core"), seats_total: 3, seats_used: 3 };
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        match refused {
            StoreError::SeatsExhausted(e) => assert_eq!(e, &full, "refused with the figures of the full pool"),
            other => panic!("a racing take failed with something else than SeatsExhausted: {other:?}"),
        }
    }
    let mut tx = begin(&store).await;
    assert_eq!(tx.seat_pools(org.id).await.expect("reads"), vec![seed::pool(org.id, "core", 3, 3)]);
}

/// What one admin's transaction did in the last-admin race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRace {
    Deactivated,
    RefusedAsLastAdmin,
}

/// Two admins, each in a transaction, deactivate the other if the organization keeps an active
/// admin: `lock_org`, read `active_admins`, deactivate when there are two, commit. Over several
/// rounds, exactly one of each pair succeeds and one active admin always remains.
///
/// For the in-memory store and SQLite this is serial execution. On PostgreSQL it proves that
/// `lock_org` holds the second transaction until the first ends *and* that its later reads see
/// what the first committed: the transaction must run at READ COMMITTED (each statement takes a
/// fresh snapshot). Under REPEATABLE READ the second would wait for the lock and still read its
/// old snapshot (both admins active), and both would deactivate.
pub async fn two_admins_deactivating_each_other_under_lock_org_leave_one_active_admin<S, H, E>(
    store: Arc<dyn Store>,
    spawn: S,
) where
    S: Fn(Task<Result<AdminRace, StoreError>>) -> H,
    H: Future<Output = Result<Result<AdminRace, StoreError>, E>>,
    E: Debug,
{
    let org = bare_org(&store, 1).await;
    let admin_role = seed::role(org.id, uid(1, 10), "admin");
    let mut tx = begin(&store).await;
    tx.insert_role(&admin_role).await.expect("inserts");
    commit(tx).await;

    let mut survivor: Option<User> = None;
    for round in 0..8_u64 {
        // Two fresh admins; the survivor of the previous round steps down first.
        let mut tx = begin(&store).await;
        if let Some(mut previous) = survivor.take() {
            previous.lifecycle.deactivated_at = Some(T0);
            previous.version += 1;
            tx.update_user(&previous).await.expect("retires the previous survivor");
        }
        let mut pair = Vec::new();
        for k in 0..2 {
            let mut admin = seed::user(org.id, uid(1, 100 + 2 * round + k), &format!("admin{round}-{k}@example.com"));
            admin.roles = BTreeSet::from([RoleGrant::org_wide(admin_role.id)]);
            tx.insert_user(&admin).await.expect("inserts an admin");
            pair.push(admin);
        }
        commit(tx).await;

        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<H> = [1, 0]
            .into_iter()
            .map(|other| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                let target = pair[other].clone();
                let (org_id, role_id) = (org.id, admin_role.id);
                spawn(Box::pin(async move {
                    barrier.wait().await;
                    let mut tx = store.begin().await?;
                    tx.lock_org(org_id).await?;
                    let admins = tx.active_admins(org_id, role_id).await?;
                    yield_now().await;
                    if admins.len() < 2 {
                        return Ok(AdminRace::RefusedAsLastAdmin);
                    }
                    let mut target = tx.user(org_id, target.id).await?.ok_or(StoreError::Missing { kind: "user" })?;
                    target.lifecycle.deactivated_at = Some(T0 + Duration::hours(1));
                    target.version += 1;
                    tx.update_user(&target).await?;
                    tx.commit().await?;
                    Ok(AdminRace::Deactivated)
                }))
            })
            .collect();
        let outcomes: Vec<AdminRace> =
            join_all(handles).await.into_iter().map(|o| o.expect("no storage error in the race")).collect();
        let done = outcomes.iter().filter(|o| **o == AdminRace::Deactivated).count();
        assert_eq!(done, 1, "round {round}: exactly one admin deactivates the other: {outcomes:?}");

        let mut tx = begin(&store).await;
        let active = tx.active_admins(org.id, admin_role.id).await.expect("reads");
        assert_eq!(active.len(), 1, "round {round}: one active admin remains");
        survivor = tx.user(org.id, active[0]).await.expect("reads");
    }
}

/// Two transactions update one user (and one group, and one organization) from the same
/// version: exactly one wins, the other gets `StaleVersion`, and the winner's row is stored.
pub async fn of_two_concurrent_updates_from_one_version_exactly_one_wins<S, H, E>(store: Arc<dyn Store>, spawn: S)
where
    S: Fn(Task<Result<(), StoreError>>) -> H,
    H: Future<Output = Result<Result<(), StoreError>, E>>,
    E: Debug,
{
    let org = bare_org(&store, 1).await;
    let ada = seed::user(org.id, uid(1, 100), "ada@example.com");
    let root = seed::group(org.id, org.root_group_id.as_uuid(), None, "race-1");
    let sales = seed::group(org.id, uid(1, 40), Some(&root), "Sales");
    let mut tx = begin(&store).await;
    tx.insert_user(&ada).await.expect("inserts");
    tx.insert_group(&sales).await.expect("inserts");
    commit(tx).await;

    let race = |writes: [Write; 2]| {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<H> = writes
            .into_iter()
            .map(|write| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                spawn(Box::pin(async move {
                    barrier.wait().await;
                    let mut tx = store.begin().await?;
                    match &write {
                        Write::User(u) => tx.update_user(u.as_ref()).await?,
                        Write::Group(g) => tx.update_group(g).await?,
                        Write::Org(o) => tx.update_org(o).await?,
                    }
                    yield_now().await;
                    tx.commit().await
                }))
            })
            .collect();
        join_all(handles)
    };
    let winner_of = |outcomes: &[Result<(), StoreError>], kind: &str| -> usize {
        let wins: Vec<usize> = (0..2).filter(|i| outcomes[*i].is_ok()).collect();
        assert_eq!(wins.len(), 1, "{kind}: exactly one update wins: {outcomes:?}");
        let loser = &outcomes[1 - wins[0]];
        assert!(matches!(loser, Err(StoreError::StaleVersion { kind: k }) if *k == kind), "{kind}: {loser:?}");
        wins[0]
    };

    let users = ["Augusta", "Byron"].map(|first| {
        let mut u = ada.clone();
        u.first_name = seed::name(first);
        u.version = 2;
        u
    });
    let outcomes = race(users.clone().map(|u| Write::User(Box::new(u)))).await;
    let won = winner_of(&outcomes, "user");
    let groups = ["North", "South"].map(|n| {
        let mut g = sales.clone();
        g.name = seed::group_name(n);
        g.version = 2;
        g
    });
    let group_won = winner_of(&race(groups.clone().map(Write::Group)).await, "group");
    let orgs = ["One", "Two"].map(|n| {
        let mut o = org.clone();
        o.name = seed::label(n);
        o.version = 2;
        o
    });
    let org_won = winner_of(&race(orgs.clone().map(Write::Org)).await, "organization");

    let mut tx = begin(&store).await;
    assert_eq!(tx.user(org.id, ada.id).await.expect("reads").as_ref(), Some(&users[won]));
    let stored = tx.groups(org.id).await.expect("reads").into_iter().find(|g| g.id == sales.id);
    assert_eq!(stored.as_ref(), Some(&groups[group_won]));
    assert_eq!(tx.org(org.id).await.expect("reads").as_ref(), Some(&orgs[org_won]));
}

/// One optimistic write of the race above.
#[derive(Debug, Clone)]
enum Write {
    User(Box<User>),
    Group(roster_domain::groups::Group),
    Org(Organization),
}

/// Sixteen transactions over two organizations each append an event; every fourth rolls back
/// instead of committing. Each organization's committed events then hold exactly the positions
/// 1..=n, one event each, and the rolled-back ones left no trace (or hole).
pub async fn concurrent_appends_get_gap_free_positions_in_commit_order<S, H, E>(store: Arc<dyn Store>, spawn: S)
where
    S: Fn(Task<Result<Option<AuditEventId>, StoreError>>) -> H,
    H: Future<Output = Result<Result<Option<AuditEventId>, StoreError>, E>>,
    E: Debug,
{
    let orgs = [bare_org(&store, 1).await.id, bare_org(&store, 2).await.id];
    const WRITERS: u64 = 16;
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<H> = (0..WRITERS)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let org: OrgId = orgs[usize::from(i % 2 == 1)];
            let event =
                seed::event(org, uid(9, i), T0 + Duration::seconds(i64::try_from(i).unwrap_or(0)), "user.updated");
            spawn(Box::pin(async move {
                barrier.wait().await;
                let mut tx = store.begin().await?;
                tx.append_audit(&event).await?;
                yield_now().await;
                if i % 4 == 3 {
                    drop(tx);
                    return Ok(None);
                }
                tx.commit().await?;
                Ok(Some(event.id))
            }))
        })
        .collect();
    let outcomes = join_all(handles).await;

    let mut tx = begin(&store).await;
    for (k, org) in orgs.iter().enumerate() {
        let committed: BTreeSet<AuditEventId> = (0..WRITERS)
            .filter(|i| usize::from(i % 2 == 1) == k)
            .filter_map(|i| outcomes[usize::try_from(i).unwrap_or(0)].as_ref().expect("no storage error").to_owned())
            .collect();
        let feed = tx.events_after(*org, None, 100).await.expect("reads the feed");
        let positions: Vec<u64> = feed.iter().map(|(p, _)| *p).collect();
        let n = u64::try_from(committed.len()).unwrap_or(0);
        assert_eq!(positions, (1..=n).collect::<Vec<_>>(), "positions 1..=n without gaps");
        let ids: BTreeSet<AuditEventId> = feed.iter().map(|(_, e)| e.id).collect();
        assert_eq!(ids, committed, "exactly the committed events, each once");
        assert_eq!(tx.last_event_position(*org).await.expect("reads"), n);
    }
}
