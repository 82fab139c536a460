//! Claims look for jobs of flows with a concurrency limit on every call;
//! almost no job has one, so a partial index makes that look free instead
//! of a scan of the queue.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on PostgreSQL and SQLite.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS execution_queue_limited \
                 ON execution_queue (tenant_id, flow_key) WHERE flow_limit > 0",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS execution_queue_limited")
            .await?;
        Ok(())
    }
}
