use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Contract deployments (`imo contracts deploy`): one row per transaction of a deployment, all
/// rows of one run sharing `deployment_id`. `contract` names a deployed contract
/// (`ModelRegistry`, `ModelToken` — the implementation the registry deploys in its constructor,
/// same transaction —, `PaymentVault`, `UsageOracle`) or a wiring call
/// (`ModelRegistry.setUsageOracle`, `PaymentVault.setOracle`; `address` is the contract called).
#[derive(DeriveIden)]
enum Deployments {
    Table,
    Id,
    DeploymentId,
    ChainId,
    Contract,
    Address,
    TxHash,
    BlockNumber,
    GasUsed,
    CreatedAtMs,
}

#[async_trait::async_trait]
#[allow(rust_2018_idioms)] // the trait declares `SchemaManager` with an elided lifetime
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Deployments::Table)
                .col(
                    ColumnDef::new(Deployments::Id)
                        .string_len(32)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Deployments::DeploymentId)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Deployments::ChainId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Deployments::Contract)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Deployments::Address)
                        .string_len(42)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Deployments::TxHash)
                        .string_len(66)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Deployments::BlockNumber)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Deployments::GasUsed)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Deployments::CreatedAtMs)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deployments_chain_created")
                .table(Deployments::Table)
                .col(Deployments::ChainId)
                .col(Deployments::CreatedAtMs)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Deployments::Table).to_owned())
            .await
    }
}
