//! The one-way boundary: domain records (typed: amounts as integers, addresses, enums) become
//! the API's DTOs (`imo_client::dto`: amounts as decimal strings, hashes as 0x-hex) here, and
//! only here. The DTO crate knows nothing of the domain's records.

use imo_client::dto::*;
use imo_oracle::{
    auth::IssuedKey,
    chain::{
        reads::{Claimable, EpochView, ReceiptProof, Revenue},
        timeline::{EpochModel, Timeline, TimelineEntry},
        tokens::TokenView,
        txm::Intent,
        vault::CapView,
    },
    engine::TensorSpec,
    judge::Blocker,
    ledger::{BalanceView, DailyUsage},
    receipts::ReceiptRecord,
    registry::{DisputeVerdict, ModelRecord, WeightProof, WeightTensorInfo},
    types::Address,
};

/// Domain record → DTO.
pub trait IntoDto {
    type Dto;
    fn into_dto(self) -> Self::Dto;
}

impl IntoDto for &TensorSpec {
    type Dto = TensorSpecView;
    fn into_dto(self) -> TensorSpecView {
        TensorSpecView {
            name: self.name.clone(),
            datatype: self.datatype.clone(),
            shape: self.shape.clone(),
        }
    }
}

impl IntoDto for ModelRecord {
    type Dto = ModelView;
    fn into_dto(self) -> ModelView {
        let m = self;
        ModelView {
            price_wei: m.price_wei.to_string(),
            publisher: m.publisher.to_string(),
            opsets: m
                .opsets
                .into_iter()
                .map(|o| OpsetView {
                    domain: o.domain,
                    version: o.version,
                })
                .collect(),
            inputs: m.inputs.iter().map(IntoDto::into_dto).collect(),
            outputs: m.outputs.iter().map(IntoDto::into_dto).collect(),
            state: m.state.as_str().to_owned(),
            token_state: None,
            dispute: m.dispute.into_dto(),
            id: m.id,
            name: m.name,
            description: m.description,
            version: m.version,
            file_sha256: m.file_sha256,
            weights_root: m.weights_root,
            file_size: m.file_size,
            ir_version: m.ir_version,
            producer: m.producer,
            tensor_count: m.tensor_count,
            active: m.active,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
        }
    }
}

impl IntoDto for DisputeVerdict {
    type Dto = DisputeView;
    fn into_dto(self) -> DisputeView {
        let blocker = |b: Blocker| BlockerView {
            node: b.node,
            op: b.op,
            reason: b.reason,
        };
        match self {
            DisputeVerdict::NotAssessed => DisputeView {
                status: DisputeStatus::NotAssessed,
                fingerprint: None,
                program_id: None,
                blocked_by: None,
            },
            DisputeVerdict::Disputable {
                fingerprint,
                program_id,
            } => DisputeView {
                status: DisputeStatus::Disputable,
                fingerprint: Some(fingerprint),
                program_id: Some(program_id),
                blocked_by: None,
            },
            DisputeVerdict::Blocked {
                fingerprint,
                blocked_by,
            } => DisputeView {
                status: DisputeStatus::Blocked,
                fingerprint,
                program_id: None,
                blocked_by: Some(blocker(blocked_by)),
            },
        }
    }
}

/// A weight tensor at `index` in commitment order.
pub fn weight_tensor(index: usize, t: WeightTensorInfo) -> WeightTensorView {
    WeightTensorView {
        index,
        name: t.name,
        data_type: t.data_type,
        dims: t.dims,
        byte_len: t.byte_len,
        data_sha256: t.data_sha256,
    }
}

impl IntoDto for WeightProof {
    type Dto = WeightProofView;
    fn into_dto(self) -> WeightProofView {
        WeightProofView {
            tensor: weight_tensor(self.index, self.tensor),
            index: self.index,
            count: self.count,
            leaf: self.leaf,
            proof: self.proof,
            weights_root: self.weights_root,
        }
    }
}

impl IntoDto for IssuedKey {
    type Dto = IssuedKeyView;
    fn into_dto(self) -> IssuedKeyView {
        IssuedKeyView {
            id: self.id,
            key: self.secret,
            prefix: self.prefix,
            address: self.address.to_string(),
            role: self.role.to_string(),
            label: self.label,
            created_at_ms: self.created_at_ms,
        }
    }
}

