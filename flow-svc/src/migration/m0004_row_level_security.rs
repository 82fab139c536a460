//! PostgreSQL row-level security on every tenant table: the second line of
//! isolation behind the repository's tenant filter. Nothing on SQLite.

use sea_orm_migration::prelude::*;

use super::TENANT_TABLES;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        aerie_common::db::enable_row_level_security(manager, TENANT_TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        aerie_common::db::disable_row_level_security(manager, TENANT_TABLES).await
    }
}
