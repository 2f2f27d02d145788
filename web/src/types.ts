// The JSON API's shapes this app reads (api/openapi.json is the reference).

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface TensorSpec {
  name: string;
  datatype: string;
  shape: number[];
}

export interface Model {
  id: string;
  name: string;
  description: string;
  version: string;
  price_wei: string;
  publisher: string;
  file_sha256: string;
  weights_root: string;
  file_size: number;
  ir_version: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  tensor_count: number;
  state: string;
  active: boolean;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface ModelList {
  models: Model[];
  next?: string | null;
}

export interface WeightTensor {
  index: number;
  name: string;
  /** ONNX TensorProto.DataType number. */
  data_type: number;
  dims: number[];
  byte_len: number;
  data_sha256: string;
}

export interface WeightList {
  weights_root: string;
  tensors: WeightTensor[];
}

export interface Transaction {
  key: string;
  kind: string;
  state: string;
  nonce?: number | null;
  tx_hash?: string | null;
  block_number?: number | null;
  gas_used?: number | null;
  attempts: number;
  error?: string | null;
}

export interface Token {
  model_id: string;
  weights_root: string;
  state: string;
  name: string;
  symbol: string;
  supply: string;
  holders_bps: number;
  publisher: string;
  token_address?: string | null;
  transaction?: Transaction | null;
  error?: string | null;
}

export interface Contracts {
  chain_id: number;
  model_registry: string;
  model_token_implementation: string;
  payment_vault: string;
  usage_oracle: string;
  deployed_at_block: number;
  operator: string;
  attest_bond_wei: string;
  challenge_window_secs: number;
  fee_bps: number;
  epoch_secs: number;
}

export interface Operator {
  operator: string;
  eip712_name: string;
  eip712_version: string;
  chain_id: number;
  verifying_contract: string;
  epoch_secs: number;
}

export interface DailyUsage {
  model_id: string;
  model_name: string;
  day: string;
  calls: number;
  revenue_wei: string;
}

export interface EpochModel {
  model_id: string;
  model_name: string;
  weights_root: string;
  calls: number;
  total_wei: string;
  paid_wei?: string | null;
  snapshot_id?: number | null;
  token_address?: string | null;
}

export interface TimelineEntry extends Epoch {
  finalizable_at?: number | null;
  starts_at_ms: number;
  ends_at_ms: number;
  clients: number;
  attest?: Transaction | null;
  finalize?: Transaction | null;
  models: EpochModel[];
}

export interface Timeline {
  epoch_secs: number;
  current_epoch: number;
  challenge_window_secs: number;
  epochs: TimelineEntry[];
  next?: number | null;
}

export interface Epoch {
  epoch: number;
  round: number;
  state: string;
  root: string;
  count: number;
  total_wei: string;
  fee_bps: number;
  posted_at?: number | null;
}

export interface Balance {
  address: string;
  balance_wei: string;
  reserved_wei: string;
  spent_wei: string;
  credited_wei: string;
  held_wei: string;
  cap_wei: string;
  /** Cluster mode: leased to the other serving replicas. */
  leased_wei: string;
  available_wei: string;
}

export interface Receipt {
  id: string;
  epoch: number;
  model_id: string;
  model_name: string;
  weights_root: string;
  client: string;
  price_wei: string;
  input_hash: string;
  output_hash: string;
  fingerprint: string;
  fingerprint_hash: string;
  timestamp_ms: number;
  signature: string;
}

export interface ReceiptList {
  receipts: Receipt[];
  next?: string | null;
}

export interface ReceiptProof {
  receipt: Receipt;
  epoch: number;
  round: number;
  state: string;
  index: number;
  count: number;
  root: string;
  receipt_hash: string;
  model_prev: number;
  model_cum: string;
  client_prev: number;
  client_cum: string;
  leaf_hash: string;
  proof: string[];
}

export interface TokenClaim {
  model_id: string;
  symbol: string;
  token_address: string;
  balance: string;
  snapshots: { snapshot_id: number; claimable_wei: string }[];
  claimable_wei: string;
  redeemable_on_burn_wei: string;
}

export interface Claimable {
  holder: string;
  tokens: TokenClaim[];
  total_claimable_wei: string;
}

export interface Revenue {
  model_id: string;
  weights_root: string;
  token_address?: string | null;
  paid: { epoch: number; round: number; amount_wei: string; snapshot_id: number; tx_hash: string; block_number: number }[];
  total_paid_wei: string;
  pending: { epoch: number; state: string; gross_wei: string }[];
}

export interface WhoAmI {
  key_id: string;
  address: string;
  role: string;
}

export interface Nonce {
  nonce: string;
  expires_at_ms: number;
  domain: string;
  chain_id: number;
}

export interface IssuedKey {
  id: string;
  key: string;
  prefix: string;
  address: string;
  role: string;
  label: string;
  created_at_ms: number;
}
