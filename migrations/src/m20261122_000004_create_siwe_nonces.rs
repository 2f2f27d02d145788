use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SiweNonces {
    Table,
    Nonce,
    CreatedAtMs,
    ExpiresAtMs,
    UsedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SiweNonces::Table)
                .col(string_len(SiweNonces::Nonce, 64).primary_key())
                .col(big_integer(SiweNonces::CreatedAtMs))
                .col(big_integer(SiweNonces::ExpiresAtMs))
                .col(big_integer_null(SiweNonces::UsedAtMs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SiweNonces::Table).to_owned())
            .await
    }
}
