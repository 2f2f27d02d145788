use sea_orm_migration::{prelude::*, schema::*};

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
                .col(string_len(TxIntents::Key, 160).primary_key())
                .col(string_len(TxIntents::Kind, 32))
                .col(string_len(TxIntents::ToAddress, 42))
                .col(text(TxIntents::Calldata))
                .col(text(TxIntents::ValueWei))
                .col(string_len(TxIntents::State, 16))
                .col(big_integer_null(TxIntents::Nonce))
                .col(string_len_null(TxIntents::TxHash, 66))
                .col(text(TxIntents::Hashes))
                .col(text_null(TxIntents::RawTx))
                .col(big_integer_null(TxIntents::GasLimit))
                .col(text_null(TxIntents::MaxFeePerGas))
                .col(text_null(TxIntents::MaxPriorityFeePerGas))
                .col(big_integer_null(TxIntents::SentBlock))
                .col(big_integer_null(TxIntents::BlockNumber))
                .col(string_len_null(TxIntents::BlockHash, 66))
                .col(big_integer_null(TxIntents::GasUsed))
                .col(integer(TxIntents::Attempts).default(0))
                .col(text_null(TxIntents::Error))
                .col(big_integer(TxIntents::CreatedAtMs))
                .col(big_integer(TxIntents::UpdatedAtMs))
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
        crate::create_index(
            m,
            "idx_tx_intents_state",
            TxIntents::Table,
            [TxIntents::State, TxIntents::CreatedAtMs],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TxIntents::Table).to_owned())
            .await
    }
}
