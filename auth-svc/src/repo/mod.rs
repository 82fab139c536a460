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

use aerie_common::auth::PrincipalKind;
use aerie_common::changes::{self, Change};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{DbErr, SqlErr};

/// Now, at the precision every backend stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Announces, in the same transaction, that access in its tenant was
/// taken away, so that every process drops what it cached there.
pub async fn tenant_changed(tx: &TenantTxn) -> Result<(), DbErr> {
    changes::record(tx.conn(), &Change::Tenant(tx.tenant().clone())).await
}

/// Announces that a principal changed in every tenant.
pub async fn principal_changed(
    conn: &impl sea_orm::ConnectionTrait,
    kind: PrincipalKind,
    id: &str,
) -> Result<(), DbErr> {
    changes::record(conn, &Change::Principal(kind, id.into())).await
}

/// True when `err` is a unique-constraint violation.
pub fn is_conflict(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
