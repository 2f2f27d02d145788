use sea_orm_migration::{prelude::*, schema::*};

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
                .col(string_len(Deployments::Id, 32).primary_key())
                .col(string_len(Deployments::DeploymentId, 32))
                .col(big_integer(Deployments::ChainId))
                .col(string_len(Deployments::Contract, 64))
                .col(string_len(Deployments::Address, 42))
                .col(string_len(Deployments::TxHash, 66))
                .col(big_integer(Deployments::BlockNumber))
                .col(big_integer(Deployments::GasUsed))
                .col(big_integer(Deployments::CreatedAtMs))
                .to_owned(),
        )
        .await?;
        crate::create_index(
            m,
            "idx_deployments_chain_created",
            Deployments::Table,
            [Deployments::ChainId, Deployments::CreatedAtMs],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Deployments::Table).to_owned())
            .await
    }
}
