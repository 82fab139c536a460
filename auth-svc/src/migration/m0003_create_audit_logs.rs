//! The audit log: one row per entry id, never updated.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_len, text, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    Tenant,
    ResourceType,
    ResourceId,
    Action,
    Actor,
    Time,
    Details,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .if_not_exists()
                    .col(string_len(AuditLogs::Id, 36).primary_key())
                    .col(string_len(AuditLogs::Tenant, 100))
                    .col(string_len(AuditLogs::ResourceType, 40))
                    .col(string_len(AuditLogs::ResourceId, 200))
                    .col(string_len(AuditLogs::Action, 20))
                    .col(string_len(AuditLogs::Actor, 100))
                    .col(timestamp_with_time_zone(AuditLogs::Time))
                    .col(text(AuditLogs::Details))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_logs_by_tenant_time")
                    .table(AuditLogs::Table)
                    .col(AuditLogs::Tenant)
                    .col(AuditLogs::Time)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLogs::Table).to_owned())
            .await
    }
}
