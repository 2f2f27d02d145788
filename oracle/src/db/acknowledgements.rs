//! The `acknowledgements` table (migration m20261202_000013): per client and epoch the latest
//! (highest) signed `Acknowledgement`, id `<client>:<epoch>`; written by the ledger writer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "acknowledgements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub client: String,
    pub epoch: i64,
    pub amount_wei: String,
    pub calls: i64,
    pub signature: String,
    pub received_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
