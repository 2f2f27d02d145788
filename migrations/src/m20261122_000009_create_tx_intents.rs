use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates TxIntents);

table! {
    /// The transaction manager's intents (oracle/src/chain/txm.rs): every on-chain action is written
    /// here, under a unique key (`attest:42:1`, `finalize:42:1`, `register:<weights root>`…), before
    /// anything is sent. `state`: `pending` → `sent` (nonce, signed raw transaction and hash written
    /// before broadcasting) → `mined` (block) → `final` (buried under `chain.confirmations`), or
    /// `failed` with `error`. `hashes` lists every hash ever signed for the intent (fee bumps re-sign
    /// the same nonce), comma-separated. A nonce belongs to at most one intent.
    TxIntents {
        Key: intent_key.primary_key(),
        Kind: string_len(32),
        ToAddress: address,
        Calldata: text,
        ValueWei: wei_text,
        State: state,
        Nonce: big_integer_null,
        TxHash: hash_null,
        Hashes: text,
        RawTx: text_null,
        GasLimit: big_integer_null,
        MaxFeePerGas: text_null,
        MaxPriorityFeePerGas: text_null,
        SentBlock: big_integer_null,
        BlockNumber: big_integer_null,
        BlockHash: hash_null,
        GasUsed: big_integer_null,
        Attempts: integer.default(0),
        Error: text_null,
        CreatedAtMs: ms,
        UpdatedAtMs: ms,
    }
    index idx_tx_intents_nonce(Nonce).unique();
    index idx_tx_intents_state(State, CreatedAtMs);
}
