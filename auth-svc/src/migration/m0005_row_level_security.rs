//! PostgreSQL row-level security on auth-svc's tenant tables, the second
//! line of isolation behind the repository's tenant filter (nothing on
//! SQLite). Their policy also admits the named system scans of
//! `aerie_common::db::SystemScan` (finding an API token or a service
//! account before its tenant is known, listing a user's tenants).

use sea_orm_migration::prelude::*;

use super::TENANT_TABLES;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        aerie_common::db::enable_row_level_security_with_scans(manager, TENANT_TABLES, "tenant")
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        aerie_common::db::disable_row_level_security(manager, TENANT_TABLES).await
    }
}
