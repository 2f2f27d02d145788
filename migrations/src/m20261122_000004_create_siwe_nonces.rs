use sea_orm_migration::prelude::*;

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
                .col(
                    ColumnDef::new(SiweNonces::Nonce)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(SiweNonces::CreatedAtMs)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SiweNonces::ExpiresAtMs)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(SiweNonces::UsedAtMs).big_integer().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SiweNonces::Table).to_owned())
            .await
    }
}
