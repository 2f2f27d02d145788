use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Signed usage receipts. `id` is the ULID (26 characters, sorts like the 128-bit integer that
/// is signed), so `ORDER BY id` is the canonical receipt order of an epoch.
#[derive(DeriveIden)]
enum Receipts {
    Table,
    Id,
    Epoch,
    ModelId,
    ModelName,
    WeightsRoot,
    Client,
    PriceWei,
    InputHash,
    OutputHash,
    Fingerprint,
    FingerprintHash,
    TimestampMs,
    Signature,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Receipts::Table)
                .col(string_len(Receipts::Id, 26).primary_key())
                .col(big_integer(Receipts::Epoch))
                .col(string_len(Receipts::ModelId, 32))
                .col(string_len(Receipts::ModelName, 64))
                .col(string_len(Receipts::WeightsRoot, 64))
                .col(string_len(Receipts::Client, 42))
                .col(string_len(Receipts::PriceWei, 40))
                .col(string_len(Receipts::InputHash, 64))
                .col(string_len(Receipts::OutputHash, 64))
                .col(text(Receipts::Fingerprint))
                .col(string_len(Receipts::FingerprintHash, 64))
                .col(big_integer(Receipts::TimestampMs))
                .col(string_len(Receipts::Signature, 132))
                .to_owned(),
        )
        .await?;
        crate::create_index(
            m,
            "idx_receipts_client_id",
            Receipts::Table,
            [Receipts::Client, Receipts::Id],
        )
        .await?;
        crate::create_index(
            m,
            "idx_receipts_model_ts",
            Receipts::Table,
            [Receipts::ModelId, Receipts::TimestampMs],
        )
        .await?;
        crate::create_index(
            m,
            "idx_receipts_epoch_id",
            Receipts::Table,
            [Receipts::Epoch, Receipts::Id],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Receipts::Table).to_owned())
            .await
    }
}
