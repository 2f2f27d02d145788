use sea_orm_migration::prelude::*;

use crate::tables::*;

migration!();

#[derive(DeriveIden)]
enum SiweNonces {
    Table,
    Address,
    ExpiresAtMs,
}

/// A sign-in nonce may be bound to the address that asked for it (rate limits per address), and
/// expired nonces are purged by expiry time.
async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    add_column(m, SiweNonces::Table, address_null(SiweNonces::Address)).await?;
    create_index(
        m,
        "idx_siwe_nonces_expires",
        SiweNonces::Table,
        [SiweNonces::ExpiresAtMs],
    )
    .await
}

async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.drop_index(
        Index::drop()
            .name("idx_siwe_nonces_expires")
            .table(SiweNonces::Table)
            .to_owned(),
    )
    .await?;
    drop_columns(m, SiweNonces::Table, [SiweNonces::Address]).await
}
