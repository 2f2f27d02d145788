use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates Credits);

table! {
    /// Every credit to a balance, with its source (an admin, later an on-chain deposit), so that
    /// balances can be reconciled: balance = sum(credits) - sum(receipt prices).
    Credits {
        Id: text_key(32),
        Address: address,
        AmountWei: wei,
        Source: text,
        CreatedAtMs: ms,
    }
}
