use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates ApiKeys);

table! {
    ApiKeys {
        Id: text_key(32),
        KeyHash: sha256.unique_key(),
        Prefix: string_len(16),
        Address: address,
        Role: string_len(16),
        Label: text,
        CreatedAtMs: ms,
        RevokedAtMs: ms_null,
    }
    index idx_api_keys_address(Address);
}
