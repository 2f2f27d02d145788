//! The `model_tokens` table (migration m20261122_000010): Tokenization of a model: one row per model, written by `POST /v1/models/{id}/tokenize`; `state` is `tokenizing` (the registration intent is in flight), `tokenized` (final on-chain, `token_address` set) or `failed` (`error`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "model_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub model_id: String,
    pub weights_root: String,
    pub state: String,
    pub intent_key: String,
    pub name: String,
    pub symbol: String,
    pub supply: String,
    pub holders_bps: i32,
    pub publisher: String,
    pub token_address: Option<String>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
