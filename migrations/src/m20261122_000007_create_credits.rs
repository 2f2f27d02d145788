use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every credit to a balance, with its source (an admin, later an on-chain deposit), so that
/// balances can be reconciled: balance = sum(credits) - sum(receipt prices).
#[derive(DeriveIden)]
enum Credits {
    Table,
    Id,
    Address,
    AmountWei,
    Source,
    CreatedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Credits::Table)
                .col(string_len(Credits::Id, 32).primary_key())
                .col(string_len(Credits::Address, 42))
                .col(string_len(Credits::AmountWei, 40))
                .col(text(Credits::Source))
                .col(big_integer(Credits::CreatedAtMs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Credits::Table).to_owned())
            .await
    }
}
