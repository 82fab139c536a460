//! tenant-svc's schema, and nothing else's. Its own migration table keeps
//! it apart from other services sharing a PostgreSQL database.

use sea_orm_migration::prelude::*;

mod m0001_create_tenants;
mod m0002_create_audit_outbox;
mod m0003_add_tenant_quotas;
mod m0004_create_changes;
mod m0005_add_tenant_restorable;

/// Every migration of tenant-svc, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_tenants::Migration),
            Box::new(m0002_create_audit_outbox::Migration),
            Box::new(m0003_add_tenant_quotas::Migration),
            Box::new(m0004_create_changes::Migration),
            Box::new(m0005_add_tenant_restorable::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "tenant_svc_migrations".into_iden()
    }
}
