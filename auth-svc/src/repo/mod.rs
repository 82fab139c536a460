//! sea-orm queries on auth-svc's own tables. Users and signing keys are
//! instance-level; every function on tenant-owned data (roles, bindings,
//! groups, service accounts, tokens, the audit log) takes the tenant's
//! transaction ([`TenantTxn`]), which on PostgreSQL also sets the tenant
//! for row-level security.

mod accounts;
mod audit;
pub mod entities;
mod instance;
mod rbac;

pub use accounts::*;
pub use aerie_common::db::{SystemScan, TenantTxn};
pub use audit::*;
pub use entities::*;
pub use instance::*;
pub use rbac::*;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{DbErr, SqlErr};

/// Now, at the precision every backend stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// True when `err` is a unique-constraint violation.
pub fn is_conflict(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
