//! The queue by tenant: admission counts a tenant's queued executions on
//! every creation, and claims count its running ones; neither should read
//! the whole queue.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("execution_queue_by_tenant")
                    .table(Alias::new("execution_queue"))
                    .col(Alias::new("tenant_id"))
                    .col(Alias::new("lease_until"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("execution_queue_by_tenant")
                    .table(Alias::new("execution_queue"))
                    .to_owned(),
            )
            .await
    }
}
