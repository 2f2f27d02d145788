use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates Receipts);

table! {
    /// Signed usage receipts. `id` is the ULID (26 characters, sorts like the 128-bit integer that
    /// is signed), so `ORDER BY id` is the canonical receipt order of an epoch.
    Receipts {
        Id: text_key(26),
        Epoch: big_integer,
        ModelId: string_len(32),
        ModelName: string_len(64),
        WeightsRoot: sha256,
        Client: address,
        PriceWei: wei,
        InputHash: sha256,
        OutputHash: sha256,
        Fingerprint: text,
        FingerprintHash: sha256,
        TimestampMs: ms,
        Signature: string_len(132),
    }
    index idx_receipts_client_id(Client, Id);
    index idx_receipts_model_ts(ModelId, TimestampMs);
    index idx_receipts_epoch_id(Epoch, Id);
}
