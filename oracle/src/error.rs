//! The one error type of the domain crate. Every variant has a stable, machine-readable code
//! (`OracleError::code`); the HTTP layer maps codes to status codes in one place.

use crate::onnx::ScanError;

/// Errors of the imo-oracle domain.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// A request field failed validation (bad name, bad address, bad price...).
    #[error("{0}")]
    InvalidInput(String),
    /// No credentials, or credentials that match no live key.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the right to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The named resource does not exist.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The request conflicts with existing state (a taken name, weights owned by another publisher).
    #[error("{0}")]
    Conflict(String),
    /// The upload exceeds the configured size limit.
    #[error("upload exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// The uploaded file is not a usable ONNX model.
    #[error("invalid ONNX model: {0}")]
    InvalidModel(String),
    /// A Sign-In with Ethereum message or signature was rejected.
    #[error("sign-in rejected: {0}")]
    SignIn(String),
    /// The database could not be reached or failed.
    #[error("database unavailable: {0}")]
    Database(String),
    /// ONNX Runtime could not be loaded or failed outside of model validation.
    #[error("inference engine unavailable: {0}")]
    Engine(String),
    /// The caller's prepaid balance does not cover the call.
    #[error("insufficient balance: the call costs {needed} wei, {available} wei available")]
    InsufficientBalance {
        needed: crate::types::Wei,
        available: crate::types::Wei,
    },
    /// The model was deactivated by its publisher: it is listed but serves no more.
    #[error("{0}")]
    ModelDeactivated(String),
    /// The model exists but cannot serve now (failed to load, or its worker is unhealthy).
    #[error("{0}")]
    ModelUnavailable(String),
    /// ONNX Runtime failed while running a valid request, for a reason of the service's
    /// (an output the protocol cannot carry, an internal error).
    #[error("inference failed: {0}")]
    Inference(String),
    /// ONNX Runtime refused the request's data while running it (a value a kernel rejects, a
    /// shape that does not broadcast): the request's fault, not charged.
    #[error("the model refused the input: {0}")]
    InferenceRejected(String),
    /// A call or an upload needs more than a model's memory budget or time limit.
    #[error("resource limit exceeded: {0}")]
    ResourceLimit(String),
    /// Local storage (the model directory) failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// The chain's RPC could not be reached, or a transaction or call failed.
    #[error("chain unavailable: {0}")]
    Chain(String),
    /// The call would take the client's lifetime spend above its signed `SpendingCap`.
    #[error(
        "spending cap exceeded: the call costs {needed} wei, {available} wei of the signed cap remain; submit a higher SpendingCap (POST /v1/spending-caps)"
    )]
    SpendingCapExceeded {
        needed: crate::types::Wei,
        available: crate::types::Wei,
    },
    /// This replica does not hold the cluster lease a write needs (`cluster.enabled`): another
    /// replica runs the chain jobs, or this one lost the lease and was fenced off.
    #[error("not the leader: {0}")]
    NotLeader(String),
    /// Cluster mode: this replica holds no live membership term (starting, or it stalled past
    /// `cluster.lease_secs`), so it meters nothing; the call was not charged.
    #[error("not a live cluster member: {0}")]
    NotMember(String),
    /// Cluster mode: what the client may still spend is leased to other replicas; they are
    /// asked to hand back what they do not need (retry, on any replica). Not charged.
    #[error(
        "the call needs {needed} wei and the rest of this balance ({leased} wei) is leased to other replicas serving the same client; they hand back what they do not need: retry"
    )]
    BalanceLeased {
        needed: crate::types::Wei,
        leased: crate::types::Wei,
    },
    /// The chain loop is off in this process (`chain.enabled = false`).
    #[error(
        "the chain loop is off: set chain.enabled (IMO_CHAIN_ENABLED=true) after `imo contracts deploy`"
    )]
    ChainDisabled,
    /// Too many requests of one kind from one peer or for one address.
    #[error("too many requests: {what}; retry in {retry_after_secs} s")]
    RateLimited { what: String, retry_after_secs: u64 },
    /// An `ack`-mode client's unacknowledged spend would pass the credit window: it must
    /// acknowledge `amount` wei over `calls` calls of `epoch` first (docs/PROTOCOL.md §4.1).
    #[error(
        "acknowledgement required: {outstanding} wei served are not acknowledged (credit window {window} wei); sign Acknowledgement(client, epoch {epoch}, amount {amount}, calls {calls}) and send it in the imo-acknowledgement header or POST /v1/acknowledgements"
    )]
    AcknowledgementRequired {
        epoch: u64,
        amount: crate::types::Wei,
        calls: u64,
        outstanding: crate::types::Wei,
        window: crate::types::Wei,
    },
    /// An acknowledgement not newer than the one stored (a replay of an older one).
    #[error(
        "acknowledgement refused: epoch {epoch} is acknowledged up to {acknowledged} wei already; a newer acknowledgement must cover more"
    )]
    AcknowledgementStale {
        epoch: u64,
        acknowledged: crate::types::Wei,
    },
    /// The receipt's epoch was closed while the call ran; it was not charged (retry).
    #[error("epoch {0} closed while the call ran; it was not charged: retry")]
    EpochClosed(u64),
}

impl OracleError {
    /// Stable machine-readable code, part of the public API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::InvalidModel(_) => "invalid_model",
            Self::SignIn(_) => "sign_in_rejected",
            Self::Database(_) => "database_unavailable",
            Self::Engine(_) => "engine_unavailable",
            Self::Storage(_) => "storage_error",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::ModelUnavailable(_) => "model_unavailable",
            Self::ModelDeactivated(_) => "model_deactivated",
            Self::Inference(_) => "inference_failed",
            Self::InferenceRejected(_) => "inference_rejected",
            Self::ResourceLimit(_) => "resource_limit_exceeded",
            Self::Chain(_) => "chain_unavailable",
            Self::SpendingCapExceeded { .. } => "spending_cap_exceeded",
            Self::EpochClosed(_) => "epoch_closed",
            Self::AcknowledgementRequired { .. } => "acknowledgement_required",
            Self::AcknowledgementStale { .. } => "acknowledgement_stale",
            Self::RateLimited { .. } => "rate_limited",
            Self::ChainDisabled => "chain_disabled",
            Self::NotLeader(_) => "not_leader",
            Self::NotMember(_) => "not_member",
            Self::BalanceLeased { .. } => "balance_leased",
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }
}

impl From<sea_orm::DbErr> for OracleError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Database(e.to_string())
    }
}

impl From<ScanError> for OracleError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Io(io) => Self::Storage(io.to_string()),
            other => Self::InvalidModel(other.to_string()),
        }
    }
}

pub type Result<T, E = OracleError> = std::result::Result<T, E>;
