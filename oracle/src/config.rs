//! The one typed configuration. Defaults live here, in code; the `imo` binary layers a TOML
//! file and `IMO_*` environment variables on top (see `imo_api::config`). Secrets are redacted
//! from `Debug` output so that logging the config never leaks them.

use std::{fmt, net::SocketAddr, path::PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub engine: EngineConfig,
    pub auth: AuthConfig,
    pub metering: MeteringConfig,
    pub chain: ChainConfig,
    pub cluster: ClusterConfig,
    pub log: LogConfig,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("database", &self.database)
            .field("storage", &self.storage)
            .field("engine", &self.engine)
            .field("auth", &self.auth)
            .field("metering", &self.metering)
            .field("chain", &self.chain)
            .field("cluster", &self.cluster)
            .field("log", &self.log)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Largest JSON request body, in bytes.
    pub max_json_bytes: usize,
    /// HTTP worker threads (0 = one per core).
    pub workers: usize,
    /// Seconds to let in-flight requests finish on SIGINT/SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Open connections the server holds at most, all workers together (more wait in the
    /// listen backlog). Kept below the process's file-descriptor limit.
    pub max_connections: usize,
    /// Open connections one peer address may hold; more are closed as they are accepted.
    pub max_connections_per_peer: usize,
    /// Milliseconds a client has to send a request's headers once it connects.
    pub header_timeout_ms: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub keep_alive_secs: u64,
    /// A request body that sends no byte for this many seconds fails with 408.
    pub body_idle_timeout_secs: u64,
    /// A request body (other than a model upload: `storage.upload_timeout_secs`) must be
    /// received within this many seconds, or the request fails with 408.
    pub body_timeout_secs: u64,
    /// Serve the Open Inference Protocol over gRPC (KServe v2 `GRPCInferenceService`) as well.
    pub grpc_enabled: bool,
    /// Address of the gRPC server (its own port, same process); port 0 picks a free port.
    pub grpc_bind: SocketAddr,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".parse().expect("valid default address"),
            max_json_bytes: 256 * 1024,
            workers: 0,
            shutdown_timeout_secs: 10,
            max_connections: 10_000,
            max_connections_per_peer: 256,
            header_timeout_ms: 5_000,
            keep_alive_secs: 5,
            body_idle_timeout_secs: 10,
            body_timeout_secs: 60,
            grpc_enabled: true,
            grpc_bind: "127.0.0.1:8081".parse().expect("valid default address"),
        }
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` (embedded default) or `postgres://user:pass@host/db`.
    pub url: String,
    pub max_connections: u32,
    /// Seconds to wait for a connection before answering 503.
    pub connect_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/imo.db?mode=rwc".into(),
            max_connections: 16,
            connect_timeout_secs: 5,
        }
    }
}

