use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!();

// The chain loop's state (issue 5; docs/PROTOCOL.md, "The chain loop").

table! {
    /// `model_tokens`: Tokenization of a model: one row per model, written by `POST /v1/models/{id}/tokenize`; `state` is `tokenizing` (the registration intent is in flight), `tokenized` (final on-chain, `token_address` set) or `failed` (`error`).
    ModelTokens {
        ModelId: text_key(32),
        WeightsRoot: hash,
        State: state,
        IntentKey: intent_key,
        Name: string_len(128),
        Symbol: string_len(32),
        Supply: text,
        HoldersBps: integer,
        Publisher: address,
        TokenAddress: address_null,
        Error: text_null,
        CreatedAtMs: ms,
        UpdatedAtMs: ms,
    }
    index idx_model_tokens_state(State);
}

table! {
    /// `vault_accounts`: A client's vault state as the indexer has seen it: the pending withdrawal (`held_wei`, served against no more) and the highest spending cap (`cap_wei`, cumulative over the client's lifetime, as PaymentVault keeps it).
    VaultAccounts {
        Address: address.primary_key(),
        HeldWei: wei_text,
        CapWei: wei_text,
        UpdatedAtMs: ms,
    }
}

table! {
    /// `chain_events`: Vault events applied to balances, keyed `<tx hash>:<log index>`: a range read twice applies nothing twice.
    ChainEvents {
        Id: text_key(100),
        BlockNumber: big_integer,
        BlockHash: hash,
        TxHash: hash,
        Event: string_len(32),
        Account: address,
        AmountWei: wei_text,
        CreatedAtMs: ms,
    }
}

table! {
    /// `chain_cursors`: How far each log reader has read: the last block applied and its hash.
    ChainCursors {
        Name: text_key(64),
        BlockNumber: big_integer,
        BlockHash: hash,
        UpdatedAtMs: ms,
    }
}

table! {
    /// `epochs`: Closed epochs: the frozen receipt tree's root, leaf count and totals (JSON lists as attested), and where its attestation stands (`closed` → `attesting` → `attested` → `finalizing` → `finalized`; `voided` → `unwinding` → `closed` with `round` + 1).
    Epochs {
        Epoch: big_integer.primary_key(),
        Round: integer,
        State: state,
        Root: hash,
        Count: big_integer,
        TotalWei: wei_text,
        FeeBps: integer,
        ModelsJson: text,
        ClientsJson: text,
        Omitted: integer,
        AttestKey: intent_key_null,
        PostedAt: big_integer_null,
        FinalizeKey: intent_key_null,
        CreatedAtMs: ms,
        UpdatedAtMs: ms,
    }
    index idx_epochs_state(State);
}

table! {
    /// `payouts`: What each finalize paid each model's token (`ModelPaid`), keyed `<epoch>:<weights root>`.
    Payouts {
        Id: text_key(100),
        Epoch: big_integer,
        Round: integer,
        WeightsRoot: hash,
        Token: address,
        AmountWei: wei_text,
        SnapshotId: big_integer,
        TxHash: hash,
        BlockNumber: big_integer,
        CreatedAtMs: ms,
    }
    index idx_payouts_root(WeightsRoot, Epoch);
}

table! {
    /// `challenges`: Interactive challenges against our attestations (`ReceiptChallenged`/`LeafChallenged`) and how they were answered: `open` → `answering` (respond intent) → `answered`, or `unanswerable` (no such leaf: the challenger is right).
    Challenges {
        Id: big_integer.primary_key(),
        Epoch: big_integer,
        Round: integer,
        ByIndex: boolean,
        LeafIndex: big_integer_null,
        ReceiptHash: hash_null,
        Challenger: address,
        Deadline: big_integer,
        State: state,
        RespondKey: intent_key_null,
        CreatedAtMs: ms,
        UpdatedAtMs: ms,
    }
    index idx_challenges_state(State);
}

table! {
    /// `spending_caps`: Signed `SpendingCap`s accepted by `POST /v1/spending-caps`, each submitted on-chain through the transaction manager (`intent_key`).
    SpendingCaps {
        Id: text_key(100),
        Client: address,
        CapWei: wei_text,
        Deadline: big_integer,
        Signature: text,
        IntentKey: intent_key,
        CreatedAtMs: ms,
    }
}

async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    for table in [
        ModelTokens::table(),
        VaultAccounts::table(),
        ChainEvents::table(),
        ChainCursors::table(),
        Epochs::table(),
        Payouts::table(),
        Challenges::table(),
        SpendingCaps::table(),
    ] {
        m.create_table(table).await?;
    }
    for index in [
        Epochs::indexes(),
        Payouts::indexes(),
        Challenges::indexes(),
        ModelTokens::indexes(),
    ]
    .concat()
    {
        m.create_index(index).await?;
    }
    Ok(())
}

async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(
        m,
        [
            SpendingCaps::Table.into_iden(),
            Challenges::Table.into_iden(),
            Payouts::Table.into_iden(),
            Epochs::Table.into_iden(),
            ChainCursors::Table.into_iden(),
            ChainEvents::Table.into_iden(),
            VaultAccounts::Table.into_iden(),
            ModelTokens::Table.into_iden(),
        ],
    )
    .await
}
