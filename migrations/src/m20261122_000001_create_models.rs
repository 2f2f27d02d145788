use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Models {
    Table,
    Id,
    Name,
    Description,
    Version,
    PriceWei,
    Publisher,
    FileSha256,
    WeightsRoot,
    FileSize,
    IrVersion,
    Opsets,
    Producer,
    Inputs,
    Outputs,
    TensorCount,
    State,
    Active,
    CreatedAtMs,
    UpdatedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Models::Table)
                .col(string_len(Models::Id, 32).primary_key())
                .col(string_len(Models::Name, 64).unique_key())
                .col(text(Models::Description))
                .col(string_len(Models::Version, 64))
                .col(string_len(Models::PriceWei, 40))
                .col(string_len(Models::Publisher, 42))
                .col(string_len(Models::FileSha256, 64))
                .col(string_len(Models::WeightsRoot, 64).unique_key())
                .col(big_integer(Models::FileSize))
                .col(big_integer(Models::IrVersion))
                .col(text(Models::Opsets))
                .col(text(Models::Producer))
                .col(text(Models::Inputs))
                .col(text(Models::Outputs))
                .col(big_integer(Models::TensorCount))
                .col(string_len(Models::State, 16))
                .col(boolean(Models::Active))
                .col(big_integer(Models::CreatedAtMs))
                .col(big_integer(Models::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        crate::create_index(
            m,
            "idx_models_publisher",
            Models::Table,
            [Models::Publisher],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Models::Table).to_owned())
            .await
    }
}
