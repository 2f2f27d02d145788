//! The `tx_intents` table (migration m20261122_000009): the transaction manager's intents.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tx_intents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub kind: String,
    pub to_address: String,
    /// 0x-hex.
    pub calldata: String,
    /// Decimal wei.
    pub value_wei: String,
    pub state: String,
    pub nonce: Option<i64>,
    pub tx_hash: Option<String>,
    /// Every hash ever signed for this intent, comma-separated, oldest first.
    pub hashes: String,
    /// The latest signed transaction (EIP-2718 envelope), 0x-hex.
    pub raw_tx: Option<String>,
    pub gas_limit: Option<i64>,
    pub max_fee_per_gas: Option<String>,
    pub max_priority_fee_per_gas: Option<String>,
    /// The chain head when the latest signed transaction was first broadcast.
    pub sent_block: Option<i64>,
    pub block_number: Option<i64>,
    pub block_hash: Option<String>,
    pub gas_used: Option<i64>,
    pub attempts: i32,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
