//! The `spending_caps` table (migration m20261122_000010): Signed `SpendingCap`s accepted by `POST /v1/spending-caps`, each submitted on-chain through the transaction manager (`intent_key`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "spending_caps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub client: String,
    pub cap_wei: String,
    pub deadline: i64,
    pub signature: String,
    pub intent_key: String,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
