//! Metered inference: validate the request against the model's signature, reserve the price,
//! run ONNX Runtime, sign a receipt, commit receipt and debit durably, answer.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use tracing::instrument;

use crate::{
    acks::Billing,
    auth::Principal,
    clock::{EpochRule, SharedClock},
    engine::TensorSpec,
    error::{OracleError, Result},
    ledger::Ledger,
    receipts::{ReceiptRecord, ReceiptSigner},
    registry::{Registry, ServingModel},
    tensor::{Tensor, canonical_hash},
};

/// One inference call, parsed and typed by the protocol layer.
#[derive(Debug, Clone)]
pub struct InferCall {
    /// The registered model name.
    pub model: String,
    /// The model version the caller asked for, if any; must equal the registered version.
    pub version: Option<String>,
    pub inputs: Vec<Tensor>,
    /// Outputs to return; empty = all.
    pub outputs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct InferOutcome {
    pub model_name: String,
    pub model_version: String,
    pub outputs: Vec<Tensor>,
    pub receipt: ReceiptRecord,
    /// Time spent inside ONNX Runtime (the rest of the call is the service's overhead).
    pub run_time: std::time::Duration,
    /// Where the rest of the call's time went, step by step.
    pub steps: CallSteps,
}

/// The time of each step of a metered call inside the domain (the protocol layer adds its own:
/// authentication, decoding, encoding). `make bench` prints their medians.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallSteps {
    /// The serving model (cached) and the request checked against its signature.
    pub validate: Duration,
    /// The price reserved against the caller's balance.
    pub reserve: Duration,
    /// The model's worker process: the frame there and back and ONNX Runtime's run.
    pub run: Duration,
    /// The canonical SHA-256 hashes of the inputs and the outputs.
    pub hash: Duration,
    /// The EIP-712 receipt signed (secp256k1).
    pub sign: Duration,
    /// Waiting for the ledger writer to commit the receipt durably.
    pub commit: Duration,
}

