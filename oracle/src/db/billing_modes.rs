//! The `billing_modes` table (migration m20261202_000013): clients billed by acknowledgement
//! from `from_epoch` on, with their signed `AckMode` (in chain mode registered on-chain through
//! the transaction manager, `intent_key`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_modes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client: String,
    pub from_epoch: i64,
    pub deadline: i64,
    pub signature: String,
    pub intent_key: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
