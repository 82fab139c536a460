//! Flows: the latest state per flow, every revision's source, the labels
//! searches filter on, and the trigger definitions extracted from flows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, integer, string_len, text, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Flows {
    Table,
    TenantId,
    Namespace,
    FlowId,
    Revision,
    Source,
    Description,
    Labels,
    Disabled,
    Deleted,
    UpdateTime,
}

#[derive(DeriveIden)]
enum FlowRevisions {
    Table,
    TenantId,
    Namespace,
    FlowId,
    Revision,
    Source,
    CreateTime,
}

#[derive(DeriveIden)]
enum FlowLabels {
    Table,
    TenantId,
    Namespace,
    FlowId,
    Key,
    Value,
}

#[derive(DeriveIden)]
enum Triggers {
    Table,
    TenantId,
    Namespace,
    FlowId,
    TriggerId,
    Kind,
    Cron,
    Timezone,
    Disabled,
    FlowRevision,
    Definition,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Flows::Table)
                    .if_not_exists()
                    .col(string_len(Flows::TenantId, 100))
                    .col(string_len(Flows::Namespace, 150))
                    .col(string_len(Flows::FlowId, 100))
                    .col(integer(Flows::Revision))
                    .col(text(Flows::Source))
                    .col(text(Flows::Description))
                    .col(text(Flows::Labels))
                    .col(boolean(Flows::Disabled))
                    .col(boolean(Flows::Deleted))
                    .col(timestamp_with_time_zone(Flows::UpdateTime))
                    .primary_key(
                        Index::create()
                            .col(Flows::TenantId)
                            .col(Flows::Namespace)
                            .col(Flows::FlowId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("flows_by_tenant_update")
                    .table(Flows::Table)
                    .col(Flows::TenantId)
                    .col(Flows::Deleted)
                    .col(Flows::UpdateTime)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FlowRevisions::Table)
                    .if_not_exists()
                    .col(string_len(FlowRevisions::TenantId, 100))
                    .col(string_len(FlowRevisions::Namespace, 150))
                    .col(string_len(FlowRevisions::FlowId, 100))
                    .col(integer(FlowRevisions::Revision))
                    .col(text(FlowRevisions::Source))
                    .col(timestamp_with_time_zone(FlowRevisions::CreateTime))
                    .primary_key(
                        Index::create()
                            .col(FlowRevisions::TenantId)
                            .col(FlowRevisions::Namespace)
                            .col(FlowRevisions::FlowId)
                            .col(FlowRevisions::Revision),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FlowLabels::Table)
                    .if_not_exists()
                    .col(string_len(FlowLabels::TenantId, 100))
                    .col(string_len(FlowLabels::Namespace, 150))
                    .col(string_len(FlowLabels::FlowId, 100))
                    .col(string_len(FlowLabels::Key, 255))
                    .col(text(FlowLabels::Value))
                    .primary_key(
                        Index::create()
                            .col(FlowLabels::TenantId)
                            .col(FlowLabels::Namespace)
                            .col(FlowLabels::FlowId)
                            .col(FlowLabels::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Triggers::Table)
                    .if_not_exists()
                    .col(string_len(Triggers::TenantId, 100))
                    .col(string_len(Triggers::Namespace, 150))
                    .col(string_len(Triggers::FlowId, 100))
                    .col(string_len(Triggers::TriggerId, 100))
                    .col(string_len(Triggers::Kind, 200))
                    .col(string_len(Triggers::Cron, 200))
                    .col(string_len(Triggers::Timezone, 100))
                    .col(boolean(Triggers::Disabled))
                    .col(integer(Triggers::FlowRevision))
                    .col(text(Triggers::Definition))
                    .primary_key(
                        Index::create()
                            .col(Triggers::TenantId)
                            .col(Triggers::Namespace)
                            .col(Triggers::FlowId)
                            .col(Triggers::TriggerId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["triggers", "flow_labels", "flow_revisions", "flows"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
