use sea_orm_migration::prelude::*;

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
                .col(
                    ColumnDef::new(Receipts::Id)
                        .string_len(26)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Receipts::Epoch).big_integer().not_null())
                .col(ColumnDef::new(Receipts::ModelId).string_len(32).not_null())
                .col(
                    ColumnDef::new(Receipts::ModelName)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Receipts::WeightsRoot)
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(Receipts::Client).string_len(42).not_null())
                .col(ColumnDef::new(Receipts::PriceWei).string_len(40).not_null())
                .col(
                    ColumnDef::new(Receipts::InputHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Receipts::OutputHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(Receipts::Fingerprint).text().not_null())
                .col(
                    ColumnDef::new(Receipts::FingerprintHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Receipts::TimestampMs)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Receipts::Signature)
                        .string_len(132)
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_receipts_client_id")
                .table(Receipts::Table)
                .col(Receipts::Client)
                .col(Receipts::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_receipts_model_ts")
                .table(Receipts::Table)
                .col(Receipts::ModelId)
                .col(Receipts::TimestampMs)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_receipts_epoch_id")
                .table(Receipts::Table)
                .col(Receipts::Epoch)
                .col(Receipts::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Receipts::Table).to_owned())
            .await
    }
}
