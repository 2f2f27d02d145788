//! Response and request bodies of the `/v1` API. Request types end at the handler: each is
//! parsed into the domain's validated newtypes there.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::fields::{AddressField, Limit, ModelNameField, RoleField, Text, WeiField};

/// A registered model.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelView {
    /// Stable id, `mdl_…` (sortable by creation time).
    pub id: String,
    /// Unique name; the model name on the inference API.
    pub name: String,
    pub description: String,
    pub version: String,
    /// Price per call, in wei, as a decimal string.
    #[schema(example = "1000000000000")]
    pub price_wei: String,
    /// EIP-55 address of the publisher.
    pub publisher: String,
    /// SHA-256 of the uploaded file, hex.
    pub file_sha256: String,
    /// Merkle root (RFC 6962, SHA-256) over the model's weight tensors, hex: the commitment
    /// that is tokenized on-chain. See docs/PROTOCOL.md.
    pub weights_root: String,
    pub file_size: u64,
    pub ir_version: i64,
    pub opsets: Vec<OpsetView>,
    pub producer: String,
    pub inputs: Vec<TensorSpecView>,
    pub outputs: Vec<TensorSpecView>,
    /// Number of weight tensors under `weights_root`.
    pub tensor_count: u64,
    /// `registered`, or `tokenized` once the commitment is on-chain.
    pub state: String,
    /// The token's state (`tokenizing`, `tokenized`, `failed`) once tokenization was asked for
    /// (chain mode; in listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_state: Option<String>,
    /// False once deactivated: the model can no longer be served.
    pub active: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Whether calls to this model can be disputed on-chain (docs/PROTOCOL.md §9.1).
    pub dispute: DisputeView,
}

/// Whether a model's calls can be disputed on-chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Every node is in the judge's op set and ONNX Runtime equalled the reference
    /// interpreter bit for bit on every sample, under `fingerprint`.
    Disputable,
    /// Not disputable; `blocked_by` says which node and operator, or why.
    Blocked,
    /// Not assessed yet (registered before assessment existed; assessed on its next load).
    NotAssessed,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DisputeView {
    pub status: DisputeStatus,
    /// The execution fingerprint the verdict holds for (when ONNX Runtime ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The judge program to commit on-chain, `0x…` (when disputable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_id: Option<String>,
    /// What blocked it (when blocked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<BlockerView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockerView {
    /// The ONNX node's name (`#<index>` when unnamed); absent for model-level reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The node's operator type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpsetView {
    pub domain: String,
    pub version: i64,
}

/// An input or output: name, Open Inference Protocol datatype, shape (-1 = dynamic).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TensorSpecView {
    pub name: String,
    #[schema(example = "FP32")]
    pub datatype: String,
    pub shape: Vec<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelView>,
    /// Pass as `after` to fetch the next page; absent on the last page.
    pub next: Option<String>,
}

/// Metadata of an upload, in the query string (the body is the ONNX file).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// Unique model name (1-64 of `a-z A-Z 0-9 . _ -`).
    #[param(inline)]
    pub name: ModelNameField,
    /// Price per call in wei (decimal string). Default 0.
    #[param(inline)]
    pub price_wei: Option<WeiField>,
    /// Free text, up to 2000 characters.
    #[param(inline)]
    pub description: Option<Text<2000>>,
    /// Publisher's version label, up to 64 characters. Default `1`.
    #[param(inline)]
    pub version: Option<Text<64>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only models of this publisher.
    #[param(inline)]
    pub publisher: Option<AddressField>,
    /// Include deactivated models.
    #[serde(default)]
    pub include_inactive: bool,
    /// Page cursor: the `next` of the previous page.
    pub after: Option<String>,
    /// Page size, 1-500 (default 100); larger values are refused.
    #[param(inline)]
    pub limit: Option<Limit<500>>,
}

