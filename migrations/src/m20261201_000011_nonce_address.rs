use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SiweNonces {
    Table,
    Address,
    ExpiresAtMs,
}

/// A sign-in nonce may be bound to the address that asked for it (rate limits per address), and
/// expired nonces are purged by expiry time.
#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SiweNonces::Table)
                .add_column(string_len_null(SiweNonces::Address, 42))
                .to_owned(),
        )
        .await?;
        crate::create_index(
            m,
            "idx_siwe_nonces_expires",
            SiweNonces::Table,
            [SiweNonces::ExpiresAtMs],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_siwe_nonces_expires")
                .table(SiweNonces::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SiweNonces::Table)
                .drop_column(SiweNonces::Address)
                .to_owned(),
        )
        .await
    }
}
