//! execution-svc's schema, and nothing else's. Its own migration table keeps
//! it apart from other services sharing a PostgreSQL database.

use sea_orm_migration::prelude::*;

mod m0001_create_executions;
mod m0002_create_queue;
mod m0003_create_audit_outbox;
mod m0004_row_level_security;
mod m0005_create_idempotency_keys;
mod m0006_index_queue_by_tenant;
mod m0007_fence_and_bound_claims;
mod m0008_create_flow_sources;
mod m0009_flow_concurrency;
mod m0010_index_limited_jobs;
mod m0011_pause_requests;
mod m0012_subflow_parents;
mod m0013_retry_attempts;
mod m0014_subflow_task_runs;
mod m0015_flow_trigger_windows;

/// The tenant tables of the first schema, which m0004 put under row-level
/// security (later tables turn it on in their own migration); each has a
/// `tenant_id` column. The work queue is not among them: it
/// holds only ids and leases, and every replica's workers scan all of it.
pub const TENANT_TABLES: &[&str] = &[
    "executions",
    "task_runs",
    "execution_logs",
    "schedule_cursors",
];

/// Every migration of execution-svc, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_executions::Migration),
            Box::new(m0002_create_queue::Migration),
            Box::new(m0003_create_audit_outbox::Migration),
            Box::new(m0004_row_level_security::Migration),
            Box::new(m0005_create_idempotency_keys::Migration),
            Box::new(m0006_index_queue_by_tenant::Migration),
            Box::new(m0007_fence_and_bound_claims::Migration),
            Box::new(m0008_create_flow_sources::Migration),
            Box::new(m0009_flow_concurrency::Migration),
            Box::new(m0010_index_limited_jobs::Migration),
            Box::new(m0011_pause_requests::Migration),
            Box::new(m0012_subflow_parents::Migration),
            Box::new(m0013_retry_attempts::Migration),
            Box::new(m0014_subflow_task_runs::Migration),
            Box::new(m0015_flow_trigger_windows::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "execution_svc_migrations".into_iden()
    }
}
