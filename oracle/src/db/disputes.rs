//! The `disputes` table (migration m20261202_000013): inference dispute games opened over the
//! operator's receipts (`GameOpened`) and how they ended: `chain::disputes::DisputeState`:
//! `open` → `won` / `lost`; `note` says why the operator cannot move, when it cannot.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disputes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub game_id: String,
    pub receipt_hash: String,
    pub challenger: String,
    pub client: String,
    pub claimed_output_hash: String,
    pub open_tx: String,
    pub opened_block: i64,
    pub state: String,
    pub note: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
