use sea_orm_migration::prelude::*;

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
                .col(
                    ColumnDef::new(Models::Id)
                        .string_len(32)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Models::Name)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Models::Description).text().not_null())
                .col(ColumnDef::new(Models::Version).string_len(64).not_null())
                .col(ColumnDef::new(Models::PriceWei).string_len(40).not_null())
                .col(ColumnDef::new(Models::Publisher).string_len(42).not_null())
                .col(ColumnDef::new(Models::FileSha256).string_len(64).not_null())
                .col(
                    ColumnDef::new(Models::WeightsRoot)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Models::FileSize).big_integer().not_null())
                .col(ColumnDef::new(Models::IrVersion).big_integer().not_null())
                .col(ColumnDef::new(Models::Opsets).text().not_null())
                .col(ColumnDef::new(Models::Producer).text().not_null())
                .col(ColumnDef::new(Models::Inputs).text().not_null())
                .col(ColumnDef::new(Models::Outputs).text().not_null())
                .col(ColumnDef::new(Models::TensorCount).big_integer().not_null())
                .col(ColumnDef::new(Models::State).string_len(16).not_null())
                .col(ColumnDef::new(Models::Active).boolean().not_null())
                .col(ColumnDef::new(Models::CreatedAtMs).big_integer().not_null())
                .col(ColumnDef::new(Models::UpdatedAtMs).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_models_publisher")
                .table(Models::Table)
                .col(Models::Publisher)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Models::Table).to_owned())
            .await
    }
}
