//! The persistence contract suite: the promises of the [`Store`] port (`ports/store.rs`),
//! written once as test cases over the port alone, so that every implementation — the
//! in-memory store, SQLite, PostgreSQL — runs the very same cases.
//!
//! # Running it
//! An implementation's test file hands [`store_contract_tests!`](crate::store_contract_tests)
//! a factory, and gets one `#[tokio::test]` per case, named after the rule it proves:
//!
//! ```text
//! roster_testkit::store_contract_tests!(|| async { InMemoryStore::new() });
//! // a SQL adapter: a fresh database per case, kept alive by a guard
//! roster_testkit::store_contract_tests!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SeaOrmStore::open_sqlite(&dir.path().join("roster.db")).await.unwrap();
//!     FreshStore::new(store).with_guard(dir)
//! });
//! ```
//!
//! The factory is any `Fn() -> impl Future<Output = impl IntoFreshStore>` expression: it is
//! called once per case and must answer an **empty, migrated** store that no other case sees
//! (SQLite: a temp file; PostgreSQL: a schema or database of its own). It may answer the
//! kit's [`InMemoryStore`](crate::InMemoryStore), an `Arc<dyn Store>`, a [`FreshStore`] (with a guard that lives as long as the
//! case: a temp dir, a schema to drop), or `None` to skip the case when the engine is not
//! configured (CI must make sure it is). The crate using the macro needs `tokio` (with `macros`
//! and `rt-multi-thread`) among its dev-dependencies; the cases run on a two-thread runtime so
//! the concurrency cases really race.
//!
//! # What the cases may use
//! Only the port ([`Store::begin`], [`Store::begin_read`], the repository traits, [`Tx::commit`]) and the domain's
//! public types: no implementation's internals. Each case starts from an empty store and
//! writes what it needs, mostly through [`seed::seed`]. The query cases
//! ([`users_query`], [`connections`], [`audit`]) are properties over generated data (a seeded
//! deterministic generator, [`Rng`](crate::generator::Rng), so a failure replays exactly): the store's answer
//! must equal the reference semantics (`UserQuery::matches`/`paginate`,
//! `ConnectionQuery::matches`, `AuditQuery::matches`) applied to every row written.
//!
//! # Timestamps
//! Every time written is a whole number of microseconds in UTC, the precision PostgreSQL keeps;
//! the cases expect what they wrote back exactly.

pub mod audit;
pub mod batches;
pub mod concurrency;
pub mod connections;
pub mod groups;
pub mod invites;
pub mod jobs;
pub mod licenses;
pub mod orgs;
pub mod outbox;
pub mod password_resets;
pub mod reads;
pub mod roles;
pub mod schedule;
pub mod scim_filter;
pub mod scoping;
pub mod seed;
pub mod sessions;
pub mod transactions;
pub mod users;
pub mod users_query;
pub mod webhooks;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use roster_domain::ports::{Store, StoreError, Tx, UniqueField};

/// A unit of work handed to the runtime's spawner by the concurrency cases.
pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A fresh, empty store for one case, with whatever must live as long as the case does.
pub struct FreshStore {
    store: Arc<dyn Store>,
    guards: Vec<Box<dyn Any + Send + Sync>>,
}

impl fmt::Debug for FreshStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshStore").field("guards", &self.guards.len()).finish_non_exhaustive()
    }
}

impl FreshStore {
    pub fn new(store: impl Store + 'static) -> Self {
        Self::shared(Arc::new(store))
    }

    pub fn shared(store: Arc<dyn Store>) -> Self {
        Self { store, guards: Vec::new() }
    }

    /// Keeps `guard` (a temp dir, a schema that drops itself…) alive until the case ends.
    #[must_use]
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guards.push(Box::new(guard));
        self
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}

/// What a contract factory may answer; `None` skips the case.
pub trait IntoFreshStore {
    fn into_fresh(self) -> Option<FreshStore>;
}

impl IntoFreshStore for FreshStore {
    fn into_fresh(self) -> Option<FreshStore> {
        Some(self)
    }
}

impl IntoFreshStore for Arc<dyn Store> {
    fn into_fresh(self) -> Option<FreshStore> {
        Some(FreshStore::shared(self))
    }
}

