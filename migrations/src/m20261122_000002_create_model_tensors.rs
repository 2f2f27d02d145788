use sea_orm_migration::{prelude::*, schema::*};

use super::m20261122_000001_create_models::Models;
use crate::tables::*;

migration!();

table! {
    ModelTensors {
        ModelId: string_len(32),
        Idx: integer,
        Name: text,
        DataType: integer,
        Dims: text,
        ByteLen: big_integer,
        DataSha256: sha256,
    }
}

async fn up(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        ModelTensors::table()
            .primary_key(
                Index::create()
                    .col(ModelTensors::ModelId)
                    .col(ModelTensors::Idx),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_model_tensors_model")
                    .from(ModelTensors::Table, ModelTensors::ModelId)
                    .to(Models::Table, Models::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
    )
    .await
}

async fn down(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_table(m, ModelTensors::Table).await
}
