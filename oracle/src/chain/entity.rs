//! The `deployments` table (migration m20261122_000008): one row per transaction of a deployment.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub deployment_id: String,
    pub chain_id: i64,
    pub contract: String,
    pub address: String,
    pub tx_hash: String,
    pub block_number: i64,
    pub gas_used: i64,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
