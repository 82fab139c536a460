//! Whether a deleted tenant may be restored: true only for a tenant deleted
//! through DeleteTenant. An unfinished import is also a deleted row, and
//! must never become reachable; tenants deleted before this column existed
//! stay as they are.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("tenants"))
                    .add_column(
                        ColumnDef::new(Alias::new("restorable"))
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("tenants"))
                    .drop_column(Alias::new("restorable"))
                    .to_owned(),
            )
            .await
    }
}
