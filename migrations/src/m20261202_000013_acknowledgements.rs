use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!();

table! {
    /// `billing_modes`: clients that chose acknowledged billing (`ack`) with their signed
    /// `AckMode`; a client without a row is billed in `cap` mode.
    BillingModes {
        Client: address.primary_key(),
        FromEpoch: big_integer,
        Deadline: big_integer,
        Signature: text,
        IntentKey: intent_key_null,
        CreatedAtMs: ms,
    }
}

table! {
    /// `acknowledgements`: each `ack` client's latest (highest) signed `Acknowledgement` per epoch,
    /// written by the ledger writer before it counts.
    Acknowledgements {
        Id: text_key(80),
        Client: address,
        Epoch: big_integer,
        AmountWei: wei_text,
        Calls: big_integer,
        Signature: text,
        ReceivedAtMs: ms,
    }
    index idx_acknowledgements_epoch(Epoch);
}

/// Client-acknowledged billing (issue 15).
async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    create::<BillingModes>(m).await?;
    create::<Acknowledgements>(m).await
}

async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(
        m,
        [
            Acknowledgements::Table.into_iden(),
            BillingModes::Table.into_iden(),
        ],
    )
    .await
}
