use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates Disputes);

table! {
    /// `disputes`: inference dispute games opened over the operator's receipts and their outcome
    /// (`open` → `won` / `lost`), played by the `disputes` job.
    Disputes {
        GameId: hash.primary_key(),
        ReceiptHash: hash,
        Challenger: address,
        Client: address,
        ClaimedOutputHash: hash,
        OpenTx: hash,
        OpenedBlock: big_integer,
        State: state,
        Note: text_null,
        CreatedAtMs: ms,
        UpdatedAtMs: ms,
    }
    index idx_disputes_state(State);
}
