use sea_orm_migration::prelude::*;

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
                .col(
                    ColumnDef::new(Credits::Id)
                        .string_len(32)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Credits::Address).string_len(42).not_null())
                .col(ColumnDef::new(Credits::AmountWei).string_len(40).not_null())
                .col(ColumnDef::new(Credits::Source).text().not_null())
                .col(
                    ColumnDef::new(Credits::CreatedAtMs)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Credits::Table).to_owned())
            .await
    }
}
