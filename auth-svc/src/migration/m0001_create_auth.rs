//! Users and signing keys (instance level); roles and bindings (per tenant).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    binary, boolean, string, string_len, string_len_null, text, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    SuperAdmin,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    PrivateDer,
    PublicKey,
    CreateTime,
    RetireTime,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Tenant,
    Name,
    Permissions,
    CreateTime,
}

#[derive(DeriveIden)]
enum Bindings {
    Table,
    Id,
    Tenant,
    SubjectType,
    SubjectId,
    Role,
    Namespace,
    CreateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(string_len(Users::Id, 36).primary_key())
                    .col(string_len(Users::Username, 100).unique_key())
                    .col(string(Users::PasswordHash))
                    .col(boolean(Users::SuperAdmin).default(false))
                    .col(timestamp_with_time_zone(Users::CreateTime))
                    .col(timestamp_with_time_zone(Users::UpdateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .if_not_exists()
                    .col(string_len(SigningKeys::Kid, 64).primary_key())
                    .col(binary(SigningKeys::PrivateDer))
                    .col(binary(SigningKeys::PublicKey))
                    .col(timestamp_with_time_zone(SigningKeys::CreateTime))
                    .col(timestamp_with_time_zone_null(SigningKeys::RetireTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .if_not_exists()
                    .col(string_len(Roles::Tenant, 100))
                    .col(string_len(Roles::Name, 100))
                    .col(text(Roles::Permissions))
                    .col(timestamp_with_time_zone(Roles::CreateTime))
                    .primary_key(Index::create().col(Roles::Tenant).col(Roles::Name))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Bindings::Table)
                    .if_not_exists()
                    .col(string_len(Bindings::Id, 36).primary_key())
                    .col(string_len(Bindings::Tenant, 100))
                    .col(string_len(Bindings::SubjectType, 20))
                    .col(string_len(Bindings::SubjectId, 36))
                    .col(string_len(Bindings::Role, 100))
                    .col(string_len_null(Bindings::Namespace, 150))
                    .col(timestamp_with_time_zone(Bindings::CreateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bindings_by_subject")
                    .table(Bindings::Table)
                    .col(Bindings::SubjectType)
                    .col(Bindings::SubjectId)
                    .col(Bindings::Tenant)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bindings_by_tenant")
                    .table(Bindings::Table)
                    .col(Bindings::Tenant)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["bindings", "roles", "signing_keys", "users"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
