//! Subflows: each execution started by a Subflow task names the execution
//! that started it, so that its end wakes that parent and a kill of the
//! parent reaches it. Partial index: almost no execution has a parent.

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
                    .add_column(ColumnDef::new(Alias::new("parent_execution_id")).string())
                    .to_owned(),
            )
            .await?;
        // The same statement on PostgreSQL and SQLite.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS executions_by_parent \
                 ON executions (tenant_id, parent_execution_id) \
                 WHERE parent_execution_id IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS executions_by_parent")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("executions"))
                    .drop_column(Alias::new("parent_execution_id"))
                    .to_owned(),
            )
            .await
    }
}
