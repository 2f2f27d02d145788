use sea_orm_migration::prelude::*;

use crate::tables::*;

migration!(creates SiweNonces);

table! {
    SiweNonces {
        Nonce: text_key(64),
        CreatedAtMs: ms,
        ExpiresAtMs: ms,
        UsedAtMs: ms_null,
    }
}
