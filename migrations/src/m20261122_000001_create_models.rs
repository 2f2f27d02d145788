use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates Models);

table! {
    pub Models {
        Id: text_key(32),
        Name: string_len_uniq(64),
        Description: text,
        Version: string_len(64),
        PriceWei: wei,
        Publisher: address,
        FileSha256: sha256,
        WeightsRoot: sha256.unique_key(),
        FileSize: big_integer,
        IrVersion: big_integer,
        Opsets: text,
        Producer: text,
        Inputs: text,
        Outputs: text,
        TensorCount: big_integer,
        State: state,
        Active: boolean,
        CreatedAtMs: ms,
        UpdatedAtMs: ms,
    }
    index idx_models_publisher(Publisher);
}