/// A change to a model. Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPatchRequest {
    /// New price per call in wei (decimal string).
    pub price_wei: Option<WeiField>,
    pub description: Option<Text<2000>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeightTensorView {
    pub index: usize,
    pub name: String,
    /// ONNX `TensorProto.DataType` number.
    pub data_type: i32,
    pub dims: Vec<i64>,
    pub byte_len: u64,
    pub data_sha256: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeightList {
    pub weights_root: String,
    pub tensors: Vec<WeightTensorView>,
}

/// A tensor's RFC 6962 inclusion proof against `weights_root`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeightProofView {
    pub index: usize,
    pub count: usize,
    pub tensor: WeightTensorView,
    /// Leaf hash (see docs/PROTOCOL.md), hex.
    pub leaf: String,
    /// Audit path, leaf to root, hex.
    pub proof: Vec<String>,
    pub weights_root: String,
}

/// A newly issued API key. `key` is shown once and never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedKeyView {
    pub id: String,
    /// The secret. Send it as `Authorization: Bearer <key>`.
    pub key: String,
    pub prefix: String,
    pub address: String,
    pub role: String,
    pub label: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub address: AddressField,
    /// `publisher`, `client` or `admin`.
    pub role: RoleField,
    #[serde(default)]
    pub label: Option<Text<200>>,
}

/// Query of `POST /v1/auth/nonce`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NonceParams {
    /// The address that will sign the message (optional): binds the nonce to it.
    #[param(inline)]
    pub address: Option<AddressField>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NonceView {
    /// Put this in the `Nonce:` line of the EIP-4361 message.
    pub nonce: String,
    pub expires_at_ms: i64,
    /// The `domain` the message must name.
    pub domain: String,
    /// The `Chain ID` the message must name.
    pub chain_id: u64,
}

/// An EIP-4361 (Sign-In with Ethereum) message and its EIP-191 `personal_sign` signature.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub message: String,
    /// 65-byte signature, hex (0x-prefixed or not).
    #[schema(pattern = "^(0x)?[0-9a-fA-F]{130}$")]
    pub signature: String,
    /// Role of the key to issue: `publisher` or `client` (`admin` only for configured addresses).
    pub role: RoleField,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub key_id: String,
    pub address: String,
    pub role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// An on-chain action as the transaction manager tracks it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransactionView {
    /// Unique key, e.g. `register:0x…`, `attest:42:1`.
    pub key: String,
    pub kind: String,
    /// `pending`, `sent`, `mined`, `final` or `failed`.
    pub state: String,
    pub nonce: Option<u64>,
    pub tx_hash: Option<String>,
    pub block_number: Option<u64>,
    pub gas_used: Option<u64>,
    pub attempts: u32,
    pub error: Option<String>,
}

