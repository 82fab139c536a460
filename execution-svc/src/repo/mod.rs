//! sea-orm queries on execution-svc's own tables. Every function on tenant
//! data takes a [`TenantTxn`]: the tenant filters each query, and on
//! PostgreSQL the same tenant is set for row-level security. The work queue
//! ([`queue`]) is the one table scanned across tenants: it holds ids and
//! leases only, and hands each claimed job back with its tenant.

pub mod entities;
pub mod executions;
pub mod queue;
pub mod schedules;
pub mod trigger_windows;

use chrono::{DateTime, SubsecRound, Utc};

pub use aerie_common::db::TenantTxn;

/// Rows one INSERT carries: a dozen columns each stays far below SQLite's
/// and PostgreSQL's limits on bound values per statement.
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// Now, at the precision every backend stores (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Now in epoch milliseconds (queue times).
pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}
