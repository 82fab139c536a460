//! Triggers disabled through the API (Kestra's trigger toggle), apart from
//! their flow's source: the flow keeps its revision, and the trigger stays
//! disabled across the flow's updates until it is enabled again or leaves
//! the flow.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_len, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DisabledTriggers {
    Table,
    TenantId,
    Namespace,
    FlowId,
    TriggerId,
    DisableTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DisabledTriggers::Table)
                    .if_not_exists()
                    .col(string_len(DisabledTriggers::TenantId, 100))
                    .col(string_len(DisabledTriggers::Namespace, 150))
                    .col(string_len(DisabledTriggers::FlowId, 100))
                    .col(string_len(DisabledTriggers::TriggerId, 100))
                    .col(timestamp_with_time_zone(DisabledTriggers::DisableTime))
                    .primary_key(
                        Index::create()
                            .col(DisabledTriggers::TenantId)
                            .col(DisabledTriggers::Namespace)
                            .col(DisabledTriggers::FlowId)
                            .col(DisabledTriggers::TriggerId),
                    )
                    .to_owned(),
            )
            .await?;
        aerie_common::db::enable_row_level_security(manager, &["disabled_triggers"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DisabledTriggers::Table).to_owned())
            .await
    }
}