// A blanket implementation for every `S: Store` would overlap the one for `Arc<dyn Store>`
// now that the trait lives in another crate (coherence cannot rule out `Arc<dyn Store>: Store`),
// so the kit's own store gets one of its own; other stores are wrapped with `FreshStore::new`.
impl IntoFreshStore for crate::InMemoryStore {
    fn into_fresh(self) -> Option<FreshStore> {
        Some(FreshStore::new(self))
    }
}

impl<T: IntoFreshStore> IntoFreshStore for Option<T> {
    fn into_fresh(self) -> Option<FreshStore> {
        self.and_then(IntoFreshStore::into_fresh)
    }
}

/// Opens a transaction, failing the case if the store cannot.
pub async fn begin(store: &Arc<dyn Store>) -> Box<dyn Tx> {
    store.begin().await.expect("the store opens a transaction")
}

/// Runs `future`, answering `None` if it has not finished after `limit` (a case that would
/// otherwise wait forever on a lock). The timer is a thread of its own, so this works on any
/// executor; `future` is dropped unfinished on timeout.
pub async fn within<T>(limit: std::time::Duration, future: impl Future<Output = T>) -> Option<T> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, PoisonError};
    use std::task::{Poll, Waker};

    let expired = Arc::new(AtomicBool::new(false));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    {
        let (expired, waker) = (Arc::clone(&expired), Arc::clone(&waker));
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            expired.store(true, Ordering::SeqCst);
            if let Some(w) = waker.lock().unwrap_or_else(PoisonError::into_inner).take() {
                w.wake();
            }
        });
    }
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        *waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        // Checked after the waker is stored, so an expiry in between is not missed.
        if expired.load(Ordering::SeqCst) { Poll::Ready(None) } else { Poll::Pending }
    })
    .await
}

/// Commits, failing the case if the store cannot.
pub async fn commit(tx: Box<dyn Tx>) {
    tx.commit().await.expect("the transaction commits");
}

/// Asserts `Conflict` naming `field`.
#[track_caller]
pub fn assert_conflict<T: fmt::Debug>(result: Result<T, StoreError>, field: UniqueField, what: &str) {
    match result {
        Err(StoreError::Conflict { field: f }) if f == field => {}
        other => panic!("{what}: expected Conflict {{ field: {field:?} }}, got {other:?}"),
    }
}

/// Asserts `StaleVersion` of `kind`.
#[track_caller]
pub fn assert_stale<T: fmt::Debug>(result: Result<T, StoreError>, kind: &str, what: &str) {
    match result {
        Err(StoreError::StaleVersion { kind: k }) if k == kind => {}
        other => panic!("{what}: expected StaleVersion {{ kind: {kind:?} }}, got {other:?}"),
    }
}

/// Asserts `Missing` of `kind`.
#[track_caller]
pub fn assert_missing<T: fmt::Debug>(result: Result<T, StoreError>, kind: &str, what: &str) {
    match result {
        Err(StoreError::Missing { kind: k }) if k == kind => {}
        other => panic!("{what}: expected Missing {{ kind: {kind:?} }}, got {other:?}"),
    }
}

