//! Executions, their task runs and log lines.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, integer, string_len, text, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Executions {
    Table,
    TenantId,
    Id,
    Namespace,
    FlowId,
    FlowRevision,
    FlowSource,
    State,
    Histories,
    Inputs,
    Outputs,
    Labels,
    Trigger,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum TaskRuns {
    Table,
    TenantId,
    Id,
    ExecutionId,
    ParentId,
    TaskId,
    Value,
    State,
    Histories,
    Outputs,
    Attempts,
    StartTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum ExecutionLogs {
    Table,
    Seq,
    TenantId,
    ExecutionId,
    TaskRunId,
    TaskId,
    Level,
    Time,
    Message,
}

#[derive(DeriveIden)]
enum ScheduleCursors {
    Table,
    TenantId,
    Namespace,
    FlowId,
    TriggerId,
    LastTick,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Executions::Table)
                    .if_not_exists()
                    .col(string_len(Executions::TenantId, 100))
                    .col(string_len(Executions::Id, 36))
                    .col(string_len(Executions::Namespace, 150))
                    .col(string_len(Executions::FlowId, 100))
                    .col(integer(Executions::FlowRevision))
                    .col(text(Executions::FlowSource))
                    .col(string_len(Executions::State, 16))
                    .col(text(Executions::Histories))
                    .col(text(Executions::Inputs))
                    .col(text(Executions::Outputs))
                    .col(text(Executions::Labels))
                    .col(text(Executions::Trigger))
                    .col(timestamp_with_time_zone(Executions::CreateTime))
                    .col(timestamp_with_time_zone(Executions::UpdateTime))
                    .primary_key(
                        Index::create()
                            .col(Executions::TenantId)
                            .col(Executions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("executions_by_time")
                    .table(Executions::Table)
                    .col(Executions::TenantId)
                    .col(Executions::CreateTime)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TaskRuns::Table)
                    .if_not_exists()
                    .col(string_len(TaskRuns::TenantId, 100))
                    .col(string_len(TaskRuns::Id, 36))
                    .col(string_len(TaskRuns::ExecutionId, 36))
                    .col(string_len(TaskRuns::ParentId, 36))
                    .col(string_len(TaskRuns::TaskId, 255))
                    .col(text(TaskRuns::Value))
                    .col(string_len(TaskRuns::State, 16))
                    .col(text(TaskRuns::Histories))
                    .col(text(TaskRuns::Outputs))
                    .col(integer(TaskRuns::Attempts))
                    .col(timestamp_with_time_zone_null(TaskRuns::StartTime))
                    .col(timestamp_with_time_zone(TaskRuns::UpdateTime))
                    .primary_key(Index::create().col(TaskRuns::TenantId).col(TaskRuns::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("task_runs_by_execution")
                    .table(TaskRuns::Table)
                    .col(TaskRuns::TenantId)
                    .col(TaskRuns::ExecutionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExecutionLogs::Table)
                    .if_not_exists()
                    .col(
                        big_integer(ExecutionLogs::Seq)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string_len(ExecutionLogs::TenantId, 100))
                    .col(string_len(ExecutionLogs::ExecutionId, 36))
                    .col(string_len(ExecutionLogs::TaskRunId, 36))
                    .col(string_len(ExecutionLogs::TaskId, 255))
                    .col(string_len(ExecutionLogs::Level, 8))
                    .col(timestamp_with_time_zone(ExecutionLogs::Time))
                    .col(text(ExecutionLogs::Message))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("execution_logs_by_execution")
                    .table(ExecutionLogs::Table)
                    .col(ExecutionLogs::TenantId)
                    .col(ExecutionLogs::ExecutionId)
                    .col(ExecutionLogs::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScheduleCursors::Table)
                    .if_not_exists()
                    .col(string_len(ScheduleCursors::TenantId, 100))
                    .col(string_len(ScheduleCursors::Namespace, 150))
                    .col(string_len(ScheduleCursors::FlowId, 100))
                    .col(string_len(ScheduleCursors::TriggerId, 255))
                    .col(big_integer(ScheduleCursors::LastTick))
                    .primary_key(
                        Index::create()
                            .col(ScheduleCursors::TenantId)
                            .col(ScheduleCursors::Namespace)
                            .col(ScheduleCursors::FlowId)
                            .col(ScheduleCursors::TriggerId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "schedule_cursors",
            "execution_logs",
            "task_runs",
            "executions",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
