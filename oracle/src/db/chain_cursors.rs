//! The `chain_cursors` table (migration m20261122_000010): How far each log reader has read: the last block applied and its hash.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chain_cursors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub block_number: i64,
    pub block_hash: String,
    pub updated_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Moves cursor `name` to `block` (whose hash is `hash`), creating it on first use.
pub async fn save(
    db: &impl ConnectionTrait,
    name: &str,
    block: u64,
    hash: alloy::primitives::B256,
    now_ms: i64,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        name: sea_orm::ActiveValue::Set(name.to_owned()),
        block_number: sea_orm::ActiveValue::Set(block as i64),
        block_hash: sea_orm::ActiveValue::Set(format!("{hash:#x}")),
        updated_at_ms: sea_orm::ActiveValue::Set(now_ms),
    };
    super::upsert_all(
        db,
        vec![row],
        Column::Name,
        [Column::BlockNumber, Column::BlockHash, Column::UpdatedAtMs],
    )
    .await
}
