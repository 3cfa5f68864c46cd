//! The store's contract, run on both databases (after quickwit's `test_suite`): each test
//! below is written once against [`Store`]'s public API and runs as `NAME::sqlite` on a
//! fresh SQLite file and as `NAME::postgres` on a fresh database of the server that
//! `LIAISON_TEST_DATABASE_URL` names (`scripts/with-postgres` starts one). Without that
//! variable the PostgreSQL half fails under `CI=true` and otherwise says it did not run.
//!
//! Together they run every statement the backends spell differently: the idempotency
//! claim, the outbox insert and `events_after`, the indicator batch insert and
//! `publish_one`, a sequencer pass, the audit writer's append group, Lookup's grouped read
//! and the kept connections both use.

mod audit;
mod database;
mod idempotency;
mod indicators;
mod lookup;

/// Generates `NAME::sqlite` and `NAME::postgres` for each `async fn NAME(Store)` of the
/// module named first.
macro_rules! on_both {
    ($module:ident: $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() -> anyhow::Result<()> {
                    let database = crate::database::Database::sqlite().await?;
                    crate::$module::$name(database.store().await?).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() -> anyhow::Result<()> {
                    let database = crate::database::Database::postgres().await?;
                    crate::$module::$name(database.store().await?).await
                }
            }
        )+
    };
}

on_both!(idempotency: a_retry_answers_with_the_first_result, a_request_id_serves_one_method_only);
on_both!(indicators:
    a_publication_is_sequenced_into_its_event_and_its_record,
    a_batch_stores_each_first_use_once_in_order,
    events_after_reads_one_topic_after_a_position,
);
on_both!(audit: a_group_of_records_gets_consecutive_leaves_and_its_objects);
on_both!(lookup: a_lookup_reads_only_what_the_viewer_may_see, lookups_at_once_share_kept_connections);
