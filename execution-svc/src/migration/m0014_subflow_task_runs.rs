//! Each subflow execution also names the task run that started it: a
//! ForEachItem task run starts many, and counts them by their states.
//! Partial index: almost no execution has a parent.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("executions"))
                    .add_column(ColumnDef::new(Alias::new("parent_task_run_id")).string())
                    .to_owned(),
            )
            .await?;
        // The same statement on PostgreSQL and SQLite.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS executions_by_parent_task_run \
                 ON executions (tenant_id, parent_task_run_id, state) \
                 WHERE parent_task_run_id IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS executions_by_parent_task_run")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("executions"))
                    .drop_column(Alias::new("parent_task_run_id"))
                    .to_owned(),
            )
            .await
    }
}
