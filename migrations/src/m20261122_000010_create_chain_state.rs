use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

// The chain loop's state (issue 5; docs/PROTOCOL.md, "The chain loop").

/// `model_tokens`: Tokenization of a model: one row per model, written by `POST /v1/models/{id}/tokenize`; `state` is `tokenizing` (the registration intent is in flight), `tokenized` (final on-chain, `token_address` set) or `failed` (`error`).
#[derive(DeriveIden)]
enum ModelTokens {
    Table,
    ModelId,
    WeightsRoot,
    State,
    IntentKey,
    Name,
    Symbol,
    Supply,
    HoldersBps,
    Publisher,
    TokenAddress,
    Error,
    CreatedAtMs,
    UpdatedAtMs,
}

/// `vault_accounts`: A client's vault state as the indexer has seen it: the pending withdrawal (`held_wei`, served against no more) and the highest spending cap (`cap_wei`, cumulative over the client's lifetime, as PaymentVault keeps it).
#[derive(DeriveIden)]
enum VaultAccounts {
    Table,
    Address,
    HeldWei,
    CapWei,
    UpdatedAtMs,
}

/// `chain_events`: Vault events applied to balances, keyed `<tx hash>:<log index>`: a range read twice applies nothing twice.
#[derive(DeriveIden)]
enum ChainEvents {
    Table,
    Id,
    BlockNumber,
    BlockHash,
    TxHash,
    Event,
    Account,
    AmountWei,
    CreatedAtMs,
}

/// `chain_cursors`: How far each log reader has read: the last block applied and its hash.
#[derive(DeriveIden)]
enum ChainCursors {
    Table,
    Name,
    BlockNumber,
    BlockHash,
    UpdatedAtMs,
}

/// `epochs`: Closed epochs: the frozen receipt tree's root, leaf count and totals (JSON lists as attested), and where its attestation stands (`closed` → `attesting` → `attested` → `finalizing` → `finalized`; `voided` → `unwinding` → `closed` with `round` + 1).
#[derive(DeriveIden)]
enum Epochs {
    Table,
    Epoch,
    Round,
    State,
    Root,
    Count,
    TotalWei,
    FeeBps,
    ModelsJson,
    ClientsJson,
    Omitted,
    AttestKey,
    PostedAt,
    FinalizeKey,
    CreatedAtMs,
    UpdatedAtMs,
}

/// `payouts`: What each finalize paid each model's token (`ModelPaid`), keyed `<epoch>:<weights root>`.
#[derive(DeriveIden)]
enum Payouts {
    Table,
    Id,
    Epoch,
    Round,
    WeightsRoot,
    Token,
    AmountWei,
    SnapshotId,
    TxHash,
    BlockNumber,
    CreatedAtMs,
}

/// `challenges`: Interactive challenges against our attestations (`ReceiptChallenged`/`LeafChallenged`) and how they were answered: `open` → `answering` (respond intent) → `answered`, or `unanswerable` (no such leaf: the challenger is right).
#[derive(DeriveIden)]
enum Challenges {
    Table,
    Id,
    Epoch,
    Round,
    ByIndex,
    LeafIndex,
    ReceiptHash,
    Challenger,
    Deadline,
    State,
    RespondKey,
    CreatedAtMs,
    UpdatedAtMs,
}

