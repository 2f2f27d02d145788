use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "receipts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub epoch: i64,
    pub model_id: String,
    pub model_name: String,
    pub weights_root: String,
    pub client: String,
    pub price_wei: String,
    pub input_hash: String,
    pub output_hash: String,
    pub fingerprint: String,
    pub fingerprint_hash: String,
    pub timestamp_ms: i64,
    pub signature: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
