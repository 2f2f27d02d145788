use sea_orm_migration::prelude::*;

use crate::tables::*;

migration!(creates Balances);

table! {
    /// One row per client address. Amounts are decimal text (u128 wei); arithmetic happens in the
    /// ledger, which serialises all writes.
    Balances {
        Address: address.primary_key(),
        BalanceWei: wei,
        SpentWei: wei,
        CreditedWei: wei,
        UpdatedAtMs: ms,
    }
}
