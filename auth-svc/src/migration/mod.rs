//! auth-svc's schema, and nothing else's.

use sea_orm_migration::prelude::*;

mod m0001_create_auth;
mod m0002_create_groups;
mod m0003_create_audit_logs;
mod m0004_create_service_accounts;
mod m0005_row_level_security;
mod m0006_create_changes;
mod m0007_create_revoked_tokens;

/// The tables holding tenant data; each has a `tenant` column and, on
/// PostgreSQL, row-level security.
pub const TENANT_TABLES: &[&str] = &[
    "roles",
    "bindings",
    "groups",
    "group_members",
    "service_accounts",
    "api_tokens",
    "audit_logs",
];

/// Every migration of auth-svc, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_auth::Migration),
            Box::new(m0002_create_groups::Migration),
            Box::new(m0003_create_audit_logs::Migration),
            Box::new(m0004_create_service_accounts::Migration),
            Box::new(m0005_row_level_security::Migration),
            Box::new(m0006_create_changes::Migration),
            Box::new(m0007_create_revoked_tokens::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "auth_svc_migrations".into_iden()
    }
}
