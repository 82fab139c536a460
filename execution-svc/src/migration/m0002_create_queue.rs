//! The work queue: one row per execution waiting for or held by a worker.
//! Times are epoch milliseconds, which compare the same on every backend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, string_len, string_len_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ExecutionQueue {
    Table,
    ExecutionId,
    TenantId,
    AvailableAt,
    LeaseOwner,
    LeaseUntil,
    KillRequested,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ExecutionQueue::Table)
                    .if_not_exists()
                    .col(string_len(ExecutionQueue::ExecutionId, 36).primary_key())
                    .col(string_len(ExecutionQueue::TenantId, 100))
                    .col(big_integer(ExecutionQueue::AvailableAt))
                    .col(string_len_null(ExecutionQueue::LeaseOwner, 64))
                    .col(big_integer_null(ExecutionQueue::LeaseUntil))
                    .col(boolean(ExecutionQueue::KillRequested).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("execution_queue_by_availability")
                    .table(ExecutionQueue::Table)
                    .col(ExecutionQueue::AvailableAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ExecutionQueue::Table).to_owned())
            .await
    }
}