/// `spending_caps`: Signed `SpendingCap`s accepted by `POST /v1/spending-caps`, each submitted on-chain through the transaction manager (`intent_key`).
#[derive(DeriveIden)]
enum SpendingCaps {
    Table,
    Id,
    Client,
    CapWei,
    Deadline,
    Signature,
    IntentKey,
    CreatedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ModelTokens::Table)
                .col(string_len(ModelTokens::ModelId, 32).primary_key())
                .col(string_len(ModelTokens::WeightsRoot, 66))
                .col(string_len(ModelTokens::State, 16))
                .col(string_len(ModelTokens::IntentKey, 160))
                .col(string_len(ModelTokens::Name, 128))
                .col(string_len(ModelTokens::Symbol, 32))
                .col(text(ModelTokens::Supply))
                .col(integer(ModelTokens::HoldersBps))
                .col(string_len(ModelTokens::Publisher, 42))
                .col(string_len_null(ModelTokens::TokenAddress, 42))
                .col(text_null(ModelTokens::Error))
                .col(big_integer(ModelTokens::CreatedAtMs))
                .col(big_integer(ModelTokens::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(VaultAccounts::Table)
                .col(string_len(VaultAccounts::Address, 42).primary_key())
                .col(text(VaultAccounts::HeldWei))
                .col(text(VaultAccounts::CapWei))
                .col(big_integer(VaultAccounts::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ChainEvents::Table)
                .col(string_len(ChainEvents::Id, 100).primary_key())
                .col(big_integer(ChainEvents::BlockNumber))
                .col(string_len(ChainEvents::BlockHash, 66))
                .col(string_len(ChainEvents::TxHash, 66))
                .col(string_len(ChainEvents::Event, 32))
                .col(string_len(ChainEvents::Account, 42))
                .col(text(ChainEvents::AmountWei))
                .col(big_integer(ChainEvents::CreatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ChainCursors::Table)
                .col(string_len(ChainCursors::Name, 64).primary_key())
                .col(big_integer(ChainCursors::BlockNumber))
                .col(string_len(ChainCursors::BlockHash, 66))
                .col(big_integer(ChainCursors::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Epochs::Table)
                .col(big_integer(Epochs::Epoch).primary_key())
                .col(integer(Epochs::Round))
                .col(string_len(Epochs::State, 16))
                .col(string_len(Epochs::Root, 66))
                .col(big_integer(Epochs::Count))
                .col(text(Epochs::TotalWei))
                .col(integer(Epochs::FeeBps))
                .col(text(Epochs::ModelsJson))
                .col(text(Epochs::ClientsJson))
                .col(integer(Epochs::Omitted))
                .col(string_len_null(Epochs::AttestKey, 160))
                .col(big_integer_null(Epochs::PostedAt))
                .col(string_len_null(Epochs::FinalizeKey, 160))
                .col(big_integer(Epochs::CreatedAtMs))
                .col(big_integer(Epochs::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Payouts::Table)
                .col(string_len(Payouts::Id, 100).primary_key())
                .col(big_integer(Payouts::Epoch))
                .col(integer(Payouts::Round))
                .col(string_len(Payouts::WeightsRoot, 66))
                .col(string_len(Payouts::Token, 42))
                .col(text(Payouts::AmountWei))
                .col(big_integer(Payouts::SnapshotId))
                .col(string_len(Payouts::TxHash, 66))
                .col(big_integer(Payouts::BlockNumber))
                .col(big_integer(Payouts::CreatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Challenges::Table)
                .col(big_integer(Challenges::Id).primary_key())
                .col(big_integer(Challenges::Epoch))
                .col(integer(Challenges::Round))
                .col(boolean(Challenges::ByIndex))
                .col(big_integer_null(Challenges::LeafIndex))
                .col(string_len_null(Challenges::ReceiptHash, 66))
                .col(string_len(Challenges::Challenger, 42))
                .col(big_integer(Challenges::Deadline))
                .col(string_len(Challenges::State, 16))
                .col(string_len_null(Challenges::RespondKey, 160))
                .col(big_integer(Challenges::CreatedAtMs))
                .col(big_integer(Challenges::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SpendingCaps::Table)
                .col(string_len(SpendingCaps::Id, 100).primary_key())
                .col(string_len(SpendingCaps::Client, 42))
                .col(text(SpendingCaps::CapWei))
                .col(big_integer(SpendingCaps::Deadline))
                .col(text(SpendingCaps::Signature))
                .col(string_len(SpendingCaps::IntentKey, 160))
                .col(big_integer(SpendingCaps::CreatedAtMs))
                .to_owned(),
        )
        .await?;
        crate::create_index(m, "idx_epochs_state", Epochs::Table, [Epochs::State]).await?;
        crate::create_index(
            m,
            "idx_payouts_root",
            Payouts::Table,
            [Payouts::WeightsRoot, Payouts::Epoch],
        )
        .await?;
        crate::create_index(
            m,
            "idx_challenges_state",
            Challenges::Table,
            [Challenges::State],
        )
        .await?;
        crate::create_index(
            m,
            "idx_model_tokens_state",
            ModelTokens::Table,
            [ModelTokens::State],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SpendingCaps::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Challenges::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Payouts::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Epochs::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ChainCursors::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ChainEvents::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(VaultAccounts::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ModelTokens::Table).to_owned())
            .await
    }
}