/// Generates one `#[tokio::test]` per contract case for a store factory; see
/// [`contract`](crate::contract) for what the factory must answer.
///
/// ```text
/// roster_testkit::store_contract_tests!(|| async { InMemoryStore::new() });
/// ```
#[macro_export]
macro_rules! store_contract_tests {
    ($factory:expr $(,)?) => {
        $crate::__store_contract_cases! { $factory;
            transactions::every_entity_reads_back_exactly_as_written,
            transactions::reads_in_a_transaction_see_its_own_writes,
            transactions::a_commit_makes_every_write_visible_to_later_transactions,
            transactions::dropping_a_transaction_rolls_every_write_back,
            transactions::a_failed_expected_write_changes_nothing_and_leaves_the_transaction_usable,
            reads::a_read_transaction_reads_what_was_committed,
            reads::a_read_transaction_refuses_every_write_and_changes_nothing,
            reads::a_single_read_reads_what_was_committed_and_refuses_every_write,
            reads::a_read_transaction_neither_waits_for_a_writer_nor_holds_one_up,
            reads::a_page_of_users_gets_its_licenses_memberships_and_pending_changes_at_once,
            reads::authority_reads_a_member_their_open_groups_and_both_versions,
            scoping::another_organizations_rows_are_neither_returned_nor_changed,
            orgs::organizations_are_found_by_id_and_slug_and_listed_in_id_order,
            orgs::an_org_update_needs_the_next_version_and_a_free_slug,
            orgs::a_catalog_is_missing_until_saved_and_saving_replaces_it,
            users::a_live_user_is_found_by_each_unique_field_and_by_ids_in_id_order,
            users::a_taken_email_phone_agent_id_or_crm_id_conflicts_on_insert_and_on_update,
            users::a_deleted_user_frees_every_unique_value_and_restoring_checks_them_again,
            users::unique_values_are_unique_per_organization_only,
            users::a_user_update_needs_the_next_version_of_an_existing_user,
            users::purging_a_user_removes_the_rows_that_hang_off_them_and_nothing_else,
            users::active_admins_and_billable_users_leave_out_invited_deactivated_and_deleted_users,
            users::a_password_hash_is_set_replaced_and_read_for_a_user_of_the_organization,
            users_query::list_users_equals_the_reference_semantics_on_generated_users,
            users_query::a_cursor_walk_visits_every_matching_user_once_in_order_for_every_sort,
            users_query::a_cursor_that_is_no_rows_pages_as_the_reference_for_every_sort,
            users_query::page_numbers_slice_the_sorted_rows_and_count_them_all,
            users_query::the_group_filter_keeps_current_members_and_a_deleted_groups_last_members,
            users_query::a_scoped_readers_list_holds_only_the_users_the_scope_covers,
            scim_filter::a_scim_filter_selects_the_members_it_matches_in_memory,
            scim_filter::directory_attributes_read_back_and_external_id_filters_case_exactly,
            licenses::take_seats_refuses_past_the_total_with_the_figures_and_never_over_allocates,
            licenses::return_seats_never_goes_below_zero,
            licenses::a_total_below_the_seats_in_use_is_refused_with_the_figures,
            licenses::a_seat_pool_is_unique_per_product_and_never_starts_over_its_total,
            licenses::a_license_is_unique_per_user_and_product_and_needs_its_user,
            licenses::reservations_belong_to_an_invite_of_the_organization,
            roles::role_keys_are_unique_per_organization_on_insert_and_on_update,
            roles::roles_are_listed_updated_and_deleted_in_their_organization,
            roles::a_role_is_in_use_while_a_user_who_is_not_deleted_holds_it,
            roles::the_roles_version_moves_with_every_role_write_and_nothing_else,
            groups::live_sibling_group_names_conflict_case_insensitively_on_insert_and_on_update,
            groups::a_group_update_needs_the_next_version_and_a_parent_in_the_organization,
            groups::memberships_keep_their_history_and_current_members_are_the_open_ones,
            groups::group_flows_replace_the_set_and_need_a_group_and_flows_of_the_organization,
            groups::the_groups_version_moves_with_every_group_write_and_nothing_else,
            connections::list_connections_equals_filtering_every_row_newest_first_on_generated_data,
            connections::connection_pages_chained_by_cursor_give_the_whole_list_once,
            connections::a_connection_reads_back_and_needs_its_inviter_in_the_organization,
            connections::restamping_gives_the_group_to_that_inviters_organization_stamped_connections_only,
            connections::transferring_a_stamp_replaces_the_group_once_even_where_both_are_stamped,
            connections::flows_and_api_keys_are_kept_per_organization,
            connections::touching_an_api_key_records_its_use_and_keeps_a_revocation,
            invites::invites_are_found_by_id_and_token_hash_and_pending_until_accepted,
            invites::deleting_an_invite_deletes_its_reservations,
            invites::an_invite_keeps_the_groups_it_was_made_for,
            schedule::due_scheduled_changes_come_oldest_first_from_every_organization,
            schedule::scheduled_changes_are_listed_per_user_and_updated_in_their_organization,
            jobs::jobs_are_written_optimistically_and_claimable_when_queued_or_their_lease_ended,
            jobs::job_outcomes_are_read_in_order_after_a_position_and_need_their_job,
            jobs::finished_jobs_are_purged_with_their_outcomes_after_the_cutoff,
            jobs::a_scheduled_change_is_settled_once,
            sessions::sessions_round_trip_slide_and_need_their_member_and_parent,
            sessions::ending_a_session_ends_what_it_started,
            sessions::expired_sessions_are_purged,
            sessions::attempts_are_counted_per_kind_address_and_account,
            password_resets::a_reset_link_is_taken_once_needs_its_member_and_ends_with_them,
            password_resets::attempts_on_an_account_are_counted_from_every_address,
            audit::the_audit_query_equals_filtering_every_event_newest_first_on_generated_events,
            audit::event_positions_count_each_organizations_committed_events_without_gaps,
            audit::events_after_pages_through_the_feed_in_position_order,
            audit::the_first_position_after_a_time_is_the_lowest_of_the_later_events,
            outbox::due_mail_is_the_pending_mail_whose_time_has_come_oldest_first,
            outbox::set_delivery_records_the_state_of_an_existing_message,
            outbox::a_settled_message_keeps_no_token_and_a_pending_one_keeps_it,
            webhooks::endpoints_are_listed_oldest_first_and_updated_optimistically,
            webhooks::an_endpoint_has_at_most_one_pending_delivery,
            webhooks::delivery_updates_are_optimistic_and_need_an_endpoint_of_the_organization,
            webhooks::webhooks_behind_are_active_idle_endpoints_oldest_waiting_event_first,
            webhooks::due_deliveries_are_pending_ones_whose_time_has_come_earliest_first,
            webhooks::the_delivery_log_is_newest_first_and_limited,
            webhooks::settled_deliveries_older_than_the_cutoff_are_purged_oldest_first,
            batches::every_batch_write_reads_back_as_the_single_row_writes_do,
            batches::a_refused_row_refuses_its_whole_batch_and_the_transaction_goes_on,
            batches::batches_of_a_dropped_transaction_leave_nothing,
            batches::an_empty_batch_is_a_no_op,
            batches::users_matching_finds_the_live_holders_of_any_value_once_in_id_order,
        }
        $crate::__store_contract_cases! { @spawning $factory;
            concurrency::sixty_four_tasks_racing_for_three_seats_get_exactly_three,
            concurrency::two_admins_deactivating_each_other_under_lock_org_leave_one_active_admin,
            concurrency::of_two_concurrent_updates_from_one_version_exactly_one_wins,
            concurrency::concurrent_appends_get_gap_free_positions_in_commit_order,
            jobs::of_two_schedulers_settling_one_change_exactly_one_wins,
            password_resets::of_transactions_taking_one_link_at_once_exactly_one_gets_it,
        }
    };
}