impl DatabaseConfig {
    /// The URL with any password replaced, safe to log.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => self.url.clone(),
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Content-addressed model files live here (`<dir>/<sha256[..2]>/<sha256>.onnx`).
    pub models_dir: PathBuf,
    /// Largest accepted model upload, in bytes (default 2 GiB).
    pub max_upload_bytes: u64,
    /// Seconds a model upload may take in all (each chunk still within
    /// `server.body_idle_timeout_secs` of the last).
    pub upload_timeout_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            models_dir: "data/models".into(),
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            upload_timeout_secs: 3_600,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OptimizationLevel {
    Disable,
    Basic,
    Extended,
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Path of ONNX Runtime's shared library (from the pinned PyPI wheel, installed by
    /// `scripts/install-tools.sh` into `.tools/onnxruntime/`).
    pub ort_library: PathBuf,
    /// Intra-op threads per session (pinned: outputs are reproducible under one fingerprint).
    pub intra_threads: usize,
    /// Graph optimisation level (part of the execution fingerprint).
    pub optimization_level: OptimizationLevel,
    /// ONNX Runtime sessions per loaded model; concurrent calls to one model run on separate
    /// sessions (0 = one per CPU core).
    pub sessions_per_model: usize,
    /// Load every active model at start-up instead of on its first call.
    pub preload: bool,
    /// `cpu`, or `cuda` (needs the `cuda` cargo feature and CUDA libraries; falls back to CPU
    /// with a warning when CUDA cannot load).
    pub execution_provider: ExecutionProvider,
    /// Seconds a cached model record (price, state) is trusted before re-reading it.
    pub model_cache_ttl_secs: u64,
    /// The executable started as a model worker (`imo __model-worker`); default: this binary.
    /// Each model runs in its own worker process (docs/ARCHITECTURE.md, "Model isolation").
    pub worker_binary: Option<PathBuf>,
    /// Address space a model's worker may use on top of the loaded runtime, in bytes: its
    /// weights, sessions and every run. Uploads over it are refused (422), calls over it fail
    /// uncharged (422 `resource_limit_exceeded`). 0 = unlimited.
    pub memory_budget_bytes: u64,
    /// Longest one call may run, in milliseconds (0 = unlimited); longer runs are stopped
    /// and not charged.
    pub run_timeout_ms: u64,
    /// Seconds a worker may take to load its model.
    pub worker_start_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    Cpu,
    Cuda,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ort_library: ".tools/onnxruntime/libonnxruntime.so".into(),
            intra_threads: 1,
            optimization_level: OptimizationLevel::All,
            sessions_per_model: 0,
            preload: false,
            execution_provider: ExecutionProvider::Cpu,
            model_cache_ttl_secs: 10,
            worker_binary: None,
            memory_budget_bytes: 2 * 1024 * 1024 * 1024,
            run_timeout_ms: 30_000,
            worker_start_timeout_secs: 120,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The RFC 3986 authority that Sign-In with Ethereum messages must name (`domain`).
    pub siwe_domain: String,
    /// The chain id SIWE messages must name.
    pub chain_id: u64,
    /// Seconds a sign-in nonce stays valid.
    pub nonce_ttl_secs: u64,
    /// Addresses that may obtain an admin key by signing in.
    pub admin_addresses: Vec<String>,
    /// Sign-in nonces one peer (IP address) may ask for per minute (burst as large).
    pub nonces_per_minute_per_peer: u32,
    /// Sign-in nonces asked for one Ethereum address per minute (burst as large).
    pub nonces_per_minute_per_address: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            siwe_domain: "localhost".into(),
            chain_id: 31337,
            nonce_ttl_secs: 300,
            admin_addresses: vec![],
            nonces_per_minute_per_peer: 30,
            nonces_per_minute_per_address: 10,
        }
    }
}

/// Receipts, balances and epochs.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MeteringConfig {
    /// The operator's secp256k1 key (hex) that signs receipts. Secret: never logged. Prefer
    /// `operator_key_file`.
    pub operator_key: Option<String>,
    /// A file holding the operator key (hex).
    pub operator_key_file: Option<PathBuf>,
    /// EIP-712 domain: chain id of the chain where receipts are verified.
    pub chain_id: u64,
    /// EIP-712 domain: the UsageOracle contract that verifies receipts.
    pub verifying_contract: String,
    /// Epoch length in seconds: a receipt's epoch is `timestamp_ms / 1000 / epoch_secs`.
    pub epoch_secs: u64,
    /// Most receipts written in one database transaction (group commit).
    pub max_batch: usize,
    /// Largest inference request body, in bytes.
    pub max_request_bytes: usize,
    /// Acknowledged billing: the most an `ack`-mode client is served beyond its
    /// acknowledgements (wei; at least one call is served when all is acknowledged).
    #[serde(with = "wei_amount")]
    pub credit_window_wei: u128,
    /// EIP-712 domain of acknowledgements: the PaymentVault (set from the deployment in chain
    /// mode).
    pub vault_contract: String,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        Self {
            operator_key: None,
            operator_key_file: None,
            chain_id: 31337,
            verifying_contract: "0x0000000000000000000000000000000000000000".into(),
            epoch_secs: 3600,
            max_batch: 512,
            max_request_bytes: 64 * 1024 * 1024,
            credit_window_wei: 10_000_000_000_000_000,
            vault_contract: "0x0000000000000000000000000000000000000000".into(),
        }
    }
}

impl fmt::Debug for MeteringConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteringConfig")
            .field("operator_key", &self.operator_key.as_ref().map(|_| "***"))
            .field("operator_key_file", &self.operator_key_file)
            .field("chain_id", &self.chain_id)
            .field("verifying_contract", &self.verifying_contract)
            .field("epoch_secs", &self.epoch_secs)
            .field("max_batch", &self.max_batch)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("credit_window_wei", &self.credit_window_wei)
            .field("vault_contract", &self.vault_contract)
            .finish()
    }
}

