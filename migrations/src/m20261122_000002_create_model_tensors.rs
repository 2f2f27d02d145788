use sea_orm_migration::{prelude::*, schema::*};

use super::m20261122_000001_create_models::Models;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ModelTensors {
    Table,
    ModelId,
    Idx,
    Name,
    DataType,
    Dims,
    ByteLen,
    DataSha256,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ModelTensors::Table)
                .col(string_len(ModelTensors::ModelId, 32))
                .col(integer(ModelTensors::Idx))
                .col(text(ModelTensors::Name))
                .col(integer(ModelTensors::DataType))
                .col(text(ModelTensors::Dims))
                .col(big_integer(ModelTensors::ByteLen))
                .col(string_len(ModelTensors::DataSha256, 64))
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

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ModelTensors::Table).to_owned())
            .await
    }
}