/// The expansion of [`store_contract_tests!`]: one test per case path.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_cases {
    ($factory:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fresh = $crate::contract::IntoFreshStore::into_fresh(($factory)().await);
                if let Some(fresh) = fresh {
                    $crate::contract::$module::$case(fresh.store()).await;
                }
            }
        )*
    };
    (@spawning $factory:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fresh = $crate::contract::IntoFreshStore::into_fresh(($factory)().await);
                if let Some(fresh) = fresh {
                    $crate::contract::$module::$case(fresh.store(), |task| ::tokio::spawn(task)).await;
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{FreshStore, IntoFreshStore};
    use crate::InMemoryStore;
    use roster_domain::ports::Store;

    #[test]
    fn a_factory_may_answer_a_store_a_shared_store_a_fresh_store_or_none() {
        assert!(InMemoryStore::new().into_fresh().is_some());
        let shared: Arc<dyn Store> = Arc::new(InMemoryStore::new());
        assert!(shared.into_fresh().is_some());
        assert!(Some(InMemoryStore::new()).into_fresh().is_some());
        assert!(None::<FreshStore>.into_fresh().is_none(), "None skips the case");
    }

    #[test]
    fn a_guard_lives_as_long_as_the_fresh_store() {
        let guard = Arc::new(());
        let fresh = FreshStore::new(InMemoryStore::new()).with_guard(Arc::clone(&guard));
        assert_eq!(Arc::strong_count(&guard), 2);
        drop(fresh);
        assert_eq!(Arc::strong_count(&guard), 1, "dropped with the case's store");
    }
}
