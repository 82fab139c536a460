//! Groups per tenant and their members.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_len, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    Tenant,
    Name,
    CreateTime,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    Tenant,
    GroupId,
    UserId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .if_not_exists()
                    .col(string_len(Groups::Id, 36).primary_key())
                    .col(string_len(Groups::Tenant, 100))
                    .col(string_len(Groups::Name, 100))
                    .col(timestamp_with_time_zone(Groups::CreateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("groups_tenant_name")
                    .table(Groups::Table)
                    .col(Groups::Tenant)
                    .col(Groups::Name)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .if_not_exists()
                    .col(string_len(GroupMembers::Tenant, 100))
                    .col(string_len(GroupMembers::GroupId, 36))
                    .col(string_len(GroupMembers::UserId, 36))
                    .primary_key(
                        Index::create()
                            .col(GroupMembers::GroupId)
                            .col(GroupMembers::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("group_members_by_user")
                    .table(GroupMembers::Table)
                    .col(GroupMembers::UserId)
                    .col(GroupMembers::Tenant)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["group_members", "groups"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