/// The chain the contracts live on, and the parameters `imo contracts deploy` deploys them with
/// (docs/CONTRACTS.md, "Deployment and roles"; the same defaults as contracts/script/Deploy.s.sol).
/// The operator (OPERATOR_ROLE on the registry and the oracle) is the address of
/// `metering.operator_key(_file)`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC endpoint (HTTP).
    pub rpc_url: String,
    /// The chain id the RPC must report (31337: anvil).
    pub chain_id: u64,
    /// A file holding the deployer's secp256k1 key (hex). The deployer becomes the admin of the
    /// contracts and pays for the deployment. Secret: the key itself is never logged.
    pub deployer_key_file: Option<PathBuf>,
    /// Blocks a transaction must be buried under before it counts (1 = mined).
    pub confirmations: u64,
    /// Seconds to wait for one transaction's confirmations before giving up.
    pub tx_timeout_secs: u64,
    /// Seconds one JSON-RPC request may take before it counts as failed (a hung RPC never
    /// stalls a job: the pass fails and the next tick retries).
    pub rpc_timeout_secs: u64,
    /// GUARDIAN_ROLE holder (may pause); defaults to the deployer.
    pub guardian: Option<String>,
    /// The vault's fee recipient; defaults to the deployer.
    pub treasury: Option<String>,
    /// UsageOracle: bond per attestation, in wei.
    #[serde(with = "wei_amount")]
    pub attest_bond_wei: u128,
    /// UsageOracle: bond per receipt challenge, in wei.
    #[serde(with = "wei_amount")]
    pub challenge_bond_wei: u128,
    /// UsageOracle: challenge window, in seconds.
    pub challenge_window_secs: u64,
    /// UsageOracle: response window for receipt challenges, in seconds.
    pub response_window_secs: u64,
    /// UsageOracle: the highest operator fee, in basis points (at most 10000).
    pub max_fee_bps: u16,
    /// PaymentVault: seconds between a withdrawal request and its execution.
    pub withdrawal_delay_secs: u64,
    /// `imo contracts deploy` sends this much ETH from the deployer to the operator when the
    /// operator's balance is zero (it pays gas and attestation bonds); 0 disables.
    #[serde(with = "wei_amount")]
    pub operator_funding_wei: u128,
    /// Run the chain loop in `imo serve` (docs/PROTOCOL.md, "The chain loop"). When on, balances
    /// come only from on-chain deposits (admin credits are refused), spending needs a signed
    /// `SpendingCap`, only tokenized models with a non-zero price are served, and the contracts'
    /// addresses are those of the latest deployment recorded for `chain_id`.
    pub enabled: bool,
    /// The scheduled jobs this process runs, of `index` (vault events → balances),
    /// `transactions` (the transaction manager), `epochs` (close, attest, answer challenges,
    /// finalize), `disputes` (defend inference dispute games, docs/PROTOCOL.md §9.7). Run each
    /// job in one process per database; an empty list runs none.
    pub jobs: Vec<String>,
    /// Cron schedules (6 fields, with seconds) of the jobs.
    pub index_schedule: String,
    pub transactions_schedule: String,
    pub epochs_schedule: String,
    /// The operator's fee, in basis points of revenue, declared in each attestation.
    pub fee_bps: u16,
    /// Seconds after an epoch ends before it is closed (calls in flight finish first).
    pub epoch_grace_secs: u64,
    /// A sent transaction not mined after this many blocks is re-signed with higher fees.
    pub fee_bump_blocks: u64,
    /// Each bump raises both EIP-1559 fees by this percentage (at least 10: nodes require it).
    pub fee_bump_percent: u64,
    /// No transaction is ever sent with a max fee per gas above this.
    #[serde(with = "wei_amount")]
    pub max_fee_per_gas_wei: u128,
    /// The indexer reads at most this many blocks of logs per request.
    pub index_batch_blocks: u64,
    /// Test-only fault injection, compiled in only with the `fault-injection` cargo feature
    /// (release builds and `make run` have no such field): `omit-last-receipt` (attest a tree
    /// without the epoch's last receipt), `bill-unacknowledged` (the same, billing every receipt
    /// regardless of acknowledgements), `kill-after-send:<intent key prefix>` (SIGKILL this
    /// process right after broadcasting a matching transaction, before recording anything) or
    /// `corrupt-output` (every call's first output byte flipped before it is signed: the fraud
    /// the dispute game catches) or `serve:<kind>` (every model's worker serves a variant of the
    /// registered file through ONNX Runtime: `wrong-model`, `skipped-layer`,
    /// `tampered-weights`; `judge::fraud`).
    #[cfg(feature = "fault-injection")]
    pub fault_injection: Option<String>,
    /// Models paid per finalize transaction (the contract finalizes large epochs in batches;
    /// 300 fresh tokens stay near 21.5M gas).
    pub finalize_batch_models: usize,
    /// InferenceDispute (docs/PROTOCOL.md §9.4): the challenger's bond per game, in wei.
    #[serde(with = "wei_amount")]
    pub dispute_challenger_bond_wei: u128,
    /// InferenceDispute: the operator's bond per game (locked from its stake), in wei.
    #[serde(with = "wei_amount")]
    pub dispute_operator_bond_wei: u128,
    /// InferenceDispute: each side's chess clock for all its moves of a game, in seconds.
    pub dispute_clock_secs: u64,
    /// InferenceDispute: seconds after a receipt's timestamp during which it can be disputed.
    pub dispute_window_secs: u64,
    /// InferenceDispute: seconds between requesting and withdrawing stake; at least
    /// `dispute_window_secs + 2 × dispute_clock_secs` (the default).
    pub dispute_unstake_delay_secs: Option<u64>,
    /// The `disputes` job keeps the operator's free stake in InferenceDispute at least this
    /// high (wei), staking the difference; 0 stakes nothing.
    #[serde(with = "wei_amount")]
    pub dispute_stake_wei: u128,
    /// Cron schedule (6 fields) of the `disputes` job.
    pub disputes_schedule: String,
    /// Seconds the inputs of calls are kept for the defender (`<models_dir>/inputs`); default
    /// `dispute_window_secs + 2 × dispute_clock_secs` (the last game over a call can end then).
    pub dispute_retention_secs: Option<u64>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            rpc_url: "http://127.0.0.1:8545".into(),
            chain_id: 31337,
            deployer_key_file: None,
            confirmations: 1,
            tx_timeout_secs: 60,
            guardian: None,
            treasury: None,
            attest_bond_wei: 100_000_000_000_000_000,
            challenge_bond_wei: 10_000_000_000_000_000,
            challenge_window_secs: 7_200,
            response_window_secs: 3_600,
            max_fee_bps: 2_000,
            withdrawal_delay_secs: 14_400,
            operator_funding_wei: 1_000_000_000_000_000_000,
            rpc_timeout_secs: 10,
            enabled: false,
            jobs: vec![
                "index".into(),
                "transactions".into(),
                "epochs".into(),
                "disputes".into(),
            ],
            index_schedule: "*/2 * * * * *".into(),
            transactions_schedule: "* * * * * *".into(),
            epochs_schedule: "*/2 * * * * *".into(),
            fee_bps: 500,
            epoch_grace_secs: 3,
            fee_bump_blocks: 3,
            fee_bump_percent: 25,
            max_fee_per_gas_wei: 500_000_000_000,
            index_batch_blocks: 2_000,
            #[cfg(feature = "fault-injection")]
            fault_injection: None,
            finalize_batch_models: 300,
            dispute_challenger_bond_wei: 10_000_000_000_000_000,
            dispute_operator_bond_wei: 50_000_000_000_000_000,
            dispute_clock_secs: 86_400,
            dispute_window_secs: 604_800,
            dispute_unstake_delay_secs: None,
            dispute_stake_wei: 0,
            disputes_schedule: "*/2 * * * * *".into(),
            dispute_retention_secs: None,
        }
    }
}

