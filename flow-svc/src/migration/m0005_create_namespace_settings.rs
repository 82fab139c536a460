//! Per-namespace settings (the namespaces allowed to reach this one), with
//! row-level security like every other tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_len, text, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NamespaceSettings {
    Table,
    TenantId,
    Namespace,
    AllowedNamespaces,
    UpdateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NamespaceSettings::Table)
                    .if_not_exists()
                    .col(string_len(NamespaceSettings::TenantId, 100))
                    .col(string_len(NamespaceSettings::Namespace, 150))
                    // A JSON list of namespaces.
                    .col(text(NamespaceSettings::AllowedNamespaces))
                    .col(timestamp_with_time_zone(NamespaceSettings::UpdateTime))
                    .primary_key(
                        Index::create()
                            .col(NamespaceSettings::TenantId)
                            .col(NamespaceSettings::Namespace),
                    )
                    .to_owned(),
            )
            .await?;
        aerie_common::db::enable_row_level_security(manager, &["namespace_settings"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(NamespaceSettings::Table).to_owned())
            .await
    }
}
