//! `POST .../executions/{id}/pause` of a running execution: the flag a
//! worker sees with its next lease renewal, as it sees a kill.

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
                        ColumnDef::new(Alias::new("pause_requested"))
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("execution_queue"))
                    .drop_column(Alias::new("pause_requested"))
                    .to_owned(),
            )
            .await
    }
}
