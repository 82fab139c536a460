//! The tenants table: the id is the primary key, so a deleted tenant keeps
//! its id and no second tenant can ever take it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string_len, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    Deleted,
    CreateTime,
    UpdateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(string_len(Tenants::Id, 100).primary_key())
                    .col(string_len(Tenants::Name, 200))
                    .col(boolean(Tenants::Deleted).default(false))
                    .col(timestamp_with_time_zone(Tenants::CreateTime))
                    .col(timestamp_with_time_zone(Tenants::UpdateTime))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await
    }
}
