use sea_orm_migration::{prelude::*, schema::*};

use crate::tables::*;

migration!(creates Deployments);

table! {
    /// Contract deployments (`imo contracts deploy`): one row per transaction of a deployment, all
    /// rows of one run sharing `deployment_id`. `contract` names a deployed contract
    /// (`ModelRegistry`, `ModelToken` — the implementation the registry deploys in its constructor,
    /// same transaction —, `PaymentVault`, `UsageOracle`) or a wiring call
    /// (`ModelRegistry.setUsageOracle`, `PaymentVault.setOracle`; `address` is the contract called).
    Deployments {
        Id: text_key(32),
        DeploymentId: string_len(32),
        ChainId: big_integer,
        Contract: string_len(64),
        Address: address,
        TxHash: hash,
        BlockNumber: big_integer,
        GasUsed: big_integer,
        CreatedAtMs: ms,
    }
    index idx_deployments_chain_created(ChainId, CreatedAtMs);
}
