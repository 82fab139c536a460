//! The windows of Flow triggers whose conditions several executions meet
//! between them (Kestra's preconditions and MultipleCondition): which of a
//! set's conditions were met, in which window. Under row-level security
//! like every tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string_len, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FlowTriggerWindows {
    Table,
    TenantId,
    Namespace,
    FlowId,
    TriggerId,
    WindowId,
    StartMs,
    EndMs,
    Met,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FlowTriggerWindows::Table)
                    .if_not_exists()
                    .col(string_len(FlowTriggerWindows::TenantId, 100))
                    .col(string_len(FlowTriggerWindows::Namespace, 150))
                    .col(string_len(FlowTriggerWindows::FlowId, 100))
                    .col(string_len(FlowTriggerWindows::TriggerId, 100))
                    .col(string_len(FlowTriggerWindows::WindowId, 160))
                    .col(big_integer(FlowTriggerWindows::StartMs))
                    .col(big_integer(FlowTriggerWindows::EndMs))
                    .col(text(FlowTriggerWindows::Met))
                    .primary_key(
                        Index::create()
                            .col(FlowTriggerWindows::TenantId)
                            .col(FlowTriggerWindows::Namespace)
                            .col(FlowTriggerWindows::FlowId)
                            .col(FlowTriggerWindows::TriggerId)
                            .col(FlowTriggerWindows::WindowId),
                    )
                    .to_owned(),
            )
            .await?;
        aerie_common::db::enable_row_level_security(manager, &["flow_trigger_windows"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FlowTriggerWindows::Table).to_owned())
            .await
    }
}
