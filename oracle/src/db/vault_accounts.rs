//! The `vault_accounts` table (migration m20261122_000010): A client's vault state as the indexer has seen it: the pending withdrawal (`held_wei`, served against no more) and the highest spending cap (`cap_wei`, cumulative over the client's lifetime, as PaymentVault keeps it).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vault_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub address: String,
    pub held_wei: String,
    pub cap_wei: String,
    pub updated_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
