//! A fencing token on every claim: each claim of a job takes the next
//! epoch, and every write of a run checks the epoch it was claimed with, so
//! a worker whose claim was superseded (its lease expired during a pause or
//! an outage and the job was claimed again, even by the same process)
//! cannot write a thing. And each job carries its tenant's own quota of
//! running executions, which claims respect (0: the instance default).

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
                        ColumnDef::new(Alias::new("lease_epoch"))
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("execution_queue"))
                    .add_column(
                        ColumnDef::new(Alias::new("running_quota"))
                            .big_integer()
                            .not_null()
                            .default(0),
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
                    .drop_column(Alias::new("running_quota"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("execution_queue"))
                    .drop_column(Alias::new("lease_epoch"))
                    .to_owned(),
            )
            .await
    }
}
