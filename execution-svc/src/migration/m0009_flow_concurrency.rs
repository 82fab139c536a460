//! Flow concurrency limits: each job carries a digest of its flow (so the
//! queue still holds no names) and the flow's limit of executions running
//! at once (0: none), which claims respect.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("execution_queue"))
                    .add_column(
                        ColumnDef::new(Alias::new("flow_key"))
                            .string()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("execution_queue"))
                    .add_column(
                        ColumnDef::new(Alias::new("flow_limit"))
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["flow_limit", "flow_key"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("execution_queue"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
