//! flow-svc's schema, and nothing else's. Its own migration table keeps it
//! apart from other services sharing a PostgreSQL database.

use sea_orm_migration::prelude::*;

mod m0001_create_flows;
mod m0002_create_namespace_stores;
mod m0003_create_audit_outbox;
mod m0004_row_level_security;
mod m0005_create_namespace_settings;
mod m0006_create_changes;
mod m0007_create_disabled_triggers;

/// The tenant tables of the first schema, which m0004 put under row-level
/// security; each later table turns it on in its own migration.
pub const TENANT_TABLES: &[&str] = &[
    "flows",
    "flow_revisions",
    "flow_labels",
    "triggers",
    "secrets",
    "kv_entries",
];

/// Every migration of flow-svc, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_flows::Migration),
            Box::new(m0002_create_namespace_stores::Migration),
            Box::new(m0003_create_audit_outbox::Migration),
            Box::new(m0004_row_level_security::Migration),
            Box::new(m0005_create_namespace_settings::Migration),
            Box::new(m0006_create_changes::Migration),
            Box::new(m0007_create_disabled_triggers::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "flow_svc_migrations".into_iden()
    }
}
