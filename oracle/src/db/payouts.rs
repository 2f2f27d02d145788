//! The `payouts` table (migration m20261122_000010): What each finalize paid each model's token (`ModelPaid`), keyed `<epoch>:<weights root>`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payouts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub epoch: i64,
    pub round: i32,
    pub weights_root: String,
    pub token: String,
    pub amount_wei: String,
    pub snapshot_id: i64,
    pub tx_hash: String,
    pub block_number: i64,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
