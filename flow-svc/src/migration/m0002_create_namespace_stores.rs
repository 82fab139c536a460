//! Per-namespace stores: encrypted secrets and typed KV entries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    binary, string_len, text, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Secrets {
    Table,
    TenantId,
    Namespace,
    Key,
    Sealed,
    UpdateTime,
}

#[derive(DeriveIden)]
enum KvEntries {
    Table,
    TenantId,
    Namespace,
    Key,
    Kind,
    ValueJson,
    ExpireTime,
    UpdateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Secrets::Table)
                    .if_not_exists()
                    .col(string_len(Secrets::TenantId, 100))
                    .col(string_len(Secrets::Namespace, 150))
                    .col(string_len(Secrets::Key, 255))
                    .col(binary(Secrets::Sealed))
                    .col(timestamp_with_time_zone(Secrets::UpdateTime))
                    .primary_key(
                        Index::create()
                            .col(Secrets::TenantId)
                            .col(Secrets::Namespace)
                            .col(Secrets::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KvEntries::Table)
                    .if_not_exists()
                    .col(string_len(KvEntries::TenantId, 100))
                    .col(string_len(KvEntries::Namespace, 150))
                    .col(string_len(KvEntries::Key, 255))
                    .col(string_len(KvEntries::Kind, 20))
                    .col(text(KvEntries::ValueJson))
                    .col(timestamp_with_time_zone_null(KvEntries::ExpireTime))
                    .col(timestamp_with_time_zone(KvEntries::UpdateTime))
                    .primary_key(
                        Index::create()
                            .col(KvEntries::TenantId)
                            .col(KvEntries::Namespace)
                            .col(KvEntries::Key),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["kv_entries", "secrets"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
