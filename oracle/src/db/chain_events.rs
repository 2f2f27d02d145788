//! The `chain_events` table (migration m20261122_000010): Vault events applied to balances, keyed `<tx hash>:<log index>`: a range read twice applies nothing twice.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chain_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub block_number: i64,
    pub block_hash: String,
    pub tx_hash: String,
    pub event: String,
    pub account: String,
    pub amount_wei: String,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