impl CallSteps {
    /// The steps as `Server-Timing` entries (milliseconds), e.g. `validate;dur=0.004`.
    pub fn server_timing(&self) -> String {
        [
            ("validate", self.validate),
            ("reserve", self.reserve),
            ("run", self.run),
            ("hash", self.hash),
            ("sign", self.sign),
            ("commit", self.commit),
        ]
        .iter()
        .map(|(k, d)| format!("{k};dur={:.3}", d.as_secs_f64() * 1e3))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

#[derive(Clone)]
pub struct Inference {
    registry: Registry,
    ledger: Ledger,
    billing: Billing,
    signer: ReceiptSigner,
    epochs: EpochRule,
    clock: SharedClock,
    ids: std::sync::Arc<Mutex<ulid::Generator>>,
    /// Chain mode: the tokenized model ids; only those, with a non-zero price, are metered
    /// (every receipt must be attestable: the contract takes registered models and non-zero
    /// totals only).
    tokenized: Option<std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>>,
    #[cfg(feature = "fault-injection")]
    corrupt_output: bool,
    /// Chain mode with a dispute game: the input of every call of a disputable model is kept
    /// for the dispute window.
    retention: Option<crate::retention::InputRetention>,
}

fn shape_str(s: &[i64]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|d| if *d < 0 {
                "-1".to_owned()
            } else {
                d.to_string()
            })
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// Checks the inputs and requested outputs against the model's signature. Errors name the
/// offending tensor.
pub fn validate(model: &ServingModel, inputs: &[Tensor], outputs: &[String]) -> Result<()> {
    let spec = &model.record;
    let names = |ts: &[TensorSpec]| {
        ts.iter()
            .map(|t| format!("`{}`", t.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, t) in inputs.iter().enumerate() {
        if inputs[..i].iter().any(|o| o.name() == t.name()) {
            return Err(OracleError::InvalidInput(format!(
                "input `{}` is given twice",
                t.name()
            )));
        }
        let Some(s) = spec.inputs.iter().find(|s| s.name == t.name()) else {
            return Err(OracleError::InvalidInput(format!(
                "unknown input `{}`: model `{}` takes {}",
                t.name(),
                spec.name,
                names(&spec.inputs)
            )));
        };
        if s.datatype != t.datatype().as_str() {
            return Err(OracleError::InvalidInput(format!(
                "input `{}` has datatype {}, the model expects {}",
                t.name(),
                t.datatype().as_str(),
                s.datatype
            )));
        }
        let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
        let fits = shape.len() == s.shape.len()
            && shape.iter().zip(&s.shape).all(|(g, w)| *w < 0 || g == w);
        if !fits {
            return Err(OracleError::InvalidInput(format!(
                "input `{}` has shape {}, the model expects {} (-1 = any size)",
                t.name(),
                shape_str(&shape),
                shape_str(&s.shape)
            )));
        }
        // An empty dimension where the model declares a dynamic one: ONNX Runtime aborts the
        // whole process on some such inputs (e.g. an empty batch of a recurrent model), so they
        // are refused unless the model declares that dimension as 0 itself.
        if let Some(axis) = shape
            .iter()
            .zip(&s.shape)
            .position(|(g, w)| *g == 0 && *w != 0)
        {
            return Err(OracleError::InvalidInput(format!(
                "input `{}` has shape {} with an empty dimension {axis}; the model declares {} there, so empty inputs are refused",
                t.name(),
                shape_str(&shape),
                s.shape[axis]
            )));
        }
    }
    if let Some(missing) = spec
        .inputs
        .iter()
        .find(|s| !inputs.iter().any(|t| t.name() == s.name))
    {
        return Err(OracleError::InvalidInput(format!(
            "missing input `{}` ({} {})",
            missing.name,
            missing.datatype,
            shape_str(&missing.shape)
        )));
    }
    if let Some(unknown) = outputs
        .iter()
        .find(|o| !spec.outputs.iter().any(|s| &&s.name == o))
    {
        return Err(OracleError::InvalidInput(format!(
            "unknown output `{unknown}`: model `{}` produces {}",
            spec.name,
            names(&spec.outputs)
        )));
    }
    Ok(())
}

/// Flips the first byte of the first output (test-only fraud).
#[cfg(feature = "fault-injection")]
fn corrupt_first_output(mut outputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
    if let Some(first) = outputs.first_mut() {
        let (name, dt, shape, data) = first.clone().into_parts();
        if let crate::tensor::TensorData::Fixed(mut b) = data
            && !b.is_empty()
        {
            b[0] ^= 0x01;
            *first = Tensor::new(name, dt, shape, crate::tensor::TensorData::Fixed(b))?;
        }
    }
    Ok(outputs)
}

/// `imo_inference_in_flight`: metered calls inside [`Inference::infer`] now, in this process (the
/// load signal the Kubernetes HPA scales replicas on; docs/DEPLOY.md).
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        metrics::gauge!("imo_inference_in_flight").increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("imo_inference_in_flight").decrement(1.0);
    }
}

impl Inference {
    pub fn new(
        registry: Registry,
        ledger: Ledger,
        signer: ReceiptSigner,
        epochs: EpochRule,
        clock: SharedClock,
        billing: Billing,
    ) -> Self {
        Self {
            registry,
            ledger,
            billing,
            signer,
            epochs,
            clock,
            ids: Default::default(),
            tokenized: None,
            #[cfg(feature = "fault-injection")]
            corrupt_output: false,
            retention: None,
        }
    }

    /// Keeps the input of every call of a disputable model in `retention` before its receipt
    /// is committed.
    pub fn with_retention(mut self, retention: crate::retention::InputRetention) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Test-only fraud (`chain.fault_injection = "corrupt-output"`, `fault-injection` feature):
    /// every call's first output has its first byte flipped before it is hashed, signed and
    /// returned — one output element changed, as a dishonest operator would serve it.
    #[cfg(feature = "fault-injection")]
    pub fn with_corrupt_output(mut self, on: bool) -> Self {
        self.corrupt_output = on;
        self
    }

    /// Chain mode: meter only the models in `tokenized` (shared with the chain loop).
    pub fn with_tokenized(
        mut self,
        tokenized: std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    ) -> Self {
        self.tokenized = Some(tokenized);
        self
    }

    pub fn signer(&self) -> &ReceiptSigner {
        &self.signer
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn next_id(&self) -> Result<ulid::Ulid> {
        self.ids
            .lock()
            .expect("id lock")
            .generate()
            .map_err(|e| OracleError::Engine(format!("receipt id generator: {e}")))
    }

    /// Runs one metered call. Charged exactly once, and only when it succeeds; the receipt is
    /// durable before this returns.
    #[instrument(skip_all, fields(model = %call.model, client = %caller.address))]
    pub async fn infer(&self, caller: &Principal, call: InferCall) -> Result<InferOutcome> {
        let started = Instant::now();
        let _in_flight = InFlight::enter();
        let model = self.registry.serving(&call.model).await?;
        if model.record.name != call.model {
            return Err(OracleError::not_found(format!("model `{}`", call.model)));
        }
        if let Some(v) = &call.version
            && v != &model.record.version
        {
            return Err(OracleError::not_found(format!(
                "version `{v}` of model `{}` (registered: `{}`)",
                call.model, model.record.version
            )));
        }
        validate(&model, &call.inputs, &call.outputs)?;
        if let Some(tokenized) = &self.tokenized {
            if !tokenized
                .read()
                .expect("tokenized lock")
                .contains(&model.record.id)
            {
                return Err(OracleError::Conflict(format!(
                    "model `{}` is not tokenized yet: its publisher tokenizes it with POST /v1/models/{}/tokenize, and calls are metered once that is final",
                    model.record.name, model.record.id
                )));
            }
            if model.record.price_wei.0 == 0 {
                return Err(OracleError::Conflict(format!(
                    "model `{}` has no price; on-chain metering needs a price above 0",
                    model.record.name
                )));
            }
        }
        let mut steps = CallSteps {
            validate: started.elapsed(),
            ..CallSteps::default()
        };
        // Acknowledged billing first: a client past its credit window reserves nothing.
        let ticket = self
            .billing
            .admit(caller.address, model.record.price_wei)
            .await?;
        let mark = Instant::now();
        let reservation = self
            .ledger
            .reserve(caller.address, model.record.price_wei)
            .await?;
        steps.reserve = mark.elapsed();
        let mark = Instant::now();
        let input_hash = canonical_hash(&call.inputs);
        steps.hash = mark.elapsed();
        // Only calls of models that can be disputed on-chain are kept.
        let kept_input = self
            .retention
            .as_ref()
            .filter(|_| {
                matches!(
                    model.record.dispute,
                    crate::registry::DisputeVerdict::Disputable { .. }
                )
            })
            .map(|_| crate::judge::game::canonical_encoding(&call.inputs));
        let run_started = Instant::now();
        let outputs = model.worker.run(call.inputs, call.outputs).await?;
        #[cfg(feature = "fault-injection")]
        let outputs = if self.corrupt_output {
            corrupt_first_output(outputs)?
        } else {
            outputs
        };
        let run_time = run_started.elapsed();
        steps.run = run_time;
        let mark = Instant::now();
        let output_hash = canonical_hash(&outputs);
        steps.hash += mark.elapsed();

        let id = self.next_id()?;
        let timestamp_ms = self.clock.now_ms().max(0) as u64;
        if let (Some(r), Some(encoding)) = (&self.retention, &kept_input) {
            // Durable before the receipt: a receipt is never signed for an input we cannot
            // re-execute in a dispute (a failure here is 503, uncharged).
            r.keep(timestamp_ms as i64, &input_hash, encoding).await?;
        }
        let mut receipt = ReceiptRecord {
            id: id.to_string(),
            epoch: self.epochs.epoch_of(timestamp_ms as i64),
            model_id: model.record.id.clone(),
            model_name: model.record.name.clone(),
            weights_root: model.record.weights_root.clone(),
            client: caller.address,
            price_wei: model.record.price_wei,
            input_hash: hex::encode(input_hash),
            output_hash: hex::encode(output_hash),
            fingerprint: model.fingerprint.clone(),
            fingerprint_hash: model.fingerprint_hash.clone(),
            timestamp_ms,
            signature: String::new(),
        };
        let mark = Instant::now();
        self.signer.sign(&mut receipt)?;
        steps.sign = mark.elapsed();
        let mark = Instant::now();
        reservation.commit(receipt.clone()).await?;
        steps.commit = mark.elapsed();
        if let Some(t) = ticket {
            t.served(receipt.epoch);
        }

        let total = started.elapsed();
        metrics::counter!("imo_inference_calls_total", "model" => model.record.name.clone())
            .increment(1);
        metrics::histogram!("imo_inference_run_seconds", "model" => model.record.name.clone())
            .record(run_time.as_secs_f64());
        metrics::histogram!("imo_inference_overhead_seconds", "model" => model.record.name.clone())
            .record(total.saturating_sub(run_time).as_secs_f64());
        Ok(InferOutcome {
            model_name: model.record.name.clone(),
            model_version: model.record.version.clone(),
            outputs,
            receipt,
            run_time,
            steps,
        })
    }
}
