//! Retries that create a new execution (`behavior: CREATE_NEW_EXECUTION`):
//! each execution knows its attempt number and when the first attempt was
//! created, so that `maxAttempt` and `maxDuration` count across them.

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
                    .add_column(
                        ColumnDef::new(Alias::new("attempt_number"))
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("executions"))
                    .add_column(
                        ColumnDef::new(Alias::new("first_attempt_time")).timestamp_with_time_zone(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["first_attempt_time", "attempt_number"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("executions"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
