//! The `epochs` table (migration m20261122_000010): Closed epochs: the frozen receipt tree's root, leaf count and totals (JSON lists as attested), and where its attestation stands (`chain::state::EpochState`: `closed` → `attested` → `finalized`; `voided` → `closed` with `round` + 1; `attest_failed`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "epochs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    pub round: i32,
    pub state: String,
    pub root: String,
    pub count: i64,
    pub total_wei: String,
    pub fee_bps: i32,
    pub models_json: String,
    pub clients_json: String,
    pub omitted: i32,
    pub posted_at: Option<i64>,
    /// Attestation attempt of this round (a new attempt after the cover fell short).
    pub attempt: i32,
    /// What the attestation could not escrow from clients (covered by the operator).
    pub shortfall_wei: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