impl IntoDto for Intent {
    type Dto = TransactionView;
    fn into_dto(self) -> TransactionView {
        TransactionView {
            key: self.key,
            kind: self.kind,
            state: self.state.as_str().to_owned(),
            nonce: self.nonce,
            tx_hash: self.tx_hash.map(|h| format!("{h:#x}")),
            block_number: self.block_number,
            gas_used: self.gas_used,
            attempts: self.attempts,
            error: self.error,
        }
    }
}

impl IntoDto for TokenView {
    type Dto = TokenResponse;
    fn into_dto(self) -> TokenResponse {
        TokenResponse {
            model_id: self.model_id,
            weights_root: self.weights_root,
            state: self.state.as_str().to_owned(),
            name: self.name,
            symbol: self.symbol,
            supply: self.supply.to_string(),
            holders_bps: self.holders_bps,
            publisher: self.publisher.storage_key(),
            token_address: self.token_address.map(|a| a.storage_key()),
            transaction: self.transaction.map(IntoDto::into_dto),
            error: self.error,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        }
    }
}

impl IntoDto for CapView {
    type Dto = SpendingCapResponse;
    fn into_dto(self) -> SpendingCapResponse {
        SpendingCapResponse {
            client: self.client.to_string(),
            cap_wei: self.cap_wei.to_string(),
            deadline: self.deadline,
            transaction: self.transaction.map(IntoDto::into_dto),
        }
    }
}

impl IntoDto for ReceiptRecord {
    type Dto = ReceiptView;
    fn into_dto(self) -> ReceiptView {
        let r = self;
        ReceiptView {
            client: r.client.to_string(),
            price_wei: r.price_wei.to_string(),
            id: r.id,
            epoch: r.epoch,
            model_id: r.model_id,
            model_name: r.model_name,
            weights_root: r.weights_root,
            input_hash: r.input_hash,
            output_hash: r.output_hash,
            fingerprint: r.fingerprint,
            fingerprint_hash: r.fingerprint_hash,
            timestamp_ms: r.timestamp_ms,
            signature: r.signature,
        }
    }
}

impl IntoDto for ReceiptProof {
    type Dto = ReceiptProofResponse;
    fn into_dto(self) -> ReceiptProofResponse {
        let p = self;
        ReceiptProofResponse {
            receipt: p.receipt.into_dto(),
            epoch: p.epoch,
            round: p.round,
            state: p.phase.as_str().to_owned(),
            index: p.index,
            count: p.count,
            root: format!("{:#x}", p.root),
            receipt_hash: format!("{:#x}", p.receipt_hash),
            model_prev: p.model_prev,
            model_cum: p.model_cum.to_string(),
            client_prev: p.client_prev,
            client_cum: p.client_cum.to_string(),
            leaf_hash: format!("{:#x}", p.leaf_hash),
            proof: p.proof.iter().map(|h| format!("{h:#x}")).collect(),
        }
    }
}

impl IntoDto for EpochView {
    type Dto = EpochResponse;
    fn into_dto(self) -> EpochResponse {
        let e = self;
        EpochResponse {
            epoch: e.epoch,
            round: e.round,
            state: e.phase.as_str().to_owned(),
            root: format!("{:#x}", e.root),
            count: e.count,
            total_wei: e.total.to_string(),
            fee_bps: e.fee_bps,
            posted_at: e.posted_at,
            shortfall_wei: e.shortfall.to_string(),
            models: e
                .models
                .iter()
                .map(|m| TotalView {
                    key: format!("{:#x}", m.model),
                    total_wei: m.total.to_string(),
                    last: m.last,
                })
                .collect(),
            clients: e
                .clients
                .iter()
                .map(|c| TotalView {
                    key: Address(c.client).to_string(),
                    total_wei: c.total.to_string(),
                    last: c.last,
                })
                .collect(),
        }
    }
}

