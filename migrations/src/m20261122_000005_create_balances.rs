use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One row per client address. Amounts are decimal text (u128 wei); arithmetic happens in the
/// ledger, which serialises all writes.
#[derive(DeriveIden)]
enum Balances {
    Table,
    Address,
    BalanceWei,
    SpentWei,
    CreditedWei,
    UpdatedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Balances::Table)
                .col(string_len(Balances::Address, 42).primary_key())
                .col(string_len(Balances::BalanceWei, 40))
                .col(string_len(Balances::SpentWei, 40))
                .col(string_len(Balances::CreditedWei, 40))
                .col(big_integer(Balances::UpdatedAtMs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Balances::Table).to_owned())
            .await
    }
}
