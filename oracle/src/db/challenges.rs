//! The `challenges` table (migration m20261122_000010): Interactive challenges against our attestations (`ReceiptChallenged`/`LeafChallenged`) and how they were answered: `chain::state::ChallengeState`: `open` → `answered` / `failed` (the respond intent's outcome), `moot`, or `unanswerable` (no such leaf: the challenger is right).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub epoch: i64,
    pub round: i32,
    pub by_index: bool,
    pub leaf_index: Option<i64>,
    pub receipt_hash: Option<String>,
    pub challenger: String,
    pub deadline: i64,
    pub state: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
