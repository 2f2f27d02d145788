use sea_orm_migration::prelude::*;

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
                .col(
                    ColumnDef::new(Balances::Address)
                        .string_len(42)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Balances::BalanceWei)
                        .string_len(40)
                        .not_null(),
                )
                .col(ColumnDef::new(Balances::SpentWei).string_len(40).not_null())
                .col(
                    ColumnDef::new(Balances::CreditedWei)
                        .string_len(40)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Balances::UpdatedAtMs)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Balances::Table).to_owned())
            .await
    }
}
