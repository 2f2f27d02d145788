use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    KeyHash,
    Prefix,
    Address,
    Role,
    Label,
    CreatedAtMs,
    RevokedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(string_len(ApiKeys::Id, 32).primary_key())
                .col(string_len(ApiKeys::KeyHash, 64).unique_key())
                .col(string_len(ApiKeys::Prefix, 16))
                .col(string_len(ApiKeys::Address, 42))
                .col(string_len(ApiKeys::Role, 16))
                .col(text(ApiKeys::Label))
                .col(big_integer(ApiKeys::CreatedAtMs))
                .col(big_integer_null(ApiKeys::RevokedAtMs))
                .to_owned(),
        )
        .await?;
        crate::create_index(
            m,
            "idx_api_keys_address",
            ApiKeys::Table,
            [ApiKeys::Address],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
