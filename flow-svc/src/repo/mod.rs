//! sea-orm queries on flow-svc's own tables. Every function takes a
//! [`TenantTxn`]: the tenant filters each query, and on PostgreSQL the same
//! tenant is set for row-level security.

pub mod entities;
pub mod flows;
pub mod stores;
pub mod triggers;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{DbErr, SqlErr};

pub(crate) use aerie_common::db::{contains_text, in_scope, within_namespace};

pub use aerie_common::db::TenantTxn;

/// Now, at the precision every backend stores (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Whether an insert failed on a primary key held by another row.
pub fn is_conflict(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