/// Where the contracts are and how this operator settles on them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContractsResponse {
    pub chain_id: u64,
    pub model_registry: String,
    /// The `ModelToken` implementation every model's token clones.
    pub model_token_implementation: String,
    /// Deposit here; sign spending caps under its EIP-712 domain ("IMO Oracle Vault", "1").
    pub payment_vault: String,
    /// Verifies receipts (their EIP-712 domain: "IMO Oracle", "1") and takes attestations.
    pub usage_oracle: String,
    /// The inference dispute game (docs/PROTOCOL.md §9), where a call's output is challenged;
    /// absent in a deployment made before the game was deployed with the suite.
    pub inference_dispute: Option<String>,
    /// The game's one-step interpreter.
    pub judge_vm: Option<String>,
    /// The block from which the suite is complete.
    pub deployed_at_block: u64,
    /// The operator, which signs receipts and sends attestations.
    pub operator: String,
    pub attest_bond_wei: String,
    pub challenge_window_secs: u64,
    /// The operator's fee, declared in each attestation.
    pub fee_bps: u16,
    pub epoch_secs: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TransactionsQuery {
    /// Only intents in this state.
    #[param(pattern = "^(pending|sent|mined|final|failed)$")]
    pub state: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransactionsResponse {
    pub transactions: Vec<TransactionView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizeRequest {
    /// Token name, 1-64 characters, no control characters, not blank at either end.
    pub name: crate::fields::TokenNameField,
    /// Token symbol, 1-11 characters of A-Z, 0-9 and -.
    pub symbol: crate::fields::SymbolField,
    /// Supply in whole tokens (18 decimals), decimal string; all minted to the publisher.
    pub supply_tokens: crate::fields::SupplyField,
    /// The holders' claimable share of revenue in basis points (8000 = 80 %); the rest is
    /// redeemable by burning tokens.
    pub holders_bps: crate::fields::BpsField,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub model_id: String,
    pub weights_root: String,
    /// `tokenizing` (registration in flight), `tokenized` (final on-chain) or `failed`.
    pub state: String,
    pub name: String,
    pub symbol: String,
    /// Base units (18 decimals).
    pub supply: String,
    pub holders_bps: u16,
    pub publisher: String,
    pub token_address: Option<String>,
    pub transaction: Option<TransactionView>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendingCapRequest {
    /// The client (the signer).
    pub client: crate::fields::AddressField,
    /// New lifetime cap in wei (decimal string), above the current one.
    pub cap_wei: crate::fields::WeiField,
    /// Last unix time (seconds) at which the signature may be submitted.
    #[serde(deserialize_with = "crate::fields::integral")]
    pub deadline: u64,
    /// 65-byte EIP-712 signature (0x-hex) of `SpendingCap(client, cap, deadline)` under the
    /// vault's domain ("IMO Oracle Vault", "1", chain id, PaymentVault).
    #[schema(pattern = "^0x[0-9a-fA-F]{130}$")]
    pub signature: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SpendingCapResponse {
    pub client: String,
    pub cap_wei: String,
    pub deadline: u64,
    /// The `submitCap` transaction; the cap counts once its event is indexed.
    pub transaction: Option<TransactionView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptProofResponse {
    pub receipt: ReceiptView,
    pub epoch: u64,
    pub round: u32,
    pub state: String,
    pub index: u64,
    pub count: u64,
    pub root: String,
    pub receipt_hash: String,
    pub model_prev: u64,
    pub model_cum: String,
    pub client_prev: u64,
    pub client_cum: String,
    pub leaf_hash: String,
    /// Sibling hashes, bottom-up (`UsageOracle.computeRoot(leaf_hash, index, proof) == root`).
    pub proof: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotalView {
    /// Model weights root (bytes32) or client address.
    pub key: String,
    pub total_wei: String,
    /// 1 + index of the last leaf of this key.
    pub last: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EpochResponse {
    pub epoch: u64,
    pub round: u32,
    /// `closed`, `attesting`, `attested`, `finalizing`, `finalized`, `voided`, `unwinding`,
    /// `attest_failed`.
    pub state: String,
    pub root: String,
    pub count: u64,
    pub total_wei: String,
    pub fee_bps: u16,
    pub posted_at: Option<u64>,
    /// What the attestation could not escrow from clients (the operator covered it), wei.
    pub shortfall_wei: String,
    pub models: Vec<TotalView>,
    pub clients: Vec<TotalView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PayoutView {
    pub epoch: u64,
    pub round: u32,
    /// Paid to the token (after the operator's fee).
    pub amount_wei: String,
    /// The token snapshot that holds this revenue for its holders.
    pub snapshot_id: u64,
    pub tx_hash: String,
    pub block_number: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingView {
    pub epoch: u64,
    pub state: String,
    /// Before the operator's fee.
    pub gross_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevenueResponse {
    pub model_id: String,
    pub weights_root: String,
    pub token_address: Option<String>,
    pub paid: Vec<PayoutView>,
    pub total_paid_wei: String,
    /// Closed epochs not yet finalized.
    pub pending: Vec<PendingView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SnapshotClaim {
    pub snapshot_id: u64,
    pub claimable_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenClaimView {
    pub model_id: String,
    pub symbol: String,
    pub token_address: String,
    /// Token balance (base units).
    pub balance: String,
    pub snapshots: Vec<SnapshotClaim>,
    /// Claim with `claim(snapshotId)` or `claimBatch(ids)` on the token, from the holder's wallet.
    pub claimable_wei: String,
    pub redeemable_on_burn_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClaimableResponse {
    pub holder: String,
    pub tokens: Vec<TokenClaimView>,
    pub total_claimable_wei: String,
}

/// A signed usage receipt. The signature is EIP-712 over the `Receipt` struct in
/// docs/PROTOCOL.md, by the operator address from `GET /v1/operator`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    /// ULID; as a 128-bit integer it is the signed `id`.
    pub id: String,
    pub epoch: u64,
    pub model_id: String,
    pub model_name: String,
    pub weights_root: String,
    pub client: String,
    pub price_wei: String,
    pub input_hash: String,
    pub output_hash: String,
    pub fingerprint: String,
    pub fingerprint_hash: String,
    pub timestamp_ms: u64,
    pub signature: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptList {
    pub receipts: Vec<ReceiptView>,
    /// Cursor for the next page (`after`); absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub after: Option<String>,
    /// 1-1000, default 100; larger values are refused.
    #[param(inline)]
    pub limit: Option<crate::fields::Limit<1000>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceResponse {
    pub address: String,
    /// Committed balance, wei.
    pub balance_wei: String,
    /// Held by calls in flight, wei.
    pub reserved_wei: String,
    pub spent_wei: String,
    pub credited_wei: String,
    /// Held for a pending withdrawal request (chain mode).
    pub held_wei: String,
    /// The signed lifetime spending cap (chain mode; 0 when none).
    pub cap_wei: String,
    /// Cluster mode: leased to the other serving replicas — spent through them; what a crashed
    /// replica held comes back once its membership lapses (0 with one process).
    #[serde(default)]
    pub leased_wei: String,
    /// What the next calls to this replica may spend.
    pub available_wei: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    pub address: crate::fields::AddressField,
    /// Amount in wei (decimal string, above 0).
    pub amount_wei: crate::fields::PositiveWeiField,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DailyUsageView {
    pub model_id: String,
    pub model_name: String,
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub calls: u64,
    pub revenue_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsageResponse {
    pub usage: Vec<DailyUsageView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// Only this model (id or name).
    pub model: Option<String>,
    /// From this time (Unix ms, inclusive). Default: 30 days ago.
    pub from_ms: Option<i64>,
    /// Until this time (Unix ms, exclusive). Default: now.
    pub to_ms: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorView {
    /// The address that signs receipts.
    pub operator: String,
    /// EIP-712 domain of receipts.
    pub eip712_name: String,
    pub eip712_version: String,
    pub chain_id: u64,
    pub verifying_contract: String,
    pub epoch_secs: u64,
}

/// Error body of every `/v1` endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_model`, `not_found`, `conflict`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Error body of every `/v2` endpoint (the Open Inference Protocol's shape); the stable code
/// travels in the `imo-error-code` header.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct V2ErrorBody {
    pub error: String,
}

/// `GET /v1/epochs` query: a page of the epochs timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// Only epochs below this one (the previous page's `next`).
    #[param(minimum = 0)]
    pub before: Option<u64>,
    /// 1-100, default 20; larger values are refused.
    #[param(inline)]
    pub limit: Option<crate::fields::Limit<100>>,
}

/// One model's part of an epoch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EpochModelView {
    pub model_id: String,
    pub model_name: String,
    pub weights_root: String,
    /// Receipts of the model in the epoch's tree.
    pub calls: u64,
    /// Attested revenue before the operator's fee, wei.
    pub total_wei: String,
    /// Paid to the model's token by finalize (after the fee), wei; absent until finalized.
    pub paid_wei: Option<String>,
    /// The token snapshot holding the paid revenue.
    pub snapshot_id: Option<u64>,
    pub token_address: Option<String>,
}

/// A closed epoch with its transactions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntryView {
    pub epoch: u64,
    pub round: u32,
    /// `closed`, `attesting`, `attested`, `finalizing`, `finalized`, `voided`, `unwinding`,
    /// `attest_failed`.
    pub state: String,
    pub root: String,
    /// Receipts in the epoch's tree.
    pub count: u64,
    /// Attested total before the fee, wei.
    pub total_wei: String,
    pub fee_bps: u16,
    /// Chain time (unix s) of the attestation.
    pub posted_at: Option<u64>,
    /// Chain time (unix s) from which it can be finalized.
    pub finalizable_at: Option<u64>,
    /// Receipts signed in `[starts_at_ms, ends_at_ms)` belong to the epoch.
    pub starts_at_ms: u64,
    pub ends_at_ms: u64,
    /// Number of paying clients.
    pub clients: u64,
    /// The attestation of the current round.
    pub attest: Option<TransactionView>,
    /// The latest finalize batch of the current round.
    pub finalize: Option<TransactionView>,
    pub models: Vec<EpochModelView>,
}

/// A page of the epochs timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineResponse {
    pub epoch_secs: u64,
    /// The open epoch receipts are signed into now.
    pub current_epoch: u64,
    pub challenge_window_secs: u64,
    /// Closed epochs, newest first.
    pub epochs: Vec<TimelineEntryView>,
    /// `before` for the next page; absent on the last page.
    pub next: Option<u64>,
}

/// `POST /v1/billing-mode`: the caller chooses acknowledged billing (`ack`) with its signed
/// `AckMode`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingModeRequest {
    /// First epoch billed by acknowledgement (the current epoch or later).
    #[serde(deserialize_with = "crate::fields::integral")]
    pub from_epoch: u64,
    /// Last unix time (seconds) at which the signature may be submitted.
    #[serde(deserialize_with = "crate::fields::integral")]
    pub deadline: u64,
    /// 65-byte EIP-712 signature (0x-hex) of `AckMode(client, fromEpoch, deadline)` under the
    /// vault's domain ("IMO Oracle Vault", "1", chain id, PaymentVault).
    #[schema(pattern = "^0x[0-9a-fA-F]{130}$")]
    pub signature: String,
}

/// `POST /v1/acknowledgements`: the caller's signed acknowledgement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgementRequest {
    #[serde(deserialize_with = "crate::fields::integral")]
    pub epoch: u64,
    /// Total wei of the acknowledged calls of `epoch` (decimal string, above 0).
    pub amount_wei: crate::fields::PositiveWeiField,
    /// Number of acknowledged calls of `epoch`.
    #[serde(deserialize_with = "crate::fields::integral")]
    pub calls: u64,
    /// 65-byte EIP-712 signature (0x-hex) of `Acknowledgement(client, epoch, amount, calls)`
    /// under the vault's domain.
    #[schema(pattern = "^0x[0-9a-fA-F]{130}$")]
    pub signature: String,
}

/// Served and acknowledged amounts of one epoch of an `ack` client.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EpochBillingView {
    pub epoch: u64,
    pub served_wei: String,
    pub served_calls: u64,
    pub acked_wei: String,
    pub acked_calls: u64,
}

/// A client's billing mode and, in `ack` mode, what it was served and acknowledged.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BillingView {
    pub client: String,
    /// `cap` or `ack`.
    pub mode: String,
    /// `ack` mode: the first epoch billed by acknowledgement.
    pub from_epoch: Option<u64>,
    /// The most served beyond the acknowledgements.
    pub credit_window_wei: String,
    /// Served and not acknowledged (calls in flight included).
    pub outstanding_wei: String,
    pub epochs: Vec<EpochBillingView>,
    /// EIP-712 domain of `AckMode` and `Acknowledgement`: chain id and PaymentVault.
    pub chain_id: u64,
    pub vault: String,
    /// The epoch the service's clock is in now (the earliest `from_epoch` accepted).
    pub current_epoch: u64,
}
