//! Service accounts per tenant and their API tokens (stored as hashes).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, string_len, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServiceAccounts {
    Table,
    Id,
    Tenant,
    Name,
    SuperAdmin,
    CreateTime,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Tenant,
    ServiceAccountId,
    Name,
    Prefix,
    Hash,
    CreateTime,
    ExpireTime,
    Revoked,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServiceAccounts::Table)
                    .if_not_exists()
                    .col(string_len(ServiceAccounts::Id, 36).primary_key())
                    .col(string_len(ServiceAccounts::Tenant, 100))
                    .col(string_len(ServiceAccounts::Name, 100))
                    .col(boolean(ServiceAccounts::SuperAdmin).default(false))
                    .col(timestamp_with_time_zone(ServiceAccounts::CreateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("service_accounts_tenant_name")
                    .table(ServiceAccounts::Table)
                    .col(ServiceAccounts::Tenant)
                    .col(ServiceAccounts::Name)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .if_not_exists()
                    .col(string_len(ApiTokens::Id, 36).primary_key())
                    .col(string_len(ApiTokens::Tenant, 100))
                    .col(string_len(ApiTokens::ServiceAccountId, 36))
                    .col(string_len(ApiTokens::Name, 100))
                    .col(string_len(ApiTokens::Prefix, 20))
                    .col(string_len(ApiTokens::Hash, 64).unique_key())
                    .col(timestamp_with_time_zone(ApiTokens::CreateTime))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpireTime))
                    .col(boolean(ApiTokens::Revoked).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["api_tokens", "service_accounts"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