impl ChainConfig {
    /// The RPC URL with any password replaced, safe to log and to show in errors.
    pub fn redacted_rpc_url(&self) -> String {
        match url::Url::parse(&self.rpc_url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => self.rpc_url.clone(),
        }
    }
}

impl fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainConfig")
            .field("rpc_url", &self.redacted_rpc_url())
            .field("chain_id", &self.chain_id)
            .field("deployer_key_file", &self.deployer_key_file)
            .field("confirmations", &self.confirmations)
            .field("tx_timeout_secs", &self.tx_timeout_secs)
            .field("guardian", &self.guardian)
            .field("treasury", &self.treasury)
            .field("attest_bond_wei", &self.attest_bond_wei)
            .field("challenge_bond_wei", &self.challenge_bond_wei)
            .field("challenge_window_secs", &self.challenge_window_secs)
            .field("response_window_secs", &self.response_window_secs)
            .field("max_fee_bps", &self.max_fee_bps)
            .field("withdrawal_delay_secs", &self.withdrawal_delay_secs)
            .field("operator_funding_wei", &self.operator_funding_wei)
            .field("rpc_timeout_secs", &self.rpc_timeout_secs)
            .field("enabled", &self.enabled)
            .field("jobs", &self.jobs)
            .field("index_schedule", &self.index_schedule)
            .field("transactions_schedule", &self.transactions_schedule)
            .field("epochs_schedule", &self.epochs_schedule)
            .field("fee_bps", &self.fee_bps)
            .field("epoch_grace_secs", &self.epoch_grace_secs)
            .field("fee_bump_blocks", &self.fee_bump_blocks)
            .field("fee_bump_percent", &self.fee_bump_percent)
            .field("max_fee_per_gas_wei", &self.max_fee_per_gas_wei)
            .field("index_batch_blocks", &self.index_batch_blocks)
            .field("finalize_batch_models", &self.finalize_batch_models)
            .field(
                "dispute_challenger_bond_wei",
                &self.dispute_challenger_bond_wei,
            )
            .field("dispute_operator_bond_wei", &self.dispute_operator_bond_wei)
            .field("dispute_clock_secs", &self.dispute_clock_secs)
            .field("dispute_window_secs", &self.dispute_window_secs)
            .field(
                "dispute_unstake_delay_secs",
                &self.dispute_unstake_delay_secs,
            )
            .field("dispute_stake_wei", &self.dispute_stake_wei)
            .field("disputes_schedule", &self.disputes_schedule)
            .field("dispute_retention_secs", &self.dispute_retention_secs)
            .finish()
    }
}