impl IntoDto for Revenue {
    type Dto = RevenueResponse;
    fn into_dto(self) -> RevenueResponse {
        let r = self;
        RevenueResponse {
            model_id: r.model_id,
            weights_root: r.weights_root,
            token_address: r.token_address.map(|a| a.storage_key()),
            paid: r
                .paid
                .into_iter()
                .map(|p| PayoutView {
                    epoch: p.epoch,
                    round: p.round,
                    amount_wei: p.amount.to_string(),
                    snapshot_id: p.snapshot_id,
                    tx_hash: format!("{:#x}", p.tx_hash),
                    block_number: p.block_number,
                })
                .collect(),
            total_paid_wei: r.total_paid.to_string(),
            pending: r
                .pending
                .into_iter()
                .map(|p| PendingView {
                    epoch: p.epoch,
                    state: p.phase.as_str().to_owned(),
                    gross_wei: p.gross.to_string(),
                })
                .collect(),
        }
    }
}

impl IntoDto for Claimable {
    type Dto = ClaimableResponse;
    fn into_dto(self) -> ClaimableResponse {
        ClaimableResponse {
            holder: self.holder.to_string(),
            tokens: self
                .tokens
                .into_iter()
                .map(|t| TokenClaimView {
                    model_id: t.model_id,
                    symbol: t.symbol,
                    token_address: t.token_address.storage_key(),
                    balance: t.balance.to_string(),
                    snapshots: t
                        .snapshots
                        .into_iter()
                        .map(|(snapshot_id, c)| SnapshotClaim {
                            snapshot_id,
                            claimable_wei: c.to_string(),
                        })
                        .collect(),
                    claimable_wei: t.claimable.to_string(),
                    redeemable_on_burn_wei: t.redeemable_on_burn.to_string(),
                })
                .collect(),
            total_claimable_wei: self.total_claimable.to_string(),
        }
    }
}

/// A balance of `address`.
pub fn balance(address: Address, b: BalanceView) -> BalanceResponse {
    BalanceResponse {
        address: address.to_string(),
        balance_wei: b.balance_wei.to_string(),
        reserved_wei: b.reserved_wei.to_string(),
        spent_wei: b.spent_wei.to_string(),
        credited_wei: b.credited_wei.to_string(),
        held_wei: b.held_wei.to_string(),
        cap_wei: b.cap_wei.to_string(),
        leased_wei: b.leased_wei.to_string(),
        available_wei: b.available_wei.to_string(),
    }
}

impl IntoDto for DailyUsage {
    type Dto = DailyUsageView;
    fn into_dto(self) -> DailyUsageView {
        DailyUsageView {
            model_id: self.model_id,
            model_name: self.model_name,
            day: self.day,
            calls: self.calls,
            revenue_wei: self.revenue_wei.to_string(),
        }
    }
}

impl IntoDto for EpochModel {
    type Dto = EpochModelView;
    fn into_dto(self) -> EpochModelView {
        EpochModelView {
            model_id: self.model_id,
            model_name: self.model_name,
            weights_root: self.weights_root,
            calls: self.calls,
            total_wei: self.total.to_string(),
            paid_wei: self.paid.map(|w| w.to_string()),
            snapshot_id: self.snapshot_id,
            token_address: self.token.map(|a| a.to_string()),
        }
    }
}

impl IntoDto for TimelineEntry {
    type Dto = TimelineEntryView;
    fn into_dto(self) -> TimelineEntryView {
        let e = self.epoch;
        TimelineEntryView {
            epoch: e.epoch,
            round: e.round,
            state: e.phase.as_str().to_owned(),
            root: format!("{:#x}", e.root),
            count: e.count,
            total_wei: e.total.to_string(),
            fee_bps: e.fee_bps,
            posted_at: e.posted_at,
            finalizable_at: self.finalizable_at,
            starts_at_ms: self.starts_at_ms,
            ends_at_ms: self.ends_at_ms,
            clients: e.clients.len() as u64,
            attest: self.attest.map(IntoDto::into_dto),
            finalize: self.finalize.map(IntoDto::into_dto),
            models: self.models.into_iter().map(IntoDto::into_dto).collect(),
        }
    }
}

impl IntoDto for Timeline {
    type Dto = TimelineResponse;
    fn into_dto(self) -> TimelineResponse {
        TimelineResponse {
            epoch_secs: self.epoch_secs,
            current_epoch: self.current_epoch,
            challenge_window_secs: self.challenge_window_secs,
            epochs: self.entries.into_iter().map(IntoDto::into_dto).collect(),
            next: self.next,
        }
    }
}
