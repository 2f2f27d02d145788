use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The transaction manager's intents (oracle/src/chain/txm.rs): every on-chain action is written
/// here, under a unique key (`attest:42:1`, `finalize:42:1`, `register:<weights root>`…), before
/// anything is sent. `state`: `pending` → `sent` (nonce, signed raw transaction and hash written
/// before broadcasting) → `mined` (block) → `final` (buried under `chain.confirmations`), or
/// `failed` with `error`. `hashes` lists every hash ever signed for the intent (fee bumps re-sign
/// the same nonce), comma-separated. A nonce belongs to at most one intent.
#[derive(DeriveIden)]
enum TxIntents {
    Table,
    Key,
    Kind,
    ToAddress,
    Calldata,
    ValueWei,
    State,
    Nonce,
    TxHash,
    Hashes,
    RawTx,
    GasLimit,
    MaxFeePerGas,
    MaxPriorityFeePerGas,
    SentBlock,
    BlockNumber,
    BlockHash,
    GasUsed,
    Attempts,
    Error,
    CreatedAtMs,
    UpdatedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TxIntents::Table)
                .col(
                    ColumnDef::new(TxIntents::Key)
                        .string_len(160)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(TxIntents::Kind).string_len(32).not_null())
                .col(
                    ColumnDef::new(TxIntents::ToAddress)
                        .string_len(42)
                        .not_null(),
                )
                .col(ColumnDef::new(TxIntents::Calldata).text().not_null())
                .col(ColumnDef::new(TxIntents::ValueWei).text().not_null())
                .col(ColumnDef::new(TxIntents::State).string_len(16).not_null())
                .col(ColumnDef::new(TxIntents::Nonce).big_integer().null())
                .col(ColumnDef::new(TxIntents::TxHash).string_len(66).null())
                .col(ColumnDef::new(TxIntents::Hashes).text().not_null())
                .col(ColumnDef::new(TxIntents::RawTx).text().null())
                .col(ColumnDef::new(TxIntents::GasLimit).big_integer().null())
                .col(ColumnDef::new(TxIntents::MaxFeePerGas).text().null())
                .col(
                    ColumnDef::new(TxIntents::MaxPriorityFeePerGas)
                        .text()
                        .null(),
                )
                .col(ColumnDef::new(TxIntents::SentBlock).big_integer().null())
                .col(ColumnDef::new(TxIntents::BlockNumber).big_integer().null())
                .col(ColumnDef::new(TxIntents::BlockHash).string_len(66).null())
                .col(ColumnDef::new(TxIntents::GasUsed).big_integer().null())
                .col(
                    ColumnDef::new(TxIntents::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ColumnDef::new(TxIntents::Error).text().null())
                .col(
                    ColumnDef::new(TxIntents::CreatedAtMs)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TxIntents::UpdatedAtMs)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tx_intents_nonce")
                .table(TxIntents::Table)
                .col(TxIntents::Nonce)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_tx_intents_state")
                .table(TxIntents::Table)
                .col(TxIntents::State)
                .col(TxIntents::CreatedAtMs)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TxIntents::Table).to_owned())
            .await
    }
}