/// Several `imo serve` replicas on one PostgreSQL database (docs/DEPLOY.md). Off: this process
/// runs the jobs of `chain.jobs` itself (one process per database). On: every replica may run
/// them, and the one holding the `chain` lease in the database does (`crate::cluster`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    pub enabled: bool,
    /// This replica's name in the lease table (unique among the replicas; a pod's name). Empty:
    /// `<hostname>-<pid>-<random>`.
    pub replica_id: String,
    /// How long a lease lasts without renewal, in seconds (database time): the longest the chain
    /// jobs stop when their leader dies.
    pub lease_secs: u64,
    /// How often the lease is renewed (and a follower tries to take it), in milliseconds; at
    /// most half of `lease_secs` (a larger value is refused at start).
    pub renew_ms: u64,
    /// Every replica meters from balance leases: about this many calls' worth of a client's
    /// balance is leased at a time (never more than half of what no replica holds, never less
    /// than the call at hand), so a refill — one database transaction — serves many calls.
    pub balance_lease_calls: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            replica_id: String::new(),
            lease_secs: 10,
            renew_ms: 2_000,
            balance_lease_calls: 100,
        }
    }
}

/// Amounts of wei in the config: written as decimal strings (figment has no u128), read from a
/// decimal string or an integer (`IMO_CHAIN_ATTEST_BOND_WEI=100000000000000000`).
mod wei_amount {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(n.into()),
            Raw::Text(t) => t.trim().parse().map_err(|_| {
                D::Error::custom(format!("`{t}` is not an amount of wei (a decimal integer)"))
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info,imo_oracle=debug`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: "info,ort=warn".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_password_is_redacted() {
        let db = DatabaseConfig {
            url: "postgres://imo:s3cret@db:5432/imo".into(),
            ..Default::default()
        };
        let shown = format!("{db:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://imo:***@db:5432/imo"), "{shown}");
        let cfg = Config {
            metering: MeteringConfig {
                operator_key: Some("deadbeef11".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("deadbeef11"), "{shown}");
        let chain = ChainConfig {
            rpc_url: "https://user:rpcs3cret@rpc.example/v1".into(),
            ..Default::default()
        };
        let shown = format!("{chain:?}");
        assert!(!shown.contains("rpcs3cret"), "{shown}");
        assert!(shown.contains("rpc.example"), "{shown}");
    }
}
