//! The source of each flow revision that executions ran, stored once: an
//! execution names its flow revision instead of carrying the whole source
//! (`executions.flow_source` is empty for executions created from now on;
//! older rows keep theirs until retention removes them).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_len, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FlowSources {
    Table,
    TenantId,
    Namespace,
    FlowId,
    Revision,
    Source,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FlowSources::Table)
                    .if_not_exists()
                    .col(string_len(FlowSources::TenantId, 100))
                    .col(string_len(FlowSources::Namespace, 150))
                    .col(string_len(FlowSources::FlowId, 100))
                    .col(integer(FlowSources::Revision))
                    .col(text(FlowSources::Source))
                    .primary_key(
                        Index::create()
                            .col(FlowSources::TenantId)
                            .col(FlowSources::Namespace)
                            .col(FlowSources::FlowId)
                            .col(FlowSources::Revision),
                    )
                    .to_owned(),
            )
            .await?;
        aerie_common::db::enable_row_level_security(manager, &["flow_sources"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FlowSources::Table).to_owned())
            .await
    }
}
