use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "models")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub price_wei: String,
    pub publisher: String,
    pub file_sha256: String,
    pub weights_root: String,
    pub file_size: i64,
    pub ir_version: i64,
    pub opsets: String,
    pub producer: String,
    pub inputs: String,
    pub outputs: String,
    pub tensor_count: i64,
    pub state: String,
    pub active: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub disputable: bool,
    pub dispute_blocked_by: Option<String>,
    pub dispute_fingerprint: Option<String>,
    pub program_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
